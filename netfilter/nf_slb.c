/* nf_slb.c: load balancers and public IPs as iptables nat chains (see nf_slb.h and
 * docs/slb.md): the model's checks and its rendering. Pure: no command runs here. The
 * kernel's state is read back in nf_slb_state.c and applied in nf_slb_apply.c. */
#include "nf_slb.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "crypto.h"
#include "log.h"
#include "nf_slb_internal.h"
#include "util.h"

/* ---- small checks ---------------------------------------------------------------- */

static bool id_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > NF_SLB_ID_MAX || !strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", s[0]))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

static bool ifname_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n > 0 && n <= 15 && s[0] != '-' && !streq(s, ".") && !streq(s, "..") &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

static const char *proto_name(enum nf_slb_proto p)
{
	return p == NF_SLB_UDP ? "udp" : "tcp";
}

int nf_slb_chain_name(const char *prefix, const char *lb_id, enum nf_slb_proto proto, int port, char *out)
{
	uint8_t sum[ECS_SHA256_LEN];
	char hex[2 * ECS_SHA256_LEN + 1];
	int n;

	if (!nf_prefix_valid(prefix) || !id_valid(lb_id) || port < 1 || port > 65535)
		return -EINVAL;
	if (ecs_sha256(lb_id, strlen(lb_id), sum) < 0)
		return -ENOMEM;
	ecs_hex_encode(sum, 4, hex);
	n = snprintf(out, NF_SLB_CHAIN_MAX + 1, "%s-L-%.8s-%d%s", prefix, hex, port, proto == NF_SLB_UDP ? "u" : "");
	return n > NF_SLB_CHAIN_MAX ? -ENAMETOOLONG : 0;
}

bool nf_slb_backend_serves(const struct nf_slb_lb *lb, const struct nf_slb_listener *l, size_t i)
{
	bool any_normal = false;

	if (i >= lb->n_backends || lb->backends[i].weight <= 0)
		return false;
	if (!l->abnormal || !l->abnormal[i])
		return true;
	/* Abnormal: left out, unless every weighted backend is abnormal. */
	for (size_t j = 0; j < lb->n_backends && !any_normal; j++)
		any_normal = lb->backends[j].weight > 0 && !l->abnormal[j];
	return !any_normal;
}

/* ---- validation ------------------------------------------------------------------ */

