/* nf_secgroup.c: the security-group model checked, merged and rendered as iptables-restore
 * and ipset restore text (see nf_secgroup.h for the chains). Pure: no command runs here.
 *
 * Every line is written in the spelling iptables-save prints it back in (the order of the
 * options, /32 on host addresses, addresses masked to their prefix, -m tcp after -p tcp, a
 * one-port range as one port, lower-case MACs), so what the kernel holds compares with
 * what was rendered byte for byte; tests/unit/test_nf_apply.c checks it against the real
 * iptables. */
#include "nf_secgroup.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "crypto.h"
#include "log.h"
#include "nf_internal.h"
#include "util.h"

#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
#define SET_HASH_DIGITS 10
#define JUMPS_MAX 1000 /* more existing jumps than this is no state we made */
#define SHOW 64	       /* characters of a bad value quoted in a message */

static const char *const proto_names[] = {
	[NF_PROTO_ALL] = "all", [NF_PROTO_TCP] = "tcp", [NF_PROTO_UDP] = "udp",
	[NF_PROTO_ICMP] = "icmp", [NF_PROTO_GRE] = "gre",
};

struct nf_sg_group;

/* A rule as rendered: its address parsed and masked, its peer group resolved. */
struct nf_sg_rule {
	enum nf_direction direction;
	enum nf_proto proto;
	int port_from, port_to;		/* -1/-1: every port */
	uint32_t addr;			/* host order, masked to len */
	int len;			/* 0: any address */
	struct nf_sg_group *peer;	/* NULL: addr/len */
	enum nf_policy policy;
	int priority;
};

struct nf_sg_group {
	const struct nf_group *g;
	char set[NF_SET_NAME_MAX + 1];
	struct nf_sg_rule *rules; /* g->n_rules of them */
	bool needed;		  /* a NIC's own group, or the peer of a rule of one */
};

struct nf_ctx {
	const struct nf_host *h;
	struct nf_sg_group *groups; /* sorted by group id */
	size_t n_groups;
	const struct nf_nic **nics; /* sorted by tap */
	size_t n_nics;
};

/* ---- names and addresses ----------------------------------------------------- */

static bool charset_ok(const char *s, size_t min, size_t max, const char *extra)
{
	size_t n = s ? strlen(s) : 0;

	if (n < min || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr(ALNUM, s[i]) && !strchr(extra, s[i]))
			return false;
	return true;
}

bool nf_prefix_valid(const char *prefix)
{
	return charset_ok(prefix, 1, NF_PREFIX_MAX, "_");
}

/* An interface name iptables reads as one: no option-like '-' first, and no "." or ".."
 * (which the kernel refuses as interface names). */
bool nf_tap_valid(const char *tap)
{
	return charset_ok(tap, 1, NF_TAP_MAX, "_.-") && tap[0] != '-' && !streq(tap, ".") && !streq(tap, "..");
}

static bool group_id_valid(const char *id)
{
	return charset_ok(id, 1, NF_GROUP_ID_MAX, "_-");
}

int nf_set_name(const char *prefix, const char *group_id, char *out)
{
	uint8_t digest[ECS_SHA256_LEN];
	char hex[2 * ECS_SHA256_LEN + 1];
	int r;

	if (!nf_prefix_valid(prefix) || !group_id)
		return -EINVAL;
	r = ecs_sha256(group_id, strlen(group_id), digest);
	if (r < 0)
		return r;
	ecs_hex_encode(digest, sizeof(digest), hex);
	snprintf(out, NF_SET_NAME_MAX + 1, "%s-%.*s", prefix, SET_HASH_DIGITS, hex);
	return 0;
}

bool nf_set_is_ours(const char *prefix, const char *name)
{
	size_t pl = strlen(prefix), n = strlen(name);

	if (n != pl + 1 + SET_HASH_DIGITS && n != pl + 1 + SET_HASH_DIGITS + 2)
		return false;
	if (strncmp(name, prefix, pl) != 0 || name[pl] != '-')
		return false;
	for (size_t i = pl + 1; i < pl + 1 + SET_HASH_DIGITS; i++)
		if (!strchr("0123456789abcdef", name[i]))
			return false;
	return n == pl + 1 + SET_HASH_DIGITS || streq(name + n - 2, "-t");
}

/* ---- the model checked --------------------------------------------------------- */

