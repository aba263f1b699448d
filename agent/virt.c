#include "virt.h"

#include <errno.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors.h"
#include "log.h"
#include "util.h"

struct agent_virt {
	char *uri;
	agent_virt_event_fn fn;
	void *userdata;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	virConnectPtr conn;
	int callback_id;
	unsigned generation;
	bool stopping;
	bool lost;
	pthread_t loop_thread, watch_thread;
	atomic_bool loop_run;
	int wake_timer;
	/* Events the agent is about to cause itself (agent_virt_expect), under expect_lock. */
	pthread_mutex_t expect_lock;
	struct expected {
		char domain[80];
		int event;
		time_t until;
	} expected[AGENT_VIRT_EXPECT_MAX];
};

/* libvirt prints every error to stderr by default; ours are logged where handled. */
static _Atomic unsigned long long errors;

/* libvirt's error function: not printed (callers log what they handle), only counted. */
static void quiet_errors(void *userdata, virErrorPtr err)
{
	(void)userdata;
	(void)err;
	errors++;
}

unsigned long long agent_virt_errors(void)
{
	return errors;
}

void agent_virt_expect(struct agent_virt *v, const char *domain, int event)
{
	time_t now = time(NULL);
	struct expected *slot = NULL;

	if (!v || strlen(domain) >= sizeof(v->expected[0].domain))
		return;
	pthread_mutex_lock(&v->expect_lock);
	for (size_t i = 0; i < ARRAY_SIZE(v->expected); i++) {
		struct expected *e = &v->expected[i];

		if (e->until < now || (e->event == event && streq(e->domain, domain))) {
			slot = e;
			break;
		}
	}
	if (slot) { /* full: the event is simply handled */
		snprintf(slot->domain, sizeof(slot->domain), "%s", domain);
		slot->event = event;
		slot->until = now + AGENT_VIRT_EXPECT_S;
	}
	pthread_mutex_unlock(&v->expect_lock);
}

/* Was this event announced by agent_virt_expect? Consumes the announcement. */
static bool expected_event(struct agent_virt *v, const char *domain, int event)
{
	time_t now = time(NULL);
	bool found = false;

	pthread_mutex_lock(&v->expect_lock);
	for (size_t i = 0; i < ARRAY_SIZE(v->expected) && !found; i++) {
		struct expected *e = &v->expected[i];

		if (e->until >= now && e->event == event && streq(e->domain, domain)) {
			e->until = 0;
			found = true;
		}
	}
	pthread_mutex_unlock(&v->expect_lock);
	return found;
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
	struct agent_virt *v = opaque;
	const char *name = virDomainGetName(dom);

	(void)conn;
	if (name && !expected_event(v, name, event))
		v->fn(name, event, detail, v->userdata);
	return 0;
}

static void on_close(virConnectPtr conn, int reason, void *opaque)
{
	struct agent_virt *v = opaque;

	(void)conn;
	log_warn("libvirt connection lost", "reason=%d", reason);
	pthread_mutex_lock(&v->lock);
	v->lost = true;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
}

static void *event_loop(void *arg)
{
	struct agent_virt *v = arg;

	while (atomic_load(&v->loop_run))
		if (virEventRunDefaultImpl() < 0)
			log_warn("libvirt event loop error", "error=\"%s\"",
				 virGetLastErrorMessage() ? virGetLastErrorMessage() : "?");
	return NULL;
}

static void timer_noop(int timer, void *opaque)
{
	(void)timer;
	(void)opaque;
}

/* Connect and register; called with the lock held. */
static int connect_locked(struct agent_virt *v)
{
	virConnectPtr c = virConnectOpen(v->uri);

	if (!c)
		return -ECONNREFUSED;
	if (virConnectSetKeepAlive(c, 5, 3) < 0)
		log_warn("libvirt keepalive not set", "uri=%s", v->uri);
	if (virConnectRegisterCloseCallback(c, on_close, v, NULL) < 0)
		log_warn("libvirt close callback not set", "uri=%s", v->uri);
	v->callback_id = virConnectDomainEventRegisterAny(c, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
							  VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), v, NULL);
	if (v->callback_id < 0)
		log_warn("libvirt lifecycle events not registered", "uri=%s", v->uri);
	v->conn = c;
	v->lost = false;
	v->generation++;
	return 0;
}

