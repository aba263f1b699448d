/* slb.c: load balancers and public IPs on this host: the API's documents, the store, the
 * addresses on the bridge, the rules (through netfilter/nf_slb.h) and the health checker.
 * See slb.h for the contract and docs/slb.md for the design. */
#include "slb.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent.h"
#include "errors.h"
#include "id.h"
#include "json.h"
#include "garp.h"
#include "log.h"
#include "net.h"
#include "nf_slb.h"
#include "store.h"
#include "timeutil.h"
#include "util.h"

#define SLB_URI_MAX 80
#define SLB_DOMAIN_MAX 80
#define SLB_PROBE_BUF 256
#define SLB_MAX_INFLIGHT 512	/* probes in flight at once; the rest wait their turn */
#define SLB_MAX_WAIT_MS 1000	/* the checker looks at its schedule at least this often */
#define SLB_IP_MAX INET_ADDRSTRLEN

enum hc_type { HC_TCP, HC_HTTP, HC_UDP, _HC_TYPE_MAX };
static const char *const hc_type_names[_HC_TYPE_MAX] = { "tcp", "http", "udp" };
/* http_codes, as bits 0-3 for the classes 2xx-5xx. */
static const char *const code_names[] = { "http_2xx", "http_3xx", "http_4xx", "http_5xx" };

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

/* ---- small helpers ------------------------------------------------------------------ */

/* A dotted quad in its one canonical spelling, unicast (not 0/8, loopback, multicast, broadcast). */
static bool ip_unicast(const char *s)
{
	struct in_addr a;
	char back[SLB_IP_MAX];
	uint32_t v;

	if (!s || inet_pton(AF_INET, s, &a) != 1 || !inet_ntop(AF_INET, &a, back, sizeof(back)) || !streq(back, s))
		return false;
	v = ntohl(a.s_addr);
	return (v >> 24) != 0 && (v >> 24) != 127 && (v >> 28) < 0xe;
}

static bool server_id_valid(const char *s)
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	size_t n = s ? strlen(s) : 0;

	return n > 0 && n <= NF_SLB_ID_MAX && strchr(alnum, s[0]) &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

static const char *proto_name(enum nf_slb_proto p)
{
	return p == NF_SLB_UDP ? "udp" : "tcp";
}

static void lb_free(struct slb_lb *lb)
{
	if (!lb)
		return;
	free(lb->listeners);
	free(lb->backends);
	free(lb->targets);
	free(lb);
}

static inline void lb_freep(struct slb_lb **lb)
{
	lb_free(*lb);
}

static struct slb_target *target(const struct slb_lb *lb, size_t li, size_t bi)
{
	return &lb->targets[li * lb->n_backends + bi];
}

/* Whether the checks of listener li run (else its backends are "unavailable" and serve). */
static bool checking(const struct slb_lb *lb, size_t li)
{
	return lb->active && !lb->deleting && lb->listeners[li].running && lb->listeners[li].hc.enabled;
}

/* "tcp/80/i-…/10.0.0.5": a target's key in the kept health document. */
static void target_key(const struct slb_lb *lb, size_t li, size_t bi, char *out, size_t size)
{
	snprintf(out, size, "%s/%d/%s/%s", proto_name(lb->listeners[li].proto), lb->listeners[li].port,
		 lb->backends[bi].server_id, lb->backends[bi].ip);
}

/* ---- parsing the documents ------------------------------------------------------------- */

static int jr_done(struct ecs_jreader *jr, const char *where, struct agent_err *err)
{
	if (ecs_jr_finish(jr, true) == 0)
		return 0;
	return agent_fail(err, jr->rc, 400, jr->rc == -ENOENT ? "MissingParameter" : "InvalidParameter", "%s%s", where,
			  jr->message);
}