static int bad(char **ret_error, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(char **ret_error, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = ecs_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (!msg)
		return -ENOMEM;
	if (ret_error)
		*ret_error = msg;
	else
		free(msg);
	return -EINVAL;
}

static int group_cmp(const void *a, const void *b)
{
	return strcmp(((const struct nf_sg_group *)a)->g->group_id, ((const struct nf_sg_group *)b)->g->group_id);
}

static int group_key_cmp(const void *key, const void *b)
{
	return strcmp(key, ((const struct nf_sg_group *)b)->g->group_id);
}

static struct nf_sg_group *group_find(const struct nf_ctx *c, const char *id)
{
	if (!id || c->n_groups == 0)
		return NULL;
	return bsearch(id, c->groups, c->n_groups, sizeof(*c->groups), group_key_cmp);
}

static int nic_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct nf_nic *const *)a)->tap, (*(const struct nf_nic *const *)b)->tap);
}

static int nic_ip_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct nf_nic *const *)a)->ip, (*(const struct nf_nic *const *)b)->ip);
}

static int nic_key_cmp(const void *key, const void *b)
{
	return strcmp(key, (*(const struct nf_nic *const *)b)->tap);
}

static const struct nf_nic *nic_find(const struct nf_ctx *c, const char *tap)
{
	const struct nf_nic *const *n;

	if (!tap || c->n_nics == 0)
		return NULL;
	n = bsearch(tap, c->nics, c->n_nics, sizeof(*c->nics), nic_key_cmp);
	return n ? *n : NULL;
}

bool nf_ctx_has_tap(const struct nf_ctx *c, const char *tap)
{
	return nic_find(c, tap) != NULL;
}

bool nf_ctx_needs_set(const struct nf_ctx *c, const char *set)
{
	for (size_t i = 0; i < c->n_groups; i++)
		if (c->groups[i].needed && streq(c->groups[i].set, set))
			return true;
	return false;
}

void nf_ctx_free(struct nf_ctx *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_groups; i++)
		free(c->groups[i].rules);
	free(c->groups);
	free(c->nics);
	free(c);
}

static int check_rule(const struct nf_ctx *c, const struct nf_sg_group *sg, size_t i, char **ret_error)
{
	const struct nf_rule *r = &sg->g->rules[i];
	struct nf_sg_rule *out = &sg->rules[i];
	const char *gid = sg->g->group_id;
	bool ports = r->proto == NF_PROTO_TCP || r->proto == NF_PROTO_UDP;
	struct ecs_cidr cidr;

	if (r->direction != NF_INGRESS && r->direction != NF_EGRESS)
		return bad(ret_error, "group %s rule %zu: unknown direction %d", gid, i, (int)r->direction);
	if ((int)r->proto < (int)NF_PROTO_ALL || (int)r->proto > (int)NF_PROTO_GRE)
		return bad(ret_error, "group %s rule %zu: unknown protocol %d", gid, i, (int)r->proto);
	if (r->policy != NF_ACCEPT && r->policy != NF_DROP)
		return bad(ret_error, "group %s rule %zu: unknown policy %d", gid, i, (int)r->policy);
	if (r->priority < NF_PRIORITY_MIN || r->priority > NF_PRIORITY_MAX)
		return bad(ret_error, "group %s rule %zu: priority %d is outside %d-%d", gid, i, r->priority,
			   NF_PRIORITY_MIN, NF_PRIORITY_MAX);
	if (!(r->port_from == -1 && r->port_to == -1)) {
		if (!ports)
			return bad(ret_error, "group %s rule %zu: protocol %s takes no ports (-1/-1), not %d/%d", gid, i,
				   proto_names[r->proto], r->port_from, r->port_to);
		if (r->port_from < 1 || r->port_from > 65535 || r->port_to < 1 || r->port_to > 65535)
			return bad(ret_error, "group %s rule %zu: port range %d/%d is outside 1-65535 (or -1/-1 for all)",
				   gid, i, r->port_from, r->port_to);
		if (r->port_from > r->port_to)
			return bad(ret_error, "group %s rule %zu: port range %d/%d ends before it starts", gid, i,
				   r->port_from, r->port_to);
	}
	*out = (struct nf_sg_rule){ .direction = r->direction,
				    .proto = r->proto,
				    .port_from = r->port_from,
				    .port_to = r->port_to,
				    .policy = r->policy,
				    .priority = r->priority };
	if (!!r->cidr == !!r->peer_group_id)
		return bad(ret_error, "group %s rule %zu: give exactly one of a CIDR and a peer group", gid, i);
	if (r->cidr && ecs_cidr_parse(r->cidr, ECS_CIDR_BARE | ECS_CIDR_LEN0, &cidr) < 0)
		return bad(ret_error, "group %s rule %zu: \"%.*s\" is no IPv4 CIDR (a.b.c.d or a.b.c.d/0-32)", gid,
			   i, SHOW, r->cidr);
	/* Masked to the prefix, as iptables stores it. */
	out->addr = r->cidr ? cidr.net : 0;
	out->len = r->cidr ? cidr.len : 0;
	if (r->peer_group_id) {
		out->peer = group_find(c, r->peer_group_id);
		if (!out->peer)
			return bad(ret_error, "group %s rule %zu: peer group \"%.*s\" is not in the model", gid, i,
				   SHOW, r->peer_group_id);
	}
	return 0;
}

