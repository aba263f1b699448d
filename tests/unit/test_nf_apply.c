/* Tests for netfilter/nf_apply.c against the real kernel: iptables 1.8.9 (nf_tables), ipset
 * and conntrack, in a private network namespace made at the start of main() (the unit
 * tests run as root; without a namespace of its own this binary fails rather than touch the
 * host's firewall). What iptables-save prints back must be what was rendered, applies are
 * idempotent, chains and sets of NICs gone go, someone else's chains and rules are never
 * touched, and traffic between two guests on a bridge obeys the rules. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "cmd.h"
#include "nf_secgroup.h"
#include "nstest.h"
#include "util.h"

#define PREFIX "NT"

/* ---- commands ----------------------------------------------------------------------- */

/* Run a shell script; its status, and its stdout in *ret_out when wanted. */
static int sh(const char *script, char **ret_out)
{
	return nstest_run((const char *const[]){ "sh", "-c", script, NULL }, ret_out);
}

static void sh_ok(const char *script)
{
	_cleanup_free_ char *out = NULL;

	if (sh(script, &out) != 0)
		fail_msg("sh -c '%s' failed", script);
}

static char *sh_out(const char *script)
{
	char *out = NULL;

	if (sh(script, &out) != 0)
		fail_msg("sh -c '%s' failed", script);
	return out;
}

/* ---- the kernel's view ------------------------------------------------------------ */

static bool line_is_ours(const char *line)
{
	static const char *const marks[] = { PREFIX "-FWD", PREFIX "-INP", PREFIX "-I-", PREFIX "-O-", PREFIX "-S-" };

	for (size_t i = 0; i < ARRAY_SIZE(marks); i++)
		if (strstr(line, marks[i]))
			return true;
	return false;
}

/* Everything iptables-save prints that is not ours (comments and counters left out). */
static char *foreign_rules(void)
{
	_cleanup_free_ char *save = sh_out("iptables-save -t filter");
	struct ecs_buf b = { 0 };
	char *line, *ptr = NULL;

	for (line = strtok_r(save, "\n", &ptr); line; line = strtok_r(NULL, "\n", &ptr)) {
		char *counters;

		if (line[0] == '#' || line_is_ours(line))
			continue;
		counters = line[0] == ':' ? strstr(line, " [") : NULL;
		if (counters)
			*counters = '\0';
		assert_int_equal(ecs_buf_append(&b, line, strlen(line), 1 << 24), 0);
		assert_int_equal(ecs_buf_append(&b, "\n", 1, 1 << 24), 0);
	}
	return ecs_buf_steal(&b);
}

static char *our_sets(void)
{
	return sh_out("ipset list -n | grep '^" PREFIX "-' | sort; true");
}

/* The kernel holds exactly the rendering: the same lines, one jump each, and first. */
static void expect_applied(const struct nf_host *h)
{
	_cleanup_free_ char *held = NULL, *want = NULL, *fwd = NULL, *inp = NULL;
	int fj = -1, ij = -1;

	assert_int_equal(nf_read_state(PREFIX, &held, &fj, &ij), 0);
	assert_int_equal(nf_render_expected(h, &want), 0);
	assert_string_equal(held, want);
	assert_int_equal(fj, 1);
	assert_int_equal(ij, 1);
	fwd = sh_out("iptables -w -S FORWARD | sed -n 2p");
	inp = sh_out("iptables -w -S INPUT | sed -n 2p");
	assert_string_equal(fwd, "-A FORWARD -j " PREFIX "-FWD\n");
	assert_string_equal(inp, "-A INPUT -j " PREFIX "-INP\n");
}

static char *set_members(const char *group_id)
{
	char set[NF_SET_NAME_MAX + 1];
	_cleanup_free_ char *script = NULL;

	assert_int_equal(nf_set_name(PREFIX, group_id, set), 0);
	script = ecs_strdup_printf("ipset list %s | sed '1,/^Members:/d' | sort", set);
	return sh_out(script);
}

/* ---- a host model that changes ------------------------------------------------------ */

#define R(dir, proto, from, to, cidr, peer, policy, prio)                                              \
	(struct nf_rule)                                                                              \
	{                                                                                             \
		NF_##dir, NF_PROTO_##proto, from, to, cidr, peer, NF_##policy, prio                   \
	}

struct model {
	struct nf_rule web[12], app[2], c[1];
	const char *web_members[2], *app_members[1], *db_members[2], *c_members[1];
	struct nf_group groups[4];
	const char *g1[1], *g2[2], *g3[1];
	struct nf_nic nics[3];
	struct nf_host h;
};

