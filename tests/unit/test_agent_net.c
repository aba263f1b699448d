/* Tests for agent/net.c against the real kernel, in a private network namespace made at the
 * start of main(): bridges, persistent taps, the prefix guard, races between threads and
 * between handles, the tap flags libvirt attaches with, and the VXLAN overlay (its flood
 * list, and traffic between two guests over two "hosts", namespaces made inside that one).
 * Nothing reaches the host's network; whatever a failed test leaves behind dies with the
 * namespace. Needs root. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
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

#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/socket.h>

#include "cmd.h"
#include "contains.h"
#include "log.h"
#include "net.h"
#include "nstest.h"
#include "util.h"

static const char *const prefixes[] = { "ecsbr", "ecst", NULL };
/* agent_net_set_vxlan_peers() takes at most this many. */
#define NET_TEST_MAX_PEERS 1024

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

/* The link straight from rtnetlink (the caller puts it); NULL when it does not exist. */
static struct rtnl_link *kernel_link(const char *name)
{
	struct nl_sock *sk = nl_socket_alloc();
	struct rtnl_link *link = NULL;

	assert_non_null(sk);
	assert_int_equal(nl_connect(sk, NETLINK_ROUTE), 0);
	if (rtnl_link_get_kernel(sk, 0, name, &link) < 0)
		link = NULL;
	nl_socket_free(sk);
	return link;
}

/* The link's flags; -1 when it does not exist. */
static long link_flags(const char *name)
{
	struct rtnl_link *link = kernel_link(name);
	long flags = link ? (long)rtnl_link_get_flags(link) : -1;

	if (link)
		rtnl_link_put(link);
	return flags;
}

