/* Tests for agent/net.c against the real kernel, in a private network namespace made at the
 * start of main(): bridges, persistent taps, the prefix guard, races between threads and
 * between handles, and the tap flags libvirt attaches with. Nothing reaches the host's
 * network; whatever a failed test leaves behind dies with the namespace. Needs root. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/socket.h>

#include "cmd.h"
#include "log.h"
#include "net.h"
#include "util.h"

static const char *const prefixes[] = { "ecsbr", "ecst", NULL };

/* ---- helpers: look at the namespace without going through the code under test ---- */

/* stdout of argv, which must succeed. Caller frees. */
static char *run(const char *const *argv)
{
	struct ecs_cmd_result res;

	assert_int_equal(ecs_cmd_run_ok(argv, NULL, &res), 0);
	free(res.err);
	return res.out;
}

static void run_ok(const char *const *argv)
{
	free(run(argv));
}

/* `ip -d -o link show dev NAME`: kind, bridge options, tun flags on one line. */
static char *link_detail(const char *name)
{
	const char *argv[] = { "ip", "-d", "-o", "link", "show", "dev", name, NULL };

	return run(argv);
}

static char *link_addrs(const char *name)
{
	const char *argv[] = { "ip", "-o", "-4", "addr", "show", "dev", name, NULL };

	return run(argv);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* The link's flags straight from rtnetlink; -1 when it does not exist. */
static long link_flags(const char *name)
{
	struct nl_sock *sk = nl_socket_alloc();
	struct rtnl_link *link = NULL;
	long flags = -1;

	assert_non_null(sk);
	assert_int_equal(nl_connect(sk, NETLINK_ROUTE), 0);
	if (rtnl_link_get_kernel(sk, 0, name, &link) == 0) {
		flags = rtnl_link_get_flags(link);
		rtnl_link_put(link);
	}
	nl_socket_free(sk);
	return flags;
}

/* The link's MAC address as text. Caller frees. */
static char *link_mac(const char *name)
{
	struct nl_sock *sk = nl_socket_alloc();
	struct rtnl_link *link = NULL;
	char buf[32];
	char *mac;

	assert_non_null(sk);
	assert_int_equal(nl_connect(sk, NETLINK_ROUTE), 0);
	assert_int_equal(rtnl_link_get_kernel(sk, 0, name, &link), 0);
	mac = strdup(nl_addr2str(rtnl_link_get_addr(link), buf, sizeof(buf)));
	rtnl_link_put(link);
	nl_socket_free(sk);
	assert_non_null(mac);
	return mac;
}

static char *read_text(const char *path)
{
	char *text = NULL;
	size_t len;

	assert_int_equal(ecs_read_file(path, 4096, &text, &len), 0);
	return text;
}

static void add_plain_link(const char *name)
{
	const char *argv[] = { "ip", "link", "add", name, "type", "ifb", NULL };

	run_ok(argv);
}

static void del_link_ip(const char *name)
{
	const char *argv[] = { "ip", "link", "del", name, NULL };

	run_ok(argv);
}

static void assert_master(struct agent_net *net, const char *link, const char *want)
{
	char buf[IFNAMSIZ];

	assert_int_equal(agent_net_link_master(net, link, buf, sizeof(buf)), 0);
	assert_string_equal(buf, want);
}

/* Attach to an existing tap the way libvirt does for <target dev='X' managed='no'/>. */
static int tap_attach(const char *name, short flags, int *ret_fd)
{
	struct ifreq ifr = { .ifr_flags = flags };
	int fd, r;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

/* Descriptors below the soft limit (valgrind keeps its own above it) without FD_CLOEXEC. */
static int count_inheritable_fds(void)
{
	struct rlimit rl;
	struct dirent *de;
	DIR *d;
	int n = 0;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	d = opendir("/proc/self/fd");
	assert_non_null(d);
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);

		if (de->d_name[0] == '.' || fd == dirfd(d) || (rlim_t)fd >= rl.rlim_cur)
			continue;
		if (!(fcntl(fd, F_GETFD) & FD_CLOEXEC))
			n++;
	}
	closedir(d);
	return n;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* ---- tests ---- */

static void test_open_rejects_bad_prefixes(void **state)
{
	const char *const none[] = { NULL };
	const char *const empty[] = { "ecst", "", NULL };
	struct agent_net *net = NULL;

	(void)state;
	assert_int_equal(agent_net_open(NULL, &net), -EINVAL);
	assert_int_equal(agent_net_open(none, &net), -EINVAL);
	/* "" would own every link on the host. */
	assert_int_equal(agent_net_open(empty, &net), -EINVAL);
	assert_null(net);
}

static void test_open_cloexec(void **state)
{
	struct agent_net *net = NULL;
	int before = count_inheritable_fds();

	(void)state;
	assert_int_equal(agent_net_open(prefixes, &net), 0);
	assert_int_equal(count_inheritable_fds(), before);
	agent_net_close(net);
	agent_net_close(NULL);
}

static void test_bridge_create_idempotent(void **state)
{
	struct agent_net *net = *state;
	const char *addrs[] = { "10.240.0.1/16" };
	const char *more[] = { "10.240.0.1/16", "10.241.0.1/24" };
	const char *manual[] = { "ip", "addr", "add", "192.0.2.1/24", "dev", "ecsbr0", NULL };
	_cleanup_free_ char *detail = NULL, *a1 = NULL, *a2 = NULL, *a3 = NULL, *v6 = NULL;

	assert_false(agent_net_link_exists(net, "ecsbr0"));
	assert_int_equal(agent_net_ensure_bridge(net, "ecsbr0", addrs, 1), 0);
	assert_true(agent_net_link_exists(net, "ecsbr0"));

	detail = link_detail("ecsbr0");
	assert_non_null(strstr(detail, " bridge "));
	assert_non_null(strstr(detail, " stp_state 0 "));
	assert_non_null(strstr(detail, " forward_delay 0 "));
	assert_true(link_flags("ecsbr0") & IFF_UP);
	v6 = read_text("/proc/sys/net/ipv6/conf/ecsbr0/disable_ipv6");
	assert_string_equal(v6, "1\n");

	/* Twice: nothing changes, the address is there once. */
	assert_int_equal(agent_net_ensure_bridge(net, "ecsbr0", addrs, 1), 0);
	a1 = link_addrs("ecsbr0");
	assert_int_equal(count(a1, " inet 10.240.0.1/16 "), 1);
	assert_int_equal(count(a1, " inet "), 1);

	/* An address someone else put there stays; a second one of ours is added once. */
	run_ok(manual);
	assert_int_equal(agent_net_ensure_bridge(net, "ecsbr0", more, 2), 0);
	assert_int_equal(agent_net_ensure_bridge(net, "ecsbr0", more, 2), 0);
	a2 = link_addrs("ecsbr0");
	assert_int_equal(count(a2, " inet 10.240.0.1/16 "), 1);
	assert_int_equal(count(a2, " inet 10.241.0.1/24 "), 1);
	assert_int_equal(count(a2, " inet 192.0.2.1/24 "), 1);
	assert_int_equal(count(a2, " inet "), 3);

	/* No addresses at all: ensures the bridge only. */
	assert_int_equal(agent_net_ensure_bridge(net, "ecsbr0", NULL, 0), 0);
	a3 = link_addrs("ecsbr0");
	assert_int_equal(count(a3, " inet "), 3);

	assert_int_equal(agent_net_delete_link(net, "ecsbr0"), 0);
	assert_false(agent_net_link_exists(net, "ecsbr0"));
}

static void test_bridge_converges(void **state)
{
	struct agent_net *net = *state;
	const char *stp_on[] = { "ip", "link", "set", "ecsbr1", "down", "type", "bridge", "stp_state", "1", NULL };
	const char *v6_on[] = { "sh", "-c", "echo 0 > /proc/sys/net/ipv6/conf/ecsbr1/disable_ipv6", NULL };
	_cleanup_free_ char *d1 = NULL, *d2 = NULL, *v6 = NULL;

	assert_int_equal(agent_net_ensure_bridge(net, "ecsbr1", NULL, 0), 0);
	/* Someone turned STP on (which raises the forward delay), IPv6 back on, and the link down. */
	run_ok(stp_on);
	run_ok(v6_on);
	d1 = link_detail("ecsbr1");
	assert_non_null(strstr(d1, " stp_state 1 "));
	assert_null(strstr(d1, " forward_delay 0 "));
	assert_false(link_flags("ecsbr1") & IFF_UP);

	assert_int_equal(agent_net_ensure_bridge(net, "ecsbr1", NULL, 0), 0);
	d2 = link_detail("ecsbr1");
	assert_non_null(strstr(d2, " stp_state 0 "));
	assert_non_null(strstr(d2, " forward_delay 0 "));
	assert_true(link_flags("ecsbr1") & IFF_UP);
	v6 = read_text("/proc/sys/net/ipv6/conf/ecsbr1/disable_ipv6");
	assert_string_equal(v6, "1\n");
	assert_int_equal(agent_net_delete_link(net, "ecsbr1"), 0);
}

static void test_bridge_mac_pinned(void **state)
{
	struct agent_net *net = *state;
	const char *low[] = { "ip", "link", "set", "ecst6", "address", "02:00:00:00:00:01", NULL };
	_cleanup_free_ char *before = NULL, *after = NULL, *tap = NULL;

	assert_int_equal(agent_net_ensure_bridge(net, "ecsbr3", NULL, 0), 0);
	before = link_mac("ecsbr3");
	/* A port with a lower MAC than the bridge's would otherwise lend it its own. */
	assert_int_equal(agent_net_ensure_tap(net, "ecst6", "ecsbr3"), 0);
	run_ok(low);
	tap = link_mac("ecst6");
	assert_string_equal(tap, "02:00:00:00:00:01");
	assert_int_equal(agent_net_ensure_bridge(net, "ecsbr3", NULL, 0), 0);
	after = link_mac("ecsbr3");
	assert_string_equal(after, before);
	assert_int_equal(agent_net_delete_link(net, "ecst6"), 0);
	assert_int_equal(agent_net_delete_link(net, "ecsbr3"), 0);
}

static void test_bridge_bad_addresses(void **state)
{
	struct agent_net *net = *state;
	const char *bad[] = { "10.0.0.1", "10.0.0.1/33", "10.0.0.1/0", "10.0.0.1/", "10.0.0.256/8", "fd00::1/64",
			      "10.0.0.1/8x", " 10.0.0.1/8", "garbage", NULL };
	const char *ok_then_bad[2] = { "10.0.0.1/8", NULL };
	const char *many[65];

	for (size_t i = 0; i < ARRAY_SIZE(many); i++)
		many[i] = "10.0.0.1/8";

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		const char *one[] = { bad[i] };

		assert_int_equal(agent_net_ensure_bridge(net, "ecsbr9", one, 1), -EINVAL);
	}
	ok_then_bad[1] = "nope/8";
	assert_int_equal(agent_net_ensure_bridge(net, "ecsbr9", ok_then_bad, 2), -EINVAL);
	assert_int_equal(agent_net_ensure_bridge(net, "ecsbr9", NULL, 1), -EINVAL);
	/* A bounded list: 64 addresses at most. */
	assert_int_equal(agent_net_ensure_bridge(net, "ecsbr9", many, ARRAY_SIZE(many)), -E2BIG);
	/* Refused before anything changed. */
	assert_false(agent_net_link_exists(net, "ecsbr9"));
}

