/* Tests for netfilter/nf_secgroup.c and nf_state.c: the security-group model rendered to
 * iptables-restore and ipset restore text against golden files (tests/unit/golden/nf_*.txt;
 * ECS_REGENERATE_GOLDEN=1 rewrites them), the same text whatever order the model is given
 * in, every invalid model refused with a message, and the command sequences of nf_apply.c
 * recorded by lib/cmd.h's dry run against a faked kernel. The real kernel is in
 * test_nf_apply.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"
#include "cmd.h"
#include "golden.h"
#include "log.h"
#include "nf_internal.h"
#include "nf_secgroup.h"
#include "quiet.h"
#include "util.h"

#define R_IN(proto, from, to, cidr, peer, policy, prio)                                                     \
	{ NF_INGRESS, NF_PROTO_##proto, from, to, cidr, peer, NF_##policy, prio }
#define R_OUT(proto, from, to, cidr, peer, policy, prio)                                                    \
	{ NF_EGRESS, NF_PROTO_##proto, from, to, cidr, peer, NF_##policy, prio }

/* ---- one NIC, one group ----------------------------------------------------------- */

static const struct nf_rule web_rules[] = {
	R_IN(TCP, 22, 22, "0.0.0.0/0", NULL, ACCEPT, 1),
	R_IN(TCP, 80, 443, "10.0.0.0/8", NULL, ACCEPT, 10),
	R_IN(ICMP, -1, -1, "192.168.1.7", NULL, DROP, 5),
	R_IN(UDP, 1, 65535, "172.16.5.9/12", NULL, ACCEPT, 20),
	R_IN(ALL, -1, -1, "198.51.100.0/24", NULL, ACCEPT, 30),
	R_IN(GRE, -1, -1, "203.0.113.1/32", NULL, ACCEPT, 30),
};
static const char *const web_members[] = { "10.0.0.6", "10.0.0.5" };
static const struct nf_group one_groups[] = {
	{ "sg-web", web_rules, ARRAY_SIZE(web_rules), web_members, ARRAY_SIZE(web_members) },
};
static const char *const web_only[] = { "sg-web" };
static const struct nf_nic one_nics[] = {
	{ "ecst1", "52:54:00:AA:BB:01", "10.0.0.5", web_only, 1 },
};
static const struct nf_host one_host = { "ECS", one_groups, 1, one_nics, 1 };

static char *render_all(const struct nf_host *h)
{
	char *text = NULL;

	assert_int_equal(nf_render_filter(h, NULL, 0, true, 0, 0, NULL, 0, &text), 0);
	return text;
}

/* Every NIC of h with the dispatch chains, as the golden file has it. */
static void expect_golden(const struct nf_host *h, const char *name)
{
	_cleanup_free_ char *text = render_all(h);

	assert_golden(name, text);
}

static void test_one_nic_one_group(void **state)
{
	(void)state;
	expect_golden(&one_host, "nf_one_nic.txt");
}

/* ---- two groups: union, priority, drop over accept, duplicates ------------------- */

static const struct nf_rule a_rules[] = {
	R_IN(TCP, 22, 22, "0.0.0.0/0", NULL, ACCEPT, 5),
	R_IN(TCP, 22, 22, "10.1.0.0/16", NULL, DROP, 5),
	R_IN(UDP, 53, 53, "10.0.0.0/8", NULL, ACCEPT, 1),
	R_IN(ALL, -1, -1, "172.16.0.0/12", NULL, ACCEPT, 50),
	R_IN(TCP, 22, 22, "0.0.0.0/0", NULL, ACCEPT, 5), /* twice in one group */
	R_OUT(TCP, 25, 25, "0.0.0.0/0", NULL, DROP, 1),
};
static const struct nf_rule b_rules[] = {
	R_IN(TCP, 22, 22, "0.0.0.0/0", NULL, ACCEPT, 5), /* and again in the other */
	R_IN(UDP, 53, 53, "10.0.0.0/8", NULL, DROP, 1),	 /* drop before the accept at 1 */
	R_IN(GRE, -1, -1, "0.0.0.0/0", NULL, ACCEPT, 100),
	R_IN(TCP, 22, 22, "10.1.2.3/16", NULL, ACCEPT, 5), /* 10.1.0.0/16 once masked */
	R_IN(TCP, 1000, 2000, "0.0.0.0/0", NULL, ACCEPT, 5),
	R_IN(TCP, 22, 22, "10.1.0.0/16", NULL, ACCEPT, 5), /* the same as the masked one */
	R_OUT(TCP, 25, 25, "0.0.0.0/0", NULL, DROP, 1),
};
static const char *const a_members[] = { "10.0.0.5" };
static const char *const b_members[] = { "10.0.0.5", "10.0.0.7" };
static const struct nf_group union_groups[] = {
	{ "sg-a", a_rules, ARRAY_SIZE(a_rules), a_members, ARRAY_SIZE(a_members) },
	{ "sg-b", b_rules, ARRAY_SIZE(b_rules), b_members, ARRAY_SIZE(b_members) },
};
static const char *const ab[] = { "sg-a", "sg-b" };
static const struct nf_nic union_nics[] = {
	{ "ecst1", "52:54:00:aa:bb:01", "10.0.0.5", ab, 2 },
};
static const struct nf_host union_host = { "ECS", union_groups, 2, union_nics, 1 };