static int fail(char **ret_error, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char **ret_error, const char *fmt, ...)
{
	va_list ap;

	if (ret_error) {
		va_start(ap, fmt);
		if (vasprintf(ret_error, fmt, ap) < 0)
			*ret_error = NULL;
		va_end(ap);
	}
	return -EINVAL;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static int validate_lb(const struct nf_slb_lb *lb, char **ret_error)
{
	uint32_t v;

	if (!id_valid(lb->id))
		return fail(ret_error, "load balancer id \"%s\" is not 1-%d of [A-Za-z0-9_-]", strempty(lb->id),
			    NF_SLB_ID_MAX);
	if (ecs_ipv4_parse(lb->address, &v) < 0 || !ecs_ipv4_assignable(v))
		return fail(ret_error, "load balancer %s: address \"%s\" is not a unicast IPv4 address", lb->id,
			    strempty(lb->address));
	if (lb->n_listeners > NF_SLB_LISTENERS_MAX)
		return fail(ret_error, "load balancer %s: more than %d listeners", lb->id, NF_SLB_LISTENERS_MAX);
	if (lb->n_backends > NF_SLB_BACKENDS_MAX)
		return fail(ret_error, "load balancer %s: more than %d backends", lb->id, NF_SLB_BACKENDS_MAX);
	if ((lb->n_listeners && !lb->listeners) || (lb->n_backends && !lb->backends))
		return fail(ret_error, "load balancer %s: no listener or backend array", lb->id);
	for (size_t i = 0; i < lb->n_listeners; i++) {
		const struct nf_slb_listener *l = &lb->listeners[i];

		if (l->proto != NF_SLB_TCP && l->proto != NF_SLB_UDP)
			return fail(ret_error, "load balancer %s: listener %zu: protocol is not tcp or udp", lb->id, i);
		if (l->port < 1 || l->port > 65535)
			return fail(ret_error, "load balancer %s: listener %zu: port %d is not in 1..65535", lb->id, i,
				    l->port);
		if (l->backend_port < 1 || l->backend_port > 65535)
			return fail(ret_error, "load balancer %s: listener %s/%d: backend_port %d is not in 1..65535",
				    lb->id, proto_name(l->proto), l->port, l->backend_port);
		if (l->scheduler != NF_SLB_WRR && l->scheduler != NF_SLB_RR)
			return fail(ret_error, "load balancer %s: listener %s/%d: scheduler is not wrr or rr", lb->id,
				    proto_name(l->proto), l->port);
		for (size_t j = 0; j < i; j++)
			if (lb->listeners[j].proto == l->proto && lb->listeners[j].port == l->port)
				return fail(ret_error, "load balancer %s: two listeners on %s/%d", lb->id,
					    proto_name(l->proto), l->port);
	}
	for (size_t i = 0; i < lb->n_backends; i++) {
		const struct nf_slb_backend *b = &lb->backends[i];

		if (!id_valid(b->server_id))
			return fail(ret_error, "load balancer %s: backend %zu: server_id \"%s\" is not 1-%d of [A-Za-z0-9_-]",
				    lb->id, i, strempty(b->server_id), NF_SLB_ID_MAX);
		if (ecs_ipv4_parse(b->ip, &v) < 0 || !ecs_ipv4_assignable(v))
			return fail(ret_error, "load balancer %s: backend %s: ip \"%s\" is not a unicast IPv4 address",
				    lb->id, b->server_id, strempty(b->ip));
		if (b->weight < 0 || b->weight > NF_SLB_WEIGHT_MAX)
			return fail(ret_error, "load balancer %s: backend %s: weight %d is not in 0..%d", lb->id,
				    b->server_id, b->weight, NF_SLB_WEIGHT_MAX);
		for (size_t j = 0; j < i; j++) {
			if (streq(lb->backends[j].server_id, b->server_id))
				return fail(ret_error, "load balancer %s: backend %s given twice", lb->id, b->server_id);
			if (streq(lb->backends[j].ip, b->ip))
				return fail(ret_error, "load balancer %s: backends %s and %s share the address %s", lb->id,
					    lb->backends[j].server_id, b->server_id, b->ip);
		}
	}
	return 0;
}

int nf_slb_validate(const struct nf_slb_host *h, char **ret_error)
{
	_cleanup_free_ uint32_t *addrs = NULL, *privs = NULL, *hashes = NULL;
	size_t n_addrs = 0;
	uint32_t snat, v = 0;
	int r;

	if (ret_error)
		*ret_error = NULL;
	if (!h)
		return fail(ret_error, "no model");
	if (!nf_prefix_valid(h->prefix))
		return fail(ret_error, "chain prefix \"%s\" is not 1-%d of [A-Za-z0-9_]", strempty(h->prefix),
			    NF_PREFIX_MAX);
	if (ecs_ipv4_parse(h->snat_ip, &snat) < 0)
		return fail(ret_error, "SNAT address \"%s\" is not an IPv4 address", strempty(h->snat_ip));
	if (!ifname_valid(h->bridge))
		return fail(ret_error, "bridge \"%s\" is not an interface name", strempty(h->bridge));
	if (h->n_local_cidrs > NF_SLB_LOCAL_CIDRS_MAX || (h->n_local_cidrs && !h->local_cidrs))
		return fail(ret_error, "more than %d local subnets", NF_SLB_LOCAL_CIDRS_MAX);
	for (size_t i = 0; i < h->n_local_cidrs; i++)
		if (ecs_cidr_parse(h->local_cidrs[i], 0, NULL) < 0)
			return fail(ret_error, "local subnet \"%s\" is not a.b.c.d/len", strempty(h->local_cidrs[i]));
	if (h->n_lbs > NF_SLB_LBS_MAX)
		return fail(ret_error, "more than %d load balancers", NF_SLB_LBS_MAX);
	if (h->n_eips > NF_SLB_EIPS_MAX)
		return fail(ret_error, "more than %d public IPs", NF_SLB_EIPS_MAX);
	if ((h->n_lbs && !h->lbs) || (h->n_eips && !h->eips))
		return fail(ret_error, "no load balancer or public IP array");

	addrs = calloc(h->n_lbs + h->n_eips + 1, sizeof(*addrs));
	privs = calloc(h->n_eips + 1, sizeof(*privs));
	hashes = calloc(h->n_lbs + 1, sizeof(*hashes));
	if (!addrs || !privs || !hashes)
		return -ENOMEM;
	for (size_t i = 0; i < h->n_lbs; i++) {
		char chain[NF_SLB_CHAIN_MAX + 1];

		r = validate_lb(&h->lbs[i], ret_error);
		if (r < 0)
			return r;
		ecs_ipv4_parse(h->lbs[i].address, &v);
		if (v == snat)
			return fail(ret_error, "load balancer %s: address %s is the host's own", h->lbs[i].id, h->lbs[i].address);
		addrs[n_addrs++] = v;
		r = nf_slb_chain_name(h->prefix, h->lbs[i].id, NF_SLB_TCP, 1, chain);
		if (r < 0)
			return r == -EINVAL ? fail(ret_error, "load balancer %s: no chain name", h->lbs[i].id) : r;
		hashes[i] = (uint32_t)strtoul(chain + strlen(h->prefix) + 3, NULL, 16);
	}
	for (size_t i = 0; i < h->n_eips; i++) {
		const struct nf_slb_eip *e = &h->eips[i];

		if (ecs_ipv4_parse(e->public_ip, &v) < 0 || !ecs_ipv4_assignable(v))
			return fail(ret_error, "public IP \"%s\" is not a unicast IPv4 address", strempty(e->public_ip));
		if (v == snat)
			return fail(ret_error, "public IP %s is the host's own address", e->public_ip);
		addrs[n_addrs++] = v;
		if (ecs_ipv4_parse(e->private_ip, &privs[i]) < 0 || !ecs_ipv4_assignable(privs[i]))
			return fail(ret_error, "public IP %s: private_ip \"%s\" is not a unicast IPv4 address", e->public_ip,
				    strempty(e->private_ip));
		if (privs[i] == v)
			return fail(ret_error, "public IP %s maps to itself", e->public_ip);
	}
	qsort(addrs, n_addrs, sizeof(*addrs), u32_cmp);
	for (size_t i = 1; i < n_addrs; i++) {
		if (addrs[i] == addrs[i - 1]) {
			char t[ECS_IPV4_MAX];

			ecs_ipv4_format(addrs[i], t);
			return fail(ret_error, "address %s is used twice (load balancers and public IPs)", t);
		}
	}
	qsort(privs, h->n_eips, sizeof(*privs), u32_cmp);
	for (size_t i = 1; i < h->n_eips; i++) {
		if (privs[i] == privs[i - 1]) {
			char t[ECS_IPV4_MAX];

			ecs_ipv4_format(privs[i], t);
			return fail(ret_error, "private address %s has two public IPs", t);
		}
	}
	for (size_t i = 0; i < h->n_lbs; i++)
		for (size_t j = i + 1; j < h->n_lbs; j++)
			if (hashes[i] == hashes[j])
				return fail(ret_error, "load balancers %s and %s share a chain name hash", h->lbs[i].id,
					    h->lbs[j].id);
	return 0;
}

int nf_slb_validate_logged(const struct nf_slb_host *h, const char *what)
{
	_cleanup_free_ char *msg = NULL;
	char q[300];
	int r = nf_slb_validate(h, &msg);

	if (r < 0)
		log_error("slb: bad model", "what=%s error=%s", what, ecs_log_quote(strempty(msg), q, sizeof(q)));
	return r;
}

/* ---- rendering ------------------------------------------------------------------- */

/* One chain of ours with its "-A" lines. */
struct block {
	char name[NF_SLB_CHAIN_MAX + 1];
	bool filter;
	char *text;
	size_t len;
	FILE *f;
};

struct plan {
	struct block *b;
	size_t n, cap;
	bool wanted; /* the dispatch chains and jumps exist */
};

static void plan_clear(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		if (p->b[i].f)
			fclose(p->b[i].f);
		free(p->b[i].text);
	}
	free(p->b);
	memset(p, 0, sizeof(*p));
}

