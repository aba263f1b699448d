/* Tests for netfilter/nf_slb.c: the rendering of load balancers and public IPs against
 * golden files (wrr probabilities, rr, the all-abnormal rule, public IPs, the removal of
 * what is gone), that the text depends only on the model's contents, every validation
 * error, the reading of iptables-save, the commands (recorded), and a real apply in a
 * private network namespace read back and converged.
 *
 * main() moves the binary into a new network namespace: every rule made here dies with the
 * process. Without one (not root) the kernel test is skipped. */
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmd.h"
#include "golden.h"
#include "log.h"
#include "nf_slb.h"
#include "quiet.h"
#include "util.h"

static bool in_netns;

/* ---- a fixture the cases mutate ---------------------------------------------------- */

struct fx {
	struct nf_slb_backend backends[4];
	bool abnormal[2][4];
	struct nf_slb_listener listeners[2];
	struct nf_slb_lb lbs[2];
	struct nf_slb_eip eips[2];
	const char *cidrs[2];
	struct nf_slb_host host;
};

/* One LB (lb-web, 10.240.0.250) with tcp/80 wrr and udp/53 rr over three backends
 * weighted 100/50/50, and one public IP; the second LB and public IP are there for the
 * cases that need them (n_lbs/n_eips 1). */
static void fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	f->backends[0] = (struct nf_slb_backend){ "i-web1", "10.240.0.5", 100 };
	f->backends[1] = (struct nf_slb_backend){ "i-web2", "10.240.0.6", 50 };
	f->backends[2] = (struct nf_slb_backend){ "i-web3", "10.240.0.7", 50 };
	f->listeners[0] = (struct nf_slb_listener){ NF_SLB_TCP, 80, 8080, NF_SLB_WRR, true, NULL };
	f->listeners[1] = (struct nf_slb_listener){ NF_SLB_UDP, 53, 53, NF_SLB_RR, true, NULL };
	f->lbs[0] = (struct nf_slb_lb){ "lb-web", "10.240.0.250", true, f->listeners, 2, f->backends, 3 };
	f->lbs[1] = (struct nf_slb_lb){ "lb-other", "10.240.0.251", true, NULL, 0, NULL, 0 };
	f->eips[0] = (struct nf_slb_eip){ "198.18.0.50", "10.240.0.9" };
	f->eips[1] = (struct nf_slb_eip){ "198.18.0.51", "10.240.0.10" };
	f->cidrs[0] = "10.240.0.1/16";
	f->cidrs[1] = "192.168.7.1/24";
	f->host = (struct nf_slb_host){ .prefix = "ECS", .snat_ip = "10.240.0.1", .bridge = "ecsbr0",
					.local_cidrs = f->cidrs, .n_local_cidrs = 1, .lbs = f->lbs, .n_lbs = 1,
					.eips = f->eips, .n_eips = 0 };
}

static char *render_new(const struct nf_slb_host *h)
{
	char *text = NULL;

	assert_int_equal(nf_slb_render(h, NULL, &text), 0);
	assert_non_null(text);
	return text;
}

/* The share of new connections each rule of a listener chain gets, from its
 * probabilities: rule k takes p_k of what the rules before it left. */
static void shares(const char *text, const char *chain, double *out, size_t *ret_n)
{
	double left = 1.0;
	size_t n = 0;

	for (const char *l = text; (l = strstr(l, "-A ")); l++) {
		const char *eol = strchr(l, '\n'), *p;
		double prob = 1.0;

		if (strncmp(l + 3, chain, strlen(chain)) != 0 || l[3 + strlen(chain)] != ' ')
			continue;
		p = strstr(l, "--probability ");
		if (p && p < eol)
			prob = strtod(p + strlen("--probability "), NULL);
		out[n++] = left * prob;
		left -= left * prob;
	}
	*ret_n = n;
}

/* The shares of lb-web's tcp/80 chain in text are want[0..n_want-1]. */
static void assert_shares(const char *text, const double *want, size_t n_want)
{
	char chain[NF_SLB_CHAIN_MAX + 1];
	double s[8];
	size_t n;

	assert_int_equal(nf_slb_chain_name("ECS", "lb-web", NF_SLB_TCP, 80, chain), 0);
	shares(text, chain, s, &n);
	assert_int_equal(n, n_want);
	for (size_t i = 0; i < n; i++)
		assert_true(fabs(s[i] - want[i]) < 1e-9);
}