static void test_bridge_name_taken_by_other_kind(void **state)
{
	struct agent_net *net = *state;
	_cleanup_free_ char *detail = NULL;

	add_plain_link("ecsbr7");
	assert_int_equal(agent_net_ensure_bridge(net, "ecsbr7", NULL, 0), -EEXIST);
	detail = link_detail("ecsbr7");
	assert_non_null(strstr(detail, " ifb "));
	/* A tap cannot be put on it either. */
	assert_int_equal(agent_net_ensure_tap(net, "ecst7", "ecsbr7"), -EINVAL);
	assert_false(agent_net_link_exists(net, "ecst7"));
	/* Nor can a tap take its name. */
	assert_int_equal(agent_net_ensure_bridge(net, "ecsbr0", NULL, 0), 0);
	assert_int_equal(agent_net_ensure_tap(net, "ecsbr7", "ecsbr0"), -EEXIST);
	assert_int_equal(agent_net_delete_link(net, "ecsbr7"), 0);
	assert_int_equal(agent_net_delete_link(net, "ecsbr0"), 0);
}

static void test_tap_create_idempotent(void **state)
{
	struct agent_net *net = *state;
	_cleanup_free_ char *detail = NULL, *v6 = NULL;
	int before;

	assert_int_equal(agent_net_ensure_bridge(net, "ecsbr0", NULL, 0), 0);
	before = count_inheritable_fds();
	assert_int_equal(agent_net_ensure_tap(net, "ecst1", "ecsbr0"), 0);
	/* The tun fd was closed, yet the tap lives on: it is persistent. */
	assert_int_equal(count_inheritable_fds(), before);
	assert_true(agent_net_link_exists(net, "ecst1"));
	detail = link_detail("ecst1");
	assert_non_null(strstr(detail, " tun type tap "));
	assert_non_null(strstr(detail, " pi off "));
	assert_non_null(strstr(detail, " persist on "));
	assert_null(strstr(detail, "multi_queue"));
	assert_non_null(strstr(detail, " master ecsbr0 "));
	assert_true(link_flags("ecst1") & IFF_UP);
	assert_master(net, "ecst1", "ecsbr0");
	v6 = read_text("/proc/sys/net/ipv6/conf/ecst1/disable_ipv6");
	assert_string_equal(v6, "1\n");

	assert_int_equal(agent_net_ensure_tap(net, "ecst1", "ecsbr0"), 0);
	assert_int_equal(agent_net_ensure_tap(net, "ecst1", "ecsbr0"), 0);
	assert_master(net, "ecst1", "ecsbr0");

	assert_int_equal(agent_net_delete_link(net, "ecst1"), 0);
	assert_false(agent_net_link_exists(net, "ecst1"));
	assert_int_equal(agent_net_delete_link(net, "ecst1"), 0);
	/* The bridge lost a port, nothing else. */
	assert_true(agent_net_link_exists(net, "ecsbr0"));
	assert_int_equal(agent_net_delete_link(net, "ecsbr0"), 0);
	assert_int_equal(agent_net_delete_link(net, "ecsbr0"), 0);
}