/* Every kind of line: each protocol, one port and a range, /32, /24, /0, peers both ways. */
static void model_init(struct model *m)
{
	memset(m, 0, sizeof(*m));
	m->web[0] = R(INGRESS, TCP, 22, 22, "0.0.0.0/0", NULL, ACCEPT, 1);
	m->web[1] = R(INGRESS, TCP, 80, 443, "10.0.0.0/8", NULL, ACCEPT, 10);
	m->web[2] = R(INGRESS, ICMP, -1, -1, "192.168.1.7", NULL, DROP, 5);
	m->web[3] = R(INGRESS, UDP, 1, 65535, "172.16.5.9/12", NULL, ACCEPT, 20);
	m->web[4] = R(INGRESS, ALL, -1, -1, "198.51.100.0/24", NULL, ACCEPT, 30);
	m->web[5] = R(INGRESS, GRE, -1, -1, "203.0.113.1/32", NULL, ACCEPT, 30);
	m->web[6] = R(INGRESS, TCP, 8080, 8081, NULL, "sg-app", ACCEPT, 1);
	m->web[7] = R(EGRESS, TCP, 5432, 5432, NULL, "sg-db", ACCEPT, 1);
	m->web[8] = R(EGRESS, TCP, 25, 25, "0.0.0.0/0", NULL, DROP, 1);
	m->web[9] = R(EGRESS, UDP, 53, 53, "8.8.8.8", NULL, ACCEPT, 2);
	m->web[10] = R(EGRESS, ALL, -1, -1, NULL, "sg-db", DROP, 3);
	m->web[11] = R(EGRESS, ICMP, -1, -1, "0.0.0.0/0", NULL, ACCEPT, 100);
	m->app[0] = R(INGRESS, ALL, -1, -1, NULL, "sg-web", ACCEPT, 2);
	m->app[1] = R(INGRESS, TCP, 3306, 3306, "10.0.0.0/24", NULL, ACCEPT, 1);
	m->c[0] = R(INGRESS, TCP, 22, 22, "10.1.0.0/16", NULL, ACCEPT, 1);
	m->web_members[0] = "10.0.0.5";
	m->web_members[1] = "10.0.0.6";
	m->app_members[0] = "10.0.0.6";
	m->db_members[0] = "10.0.0.9";
	m->db_members[1] = "10.0.0.10";
	m->c_members[0] = "10.0.0.7";
	m->groups[0] = (struct nf_group){ "sg-web", m->web, 12, m->web_members, 2 };
	m->groups[1] = (struct nf_group){ "sg-app", m->app, 2, m->app_members, 1 };
	m->groups[2] = (struct nf_group){ "sg-db", NULL, 0, m->db_members, 2 };
	m->groups[3] = (struct nf_group){ "sg-c", m->c, 1, m->c_members, 1 };
	m->g1[0] = "sg-web";
	m->g2[0] = "sg-app";
	m->g2[1] = "sg-web";
	m->g3[0] = "sg-c";
	m->nics[0] = (struct nf_nic){ "ecst1", "52:54:00:AA:00:01", "10.0.0.5", m->g1, 1 };
	m->nics[1] = (struct nf_nic){ "ecst2", "52:54:00:aa:00:02", "10.0.0.6", m->g2, 2 };
	m->nics[2] = (struct nf_nic){ "ecst3", "52:54:00:aa:00:03", "10.0.0.7", m->g3, 1 };
	m->h = (struct nf_host){ PREFIX, m->groups, 4, m->nics, 3 };
}