static void test_two_groups_union(void **state)
{
	(void)state;
	expect_golden(&union_host, "nf_union.txt");
}

/* ---- peer groups -------------------------------------------------------------- */

static const struct nf_rule app_rules[] = {
	R_IN(TCP, 8080, 8080, NULL, "sg-web", ACCEPT, 1),
	R_IN(ALL, -1, -1, NULL, "sg-admin", ACCEPT, 2),
	R_IN(TCP, 8080, 8080, NULL, "sg-banned", DROP, 1),
	R_OUT(TCP, 5432, 5432, NULL, "sg-db", ACCEPT, 1),
	R_OUT(ALL, -1, -1, "0.0.0.0/0", NULL, DROP, 2),
};
static const struct nf_rule webp_rules[] = {
	R_IN(TCP, 443, 443, "0.0.0.0/0", NULL, ACCEPT, 1),
};
static const char *const app_members[] = { "10.0.1.10", "10.0.1.11" };
static const char *const webp_members[] = { "10.0.2.10", "10.0.2.9", "10.0.2.10" };
static const char *const db_members[] = { "10.0.3.10" };
static const char *const admin_members[] = { "192.168.0.1" };
static const struct nf_group peer_groups[] = {
	{ "sg-web", webp_rules, ARRAY_SIZE(webp_rules), webp_members, ARRAY_SIZE(webp_members) },
	{ "sg-app", app_rules, ARRAY_SIZE(app_rules), app_members, ARRAY_SIZE(app_members) },
	{ "sg-db", NULL, 0, db_members, ARRAY_SIZE(db_members) },
	{ "sg-admin", NULL, 0, admin_members, ARRAY_SIZE(admin_members) },
	{ "sg-banned", NULL, 0, NULL, 0 },
	{ "sg-unused", webp_rules, ARRAY_SIZE(webp_rules), db_members, 1 }, /* no NIC: no set */
};
static const char *const app_only[] = { "sg-app" };
static const char *const webp_only[] = { "sg-web" };
static const struct nf_nic peer_nics[] = {
	{ "ecst-app", "52:54:00:00:01:0a", "10.0.1.10", app_only, 1 },
	{ "ecst-web", "52:54:00:00:02:0a", "10.0.2.10", webp_only, 1 },
};
static const struct nf_host peer_host = { "ECS", peer_groups, ARRAY_SIZE(peer_groups), peer_nics, 2 };

static void test_peer_groups(void **state)
{
	(void)state;
	expect_golden(&peer_host, "nf_peer.txt");
}

static void test_sets(void **state)
{
	_cleanup_free_ char *text = NULL;
	char set[NF_SET_NAME_MAX + 1];

	(void)state;
	assert_int_equal(nf_render_sets(&peer_host, &text), 0);
	assert_golden("nf_sets.txt", text);
	/* The first 10 hex digits of sha256("sg-web"), behind the prefix. */
	assert_int_equal(nf_set_name("ECS", "sg-web", set), 0);
	assert_string_equal(set, "ECS-619027e50d");
	assert_non_null(strstr(text, "create ECS-619027e50d hash:ip family inet -exist\n"));
	assert_int_equal(nf_set_name("EC-S", "sg-web", set), -EINVAL);
	/* The unused group has no set. */
	assert_int_equal(nf_set_name("ECS", "sg-unused", set), 0);
	assert_null(strstr(text, set));
}

/* ---- egress ---------------------------------------------------------------------- */