static struct block *plan_add(struct plan *p, bool filter, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static struct block *plan_add(struct plan *p, bool filter, const char *fmt, ...)
{
	struct block *b;
	va_list ap;

	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 8;
		struct block *nb = realloc(p->b, cap * sizeof(*nb));

		if (!nb)
			return NULL;
		p->b = nb;
		p->cap = cap;
	}
	b = &p->b[p->n];
	memset(b, 0, sizeof(*b));
	va_start(ap, fmt);
	vsnprintf(b->name, sizeof(b->name), fmt, ap);
	va_end(ap);
	b->filter = filter;
	b->f = open_memstream(&b->text, &b->len);
	if (!b->f)
		return NULL;
	p->n++;
	return b;
}

static int block_close(struct block *b)
{
	int r = fclose(b->f);

	b->f = NULL;
	return r == 0 ? 0 : -ENOMEM;
}

static int block_cmp(const void *x, const void *y)
{
	return strcmp(((const struct block *)x)->name, ((const struct block *)y)->name);
}

/* Sort keys: LBs by VIP (unique), listeners by protocol and port, backends by address and
 * server id, public IPs by address. */
struct sorted_backend {
	uint32_t ip;
	size_t index;
	const struct nf_slb_backend *b;
};

static int sorted_backend_cmp(const void *x, const void *y)
{
	const struct sorted_backend *a = x, *b = y;

	if (a->ip != b->ip)
		return (a->ip > b->ip) - (a->ip < b->ip);
	return strcmp(a->b->server_id, b->b->server_id);
}