static void test_apply(void **state)
{
	struct model m;
	_cleanup_free_ char *foreign = NULL, *now = NULL, *text = NULL, *members = NULL, *sets = NULL;
	const char *const two[] = { "ecst2" };
	char set_c[NF_SET_NAME_MAX + 1], set_db[NF_SET_NAME_MAX + 1];
	int fj, ij;

	(void)state;
	model_init(&m);
	assert_int_equal(nf_set_name(PREFIX, "sg-c", set_c), 0);
	assert_int_equal(nf_set_name(PREFIX, "sg-db", set_db), 0);

	/* Someone else's: a chain with a rule and a jump to it in FORWARD, a rule in INPUT,
	 * a chain of our prefix that is no security-group chain (the metadata guard's), a set. */
	sh_ok("iptables -w -N OTHER-X && iptables -w -A OTHER-X -s 192.0.2.1/32 -j ACCEPT &&"
	      "iptables -w -A FORWARD -s 192.0.2.2/32 -j OTHER-X && iptables -w -A INPUT -i lo -j ACCEPT &&"
	      "iptables -w -N " PREFIX "-META && iptables -w -A " PREFIX "-META -j DROP &&"
	      "iptables -w -A INPUT -d 100.100.100.200/32 -j " PREFIX "-META && ipset create OTHER-set hash:ip");
	foreign = foreign_rules();
	assert_non_null(strstr(foreign, "-A FORWARD -s 192.0.2.2/32 -j OTHER-X\n"));

	/* Nothing of ours yet. */
	assert_int_equal(nf_read_state(PREFIX, &text, &fj, &ij), 0);
	assert_string_equal(text, "");
	assert_int_equal(fj + ij, 0);
	free(TAKE_PTR(text));

	/* Whole host: what the kernel prints back is what was rendered, every spelling. */
	assert_int_equal(nf_apply_host(&m.h), 0);
	expect_applied(&m.h);
	now = foreign_rules();
	assert_string_equal(now, foreign);
	members = set_members("sg-db");
	assert_string_equal(members, "10.0.0.10\n10.0.0.9\n");
	free(TAKE_PTR(members));
	sets = our_sets();
	assert_int_equal(strlen(sets), 4 * (strlen(set_c) + 1)); /* web, app, db, c */
	free(TAKE_PTR(sets));

	/* Again: the same, still one jump each. */
	assert_int_equal(nf_apply_host(&m.h), 0);
	expect_applied(&m.h);

	/* One NIC's rules change: only its chains are rewritten. */
	m.app[1].port_from = m.app[1].port_to = 3307;
	m.app[0].policy = NF_DROP;
	assert_int_equal(nf_apply_nics(&m.h, two, 1), 0);
	expect_applied(&m.h);
	text = sh_out("iptables -w -S " PREFIX "-I-ecst2");
	assert_non_null(strstr(text, "--dport 3307 -j ACCEPT\n"));
	free(TAKE_PTR(text));

	/* Members change: the sets alone. */
	m.db_members[1] = "10.0.0.11";
	assert_int_equal(nf_apply_nics(&m.h, NULL, 0), 0);
	members = set_members("sg-db");
	assert_string_equal(members, "10.0.0.11\n10.0.0.9\n");
	free(TAKE_PTR(members));
	expect_applied(&m.h);

	/* Drift behind our back: a rule added to one chain, a second jump, a leftover twin of
	 * a set, a chain of a tap long gone. The next whole apply puts it all right. */
	sh_ok("iptables -w -A " PREFIX "-I-ecst1 -j ACCEPT && iptables -w -A FORWARD -j " PREFIX "-FWD &&"
	      "iptables -w -N " PREFIX "-O-ecst77 && iptables -w -A " PREFIX "-O-ecst77 -j DROP &&"
	      "ipset create " PREFIX "-0123456789-t hash:ip");
	assert_int_equal(nf_read_state(PREFIX, &text, &fj, &ij), 0);
	assert_int_equal(fj, 2);
	assert_non_null(strstr(text, "-A " PREFIX "-O-ecst77 -j DROP\n"));
	free(TAKE_PTR(text));
	/* And an ACCEPT of the host's put before our jump: ours goes first again. */
	sh_ok("iptables -w -I INPUT 1 -s 192.0.2.9/32 -j ACCEPT");
	assert_int_equal(nf_apply_host(&m.h), 0);
	expect_applied(&m.h);
	sh_ok("iptables -w -D INPUT -s 192.0.2.9/32 -j ACCEPT");
	sets = our_sets();
	assert_null(strstr(sets, PREFIX "-0123456789-t"));
	free(TAKE_PTR(sets));

	/* A NIC goes (and with it the only user of sg-c): its chains and its set go. */
	m.h.n_nics = 2;
	assert_int_equal(nf_apply_host(&m.h), 0);
	expect_applied(&m.h);
	text = sh_out("iptables-save -t filter");
	assert_null(strstr(text, "ecst3"));
	free(TAKE_PTR(text));
	sets = our_sets();
	assert_null(strstr(sets, set_c));
	assert_non_null(strstr(sets, set_db));
	free(TAKE_PTR(sets));
	free(TAKE_PTR(now));
	now = foreign_rules();
	assert_string_equal(now, foreign);

	/* Remove all: nothing of ours left, the rest as it was; again is fine. */
	assert_int_equal(nf_remove_all(PREFIX), 0);
	assert_int_equal(nf_read_state(PREFIX, &text, &fj, &ij), 0);
	assert_string_equal(text, "");
	assert_int_equal(fj + ij, 0);
	free(TAKE_PTR(text));
	text = sh_out("iptables-save -t filter | grep -c '^:" PREFIX "-' ; true");
	assert_string_equal(text, "1\n"); /* NT-META only */
	free(TAKE_PTR(text));
	sets = our_sets();
	assert_string_equal(sets, "");
	free(TAKE_PTR(now));
	now = foreign_rules();
	assert_string_equal(now, foreign);
	assert_int_equal(nf_remove_all(PREFIX), 0);

	sh_ok("iptables -w -D FORWARD -s 192.0.2.2/32 -j OTHER-X && iptables -w -F OTHER-X && iptables -w -X OTHER-X &&"
	      "iptables -w -D INPUT -i lo -j ACCEPT && iptables -w -D INPUT -d 100.100.100.200/32 -j " PREFIX "-META &&"
	      "iptables -w -F " PREFIX "-META && iptables -w -X " PREFIX "-META && ipset destroy OTHER-set");
}