static void test_tap_libvirt_attach(void **state)
{
	struct agent_net *net = *state;
	const char *addr6[] = { "ip", "-6", "-o", "addr", "show", "dev", "ecst2", NULL };
	_cleanup_free_ char *v6 = NULL;
	struct ifreq ifr = { 0 };
	int fd = -1, fd2 = -1;

	assert_int_equal(agent_net_ensure_bridge(net, "ecsbr0", NULL, 0), 0);
	assert_int_equal(agent_net_ensure_tap(net, "ecst2", "ecsbr0"), 0);

	/* What libvirt does for a virtio NIC: single queue, no packet info, vnet headers. */
	assert_int_equal(tap_attach("ecst2", IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, &fd), 0);
	assert_int_equal(ioctl(fd, TUNGETIFF, &ifr), 0);
	assert_string_equal(ifr.ifr_name, "ecst2");
	assert_int_equal(ifr.ifr_flags & (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_PERSIST | IFF_MULTI_QUEUE),
			 IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_PERSIST);
	/* One queue: a second attacher is refused while the guest holds it. */
	assert_int_equal(tap_attach("ecst2", IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, &fd2), -EBUSY);
	/* The agent re-ensuring a tap in use by a guest leaves it alone and succeeds. */
	assert_int_equal(agent_net_ensure_tap(net, "ecst2", "ecsbr0"), 0);
	/* Carrier is on now; the host still gives the port no IPv6 address. */
	usleep(100 * 1000);
	v6 = run(addr6);
	assert_string_equal(v6, "");
	close(fd);

	/* Detached (guest stopped): the tap, its port and its state remain. */
	assert_true(agent_net_link_exists(net, "ecst2"));
	assert_master(net, "ecst2", "ecsbr0");
	assert_true(link_flags("ecst2") & IFF_UP);

	/* A non-virtio model (no vnet headers) attaches too: the attacher's flags win. */
	assert_int_equal(tap_attach("ecst2", IFF_TAP | IFF_NO_PI, &fd), 0);
	memset(&ifr, 0, sizeof(ifr));
	assert_int_equal(ioctl(fd, TUNGETIFF, &ifr), 0);
	assert_int_equal(ifr.ifr_flags & IFF_VNET_HDR, 0);
	close(fd);

	/* libvirt with <driver queues='N'/>, N > 1, asks for multi-queue: refused on our taps. */
	assert_int_equal(tap_attach("ecst2", IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE, &fd), -EINVAL);

	assert_int_equal(agent_net_delete_link(net, "ecst2"), 0);
	assert_int_equal(agent_net_delete_link(net, "ecsbr0"), 0);
}

