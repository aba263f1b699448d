/* slb_health.c: the load balancers' health: what the checks saw, kept in the store (kind
 * "lbhealth") and reported, and the checker thread that probes every backend (TCP connect,
 * HTTP GET, UDP datagram) over non-blocking sockets. See slb.h for the rules. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "slb-internal.h"
#include "store.h"
#include "timeutil.h"
#include "util.h"

#define SLB_PROBE_BUF 256
#define SLB_MAX_INFLIGHT 512	/* probes in flight at once; the rest wait their turn */
#define SLB_MAX_WAIT_MS 1000	/* the checker looks at its schedule at least this often */

/* "tcp/80/i-…/10.0.0.5": a target's key in the kept health document. */
static void target_key(const struct slb_lb *lb, size_t li, size_t bi, char *out, size_t size)
{
	snprintf(out, size, "%s/%d/%s/%s", slb_proto_name(lb->listeners[li].proto), lb->listeners[li].port,
		 lb->backends[bi].server_id, lb->backends[bi].ip);
}
/* ---- health, kept ------------------------------------------------------------------------- */

void slb_health_save(struct agent_slb *s, const struct slb_lb *lb)
{
	struct json_object *doc = json_object_new_object(), *ab = json_object_new_array();

	for (size_t l = 0; l < lb->n_listeners; l++)
		for (size_t b = 0; b < lb->n_backends; b++)
			if (slb_checking(lb, l) && slb_target_at(lb, l, b)->abnormal) {
				char key[200];

				target_key(lb, l, b, key, sizeof(key));
				json_object_array_add(ab, json_object_new_string(key));
			}
	json_object_object_add(doc, "abnormal", ab);
	if (agent_store_put(s->a->store, "lbhealth", lb->id, doc) < 0)
		log_warn("slb: cannot keep health", "lb=%s", lb->id);
	json_object_put(doc);
}

void slb_health_load(struct agent_slb *s, struct slb_lb *lb)
{
	struct json_object *doc = NULL, *ab;

	if (agent_store_get(s->a->store, "lbhealth", lb->id, &doc) < 0)
		return;
	ab = ecs_json_get(doc, "abnormal");
	for (size_t l = 0; l < lb->n_listeners; l++) {
		for (size_t b = 0; b < lb->n_backends; b++) {
			char key[200];

			target_key(lb, l, b, key, sizeof(key));
			for (size_t i = 0; slb_checking(lb, l) && ab && i < json_object_array_length(ab); i++)
				if (streq(json_object_get_string(json_object_array_get_idx(ab, i)), key))
					slb_target_at(lb, l, b)->abnormal = true;
		}
	}
	json_object_put(doc);
}

/* A replaced LB keeps what its checks knew of each listener and backend that stays. */
void slb_health_carry(const struct slb_lb *old, struct slb_lb *lb)
{
	int64_t now = ecs_now_mono_ms();

	for (size_t l = 0; l < lb->n_listeners; l++) {
		for (size_t b = 0; b < lb->n_backends; b++) {
			struct slb_target *t = slb_target_at(lb, l, b);

			t->due_ms = now;
			for (size_t ol = 0; old && ol < old->n_listeners; ol++) {
				if (old->listeners[ol].proto != lb->listeners[l].proto ||
				    old->listeners[ol].port != lb->listeners[l].port || !slb_checking(old, ol) || !slb_checking(lb, l))
					continue;
				for (size_t ob = 0; ob < old->n_backends; ob++)
					if (streq(old->backends[ob].server_id, lb->backends[b].server_id) &&
					    streq(old->backends[ob].ip, lb->backends[b].ip))
						*t = *slb_target_at(old, ol, ob);
			}
		}
	}
}

static const char *status_of(const struct slb_lb *lb, size_t l, size_t b)
{
	if (!slb_checking(lb, l))
		return "unavailable";
	return slb_target_at(lb, l, b)->abnormal ? "abnormal" : "normal";
}

struct json_object *slb_lb_describe(const struct slb_lb *lb)
{
	struct json_object *o = slb_lb_to_json(lb), *health = json_object_new_array();