/* ---- rendering --------------------------------------------------------------------- */

static void test_wrr(void **state)
{
	_cleanup_free_ char *text = NULL;
	struct fx f;

	(void)state;
	fx_init(&f);
	f.host.n_eips = 0;
	f.lbs[0].n_listeners = 1;
	text = render_new(&f.host);
	assert_golden("nf_slb_wrr.txt", text);
	assert_shares(text, (const double[]){ 0.50, 0.25, 0.25 }, 3);
}

static void test_wrr_zero_weight(void **state)
{
	_cleanup_free_ char *text = NULL;
	struct fx f;

	(void)state;
	fx_init(&f);
	f.backends[0].weight = 1;
	f.backends[1].weight = 0;
	f.backends[2].weight = 3;
	f.lbs[0].n_listeners = 1;
	text = render_new(&f.host);
	assert_golden("nf_slb_wrr_zero.txt", text);
	assert_null(strstr(text, "10.240.0.6:")); /* weight 0: no traffic */
	assert_shares(text, (const double[]){ 0.25, 0.75 }, 2);
}

static void test_rr(void **state)
{
	_cleanup_free_ char *text = NULL;
	struct fx f;

	(void)state;
	fx_init(&f);
	f.listeners[0].scheduler = NF_SLB_RR;
	f.listeners[1].running = false; /* stopped: no chain, no dispatch */
	text = render_new(&f.host);
	assert_golden("nf_slb_rr.txt", text);
	assert_null(strstr(text, "udp"));
	assert_non_null(strstr(text, "--mode nth --every 3 --packet 0"));
	assert_non_null(strstr(text, "--mode nth --every 2 --packet 0"));
}

static void test_abnormal(void **state)
{
	_cleanup_free_ char *one = NULL, *all = NULL, *healthy = NULL, *inactive = NULL;
	struct fx f;

	(void)state;
	fx_init(&f);
	f.lbs[0].n_listeners = 1;
	healthy = render_new(&f.host);
	/* One abnormal backend is left out; the rest share by weight (50/50 here). */
	f.abnormal[0][0] = true;
	f.listeners[0].abnormal = f.abnormal[0];
	one = render_new(&f.host);
	assert_null(strstr(one, "10.240.0.5:"));
	/* Every weighted backend abnormal: traffic goes to all of them, as if healthy. */
	f.abnormal[0][1] = f.abnormal[0][2] = true;
	all = render_new(&f.host);
	assert_string_equal(all, healthy);
	/* A weight-0 backend does not count as "normal" for that rule. */
	f.backends[1].weight = 0;
	f.abnormal[0][1] = false;
	assert_false(nf_slb_backend_serves(&f.lbs[0], &f.listeners[0], 1));
	assert_true(nf_slb_backend_serves(&f.lbs[0], &f.listeners[0], 0));
	assert_true(nf_slb_backend_serves(&f.lbs[0], &f.listeners[0], 2));
	assert_false(nf_slb_backend_serves(&f.lbs[0], &f.listeners[0], 3));
	/* An inactive LB has no rules at all, but the dispatch chains stay. */
	f.lbs[0].active = false;
	inactive = render_new(&f.host);
	{
		_cleanup_free_ char *golden = ecs_strdup_printf("--- one abnormal\n%s--- all abnormal\n%s--- inactive\n%s",
								  one, all, inactive);
		assert_golden("nf_slb_abnormal.txt", golden);
	}
}

static void test_public_ips(void **state)
{
	_cleanup_free_ char *text = NULL;
	struct fx f;

	(void)state;
	fx_init(&f);
	f.host.n_lbs = 0;
	f.host.n_eips = 2;
	f.host.n_local_cidrs = 2;
	text = render_new(&f.host);
	assert_golden("nf_slb_eip.txt", text);
}