static int listener_cmp(const void *x, const void *y)
{
	const struct nf_slb_listener *a = *(const struct nf_slb_listener *const *)x;
	const struct nf_slb_listener *b = *(const struct nf_slb_listener *const *)y;

	if (a->proto != b->proto)
		return (int)a->proto - (int)b->proto;
	return (a->port > b->port) - (a->port < b->port);
}

static uint32_t addr_of(const char *ip)
{
	uint32_t v = 0;

	ecs_ipv4_parse(ip, &v);
	return v;
}

static int lb_ptr_cmp(const void *x, const void *y)
{
	uint32_t a = addr_of((*(const struct nf_slb_lb *const *)x)->address);
	uint32_t b = addr_of((*(const struct nf_slb_lb *const *)y)->address);

	return (a > b) - (a < b);
}

static int eip_ptr_cmp(const void *x, const void *y)
{
	uint32_t a = addr_of((*(const struct nf_slb_eip *const *)x)->public_ip);
	uint32_t b = addr_of((*(const struct nf_slb_eip *const *)y)->public_ip);

	return (a > b) - (a < b);
}

/* The probability as iptables stores it (lround(2^31 * p), here for 0 < p < 1 without
 * libm) and prints it. */
static void probability_text(double p, char out[32])
{
	long q = (long)(2147483648.0 * p + 0.5);

	snprintf(out, 32, "%.11f", (double)q / 2147483648.0);
}