static void test_tap_converges(void **state)
{
	struct agent_net *net = *state;
	const char *unplug[] = { "ip", "link", "set", "ecst3", "nomaster", "down", NULL };
	char buf[IFNAMSIZ];

	assert_int_equal(agent_net_ensure_bridge(net, "ecsbr0", NULL, 0), 0);
	assert_int_equal(agent_net_ensure_bridge(net, "ecsbr1", NULL, 0), 0);
	assert_int_equal(agent_net_ensure_tap(net, "ecst3", "ecsbr0"), 0);

	run_ok(unplug);
	assert_int_equal(agent_net_link_master(net, "ecst3", buf, sizeof(buf)), -ENOENT);
	assert_false(link_flags("ecst3") & IFF_UP);
	assert_int_equal(agent_net_ensure_tap(net, "ecst3", "ecsbr0"), 0);
	assert_master(net, "ecst3", "ecsbr0");
	assert_true(link_flags("ecst3") & IFF_UP);

	/* Ensuring it on another bridge of ours moves it. */
	assert_int_equal(agent_net_ensure_tap(net, "ecst3", "ecsbr1"), 0);
	assert_master(net, "ecst3", "ecsbr1");

	/* Deleting its bridge frees the tap, which survives. */
	assert_int_equal(agent_net_delete_link(net, "ecsbr1"), 0);
	assert_true(agent_net_link_exists(net, "ecst3"));
	assert_int_equal(agent_net_link_master(net, "ecst3", buf, sizeof(buf)), -ENOENT);

	assert_int_equal(agent_net_delete_link(net, "ecst3"), 0);
	assert_int_equal(agent_net_delete_link(net, "ecsbr0"), 0);
}