static int check_group(const struct nf_ctx *c, struct nf_sg_group *sg, char **ret_error)
{
	const struct nf_group *g = sg->g;
	int r;

	if (g->n_rules > NF_RULES_PER_GROUP_MAX)
		return bad(ret_error, "group %s: %zu rules, at most %d", g->group_id, g->n_rules,
			   NF_RULES_PER_GROUP_MAX);
	if (g->n_rules && !g->rules)
		return bad(ret_error, "group %s: %zu rules but no rule array", g->group_id, g->n_rules);
	if (g->n_members > NF_MEMBERS_PER_GROUP_MAX)
		return bad(ret_error, "group %s: %zu members, at most %d", g->group_id, g->n_members,
			   NF_MEMBERS_PER_GROUP_MAX);
	if (g->n_members && !g->members)
		return bad(ret_error, "group %s: %zu members but no member array", g->group_id, g->n_members);
	for (size_t i = 0; i < g->n_members; i++)
		if (!ecs_ipv4_valid(g->members[i]))
			return bad(ret_error, "group %s member %zu: \"%.*s\" is no IPv4 address", g->group_id, i, SHOW,
				   strempty(g->members[i]));
	sg->rules = calloc(g->n_rules ? g->n_rules : 1, sizeof(*sg->rules));
	if (!sg->rules)
		return -ENOMEM;
	for (size_t i = 0; i < g->n_rules; i++) {
		r = check_rule(c, sg, i, ret_error);
		if (r < 0)
			return r;
	}
	return 0;
}

static int check_nic(struct nf_ctx *c, const struct nf_nic *n, size_t i, char **ret_error)
{
	const char *tap = strempty(n->tap);

	if (!nf_tap_valid(n->tap))
		return bad(ret_error,
			   "nic %zu: tap \"%.*s\" is no interface name ([A-Za-z0-9_.-], 1-%d, no leading '-')", i,
			   SHOW, tap, NF_TAP_MAX);
	if (!ecs_mac_valid(n->mac))
		return bad(ret_error, "nic %s: MAC \"%.*s\" is not xx:xx:xx:xx:xx:xx", tap, SHOW, strempty(n->mac));
	if (!ecs_ipv4_valid(n->ip))
		return bad(ret_error, "nic %s: \"%.*s\" is no IPv4 address (canonical dotted quad)", tap, SHOW,
			   strempty(n->ip));
	if (n->n_groups < 1 || n->n_groups > NF_GROUPS_PER_NIC_MAX)
		return bad(ret_error, "nic %s: in %zu groups, must be in 1-%d", tap, n->n_groups,
			   NF_GROUPS_PER_NIC_MAX);
	if (!n->group_ids)
		return bad(ret_error, "nic %s: no group array", tap);
	for (size_t k = 0; k < n->n_groups; k++) {
		struct nf_sg_group *sg = group_find(c, n->group_ids[k]);

		if (!sg)
			return bad(ret_error, "nic %s: group \"%.*s\" is not in the model", tap, SHOW,
				   strempty(n->group_ids[k]));
		for (size_t j = 0; j < k; j++)
			if (streq(n->group_ids[j], n->group_ids[k]))
				return bad(ret_error, "nic %s: group %s is named twice", tap, n->group_ids[k]);
		sg->needed = true;
		for (size_t r = 0; r < sg->g->n_rules; r++)
			if (sg->rules[r].peer)
				sg->rules[r].peer->needed = true;
	}
	c->nics[i] = n;
	return 0;
}

static int set_name_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct nf_sg_group *const *)a)->set, (*(const struct nf_sg_group *const *)b)->set);
}