/* The link's MAC address as text. Caller frees. */
static char *link_mac(const char *name)
{
	struct rtnl_link *link = kernel_link(name);
	char buf[32];
	char *mac;

	assert_non_null(link);
	mac = strdup(nl_addr2str(rtnl_link_get_addr(link), buf, sizeof(buf)));
	rtnl_link_put(link);
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

/* The agent turns IPv6 off on every link it makes (no link-local address, no router solicitations). */
static void assert_ipv6_off(const char *name)
{
	_cleanup_free_ char *path = ecs_strdup_printf("/proc/sys/net/ipv6/conf/%s/disable_ipv6", name);
	_cleanup_free_ char *v6 = read_text(path);

	assert_string_equal(v6, "1\n");
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

/* Each link of names (NULL-ended) deleted in turn, each deletion succeeding. */
static void delete_links(struct agent_net *net, const char *const *names)
{
	for (; *names; names++)
		assert_int_equal(agent_net_delete_link(net, *names), 0);
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
	_cleanup_free_ char *detail = NULL, *a1 = NULL, *a2 = NULL, *a3 = NULL;

	assert_false(agent_net_link_exists(net, "ecsbr0"));
	assert_int_equal(agent_net_ensure_bridge(net, "ecsbr0", addrs, 1), 0);
	assert_true(agent_net_link_exists(net, "ecsbr0"));

	detail = link_detail("ecsbr0");
	assert_contains(detail, " bridge ", " stp_state 0 ", " forward_delay 0 ");
	assert_true(link_flags("ecsbr0") & IFF_UP);
	assert_ipv6_off("ecsbr0");

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
	_cleanup_free_ char *d1 = NULL, *d2 = NULL;

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
	assert_ipv6_off("ecsbr1");
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
	delete_links(net, (const char *const[]){ "ecst6", "ecsbr3", NULL });
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
	delete_links(net, (const char *const[]){ "ecsbr7", "ecsbr0", NULL });
}

static void test_tap_create_idempotent(void **state)
{
	struct agent_net *net = *state;
	_cleanup_free_ char *detail = NULL;
	int before;

	assert_int_equal(agent_net_ensure_bridge(net, "ecsbr0", NULL, 0), 0);
	before = count_inheritable_fds();
	assert_int_equal(agent_net_ensure_tap(net, "ecst1", "ecsbr0"), 0);
	/* The tun fd was closed, yet the tap lives on: it is persistent. */
	assert_int_equal(count_inheritable_fds(), before);
	assert_true(agent_net_link_exists(net, "ecst1"));
	detail = link_detail("ecst1");
	assert_contains(detail, " tun type tap ", " pi off ", " persist on ", " master ecsbr0 ");
	assert_null(strstr(detail, "multi_queue"));
	assert_true(link_flags("ecst1") & IFF_UP);
	assert_master(net, "ecst1", "ecsbr0");
	assert_ipv6_off("ecst1");

	assert_int_equal(agent_net_ensure_tap(net, "ecst1", "ecsbr0"), 0);
	assert_int_equal(agent_net_ensure_tap(net, "ecst1", "ecsbr0"), 0);
	assert_master(net, "ecst1", "ecsbr0");

	assert_int_equal(agent_net_delete_link(net, "ecst1"), 0);
	assert_false(agent_net_link_exists(net, "ecst1"));
	assert_int_equal(agent_net_delete_link(net, "ecst1"), 0);
	/* The bridge lost a port, nothing else. */
	assert_true(agent_net_link_exists(net, "ecsbr0"));
	delete_links(net, (const char *const[]){ "ecsbr0", "ecsbr0", NULL });
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

	delete_links(net, (const char *const[]){ "ecst2", "ecsbr0", NULL });
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

	delete_links(net, (const char *const[]){ "ecst3", "ecsbr0", NULL });
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
	delete_links(net, (const char *const[]){ "ecst10", "ecst11", "ecsbr0", NULL });
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

/* ---- VXLAN overlay ---- */

/* The link's index; -1 when it does not exist. */
static int link_ifindex(const char *name)
{
	struct rtnl_link *link = kernel_link(name);
	int ifindex = link ? rtnl_link_get_ifindex(link) : -1;

	if (link)
		rtnl_link_put(link);
	return ifindex;
}

/* `bridge fdb show dev NAME`: one entry a line, e.g. "00:00:00:00:00:00 dst 10.0.0.2 self permanent". */
static char *fdb_show(const char *name)
{
	const char *argv[] = { "bridge", "fdb", "show", "dev", name, NULL };

	return run(argv);
}

static void assert_peers(struct agent_net *net, const char *name, const char *const *want, size_t n_want)
{
	char **peers = NULL;
	size_t n = 99;

	assert_int_equal(agent_net_get_vxlan_peers(net, name, &peers, &n), 0);
	assert_non_null(peers);
	assert_int_equal(n, n_want);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(peers[i], want[i]);
	free_names(peers, n);
}

/* The flood list of name is want (sorted by address), both as the agent reads it back and
 * in the kernel's FDB: one all-zeros entry to each, and no other. */
static void assert_flood(struct agent_net *net, const char *name, const char *const *want, size_t n_want)
{
	_cleanup_free_ char *fdb = fdb_show(name);

	assert_int_equal(count(fdb, "00:00:00:00:00:00 "), n_want);
	for (size_t i = 0; i < n_want; i++) {
		char line[80];

		snprintf(line, sizeof(line), "00:00:00:00:00:00 dst %s self permanent\n", want[i]);
		assert_int_equal(count(fdb, line), 1);
	}
	assert_peers(net, name, want, n_want);
}

/* The kernel's FDB notifications (RTM_NEWNEIGH / RTM_DELNEIGH, family AF_BRIDGE), to see
 * exactly what a call changed: "new MAC DST" / "del MAC DST" lines in the order sent. */
struct fdb_events {
	struct nl_sock *sk;
	char text[4096];
	size_t len;
};

static int fdb_event(struct nl_msg *msg, void *arg)
{
	struct fdb_events *ev = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct nlattr *tb[NDA_MAX + 1];
	char dst[INET_ADDRSTRLEN] = "-", mac[18] = "-";
	const struct ndmsg *ndm;
	int n;

	if ((h->nlmsg_type != RTM_NEWNEIGH && h->nlmsg_type != RTM_DELNEIGH) ||
	    nlmsg_parse(h, sizeof(*ndm), tb, NDA_MAX, NULL) < 0)
		return NL_OK;
	ndm = nlmsg_data(h);
	if (ndm->ndm_family != AF_BRIDGE)
		return NL_OK;
	if (tb[NDA_DST] && nla_len(tb[NDA_DST]) == 4)
		inet_ntop(AF_INET, nla_data(tb[NDA_DST]), dst, sizeof(dst));
	if (tb[NDA_LLADDR] && nla_len(tb[NDA_LLADDR]) == 6) {
		const unsigned char *m = nla_data(tb[NDA_LLADDR]);

		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	}
	n = snprintf(ev->text + ev->len, sizeof(ev->text) - ev->len, "%s %s %s\n",
		     h->nlmsg_type == RTM_NEWNEIGH ? "new" : "del", mac, dst);
	assert_true(n > 0 && (size_t)n < sizeof(ev->text) - ev->len);
	ev->len += n;
	return NL_OK;
}

static void fdb_events_start(struct fdb_events *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->sk = nl_socket_alloc();
	assert_non_null(ev->sk);
	nl_socket_disable_seq_check(ev->sk);
	assert_int_equal(nl_socket_modify_cb(ev->sk, NL_CB_VALID, NL_CB_CUSTOM, fdb_event, ev), 0);
	assert_int_equal(nl_connect(ev->sk, NETLINK_ROUTE), 0);
	assert_int_equal(nl_socket_add_membership(ev->sk, RTNLGRP_NEIGH), 0);
	assert_int_equal(nl_socket_set_nonblocking(ev->sk), 0);
}

/* What was notified since the last call (the kernel queues it before it acknowledges the
 * change, so nothing is still on its way). Caller frees. */
static char *fdb_events_take(struct fdb_events *ev)
{
	char *text;

	while (nl_recvmsgs_default(ev->sk) >= 0)
		;
	text = strdup(ev->text);
	assert_non_null(text);
	ev->len = 0;
	ev->text[0] = '\0';
	return text;
}

static void fdb_events_stop(struct fdb_events *ev)
{
	nl_socket_free(ev->sk);
	ev->sk = NULL;
}

static void test_vxlan_create_idempotent(void **state)
{
	struct agent_net *net = *state;
	const char *unplug[] = { "ip", "link", "set", "ecstvx0", "nomaster", "down", NULL };
	_cleanup_free_ char *detail = NULL, *again = NULL, *mtu_text = NULL;
	unsigned mtu = 0;
	int ifindex;

	assert_int_equal(agent_net_ensure_bridge(net, "ecsbr0", NULL, 0), 0);
	assert_int_equal(agent_net_ensure_vxlan(net, "ecstvx0", 100, "10.0.0.1", 4789, "ecsbr0"), 0);
	assert_true(agent_net_link_exists(net, "ecstvx0"));

	detail = link_detail("ecstvx0");
	/* iproute2 prints group/remote after the id and dev after local: neither is there. */
	assert_non_null(strstr(detail, " vxlan id 100 local 10.0.0.1 srcport 0 0 dstport 4789 "));
	assert_null(strstr(detail, "nolearning"));
	assert_non_null(strstr(detail, " master ecsbr0 "));
	assert_true(link_flags("ecstvx0") & IFF_UP);
	assert_master(net, "ecstvx0", "ecsbr0");
	assert_ipv6_off("ecstvx0");
	ifindex = link_ifindex("ecstvx0");
	assert_true(ifindex > 0);

	/* Twice: the same link, nothing changed. */
	assert_int_equal(agent_net_ensure_vxlan(net, "ecstvx0", 100, "10.0.0.1", 4789, "ecsbr0"), 0);
	assert_int_equal(link_ifindex("ecstvx0"), ifindex);

	/* Unplugged and down: put back and up, still the same link. */
	run_ok(unplug);
	assert_false(link_flags("ecstvx0") & IFF_UP);
	assert_int_equal(agent_net_ensure_vxlan(net, "ecstvx0", 100, "10.0.0.1", 4789, "ecsbr0"), 0);
	assert_int_equal(link_ifindex("ecstvx0"), ifindex);
	assert_master(net, "ecstvx0", "ecsbr0");
	assert_true(link_flags("ecstvx0") & IFF_UP);

	/* Its MTU, as ip sees it. */
	assert_int_equal(agent_net_link_mtu(net, "ecstvx0", &mtu), 0);
	again = link_detail("ecstvx0");
	mtu_text = ecs_strdup_printf(" mtu %u ", mtu);
	assert_non_null(strstr(again, mtu_text));

	/* Ensuring it on another bridge of ours moves it. */
	assert_int_equal(agent_net_ensure_bridge(net, "ecsbr1", NULL, 0), 0);
	assert_int_equal(agent_net_ensure_vxlan(net, "ecstvx0", 100, "10.0.0.1", 4789, "ecsbr1"), 0);
	assert_int_equal(link_ifindex("ecstvx0"), ifindex);
	assert_master(net, "ecstvx0", "ecsbr1");

	/* The largest VNI. */
	assert_int_equal(agent_net_ensure_vxlan(net, "ecstvx1", 16777215, "10.0.0.1", 4789, "ecsbr0"), 0);
	free(detail);
	detail = link_detail("ecstvx1");
	assert_non_null(strstr(detail, " vxlan id 16777215 "));

	delete_links(net, (const char *const[]){ "ecstvx0", "ecstvx1", NULL });
	assert_false(agent_net_link_exists(net, "ecstvx0"));
	delete_links(net, (const char *const[]){ "ecsbr1", "ecsbr0", NULL });
}

static void test_vxlan_recreated_when_different(void **state)
{
	struct agent_net *net = *state;
	const char *peers[] = { "10.0.0.2" };
	const char *nolearning[] = { "ip", "link", "set", "ecstvx0", "type", "vxlan", "nolearning", NULL };
	/* Each of VNI, local address and port in turn. */
	const struct {
		uint32_t vni;
		const char *local;
		uint16_t port;
		const char *want;
	} steps[] = {
		{ 101, "10.0.0.1", 4789, " vxlan id 101 local 10.0.0.1 srcport 0 0 dstport 4789 " },
		{ 101, "10.0.0.2", 4789, " vxlan id 101 local 10.0.0.2 srcport 0 0 dstport 4789 " },
		{ 101, "10.0.0.2", 8472, " vxlan id 101 local 10.0.0.2 srcport 0 0 dstport 8472 " },
	};
	int before, after;

	assert_int_equal(agent_net_ensure_bridge(net, "ecsbr0", NULL, 0), 0);
	assert_int_equal(agent_net_ensure_vxlan(net, "ecstvx0", 100, "10.0.0.1", 4789, "ecsbr0"), 0);
	assert_int_equal(agent_net_set_vxlan_peers(net, "ecstvx0", peers, 1), 0);
	before = link_ifindex("ecstvx0");

	/* Each change: a new link, configured, enslaved and up. */
	for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
		_cleanup_free_ char *detail = NULL;
		int r = agent_net_ensure_vxlan(net, "ecstvx0", steps[i].vni, steps[i].local, steps[i].port, "ecsbr0");

		assert_int_equal(r, 0);
		after = link_ifindex("ecstvx0");
		assert_true(after > 0);
		assert_int_not_equal(after, before);
		detail = link_detail("ecstvx0");
		assert_non_null(strstr(detail, steps[i].want));
		assert_non_null(strstr(detail, " master ecsbr0 "));
		assert_true(link_flags("ecstvx0") & IFF_UP);
		assert_ipv6_off("ecstvx0");
		/* A new link has no peers: the caller sets them again. */
		assert_peers(net, "ecstvx0", NULL, 0);
		before = after;
	}

	/* Learning turned off by hand: made anew with learning on. */
	run_ok(nolearning);
	{
		_cleanup_free_ char *off = link_detail("ecstvx0"), *on = NULL;

		assert_non_null(strstr(off, "nolearning"));
		assert_int_equal(agent_net_ensure_vxlan(net, "ecstvx0", 101, "10.0.0.2", 8472, "ecsbr0"), 0);
		on = link_detail("ecstvx0");
		assert_null(strstr(on, "nolearning"));
		assert_int_not_equal(link_ifindex("ecstvx0"), before);
	}
	delete_links(net, (const char *const[]){ "ecstvx0", "ecsbr0", NULL });
}

static void test_vxlan_bad_arguments(void **state)
{
	struct agent_net *net = *state;
	const char *bad_ips[] = { "10.0.0",  "10.0.0.256", "fd00::1",    "",	   "0.0.0.0",  "255.255.255.255",
				  "224.0.0.1", " 10.0.0.1", "10.0.0.1/24", "10.0.0.1 ", "localhost" };
	const char *bad_names[] = { "ecst0123456789ab", "ecst 1", "ecst/1", "ecst:1", "" };

	assert_int_equal(agent_net_ensure_bridge(net, "ecsbr0", NULL, 0), 0);
	assert_int_equal(agent_net_ensure_vxlan(net, "ecstvx0", 0, "10.0.0.1", 4789, "ecsbr0"), -EINVAL);
	assert_int_equal(agent_net_ensure_vxlan(net, "ecstvx0", 16777216, "10.0.0.1", 4789, "ecsbr0"), -EINVAL);
	assert_int_equal(agent_net_ensure_vxlan(net, "ecstvx0", UINT32_MAX, "10.0.0.1", 4789, "ecsbr0"), -EINVAL);
	for (size_t i = 0; i < ARRAY_SIZE(bad_ips); i++)
		assert_int_equal(agent_net_ensure_vxlan(net, "ecstvx0", 100, bad_ips[i], 4789, "ecsbr0"), -EINVAL);
	assert_int_equal(agent_net_ensure_vxlan(net, "ecstvx0", 100, NULL, 4789, "ecsbr0"), -EINVAL);
	/* Port 0 would silently become the kernel's default 8472. */
	assert_int_equal(agent_net_ensure_vxlan(net, "ecstvx0", 100, "10.0.0.1", 0, "ecsbr0"), -EINVAL);
	for (size_t i = 0; i < ARRAY_SIZE(bad_names); i++) {
		assert_int_equal(agent_net_ensure_vxlan(net, bad_names[i], 100, "10.0.0.1", 4789, "ecsbr0"), -EINVAL);
		assert_int_equal(agent_net_ensure_vxlan(net, "ecstvx0", 100, "10.0.0.1", 4789, bad_names[i]), -EINVAL);
	}
	assert_int_equal(agent_net_ensure_vxlan(net, NULL, 100, "10.0.0.1", 4789, "ecsbr0"), -EINVAL);
	/* Not our names. */
	assert_int_equal(agent_net_ensure_vxlan(net, "vxlan0", 100, "10.0.0.1", 4789, "ecsbr0"), -EPERM);
	assert_int_equal(agent_net_ensure_vxlan(net, "ecstvx0", 100, "10.0.0.1", 4789, "other0"), -EPERM);
	/* No such bridge; a bridge's name on another kind of link. */
	assert_int_equal(agent_net_ensure_vxlan(net, "ecstvx0", 100, "10.0.0.1", 4789, "ecsbr5"), -ENODEV);
	add_plain_link("ecsbr7");
	assert_int_equal(agent_net_ensure_vxlan(net, "ecstvx0", 100, "10.0.0.1", 4789, "ecsbr7"), -EINVAL);

	/* Refused before anything was made. */
	assert_false(agent_net_link_exists(net, "ecstvx0"));
	assert_false(agent_net_link_exists(net, "vxlan0"));
	delete_links(net, (const char *const[]){ "ecsbr7", "ecsbr0", NULL });
}

static void test_vxlan_name_or_vni_taken(void **state)
{
	struct agent_net *net = *state;
	const char *foreign[] = { "ip",	    "link", "add",   "other0", "type",	    "vxlan", "id",
				  "200",    "dstport", "4789", "local", "10.0.0.9", NULL };
	_cleanup_free_ char *ifb = NULL, *tap = NULL, *before = NULL, *after = NULL;

	assert_int_equal(agent_net_ensure_bridge(net, "ecsbr0", NULL, 0), 0);
	/* Another kind of link has the name: left as it is. */
	add_plain_link("ecstvx9");
	assert_int_equal(agent_net_ensure_vxlan(net, "ecstvx9", 100, "10.0.0.1", 4789, "ecsbr0"), -EEXIST);
	ifb = link_detail("ecstvx9");
	assert_non_null(strstr(ifb, " ifb "));
	assert_int_equal(agent_net_ensure_tap(net, "ecst8", "ecsbr0"), 0);
	assert_int_equal(agent_net_ensure_vxlan(net, "ecst8", 100, "10.0.0.1", 4789, "ecsbr0"), -EEXIST);
	tap = link_detail("ecst8");
	assert_non_null(strstr(tap, " tun type tap "));
	/* Nor does ensuring a tap take a vxlan's name. */
	assert_int_equal(agent_net_ensure_vxlan(net, "ecstvx0", 100, "10.0.0.1", 4789, "ecsbr0"), 0);
	assert_int_equal(agent_net_ensure_tap(net, "ecstvx0", "ecsbr0"), -EEXIST);

	/* A device that is not ours holds the VNI and port: -EEXIST, nothing made, it untouched. */
	run_ok(foreign);
	before = link_detail("other0");
	assert_int_equal(agent_net_ensure_vxlan(net, "ecstvx1", 200, "10.0.0.1", 4789, "ecsbr0"), -EEXIST);
	assert_false(agent_net_link_exists(net, "ecstvx1"));
	after = link_detail("other0");
	assert_string_equal(after, before);
	/* Same VNI on another port is another segment: fine. */
	assert_int_equal(agent_net_ensure_vxlan(net, "ecstvx1", 200, "10.0.0.1", 4790, "ecsbr0"), 0);
	del_link_ip("other0");
}

static void test_vxlan_peers_converge(void **state)
{
	struct agent_net *net = *state;
	const char *ab[] = { "10.0.0.2", "10.0.0.3" };
	const char *bc[] = { "10.0.0.4", "10.0.0.3", "10.0.0.4", "10.0.0.3" };
	const char *bc_sorted[] = { "10.0.0.3", "10.0.0.4" };
	const char *order[] = { "10.0.0.10", "10.0.0.9", "9.255.255.255" };
	const char *order_sorted[] = { "9.255.255.255", "10.0.0.9", "10.0.0.10" };
	struct fdb_events ev;
	_cleanup_free_ char *ev1 = NULL, *ev2 = NULL, *ev3 = NULL;

	assert_int_equal(agent_net_ensure_bridge(net, "ecsbr0", NULL, 0), 0);
	assert_int_equal(agent_net_ensure_vxlan(net, "ecstvx0", 100, "10.0.0.1", 4789, "ecsbr0"), 0);
	assert_peers(net, "ecstvx0", NULL, 0);
	fdb_events_start(&ev);

	assert_int_equal(agent_net_set_vxlan_peers(net, "ecstvx0", ab, ARRAY_SIZE(ab)), 0);
	assert_flood(net, "ecstvx0", ab, ARRAY_SIZE(ab));
	ev1 = fdb_events_take(&ev);
	assert_string_equal(ev1, "new 00:00:00:00:00:00 10.0.0.2\nnew 00:00:00:00:00:00 10.0.0.3\n");

	/* {A,B} to {B,C} (with duplicates): C added, A deleted, B not touched. */
	assert_int_equal(agent_net_set_vxlan_peers(net, "ecstvx0", bc, ARRAY_SIZE(bc)), 0);
	assert_flood(net, "ecstvx0", bc_sorted, ARRAY_SIZE(bc_sorted));
	ev2 = fdb_events_take(&ev);
	assert_string_equal(ev2, "new 00:00:00:00:00:00 10.0.0.4\ndel 00:00:00:00:00:00 10.0.0.2\n");

	/* The same list again: nothing sent to the kernel at all. */
	assert_int_equal(agent_net_set_vxlan_peers(net, "ecstvx0", bc_sorted, ARRAY_SIZE(bc_sorted)), 0);
	ev3 = fdb_events_take(&ev);
	assert_string_equal(ev3, "");
	fdb_events_stop(&ev);

	/* Sorted by address, not as text. */
	assert_int_equal(agent_net_set_vxlan_peers(net, "ecstvx0", order, ARRAY_SIZE(order)), 0);
	assert_peers(net, "ecstvx0", order_sorted, ARRAY_SIZE(order_sorted));

	/* An empty list empties the flood list. */
	assert_int_equal(agent_net_set_vxlan_peers(net, "ecstvx0", NULL, 0), 0);
	assert_flood(net, "ecstvx0", NULL, 0);
}

static void test_vxlan_peers_leave_other_entries(void **state)
{
	struct agent_net *net = *state;
	const char *stat[] = { "bridge", "fdb", "add", "02:00:00:00:00:0a", "dev", "ecstvx0", "dst", "10.0.0.7",
			       "self", "permanent", NULL };
	const char *own_port[] = { "bridge", "fdb", "append", "00:00:00:00:00:00", "dev", "ecstvx0", "dst", "10.0.0.8",
				   "port", "9999", NULL };
	const char *by_hand[] = { "bridge", "fdb", "append", "00:00:00:00:00:00", "dev", "ecstvx0", "dst", "10.0.0.9",
				  NULL };
	const char *one[] = { "10.0.0.3" };
	_cleanup_free_ char *fdb1 = NULL, *fdb2 = NULL;

	assert_int_equal(agent_net_ensure_bridge(net, "ecsbr0", NULL, 0), 0);
	assert_int_equal(agent_net_ensure_vxlan(net, "ecstvx0", 100, "10.0.0.1", 4789, "ecsbr0"), 0);
	run_ok(stat);
	run_ok(own_port);
	run_ok(by_hand);
	assert_peers(net, "ecstvx0", (const char *[]){ "10.0.0.9" }, 1);

	/* A plain all-zeros entry made by hand is part of the flood list: replaced. The static
	 * entry for a MAC, and an all-zeros one with its own port, are not ours: they stay. */
	assert_int_equal(agent_net_set_vxlan_peers(net, "ecstvx0", one, 1), 0);
	fdb1 = fdb_show("ecstvx0");
	assert_int_equal(count(fdb1, "02:00:00:00:00:0a dst 10.0.0.7 self permanent\n"), 1);
	assert_int_equal(count(fdb1, "00:00:00:00:00:00 dst 10.0.0.8 port 9999 self permanent\n"), 1);
	assert_int_equal(count(fdb1, "00:00:00:00:00:00 dst 10.0.0.3 self permanent\n"), 1);
	assert_int_equal(count(fdb1, "10.0.0.9"), 0);
	assert_peers(net, "ecstvx0", one, 1);

	assert_int_equal(agent_net_set_vxlan_peers(net, "ecstvx0", NULL, 0), 0);
	fdb2 = fdb_show("ecstvx0");
	assert_int_equal(count(fdb2, "02:00:00:00:00:0a dst 10.0.0.7 self permanent\n"), 1);
	assert_int_equal(count(fdb2, "00:00:00:00:00:00 dst 10.0.0.8 port 9999 self permanent\n"), 1);
	assert_int_equal(count(fdb2, "10.0.0.3"), 0);
	assert_peers(net, "ecstvx0", NULL, 0);
}

static void test_vxlan_peers_errors(void **state)
{
	struct agent_net *net = *state;
	const char *one[] = { "10.0.0.2" };
	const char *bad[] = { "garbage", "10.0.0",  "0.0.0.0",     "255.255.255.255",
			      "239.1.1.1", "fd00::1", "10.0.0.3/32", "" };
	const char *many[NET_TEST_MAX_PEERS + 1];
	char **peers = NULL;
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(many); i++)
		many[i] = "10.0.0.2";
	/* No such link. */
	assert_int_equal(agent_net_set_vxlan_peers(net, "ecstvx0", one, 1), -ENODEV);
	assert_int_equal(agent_net_get_vxlan_peers(net, "ecstvx0", &peers, &n), -ENODEV);
	assert_null(peers);

	assert_int_equal(agent_net_ensure_bridge(net, "ecsbr0", NULL, 0), 0);
	assert_int_equal(agent_net_ensure_vxlan(net, "ecstvx0", 100, "10.0.0.1", 4789, "ecsbr0"), 0);
	assert_int_equal(agent_net_set_vxlan_peers(net, "ecstvx0", one, 1), 0);

	/* A bad address anywhere in the list: nothing changes. */
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		const char *list[] = { "10.0.0.3", bad[i] };

		assert_int_equal(agent_net_set_vxlan_peers(net, "ecstvx0", list, 2), -EINVAL);
	}
	{
		const char *list[] = { "10.0.0.3", NULL };

		assert_int_equal(agent_net_set_vxlan_peers(net, "ecstvx0", list, 2), -EINVAL);
	}
	assert_int_equal(agent_net_set_vxlan_peers(net, "ecstvx0", NULL, 1), -EINVAL);
	assert_int_equal(agent_net_set_vxlan_peers(net, "ecstvx0", many, ARRAY_SIZE(many)), -E2BIG);
	assert_int_equal(agent_net_set_vxlan_peers(net, "ecstvx0", many, ARRAY_SIZE(many) - 1), 0);
	assert_peers(net, "ecstvx0", one, 1);

	/* Not ours, not a vxlan, not a name. */
	assert_int_equal(agent_net_set_vxlan_peers(net, "other0", one, 1), -EPERM);
	assert_int_equal(agent_net_set_vxlan_peers(net, "ecsbr0", one, 1), -EINVAL);
	assert_int_equal(agent_net_set_vxlan_peers(net, "ecst/0", one, 1), -EINVAL);
	assert_int_equal(agent_net_get_vxlan_peers(net, "ecst/0", &peers, &n), -EINVAL);
	assert_int_equal(agent_net_get_vxlan_peers(net, "ecstvx0", NULL, &n), -EINVAL);
	/* A bridge has no flood list of its own. */
	assert_int_equal(agent_net_get_vxlan_peers(net, "ecsbr0", &peers, &n), 0);
	assert_int_equal(n, 0);
	free_names(peers, n);
	{
		_cleanup_free_ char *fdb = fdb_show("ecstvx0");

		assert_int_equal(count(fdb, "00:00:00:00:00:00 "), 1);
	}
}