static void test_order_independent(void **state)
{
	_cleanup_free_ char *a = NULL, *b = NULL, *ea = NULL, *eb = NULL;
	struct fx f, g;

	(void)state;
	fx_init(&f);
	f.host.n_lbs = 2;
	f.host.n_eips = 2;
	f.host.n_local_cidrs = 2;
	f.abnormal[0][1] = true;
	f.listeners[0].abnormal = f.abnormal[0];
	a = render_new(&f.host);
	assert_int_equal(nf_slb_render_expected(&f.host, &ea), 0);

	/* The same contents in another order everywhere (the flags follow their backends). */
	fx_init(&g);
	g.backends[0] = f.backends[2];
	g.backends[2] = f.backends[0];
	g.abnormal[1][1] = true;
	g.listeners[0] = f.listeners[1];
	g.listeners[1] = f.listeners[0];
	g.listeners[1].abnormal = g.abnormal[1];
	g.lbs[0] = f.lbs[1];
	g.lbs[1] = f.lbs[0];
	g.eips[0] = f.eips[1];
	g.eips[1] = f.eips[0];
	g.cidrs[0] = "192.168.7.0/24";
	g.cidrs[1] = "10.240.0.0/16";
	g.host.lbs = g.lbs;
	g.host.n_lbs = 2;
	g.host.n_eips = 2;
	g.host.n_local_cidrs = 2;
	b = render_new(&g.host);
	assert_int_equal(nf_slb_render_expected(&g.host, &eb), 0);
	assert_string_equal(a, b);
	assert_string_equal(ea, eb);
}

/* The expected view, and the restore text from a kernel holding an older state: a
 * listener chain gone, jumps doubled, the filter jump missing. */
static void test_stale_and_expected(void **state)
{
	static const char save[] = "*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
				   ":ECS-PRE - [0:0]\n:ECS-DOUT - [0:0]\n:ECS-POST - [0:0]\n:ECS-L-0badc0de-8080 - [0:0]\n"
				   ":ECS-L-not-ours - [0:0]\n:OTHER-PRE - [0:0]\n"
				   "-A PREROUTING -j ECS-PRE\n-A PREROUTING -j ECS-PRE\n-A OUTPUT -j ECS-DOUT\n"
				   "-A POSTROUTING -j ECS-POST\n-A POSTROUTING -j MASQUERADE\n"
				   "-A ECS-PRE -d 10.1.1.1/32 -p tcp -m tcp --dport 8080 -j ECS-L-0badc0de-8080\n"
				   "-A ECS-L-0badc0de-8080 -p tcp -j DNAT --to-destination 10.1.1.2:80\n"
				   "COMMIT\n*filter\n:FORWARD ACCEPT [0:0]\n:ECS-LBF - [0:0]\n:ECS-FWD - [0:0]\n"
				   "-A FORWARD -j ECS-FWD\nCOMMIT\n";
	_cleanup_free_ char *text = NULL, *expected = NULL, *removal = NULL, *golden = NULL;
	struct nf_slb_state now = { 0 };
	struct fx f;

	(void)state;
	fx_init(&f);
	f.host.n_eips = 1;
	assert_int_equal(nf_slb_state_parse("ECS", save, &now), 0);
	assert_int_equal(now.n_chains, 5);
	assert_string_equal(now.chains[0], "ECS-DOUT");
	assert_string_equal(now.chains[1], "ECS-L-0badc0de-8080");
	assert_string_equal(now.chains[2], "ECS-LBF");
	assert_string_equal(now.chains[3], "ECS-POST");
	assert_string_equal(now.chains[4], "ECS-PRE");
	assert_int_equal(now.pre_jumps, 2);
	assert_int_equal(now.out_jumps, 1);
	assert_int_equal(now.post_jumps, 1);
	assert_int_equal(now.fwd_jumps, 0);
	assert_string_equal(now.text, "-A ECS-L-0badc0de-8080 -p tcp -j DNAT --to-destination 10.1.1.2:80\n"
				      "-A ECS-PRE -d 10.1.1.1/32 -p tcp -m tcp --dport 8080 -j ECS-L-0badc0de-8080\n");
	assert_int_equal(nf_slb_render(&f.host, &now, &text), 0);
	assert_int_equal(nf_slb_render_expected(&f.host, &expected), 0);
	/* Nothing wanted any more: everything of ours goes, nothing else. */
	f.host.n_lbs = 0;
	f.host.n_eips = 0;
	assert_int_equal(nf_slb_render(&f.host, &now, &removal), 0);
	golden = ecs_strdup_printf("--- restore\n%s--- expected\n%s--- removal\n%s", text, expected, removal);
	assert_golden("nf_slb_stale.txt", golden);
	nf_slb_state_clear(&now);
	nf_slb_state_clear(&now); /* twice is harmless */

	/* Nothing of ours and nothing wanted: nothing to do. */
	assert_int_equal(nf_slb_state_parse("ECS", "*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n", &now), 0);
	free(removal);
	assert_int_equal(nf_slb_render(&f.host, &now, &removal), 0);
	assert_string_equal(removal, "");
	nf_slb_state_clear(&now);
}