static int bad(struct agent_err *err, const char *where, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(struct agent_err *err, const char *where, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return agent_fail(err, -EINVAL, 400, "InvalidParameter", "%s%s", where, msg);
}

static int parse_hc(struct json_object *o, const char *where, enum nf_slb_proto proto, struct slb_hc *hc,
		    struct agent_err *err)
{
	struct json_object *empty = NULL, *codes;
	struct ecs_jreader jr;
	const char *type, *uri, *domain;
	int r;

	if (!o)
		o = empty = json_object_new_object();
	ecs_jr_init(&jr, o);
	hc->enabled = ecs_jr_bool(&jr, "enabled", 0, true);
	type = ecs_jr_str(&jr, "type", 0, 8, proto == NF_SLB_UDP ? "udp" : "tcp");
	hc->port = (int)ecs_jr_int(&jr, "port", 0, 0, 65535, 0);
	uri = ecs_jr_str(&jr, "uri", 0, SLB_URI_MAX, "/");
	domain = ecs_jr_str(&jr, "domain", 0, SLB_DOMAIN_MAX, "");
	codes = ecs_jr_array(&jr, "http_codes", 0, ARRAY_SIZE(code_names));
	hc->interval_s = (int)ecs_jr_int(&jr, "interval_s", 0, 1, 50, 2);
	hc->timeout_s = (int)ecs_jr_int(&jr, "timeout_s", 0, 1, 300, 5);
	hc->healthy = (int)ecs_jr_int(&jr, "healthy_threshold", 0, 2, 10, 3);
	hc->unhealthy = (int)ecs_jr_int(&jr, "unhealthy_threshold", 0, 2, 10, 3);
	r = jr_done(&jr, where, err);
	if (r < 0)
		goto out;
	r = -EINVAL;
	hc->type = _HC_TYPE_MAX;
	for (int t = 0; t < _HC_TYPE_MAX; t++)
		if (streq(type, hc_type_names[t]))
			hc->type = (enum hc_type)t;
	/* A UDP listener may be checked over TCP or HTTP too (a side port); a TCP one not by UDP. */
	if (hc->type == _HC_TYPE_MAX || (proto == NF_SLB_TCP && hc->type == HC_UDP)) {
		bad(err, where, "type must be %s", proto == NF_SLB_UDP ? "udp, tcp or http" : "tcp or http");
		goto out;
	}
	if (uri[0] != '/' ||
	    strspn(uri, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/%?#&=+:,") != strlen(uri)) {
		bad(err, where, "uri must start with / and hold only letters, digits and -._~/%%?#&=+:,");
		goto out;
	}
	if (strspn(domain, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != strlen(domain)) {
		bad(err, where, "domain must hold only letters, digits, '.' and '-'");
		goto out;
	}
	snprintf(hc->uri, sizeof(hc->uri), "%s", uri);
	snprintf(hc->domain, sizeof(hc->domain), "%s", domain);
	hc->codes = codes ? 0 : 0x3;
	for (size_t i = 0; codes && i < json_object_array_length(codes); i++) {
		struct json_object *c = json_object_array_get_idx(codes, i);
		unsigned bit = 0;

		for (size_t k = 0; k < ARRAY_SIZE(code_names); k++)
			if (json_object_is_type(c, json_type_string) && streq(json_object_get_string(c), code_names[k]))
				bit = 1u << k;
		if (!bit || (hc->codes & bit)) {
			bad(err, where, "http_codes must name each of http_2xx, http_3xx, http_4xx, http_5xx at most once");
			goto out;
		}
		hc->codes |= bit;
	}
	if (!hc->codes) {
		bad(err, where, "http_codes must name at least one class");
		goto out;
	}
	r = 0;
out:
	json_object_put(empty);
	return r;
}

static int parse_listener(struct json_object *o, size_t i, struct slb_listener *l, struct agent_err *err)
{
	char where[64], hwhere[80];
	struct ecs_jreader jr;
	const char *proto, *sched, *status;
	struct json_object *hc;
	int r;

	snprintf(where, sizeof(where), "listeners[%zu].", i);
	if (!json_object_is_type(o, json_type_object))
		return bad(err, where, "%s", "must be an object");
	ecs_jr_init(&jr, o);
	proto = ecs_jr_str(&jr, "protocol", ECS_JR_REQUIRED, 8, NULL);
	l->port = (int)ecs_jr_int(&jr, "port", ECS_JR_REQUIRED, 1, 65535, 0);
	l->backend_port = (int)ecs_jr_int(&jr, "backend_port", 0, 1, 65535, l->port);
	sched = ecs_jr_str(&jr, "scheduler", 0, 8, "wrr");
	status = ecs_jr_str(&jr, "status", 0, 16, "running");
	hc = ecs_jr_object(&jr, "health_check", 0);
	r = jr_done(&jr, where, err);
	if (r < 0)
		return r;
	if (streq(proto, "tcp"))
		l->proto = NF_SLB_TCP;
	else if (streq(proto, "udp"))
		l->proto = NF_SLB_UDP;
	else
		return bad(err, where, "%s", "protocol must be tcp or udp");
	if (streq(sched, "wrr"))
		l->scheduler = NF_SLB_WRR;
	else if (streq(sched, "rr"))
		l->scheduler = NF_SLB_RR;
	else
		return bad(err, where, "%s", "scheduler must be wrr or rr");
	if (!streq(status, "running") && !streq(status, "stopped"))
		return bad(err, where, "%s", "status must be running or stopped");
	l->running = streq(status, "running");
	snprintf(hwhere, sizeof(hwhere), "%shealth_check.", where);
	return parse_hc(hc, hwhere, l->proto, &l->hc, err);
}

static int parse_backend(struct json_object *o, size_t i, struct slb_backend *b, struct agent_err *err)
{
	char where[64];
	struct ecs_jreader jr;
	const char *sid, *ip;
	int r;

	snprintf(where, sizeof(where), "backends[%zu].", i);
	if (!json_object_is_type(o, json_type_object))
		return bad(err, where, "%s", "must be an object");
	ecs_jr_init(&jr, o);
	sid = ecs_jr_str(&jr, "server_id", ECS_JR_REQUIRED | ECS_JR_NONEMPTY, NF_SLB_ID_MAX, NULL);
	ip = ecs_jr_str(&jr, "ip", ECS_JR_REQUIRED | ECS_JR_NONEMPTY, SLB_IP_MAX, NULL);
	b->weight = (int)ecs_jr_int(&jr, "weight", 0, 0, NF_SLB_WEIGHT_MAX, 100);
	r = jr_done(&jr, where, err);
	if (r < 0)
		return r;
	if (!server_id_valid(sid))
		return bad(err, where, "server_id must be 1-%d of [A-Za-z0-9_-], starting with a letter or digit",
			   NF_SLB_ID_MAX);
	if (!ip_unicast(ip))
		return bad(err, where, "%s", "ip must be a unicast IPv4 address (a.b.c.d)");
	snprintf(b->server_id, sizeof(b->server_id), "%s", sid);
	snprintf(b->ip, sizeof(b->ip), "%s", ip);
	return 0;
}

/* A PUT body (or, with stored, a kept document) into a load balancer with no health yet. */
static int lb_from_json(const char *id, struct json_object *body, bool stored, struct slb_lb **ret,
			struct agent_err *err)
{
	_cleanup_(lb_freep) struct slb_lb *lb = NULL;
	struct json_object *ls, *bs;
	struct ecs_jreader jr;
	const char *given, *address, *status;
	int r;

	if (!id || !ecs_id_valid(ECS_ID_LOAD_BALANCER, id))
		return agent_fail(err, -EINVAL, 400, "InvalidLoadBalancerId.Malformed", "%s is not a load balancer id",
				  strempty(id));
	if (!body || !json_object_is_type(body, json_type_object))
		return agent_fail(err, -EINVAL, 400, "MalformedJSON", "the body must be a JSON object");
	lb = calloc(1, sizeof(*lb));
	if (!lb)
		return -ENOMEM;
	ecs_jr_init(&jr, body);
	given = ecs_jr_str(&jr, "load_balancer_id", 0, ECS_ID_MAX, id);
	address = ecs_jr_str(&jr, "address", ECS_JR_REQUIRED | ECS_JR_NONEMPTY, SLB_IP_MAX, NULL);
	status = ecs_jr_str(&jr, "status", 0, 16, "active");
	ls = ecs_jr_array(&jr, "listeners", 0, NF_SLB_LISTENERS_MAX);
	bs = ecs_jr_array(&jr, "backends", 0, NF_SLB_BACKENDS_MAX);
	if (stored)
		lb->deleting = ecs_jr_bool(&jr, "deleting", 0, false);
	r = jr_done(&jr, "", err);
	if (r < 0)
		return r;
	if (!streq(given, id))
		return bad(err, "", "%s", "load_balancer_id in the body differs from the path");
	if (!ip_unicast(address))
		return bad(err, "", "%s", "address must be a unicast IPv4 address (a.b.c.d)");
	if (!streq(status, "active") && !streq(status, "inactive"))
		return bad(err, "", "%s", "status must be active or inactive");
	snprintf(lb->id, sizeof(lb->id), "%s", id);
	snprintf(lb->address, sizeof(lb->address), "%s", address);
	lb->active = streq(status, "active");
	lb->n_listeners = ls ? json_object_array_length(ls) : 0;
	lb->n_backends = bs ? json_object_array_length(bs) : 0;
	lb->listeners = calloc(lb->n_listeners + 1, sizeof(*lb->listeners));
	lb->backends = calloc(lb->n_backends + 1, sizeof(*lb->backends));
	lb->targets = calloc(lb->n_listeners * lb->n_backends + 1, sizeof(*lb->targets));
	if (!lb->listeners || !lb->backends || !lb->targets)
		return -ENOMEM;
	for (size_t i = 0; i < lb->n_listeners; i++) {
		r = parse_listener(json_object_array_get_idx(ls, i), i, &lb->listeners[i], err);
		if (r < 0)
			return r;
		for (size_t j = 0; j < i; j++)
			if (lb->listeners[j].proto == lb->listeners[i].proto && lb->listeners[j].port == lb->listeners[i].port)
				return bad(err, "", "listeners[%zu] and listeners[%zu] are both %s/%d", j, i,
					   proto_name(lb->listeners[i].proto), lb->listeners[i].port);
	}
	for (size_t i = 0; i < lb->n_backends; i++) {
		r = parse_backend(json_object_array_get_idx(bs, i), i, &lb->backends[i], err);
		if (r < 0)
			return r;
		for (size_t j = 0; j < i; j++) {
			if (streq(lb->backends[j].server_id, lb->backends[i].server_id))
				return bad(err, "", "backends[%zu] and backends[%zu] are both %s", j, i,
					   lb->backends[i].server_id);
			if (streq(lb->backends[j].ip, lb->backends[i].ip))
				return bad(err, "", "backends[%zu] and backends[%zu] share the ip %s", j, i, lb->backends[i].ip);
		}
	}
	*ret = TAKE_PTR(lb);
	return 0;
}

/* The document: the body with every default filled in. */
static struct json_object *lb_to_json(const struct slb_lb *lb)
{
	struct json_object *o = json_object_new_object(), *ls = json_object_new_array(), *bs = json_object_new_array();

	ecs_jb_str(o, "load_balancer_id", lb->id);
	ecs_jb_str(o, "address", lb->address);
	ecs_jb_str(o, "status", lb->active ? "active" : "inactive");
	for (size_t i = 0; i < lb->n_listeners; i++) {
		const struct slb_listener *l = &lb->listeners[i];
		struct json_object *lo = json_object_new_object(), *hc, *codes = json_object_new_array();

		ecs_jb_str(lo, "protocol", proto_name(l->proto));
		ecs_jb_int(lo, "port", l->port);
		ecs_jb_int(lo, "backend_port", l->backend_port);
		ecs_jb_str(lo, "scheduler", l->scheduler == NF_SLB_RR ? "rr" : "wrr");
		ecs_jb_str(lo, "status", l->running ? "running" : "stopped");
		hc = ecs_jb_obj(lo, "health_check");
		ecs_jb_bool(hc, "enabled", l->hc.enabled);
		ecs_jb_str(hc, "type", hc_type_names[l->hc.type]);
		ecs_jb_int(hc, "port", l->hc.port);
		ecs_jb_str(hc, "uri", l->hc.uri);
		ecs_jb_str(hc, "domain", l->hc.domain);
		for (size_t k = 0; k < ARRAY_SIZE(code_names); k++)
			if (l->hc.codes & (1u << k))
				json_object_array_add(codes, json_object_new_string(code_names[k]));
		json_object_object_add(hc, "http_codes", codes);
		ecs_jb_int(hc, "interval_s", l->hc.interval_s);
		ecs_jb_int(hc, "timeout_s", l->hc.timeout_s);
		ecs_jb_int(hc, "healthy_threshold", l->hc.healthy);
		ecs_jb_int(hc, "unhealthy_threshold", l->hc.unhealthy);
		json_object_array_add(ls, lo);
	}
	for (size_t i = 0; i < lb->n_backends; i++) {
		struct json_object *bo = json_object_new_object();

		ecs_jb_str(bo, "server_id", lb->backends[i].server_id);
		ecs_jb_str(bo, "ip", lb->backends[i].ip);
		ecs_jb_int(bo, "weight", lb->backends[i].weight);
		json_object_array_add(bs, bo);
	}
	json_object_object_add(o, "listeners", ls);
	json_object_object_add(o, "backends", bs);
	return o;
}

int agent_slb_lb_parse(const char *id, struct json_object *body, struct json_object **ret_doc, struct agent_err *err)
{
	_cleanup_(lb_freep) struct slb_lb *lb = NULL;
	int r = lb_from_json(id, body, false, &lb, err);

	if (r < 0)
		return r;
	*ret_doc = lb_to_json(lb);
	return 0;
}

static int eip_from_json(const char *public_ip, struct json_object *body, bool stored, struct slb_eip *ret,
			 struct agent_err *err)
{
	struct ecs_jreader jr;
	const char *given, *priv;
	int r;

	if (!ip_unicast(public_ip))
		return agent_fail(err, -EINVAL, 400, "InvalidIpAddress.Malformed",
				  "%s is not a unicast IPv4 address (a.b.c.d)", strempty(public_ip));
	if (!body || !json_object_is_type(body, json_type_object))
		return agent_fail(err, -EINVAL, 400, "MalformedJSON", "the body must be a JSON object");
	memset(ret, 0, sizeof(*ret));
	ecs_jr_init(&jr, body);
	given = ecs_jr_str(&jr, "public_ip", 0, SLB_IP_MAX, public_ip);
	priv = ecs_jr_str(&jr, "private_ip", ECS_JR_REQUIRED | ECS_JR_NONEMPTY, SLB_IP_MAX, NULL);
	if (stored)
		ret->deleting = ecs_jr_bool(&jr, "deleting", 0, false);
	r = jr_done(&jr, "", err);
	if (r < 0)
		return r;
	if (!streq(given, public_ip))
		return bad(err, "", "%s", "public_ip in the body differs from the path");
	if (!ip_unicast(priv))
		return bad(err, "", "%s", "private_ip must be a unicast IPv4 address (a.b.c.d)");
	if (streq(priv, public_ip))
		return bad(err, "", "%s", "private_ip must differ from the public IP");
	snprintf(ret->public_ip, sizeof(ret->public_ip), "%s", public_ip);
	snprintf(ret->private_ip, sizeof(ret->private_ip), "%s", priv);
	return 0;
}

static struct json_object *eip_to_json(const struct slb_eip *e)
{
	struct json_object *o = json_object_new_object();

	ecs_jb_str(o, "public_ip", e->public_ip);
	ecs_jb_str(o, "private_ip", e->private_ip);
	return o;
}

int agent_slb_eip_parse(const char *public_ip, struct json_object *body, struct json_object **ret_doc,
			struct agent_err *err)
{
	struct slb_eip e;
	int r = eip_from_json(public_ip, body, false, &e, err);

	if (r < 0)
		return r;
	*ret_doc = eip_to_json(&e);
	return 0;
}

/* ---- the model for libecsnf ------------------------------------------------------------- */

struct model {
	struct nf_slb_host host;
	struct nf_slb_lb *lbs;
	struct nf_slb_listener *ls;
	struct nf_slb_backend *bs;
	bool *flags;
	struct nf_slb_eip *eips;
};

static void model_clear(struct model *m)
{
	free(m->lbs);
	free(m->ls);
	free(m->bs);
	free(m->flags);
	free(m->eips);
	memset(m, 0, sizeof(*m));
}

/* The kernel's view of what is wanted now (LBs and public IPs being deleted left out);
 * extra (may be NULL) is added as if it were kept. Called with the lock held; points into s. */
static int model_build(struct agent_slb *s, const struct slb_lb *extra_lb, const struct slb_eip *extra_eip,
		       struct model *m)
{
	size_t n_l = 0, n_b = 0, n_f = 0, il = 0, ib = 0, iflag = 0, n = 0;
	const struct slb_lb *all[NF_SLB_LBS_MAX + 1];
	size_t n_all = 0;

	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < s->n_lbs && n_all < NF_SLB_LBS_MAX + 1; i++)
		if (!s->lbs[i]->deleting && (!extra_lb || !streq(s->lbs[i]->id, extra_lb->id)))
			all[n_all++] = s->lbs[i];
	if (extra_lb && n_all < NF_SLB_LBS_MAX + 1)
		all[n_all++] = extra_lb;
	for (size_t i = 0; i < n_all; i++) {
		n_l += all[i]->n_listeners;
		n_b += all[i]->n_backends;
		n_f += all[i]->n_listeners * all[i]->n_backends;
	}
	m->lbs = calloc(n_all + 1, sizeof(*m->lbs));
	m->ls = calloc(n_l + 1, sizeof(*m->ls));
	m->bs = calloc(n_b + 1, sizeof(*m->bs));
	m->flags = calloc(n_f + 1, sizeof(*m->flags));
	m->eips = calloc(s->n_eips + 2, sizeof(*m->eips));
	if (!m->lbs || !m->ls || !m->bs || !m->flags || !m->eips) {
		model_clear(m);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n_all; i++) {
		const struct slb_lb *lb = all[i];
		struct nf_slb_lb *out = &m->lbs[i];

		*out = (struct nf_slb_lb){ .id = lb->id, .address = lb->address, .active = lb->active,
					   .listeners = &m->ls[il], .n_listeners = lb->n_listeners,
					   .backends = &m->bs[ib], .n_backends = lb->n_backends };
		for (size_t b = 0; b < lb->n_backends; b++)
			m->bs[ib + b] = (struct nf_slb_backend){ .server_id = lb->backends[b].server_id,
								 .ip = lb->backends[b].ip,
								 .weight = lb->backends[b].weight };
		for (size_t l = 0; l < lb->n_listeners; l++) {
			const struct slb_listener *sl = &lb->listeners[l];
			bool *flags = NULL;

			if (checking(lb, l)) {
				flags = &m->flags[iflag];
				for (size_t b = 0; b < lb->n_backends; b++)
					flags[b] = target(lb, l, b)->abnormal;
				iflag += lb->n_backends;
			}
			m->ls[il + l] = (struct nf_slb_listener){ .proto = sl->proto, .port = sl->port,
								  .backend_port = sl->backend_port,
								  .scheduler = sl->scheduler, .running = sl->running,
								  .abnormal = flags };
		}
		il += lb->n_listeners;
		ib += lb->n_backends;
	}
	for (size_t i = 0; i < s->n_eips; i++)
		if (!s->eips[i].deleting && (!extra_eip || !streq(s->eips[i].public_ip, extra_eip->public_ip)))
			m->eips[n++] = (struct nf_slb_eip){ .public_ip = s->eips[i].public_ip,
							    .private_ip = s->eips[i].private_ip };
	if (extra_eip)
		m->eips[n++] = (struct nf_slb_eip){ .public_ip = extra_eip->public_ip, .private_ip = extra_eip->private_ip };
	m->host = (struct nf_slb_host){ .prefix = s->a->cfg.chain_prefix, .snat_ip = s->snat_ip,
					.bridge = s->a->cfg.bridge, .local_cidrs = s->cidrs, .n_local_cidrs = s->n_cidrs,
					.lbs = m->lbs, .n_lbs = n_all, .eips = m->eips, .n_eips = n };
	return 0;
}

static int apply_all(struct agent_slb *s, bool *ret_changed)
{
	struct model m;
	int r = model_build(s, NULL, NULL, &m);

	if (r < 0)
		return r;
	r = nf_slb_apply(&m.host, true, ret_changed);
	model_clear(&m);
	return r;
}

static int apply_lb(struct agent_slb *s, const char *id)
{
	struct model m;
	int r = model_build(s, NULL, NULL, &m);

	if (r < 0)
		return r;
	r = nf_slb_apply_lb(&m.host, id);
	model_clear(&m);
	return r;
}

/* ---- host state: addresses and forwarding ------------------------------------------------ */

static int addr_change(struct agent_slb *s, const char *ip, bool add)
{
	char cidr[SLB_IP_MAX + 3];

	if (!s->a->net)
		return 0;
	snprintf(cidr, sizeof(cidr), "%s/32", ip);
	return add ? agent_net_addr_add(s->a->net, s->a->cfg.bridge, cidr)
		   : agent_net_addr_del(s->a->net, s->a->cfg.bridge, cidr);
}

/* A VIP or public IP put here may have been on another host a moment ago (failover): the
 * neighbours on the bridge and the overlay learn its new MAC now. Best effort. */
static void announce(struct agent_slb *s, const char *ip)
{
	if (s->a->net)
		(void)agent_garp_announce(s->a->cfg.bridge, ip, 2);
}

/* DNAT to addresses on the bridge is forwarding: the kernel must do it. */
static void ensure_forwarding(struct agent_slb *s)
{
	static const char path[] = "/proc/sys/net/ipv4/ip_forward";
	char v = '0';
	FILE *f;

	if (s->forwarding)
		return;
	f = fopen(path, "re");
	if (f) {
		if (fread(&v, 1, 1, f) != 1)
			v = '0';
		fclose(f);
	}
	if (v != '1') {
		f = fopen(path, "we");
		if (!f || fputs("1\n", f) < 0 || fclose(f) != 0) {
			log_error("slb: cannot enable IP forwarding: load balancers and public IPs will not forward",
				  "path=%s error=\"%s\"", path, strerror(errno));
			return;
		}
		log_info("slb: IP forwarding enabled (net.ipv4.ip_forward=1) for load balancers and public IPs", NULL);
	}
	s->forwarding = true;
}

/* Addresses no load balancer or public IP may take: the bridge's own and the metadata one. */
static bool address_reserved(const struct agent_slb *s, const char *ip)
{
	for (size_t i = 0; i < s->n_cidrs; i++) {
		size_t n = strcspn(s->cidrs[i], "/");

		if (strlen(ip) == n && strncmp(s->cidrs[i], ip, n) == 0)
			return true;
	}
	return streq(ip, s->a->cfg.metadata_ip);
}

/* Who holds address ip, other than the LB self_lb or the public IP self_eip. */
static const char *address_user(const struct agent_slb *s, const char *ip, const char *self_lb, const char *self_eip)
{
	for (size_t i = 0; i < s->n_lbs; i++)
		if (!s->lbs[i]->deleting && streq(s->lbs[i]->address, ip) && !streq(s->lbs[i]->id, self_lb))
			return s->lbs[i]->id;
	for (size_t i = 0; i < s->n_eips; i++)
		if (!s->eips[i].deleting && streq(s->eips[i].public_ip, ip) && !streq(s->eips[i].public_ip, self_eip))
			return "a public IP";
	return NULL;
}

/* ---- health, kept ------------------------------------------------------------------------- */

static void health_save(struct agent_slb *s, const struct slb_lb *lb)
{
	struct json_object *doc = json_object_new_object(), *ab = json_object_new_array();

	for (size_t l = 0; l < lb->n_listeners; l++)
		for (size_t b = 0; b < lb->n_backends; b++)
			if (checking(lb, l) && target(lb, l, b)->abnormal) {
				char key[200];

				target_key(lb, l, b, key, sizeof(key));
				json_object_array_add(ab, json_object_new_string(key));
			}
	json_object_object_add(doc, "abnormal", ab);
	if (agent_store_put(s->a->store, "lbhealth", lb->id, doc) < 0)
		log_warn("slb: cannot keep health", "lb=%s", lb->id);
	json_object_put(doc);
}

static void health_load(struct agent_slb *s, struct slb_lb *lb)
{
	struct json_object *doc = NULL, *ab;

	if (agent_store_get(s->a->store, "lbhealth", lb->id, &doc) < 0)
		return;
	ab = ecs_json_get(doc, "abnormal");
	for (size_t l = 0; l < lb->n_listeners; l++) {
		for (size_t b = 0; b < lb->n_backends; b++) {
			char key[200];

			target_key(lb, l, b, key, sizeof(key));
			for (size_t i = 0; checking(lb, l) && ab && i < json_object_array_length(ab); i++)
				if (streq(json_object_get_string(json_object_array_get_idx(ab, i)), key))
					target(lb, l, b)->abnormal = true;
		}
	}
	json_object_put(doc);
}

/* A replaced LB keeps what its checks knew of each listener and backend that stays. */
static void health_carry(const struct slb_lb *old, struct slb_lb *lb)
{
	int64_t now = ecs_now_mono_ms();

	for (size_t l = 0; l < lb->n_listeners; l++) {
		for (size_t b = 0; b < lb->n_backends; b++) {
			struct slb_target *t = target(lb, l, b);

			t->due_ms = now;
			for (size_t ol = 0; old && ol < old->n_listeners; ol++) {
				if (old->listeners[ol].proto != lb->listeners[l].proto ||
				    old->listeners[ol].port != lb->listeners[l].port || !checking(old, ol) || !checking(lb, l))
					continue;
				for (size_t ob = 0; ob < old->n_backends; ob++)
					if (streq(old->backends[ob].server_id, lb->backends[b].server_id) &&
					    streq(old->backends[ob].ip, lb->backends[b].ip))
						*t = *target(old, ol, ob);
			}
		}
	}
}

static const char *status_of(const struct slb_lb *lb, size_t l, size_t b)
{
	if (!checking(lb, l))
		return "unavailable";
	return target(lb, l, b)->abnormal ? "abnormal" : "normal";
}

static struct json_object *lb_describe(const struct slb_lb *lb)
{
	struct json_object *o = lb_to_json(lb), *health = json_object_new_array();

	for (size_t l = 0; l < lb->n_listeners; l++) {
		for (size_t b = 0; b < lb->n_backends; b++) {
			struct json_object *h = json_object_new_object();

			ecs_jb_str(h, "protocol", proto_name(lb->listeners[l].proto));
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

/* ---- the in-memory lists ------------------------------------------------------------------ */

static ssize_t lb_index(const struct agent_slb *s, const char *id)
{
	for (size_t i = 0; i < s->n_lbs; i++)
		if (streq(s->lbs[i]->id, id))
			return (ssize_t)i;
	return -1;
}

static ssize_t eip_index(const struct agent_slb *s, const char *ip)
{
	for (size_t i = 0; i < s->n_eips; i++)
		if (streq(s->eips[i].public_ip, ip))
			return (ssize_t)i;
	return -1;
}

/* Put lb in place of the LB with its id (freed), or add it. Takes lb. */
static int lb_insert(struct agent_slb *s, struct slb_lb *lb)
{
	ssize_t i = lb_index(s, lb->id);
	struct slb_lb **n;

	if (i >= 0) {
		lb_free(s->lbs[i]);
		s->lbs[i] = lb;
		return 0;
	}
	n = realloc(s->lbs, (s->n_lbs + 1) * sizeof(*n));
	if (!n) {
		lb_free(lb);
		return -ENOMEM;
	}
	s->lbs = n;
	s->lbs[s->n_lbs++] = lb;
	return 0;
}

static void lb_remove(struct agent_slb *s, size_t i)
{
	lb_free(s->lbs[i]);
	memmove(&s->lbs[i], &s->lbs[i + 1], (s->n_lbs - i - 1) * sizeof(*s->lbs));
	s->n_lbs--;
}

static int eip_insert(struct agent_slb *s, const struct slb_eip *e)
{
	ssize_t i = eip_index(s, e->public_ip);
	struct slb_eip *n;

	if (i >= 0) {
		s->eips[i] = *e;
		return 0;
	}
	n = realloc(s->eips, (s->n_eips + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	s->eips = n;
	s->eips[s->n_eips++] = *e;
	return 0;
}

static void eip_remove(struct agent_slb *s, size_t i)
{
	memmove(&s->eips[i], &s->eips[i + 1], (s->n_eips - i - 1) * sizeof(*s->eips));
	s->n_eips--;
}

static void wake_checker(struct agent_slb *s)
{
	uint64_t one = 1;

	if (s->wakefd >= 0 && write(s->wakefd, &one, sizeof(one)) < 0)
		log_debug("slb: cannot wake the health checker", "error=\"%s\"", strerror(errno));
}

/* ---- the API ------------------------------------------------------------------------------- */

/* The whole model with lb or e in it must be one libecsnf takes (chain names, limits). */
static int check_model(struct agent_slb *s, const struct slb_lb *lb, const struct slb_eip *e, struct agent_err *err)
{
	_cleanup_free_ char *msg = NULL;
	struct model m;
	int r = model_build(s, lb, e, &m);

	if (r < 0)
		return agent_fail(err, r, 500, "InternalError", "out of memory");
	r = nf_slb_validate(&m.host, &msg);
	model_clear(&m);
	if (r < 0)
		return agent_fail(err, -EEXIST, 409, "InvalidParameter.Conflict", "%s", strempty(msg));
	return 0;
}

static int lb_put(struct agent_slb *s, const char *id, struct json_object *body, struct json_object **ret,
		  struct agent_err *err)
{
	_cleanup_(lb_freep) struct slb_lb *lb = NULL;
	struct json_object *doc = NULL;
	char old_address[SLB_IP_MAX] = "";
	const char *user;
	ssize_t i;
	size_t live = 0;
	int r;

	r = lb_from_json(id, body, false, &lb, err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&s->lock);
	i = lb_index(s, id);
	for (size_t k = 0; k < s->n_lbs; k++)
		live += !s->lbs[k]->deleting;
	if (i < 0 && live >= NF_SLB_LBS_MAX) {
		r = agent_fail(err, -ENOSPC, 403, "QuotaExceeded", "this host holds %d load balancers already",
			       NF_SLB_LBS_MAX);
		goto out;
	}
	if (address_reserved(s, lb->address)) {
		r = agent_fail(err, -EEXIST, 409, "InvalidAddress.Conflict", "%s is the host's own address", lb->address);
		goto out;
	}
	user = address_user(s, lb->address, id, NULL);
	if (user) {
		r = agent_fail(err, -EEXIST, 409, "InvalidAddress.Conflict", "%s is used by %s", lb->address, user);
		goto out;
	}
	r = check_model(s, lb, NULL, err);
	if (r < 0)
		goto out;
	if (i >= 0 && !s->lbs[i]->deleting)
		snprintf(old_address, sizeof(old_address), "%s", s->lbs[i]->address);
	health_carry(i >= 0 ? s->lbs[i] : NULL, lb);

	/* Intent first: the document is durable before the kernel changes. */
	doc = lb_to_json(lb);
	r = agent_store_put(s->a->store, "lb", id, doc);
	json_object_put(doc);
	if (r < 0) {
		r = agent_fail(err, r, 500, "InternalError", "cannot record load balancer %s", id);
		goto out;
	}
	r = lb_insert(s, lb);
	lb = NULL;
	if (r < 0) {
		r = agent_fail(err, r, 500, "InternalError", "out of memory");
		goto out;
	}
	i = lb_index(s, id);
	health_save(s, s->lbs[i]);
	ensure_forwarding(s);
	r = addr_change(s, s->lbs[i]->address, true);
	if (r == 0)
		r = apply_all(s, NULL);
	if (r == 0 && *old_address && !streq(old_address, s->lbs[i]->address))
		r = addr_change(s, old_address, false);
	if (r == 0)
		announce(s, s->lbs[i]->address);
	if (r < 0) {
		r = agent_fail(err, r, 500, "InternalError",
			       "load balancer %s is recorded but not applied yet (the agent retries)", id);
		goto out;
	}
	log_info("slb: load balancer applied", "lb=%s address=%s status=%s listeners=%zu backends=%zu", id,
		 s->lbs[i]->address, s->lbs[i]->active ? "active" : "inactive", s->lbs[i]->n_listeners,
		 s->lbs[i]->n_backends);
	*ret = lb_describe(s->lbs[i]);
out:
	pthread_mutex_unlock(&s->lock);
	wake_checker(s);
	return r;
}

/* The end of a delete, once marked: the rules without it (the model leaves out what is
 * marked), its address unless another holds it, its documents. With the lock. */
static int finish_delete(struct agent_slb *s, const char *address, const char *kind, const char *id)
{
	int r = apply_all(s, NULL);

	if (r == 0 && !address_user(s, address, NULL, NULL))
		r = addr_change(s, address, false);
	if (r == 0 && streq(kind, "lb"))
		r = agent_store_delete(s->a->store, "lbhealth", id);
	if (r == 0)
		r = agent_store_delete(s->a->store, kind, id);
	if (r == 0)
		log_info("slb: deleted", "kind=%s id=%s", kind, id);
	return r;
}

static int lb_finish_delete(struct agent_slb *s, size_t i)
{
	int r = finish_delete(s, s->lbs[i]->address, "lb", s->lbs[i]->id);

	if (r == 0)
		lb_remove(s, i);
	return r;
}

/* The first step of a delete: its document, marked, in the store. With the lock. */
static int mark_deleting(struct agent_slb *s, const char *kind, const char *id, struct json_object *doc,
			 struct agent_err *err)
{
	int r;

	ecs_jb_bool(doc, "deleting", true);
	r = agent_store_put(s->a->store, kind, id, doc);
	json_object_put(doc);
	if (r < 0)
		return agent_fail(err, r, 500, "InternalError", "cannot record the delete of %s", id);
	return 0;
}

static int lb_delete(struct agent_slb *s, const char *id, struct agent_err *err)
{
	ssize_t i;
	int r = 0;

	if (!ecs_id_valid(ECS_ID_LOAD_BALANCER, id))
		return agent_fail(err, -EINVAL, 400, "InvalidLoadBalancerId.Malformed", "%s is not a load balancer id", id);
	pthread_mutex_lock(&s->lock);
	i = lb_index(s, id);
	if (i < 0)
		goto out; /* gone already */
	if (!s->lbs[i]->deleting) {
		r = mark_deleting(s, "lb", id, lb_to_json(s->lbs[i]), err);
		if (r < 0)
			goto out;
		s->lbs[i]->deleting = true;
	}
	r = lb_finish_delete(s, (size_t)i);
	if (r < 0)
		r = agent_fail(err, r, 500, "InternalError", "load balancer %s is being deleted (the agent retries)", id);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

static int eip_put(struct agent_slb *s, const char *ip, struct json_object *body, struct json_object **ret,
		   struct agent_err *err)
{
	struct json_object *doc;
	struct slb_eip e;
	const char *user;
	size_t live = 0;
	ssize_t i;
	int r;

	r = eip_from_json(ip, body, false, &e, err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&s->lock);
	i = eip_index(s, ip);
	for (size_t k = 0; k < s->n_eips; k++)
		live += !s->eips[k].deleting;
	if (i < 0 && live >= NF_SLB_EIPS_MAX) {
		r = agent_fail(err, -ENOSPC, 403, "QuotaExceeded", "this host holds %d public IPs already", NF_SLB_EIPS_MAX);
		goto out;
	}
	if (address_reserved(s, ip)) {
		r = agent_fail(err, -EEXIST, 409, "InvalidAddress.Conflict", "%s is the host's own address", ip);
		goto out;
	}
	user = address_user(s, ip, NULL, ip);
	if (user) {
		r = agent_fail(err, -EEXIST, 409, "InvalidAddress.Conflict", "%s is used by %s", ip, user);
		goto out;
	}
	for (size_t k = 0; k < s->n_eips; k++) {
		if (!s->eips[k].deleting && streq(s->eips[k].private_ip, e.private_ip) && !streq(s->eips[k].public_ip, ip)) {
			r = agent_fail(err, -EEXIST, 409, "InvalidAddress.Conflict", "%s has the public IP %s already",
				       e.private_ip, s->eips[k].public_ip);
			goto out;
		}
	}
	r = check_model(s, NULL, &e, err);
	if (r < 0)
		goto out;
	doc = eip_to_json(&e);
	r = agent_store_put(s->a->store, "eip", ip, doc);
	json_object_put(doc);
	if (r < 0) {
		r = agent_fail(err, r, 500, "InternalError", "cannot record public IP %s", ip);
		goto out;
	}
	r = eip_insert(s, &e);
	if (r == 0) {
		ensure_forwarding(s);
		r = addr_change(s, ip, true);
	}
	if (r == 0)
		r = apply_all(s, NULL);
	if (r == 0)
		announce(s, ip);
	if (r < 0) {
		r = agent_fail(err, r, 500, "InternalError", "public IP %s is recorded but not applied yet (the agent retries)",
			       ip);
		goto out;
	}
	log_info("slb: public IP applied", "public_ip=%s private_ip=%s", ip, e.private_ip);
	*ret = eip_to_json(&e);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

static int eip_finish_delete(struct agent_slb *s, size_t i)
{
	int r = finish_delete(s, s->eips[i].public_ip, "eip", s->eips[i].public_ip);

	if (r == 0)
		eip_remove(s, i);
	return r;
}

static int eip_delete(struct agent_slb *s, const char *ip, struct agent_err *err)
{
	ssize_t i;
	int r = 0;

	if (!ip_unicast(ip))
		return agent_fail(err, -EINVAL, 400, "InvalidIpAddress.Malformed", "%s is not a unicast IPv4 address", ip);
	pthread_mutex_lock(&s->lock);
	i = eip_index(s, ip);
	if (i < 0)
		goto out;
	if (!s->eips[i].deleting) {
		r = mark_deleting(s, "eip", ip, eip_to_json(&s->eips[i]), err);
		if (r < 0)
			goto out;
		s->eips[i].deleting = true;
	}
	r = eip_finish_delete(s, (size_t)i);
	if (r < 0)
		r = agent_fail(err, r, 500, "InternalError", "public IP %s is being deleted (the agent retries)", ip);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

static int lb_id_cmp(const void *x, const void *y)
{
	return strcmp((*(struct slb_lb *const *)x)->id, (*(struct slb_lb *const *)y)->id);
}

static int eip_cmp(const void *x, const void *y)
{
	return strcmp(((const struct slb_eip *)x)->public_ip, ((const struct slb_eip *)y)->public_ip);
}

int agent_slb_call(struct agent *a, const char *method, const char *resource, const char *id,
		   struct json_object *body, struct json_object **ret, struct agent_err *err)
{
	struct agent_slb *s = a->slb;
	bool lbs = streq(resource, "load-balancers");
	ssize_t i;
	int r = 0;

	if (!s)
		return agent_fail(err, -ENODEV, 503, "ServiceUnavailable", "load balancing is not running");
	if (!lbs && !streq(resource, "public-ips"))
		return agent_fail(err, -ENOENT, 404, "NotFound", "no such resource");
	if (!id) {
		struct json_object *list, *o;

		if (!streq(method, "GET"))
			return agent_fail(err, -EINVAL, 405, "MethodNotAllowed", "GET only");
		o = json_object_new_object();
		list = json_object_new_array();
		pthread_mutex_lock(&s->lock);
		if (lbs) {
			qsort(s->lbs, s->n_lbs, sizeof(*s->lbs), lb_id_cmp);
			for (size_t k = 0; k < s->n_lbs; k++)
				if (!s->lbs[k]->deleting)
					json_object_array_add(list, lb_describe(s->lbs[k]));
		} else {
			qsort(s->eips, s->n_eips, sizeof(*s->eips), eip_cmp);
			for (size_t k = 0; k < s->n_eips; k++)
				if (!s->eips[k].deleting)
					json_object_array_add(list, eip_to_json(&s->eips[k]));
		}
		pthread_mutex_unlock(&s->lock);
		json_object_object_add(o, lbs ? "load_balancers" : "public_ips", list);
		*ret = o;
		return 0;
	}
	if (streq(method, "PUT"))
		return lbs ? lb_put(s, id, body, ret, err) : eip_put(s, id, body, ret, err);
	if (streq(method, "DELETE")) {
		r = lbs ? lb_delete(s, id, err) : eip_delete(s, id, err);
		if (r == 0)
			*ret = json_object_new_object();
		return r;
	}
	if (!streq(method, "GET"))
		return agent_fail(err, -EINVAL, 405, "MethodNotAllowed", "GET, PUT or DELETE");
	if (lbs && !ecs_id_valid(ECS_ID_LOAD_BALANCER, id))
		return agent_fail(err, -EINVAL, 400, "InvalidLoadBalancerId.Malformed", "%s is not a load balancer id", id);
	pthread_mutex_lock(&s->lock);
	if (lbs) {
		i = lb_index(s, id);
		if (i >= 0 && !s->lbs[i]->deleting)
			*ret = lb_describe(s->lbs[i]);
		else
			r = agent_fail(err, -ENOENT, 404, "InvalidLoadBalancerId.NotFound",
				       "load balancer %s is not on this host", id);
	} else {
		i = eip_index(s, id);
		if (i >= 0 && !s->eips[i].deleting)
			*ret = eip_to_json(&s->eips[i]);
		else
			r = agent_fail(err, -ENOENT, 404, "InvalidIpAddress.NotFound", "public IP %s is not on this host", id);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* ---- converging ---------------------------------------------------------------------------- */

static int converge_locked(struct agent_slb *s)
{
	int problems = 0;
	bool changed = false;

	for (size_t i = s->n_lbs; i-- > 0;)
		if (s->lbs[i]->deleting && lb_finish_delete(s, i) < 0)
			problems++;
	for (size_t i = s->n_eips; i-- > 0;)
		if (s->eips[i].deleting && eip_finish_delete(s, i) < 0)
			problems++;
	if (s->n_lbs + s->n_eips > 0)
		ensure_forwarding(s);
	for (size_t i = 0; i < s->n_lbs; i++)
		if (!s->lbs[i]->deleting && addr_change(s, s->lbs[i]->address, true) < 0)
			problems++;
	for (size_t i = 0; i < s->n_eips; i++)
		if (!s->eips[i].deleting && addr_change(s, s->eips[i].public_ip, true) < 0)
			problems++;
	if (apply_all(s, &changed) < 0)
		problems++;
	else if (changed)
		log_info("slb: rules converged (the kernel differed from the documents)", NULL);
	return problems;
}

int agent_slb_converge(struct agent *a)
{
	struct agent_slb *s = a->slb;
	int problems;

	if (!s)
		return 0;
	pthread_mutex_lock(&s->lock);
	problems = converge_locked(s);
	pthread_mutex_unlock(&s->lock);
	return problems;
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
		flags[b] = target(lb, l, b)->abnormal;
	}
	for (size_t b = 0; b < lb->n_backends; b++)
		out[b] = nf_slb_backend_serves(&nlb, &nl, b);
}

static void probe_record(struct agent_slb *s, const struct probe *p, int64_t now)
{
	ssize_t i = lb_index(s, p->lb_id);
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
	if (l == lb->n_listeners || b == lb->n_backends || !checking(lb, l))
		return;
	t = target(lb, l, b);
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
		 proto_name(p->proto), p->port, p->server_id, p->ip, t->abnormal ? "abnormal" : "normal");
	health_save(s, lb);
	if (apply_lb(s, lb->id) < 0)
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
			if (!checking(lb, l))
				continue;
			for (size_t b = 0; b < lb->n_backends; b++) {
				struct slb_target *t = target(lb, l, b);

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

static void *checker(void *arg)
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

void agent_slb_held(struct agent *a, struct json_object *facts)
{
	struct agent_slb *s = a->slb;
	struct json_object *lbs, *eips;

	if (!s)
		return;
	lbs = json_object_new_array();
	eips = json_object_new_array();
	pthread_mutex_lock(&s->lock);
	for (size_t k = 0; k < s->n_lbs; k++)
		if (!s->lbs[k]->deleting)
			json_object_array_add(lbs, json_object_new_string(s->lbs[k]->id));
	for (size_t k = 0; k < s->n_eips; k++)
		if (!s->eips[k].deleting)
			json_object_array_add(eips, json_object_new_string(s->eips[k].public_ip));
	pthread_mutex_unlock(&s->lock);
	json_object_object_add(facts, "load_balancers", lbs);
	json_object_object_add(facts, "public_ips", eips);
}

/* ---- start and stop ------------------------------------------------------------------------ */

static void load_docs(struct agent_slb *s)
{
	struct json_object *all = NULL;

	if (agent_store_list(s->a->store, "lb", &all) == 0) {
		json_object_object_foreach(all, id, doc)
		{
			struct agent_err err = { 0 };
			struct slb_lb *lb = NULL;

			if (lb_from_json(id, doc, true, &lb, &err) < 0) {
				log_error("slb: unreadable load balancer document, left alone", "lb=%s error=\"%s\"", id,
					  err.message);
				continue;
			}
			health_carry(NULL, lb);
			health_load(s, lb);
			lb_insert(s, lb);
		}
		json_object_put(all);
	}
	all = NULL;
	if (agent_store_list(s->a->store, "eip", &all) == 0) {
		json_object_object_foreach(all, ip, doc)
		{
			struct agent_err err = { 0 };
			struct slb_eip e;

			if (eip_from_json(ip, doc, true, &e, &err) < 0) {
				log_error("slb: unreadable public IP document, left alone", "public_ip=%s error=\"%s\"", ip,
					  err.message);
				continue;
			}
			eip_insert(s, &e);
		}
		json_object_put(all);
	}
}

int agent_slb_init(struct agent *a)
{
	struct agent_slb *s = calloc(1, sizeof(*s));
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	char *save = NULL;
	int problems;

	if (!s)
		return -ENOMEM;
	s->a = a;
	s->epfd = s->wakefd = -1;
	pthread_mutex_init(&s->lock, NULL);
	s->cidrs_text = strdup(a->cfg.gateway_cidrs);
	if (!s->cidrs_text)
		goto fail;
	for (char *t = strtok_r(s->cidrs_text, ",", &save); t && s->n_cidrs < NF_SLB_LOCAL_CIDRS_MAX;
	     t = strtok_r(NULL, ",", &save))
		s->cidrs[s->n_cidrs++] = t;
	if (s->n_cidrs == 0 || strcspn(s->cidrs[0], "/") >= sizeof(s->snat_ip)) {
		log_error("slb: no gateway address to source full-NAT traffic from", "gateway_cidrs=%s", a->cfg.gateway_cidrs);
		goto fail;
	}
	memcpy(s->snat_ip, s->cidrs[0], strcspn(s->cidrs[0], "/"));
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->epfd < 0 || s->wakefd < 0 || epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->wakefd, &ev) < 0)
		goto fail;
	a->slb = s;
	load_docs(s);
	problems = agent_slb_converge(a);
	if (problems)
		log_warn("slb: not converged at start (the reconciler retries)", "problems=%d", problems);
	log_info("slb: ready", "load_balancers=%zu public_ips=%zu snat_ip=%s", s->n_lbs, s->n_eips, s->snat_ip);
	if (pthread_create(&s->thread, NULL, checker, s) != 0) {
		a->slb = NULL;
		goto fail;
	}
	s->started = true;
	return 0;
fail:
	log_error("slb: cannot start", NULL);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->wakefd >= 0)
		close(s->wakefd);
	for (size_t i = 0; i < s->n_lbs; i++)
		lb_free(s->lbs[i]);
	free(s->lbs);
	free(s->eips);
	free(s->cidrs_text);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return -ENOMEM;
}

void agent_slb_free(struct agent *a)
{
	struct agent_slb *s = a->slb;

	if (!s)
		return;
	if (s->started) {
		s->stop = true;
		wake_checker(s);
		pthread_join(s->thread, NULL);
	}
	a->slb = NULL;
	while (s->probes) {
		struct probe *p = s->probes;

		s->probes = p->next;
		probe_free(s, p);
	}
	close(s->epfd);
	close(s->wakefd);
	for (size_t i = 0; i < s->n_lbs; i++)
		lb_free(s->lbs[i]);
	free(s->lbs);
	free(s->eips);
	free(s->cidrs_text);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