static const struct nf_rule egress_rules[] = {
	R_OUT(TCP, 25, 25, "0.0.0.0/0", NULL, DROP, 1),
	R_OUT(TCP, 443, 443, "1.2.3.4", NULL, ACCEPT, 2),
	R_OUT(UDP, 53, 53, "8.8.8.8/32", NULL, ACCEPT, 2),
	R_OUT(ICMP, -1, -1, "0.0.0.0/0", NULL, ACCEPT, 3),
	R_OUT(ALL, -1, -1, "0.0.0.0/0", NULL, DROP, 100),
	R_IN(TCP, 22, 22, "10.0.0.0/8", NULL, ACCEPT, 1),
};
static const struct nf_group egress_groups[] = {
	{ "sg-out", egress_rules, ARRAY_SIZE(egress_rules), NULL, 0 },
};
static const char *const out_only[] = { "sg-out" };
static const struct nf_nic egress_nics[] = {
	{ "ecst4", "02:00:00:00:00:04", "10.0.0.4", out_only, 1 },
};
static const struct nf_host egress_host = { "P_1", egress_groups, 1, egress_nics, 1 };

static void test_egress(void **state)
{
	(void)state;
	expect_golden(&egress_host, "nf_egress.txt");
}

/* ---- dispatch, stale taps, one NIC ------------------------------------------------ */

/* Two NICs: one in both groups above, one in the first only. */
static const char *const a_only[] = { "sg-a" };
static const struct nf_nic two_nics[] = {
	{ "ecst2", "52:54:00:aa:bb:02", "10.0.0.7", ab, 2 },
	{ "ecst1", "52:54:00:aa:bb:01", "10.0.0.5", a_only, 1 },
};
static const struct nf_host two_host = { "ECS", union_groups, 2, two_nics, 2 };

static void test_dispatch(void **state)
{
	const struct nf_host h = two_host;
	_cleanup_free_ char *zero = NULL, *two = NULL;

	(void)state;
	assert_int_equal(nf_render_filter(&h, NULL, 0, true, 0, 0, NULL, 0, &zero), 0);
	assert_golden("nf_dispatch_0.txt", zero);
	assert_int_equal(nf_render_filter(&h, NULL, 0, true, 2, 2, NULL, 0, &two), 0);
	assert_golden("nf_dispatch_2.txt", two);
}

static void test_stale(void **state)
{
	const struct nf_host h = two_host;
	const char *const stale[] = { "ecst9", "ecst7", "ecst9" };
	const char *const in_model[] = { "ecst1" };
	const char *const bad_tap[] = { "-x" };
	_cleanup_free_ char *text = NULL;
	char *t = NULL;

	(void)state;
	assert_int_equal(nf_render_filter(&h, NULL, 0, true, 1, 1, stale, 3, &text), 0);
	assert_golden("nf_stale.txt", text);
	/* A NIC of the model is never stale; stale chains need the dispatch regenerated. */
	assert_int_equal(nf_render_filter(&h, NULL, 0, true, 1, 1, in_model, 1, &t), -EINVAL);
	assert_int_equal(nf_render_filter(&h, NULL, 0, true, 1, 1, bad_tap, 1, &t), -EINVAL);
	assert_int_equal(nf_render_filter(&h, NULL, 0, false, 0, 0, stale, 1, &t), -EINVAL);
	assert_int_equal(nf_render_filter(&h, NULL, 0, true, -1, 0, NULL, 0, &t), -EINVAL);
	assert_null(t);
}

static void test_only_taps(void **state)
{
	const struct nf_host h = two_host;
	const char *const only[] = { "ecst2" };
	const char *const unknown[] = { "ecst3" };
	_cleanup_free_ char *text = NULL, *all = NULL;
	char *t = NULL;

	(void)state;
	assert_int_equal(nf_render_filter(&h, only, 1, false, 0, 0, NULL, 0, &text), 0);
	assert_golden("nf_only.txt", text);
	assert_null(strstr(text, "ecst1"));
	assert_null(strstr(text, "FORWARD"));
	/* Its lines are the whole rendering's lines for that NIC. */
	all = render_all(&h);
	for (char *l = text, *nl; (nl = strchr(l, '\n')); l = nl + 1) {
		_cleanup_free_ char *line = strndup(l, (size_t)(nl - l + 1));

		if (str_has_prefix(line, "-A "))
			assert_non_null(strstr(all, line));
	}
	assert_int_equal(nf_render_filter(&h, unknown, 1, false, 0, 0, NULL, 0, &t), -EINVAL);
	assert_null(t);
}

static void test_expected(void **state)
{
	const struct nf_host h = two_host;
	_cleanup_free_ char *text = NULL;

	(void)state;
	assert_int_equal(nf_render_expected(&h, &text), 0);
	assert_golden("nf_expected.txt", text);
}

/* ---- the same text whatever the order ---------------------------------------------- */

/* A deterministic shuffle (xorshift), so a failure repeats. */
static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