static void test_link_mtu(void **state)
{
	struct agent_net *net = *state;
	const char *mtu1400[] = { "ip", "link", "set", "other0", "mtu", "1400", NULL };
	unsigned mtu = 7;

	assert_int_equal(agent_net_link_mtu(net, "ecstvx0", &mtu), -ENODEV);
	assert_int_equal(agent_net_link_mtu(net, "ecst/0", &mtu), -EINVAL);
	assert_int_equal(agent_net_link_mtu(net, "lo", NULL), -EINVAL);
	assert_int_equal(mtu, 7);
	/* Reading is allowed on any link. */
	assert_int_equal(agent_net_link_mtu(net, "lo", &mtu), 0);
	assert_int_equal(mtu, 65536);
	add_plain_link("other0");
	run_ok(mtu1400);
	assert_int_equal(agent_net_link_mtu(net, "other0", &mtu), 0);
	assert_int_equal(mtu, 1400);
	del_link_ip("other0");
}

static void test_link_mac_copied(void **state)
{
	struct agent_net *net = *state;
	char mac[18] = "", other[18] = "";

	assert_int_equal(agent_net_link_mac(net, "ecsbr9", mac), -ENODEV);
	assert_int_equal(agent_net_copy_mac(net, "ecsbr9", "lo"), -ENODEV);
	assert_int_equal(agent_net_ensure_bridge(net, "ecsbr9", NULL, 0), 0);
	assert_int_equal(agent_net_ensure_tap(net, "ecst9", "ecsbr9"), 0);
	assert_int_equal(agent_net_link_mac(net, "ecsbr9", mac), 0);
	assert_int_equal(strlen(mac), 17);
	assert_int_equal(agent_net_link_mac(net, "ecst9", other), 0);
	assert_string_not_equal(mac, other);
	/* Only links we own change; the source may be any. */
	add_plain_link("other0");
	assert_int_equal(agent_net_copy_mac(net, "other0", "ecsbr9"), -EPERM);
	assert_int_equal(agent_net_copy_mac(net, "ecst9", "nosuch0"), -ENODEV);
	assert_int_equal(agent_net_copy_mac(net, "ecst9", "ecsbr9"), 0);
	assert_int_equal(agent_net_link_mac(net, "ecst9", other), 0);
	assert_string_equal(mac, other);
	assert_int_equal(agent_net_copy_mac(net, "ecst9", "ecsbr9"), 0); /* already: nothing sent */
	/* The bridge's MAC is pinned: a port with the same MAC does not move it. */
	assert_int_equal(agent_net_link_mac(net, "ecsbr9", other), 0);
	assert_string_equal(mac, other);
	del_link_ip("other0");
}