/* The "-A" lines of one listener's chain. */
static int render_listener(FILE *f, const char *chain, const struct nf_slb_lb *lb, const struct nf_slb_listener *l)
{
	_cleanup_free_ struct sorted_backend *sb = calloc(lb->n_backends + 1, sizeof(*sb));
	size_t n = 0;
	long rest = 0;

	if (!sb)
		return -ENOMEM;
	for (size_t i = 0; i < lb->n_backends; i++) {
		if (!nf_slb_backend_serves(lb, l, i))
			continue;
		sb[n++] = (struct sorted_backend){ .ip = addr_of(lb->backends[i].ip), .index = i, .b = &lb->backends[i] };
		rest += lb->backends[i].weight;
	}
	qsort(sb, n, sizeof(*sb), sorted_backend_cmp);
	for (size_t k = 0; k < n; k++) {
		fprintf(f, "-A %s -p %s", chain, proto_name(l->proto));
		if (k + 1 < n && l->scheduler == NF_SLB_WRR) {
			char p[32];

			probability_text((double)sb[k].b->weight / (double)rest, p);
			fprintf(f, " -m statistic --mode random --probability %s", p);
		} else if (k + 1 < n) {
			fprintf(f, " -m statistic --mode nth --every %zu --packet 0", n - k);
		}
		fprintf(f, " -j DNAT --to-destination %s:%d\n", sb[k].b->ip, l->backend_port);
		rest -= sb[k].b->weight;
	}
	return 0;
}

/* The local subnets, masked, sorted and unique, as text. */
static int local_subnets(const struct nf_slb_host *h, char (*out)[24], size_t *ret_n)
{
	uint64_t keys[NF_SLB_LOCAL_CIDRS_MAX];
	size_t n = 0;

	for (size_t i = 0; i < h->n_local_cidrs; i++) {
		struct ecs_cidr c;

		if (ecs_cidr_parse(h->local_cidrs[i], 0, &c) < 0)
			return -EINVAL;
		keys[n++] = ((uint64_t)c.net << 8) | (uint64_t)c.len;
	}
	for (size_t i = 1; i < n; i++) /* insertion sort: at most 16 */
		for (size_t j = i; j > 0 && keys[j - 1] > keys[j]; j--) {
			uint64_t t = keys[j];

			keys[j] = keys[j - 1];
			keys[j - 1] = t;
		}
	*ret_n = 0;
	for (size_t i = 0; i < n; i++) {
		char t[ECS_IPV4_MAX];

		if (i > 0 && keys[i] == keys[i - 1])
			continue;
		ecs_ipv4_format((uint32_t)(keys[i] >> 8), t);
		snprintf(out[(*ret_n)++], 24, "%s/%u", t, (unsigned)(keys[i] & 0x3f));
	}
	return 0;
}

