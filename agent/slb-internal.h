/* slb-internal.h: what the files of the load balancer share (not for the rest of the agent,
 * which uses slb.h):
 *   slb.c         the in-memory lists, the API, converging, host addresses, start and stop
 *   slb_doc.c     the documents: a PUT body or a kept document to a struct and back
 *   slb_rules.c   the model handed to libecsnf (netfilter/nf_slb.h) and applying it
 *   slb_health.c  health: kept in the store, reported, and the checker thread's probes
 * Functions taking a struct agent_slb are called with its lock held, except slb_checker. */
#ifndef AGENT_SLB_INTERNAL_H
#define AGENT_SLB_INTERNAL_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "agent.h"
#include "errors.h"
#include "id.h"
#include "nf_slb.h"
#include "slb.h"

#define SLB_URI_MAX 80
#define SLB_DOMAIN_MAX 80
#define SLB_IP_MAX INET_ADDRSTRLEN

enum hc_type { HC_TCP, HC_HTTP, HC_UDP, _HC_TYPE_MAX };

struct slb_hc {
	bool enabled;
	enum hc_type type;
	int port; /* 0: the backend port */
	char uri[SLB_URI_MAX + 1];
	char domain[SLB_DOMAIN_MAX + 1];
	unsigned codes;
	int interval_s, timeout_s, healthy, unhealthy;
};

struct slb_listener {
	enum nf_slb_proto proto;
	int port, backend_port;
	enum nf_slb_scheduler scheduler;
	bool running;
	struct slb_hc hc;
};

struct slb_backend {
	char server_id[NF_SLB_ID_MAX + 1];
	char ip[SLB_IP_MAX];
	int weight;
};

/* One backend as one listener's checks see it. */
struct slb_target {
	bool abnormal;
	int ok_run, fail_run; /* successes / failures in a row */
	int64_t due_ms;	      /* next check (monotonic) */
	bool busy;	      /* a probe is in flight */
};

struct slb_lb {
	char id[ECS_ID_MAX];
	char address[SLB_IP_MAX];
	bool active;
	bool deleting; /* marked in the store; finished by the next converge */
	struct slb_listener *listeners;
	size_t n_listeners;
	struct slb_backend *backends;
	size_t n_backends;
	struct slb_target *targets; /* [listener * n_backends + backend] */
};

struct slb_eip {
	char public_ip[SLB_IP_MAX];
	char private_ip[SLB_IP_MAX];
	bool deleting;
};

struct probe;

struct agent_slb {
	struct agent *a;
	pthread_mutex_t lock; /* everything below, and every apply */
	struct slb_lb **lbs;
	size_t n_lbs;
	struct slb_eip *eips;
	size_t n_eips;
	char snat_ip[SLB_IP_MAX];
	char *cidrs_text;
	const char *cidrs[NF_SLB_LOCAL_CIDRS_MAX];
	size_t n_cidrs;
	bool forwarding;

	pthread_t thread;
	bool started;
	int epfd, wakefd;
	volatile bool stop;
	struct probe *probes; /* the checker thread's own */
	size_t n_probes;
};

/* slb_doc.c: documents. */

/* A dotted quad in its one canonical spelling, unicast (not 0/8, loopback, multicast, broadcast). */
bool slb_ip_unicast(const char *s);
void slb_lb_free(struct slb_lb *lb);
/* A PUT body (or, with stored, a kept document) into a load balancer with no health yet;
 * errors in err (400). */
int slb_lb_from_json(const char *id, struct json_object *body, bool stored, struct slb_lb **ret,
		     struct agent_err *err);
/* The document: the body with every default filled in. */
struct json_object *slb_lb_to_json(const struct slb_lb *lb);
int slb_eip_from_json(const char *public_ip, struct json_object *body, bool stored, struct slb_eip *ret,
		      struct agent_err *err);
struct json_object *slb_eip_to_json(const struct slb_eip *e);

/* slb_rules.c: the rules. */

/* Apply every LB and public IP not being deleted; *ret_changed (may be NULL): whether the
 * kernel differed. */
int slb_apply_all(struct agent_slb *s, bool *ret_changed);
/* Re-apply only the listener chains of LB id (after a health change). */
int slb_apply_lb(struct agent_slb *s, const char *id);
/* The whole model with lb or e (either may be NULL) in it must be one libecsnf takes
 * (chain names, limits): 409 otherwise. */
int slb_check_model(struct agent_slb *s, const struct slb_lb *lb, const struct slb_eip *e, struct agent_err *err);

/* slb_health.c: health. */

void slb_health_save(struct agent_slb *s, const struct slb_lb *lb);
void slb_health_load(struct agent_slb *s, struct slb_lb *lb);
/* A replaced LB keeps what its checks knew of each listener and backend that stays. */
void slb_health_carry(const struct slb_lb *old, struct slb_lb *lb);
/* The document with the health of every listener and backend. */
struct json_object *slb_lb_describe(const struct slb_lb *lb);
/* The checker thread (arg: the struct agent_slb); runs until s->stop, woken by s->wakefd. */
void *slb_checker(void *arg);
/* Free the probes left when the thread has stopped. */
void slb_probes_free(struct agent_slb *s);

/* slb.c */

ssize_t slb_lb_index(const struct agent_slb *s, const char *id);

static inline const char *slb_proto_name(enum nf_slb_proto p)
{
	return p == NF_SLB_UDP ? "udp" : "tcp";
}

static inline void slb_lb_freep(struct slb_lb **lb)
{
	slb_lb_free(*lb);
}

static inline struct slb_target *slb_target_at(const struct slb_lb *lb, size_t li, size_t bi)
{
	return &lb->targets[li * lb->n_backends + bi];
}

/* Whether the checks of listener li run (else its backends are "unavailable" and serve). */
static inline bool slb_checking(const struct slb_lb *lb, size_t li)
{
	return lb->active && !lb->deleting && lb->listeners[li].running && lb->listeners[li].hc.enabled;
}

#endif