/* ---- overlay traffic: two hosts joined by a veth underlay, each with a bridge and a vxlan
 * made by agent_net and a guest (a veth in a namespace of its own) on the bridge. Every
 * namespace is made inside the test's own and dies with its descriptor. ---- */

struct overlay {
	int home; /* the test's namespace, to return to */
	int host[2], guest[2];
	struct agent_net *net[2];
};

static struct overlay ov = { .home = -1, .host = { -1, -1 }, .guest = { -1, -1 } };

static void ns_enter(int fd)
{
	assert_int_equal(setns(fd, CLONE_NEWNET), 0);
}

/* A new network namespace with lo up, held by the returned descriptor. */
static int ns_make(void)
{
	const char *lo_up[] = { "ip", "link", "set", "lo", "up", NULL };
	int fd;

	assert_int_equal(unshare(CLONE_NEWNET), 0);
	fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	run_ok(lo_up);
	ns_enter(ov.home);
	return fd;
}

/* ip's name for a namespace held by one of our descriptors (a path: "netns PATH"). */
static char *ns_path(int fd)
{
	char *path = ecs_strdup_printf("/proc/%d/fd/%d", (int)getpid(), fd);

	assert_non_null(path);
	return path;
}

/* Move link (in the current namespace) to the one held by fd. */
static void link_to_ns(const char *link, int fd)
{
	_cleanup_free_ char *path = ns_path(fd);
	const char *argv[] = { "ip", "link", "set", link, "netns", path, NULL };

	run_ok(argv);
}