/* Every chain h wants, with its lines, sorted by name. h must be valid. */
static int plan_build(const struct nf_slb_host *h, struct plan *p)
{
	_cleanup_free_ const struct nf_slb_lb **lbs = NULL;
	_cleanup_free_ const struct nf_slb_eip **eips = NULL;
	_cleanup_free_ const struct nf_slb_listener **ls = NULL;
	char subnets[NF_SLB_LOCAL_CIDRS_MAX][24];
	struct block *pre, *dout, *post, *fwd;
	const char *P = h->prefix;
	size_t n_sub = 0;
	int r;

	memset(p, 0, sizeof(*p));
	if (h->n_lbs == 0 && h->n_eips == 0)
		return 0;
	p->wanted = true;
	lbs = calloc(h->n_lbs + 1, sizeof(*lbs));
	eips = calloc(h->n_eips + 1, sizeof(*eips));
	ls = calloc(NF_SLB_LISTENERS_MAX + 1, sizeof(*ls));
	if (!lbs || !eips || !ls)
		return -ENOMEM;
	for (size_t i = 0; i < h->n_lbs; i++)
		lbs[i] = &h->lbs[i];
	for (size_t i = 0; i < h->n_eips; i++)
		eips[i] = &h->eips[i];
	qsort(lbs, h->n_lbs, sizeof(*lbs), lb_ptr_cmp);
	qsort(eips, h->n_eips, sizeof(*eips), eip_ptr_cmp);
	r = local_subnets(h, subnets, &n_sub);
	if (r < 0)
		return r;

	pre = plan_add(p, false, "%s-PRE", P);
	dout = pre ? plan_add(p, false, "%s-DOUT", P) : NULL;
	post = dout ? plan_add(p, false, "%s-POST", P) : NULL;
	fwd = post ? plan_add(p, true, "%s-LBF", P) : NULL;
	if (!fwd)
		return -ENOMEM;
	/* plan_add may move the array: keep indexes, not pointers, past this point. */
	for (size_t i = 0; i < h->n_lbs; i++) {
		const struct nf_slb_lb *lb = lbs[i];

		if (!lb->active)
			continue;
		for (size_t j = 0; j < lb->n_listeners; j++)
			ls[j] = &lb->listeners[j];
		qsort(ls, lb->n_listeners, sizeof(*ls), listener_cmp);
		for (size_t j = 0; j < lb->n_listeners; j++) {
			const struct nf_slb_listener *l = ls[j];
			char chain[NF_SLB_CHAIN_MAX + 1];
			struct block *b;

			if (!l->running)
				continue;
			r = nf_slb_chain_name(P, lb->id, l->proto, l->port, chain);
			if (r < 0)
				return r;
			for (size_t k = 0; k < 2; k++)
				fprintf(p->b[k].f, "-A %s -d %s/32 -p %s -m %s --dport %d -m comment --comment %s -j %s\n",
					p->b[k].name, lb->address, proto_name(l->proto), proto_name(l->proto), l->port,
					lb->id, chain);
			b = plan_add(p, false, "%s", chain);
			if (!b)
				return -ENOMEM;
			r = render_listener(b->f, chain, lb, l);
			if (r < 0)
				return r;
		}
		fprintf(p->b[2].f, "-A %s -m conntrack --ctstate DNAT --ctorigdst %s -j SNAT --to-source %s\n",
			p->b[2].name, lb->address, h->snat_ip);
		fprintf(p->b[3].f, "-A %s -m conntrack --ctstate DNAT --ctorigdst %s -j ACCEPT\n", p->b[3].name,
			lb->address);
	}
	for (size_t i = 0; i < h->n_eips; i++) {
		const struct nf_slb_eip *e = eips[i];

		for (size_t k = 0; k < 2; k++)
			fprintf(p->b[k].f, "-A %s -d %s/32 -j DNAT --to-destination %s\n", p->b[k].name, e->public_ip,
				e->private_ip);
		/* A client on the bridge's own subnets: replies must come back through here. */
		for (size_t s = 0; s < n_sub; s++)
			fprintf(p->b[2].f, "-A %s -s %s -m conntrack --ctstate DNAT --ctorigdst %s -j SNAT --to-source %s\n",
				p->b[2].name, subnets[s], e->public_ip, h->snat_ip);
		fprintf(p->b[3].f, "-A %s -m conntrack --ctstate DNAT --ctorigdst %s -j ACCEPT\n", p->b[3].name,
			e->public_ip);
		fprintf(p->b[3].f, "-A %s -s %s/32 ! -o %s -j ACCEPT\n", p->b[3].name, e->private_ip, h->bridge);
		fprintf(p->b[3].f, "-A %s -m conntrack --ctstate SNAT --ctorigsrc %s -j ACCEPT\n", p->b[3].name,
			e->private_ip);
	}
	if (h->n_eips > 0) {
		/* Neighbours on the bridge see the private address; the rest of the world the public one. */
		for (size_t s = 0; s < n_sub; s++)
			fprintf(p->b[2].f, "-A %s -d %s -j RETURN\n", p->b[2].name, subnets[s]);
		for (size_t i = 0; i < h->n_eips; i++)
			fprintf(p->b[2].f, "-A %s -s %s/32 -j SNAT --to-source %s\n", p->b[2].name, eips[i]->private_ip,
				eips[i]->public_ip);
	}
	for (size_t i = 0; i < p->n; i++) {
		r = block_close(&p->b[i]);
		if (r < 0)
			return r;
	}
	qsort(p->b, p->n, sizeof(*p->b), block_cmp);
	return 0;
}