/* The details of reading iptables-save: only *nat and *filter are read (nothing before a
 * table line either), a chain is ours by its table (P-LBF in filter, the rest in nat), one
 * with lines is listed even undeclared, a declaration twice lists it once, each jump counts
 * in its own table only, and a '\r' ending is taken off. */
static void test_state_parse_details(void **state)
{
	static const char save[] = "-A PREROUTING -j ECS-PRE\n"
				   ":ECS-DOUT - [0:0]\n"
				   "*mangle\n"
				   ":ECS-POST - [0:0]\n"
				   "-A PREROUTING -j ECS-PRE\n"
				   "-A ECS-PRE -j ACCEPT\n"
				   "COMMIT\n"
				   "*nat\r\n"
				   ":ECS-PRE - [0:0]\r\n"
				   ":ECS-PRE - [0:0]\n"
				   ":ECS-LBF - [0:0]\n"
				   "-A PREROUTING -j ECS-PRE\r\n"
				   "-A FORWARD -j ECS-LBF\n"
				   "-A ECS-L-0badc0de-53u -p udp -j DNAT --to-destination 10.1.1.2:53\r\n"
				   "-A ECS-LBF -j ACCEPT\n"
				   "\r\n"
				   "COMMIT\r\n"
				   "*filter\n"
				   ":ECS-POST - [0:0]\n"
				   "-A PREROUTING -j ECS-PRE\n"
				   "-A OUTPUT -j ECS-DOUT\n"
				   "-A FORWARD -j ECS-LBF\r\n"
				   "-A FORWARD -j ECS-LBF\n"
				   "-A ECS-LBF -j ACCEPT\n"
				   "-A ECS-POST -j RETURN\n"
				   "COMMIT\n";
	struct nf_slb_state s = { 0 };

	(void)state;
	assert_int_equal(nf_slb_state_parse("ECS", save, &s), 0);
	assert_string_equal(s.text, "-A ECS-L-0badc0de-53u -p udp -j DNAT --to-destination 10.1.1.2:53\n"
				    "-A ECS-LBF -j ACCEPT\n");
	assert_int_equal(s.n_chains, 3);
	assert_string_equal(s.chains[0], "ECS-L-0badc0de-53u");
	assert_string_equal(s.chains[1], "ECS-LBF");
	assert_string_equal(s.chains[2], "ECS-PRE");
	assert_int_equal(s.pre_jumps, 1);
	assert_int_equal(s.out_jumps, 0);
	assert_int_equal(s.post_jumps, 0);
	assert_int_equal(s.fwd_jumps, 2);
	nf_slb_state_clear(&s);

	/* Nothing at all: an empty text, no chains. */
	assert_int_equal(nf_slb_state_parse("ECS", "", &s), 0);
	assert_string_equal(s.text, "");
	assert_int_equal(s.n_chains, 0);
	nf_slb_state_clear(&s);

	assert_int_equal(nf_slb_state_parse("no-no", save, &s), -EINVAL);
	assert_int_equal(nf_slb_state_parse("ECS", NULL, &s), -EINVAL);
	assert_null(s.text);
}

static void test_render_lb(void **state)
{
	_cleanup_free_ char *text = NULL, *none = NULL;
	struct fx f;

	(void)state;
	fx_init(&f);
	f.host.n_lbs = 2;
	f.abnormal[0][2] = true;
	f.listeners[0].abnormal = f.abnormal[0];
	assert_int_equal(nf_slb_render_lb(&f.host, "lb-web", &text), 0);
	assert_golden("nf_slb_lb.txt", text);
	assert_int_equal(nf_slb_render_lb(&f.host, "lb-other", &none), 0); /* no listeners */
	assert_string_equal(none, "");
	assert_int_equal(nf_slb_render_lb(&f.host, "lb-absent", &text), -ENOENT);
}