static void test_tap_missing_bridge(void **state)
{
	struct agent_net *net = *state;

	assert_int_equal(agent_net_ensure_tap(net, "ecst4", "ecsbr5"), -ENODEV);
	assert_false(agent_net_link_exists(net, "ecst4"));
}

static void test_foreign_links_untouched(void **state)
{
	struct agent_net *net = *state;
	const char *addrs[] = { "10.9.0.1/24" };
	_cleanup_free_ char *before = NULL, *after = NULL, *a = NULL;
	char buf[IFNAMSIZ];

	add_plain_link("other0");
	before = link_detail("other0");
	assert_int_equal(agent_net_ensure_bridge(net, "ecsbr0", NULL, 0), 0);

	assert_int_equal(agent_net_delete_link(net, "other0"), -EPERM);
	assert_int_equal(agent_net_ensure_tap(net, "other0", "ecsbr0"), -EPERM);
	assert_int_equal(agent_net_ensure_bridge(net, "other0", addrs, 1), -EPERM);
	/* Nor enslave one of ours to a bridge that is not ours, nor a bridge named like ours
	 * but without the prefix (a prefix of a prefix is not enough). */
	assert_int_equal(agent_net_ensure_tap(net, "ecst5", "other0"), -EPERM);
	assert_int_equal(agent_net_ensure_bridge(net, "ecs0", NULL, 0), -EPERM);
	assert_int_equal(agent_net_delete_link(net, "lo"), -EPERM);
	assert_false(agent_net_link_exists(net, "ecst5"));

	/* Reading is allowed. */
	assert_true(agent_net_link_exists(net, "other0"));
	assert_int_equal(agent_net_link_master(net, "other0", buf, sizeof(buf)), -ENOENT);

	after = link_detail("other0");
	assert_string_equal(after, before);
	a = link_addrs("other0");
	assert_string_equal(a, "");
	assert_true(link_flags("lo") & IFF_UP);

	del_link_ip("other0");
	assert_int_equal(agent_net_delete_link(net, "ecsbr0"), 0);
}