/* Two groups whose ids hash to one set name would share a set (1 in 2^40 a pair). */
static int check_set_names(const struct nf_ctx *c, char **ret_error)
{
	_cleanup_free_ const struct nf_sg_group **by_set = calloc(c->n_groups + 1, sizeof(*by_set));

	if (!by_set)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_groups; i++)
		by_set[i] = &c->groups[i];
	qsort(by_set, c->n_groups, sizeof(*by_set), set_name_cmp);
	for (size_t i = 1; i < c->n_groups; i++)
		if (streq(by_set[i - 1]->set, by_set[i]->set))
			return bad(ret_error, "groups %s and %s hash to the same set name %s", by_set[i - 1]->g->group_id,
				   by_set[i]->g->group_id, by_set[i]->set);
	return 0;
}

int nf_ctx_new(const struct nf_host *h, struct nf_ctx **ret, char **ret_error)
{
	struct nf_ctx *c = NULL;
	int r;

	if (ret_error)
		*ret_error = NULL;
	if (!h)
		return bad(ret_error, "no host model");
	if (!nf_prefix_valid(h->prefix))
		return bad(ret_error, "prefix \"%.*s\" must be 1-%d of [A-Za-z0-9_]", SHOW, strempty(h->prefix),
			   NF_PREFIX_MAX);
	if (h->n_groups > NF_HOST_GROUPS_MAX || (h->n_groups && !h->groups))
		return bad(ret_error, "%zu groups: at most %d, in an array", h->n_groups, NF_HOST_GROUPS_MAX);
	if (h->n_nics > NF_HOST_NICS_MAX || (h->n_nics && !h->nics))
		return bad(ret_error, "%zu nics: at most %d, in an array", h->n_nics, NF_HOST_NICS_MAX);

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->h = h;
	c->groups = calloc(h->n_groups + 1, sizeof(*c->groups));
	c->nics = calloc(h->n_nics + 1, sizeof(*c->nics));
	if (!c->groups || !c->nics) {
		r = -ENOMEM;
		goto fail;
	}

	/* Groups first, sorted by id: rules and NICs look them up. */
	for (size_t i = 0; i < h->n_groups; i++) {
		const struct nf_group *g = &h->groups[i];

		if (!group_id_valid(g->group_id)) {
			r = bad(ret_error, "group %zu: id \"%.*s\" must be 1-%d of [A-Za-z0-9_-]", i, SHOW,
				strempty(g->group_id), NF_GROUP_ID_MAX);
			goto fail;
		}
		c->groups[i].g = g;
		r = nf_set_name(h->prefix, g->group_id, c->groups[i].set);
		if (r < 0)
			goto fail;
	}
	c->n_groups = h->n_groups;
	qsort(c->groups, c->n_groups, sizeof(*c->groups), group_cmp);
	for (size_t i = 1; i < c->n_groups; i++)
		if (streq(c->groups[i - 1].g->group_id, c->groups[i].g->group_id)) {
			r = bad(ret_error, "group %s is given twice", c->groups[i].g->group_id);
			goto fail;
		}
	r = check_set_names(c, ret_error);
	if (r < 0)
		goto fail;
	for (size_t i = 0; i < c->n_groups; i++) {
		r = check_group(c, &c->groups[i], ret_error);
		if (r < 0)
			goto fail;
	}

	for (size_t i = 0; i < h->n_nics; i++) {
		r = check_nic(c, &h->nics[i], i, ret_error);
		if (r < 0)
			goto fail;
	}
	c->n_nics = h->n_nics;
	qsort(c->nics, c->n_nics, sizeof(*c->nics), nic_cmp);
	for (size_t i = 1; i < c->n_nics; i++)
		if (streq(c->nics[i - 1]->tap, c->nics[i]->tap)) {
			r = bad(ret_error, "nic %s is given twice", c->nics[i]->tap);
			goto fail;
		}
	/* Two taps allowed to send from one address could each pose as the other. */
	{
		_cleanup_free_ const struct nf_nic **by_ip = calloc(c->n_nics + 1, sizeof(*by_ip));

		if (!by_ip) {
			r = -ENOMEM;
			goto fail;
		}
		memcpy(by_ip, c->nics, c->n_nics * sizeof(*by_ip));
		qsort(by_ip, c->n_nics, sizeof(*by_ip), nic_ip_cmp);
		for (size_t i = 1; i < c->n_nics; i++)
			if (streq(by_ip[i - 1]->ip, by_ip[i]->ip)) {
				r = bad(ret_error, "nics %s and %s have the same address %s", by_ip[i - 1]->tap,
					by_ip[i]->tap, by_ip[i]->ip);
				goto fail;
			}
	}
	*ret = c;
	return 0;

fail:
	nf_ctx_free(c);
	return r;
}

