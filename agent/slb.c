/* slb.c: load balancers and public IPs on this host: the in-memory lists, the API, the
 * addresses on the bridge, converging, start and stop. The documents are slb_doc.c, the
 * rules slb_rules.c, health slb_health.c. See slb.h for the contract and docs/slb.md for
 * the design. */
#include "slb.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "garp.h"
#include "json.h"
#include "log.h"
#include "net.h"
#include "slb-internal.h"
#include "store.h"
#include "sysctl.h"
#include "util.h"

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
	bool changed = false;
	int r;

	if (s->forwarding)
		return;
	r = ecs_sysctl_ensure("net/ipv4/ip_forward", "1", &changed);
	if (r < 0) {
		log_error("slb: cannot enable IP forwarding: load balancers and public IPs will not forward",
			  "key=net.ipv4.ip_forward error=\"%s\"", strerror(-r));
		return;
	}
	if (changed)
		log_info("slb: IP forwarding enabled (net.ipv4.ip_forward=1) for load balancers and public IPs", NULL);
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

/* 409 when ip is the host's own address or another LB's or public IP's (not self_lb's or
 * self_eip's). */
static int address_free(const struct agent_slb *s, const char *ip, const char *self_lb, const char *self_eip,
			struct agent_err *err)
{
	const char *user;

	if (address_reserved(s, ip))
		return agent_fail(err, -EEXIST, 409, "InvalidAddress.Conflict", "%s is the host's own address", ip);
	user = address_user(s, ip, self_lb, self_eip);
	if (user)
		return agent_fail(err, -EEXIST, 409, "InvalidAddress.Conflict", "%s is used by %s", ip, user);
	return 0;
}

/* ---- the in-memory lists ------------------------------------------------------------------ */

ssize_t slb_lb_index(const struct agent_slb *s, const char *id)
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
	ssize_t i = slb_lb_index(s, lb->id);
	struct slb_lb **n;

	if (i >= 0) {
		slb_lb_free(s->lbs[i]);
		s->lbs[i] = lb;
		return 0;
	}
	n = realloc(s->lbs, (s->n_lbs + 1) * sizeof(*n));
	if (!n) {
		slb_lb_free(lb);
		return -ENOMEM;
	}
	s->lbs = n;
	s->lbs[s->n_lbs++] = lb;
	return 0;
}