#define SHUFFLE(a, n)                                         \
	do {                                                  \
		for (size_t _i = (n); _i > 1; _i--) {         \
			size_t _j = rnd() % _i;               \
			__typeof__((a)[0]) _t = (a)[_i - 1];  \
			(a)[_i - 1] = (a)[_j];                \
			(a)[_j] = _t;                         \
		}                                             \
	} while (0)

/* A copy of h with every list in a new order; freed by permuted_free. */
struct permuted {
	struct nf_host h;
	struct nf_group *groups;
	struct nf_rule **rules;
	const char ***members;
	struct nf_nic *nics;
	const char ***gids;
};

static void permute(const struct nf_host *h, struct permuted *p)
{
	*p = (struct permuted){ .h = *h };
	p->groups = calloc(h->n_groups, sizeof(*p->groups));
	p->rules = calloc(h->n_groups, sizeof(*p->rules));
	p->members = calloc(h->n_groups, sizeof(*p->members));
	p->nics = calloc(h->n_nics, sizeof(*p->nics));
	p->gids = calloc(h->n_nics, sizeof(*p->gids));
	for (size_t i = 0; i < h->n_groups; i++) {
		const struct nf_group *g = &h->groups[i];

		p->groups[i] = *g;
		p->rules[i] = calloc(g->n_rules + 1, sizeof(struct nf_rule));
		memcpy(p->rules[i], g->rules, g->n_rules * sizeof(struct nf_rule));
		SHUFFLE(p->rules[i], g->n_rules);
		p->groups[i].rules = p->rules[i];
		p->members[i] = calloc(g->n_members + 1, sizeof(char *));
		memcpy(p->members[i], g->members, g->n_members * sizeof(char *));
		SHUFFLE(p->members[i], g->n_members);
		p->groups[i].members = p->members[i];
	}
	SHUFFLE(p->groups, h->n_groups);
	for (size_t i = 0; i < h->n_nics; i++) {
		const struct nf_nic *n = &h->nics[i];

		p->nics[i] = *n;
		p->gids[i] = calloc(n->n_groups + 1, sizeof(char *));
		memcpy(p->gids[i], n->group_ids, n->n_groups * sizeof(char *));
		SHUFFLE(p->gids[i], n->n_groups);
		p->nics[i].group_ids = p->gids[i];
	}
	SHUFFLE(p->nics, h->n_nics);
	p->h.groups = p->groups;
	p->h.nics = p->nics;
}

static void permuted_free(struct permuted *p)
{
	for (size_t i = 0; i < p->h.n_groups; i++) {
		free(p->rules[i]);
		free(p->members[i]);
	}
	for (size_t i = 0; i < p->h.n_nics; i++)
		free(p->gids[i]);
	free(p->groups);
	free(p->rules);
	free(p->members);
	free(p->nics);
	free(p->gids);
}

static void test_order_independent(void **state)
{
	const struct nf_host *hosts[] = { &one_host, &union_host, &peer_host, &egress_host };

	(void)state;
	for (size_t k = 0; k < ARRAY_SIZE(hosts); k++) {
		_cleanup_free_ char *want = NULL, *want_sets = NULL;

		want = render_all(hosts[k]);
		assert_int_equal(nf_render_sets(hosts[k], &want_sets), 0);
		for (int round = 0; round < 20; round++) {
			struct permuted p;
			_cleanup_free_ char *got = NULL, *got_sets = NULL;

			permute(hosts[k], &p);
			got = render_all(&p.h);
			assert_int_equal(nf_render_sets(&p.h, &got_sets), 0);
			permuted_free(&p);
			assert_string_equal(got, want);
			assert_string_equal(got_sets, want_sets);
		}
	}
}

/* ---- every invalid model refused ------------------------------------------------- */

struct fx {
	struct nf_rule rules[2];
	const char *members[2];
	struct nf_group groups[2];
	const char *gids[NF_GROUPS_PER_NIC_MAX + 1];
	const char *gids2[1];
	struct nf_nic nics[2];
	struct nf_host host;
};

static void fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	f->rules[0] = (struct nf_rule)R_IN(TCP, 22, 22, "0.0.0.0/0", NULL, ACCEPT, 1);
	f->rules[1] = (struct nf_rule)R_OUT(ALL, -1, -1, NULL, "sg-2", DROP, 100);
	f->members[0] = "10.0.0.5";
	f->members[1] = "10.0.0.6";
	f->groups[0] = (struct nf_group){ "sg-1", f->rules, 2, f->members, 2 };
	f->groups[1] = (struct nf_group){ "sg-2", NULL, 0, NULL, 0 };
	f->gids[0] = "sg-1";
	f->gids2[0] = "sg-2";
	f->nics[0] = (struct nf_nic){ "ecst1", "52:54:00:aa:bb:01", "10.0.0.5", f->gids, 1 };
	f->nics[1] = (struct nf_nic){ "ecst2", "52:54:00:aa:bb:02", "10.0.0.6", f->gids2, 1 };
	f->host = (struct nf_host){ "ECS", f->groups, 2, f->nics, 2 };
}