static void test_chain_names(void **state)
{
	char chain[NF_SLB_CHAIN_MAX + 1];

	(void)state;
	assert_int_equal(nf_slb_chain_name("ABCDEFGH", "lb-aaaaaaaaaaaaaaaaaaaa", NF_SLB_UDP, 65535, chain), 0);
	assert_int_equal(strlen(chain), 26);
	assert_true(str_has_prefix(chain, "ABCDEFGH-L-") && str_has_suffix(chain, "-65535u"));
	assert_int_equal(nf_slb_chain_name("ECS", "lb-x", NF_SLB_TCP, 0, chain), -EINVAL);
	assert_int_equal(nf_slb_chain_name("ECS-", "lb-x", NF_SLB_TCP, 1, chain), -EINVAL);
	assert_int_equal(nf_slb_chain_name("ECS", "-x", NF_SLB_TCP, 1, chain), -EINVAL);
}

/* ---- validation -------------------------------------------------------------------- */

struct bad_case {
	const char *name;
	void (*mutate)(struct fx *f);
	const char *message;
};

#define BAD(n, body, msg)                              \
	static void bad_##n(struct fx *f) { body; }    \
	static const struct bad_case case_##n = { #n, bad_##n, msg }

BAD(prefix, f->host.prefix = "ECS-1", "chain prefix");
BAD(prefix_long, f->host.prefix = "ABCDEFGHI", "chain prefix");
BAD(snat, f->host.snat_ip = "10.240.0.01", "SNAT address");
BAD(bridge, f->host.bridge = "-evil", "bridge");
BAD(cidr, f->cidrs[0] = "10.240.0.0", "local subnet");
BAD(cidr_len, f->cidrs[0] = "10.240.0.0/33", "local subnet");
BAD(cidrs_many, f->host.n_local_cidrs = 17, "local subnets");
BAD(lb_id, f->lbs[0].id = "lb web", "load balancer id");
BAD(lb_id_dash, f->lbs[0].id = "-lb", "load balancer id");
BAD(vip, f->lbs[0].address = "10.240.0.256", "address \"10.240.0.256\"");
BAD(vip_loopback, f->lbs[0].address = "127.0.0.2", "not a unicast");
BAD(vip_multicast, f->lbs[0].address = "224.0.0.1", "not a unicast");
BAD(vip_zero, f->lbs[0].address = "0.0.0.0", "not a unicast");
BAD(vip_host, f->lbs[0].address = "10.240.0.1", "the host's own");
BAD(listeners_many, f->lbs[0].n_listeners = NF_SLB_LISTENERS_MAX + 1, "more than 50 listeners");
BAD(backends_many, f->lbs[0].n_backends = NF_SLB_BACKENDS_MAX + 1, "more than 200 backends");
BAD(listener_array, f->lbs[0].listeners = NULL, "no listener or backend array");
BAD(proto, f->listeners[0].proto = (enum nf_slb_proto)7, "protocol");
BAD(port, f->listeners[0].port = 0, "port 0 is not in 1..65535");
BAD(port_high, f->listeners[0].port = 65536, "port 65536");
BAD(backend_port, f->listeners[0].backend_port = 70000, "backend_port 70000");
BAD(scheduler, f->listeners[0].scheduler = (enum nf_slb_scheduler)9, "scheduler");
BAD(listener_twice, f->listeners[1] = f->listeners[0], "two listeners on tcp/80");
BAD(server_id, f->backends[1].server_id = "", "server_id");
BAD(backend_ip, f->backends[1].ip = "10.240.0", "ip \"10.240.0\"");
BAD(backend_broadcast, f->backends[1].ip = "255.255.255.255", "not a unicast");
BAD(weight, f->backends[1].weight = 101, "weight 101");
BAD(weight_negative, f->backends[1].weight = -1, "weight -1");
BAD(backend_twice, f->backends[1].server_id = "i-web1", "backend i-web1 given twice");
BAD(backend_same_ip, f->backends[1].ip = "10.240.0.5", "share the address 10.240.0.5");
BAD(vip_twice, { f->host.n_lbs = 2; f->lbs[1].address = "10.240.0.250"; }, "used twice");
BAD(vip_is_eip, { f->host.n_eips = 1; f->eips[0].public_ip = "10.240.0.250"; }, "used twice");
BAD(eip_twice, { f->host.n_eips = 2; f->eips[1].public_ip = "198.18.0.50"; }, "used twice");
BAD(eip, { f->host.n_eips = 1; f->eips[0].public_ip = "198.18.0"; }, "public IP \"198.18.0\"");
BAD(eip_host, { f->host.n_eips = 1; f->eips[0].public_ip = "10.240.0.1"; }, "the host's own");
BAD(eip_private, { f->host.n_eips = 1; f->eips[0].private_ip = "x"; }, "private_ip \"x\"");
BAD(eip_self, { f->host.n_eips = 1; f->eips[0].private_ip = "198.18.0.50"; }, "maps to itself");
BAD(eip_private_twice, { f->host.n_eips = 2; f->eips[1].private_ip = "10.240.0.9"; }, "has two public IPs");
BAD(lbs_many, f->host.n_lbs = NF_SLB_LBS_MAX + 1, "more than 1024 load balancers");
BAD(eips_many, f->host.n_eips = NF_SLB_EIPS_MAX + 1, "more than 4096 public IPs");
/* Two ids whose SHA-256 share the first 8 hex digits would share chain names; found by a
 * search over lb-<n>: f83e55e2 for both. */