static void disconnect_locked(struct agent_virt *v)
{
	if (!v->conn)
		return;
	if (v->callback_id >= 0)
		virConnectDomainEventDeregisterAny(v->conn, v->callback_id);
	virConnectUnregisterCloseCallback(v->conn, on_close);
	v->callback_id = -1;
	virConnectClose(v->conn);
	v->conn = NULL;
}

/* Reconnects after a loss, once a second, until stopped. */
static void *watch(void *arg)
{
	struct agent_virt *v = arg;
	bool reconnected;

	pthread_mutex_lock(&v->lock);
	while (!v->stopping) {
		struct timespec ts;

		reconnected = false;
		if (v->lost || !v->conn) {
			disconnect_locked(v);
			if (connect_locked(v) == 0) {
				log_info("libvirt connected", "uri=%s generation=%u", v->uri, v->generation);
				reconnected = true;
			}
		}
		if (reconnected) {
			pthread_mutex_unlock(&v->lock);
			v->fn(NULL, AGENT_VIRT_RECONNECTED, 0, v->userdata);
			pthread_mutex_lock(&v->lock);
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&v->cond, &v->lock, &ts);
	}
	pthread_mutex_unlock(&v->lock);
	return NULL;
}

static int init_rc;

/* The default event loop must be registered before the first connection, once. */
static void init_once(void)
{
	virSetErrorFunc(NULL, quiet_errors);
	init_rc = virEventRegisterDefaultImpl();
}

int agent_virt_open(const char *uri, agent_virt_event_fn fn, void *userdata, struct agent_virt **ret)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct agent_virt *v;

	pthread_once(&once, init_once);
	if (init_rc < 0)
		return -EIO;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->uri = strdup(uri);
	v->fn = fn;
	v->userdata = userdata;
	v->callback_id = -1;
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->cond, NULL);
	pthread_mutex_init(&v->expect_lock, NULL);
	atomic_store(&v->loop_run, true);
	/* A timer that fires every second keeps the loop turning, so it notices loop_run. */
	v->wake_timer = virEventAddTimeout(1000, timer_noop, NULL, NULL);
	pthread_mutex_lock(&v->lock);
	if (connect_locked(v) < 0)
		log_warn("libvirt not reachable yet; will retry", "uri=%s error=\"%s\"", uri,
			 virGetLastErrorMessage() ? virGetLastErrorMessage() : "?");
	else
		log_info("libvirt connected", "uri=%s generation=%u", v->uri, v->generation);
	pthread_mutex_unlock(&v->lock);
	if (pthread_create(&v->loop_thread, NULL, event_loop, v) != 0 ||
	    pthread_create(&v->watch_thread, NULL, watch, v) != 0) {
		/* Threads are essential; nothing sensible continues without them. */
		log_error("cannot start libvirt threads", NULL);
		abort();
	}
	*ret = v;
	return 0;
}

void agent_virt_close(struct agent_virt *v)
{
	if (!v)
		return;
	pthread_mutex_lock(&v->lock);
	v->stopping = true;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
	pthread_join(v->watch_thread, NULL);
	pthread_mutex_lock(&v->lock);
	disconnect_locked(v);
	pthread_mutex_unlock(&v->lock);
	atomic_store(&v->loop_run, false);
	pthread_join(v->loop_thread, NULL);
	if (v->wake_timer >= 0)
		virEventRemoveTimeout(v->wake_timer);
	pthread_cond_destroy(&v->cond);
	pthread_mutex_destroy(&v->lock);
	pthread_mutex_destroy(&v->expect_lock);
	free(v->uri);
	free(v);
}

virConnectPtr agent_virt_conn(struct agent_virt *v)
{
	virConnectPtr c = NULL;

	pthread_mutex_lock(&v->lock);
	if (v->conn && !v->lost && virConnectRef(v->conn) == 0)
		c = v->conn;
	pthread_mutex_unlock(&v->lock);
	return c;
}

int agent_virt_conn_or_fail(struct agent_virt *v, virConnectPtr *ret, struct agent_err *err)
{
	virConnectPtr conn = agent_virt_conn(v);

	if (!conn)
		return agent_fail(err, -EAGAIN, 503, "ServiceUnavailable", "libvirt is not reachable");
	*ret = conn;
	return 0;
}

unsigned agent_virt_generation(struct agent_virt *v)
{
	unsigned g;

	pthread_mutex_lock(&v->lock);
	g = v->generation;
	pthread_mutex_unlock(&v->lock);
	return g;
}