struct bad_case {
	const char *name;
	void (*mutate)(struct fx *f);
	const char *message; /* a part of the message */
};

/* X(name, the change to a valid model, a part of the message it must give) */
#define BAD_CASES(X) \
	X(prefix_empty, f->host.prefix = "", "prefix \"\" must be") \
	X(prefix_null, f->host.prefix = NULL, "prefix") \
	X(prefix_long, f->host.prefix = "ABCDEFGHI", "must be 1-8") \
	X(prefix_dash, f->host.prefix = "EC-S", "\"EC-S\"") \
	X(groups_null, f->host.groups = NULL, "2 groups") \
	X(nics_null, f->host.nics = NULL, "2 nics") \
	X(group_id_empty, f->groups[1].group_id = "", "group 1: id \"\"") \
	X(group_id_bad, f->groups[1].group_id = "sg 2", "id \"sg 2\"") \
	X(group_id_long, f->groups[1].group_id = "g1234567890123456789012345678901234567890123456789012345678901234", "must be 1-64") \
	X(group_twice, f->groups[1].group_id = "sg-1", "group sg-1 is given twice") \
	X(too_many_rules, f->groups[0].n_rules = NF_RULES_PER_GROUP_MAX + 1, "201 rules, at most 200") \
	X(rules_null, f->groups[0].rules = NULL, "no rule array") \
	X(members_null, f->groups[0].members = NULL, "no member array") \
	X(member_bad, f->members[1] = "10.0.0.06", "member 1: \"10.0.0.06\"") \
	X(direction_bad, f->rules[0].direction = (enum nf_direction)7, "unknown direction 7") \
	X(proto_bad, f->rules[0].proto = (enum nf_proto)9, "unknown protocol 9") \
	X(policy_bad, f->rules[0].policy = (enum nf_policy)3, "unknown policy 3") \
	X(priority_low, f->rules[0].priority = 0, "priority 0 is outside 1-100") \
	X(priority_high, f->rules[0].priority = 101, "priority 101") \
	X(port_zero, f->rules[0].port_from = 0, "port range 0/22 is outside") \
	X(port_high, f->rules[0].port_to = 65536, "port range 22/65536") \
	X(port_reversed, (f->rules[0].port_from = 80, f->rules[0].port_to = 79), "ends before it starts") \
	X(port_half, f->rules[0].port_to = -1, "port range 22/-1") \
	X(port_icmp, f->rules[0].proto = NF_PROTO_ICMP, "icmp takes no ports") \
	X(port_all, (f->rules[1].port_from = 1, f->rules[1].port_to = 2), "all takes no ports") \
	X(cidr_and_peer, f->rules[0].peer_group_id = "sg-2", "exactly one of") \
	X(neither, f->rules[1].peer_group_id = NULL, "exactly one of") \
	X(cidr_len, f->rules[0].cidr = "10.0.0.0/33", "\"10.0.0.0/33\" is no IPv4 CIDR") \
	X(cidr_neg, f->rules[0].cidr = "10.0.0.0/-1", "is no IPv4 CIDR") \
	X(cidr_zero_pad, f->rules[0].cidr = "10.0.0.0/08", "is no IPv4 CIDR") \
	X(cidr_empty_len, f->rules[0].cidr = "10.0.0.0/", "is no IPv4 CIDR") \
	X(cidr_short, f->rules[0].cidr = "10.0.0", "is no IPv4 CIDR") \
	X(cidr_v6, f->rules[0].cidr = "::1/128", "is no IPv4 CIDR") \
	X(peer_unknown, f->rules[1].peer_group_id = "sg-9", "peer group \"sg-9\" is not in the model") \
	X(tap_empty, f->nics[0].tap = "", "nic 0: tap \"\"") \
	X(tap_null, f->nics[0].tap = NULL, "nic 0: tap") \
	X(tap_long, f->nics[0].tap = "ecst0123456789ab", "is no interface name") \
	X(tap_slash, f->nics[0].tap = "ecs/1", "\"ecs/1\" is no interface name") \
	X(tap_dash, f->nics[0].tap = "-ecst1", "no leading '-'") \
	X(tap_dot, f->nics[0].tap = "..", "\"..\" is no interface name") \
	X(tap_twice, f->nics[1].tap = "ecst1", "nic ecst1 is given twice") \
	X(mac_bad, f->nics[0].mac = "52:54:00:aa:bb", "MAC \"52:54:00:aa:bb\"") \
	X(mac_sep, f->nics[0].mac = "52-54-00-aa-bb-01", "is not xx:xx") \
	X(mac_hex, f->nics[0].mac = "52:54:00:aa:bb:0g", "is not xx:xx") \
	X(ip_bad, f->nics[0].ip = "10.0.0.256", "\"10.0.0.256\" is no IPv4 address") \
	X(ip_null, f->nics[0].ip = NULL, "is no IPv4 address") \
	X(ip_twice, f->nics[1].ip = "10.0.0.5", "have the same address 10.0.0.5") \
	X(no_groups, f->nics[0].n_groups = 0, "in 0 groups, must be in 1-5") \
	X(too_many_groups, \
	  (f->gids[1] = "sg-2", f->gids[2] = "sg-3", f->gids[3] = "sg-4", f->gids[4] = "sg-5", f->gids[5] = "sg-6", \
	   f->nics[0].n_groups = 6), \
	  "in 6 groups") \
	X(group_unknown, f->gids[0] = "sg-x", "group \"sg-x\" is not in the model") \
	X(group_null, f->gids[0] = NULL, "group \"\" is not in the model") \
	X(group_named_twice, (f->gids[1] = "sg-1", f->nics[0].n_groups = 2), "group sg-1 is named twice") \
	X(gids_null, f->nics[0].group_ids = NULL, "no group array") \
	X(too_many_nics, f->host.n_nics = NF_HOST_NICS_MAX + 1, "1025 nics")