static void test_names(void **state)
{
	struct agent_net *net = *state;
	const char *bad[] = { "ecst0123456789ab", "ecst 1", "ecst/1", "ecst:1", "" };
	char buf[IFNAMSIZ], small[4];

	assert_int_equal(agent_net_ensure_bridge(net, "ecsbr0", NULL, 0), 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(agent_net_ensure_tap(net, bad[i], "ecsbr0"), -EINVAL);
		assert_int_equal(agent_net_ensure_tap(net, "ecst1", bad[i]), -EINVAL);
		assert_int_equal(agent_net_ensure_bridge(net, bad[i], NULL, 0), -EINVAL);
		assert_int_equal(agent_net_delete_link(net, bad[i]), -EINVAL);
		assert_false(agent_net_link_exists(net, bad[i]));
		assert_int_equal(agent_net_link_master(net, bad[i], buf, sizeof(buf)), -EINVAL);
	}
	assert_int_equal(agent_net_ensure_tap(net, NULL, "ecsbr0"), -EINVAL);
	assert_int_equal(agent_net_delete_link(net, NULL), -EINVAL);
	assert_false(agent_net_link_exists(net, NULL));

	/* 15 bytes is the most Linux takes. */
	assert_int_equal(agent_net_ensure_tap(net, "ecst0123456789a", "ecsbr0"), 0);
	assert_true(agent_net_link_exists(net, "ecst0123456789a"));
	assert_master(net, "ecst0123456789a", "ecsbr0");
	/* A buffer too small for the master's name. */
	assert_int_equal(agent_net_link_master(net, "ecst0123456789a", small, sizeof(small)), -ENAMETOOLONG);
	assert_int_equal(agent_net_delete_link(net, "ecst0123456789a"), 0);
	assert_false(agent_net_link_exists(net, "ecst0123456789a"));
	/* A link that does not exist has no master to report. */
	assert_int_equal(agent_net_link_master(net, "ecst0123456789a", buf, sizeof(buf)), -ENODEV);
	assert_int_equal(agent_net_delete_link(net, "ecsbr0"), 0);
}