	for (size_t l = 0; l < lb->n_listeners; l++) {
		for (size_t b = 0; b < lb->n_backends; b++) {
			struct json_object *h = json_object_new_object();

			ecs_jb_str(h, "protocol", slb_proto_name(lb->listeners[l].proto));
			ecs_jb_int(h, "port", lb->listeners[l].port);
			ecs_jb_str(h, "server_id", lb->backends[b].server_id);
			ecs_jb_str(h, "ip", lb->backends[b].ip);
			ecs_jb_str(h, "status", status_of(lb, l, b));
			json_object_array_add(health, h);
		}
	}
	json_object_object_add(o, "health", health);
	return o;
}

/* ---- the health checker -------------------------------------------------------------------- */

enum probe_phase { P_CONNECT, P_SEND, P_READ, P_UDP };

struct probe {
	struct probe *next;
	int fd;
	enum hc_type type;
	enum probe_phase phase;
	int64_t started_ms, deadline_ms;
	bool done, ok;
	/* the target */
	char lb_id[ECS_ID_MAX];
	enum nf_slb_proto proto;
	int port;
	char server_id[NF_SLB_ID_MAX + 1];
	char ip[SLB_IP_MAX];
	unsigned codes;
	char req[SLB_URI_MAX + SLB_DOMAIN_MAX + 128];
	size_t req_len, sent;
	char buf[SLB_PROBE_BUF];
	size_t got;
};

static void probe_done(struct probe *p, bool ok)
{
	p->done = true;
	p->ok = ok;
}

static void probe_watch(struct agent_slb *s, struct probe *p, uint32_t events, int op)
{
	struct epoll_event ev = { .events = events, .data.ptr = p };

	if (epoll_ctl(s->epfd, op, p->fd, &ev) < 0)
		probe_done(p, false);
}

/* "HTTP/1.x NNN …": whether NNN's class is one the check accepts. */
static bool http_status_ok(const struct probe *p)
{
	const char *sp = memchr(p->buf, ' ', p->got);
	int code;

	if (p->got < 12 || strncmp(p->buf, "HTTP/", 5) != 0 || !sp || (size_t)(sp - p->buf) + 4 > p->got)
		return false;
	if (sp[1] < '1' || sp[1] > '9' || sp[2] < '0' || sp[2] > '9' || sp[3] < '0' || sp[3] > '9')
		return false;
	code = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
	return code >= 200 && code < 600 && (p->codes & (1u << (code / 100 - 2)));
}

static void probe_step(struct agent_slb *s, struct probe *p, uint32_t events)
{
	int soerr = 0;
	socklen_t len = sizeof(soerr);
	ssize_t n;

	switch (p->phase) {
	case P_CONNECT:
		if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr != 0)
			return probe_done(p, false);
		if (!(events & EPOLLOUT))
			return;
		if (p->type == HC_TCP)
			return probe_done(p, true);
		p->phase = P_SEND;
		/* fall through */
	case P_SEND:
		n = send(p->fd, p->req + p->sent, p->req_len - p->sent, MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN ? (void)0 : probe_done(p, false);
		p->sent += (size_t)n;
		if (p->sent == p->req_len) {
			p->phase = P_READ;
			probe_watch(s, p, EPOLLIN, EPOLL_CTL_MOD);
		}
		return;
	case P_READ:
		n = recv(p->fd, p->buf + p->got, sizeof(p->buf) - 1 - p->got, 0);
		if (n < 0)
			return errno == EAGAIN ? (void)0 : probe_done(p, false);
		p->got += (size_t)n;
		p->buf[p->got] = '\0';
		/* The status line is all a check reads. */
		if (n == 0 || memchr(p->buf, '\n', p->got) || p->got == sizeof(p->buf) - 1)
			probe_done(p, http_status_ok(p));
		return;
	case P_UDP:
		n = recv(p->fd, p->buf, sizeof(p->buf), 0);
		if (n >= 0)
			return probe_done(p, true); /* an answer */
		if (errno != EAGAIN)
			probe_done(p, false); /* ECONNREFUSED: ICMP port unreachable */
		return;
	}
}