#define MUTATOR(n, body, msg) \
	static void mut_##n(struct fx *f) \
	{ \
		body; \
	}
BAD_CASES(MUTATOR)
#undef MUTATOR

static const struct bad_case bad_cases[] = {
#define ROW(n, body, msg) { #n, mut_##n, msg },
	BAD_CASES(ROW)
#undef ROW
};

static void test_validate_ok(void **state)
{
	struct fx f;
	char *error = (char *)"untouched";

	(void)state;
	fx_init(&f);
	assert_int_equal(nf_host_validate(&f.host, &error), 0);
	assert_null(error);
	/* Edges that are fine: a bare address, /0, the whole port range, five groups, no NICs. */
	f.rules[0].cidr = "10.0.0.1";
	f.rules[0].port_from = 1;
	f.rules[0].port_to = 65535;
	f.gids[1] = "sg-2";
	f.nics[0].n_groups = 2;
	f.host.prefix = "ABCDEFG_";
	assert_int_equal(nf_host_validate(&f.host, NULL), 0);
	f.host.n_nics = 0;
	assert_int_equal(nf_host_validate(&f.host, NULL), 0);
	assert_int_equal(nf_host_validate(NULL, &error), -EINVAL);
	assert_string_equal(error, "no host model");
	free(error);
}

static void test_validate_rejects(void **state)
{
	/* The renderers and appliers log each message: keep the run readable. */
	FILE *quiet = quiet_logs();

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		_cleanup_free_ char *error = NULL, *rec = NULL;
		struct fx f;
		char *text = NULL;
		int r;

		fx_init(&f);
		c->mutate(&f);
		r = nf_host_validate(&f.host, &error);
		assert_refused(c->name, r, error, c->message);
		/* Every entry point refuses it too, and runs no command. */
		ecs_cmd_dry_run_start(NULL, NULL);
		assert_int_equal(nf_render_sets(&f.host, &text), -EINVAL);
		assert_int_equal(nf_render_filter(&f.host, NULL, 0, true, 0, 0, NULL, 0, &text), -EINVAL);
		assert_int_equal(nf_render_expected(&f.host, &text), -EINVAL);
		assert_int_equal(nf_apply_host(&f.host), -EINVAL);
		assert_int_equal(nf_apply_nics(&f.host, NULL, 0), -EINVAL);
		rec = ecs_cmd_dry_run_stop();
		assert_string_equal(rec, "");
		assert_null(text);
	}
	loud_logs(quiet);
}

/* ---- reading iptables-save ------------------------------------------------------- */

/* nf_state_parse of save into *st: its text, forward and input jumps and chains (NULL-ended). */
static void expect_state(const char *save, const char *text, int forward_jumps, int input_jumps,
			 const char *const *chains, struct nf_state *st)
{
	size_t n = 0;

	assert_int_equal(nf_state_parse("ECS", save, st), 0);
	assert_string_equal(st->text, text);
	assert_int_equal(st->forward_jumps, forward_jumps);
	assert_int_equal(st->input_jumps, input_jumps);
	for (; chains[n]; n++) {
		assert_true(n < st->n_chains);
		assert_string_equal(st->chains[n], chains[n]);
	}
	assert_int_equal(st->n_chains, n);
}