/* busybox ping (the host has no ping binary) from the current namespace; its exit status. */
static int ping(const char *ip, const char *wait_s)
{
	const char *argv[] = { "busybox", "ping", "-c1", "-W", wait_s, ip, NULL };
	struct ecs_cmd_result res;
	int status;

	assert_int_equal(ecs_cmd_run(argv, NULL, &res), 0);
	status = res.status;
	ecs_cmd_result_clear(&res);
	return status;
}

/* Host i (0 or 1): underlay 10.99.0.(i+1)/24 on veth ecstu<i>, bridge ecsbr0, vxlan
 * ecstvx0 (VNI 4242), and guest i's veth ecstg<i>a on the bridge, its peer ecstg<i>b in
 * the guest's namespace as 192.168.77.(i+1)/24 with MAC 02:00:00:00:77:0(i+1). */
static void overlay_host(int i)
{
	char local[16], u[IFNAMSIZ], ga[IFNAMSIZ], gb[IFNAMSIZ], ip[32], mac[32], cidr[32];

	snprintf(local, sizeof(local), "10.99.0.%d", i + 1);
	snprintf(u, sizeof(u), "ecstu%d", i);
	snprintf(ga, sizeof(ga), "ecstg%da", i);
	snprintf(gb, sizeof(gb), "ecstg%db", i);
	snprintf(ip, sizeof(ip), "192.168.77.%d/24", i + 1);
	snprintf(mac, sizeof(mac), "02:00:00:00:77:0%d", i + 1);
	snprintf(cidr, sizeof(cidr), "%s/24", local);

	ns_enter(ov.host[i]);
	{
		const char *addr[] = { "ip", "addr", "add", cidr, "dev", u, NULL };
		const char *up[] = { "ip", "link", "set", u, "up", NULL };
		const char *guest[] = { "ip", "link", "add", ga, "type", "veth", "peer", "name", gb, NULL };
		const char *port[] = { "ip", "link", "set", ga, "master", "ecsbr0", "up", NULL };

		run_ok(addr);
		run_ok(up);
		/* The handle's socket is bound to the namespace it is opened in. */
		assert_int_equal(agent_net_open(prefixes, &ov.net[i]), 0);
		assert_int_equal(agent_net_ensure_bridge(ov.net[i], "ecsbr0", NULL, 0), 0);
		assert_int_equal(agent_net_ensure_vxlan(ov.net[i], "ecstvx0", 4242, local, 4789, "ecsbr0"), 0);
		run_ok(guest);
		run_ok(port);
		link_to_ns(gb, ov.guest[i]);
	}
	ns_enter(ov.guest[i]);
	{
		const char *hw[] = { "ip", "link", "set", gb, "address", mac, NULL };
		const char *addr[] = { "ip", "addr", "add", ip, "dev", gb, NULL };
		const char *up[] = { "ip", "link", "set", gb, "up", NULL };

		run_ok(hw);
		run_ok(addr);
		run_ok(up);
	}
	ns_enter(ov.home);
}