/* Build h's plan and let write put text from it into *ret. h must be valid. */
typedef void (*plan_writer)(FILE *f, const struct nf_slb_host *h, const struct plan *p, const void *arg);

static int render_plan(const struct nf_slb_host *h, plan_writer write, const void *arg, char **ret)
{
	struct plan p;
	char *text = NULL;
	size_t size = 0;
	FILE *f;
	int r;

	r = plan_build(h, &p);
	if (r < 0)
		goto out;
	f = open_memstream(&text, &size);
	if (!f) {
		r = -ENOMEM;
		goto out;
	}
	write(f, h, &p, arg);
	if (fclose(f) != 0) {
		free(text);
		r = -ENOMEM;
		goto out;
	}
	*ret = text;
out:
	plan_clear(&p);
	return r;
}

/* The expected view: every chain's lines, chains sorted. */
static void write_expected(FILE *f, const struct nf_slb_host *h, const struct plan *p, const void *arg)
{
	(void)h;
	(void)arg;
	for (size_t i = 0; i < p->n; i++)
		fputs(p->b[i].text, f);
}

int nf_slb_expected_text(const struct nf_slb_host *h, char **ret)
{
	return render_plan(h, write_expected, NULL, ret);
}

int nf_slb_render_expected(const struct nf_slb_host *h, char **ret)
{
	int r = nf_slb_validate_logged(h, "expected");

	return r < 0 ? r : nf_slb_expected_text(h, ret);
}

static bool plan_has(const struct plan *p, const char *name)
{
	for (size_t i = 0; i < p->n; i++)
		if (streq(p->b[i].name, name))
			return true;
	return false;
}

/* Whether chain (one of ours) lives in table filter. */
static bool in_filter(const struct nf_slb_host *h, const char *chain)
{
	return streq(chain + strlen(h->prefix), "-LBF");
}

/* One table's section of the restore text; nothing when the table needs no change. */
static void write_table(FILE *f, const struct nf_slb_host *h, const struct plan *p, const struct nf_slb_state *now,
			bool filter)
{
	static const struct {
		const char *builtin, *suffix;
		bool filter, append;
	} jumps[] = {
		{ "PREROUTING", "PRE", false, false },
		{ "OUTPUT", "DOUT", false, false },
		{ "POSTROUTING", "POST", false, false },
		{ "FORWARD", "LBF", true, true },
	};
	bool any = false;

	for (size_t i = 0; i < p->n && !any; i++)
		any = p->b[i].filter == filter;
	for (size_t i = 0; now && i < now->n_chains && !any; i++)
		any = in_filter(h, now->chains[i]) == filter;
	if (now && !any)
		any = filter ? now->fwd_jumps > 0 : now->pre_jumps + now->out_jumps + now->post_jumps > 0;
	if (!any)
		return;

	fprintf(f, "*%s\n", filter ? "filter" : "nat");
	for (size_t i = 0; i < p->n; i++)
		if (p->b[i].filter == filter)
			fprintf(f, ":%s - [0:0]\n", p->b[i].name);
	/* Chains of ours no longer wanted: declared (so flushed, or made when absent), then deleted
	 * below once nothing jumps to them. */
	for (size_t i = 0; now && i < now->n_chains; i++)
		if (in_filter(h, now->chains[i]) == filter && !plan_has(p, now->chains[i]))
			fprintf(f, ":%s - [0:0]\n", now->chains[i]);
	for (size_t i = 0; i < p->n; i++)
		if (p->b[i].filter == filter)
			fputs(p->b[i].text, f);
	for (size_t j = 0; j < ARRAY_SIZE(jumps); j++) {
		int have;

		if (jumps[j].filter != filter)
			continue;
		have = !now ? 0 : j == 0 ? now->pre_jumps : j == 1 ? now->out_jumps : j == 2 ? now->post_jumps : now->fwd_jumps;
		for (int k = 0; k < have; k++)
			fprintf(f, "-D %s -j %s-%s\n", jumps[j].builtin, h->prefix, jumps[j].suffix);
		if (p->wanted)
			fprintf(f, jumps[j].append ? "-A %s -j %s-%s\n" : "-I %s 1 -j %s-%s\n", jumps[j].builtin,
				h->prefix, jumps[j].suffix);
	}
	for (size_t i = 0; now && i < now->n_chains; i++)
		if (in_filter(h, now->chains[i]) == filter && !plan_has(p, now->chains[i]))
			fprintf(f, "-X %s\n", now->chains[i]);
	fputs("COMMIT\n", f);
}