static void test_state_parse(void **state)
{
	static const struct {
		const char *name;
		bool ours;
	} sets[] = {
		{ "ECS-0123456789", true },   { "ECS-0123456789-t", true }, { "ECS-0123456789-x", false },
		{ "ECS-012345678", false },   { "ECS-012345678A", false },  { "ECS2-0123456789", false },
		{ "OTHER", false },
	};
	static const char save[] = "# Generated by iptables-save v1.8.9 (nf_tables)\n"
				   "*filter\n"
				   ":INPUT ACCEPT [0:0]\n"
				   ":FORWARD DROP [0:0]\n"
				   ":ECS-O-t1 - [0:0]\n"
				   ":ECS-FWD - [0:0]\n"
				   ":ECS-META - [0:0]\n"
				   ":ECS2-FWD - [0:0]\n"
				   ":ECS-I-t1 - [0:0]\n"
				   ":ECS-S-gone - [0:0]\n"
				   ":ECS-INP - [0:0]\n"
				   "-A INPUT -j ECS-INP\n"
				   "-A INPUT -d 100.100.100.200/32 -j ECS-META\n"
				   "-A FORWARD -j ECS-FWD\n"
				   "-A FORWARD -j ECS2-FWD\n"
				   "-A FORWARD -i eth0 -j ECS-FWD\n"
				   "-A FORWARD -j ECS-FWD\n"
				   "-A ECS-O-t1 -j RETURN\n"
				   "-A ECS-FWD -m physdev --physdev-in t1 --physdev-is-bridged -j ECS-O-t1\n"
				   "-A ECS-META -j DROP\n"
				   "-A ECS2-FWD -j DROP\n"
				   "-A ECS-I-t1 -j ACCEPT\n"
				   "-A ECS-FWD -j ACCEPT\n"
				   "-A ECS-I-t1 -j DROP\n"
				   "COMMIT\n";
	struct nf_state st = { 0 };

	(void)state;
	expect_state(save, "-A ECS-FWD -m physdev --physdev-in t1 --physdev-is-bridged -j ECS-O-t1\n"
		     "-A ECS-FWD -j ACCEPT\n"
		     "-A ECS-I-t1 -j ACCEPT\n"
		     "-A ECS-I-t1 -j DROP\n"
		     "-A ECS-O-t1 -j RETURN\n",
		     2, 1, (const char *const[]){ "ECS-FWD", "ECS-I-t1", "ECS-INP", "ECS-O-t1", "ECS-S-gone", NULL }, &st);
	nf_state_clear(&st);
	nf_state_clear(&st); /* twice is harmless */

	/* Whose set each name is: ours (prefix "ECS") or not. */
	for (size_t i = 0; i < ARRAY_SIZE(sets); i++)
		if (nf_set_is_ours("ECS", sets[i].name) != sets[i].ours)
			fail_msg("nf_set_is_ours(\"ECS\", \"%s\") is not %d", sets[i].name, sets[i].ours);
}

/* The details of the reduction: every line is read whatever its table (the text comes from
 * `iptables-save -t filter` or our own rendering) and before any table line; a chain is
 * listed when declared (once however often), not for having lines; a jump counts only as
 * the exact line (no '\r' is taken off: it stays in the text too). */
static void test_state_parse_details(void **state)
{
	static const char save[] = "-A ECS-FWD -j ACCEPT\n"
				   "*nat\n"
				   ":ECS-I-t9 - [0:0]\n"
				   "-A FORWARD -j ECS-FWD\n"
				   "-A ECS-I-t9 -j DROP\n"
				   "COMMIT\n"
				   "*filter\n"
				   ":ECS-FWD - [0:0]\n"
				   ":ECS-FWD - [0:0]\n"
				   ":ECS-INP - [0:0]\n"
				   ":ECS-O-t1\r\n"
				   "-A INPUT -j ECS-INP\r\n"
				   "-A INPUT -j ECS-INP\n"
				   "-A ECS-S-t2 -j DROP\n"
				   "\n"
				   "-A ECS-FWD -j DROP\r\n"
				   "COMMIT\n";
	struct nf_state st = { 0 };

	(void)state;
	expect_state(save, "-A ECS-FWD -j ACCEPT\n"
		     "-A ECS-FWD -j DROP\r\n"
		     "-A ECS-I-t9 -j DROP\n"
		     "-A ECS-S-t2 -j DROP\n",
		     1, 1, (const char *const[]){ "ECS-FWD", "ECS-I-t9", "ECS-INP", NULL }, &st);
	nf_state_clear(&st);

	/* Nothing at all: an empty text, no chains. */
	expect_state("", "", 0, 0, (const char *const[]){ NULL }, &st);
	nf_state_clear(&st);
}

