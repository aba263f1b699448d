/* virt.h: the agent's libvirt connection. It runs libvirt's default event loop in a thread,
 * keeps the connection alive (keepalive 5 s × 3), registers for domain lifecycle events,
 * and when libvirtd goes away reconnects in the background (every second) and registers
 * again, telling the owner through the event callback (domain NULL, AGENT_VIRT_RECONNECTED).
 *
 * agent_virt_conn hands out a new reference (virConnectClose it) or NULL while
 * disconnected; callers treat NULL as a temporary failure (-EAGAIN). */
#ifndef AGENT_VIRT_H
#define AGENT_VIRT_H

#include <libvirt/libvirt.h>

#define AGENT_VIRT_RECONNECTED (-1)

/* A lifecycle event: virDomainEventType and its detail, or AGENT_VIRT_RECONNECTED. Runs
 * on the event thread: keep it short. */
typedef void (*agent_virt_event_fn)(const char *domain, int event, int detail, void *userdata);

struct agent_virt;

int agent_virt_open(const char *uri, agent_virt_event_fn fn, void *userdata, struct agent_virt **ret);
void agent_virt_close(struct agent_virt *v);
virConnectPtr agent_virt_conn(struct agent_virt *v);
struct agent_err;
/* agent_virt_conn for an API call: 0 and *ret (the caller closes it), or -EAGAIN with err
 * filled (503 ServiceUnavailable) while disconnected. */
int agent_virt_conn_or_fail(struct agent_virt *v, virConnectPtr *ret, struct agent_err *err);
/* The agent is about to cause event (a virDomainEventType) on domain itself (defining,
 * undefining): that event, if it comes within AGENT_VIRT_EXPECT_S, is not passed on. An
 * event passed on wakes the reconciler, which would otherwise answer its own work. */
#define AGENT_VIRT_EXPECT_MAX 64
#define AGENT_VIRT_EXPECT_S 10
void agent_virt_expect(struct agent_virt *v, const char *domain, int event);
/* How many times the connection was (re)established; 1 after the first connect. */
unsigned agent_virt_generation(struct agent_virt *v);
/* libvirt errors raised in this process so far, handled or not (/metrics). */
unsigned long long agent_virt_errors(void);

#endif