static void write_restore(FILE *f, const struct nf_slb_host *h, const struct plan *p, const void *arg)
{
	write_table(f, h, p, arg, false);
	write_table(f, h, p, arg, true);
}

int nf_slb_restore_text(const struct nf_slb_host *h, const struct nf_slb_state *now, char **ret)
{
	return render_plan(h, write_restore, now, ret);
}

int nf_slb_render(const struct nf_slb_host *h, const struct nf_slb_state *now, char **ret)
{
	int r = nf_slb_validate_logged(h, "render");

	return r < 0 ? r : nf_slb_restore_text(h, now, ret);
}

/* The listener chains of one LB: declared, then filled. */
static void write_lb(FILE *f, const struct nf_slb_host *h, const struct plan *p, const void *arg)
{
	const struct nf_slb_lb *lb = arg;
	bool any = false;

	for (size_t pass = 0; lb->active && pass < 2; pass++) {
		for (size_t j = 0; j < lb->n_listeners; j++) {
			char chain[NF_SLB_CHAIN_MAX + 1];

			if (!lb->listeners[j].running ||
			    nf_slb_chain_name(h->prefix, lb->id, lb->listeners[j].proto, lb->listeners[j].port, chain) < 0)
				continue;
			for (size_t i = 0; i < p->n; i++) {
				if (!streq(p->b[i].name, chain))
					continue;
				if (!any)
					fputs("*nat\n", f);
				any = true;
				if (pass == 0)
					fprintf(f, ":%s - [0:0]\n", chain);
				else
					fputs(p->b[i].text, f);
			}
		}
	}
	if (any)
		fputs("COMMIT\n", f);
}

int nf_slb_render_lb(const struct nf_slb_host *h, const char *lb_id, char **ret)
{
	const struct nf_slb_lb *lb = NULL;
	int r;

	r = nf_slb_validate_logged(h, "render_lb");
	if (r < 0)
		return r;
	for (size_t i = 0; i < h->n_lbs && !lb; i++)
		if (streq(h->lbs[i].id, lb_id))
			lb = &h->lbs[i];
	if (!lb)
		return -ENOENT;
	return render_plan(h, write_lb, lb, ret);
}

bool nf_slb_chains_match(const struct nf_slb_host *h, const struct nf_slb_state *s)
{
	struct plan p;
	bool same;

	if (plan_build(h, &p) < 0)
		return false;
	same = s->n_chains == p.n;
	for (size_t i = 0; same && i < p.n; i++)
		same = streq(s->chains[i], p.b[i].name);
	if (same) {
		int want = p.wanted ? 1 : 0;

		same = s->pre_jumps == want && s->out_jumps == want && s->post_jumps == want && s->fwd_jumps == want;
	}
	plan_clear(&p);
	return same;
}