BAD(hash_collision, { f->host.n_lbs = 2; f->lbs[0].id = "lb-113442"; f->lbs[1].id = "lb-120772"; },
    "share a chain name hash");

static const struct bad_case *const bad_cases[] = {
	&case_prefix, &case_prefix_long, &case_snat, &case_bridge, &case_cidr, &case_cidr_len,
	&case_cidrs_many, &case_lb_id, &case_lb_id_dash, &case_vip, &case_vip_loopback, &case_vip_multicast,
	&case_vip_zero, &case_vip_host, &case_listeners_many, &case_backends_many, &case_listener_array,
	&case_proto, &case_port, &case_port_high, &case_backend_port, &case_scheduler, &case_listener_twice,
	&case_server_id, &case_backend_ip, &case_backend_broadcast, &case_weight, &case_weight_negative,
	&case_backend_twice, &case_backend_same_ip, &case_vip_twice, &case_vip_is_eip, &case_eip_twice,
	&case_eip, &case_eip_host, &case_eip_private, &case_eip_self, &case_eip_private_twice, &case_lbs_many,
	&case_eips_many, &case_hash_collision,
};

static void test_validate_ok(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	assert_int_equal(nf_slb_validate(&f.host, NULL), 0);
	f.host.n_lbs = 2;
	f.host.n_eips = 2;
	f.host.n_local_cidrs = 0;
	assert_int_equal(nf_slb_validate(&f.host, NULL), 0);
	f.host.prefix = "A_b9";
	f.backends[0].weight = 0;
	assert_int_equal(nf_slb_validate(&f.host, NULL), 0);
}

static void test_validate_rejects(void **state)
{
	FILE *quiet = quiet_logs();

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		const struct bad_case *c = bad_cases[i];
		_cleanup_free_ char *error = NULL, *rec = NULL;
		char *text = NULL;
		int r;
		struct fx f;

		fx_init(&f);
		c->mutate(&f);
		r = nf_slb_validate(&f.host, &error);
		assert_refused(c->name, r, error, c->message);
		/* Every entry point refuses it too, and runs no command. */
		ecs_cmd_dry_run_start(NULL, NULL);
		assert_int_equal(nf_slb_render(&f.host, NULL, &text), -EINVAL);
		assert_int_equal(nf_slb_render_expected(&f.host, &text), -EINVAL);
		assert_int_equal(nf_slb_render_lb(&f.host, "lb-web", &text), -EINVAL);
		assert_int_equal(nf_slb_apply(&f.host, false, NULL), -EINVAL);
		assert_int_equal(nf_slb_apply_lb(&f.host, "lb-web"), -EINVAL);
		rec = ecs_cmd_dry_run_stop();
		assert_string_equal(rec, "");
		assert_null(text);
	}
	assert_int_equal(nf_slb_validate(NULL, NULL), -EINVAL);
	loud_logs(quiet);
}