/* A set the kernel cannot take (the name is held by a set of another type): the apply
 * fails, and the rules that would name it are never loaded. */
static void test_apply_fails_whole(void **state)
{
	struct model m;
	char set[NF_SET_NAME_MAX + 1];
	_cleanup_free_ char *script = NULL, *text = NULL;
	int fj, ij;

	(void)state;
	model_init(&m);
	assert_int_equal(nf_set_name(PREFIX, "sg-db", set), 0);
	script = ecs_strdup_printf("ipset create %s hash:net", set);
	sh_ok(script);
	assert_int_equal(nf_apply_host(&m.h), -EIO);
	assert_int_equal(nf_read_state(PREFIX, &text, &fj, &ij), 0);
	assert_string_equal(text, "");
	assert_int_equal(nf_remove_all(PREFIX), 0);
	free(TAKE_PTR(text));
	text = our_sets();
	assert_string_equal(text, "");
}

static void test_conntrack_flush(void **state)
{
	_cleanup_free_ char *out = NULL;

	(void)state;
	/* Nothing to delete is no failure (conntrack exits 1 then). */
	assert_int_equal(nf_conntrack_flush_ip("10.0.0.5"), 0);
	sh_ok("conntrack -I -s 10.0.0.5 -d 10.0.0.9 -p tcp --sport 1000 --dport 80 --state ESTABLISHED -t 100 "
	      "-u ASSURED 2>/dev/null &&"
	      "conntrack -I -s 10.0.0.8 -d 10.0.0.5 -p udp --sport 53 --dport 5353 -t 100 2>/dev/null &&"
	      "conntrack -I -s 10.0.0.8 -d 10.0.0.9 -p udp --sport 53 --dport 5353 -t 100 2>/dev/null");
	assert_int_equal(nf_conntrack_flush_ip("10.0.0.5"), 0);
	out = sh_out("conntrack -L 2>/dev/null");
	assert_null(strstr(out, "10.0.0.5 "));
	assert_non_null(strstr(out, "src=10.0.0.8 dst=10.0.0.9"));
	sh_ok("conntrack -F 2>/dev/null");
}

/* ---- traffic: two guests on a bridge ------------------------------------------------ */

/* In the guest: listen on TCP 22, 23 and 24 (the kernel completes handshakes for the
 * backlog: nothing needs accepting). */
static void guest_listen(void)
{
	for (int port = 22; port <= 24; port++) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 64) < 0)
			_exit(1);
	}
}

/* A child in a network namespace of its own, listening on TCP 22, 23 and 24, until killed. */
static pid_t guest_spawn(void)
{
	return nstest_guest_spawn(guest_listen);
}

/* Whether a TCP connection from src in guest to dst:port is made within half a second. */
static bool guest_connects(pid_t guest, const char *src, const char *dst, int port)
{
	_cleanup_free_ char *script = ecs_strdup_printf(
		"nsenter -t %d -n /usr/bin/python3 -c 'import socket; "
		"socket.create_connection((\"%s\", %d), timeout=0.5, source_address=(\"%s\", 0))' 2>/dev/null",
		(int)guest, dst, port, src);

	return sh(script, NULL) == 0;
}