int nf_ctx_new_logged(const struct nf_host *h, const char *what, struct nf_ctx **ret)
{
	_cleanup_free_ char *error = NULL;
	char q[512];
	int r;

	r = nf_ctx_new(h, ret, &error);
	if (r < 0)
		log_error("security groups: invalid model", "op=%s prefix=%s error=%s", what,
			  h && h->prefix && nf_prefix_valid(h->prefix) ? h->prefix : "?",
			  ecs_log_quote(error ? error : strerror(-r), q, sizeof(q)));
	return r;
}

int nf_host_validate(const struct nf_host *h, char **ret_error)
{
	struct nf_ctx *c = NULL;
	int r;

	r = nf_ctx_new(h, &c, ret_error);
	nf_ctx_free(c);
	return r;
}

/* ---- rendering ------------------------------------------------------------------ */

static int cmp_int(long a, long b)
{
	return (a > b) - (a < b);
}

/* The order rules are rendered in (nf_secgroup.h); 0 only for identical rules. */
static int rule_cmp(const void *a, const void *b)
{
	const struct nf_sg_rule *x = a, *y = b;
	int c;

	if ((c = cmp_int(x->direction, y->direction)) || (c = cmp_int(x->priority, y->priority)) ||
	    (c = cmp_int(x->policy != NF_DROP, y->policy != NF_DROP)) || (c = cmp_int(x->proto, y->proto)) ||
	    (c = cmp_int(x->port_from, y->port_from)) || (c = cmp_int(x->port_to, y->port_to)) ||
	    (c = cmp_int(!!x->peer, !!y->peer)))
		return c;
	if (x->peer)
		return strcmp(x->peer->g->group_id, y->peer->g->group_id);
	if ((c = cmp_int(x->addr, y->addr)))
		return c;
	return cmp_int(x->len, y->len);
}

static void chain_name(char out[NF_CHAIN_MAX + 1], const char *prefix, const char *kind, const char *tap)
{
	/* Fits: prefix (8) + "-I-" + tap (15) = 26, checked by the model. */
	snprintf(out, NF_CHAIN_MAX + 1, "%s-%s%s", prefix, kind, strempty(tap));
}

/* One rule: options in the order iptables-save prints them. Ingress verdicts are final;
 * an egress accept is RETURN so that the receiver's ingress chain still runs (nf_secgroup.h). */
static void render_rule(FILE *f, const char *chain, const struct nf_sg_rule *r)
{
	bool in = r->direction == NF_INGRESS;

	fprintf(f, "-A %s", chain);
	if (!r->peer && r->len > 0) {
		char a[ECS_IPV4_MAX];

		ecs_ipv4_format(r->addr, a);
		fprintf(f, " %s %s/%d", in ? "-s" : "-d", a, r->len);
	}
	if (r->proto != NF_PROTO_ALL)
		fprintf(f, " -p %s", proto_names[r->proto]);
	if (r->peer)
		fprintf(f, " -m set --match-set %s %s", r->peer->set, in ? "src" : "dst");
	/* UDP ports through multiport: the udp match's parser resolves every port it is given
	 * with getaddrinfo() (an NSS and rtnetlink round trip each), which doubled the cost of
	 * restoring a group of UDP rules; multiport and the tcp match read numbers as numbers. */
	if (r->port_from > 0) {
		fprintf(f, r->proto == NF_PROTO_UDP ? " -m multiport --dports %d" : " -m tcp --dport %d", r->port_from);
		if (r->port_to != r->port_from)
			fprintf(f, ":%d", r->port_to);
	}
	fprintf(f, " -j %s\n", r->policy == NF_DROP ? "DROP" : in ? "ACCEPT" : "RETURN");
}