/* ---- the commands, recorded -------------------------------------------------------- */

static void fake_kernel(const char *const *argv, const char *stdin_text, char **out, int *status, void *userdata)
{
	const char *save = userdata;

	(void)stdin_text;
	*status = 0;
	if (streq(argv[0], "iptables-save"))
		*out = strdup(save);
}

static void test_apply_dry_run(void **state)
{
	static const char kernel[] = "*nat\n:PREROUTING ACCEPT [0:0]\n:ECS-PRE - [0:0]\n-A PREROUTING -j ECS-PRE\n"
				     "COMMIT\n*filter\n:FORWARD ACCEPT [0:0]\nCOMMIT\n";
	_cleanup_free_ char *rec = NULL, *expected = NULL, *same = NULL;
	struct fx f;
	bool changed = false;

	(void)state;
	fx_init(&f);
	f.lbs[0].n_listeners = 1;
	f.lbs[0].n_backends = 2;
	ecs_cmd_dry_run_start(fake_kernel, (void *)kernel);
	assert_int_equal(nf_slb_apply(&f.host, true, &changed), 0);
	assert_true(changed);
	assert_int_equal(nf_slb_apply_lb(&f.host, "lb-web"), 0);
	assert_int_equal(nf_slb_remove_all("ECS"), 0);
	assert_int_equal(nf_slb_conntrack_forget("10.240.0.250", 53, "10.240.0.6"), 0);
	rec = ecs_cmd_dry_run_stop();
	assert_golden("nf_slb_dry_run.txt", rec);

	/* A kernel holding exactly the rendering: nothing runs but the read. */
	assert_int_equal(nf_slb_render_expected(&f.host, &expected), 0);
	{
		_cleanup_free_ char *nat = NULL, *filter = NULL;
		size_t nat_len = 0, filter_len = 0;
		FILE *n = open_memstream(&nat, &nat_len), *fl = open_memstream(&filter, &filter_len);
		char *copy = strdup(expected), *save_ptr = NULL;

		for (char *l = strtok_r(copy, "\n", &save_ptr); l; l = strtok_r(NULL, "\n", &save_ptr))
			fprintf(str_has_prefix(l, "-A ECS-LBF ") ? fl : n, "%s\n", l);
		free(copy);
		fclose(n);
		fclose(fl);
		same = ecs_strdup_printf("*nat\n:ECS-PRE - [0:0]\n:ECS-DOUT - [0:0]\n:ECS-POST - [0:0]\n"
					 ":ECS-L-11286172-80 - [0:0]\n-A PREROUTING -j ECS-PRE\n-A OUTPUT -j ECS-DOUT\n"
					 "-A POSTROUTING -j ECS-POST\n%sCOMMIT\n*filter\n:ECS-LBF - [0:0]\n"
					 "-A FORWARD -j ECS-LBF\n%sCOMMIT\n",
					 nat, filter);
	}
	free(rec);
	ecs_cmd_dry_run_start(fake_kernel, same);
	assert_int_equal(nf_slb_apply(&f.host, true, &changed), 0);
	rec = ecs_cmd_dry_run_stop();
	assert_false(changed);
	assert_string_equal(rec, "iptables-save\n");

	/* Bad arguments run nothing. */
	free(rec);
	ecs_cmd_dry_run_start(fake_kernel, same);
	assert_int_equal(nf_slb_conntrack_forget("10.240.0.250; x", 53, "10.240.0.6"), -EINVAL);
	assert_int_equal(nf_slb_conntrack_forget("10.240.0.250", 0, "10.240.0.6"), -EINVAL);
	assert_int_equal(nf_slb_remove_all("bad-prefix"), -EINVAL);
	rec = ecs_cmd_dry_run_stop();
	assert_string_equal(rec, "");
}

/* ---- the real kernel, in this process's own network namespace ----------------------- */

static char *save_all(void)
{
	const char *argv[] = { "iptables-save", NULL };
	struct ecs_cmd_result res = { 0 };

	assert_int_equal(ecs_cmd_run_ok(argv, NULL, &res), 0);
	free(res.err);
	return res.out;
}