static void test_traffic(void **state)
{
	const struct nf_rule a_rules[] = {
		R(EGRESS, TCP, 24, 24, "10.9.0.0/24", NULL, DROP, 1),
	};
	const struct nf_rule b_rules[] = {
		R(INGRESS, TCP, 22, 22, "10.9.0.0/24", NULL, ACCEPT, 1),
		R(INGRESS, TCP, 24, 24, "0.0.0.0/0", NULL, ACCEPT, 1),
	};
	const char *a_members[] = { "10.9.0.2", "10.9.0.3" };
	const char *b_members[] = { "10.9.0.3" };
	const struct nf_group groups[] = {
		{ "sg-a", a_rules, 1, a_members, 1 },
		{ "sg-b", b_rules, 2, b_members, 1 },
	};
	const char *ga[] = { "sg-a" }, *gb[] = { "sg-b" };
	const struct nf_nic nics[] = {
		{ "ntta", "52:54:00:00:09:02", "10.9.0.2", ga, 1 },
		{ "nttb", "52:54:00:00:09:03", "10.9.0.3", gb, 1 },
	};
	const struct nf_host h = { PREFIX, groups, 2, nics, 2 };
	struct nf_group joined[2];
	struct nf_host hj;
	_cleanup_free_ char *script = NULL;
	pid_t a, b;

	(void)state;
	a = guest_spawn();
	b = guest_spawn();
	script = ecs_strdup_printf(
		"set -e; ip link add ntbr0 type bridge; ip link set ntbr0 up;"
		"ip link add ntta type veth peer name ntga; ip link set ntta master ntbr0 up;"
		"ip link add nttb type veth peer name ntgb; ip link set nttb master ntbr0 up;"
		"ip link set ntga netns %d; ip link set ntgb netns %d;"
		"nsenter -t %d -n sh -c 'ip link set ntga address 52:54:00:00:09:02 up;"
		"  ip addr add 10.9.0.2/24 dev ntga; ip addr add 10.9.0.99/24 dev ntga'; "
		"nsenter -t %d -n sh -c 'ip link set ntgb address 52:54:00:00:09:03 up; ip addr add 10.9.0.3/24 dev ntgb'",
		(int)a, (int)b, (int)a, (int)b);
	sh_ok(script);

	/* Open before: so a refusal below is the rules' doing. */
	assert_true(guest_connects(a, "10.9.0.2", "10.9.0.3", 23));

	assert_int_equal(nf_apply_host(&h), 0);
	expect_applied(&h);
	assert_true(guest_connects(a, "10.9.0.2", "10.9.0.3", 22)); /* B's ingress lets it in */
	/* B's ingress has no rule for 23: A's egress allowing it must not let it through. */
	assert_false(guest_connects(a, "10.9.0.2", "10.9.0.3", 23));
	/* A's egress drops 24, though B's ingress would take it. */
	assert_false(guest_connects(a, "10.9.0.2", "10.9.0.3", 24));
	/* A posing as another address of the subnet B accepts. */
	assert_false(guest_connects(a, "10.9.0.99", "10.9.0.3", 22));
	/* A's ingress: B is no member of A's group. */
	assert_false(guest_connects(b, "10.9.0.3", "10.9.0.2", 22));

	/* B joins A's group: the set alone changes, and B gets in. */
	memcpy(joined, groups, sizeof(joined));
	joined[0].n_members = 2;
	hj = h;
	hj.groups = joined;
	assert_int_equal(nf_apply_nics(&hj, NULL, 0), 0);
	assert_true(guest_connects(b, "10.9.0.3", "10.9.0.2", 22));

	assert_int_equal(nf_remove_all(PREFIX), 0);
	assert_true(guest_connects(a, "10.9.0.2", "10.9.0.3", 23));

	kill(a, SIGKILL);
	kill(b, SIGKILL);
	assert_int_equal(waitpid(a, NULL, 0), a);
	assert_int_equal(waitpid(b, NULL, 0), b);
	sh_ok("ip link del ntbr0; ip link del ntta 2>/dev/null; ip link del nttb 2>/dev/null; true");
}

/* Each test starts from nothing of ours, even after one that failed half way. */
static int clean(void **state)
{
	(void)state;
	sh("iptables -w -D FORWARD -s 192.0.2.2/32 -j OTHER-X; iptables -w -F OTHER-X; iptables -w -X OTHER-X;"
	   "iptables -w -D INPUT -d 100.100.100.200/32 -j " PREFIX "-META; iptables -w -F " PREFIX "-META;"
	   "iptables -w -X " PREFIX "-META; iptables -w -D INPUT -i lo -j ACCEPT; ipset destroy OTHER-set;"
	   "ip link del ntbr0; ip link del ntta; ip link del nttb",
	   NULL);
	return nf_remove_all(PREFIX) < 0 ? -1 : 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_apply, clean),
		cmocka_unit_test_setup(test_apply_fails_whole, clean),
		cmocka_unit_test_setup(test_conntrack_flush, clean),
		cmocka_unit_test_setup(test_traffic, clean),
	};

	/* Everything below runs iptables, ipset and conntrack: only in our own namespace. */
	if (nstest_private_netns("test_nf_apply") < 0)
		return 1;
	return cmocka_run_group_tests_name("nf_apply", tests, NULL, NULL);
}