static int render_nic(FILE *f, const struct nf_ctx *c, const struct nf_nic *n)
{
	const char *prefix = c->h->prefix;
	char in[NF_CHAIN_MAX + 1], out[NF_CHAIN_MAX + 1], spoof[NF_CHAIN_MAX + 1], mac[18];
	const struct nf_sg_group *own[NF_GROUPS_PER_NIC_MAX];
	_cleanup_free_ struct nf_sg_rule *rules = NULL;
	size_t total = 0, k = 0;

	for (size_t g = 0; g < n->n_groups; g++) {
		own[g] = group_find(c, n->group_ids[g]);
		total += own[g]->g->n_rules;
	}
	rules = calloc(total + 1, sizeof(*rules));
	if (!rules)
		return -ENOMEM;
	for (size_t g = 0; g < n->n_groups; g++) {
		memcpy(rules + k, own[g]->rules, own[g]->g->n_rules * sizeof(*rules));
		k += own[g]->g->n_rules;
	}
	qsort(rules, total, sizeof(*rules), rule_cmp);
	qsort(own, n->n_groups, sizeof(*own), set_name_cmp);
	chain_name(in, prefix, "I-", n->tap);
	chain_name(out, prefix, "O-", n->tap);
	chain_name(spoof, prefix, "S-", n->tap);
	for (size_t i = 0; i < 17; i++)
		mac[i] = (char)((n->mac[i] >= 'A' && n->mac[i] <= 'F') ? n->mac[i] - 'A' + 'a' : n->mac[i]);
	mac[17] = '\0';

	/* Ingress: replies and related packets first, then the rules, then the NIC's own
	 * groups, then nothing. Packets in a flow's original direction meet the rules every
	 * time (not only its first), so a revoked rule cuts the flows it allowed; deleting
	 * their conntrack entries would not, since loose TCP pickup re-creates a flow from the
	 * guest's next packet with the guest as originator and the peer's packets as replies. */
	fprintf(f, "-A %s -m conntrack --ctstate RELATED -j ACCEPT\n", in);
	fprintf(f, "-A %s -m conntrack --ctstate ESTABLISHED --ctdir REPLY -j ACCEPT\n", in);
	fprintf(f, "-A %s -m conntrack --ctstate INVALID -j DROP\n", in);
	for (size_t i = 0; i < total; i++)
		if (rules[i].direction == NF_INGRESS && (i == 0 || rule_cmp(&rules[i - 1], &rules[i]) != 0))
			render_rule(f, in, &rules[i]);
	for (size_t g = 0; g < n->n_groups; g++)
		fprintf(f, "-A %s -m set --match-set %s src -j ACCEPT\n", in, own[g]->set);
	fprintf(f, "-A %s -j DROP\n", in);

	/* Egress: anti-spoofing before the established check, because a spoofed packet could
	 * match the conntrack entry of a neighbour's established flow and pass as its reply. */
	fprintf(f, "-A %s -j %s\n", out, spoof);
	fprintf(f, "-A %s -m conntrack --ctstate RELATED -j RETURN\n", out);
	fprintf(f, "-A %s -m conntrack --ctstate ESTABLISHED --ctdir REPLY -j RETURN\n", out);
	fprintf(f, "-A %s -m conntrack --ctstate INVALID -j DROP\n", out);
	for (size_t i = 0; i < total; i++)
		if (rules[i].direction == NF_EGRESS && (i == 0 || rule_cmp(&rules[i - 1], &rules[i]) != 0))
			render_rule(f, out, &rules[i]);
	fprintf(f, "-A %s -j RETURN\n", out);

	/* Anti-spoofing: the NIC's own address from its own MAC, and DHCP discovery (which
	 * has no address yet) from its own MAC. */
	fprintf(f, "-A %s -s %s/32 -m mac --mac-source %s -j RETURN\n", spoof, n->ip, mac);
	fprintf(f,
		"-A %s -s 0.0.0.0/32 -d 255.255.255.255/32 -p udp -m mac --mac-source %s -m udp --sport 68 --dport 67 "
		"-j RETURN\n",
		spoof, mac);
	fprintf(f, "-A %s -j DROP\n", spoof);
	return 0;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A sorted, unique copy of a list of taps; each must (or must not) be a NIC of the model. */
static int tap_list(const struct nf_ctx *c, const char *const *taps, size_t n, bool in_model, const char *what,
		    const char ***ret, size_t *ret_n)
{
	_cleanup_free_ const char **list = calloc(n + 1, sizeof(*list));
	size_t k = 0;
	char q[64];

	if (!list)
		return -ENOMEM;
	if (n && !taps) {
		log_error("security groups: tap list missing", "list=%s n=%zu", what, n);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!nf_tap_valid(taps[i]) || nf_ctx_has_tap(c, taps[i]) != in_model) {
			log_error(in_model ? "security groups: tap is no NIC of the model"
					   : "security groups: stale tap is invalid or still a NIC of the model",
				  "list=%s tap=%s", what, ecs_log_quote(strempty(taps[i]), q, sizeof(q)));
			return -EINVAL;
		}
		list[i] = taps[i];
	}
	qsort(list, n, sizeof(*list), str_cmp);
	for (size_t i = 0; i < n; i++)
		if (k == 0 || !streq(list[k - 1], list[i]))
			list[k++] = list[i];
	*ret = TAKE_PTR(list);
	*ret_n = k;
	return 0;
}