/* Start checking target (lb, l, b); the probe goes on s->probes. With the lock. */
static void probe_start(struct agent_slb *s, const struct slb_lb *lb, size_t l, size_t b, int64_t now)
{
	const struct slb_listener *ls = &lb->listeners[l];
	struct sockaddr_in to = { .sin_family = AF_INET };
	struct probe *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return;
	p->type = ls->hc.type;
	p->started_ms = now;
	p->deadline_ms = now + (int64_t)ls->hc.timeout_s * 1000;
	snprintf(p->lb_id, sizeof(p->lb_id), "%s", lb->id);
	p->proto = ls->proto;
	p->port = ls->port;
	snprintf(p->server_id, sizeof(p->server_id), "%s", lb->backends[b].server_id);
	snprintf(p->ip, sizeof(p->ip), "%s", lb->backends[b].ip);
	p->codes = ls->hc.codes;
	to.sin_port = htons((uint16_t)(ls->hc.port ? ls->hc.port : ls->backend_port));
	inet_pton(AF_INET, p->ip, &to.sin_addr);
	if (p->type == HC_HTTP) {
		int n = snprintf(p->req, sizeof(p->req),
				 "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: ecs-slb-health-check\r\nAccept: */*\r\n"
				 "Connection: close\r\n\r\n",
				 ls->hc.uri, *ls->hc.domain ? ls->hc.domain : p->ip);

		p->req_len = (size_t)n < sizeof(p->req) ? (size_t)n : sizeof(p->req) - 1;
	}
	p->next = s->probes;
	s->probes = p;
	s->n_probes++;
	p->fd = socket(AF_INET, (p->type == HC_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0)
		return probe_done(p, false);
	r = connect(p->fd, (struct sockaddr *)&to, sizeof(to));
	if (p->type == HC_UDP) {
		/* A datagram; a closed port answers with ICMP port unreachable, which the connected
		 * socket reports as ECONNREFUSED. Silence until the timeout is health. */
		if (r < 0 || send(p->fd, "\n", 1, MSG_NOSIGNAL) < 0)
			return probe_done(p, false);
		p->phase = P_UDP;
		return probe_watch(s, p, EPOLLIN, EPOLL_CTL_ADD);
	}
	if (r < 0 && errno != EINPROGRESS)
		return probe_done(p, false);
	p->phase = P_CONNECT;
	probe_watch(s, p, EPOLLOUT, EPOLL_CTL_ADD);
}

/* A finished probe: count it against its target, if that still exists and is checked. */
/* Which backends listener l of lb sends new flows to, by the rule of nf_slb.h. */
static void serving(const struct slb_lb *lb, size_t l, bool out[NF_SLB_BACKENDS_MAX])
{
	struct nf_slb_backend bs[NF_SLB_BACKENDS_MAX];
	bool flags[NF_SLB_BACKENDS_MAX];
	const struct nf_slb_listener nl = { .abnormal = flags };
	const struct nf_slb_lb nlb = { .backends = bs, .n_backends = lb->n_backends };

	for (size_t b = 0; b < lb->n_backends; b++) {
		bs[b] = (struct nf_slb_backend){ .weight = lb->backends[b].weight };
		flags[b] = slb_target_at(lb, l, b)->abnormal;
	}
	for (size_t b = 0; b < lb->n_backends; b++)
		out[b] = nf_slb_backend_serves(&nlb, &nl, b);
}

static void probe_record(struct agent_slb *s, const struct probe *p, int64_t now)
{
	ssize_t i = slb_lb_index(s, p->lb_id);
	bool before[NF_SLB_BACKENDS_MAX], after[NF_SLB_BACKENDS_MAX];
	const struct slb_hc *hc;
	struct slb_target *t;
	struct slb_lb *lb;
	size_t l, b;
	bool was;

	if (i < 0)
		return;
	lb = s->lbs[i];
	for (l = 0; l < lb->n_listeners; l++)
		if (lb->listeners[l].proto == p->proto && lb->listeners[l].port == p->port)
			break;
	for (b = 0; b < lb->n_backends; b++)
		if (streq(lb->backends[b].server_id, p->server_id) && streq(lb->backends[b].ip, p->ip))
			break;
	if (l == lb->n_listeners || b == lb->n_backends || !slb_checking(lb, l))
		return;
	t = slb_target_at(lb, l, b);
	hc = &lb->listeners[l].hc;
	t->busy = false;
	t->due_ms = p->started_ms + (int64_t)hc->interval_s * 1000;
	if (t->due_ms < now)
		t->due_ms = now;
	was = t->abnormal;
	if (p->ok) {
		t->fail_run = 0;
		if (t->ok_run < hc->healthy)
			t->ok_run++;
		if (t->abnormal && t->ok_run >= hc->healthy)
			t->abnormal = false;
	} else {
		t->ok_run = 0;
		if (t->fail_run < hc->unhealthy)
			t->fail_run++;
		if (!t->abnormal && t->fail_run >= hc->unhealthy)
			t->abnormal = true;
	}
	if (t->abnormal == was)
		return;
	log_info("slb: backend health changed", "lb=%s listener=%s/%d server_id=%s ip=%s status=%s", lb->id,
		 slb_proto_name(p->proto), p->port, p->server_id, p->ip, t->abnormal ? "abnormal" : "normal");
	slb_health_save(s, lb);
	if (slb_apply_lb(s, lb->id) < 0)
		log_warn("slb: health change not applied yet (the reconciler retries)", "lb=%s", lb->id);
	if (lb->listeners[l].proto != NF_SLB_UDP)
		return;
	/* UDP flows keep their backend in conntrack: forget the ones to backends that left. */
	serving(lb, l, after);
	t->abnormal = was;
	serving(lb, l, before);
	t->abnormal = !was;
	for (size_t k = 0; k < lb->n_backends; k++)
		if (before[k] && !after[k])
			nf_slb_conntrack_forget(lb->address, p->port, lb->backends[k].ip);
}

/* Start every check that is due; returns the time of the next one that is not. With the lock. */
static int64_t schedule(struct agent_slb *s, int64_t now)
{
	int64_t next = now + SLB_MAX_WAIT_MS;

	for (size_t i = 0; i < s->n_lbs; i++) {
		const struct slb_lb *lb = s->lbs[i];

		for (size_t l = 0; l < lb->n_listeners; l++) {
			if (!slb_checking(lb, l))
				continue;
			for (size_t b = 0; b < lb->n_backends; b++) {
				struct slb_target *t = slb_target_at(lb, l, b);

				if (t->busy)
					continue;
				if (t->due_ms > now) {
					if (t->due_ms < next)
						next = t->due_ms;
					continue;
				}
				if (s->n_probes >= SLB_MAX_INFLIGHT) {
					next = now + 10;
					continue;
				}
				t->busy = true;
				probe_start(s, lb, l, b, now);
			}
		}
	}
	return next;
}

static void probe_free(struct agent_slb *s, struct probe *p)
{
	if (p->fd >= 0) {
		/* Out of the epoll set before the close: a child forked meanwhile (any command the
		 * agent runs) holds the socket until its exec, and the set would still report it,
		 * with p freed. */
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, p->fd, NULL);
		/* No TIME_WAIT on the host for every check: close with a reset, as SLB's checks do. */
		if (p->type != HC_UDP) {
			struct linger lg = { .l_onoff = 1, .l_linger = 0 };

			setsockopt(p->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		close(p->fd);
	}
	free(p);
}

void *slb_checker(void *arg)
{
	struct agent_slb *s = arg;
	struct epoll_event evs[64];

	while (!s->stop) {
		int64_t now = ecs_now_mono_ms(), next;
		int n, timeout;

		pthread_mutex_lock(&s->lock);
		next = schedule(s, now);
		pthread_mutex_unlock(&s->lock);
		for (struct probe *p = s->probes; p; p = p->next)
			if (p->done || p->deadline_ms < next)
				next = p->done ? now : p->deadline_ms;
		timeout = next <= now ? 0 : (int)(next - now);
		n = epoll_wait(s->epfd, evs, (int)ARRAY_SIZE(evs), timeout);
		for (int i = 0; i < n; i++) {
			struct probe *p = evs[i].data.ptr;

			if (!p) { /* the wake-up eventfd */
				uint64_t v;

				if (read(s->wakefd, &v, sizeof(v)) < 0 && errno != EAGAIN)
					log_debug("slb: wake-up read failed", "error=\"%s\"", strerror(errno));
				continue;
			}
			if (!p->done)
				probe_step(s, p, evs[i].events);
		}
		now = ecs_now_mono_ms();
		for (struct probe *p = s->probes; p; p = p->next)
			if (!p->done && now >= p->deadline_ms)
				probe_done(p, p->type == HC_UDP); /* UDP: no refusal in time is health */
		if (!s->probes)
			continue;
		pthread_mutex_lock(&s->lock);
		for (struct probe **pp = &s->probes; *pp;) {
			struct probe *p = *pp;

			if (!p->done) {
				pp = &p->next;
				continue;
			}
			*pp = p->next;
			s->n_probes--;
			probe_record(s, p, now);
			probe_free(s, p);
		}
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

void slb_probes_free(struct agent_slb *s)
{
	while (s->probes) {
		struct probe *p = s->probes;

		s->probes = p->next;
		probe_free(s, p);
	}
}