static void test_kernel(void **state)
{
	_cleanup_free_ char *expected = NULL;
	struct nf_slb_state st = { 0 };
	struct fx f;
	bool changed = false;

	(void)state;
	if (!in_netns)
		skip();
	fx_init(&f);
	f.host.n_lbs = 2;
	f.host.n_eips = 2;
	f.host.n_local_cidrs = 2;
	assert_int_equal(nf_slb_apply(&f.host, true, &changed), 0);
	assert_true(changed);
	/* What the kernel holds reads back as rendered: nothing to do the second time. */
	assert_int_equal(nf_slb_read_state("ECS", &st), 0);
	assert_int_equal(nf_slb_render_expected(&f.host, &expected), 0);
	assert_string_equal(st.text, expected);
	assert_int_equal(st.pre_jumps, 1);
	assert_int_equal(st.out_jumps, 1);
	assert_int_equal(st.post_jumps, 1);
	assert_int_equal(st.fwd_jumps, 1);
	nf_slb_state_clear(&st);
	assert_int_equal(nf_slb_apply(&f.host, true, &changed), 0);
	assert_false(changed);

	/* A health change through the LB's own chains reads back as the whole rendering. */
	f.abnormal[0][0] = true;
	f.listeners[0].abnormal = f.abnormal[0];
	assert_int_equal(nf_slb_apply_lb(&f.host, "lb-web"), 0);
	assert_int_equal(nf_slb_apply(&f.host, true, &changed), 0);
	assert_false(changed);

	/* Someone's stray change and a second jump are put right. */
	{
		const char *del[] = { "iptables", "-w", "-t", "nat", "-D", "ECS-POST", "1", NULL };
		const char *dup[] = { "iptables", "-w", "-t", "nat", "-A", "PREROUTING", "-j", "ECS-PRE", NULL };

		assert_int_equal(ecs_cmd_run_ok(del, NULL, NULL), 0);
		assert_int_equal(ecs_cmd_run_ok(dup, NULL, NULL), 0);
		assert_int_equal(nf_slb_apply(&f.host, true, &changed), 0);
		assert_true(changed);
		assert_int_equal(nf_slb_apply(&f.host, true, &changed), 0);
		assert_false(changed);
	}

	/* An LB gone: its chains go with it. */
	f.host.lbs = &f.lbs[1];
	f.host.n_lbs = 1;
	assert_int_equal(nf_slb_apply(&f.host, true, &changed), 0);
	{
		_cleanup_free_ char *save = save_all();

		assert_null(strstr(save, "ECS-L-"));
		assert_null(strstr(save, "lb-web"));
	}

	/* Everything gone: no chain, no jump; others' rules untouched. */
	{
		const char *other[] = { "iptables", "-w", "-t", "nat", "-A", "POSTROUTING", "-j", "MASQUERADE", NULL };
		_cleanup_free_ char *save = NULL;

		assert_int_equal(ecs_cmd_run_ok(other, NULL, NULL), 0);
		assert_int_equal(nf_slb_remove_all("ECS"), 0);
		save = save_all();
		assert_null(strstr(save, "ECS-"));
		assert_non_null(strstr(save, "-A POSTROUTING -j MASQUERADE"));
		assert_int_equal(nf_slb_remove_all("ECS"), 0); /* again: nothing to do */
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wrr),
		cmocka_unit_test(test_wrr_zero_weight),
		cmocka_unit_test(test_rr),
		cmocka_unit_test(test_abnormal),
		cmocka_unit_test(test_public_ips),
		cmocka_unit_test(test_order_independent),
		cmocka_unit_test(test_stale_and_expected),
		cmocka_unit_test(test_state_parse_details),
		cmocka_unit_test(test_render_lb),
		cmocka_unit_test(test_chain_names),
		cmocka_unit_test(test_validate_ok),
		cmocka_unit_test(test_validate_rejects),
		cmocka_unit_test(test_apply_dry_run),
		cmocka_unit_test(test_kernel),
	};

	in_netns = unshare(CLONE_NEWNET) == 0;
	if (!in_netns)
		fprintf(stderr, "no private network namespace (%s): the kernel test is skipped\n", strerror(errno));
	return cmocka_run_group_tests_name("nf_slb", tests, NULL, NULL);
}