static void render_declare(FILE *f, const char *prefix, const char *tap)
{
	fprintf(f, ":%s-I-%s - [0:0]\n:%s-O-%s - [0:0]\n:%s-S-%s - [0:0]\n", prefix, tap, prefix, tap, prefix, tap);
}

static void render_dispatch(FILE *f, const struct nf_ctx *c, int forward_jumps, int input_jumps)
{
	const char *p = c->h->prefix;

	/* Whatever jumps there are go, and one comes back first, in one transaction: there is
	 * no moment without it, and no ACCEPT of the host's before it. */
	for (int i = 0; i < forward_jumps; i++)
		fprintf(f, "-D FORWARD -j %s-FWD\n", p);
	fprintf(f, "-I FORWARD 1 -j %s-FWD\n", p);
	for (int i = 0; i < input_jumps; i++)
		fprintf(f, "-D INPUT -j %s-INP\n", p);
	fprintf(f, "-I INPUT 1 -j %s-INP\n", p);

	/* Every sender's egress first, then every receiver's ingress (final), then what a NIC
	 * sent to no local NIC (to the uplink): accepted, its egress having passed. A NIC's
	 * packets are its, bridged or routed (to another subnet through the host); traffic
	 * routed into the bridge (from an uplink, a public IP's or an SLB's DNAT) has no
	 * bridge port yet at FORWARD, so it meets the ingress chain of its destination address. */
	for (size_t i = 0; i < c->n_nics; i++)
		fprintf(f, "-A %s-FWD -m physdev --physdev-in %s -j %s-O-%s\n", p, c->nics[i]->tap, p, c->nics[i]->tap);
	for (size_t i = 0; i < c->n_nics; i++) {
		fprintf(f, "-A %s-FWD -m physdev --physdev-out %s --physdev-is-bridged -j %s-I-%s\n", p,
			c->nics[i]->tap, p, c->nics[i]->tap);
		fprintf(f, "-A %s-FWD -d %s/32 -m physdev ! --physdev-is-bridged -j %s-I-%s\n", p, c->nics[i]->ip, p,
			c->nics[i]->tap);
	}
	for (size_t i = 0; i < c->n_nics; i++)
		fprintf(f, "-A %s-FWD -m physdev --physdev-in %s -j ACCEPT\n", p, c->nics[i]->tap);
	for (size_t i = 0; i < c->n_nics; i++)
		fprintf(f, "-A %s-INP -m physdev --physdev-in %s -j %s-S-%s\n", p, c->nics[i]->tap, p, c->nics[i]->tap);
}

int nf_ctx_render_filter(const struct nf_ctx *c, const char *const *only_taps, size_t n_only, bool with_dispatch,
			 int existing_forward_jumps, int existing_input_jumps, const char *const *stale_taps,
			 size_t n_stale, char **ret)
{
	_cleanup_free_ const char **only = NULL, **stale = NULL;
	const char *p = c->h->prefix;
	size_t n_in = 0, n_st = 0;
	char *text = NULL;
	size_t size = 0;
	FILE *f;
	int r;

	if (existing_forward_jumps < 0 || existing_forward_jumps > JUMPS_MAX || existing_input_jumps < 0 ||
	    existing_input_jumps > JUMPS_MAX) {
		log_error("security groups: bad count of existing jumps", "forward=%d input=%d", existing_forward_jumps,
			  existing_input_jumps);
		return -EINVAL;
	}
	if (n_stale && !with_dispatch) {
		log_error("security groups: stale chains go only with the dispatch chains", "stale=%zu", n_stale);
		return -EINVAL;
	}
	if (only_taps) {
		r = tap_list(c, only_taps, n_only, true, "only", &only, &n_in);
		if (r < 0)
			return r;
	} else {
		only = calloc(c->n_nics + 1, sizeof(*only));
		if (!only)
			return -ENOMEM;
		for (size_t i = 0; i < c->n_nics; i++)
			only[i] = c->nics[i]->tap;
		n_in = c->n_nics;
	}
	r = tap_list(c, stale_taps, n_stale, false, "stale", &stale, &n_st);
	if (r < 0)
		return r;

	f = open_memstream(&text, &size);
	if (!f)
		return -ENOMEM;
	fputs("*filter\n", f);
	if (with_dispatch)
		fprintf(f, ":%s-FWD - [0:0]\n:%s-INP - [0:0]\n", p, p);
	for (size_t i = 0; i < n_in; i++)
		render_declare(f, p, only[i]);
	for (size_t i = 0; i < n_st; i++)
		render_declare(f, p, stale[i]);
	if (with_dispatch)
		render_dispatch(f, c, existing_forward_jumps, existing_input_jumps);
	r = 0;
	for (size_t i = 0; i < n_in && r == 0; i++)
		r = render_nic(f, c, nic_find(c, only[i]));
	/* Declared above, so flushed: nothing jumps to them any more. */
	for (size_t i = 0; i < n_st; i++)
		fprintf(f, "-X %s-I-%s\n-X %s-O-%s\n-X %s-S-%s\n", p, stale[i], p, stale[i], p, stale[i]);
	fputs("COMMIT\n", f);
	if (fclose(f) != 0 || r < 0) {
		free(text);
		return r < 0 ? r : -ENOMEM;
	}
	*ret = text;
	return 0;
}