static void test_vxlan_traffic(void **state)
{
	const char *underlay[] = { "ip", "link", "add", "ecstu0", "type", "veth", "peer", "name", "ecstu1", NULL };
	const char *peer_of[2][1] = { { "10.99.0.2" }, { "10.99.0.1" } };
	_cleanup_free_ char *fdb = NULL, *after = NULL;
	int status = -1;

	(void)state;
	ov.home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	assert_true(ov.home >= 0);
	for (int i = 0; i < 2; i++) {
		ov.host[i] = ns_make();
		ov.guest[i] = ns_make();
	}
	/* The underlay: one veth pair between the two hosts. */
	ns_enter(ov.host[0]);
	run_ok(underlay);
	link_to_ns("ecstu1", ov.host[1]);
	ns_enter(ov.home);
	overlay_host(0);
	overlay_host(1);

	/* No peers yet: the ARP request floods to nowhere. */
	ns_enter(ov.guest[0]);
	assert_int_not_equal(ping("192.168.77.2", "1"), 0);

	for (int i = 0; i < 2; i++) {
		ns_enter(ov.host[i]);
		assert_int_equal(agent_net_set_vxlan_peers(ov.net[i], "ecstvx0", peer_of[i], 1), 0);
	}
	ns_enter(ov.guest[0]);
	for (int tries = 0; tries < 3 && status != 0; tries++)
		status = ping("192.168.77.2", "2");
	assert_int_equal(status, 0);

	/* Host 0 learnt guest 1's MAC behind host 1; emptying the flood list leaves that alone. */
	ns_enter(ov.host[0]);
	fdb = fdb_show("ecstvx0");
	assert_non_null(strstr(fdb, "02:00:00:00:77:02 dst 10.99.0.2 self"));
	assert_non_null(strstr(fdb, "00:00:00:00:00:00 dst 10.99.0.2 self permanent"));
	assert_int_equal(agent_net_set_vxlan_peers(ov.net[0], "ecstvx0", NULL, 0), 0);
	after = fdb_show("ecstvx0");
	assert_non_null(strstr(after, "02:00:00:00:77:02 dst 10.99.0.2 self"));
	assert_null(strstr(after, "00:00:00:00:00:00"));
	ns_enter(ov.home);
}