static void lb_remove(struct agent_slb *s, size_t i)
{
	slb_lb_free(s->lbs[i]);
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

/* The intent first: doc (put here) is durable in the store as kind/id before the kernel
 * changes; what names it in the error ("cannot record <what> <id>"). With the lock. */
static int record_doc(struct agent_slb *s, const char *kind, const char *id, struct json_object *doc, const char *what,
		      struct agent_err *err)
{
	int r = agent_store_put(s->a->store, kind, id, doc);

	json_object_put(doc);
	if (r < 0)
		return agent_fail(err, r, 500, "InternalError", "cannot record %s %s", what, id);
	return 0;
}

/* The first step of a delete: its document, marked, in the store. With the lock. */
static int mark_deleting(struct agent_slb *s, const char *kind, const char *id, struct json_object *doc,
			 struct agent_err *err)
{
	ecs_jb_bool(doc, "deleting", true);
	return record_doc(s, kind, id, doc, "the delete of", err);
}

/* A new one (exists false) past max live ones (live) this host holds: QuotaExceeded. */
static int host_full(bool exists, size_t live, size_t max, const char *what, struct agent_err *err)
{
	if (exists || live < max)
		return 0;
	return agent_fail(err, -ENOSPC, 403, "QuotaExceeded", "this host holds %zu %s already", max, what);
}

/* ---- the API ------------------------------------------------------------------------------- */

static int lb_put(struct agent_slb *s, const char *id, struct json_object *body, struct json_object **ret,
		  struct agent_err *err)
{
	_cleanup_(slb_lb_freep) struct slb_lb *lb = NULL;
	char old_address[SLB_IP_MAX] = "";
	ssize_t i;
	size_t live = 0;
	int r;

	r = slb_lb_from_json(id, body, false, &lb, err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&s->lock);
	i = slb_lb_index(s, id);
	for (size_t k = 0; k < s->n_lbs; k++)
		live += !s->lbs[k]->deleting;
	r = host_full(i >= 0, live, NF_SLB_LBS_MAX, "load balancers", err);
	if (r == 0)
		r = address_free(s, lb->address, id, NULL, err);
	if (r < 0)
		goto out;
	r = slb_check_model(s, lb, NULL, err);
	if (r < 0)
		goto out;
	if (i >= 0 && !s->lbs[i]->deleting)
		snprintf(old_address, sizeof(old_address), "%s", s->lbs[i]->address);
	slb_health_carry(i >= 0 ? s->lbs[i] : NULL, lb);

	r = record_doc(s, "lb", id, slb_lb_to_json(lb), "load balancer", err);
	if (r < 0)
		goto out;
	r = lb_insert(s, lb);
	lb = NULL;
	if (r < 0) {
		r = agent_fail(err, r, 500, "InternalError", "out of memory");
		goto out;
	}
	i = slb_lb_index(s, id);
	slb_health_save(s, s->lbs[i]);
	ensure_forwarding(s);
	r = addr_change(s, s->lbs[i]->address, true);
	if (r == 0)
		r = slb_apply_all(s, NULL);
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
	*ret = slb_lb_describe(s->lbs[i]);
out:
	pthread_mutex_unlock(&s->lock);
	wake_checker(s);
	return r;
}

/* The end of a delete, once marked: the rules without it (the model leaves out what is
 * marked), its address unless another holds it, its documents. With the lock. */
static int finish_delete(struct agent_slb *s, const char *address, const char *kind, const char *id)
{
	int r = slb_apply_all(s, NULL);

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

static int lb_delete(struct agent_slb *s, const char *id, struct agent_err *err)
{
	ssize_t i;
	int r = 0;

	if (!ecs_id_valid(ECS_ID_LOAD_BALANCER, id))
		return agent_fail(err, -EINVAL, 400, "InvalidLoadBalancerId.Malformed", "%s is not a load balancer id", id);
	pthread_mutex_lock(&s->lock);
	i = slb_lb_index(s, id);
	if (i < 0)
		goto out; /* gone already */
	if (!s->lbs[i]->deleting) {
		r = mark_deleting(s, "lb", id, slb_lb_to_json(s->lbs[i]), err);
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
	struct slb_eip e;
	size_t live = 0;
	ssize_t i;
	int r;

	r = slb_eip_from_json(ip, body, false, &e, err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&s->lock);
	i = eip_index(s, ip);
	for (size_t k = 0; k < s->n_eips; k++)
		live += !s->eips[k].deleting;
	r = host_full(i >= 0, live, NF_SLB_EIPS_MAX, "public IPs", err);
	if (r == 0)
		r = address_free(s, ip, NULL, ip, err);
	if (r < 0)
		goto out;
	for (size_t k = 0; k < s->n_eips; k++) {
		if (!s->eips[k].deleting && streq(s->eips[k].private_ip, e.private_ip) && !streq(s->eips[k].public_ip, ip)) {
			r = agent_fail(err, -EEXIST, 409, "InvalidAddress.Conflict", "%s has the public IP %s already",
				       e.private_ip, s->eips[k].public_ip);
			goto out;
		}
	}
	r = slb_check_model(s, NULL, &e, err);
	if (r < 0)
		goto out;
	r = record_doc(s, "eip", ip, slb_eip_to_json(&e), "public IP", err);
	if (r < 0)
		goto out;
	r = eip_insert(s, &e);
	if (r == 0) {
		ensure_forwarding(s);
		r = addr_change(s, ip, true);
	}
	if (r == 0)
		r = slb_apply_all(s, NULL);
	if (r == 0)
		announce(s, ip);
	if (r < 0) {
		r = agent_fail(err, r, 500, "InternalError", "public IP %s is recorded but not applied yet (the agent retries)",
			       ip);
		goto out;
	}
	log_info("slb: public IP applied", "public_ip=%s private_ip=%s", ip, e.private_ip);
	*ret = slb_eip_to_json(&e);
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

	if (!slb_ip_unicast(ip))
		return agent_fail(err, -EINVAL, 400, "InvalidIpAddress.Malformed", "%s is not a unicast IPv4 address", ip);
	pthread_mutex_lock(&s->lock);
	i = eip_index(s, ip);
	if (i < 0)
		goto out;
	if (!s->eips[i].deleting) {
		r = mark_deleting(s, "eip", ip, slb_eip_to_json(&s->eips[i]), err);
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
					json_object_array_add(list, slb_lb_describe(s->lbs[k]));
		} else {
			qsort(s->eips, s->n_eips, sizeof(*s->eips), eip_cmp);
			for (size_t k = 0; k < s->n_eips; k++)
				if (!s->eips[k].deleting)
					json_object_array_add(list, slb_eip_to_json(&s->eips[k]));
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
		i = slb_lb_index(s, id);
		if (i >= 0 && !s->lbs[i]->deleting)
			*ret = slb_lb_describe(s->lbs[i]);
		else
			r = agent_fail(err, -ENOENT, 404, "InvalidLoadBalancerId.NotFound",
				       "load balancer %s is not on this host", id);
	} else {
		i = eip_index(s, id);
		if (i >= 0 && !s->eips[i].deleting)
			*ret = slb_eip_to_json(&s->eips[i]);
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
	if (slb_apply_all(s, &changed) < 0)
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

			if (slb_lb_from_json(id, doc, true, &lb, &err) < 0) {
				log_error("slb: unreadable load balancer document, left alone", "lb=%s error=\"%s\"", id,
					  err.message);
				continue;
			}
			slb_health_carry(NULL, lb);
			slb_health_load(s, lb);
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

			if (slb_eip_from_json(ip, doc, true, &e, &err) < 0) {
				log_error("slb: unreadable public IP document, left alone", "public_ip=%s error=\"%s\"", ip,
					  err.message);
				continue;
			}
			eip_insert(s, &e);
		}
		json_object_put(all);
	}
}

/* Everything the SLB state holds, and the state (after a failed start, or once the checker
 * stopped). */
static void slb_state_free(struct agent_slb *s)
{
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->wakefd >= 0)
		close(s->wakefd);
	for (size_t i = 0; i < s->n_lbs; i++)
		slb_lb_free(s->lbs[i]);
	free(s->lbs);
	free(s->eips);
	free(s->cidrs_text);
	pthread_mutex_destroy(&s->lock);
	free(s);
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
	if (pthread_create(&s->thread, NULL, slb_checker, s) != 0) {
		a->slb = NULL;
		goto fail;
	}
	s->started = true;
	return 0;
fail:
	log_error("slb: cannot start", NULL);
	slb_state_free(s);
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
	slb_probes_free(s);
	slb_state_free(s);
}