static int addr_cmp(const void *a, const void *b)
{
	return cmp_int(*(const uint32_t *)a, *(const uint32_t *)b);
}

static int render_set(FILE *f, const struct nf_sg_group *sg)
{
	const struct nf_group *g = sg->g;
	_cleanup_free_ uint32_t *addrs = calloc(g->n_members + 1, sizeof(*addrs));

	if (!addrs)
		return -ENOMEM;
	for (size_t i = 0; i < g->n_members; i++)
		ecs_ipv4_parse(g->members[i], &addrs[i]);
	qsort(addrs, g->n_members, sizeof(*addrs), addr_cmp);
	fprintf(f, "create %s hash:ip family inet -exist\n", sg->set);
	/* The twin may be left over from an apply that failed half way: emptied first. */
	fprintf(f, "create %s-t hash:ip family inet -exist\nflush %s-t\n", sg->set, sg->set);
	for (size_t i = 0; i < g->n_members; i++) {
		char a[ECS_IPV4_MAX];

		if (i > 0 && addrs[i] == addrs[i - 1])
			continue;
		ecs_ipv4_format(addrs[i], a);
		fprintf(f, "add %s-t %s\n", sg->set, a);
	}
	fprintf(f, "swap %s-t %s\ndestroy %s-t\n", sg->set, sg->set, sg->set);
	return 0;
}

int nf_ctx_render_sets(const struct nf_ctx *c, char **ret)
{
	_cleanup_free_ const struct nf_sg_group **by_set = calloc(c->n_groups + 1, sizeof(*by_set));
	size_t n = 0;
	char *text = NULL;
	size_t size = 0;
	FILE *f;
	int r = 0;

	if (!by_set)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_groups; i++)
		if (c->groups[i].needed)
			by_set[n++] = &c->groups[i];
	qsort(by_set, n, sizeof(*by_set), set_name_cmp);
	f = open_memstream(&text, &size);
	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < n && r == 0; i++)
		r = render_set(f, by_set[i]);
	if (fclose(f) != 0 || r < 0) {
		free(text);
		return r < 0 ? r : -ENOMEM;
	}
	*ret = text;
	return 0;
}

/* ---- the public renderers ------------------------------------------------------- */

int nf_render_sets(const struct nf_host *h, char **ret)
{
	struct nf_ctx *c = NULL;
	int r;

	r = nf_ctx_new_logged(h, "render_sets", &c);
	if (r < 0)
		return r;
	r = nf_ctx_render_sets(c, ret);
	nf_ctx_free(c);
	return r;
}

int nf_render_filter(const struct nf_host *h, const char *const *only_taps, size_t n_only, bool with_dispatch,
		     int existing_forward_jumps, int existing_input_jumps, const char *const *stale_taps,
		     size_t n_stale, char **ret)
{
	struct nf_ctx *c = NULL;
	int r;

	r = nf_ctx_new_logged(h, "render_filter", &c);
	if (r < 0)
		return r;
	r = nf_ctx_render_filter(c, only_taps, n_only, with_dispatch, existing_forward_jumps, existing_input_jumps,
				 stale_taps, n_stale, ret);
	nf_ctx_free(c);
	return r;
}

int nf_render_expected(const struct nf_host *h, char **ret)
{
	struct nf_ctx *c = NULL;
	_cleanup_free_ char *text = NULL;
	struct nf_state st = { 0 };
	int r;

	r = nf_ctx_new_logged(h, "render_expected", &c);
	if (r < 0)
		return r;
	r = nf_ctx_render_filter(c, NULL, 0, true, 0, 0, NULL, 0, &text);
	nf_ctx_free(c);
	if (r < 0)
		return r;
	r = nf_state_parse(h->prefix, text, &st);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(st.text);
	nf_state_clear(&st);
	return 0;
}