/* ---- the commands, recorded ------------------------------------------------------ */

/* A kernel holding: our jump once in FORWARD and twice in INPUT, the chains of a NIC gone
 * (ecst9), the metadata guard's chain (not ours), a chain no tap could name (left alone);
 * sets: one still needed, one of a group gone, a twin left over, someone else's. */
static void fake_kernel(const char *const *argv, const char *stdin_text, char **out, int *status, void *userdata)
{
	(void)stdin_text;
	(void)userdata;
	*status = 0;
	if (streq(argv[0], "iptables-save"))
		*out = strdup("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
			      ":ECS-FWD - [0:0]\n:ECS-I-ecst9 - [0:0]\n:ECS-INP - [0:0]\n:ECS-META - [0:0]\n"
			      ":ECS-O-ecst9 - [0:0]\n:ECS-S-ecst9 - [0:0]\n:ECS-S-a+b - [0:0]\n"
			      "-A INPUT -j ECS-INP\n-A INPUT -d 100.100.100.200/32 -j ECS-META\n-A INPUT -j ECS-INP\n"
			      "-A FORWARD -j ECS-FWD\n"
			      "-A ECS-FWD -m physdev --physdev-in ecst9 --physdev-is-bridged -j ECS-O-ecst9\n"
			      "COMMIT\n");
	else if (streq(argv[0], "ipset") && streq(argv[1], "list"))
		*out = strdup("ECS-619027e50d\nECS-0000000000\nECS-619027e50d-t\nOTHER-set\n");
}

static void test_apply_dry_run(void **state)
{
	const struct nf_host h = two_host;
	const char *const one[] = { "ecst1" };
	_cleanup_free_ char *rec = NULL;

	(void)state;
	ecs_cmd_dry_run_start(fake_kernel, NULL);
	assert_int_equal(nf_apply_host(&h), 0);
	assert_int_equal(nf_apply_nics(&h, one, 1), 0);
	assert_int_equal(nf_apply_nics(&h, NULL, 0), 0); /* the sets alone */
	assert_int_equal(nf_remove_all("ECS"), 0);
	assert_int_equal(nf_conntrack_flush_ip("10.0.0.5"), 0);
	rec = ecs_cmd_dry_run_stop();
	assert_golden("nf_apply_dry_run.txt", rec);
}

static void test_apply_rejects(void **state)
{
	const struct nf_host h = two_host;
	const char *const unknown[] = { "ecst5" };
	_cleanup_free_ char *rec = NULL;
	char *text = NULL;
	int fwd = 0, inp = 0;

	(void)state;
	ecs_cmd_dry_run_start(fake_kernel, NULL);
	assert_int_equal(nf_apply_nics(&h, unknown, 1), -EINVAL);
	assert_int_equal(nf_apply_nics(&h, NULL, 1), -EINVAL);
	assert_int_equal(nf_remove_all("bad-prefix"), -EINVAL);
	assert_int_equal(nf_remove_all(NULL), -EINVAL);
	assert_int_equal(nf_read_state("no-no", &text, &fwd, &inp), -EINVAL);
	assert_int_equal(nf_conntrack_flush_ip("10.0.0.5; rm -rf /"), -EINVAL);
	assert_int_equal(nf_conntrack_flush_ip(NULL), -EINVAL);
	rec = ecs_cmd_dry_run_stop();
	assert_string_equal(rec, "");
	assert_null(text);
}

UNIT_MAIN("nf_secgroup", NULL, NULL, NULL, NULL,
	  cmocka_unit_test(test_one_nic_one_group),
	  cmocka_unit_test(test_two_groups_union),
	  cmocka_unit_test(test_peer_groups),
	  cmocka_unit_test(test_sets),
	  cmocka_unit_test(test_egress),
	  cmocka_unit_test(test_dispatch),
	  cmocka_unit_test(test_stale),
	  cmocka_unit_test(test_only_taps),
	  cmocka_unit_test(test_expected),
	  cmocka_unit_test(test_order_independent),
	  cmocka_unit_test(test_validate_ok),
	  cmocka_unit_test(test_validate_rejects),
	  cmocka_unit_test(test_state_parse),
	  cmocka_unit_test(test_state_parse_details),
	  cmocka_unit_test(test_apply_dry_run),
	  cmocka_unit_test(test_apply_rejects))