static void test_list_links(void **state)
{
	struct agent_net *net = *state;
	const char *ip_all[] = { "ip", "-o", "link", "show", NULL };
	_cleanup_free_ char *all = NULL;
	char **names = NULL;
	size_t n = 99;

	assert_int_equal(agent_net_ensure_bridge(net, "ecsbr0", NULL, 0), 0);
	assert_int_equal(agent_net_ensure_tap(net, "ecst11", "ecsbr0"), 0);
	assert_int_equal(agent_net_ensure_tap(net, "ecst10", "ecsbr0"), 0);
	add_plain_link("other1");

	assert_int_equal(agent_net_list_links(net, "ecst", &names, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "ecst10");
	assert_string_equal(names[1], "ecst11");
	free_names(names, n);

	assert_int_equal(agent_net_list_links(net, "ecsbr", &names, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(names[0], "ecsbr0");
	free_names(names, n);

	assert_int_equal(agent_net_list_links(net, "nomatch", &names, &n), 0);
	assert_int_equal(n, 0);
	free_names(names, n);

	/* Any prefix may be listed, ours or not; "" lists everything (lo, other1, ours, and
	 * whatever fallback devices such as tunl0 the kernel puts in every namespace). */
	all = run(ip_all);
	assert_int_equal(agent_net_list_links(net, "", &names, &n), 0);
	assert_int_equal(n, count(all, "\n"));
	assert_true(n >= 5);
	free_names(names, n);
	assert_int_equal(agent_net_list_links(net, NULL, &names, &n), -EINVAL);

	del_link_ip("other1");
	assert_int_equal(agent_net_delete_link(net, "ecst10"), 0);
	assert_int_equal(agent_net_delete_link(net, "ecst11"), 0);
	assert_int_equal(agent_net_delete_link(net, "ecsbr0"), 0);
	assert_int_equal(agent_net_list_links(net, "ecs", &names, &n), 0);
	assert_int_equal(n, 0);
	free_names(names, n);
}

#define RACERS 4

struct racer {
	struct agent_net *net; /* shared handle, or NULL: open one's own */
	pthread_barrier_t *barrier;
	const char *tap; /* NULL: race on the bridge ecsbr2 instead */
	int r;
};

static void *racer_run(void *p)
{
	const char *addrs[] = { "10.242.0.1/16", "10.243.0.1/16" };
	struct racer *x = p;
	struct agent_net *own = NULL;
	struct agent_net *net = x->net;

	if (!net) {
		x->r = agent_net_open(prefixes, &own);
		net = own;
	}
	pthread_barrier_wait(x->barrier);
	if (net && x->tap)
		x->r = agent_net_ensure_tap(net, x->tap, "ecsbr0");
	else if (net)
		x->r = agent_net_ensure_bridge(net, "ecsbr2", addrs, ARRAY_SIZE(addrs));
	agent_net_close(own);
	return NULL;
}

/* RACERS threads ensure the same tap (or, tap NULL, the bridge ecsbr2) at once, through one
 * handle or one handle each (then only the kernel serialises them); all succeed and one
 * link results. */
static void race(struct agent_net *net, bool shared, const char *tap)
{
	const char *link = tap ? tap : "ecsbr2";
	pthread_barrier_t barrier;
	pthread_t th[RACERS];
	struct racer x[RACERS];
	char **names = NULL;
	size_t n;

	assert_int_equal(pthread_barrier_init(&barrier, NULL, RACERS), 0);
	for (int i = 0; i < RACERS; i++) {
		x[i] = (struct racer){ .net = shared ? net : NULL, .barrier = &barrier, .tap = tap, .r = 1 };
		assert_int_equal(pthread_create(&th[i], NULL, racer_run, &x[i]), 0);
	}
	for (int i = 0; i < RACERS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(x[i].r, 0);
	}
	pthread_barrier_destroy(&barrier);
	assert_int_equal(agent_net_list_links(net, link, &names, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(names[0], link);
	free_names(names, n);
}

static void test_concurrent_ensure(void **state)
{
	struct agent_net *net = *state;
	_cleanup_free_ char *detail = NULL;
	char tap[IFNAMSIZ];

	assert_int_equal(agent_net_ensure_bridge(net, "ecsbr0", NULL, 0), 0);
	race(net, true, "ecst20");
	assert_master(net, "ecst20", "ecsbr0");
	assert_true(link_flags("ecst20") & IFF_UP);
	detail = link_detail("ecst20");
	assert_non_null(strstr(detail, " persist on "));
	assert_int_equal(agent_net_delete_link(net, "ecst20"), 0);

	/* Separate handles: creation races in the kernel (TUNSETIFF EBUSY, EEXIST). */
	for (int round = 0; round < 10; round++) {
		snprintf(tap, sizeof(tap), "ecst3%d", round);
		race(net, false, tap);
		assert_master(net, tap, "ecsbr0");
		assert_true(link_flags(tap) & IFF_UP);
		assert_int_equal(agent_net_delete_link(net, tap), 0);
	}
	assert_int_equal(agent_net_delete_link(net, "ecsbr0"), 0);

	/* The bridge too: one bridge, each address once, configured and up. */
	for (int round = 0; round < 5; round++) {
		_cleanup_free_ char *addrs = NULL, *br = NULL;

		race(net, false, NULL);
		addrs = link_addrs("ecsbr2");
		assert_int_equal(count(addrs, " inet 10.242.0.1/16 "), 1);
		assert_int_equal(count(addrs, " inet 10.243.0.1/16 "), 1);
		assert_int_equal(count(addrs, " inet "), 2);
		br = link_detail("ecsbr2");
		assert_non_null(strstr(br, " stp_state 0 "));
		assert_non_null(strstr(br, " forward_delay 0 "));
		assert_true(link_flags("ecsbr2") & IFF_UP);
		assert_int_equal(agent_net_delete_link(net, "ecsbr2"), 0);
	}
}

/* After each test, pass or fail: remove what it made, so one failure does not cascade. */
static int cleanup_links(void **state)
{
	struct agent_net *net = *state;
	const char *others[] = { "other0", "other1" };
	char **names = NULL;
	size_t n = 0;

	if (agent_net_list_links(net, "ecs", &names, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		agent_net_delete_link(net, names[i]);
	free_names(names, n);
	for (size_t i = 0; i < ARRAY_SIZE(others); i++) {
		const char *argv[] = { "ip", "link", "del", others[i], NULL };
		struct ecs_cmd_result res;

		if (ecs_cmd_run(argv, NULL, &res) == 0)
			ecs_cmd_result_clear(&res);
	}
	return 0;
}

static int group_setup(void **state)
{
	struct agent_net *net = NULL;

	if (agent_net_open(prefixes, &net) < 0)
		return -1;
	*state = net;
	return 0;
}

static int group_teardown(void **state)
{
	agent_net_close(*state);
	return 0;
}

int main(void)
{
	const char *lo_up[] = { "ip", "link", "set", "lo", "up", NULL };
	struct ecs_cmd_result res;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_open_rejects_bad_prefixes, cleanup_links),
		cmocka_unit_test_teardown(test_open_cloexec, cleanup_links),
		cmocka_unit_test_teardown(test_bridge_create_idempotent, cleanup_links),
		cmocka_unit_test_teardown(test_bridge_converges, cleanup_links),
		cmocka_unit_test_teardown(test_bridge_mac_pinned, cleanup_links),
		cmocka_unit_test_teardown(test_bridge_bad_addresses, cleanup_links),
		cmocka_unit_test_teardown(test_bridge_name_taken_by_other_kind, cleanup_links),
		cmocka_unit_test_teardown(test_tap_create_idempotent, cleanup_links),
		cmocka_unit_test_teardown(test_tap_libvirt_attach, cleanup_links),
		cmocka_unit_test_teardown(test_tap_converges, cleanup_links),
		cmocka_unit_test_teardown(test_tap_missing_bridge, cleanup_links),
		cmocka_unit_test_teardown(test_foreign_links_untouched, cleanup_links),
		cmocka_unit_test_teardown(test_names, cleanup_links),
		cmocka_unit_test_teardown(test_list_links, cleanup_links),
		cmocka_unit_test_teardown(test_concurrent_ensure, cleanup_links),
	};

	/* Never the host's network: everything below lives and dies in this namespace. */
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "test_agent_net: unshare(CLONE_NEWNET): %s; these tests need root "
				"(CAP_SYS_ADMIN, CAP_NET_ADMIN) and refuse to touch the host's links\n",
			strerror(errno));
		return 1;
	}
	if (ecs_cmd_run_ok(lo_up, NULL, &res) < 0) {
		fprintf(stderr, "test_agent_net: cannot bring lo up in the test namespace\n");
		return 1;
	}
	ecs_cmd_result_clear(&res);
	/* Expected refusals log at error level; creations at info would drown them. */
	ecs_log_set_level(ECS_LOG_WARN);
	return cmocka_run_group_tests_name("agent_net", tests, group_setup, group_teardown);
}
