/* slb_doc.c: the documents of load balancers and public IPs (docs/agent-api.md, "Load
 * balancers and public IPs"): a PUT body checked strictly, every default filled in, and a
 * kept document read back the same way. See slb-internal.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "json.h"
#include "slb-internal.h"
#include "util.h"

static const char *const hc_type_names[_HC_TYPE_MAX] = { "tcp", "http", "udp" };
/* http_codes, as bits 0-3 for the classes 2xx-5xx. */
static const char *const code_names[] = { "http_2xx", "http_3xx", "http_4xx", "http_5xx" };

/* A dotted quad in its one canonical spelling, unicast (not 0/8, loopback, multicast, broadcast). */
bool slb_ip_unicast(const char *s)
{
	uint32_t v;

	return ecs_ipv4_parse(s, &v) == 0 && ecs_ipv4_assignable(v);
}

static bool server_id_valid(const char *s)
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	size_t n = s ? strlen(s) : 0;

	return n > 0 && n <= NF_SLB_ID_MAX && strchr(alnum, s[0]) &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}
void slb_lb_free(struct slb_lb *lb)
{
	if (!lb)
		return;
	free(lb->listeners);
	free(lb->backends);
	free(lb->targets);
	free(lb);
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
	if (!slb_ip_unicast(ip))
		return bad(err, where, "%s", "ip must be a unicast IPv4 address (a.b.c.d)");
	snprintf(b->server_id, sizeof(b->server_id), "%s", sid);
	snprintf(b->ip, sizeof(b->ip), "%s", ip);
	return 0;
}

/* A PUT body (or, with stored, a kept document) into a load balancer with no health yet. */
int slb_lb_from_json(const char *id, struct json_object *body, bool stored, struct slb_lb **ret,
			struct agent_err *err)
{
	_cleanup_(slb_lb_freep) struct slb_lb *lb = NULL;
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
	if (!slb_ip_unicast(address))
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
					   slb_proto_name(lb->listeners[i].proto), lb->listeners[i].port);
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
struct json_object *slb_lb_to_json(const struct slb_lb *lb)
{
	struct json_object *o = json_object_new_object(), *ls = json_object_new_array(), *bs = json_object_new_array();

	ecs_jb_str(o, "load_balancer_id", lb->id);
	ecs_jb_str(o, "address", lb->address);
	ecs_jb_str(o, "status", lb->active ? "active" : "inactive");
	for (size_t i = 0; i < lb->n_listeners; i++) {
		const struct slb_listener *l = &lb->listeners[i];
		struct json_object *lo = json_object_new_object(), *hc, *codes = json_object_new_array();

		ecs_jb_str(lo, "protocol", slb_proto_name(l->proto));
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
	_cleanup_(slb_lb_freep) struct slb_lb *lb = NULL;
	int r = slb_lb_from_json(id, body, false, &lb, err);

	if (r < 0)
		return r;
	*ret_doc = slb_lb_to_json(lb);
	return 0;
}

int slb_eip_from_json(const char *public_ip, struct json_object *body, bool stored, struct slb_eip *ret,
			 struct agent_err *err)
{
	struct ecs_jreader jr;
	const char *given, *priv;
	int r;

	if (!slb_ip_unicast(public_ip))
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
	if (!slb_ip_unicast(priv))
		return bad(err, "", "%s", "private_ip must be a unicast IPv4 address (a.b.c.d)");
	if (streq(priv, public_ip))
		return bad(err, "", "%s", "private_ip must differ from the public IP");
	snprintf(ret->public_ip, sizeof(ret->public_ip), "%s", public_ip);
	snprintf(ret->private_ip, sizeof(ret->private_ip), "%s", priv);
	return 0;
}

struct json_object *slb_eip_to_json(const struct slb_eip *e)
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
	int r = slb_eip_from_json(public_ip, body, false, &e, err);

	if (r < 0)
		return r;
	*ret_doc = slb_eip_to_json(&e);
	return 0;
}