/* Back to the test's namespace whatever happened, and let the others go. */
static int overlay_teardown(void **state)
{
	if (ov.home >= 0 && setns(ov.home, CLONE_NEWNET) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		agent_net_close(ov.net[i]);
		ov.net[i] = NULL;
		if (ov.host[i] >= 0)
			close(ov.host[i]);
		if (ov.guest[i] >= 0)
			close(ov.guest[i]);
		ov.host[i] = ov.guest[i] = -1;
	}
	if (ov.home >= 0)
		close(ov.home);
	ov.home = -1;
	return cleanup_links(state);
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
		cmocka_unit_test_teardown(test_vxlan_create_idempotent, cleanup_links),
		cmocka_unit_test_teardown(test_vxlan_recreated_when_different, cleanup_links),
		cmocka_unit_test_teardown(test_vxlan_bad_arguments, cleanup_links),
		cmocka_unit_test_teardown(test_vxlan_name_or_vni_taken, cleanup_links),
		cmocka_unit_test_teardown(test_vxlan_peers_converge, cleanup_links),
		cmocka_unit_test_teardown(test_vxlan_peers_leave_other_entries, cleanup_links),
		cmocka_unit_test_teardown(test_vxlan_peers_errors, cleanup_links),
		cmocka_unit_test_teardown(test_link_mtu, cleanup_links),
		cmocka_unit_test_teardown(test_link_mac_copied, cleanup_links),
		cmocka_unit_test_teardown(test_vxlan_traffic, overlay_teardown),
	};

	if (nstest_private_netns("test_agent_net") < 0)
		return 1;
	if (ecs_cmd_run_ok(lo_up, NULL, &res) < 0) {
		fprintf(stderr, "test_agent_net: cannot bring lo up in the test namespace\n");
		return 1;
	}
	ecs_cmd_result_clear(&res);
	/* Expected refusals log at error level; creations at info would drown them. */
	ecs_log_set_level(ECS_LOG_WARN);
	return cmocka_run_group_tests_name("agent_net", tests, group_setup, group_teardown);
}
