/* net.c: the links side of net.h: the netlink handle, the bridge and its addresses, taps,
 * and link queries. The overlay (vxlan device, flood list) is agent/net_vxlan.c. */
#include "net.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/socket.h>

#include "addr.h"
#include "cmd.h"
#include "log.h"
#include "net-internal.h"
#include "sysctl.h"
#include "util.h"

/* A bridge carries a handful of gateway addresses; more is a caller's bug. */
#define NET_MAX_ADDRS 64

/* libvirt opens the tap with IFF_TAP | IFF_NO_PI (| IFF_VNET_HDR for virtio models): the
 * kernel replaces the feature flags with the attacher's, so ours only have to agree on
 * the type and on IFF_MULTI_QUEUE, which must stay off (libvirt attaches one queue). */
#define NET_TAP_FLAGS (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)

int net_nlerr_to_errno(int nlerr)
{
	switch (abs(nlerr)) {
	case NLE_SUCCESS:
		return 0;
	case NLE_INTR:
		return -EINTR;
	case NLE_BAD_SOCK:
		return -EBADF;
	case NLE_AGAIN:
	case NLE_DUMP_INTR:
		return -EAGAIN;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_EXIST:
		return -EEXIST;
	case NLE_INVAL:
		return -EINVAL;
	case NLE_RANGE:
		return -ERANGE;
	case NLE_MSGSIZE:
		return -EMSGSIZE;
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT:
		return -EAFNOSUPPORT;
	case NLE_OBJ_NOTFOUND:
		return -ENOENT;
	case NLE_NOADDR:
		return -EADDRNOTAVAIL;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_NOACCESS:
		return -EACCES;
	case NLE_PERM:
		return -EPERM;
	case NLE_NODEV:
		return -ENODEV;
	default:
		return -EIO;
	}
}

bool net_name_valid(const char *name)
{
	size_t len;

	if (!name)
		return false;
	len = strlen(name);
	if (len == 0 || len >= IFNAMSIZ || streq(name, ".") || streq(name, ".."))
		return false;
	for (const char *c = name; *c; c++)
		if (*c == '/' || *c == ':' || isspace((unsigned char)*c))
			return false;
	return true;
}

static bool name_owned(const struct agent_net *net, const char *name)
{
	for (size_t i = 0; i < net->n_prefixes; i++)
		if (str_has_prefix(name, net->prefixes[i]))
			return true;
	return false;
}

/* The check before every change: -EINVAL for a name the kernel would refuse, -EPERM for
 * one that is not ours. */
int net_name_check_owned(const struct agent_net *net, const char *name)
{
	char q[64];

	if (!net_name_valid(name)) {
		log_error("net: invalid link name", "link=%s", ecs_log_quote(strempty(name), q, sizeof(q)));
		return -EINVAL;
	}
	if (!name_owned(net, name)) {
		log_error("net: refusing to touch a link without our prefix", "link=%s",
			  ecs_log_quote(name, q, sizeof(q)));
		return -EPERM;
	}
	return 0;
}

int agent_net_open(const char *const *prefixes, struct agent_net **ret)
{
	struct agent_net *net;
	size_t n;
	int r;

	if (!prefixes || !ret)
		return -EINVAL;
	for (n = 0; prefixes[n]; n++)
		/* An empty prefix would claim every link on the host. */
		if (!*prefixes[n] || strlen(prefixes[n]) >= IFNAMSIZ)
			return -EINVAL;
	if (n == 0)
		return -EINVAL;

	net = calloc(1, sizeof(*net));
	if (!net)
		return -ENOMEM;
	pthread_mutex_init(&net->lock, NULL);
	net->prefixes = calloc(n, sizeof(*net->prefixes));
	if (!net->prefixes) {
		r = -ENOMEM;
		goto fail;
	}
	for (; net->n_prefixes < n; net->n_prefixes++) {
		net->prefixes[net->n_prefixes] = strdup(prefixes[net->n_prefixes]);
		if (!net->prefixes[net->n_prefixes]) {
			r = -ENOMEM;
			goto fail;
		}
	}
	net->sock = nl_socket_alloc();
	if (!net->sock) {
		r = -ENOMEM;
		goto fail;
	}
	/* libnl 3.7 opens the socket with SOCK_CLOEXEC. */
	r = nl_connect(net->sock, NETLINK_ROUTE);
	if (r < 0) {
		log_error("net: cannot open rtnetlink socket", "error=\"%s\"", nl_geterror(r));
		r = net_nlerr_to_errno(r);
		goto fail;
	}
	*ret = net;
	return 0;

fail:
	agent_net_close(net);
	return r;
}

void agent_net_close(struct agent_net *net)
{
	if (!net)
		return;
	if (net->sock)
		nl_socket_free(net->sock);
	for (size_t i = 0; i < net->n_prefixes; i++)
		free(net->prefixes[i]);
	free(net->prefixes);
	pthread_mutex_destroy(&net->lock);
	free(net);
}

/* The link named name into *ret (the caller puts it); -ENODEV when there is none.
 * Called with the lock held; does not log. */
int net_link_get(struct agent_net *net, const char *name, struct rtnl_link **ret)
{
	struct rtnl_link *link = NULL;
	int r;

	r = rtnl_link_get_kernel(net->sock, 0, name, &link);
	if (r < 0) {
		r = net_nlerr_to_errno(r);
		return r == -ENOENT ? -ENODEV : r;
	}
	*ret = link;
	return 0;
}

/* Make link a port of master_ifindex (when > 0) and administratively up; sends nothing
 * when both hold already. Called with the lock held. */
int net_link_converge(struct agent_net *net, struct rtnl_link *link, int master_ifindex)
{
	_cleanup_(link_putp) struct rtnl_link *change = NULL;
	const char *name = rtnl_link_get_name(link);
	bool changed = false;
	int r;

	change = rtnl_link_alloc();
	if (!change)
		return -ENOMEM;
	if (master_ifindex > 0 && rtnl_link_get_master(link) != master_ifindex) {
		rtnl_link_set_master(change, master_ifindex);
		changed = true;
	}
	if (!(rtnl_link_get_flags(link) & IFF_UP)) {
		rtnl_link_set_flags(change, IFF_UP);
		changed = true;
	}
	if (!changed)
		return 0;
	r = rtnl_link_change(net->sock, link, change, 0);
	if (r < 0) {
		log_error("net: cannot change link", "link=%s master_ifindex=%d error=\"%s\"",
			  strempty(name), master_ifindex, nl_geterror(r));
		return net_nlerr_to_errno(r);
	}
	return 0;
}

int net_refuse(const char *link, const char *want, const char *value)
{
	char q[64];

	log_error("net: bad argument, nothing changed", "link=%s want=\"%s\" value=%s", link, want,
		  ecs_log_quote(strempty(value), q, sizeof(q)));
	return -EINVAL;
}

int net_list_check(const char *link, const char *what, const void *list, size_t n, size_t max)
{
	if (n <= max && (list || n == 0))
		return 0;
	log_error("net: bad list", "link=%s list=%s n=%zu max=%zu", link, what, n, max);
	return n > max ? -E2BIG : -EINVAL;
}

int net_link_want_kind(struct rtnl_link *link, const char *kind, int err)
{
	const char *is = rtnl_link_get_type(link);

	if (streq(is, kind))
		return 0;
	log_error("net: link is of another kind", "link=%s want=%s kind=%s", strempty(rtnl_link_get_name(link)), kind,
		  is ? is : "none");
	return err;
}

int net_link_got(int r, const char *name, struct rtnl_link *link, const char *kind, int wrong_kind,
		 struct rtnl_link **ret)
{
	if (r < 0) {
		log_error("net: cannot read link", "link=%s want=%s error=\"%s\"", name, kind, strerror(-r));
		return r;
	}
	r = net_link_want_kind(link, kind, wrong_kind);
	if (r < 0) {
		rtnl_link_put(link);
		return r;
	}
	*ret = link;
	return 0;
}

int net_master_bridge_get(struct agent_net *net, const char *name, const char *bridge, struct rtnl_link **ret)
{
	struct rtnl_link *br = NULL;
	int r = net_link_get(net, bridge, &br);

	if (r < 0)
		log_error("net: cannot read the bridge of a port", "link=%s bridge=%s", name, bridge);
	return net_link_got(r, bridge, br, "bridge", -EINVAL, ret);
}

int net_link_up_without_ipv6(struct agent_net *net, struct rtnl_link *link, const char *name, int master_ifindex)
{
	/* Else the link gets a link-local address once up and, for a guest's port, sends router
	 * solicitations and MLD reports into the guest's segment. */
	int r = net_link_disable_ipv6(name);

	return r < 0 ? r : net_link_converge(net, link, master_ifindex);
}

int net_list_parse_begin(const struct agent_net *net, const char *link, const char *what, const void *list, size_t n,
			 size_t max, size_t item_size, void **ret_parsed)
{
	int r = net_name_check_owned(net, link);

	if (r == 0)
		r = net_list_check(link, what, list, n, max);
	if (r < 0)
		return r;
	*ret_parsed = calloc(n ? n : 1, item_size);
	return *ret_parsed ? 0 : -ENOMEM;
}

/* "A.B.C.D/N" into an nl_addr with its prefix length. IPv4 only: IPv6 is off on the bridge. */
static int cidr_parse(const char *s, struct nl_addr **ret)
{
	struct ecs_cidr c;
	struct in_addr in;
	struct nl_addr *a;

	if (ecs_cidr_parse(s, 0, &c) < 0)
		return -EINVAL;
	in.s_addr = htonl(c.addr);
	a = nl_addr_build(AF_INET, &in, sizeof(in));
	if (!a)
		return -ENOMEM;
	nl_addr_set_prefixlen(a, c.len);
	*ret = a;
	return 0;
}

/* Pin the bridge's MAC address by setting it to its own: otherwise the kernel gives the
 * bridge the lowest MAC among its ports, and the gateway's MAC would change under the
 * guests whenever a tap comes or goes. Once only, at creation: setting it again would
 * flush the bridge's neighbour entries. Called with the lock held. */
static int bridge_pin_mac(struct agent_net *net, const char *name, struct rtnl_link *link)
{
	_cleanup_(link_putp) struct rtnl_link *change = NULL;
	struct nl_addr *mac = rtnl_link_get_addr(link);
	int r;

	if (!mac)
		return 0;
	change = rtnl_link_alloc();
	if (!change)
		return -ENOMEM;
	rtnl_link_set_addr(change, mac);
	r = rtnl_link_change(net->sock, link, change, 0);
	if (r < 0) {
		log_error("net: cannot set bridge MAC address", "bridge=%s error=\"%s\"", name, nl_geterror(r));
		return net_nlerr_to_errno(r);
	}
	return 0;
}

/* Get the bridge, creating it when missing; -EEXIST when the name is taken by another kind
 * of link. Called with the lock held. */
static int bridge_get_or_create(struct agent_net *net, const char *name, struct rtnl_link **ret)
{
	struct rtnl_link *link = NULL;
	bool created = false;
	int r;

	r = net_link_get(net, name, &link);
	if (r == -ENODEV) {
		struct rtnl_link *nb = rtnl_link_bridge_alloc();

		if (!nb)
			return -ENOMEM;
		rtnl_link_set_name(nb, name);
		r = rtnl_link_add(net->sock, nb, NLM_F_CREATE | NLM_F_EXCL);
		rtnl_link_put(nb);
		if (r == 0) {
			created = true;
			log_info("net: bridge created", "bridge=%s", name);
		} else if (r != -NLE_EXIST) { /* EEXIST: a concurrent caller made it first */
			log_error("net: cannot create bridge", "bridge=%s error=\"%s\"", name, nl_geterror(r));
			return net_nlerr_to_errno(r);
		}
		r = net_link_get(net, name, &link);
	}
	r = net_link_got(r, name, link, "bridge", -EEXIST, &link);
	if (r < 0)
		return r;
	if (created) {
		r = bridge_pin_mac(net, name, link);
		if (r < 0) {
			rtnl_link_put(link);
			return r;
		}
	}
	*ret = link;
	return 0;
}

/* Set one IFLA_BR_* u32 attribute. libnl 3.7 has no setter for bridge device options, so
 * the RTM_NEWLINK message is built here: { ifindex, IFLA_LINKINFO { KIND "bridge",
 * INFO_DATA { attr } } }. Called with the lock held. */
static int bridge_set_u32(struct agent_net *net, int ifindex, int attr, uint32_t value)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
	struct nlattr *info, *data;
	struct nl_msg *msg;
	int r;

	msg = nlmsg_alloc_simple(RTM_NEWLINK, 0);
	if (!msg)
		return -ENOMEM;
	if (nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 || !(info = nla_nest_start(msg, IFLA_LINKINFO)) ||
	    nla_put_string(msg, IFLA_INFO_KIND, "bridge") < 0 || !(data = nla_nest_start(msg, IFLA_INFO_DATA)) ||
	    nla_put_u32(msg, attr, value) < 0) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	nla_nest_end(msg, data);
	nla_nest_end(msg, info);
	r = nl_send_sync(net->sock, msg); /* frees msg */
	return r < 0 ? net_nlerr_to_errno(r) : 0;
}

/* STP off, then forward delay 0: the kernel refuses a zero delay while STP runs, and it
 * applies FORWARD_DELAY before STP_STATE within one message, hence two. Idempotent. */
static int bridge_configure(struct agent_net *net, const char *name, int ifindex)
{
	int r;

	r = bridge_set_u32(net, ifindex, IFLA_BR_STP_STATE, 0);
	if (r >= 0)
		r = bridge_set_u32(net, ifindex, IFLA_BR_FORWARD_DELAY, 0);
	if (r < 0)
		log_error("net: cannot configure bridge", "bridge=%s error=\"%s\"", name, strerror(-r));
	return r;
}

/* Through the calling thread's network namespace (/proc/sys/net follows it, unlike /sys). */
int net_link_disable_ipv6(const char *name)
{
	_cleanup_free_ char *key = ecs_strdup_printf("net/ipv6/conf/%s/disable_ipv6", name);
	int r;

	if (!key)
		return -ENOMEM;
	r = ecs_sysctl_write(key, "1");
	if (r == -ENOENT && access("/proc/sys/net/ipv6", F_OK) < 0)
		return 0; /* no IPv6 in this kernel: nothing to disable */
	if (r < 0)
		log_error("net: cannot disable IPv6", "link=%s error=\"%s\"", name, strerror(-r));
	return r;
}

void agent_net_enable_bridge_netfilter(void)
{
	static const char key[] = "net/bridge/bridge-nf-call-iptables";
	const char *modprobe[] = { "modprobe", "br_netfilter", NULL };
	int r = ecs_sysctl_write(key, "1");

	if (r == -ENOENT) {
		struct ecs_cmd_result res = { 0 };

		ecs_cmd_run(modprobe, NULL, &res);
		ecs_cmd_result_clear(&res);
		r = ecs_sysctl_write(key, "1");
	}
	if (r < 0)
		log_warn("bridge netfilter unavailable: guards will not match", "error=\"%s\"", strerror(-r));
}

/* Add local/prefix to ifindex unless it is there (the kernel answers EEXIST for an equal
 * address and prefix without NLM_F_REPLACE, which leaves it as it is). */
static int bridge_addr_ensure(struct agent_net *net, const char *bridge, int ifindex, struct nl_addr *local,
			      const char *text)
{
	struct rtnl_addr *a;
	int r;

	a = rtnl_addr_alloc();
	if (!a)
		return -ENOMEM;
	rtnl_addr_set_ifindex(a, ifindex);
	r = rtnl_addr_set_local(a, local);
	if (r >= 0)
		r = rtnl_addr_add(net->sock, a, 0);
	rtnl_addr_put(a);
	if (r == -NLE_EXIST)
		return 0;
	if (r < 0) {
		log_error("net: cannot add address to bridge", "bridge=%s address=%s error=\"%s\"", bridge, text,
			  nl_geterror(r));
		return net_nlerr_to_errno(r);
	}
	log_info("net: address added", "bridge=%s address=%s", bridge, text);
	return 0;
}

int agent_net_ensure_bridge(struct agent_net *net, const char *bridge, const char *const *addrs, size_t n_addrs)
{
	_cleanup_(link_putp) struct rtnl_link *link = NULL;
	struct nl_addr **parsed = NULL;
	size_t i;
	int ifindex, r;

	r = net_list_parse_begin(net, bridge, "addresses", addrs, n_addrs, NET_MAX_ADDRS, sizeof(*parsed),
				 (void **)&parsed);
	if (r < 0)
		return r;
	for (i = 0; i < n_addrs; i++) {
		r = cidr_parse(addrs[i], &parsed[i]);
		if (r < 0) {
			if (r == -EINVAL)
				net_refuse(bridge, "IPv4 A.B.C.D/N", addrs[i]);
			goto out;
		}
	}

	pthread_mutex_lock(&net->lock);
	r = bridge_get_or_create(net, bridge, &link);
	if (r < 0)
		goto unlock;
	ifindex = rtnl_link_get_ifindex(link);
	r = bridge_configure(net, bridge, ifindex);
	if (r < 0)
		goto unlock;
	/* Before the bridge goes up, so it never gets an IPv6 link-local address. */
	r = net_link_disable_ipv6(bridge);
	if (r < 0)
		goto unlock;
	for (i = 0; i < n_addrs; i++) {
		r = bridge_addr_ensure(net, bridge, ifindex, parsed[i], addrs[i]);
		if (r < 0)
			goto unlock;
	}
	r = net_link_converge(net, link, 0);
unlock:
	pthread_mutex_unlock(&net->lock);
out:
	for (i = 0; i < n_addrs; i++)
		nl_addr_put(parsed[i]);
	free(parsed);
	return r;
}

/* Parse cidr and find the link's index, for the address calls. */
static int addr_target(struct agent_net *net, const char *name, const char *cidr, struct nl_addr **ret_addr,
		       int *ret_ifindex)
{
	_cleanup_(link_putp) struct rtnl_link *link = NULL;
	int r;

	r = net_name_check_owned(net, name);
	if (r < 0)
		return r;
	if (cidr_parse(cidr, ret_addr) < 0)
		return net_refuse(name, "IPv4 A.B.C.D/N", cidr);
	r = net_link_get(net, name, &link);
	if (r < 0) {
		nl_addr_put(*ret_addr);
		*ret_addr = NULL;
		return r;
	}
	*ret_ifindex = rtnl_link_get_ifindex(link);
	return 0;
}

int agent_net_addr_add(struct agent_net *net, const char *name, const char *cidr)
{
	struct nl_addr *local = NULL;
	int ifindex, r;

	pthread_mutex_lock(&net->lock);
	r = addr_target(net, name, cidr, &local, &ifindex);
	if (r == 0)
		r = bridge_addr_ensure(net, name, ifindex, local, cidr);
	pthread_mutex_unlock(&net->lock);
	nl_addr_put(local);
	return r;
}

int agent_net_addr_del(struct agent_net *net, const char *name, const char *cidr)
{
	struct nl_addr *local = NULL;
	struct rtnl_addr *a = NULL;
	int ifindex, r;

	pthread_mutex_lock(&net->lock);
	r = addr_target(net, name, cidr, &local, &ifindex);
	if (r == -ENODEV)
		r = 0; /* no link, no address */
	if (r < 0 || !local)
		goto unlock;
	a = rtnl_addr_alloc();
	if (!a) {
		r = -ENOMEM;
		goto unlock;
	}
	rtnl_addr_set_ifindex(a, ifindex);
	r = rtnl_addr_set_local(a, local);
	if (r >= 0)
		r = rtnl_addr_delete(net->sock, a, 0);
	if (r == -NLE_NOADDR || r == -NLE_OBJ_NOTFOUND) {
		r = 0;
		goto unlock;
	}
	if (r < 0) {
		log_error("net: cannot delete address", "link=%s address=%s error=\"%s\"", name, cidr, nl_geterror(r));
		r = net_nlerr_to_errno(r);
		goto unlock;
	}
	log_info("net: address deleted", "link=%s address=%s", name, cidr);
unlock:
	pthread_mutex_unlock(&net->lock);
	if (a)
		rtnl_addr_put(a);
	nl_addr_put(local);
	return r;
}

/* Create a persistent tap. IFF_TUN_EXCL makes this create or fail, never attach to (and so
 * rewrite the flags of) an existing device: EBUSY means the name exists, which the caller
 * then checks. Closing the fd leaves the device behind only once it is persistent. */
static int tap_create(const char *name)
{
	struct ifreq ifr = { .ifr_flags = NET_TAP_FLAGS | IFF_TUN_EXCL };
	_cleanup_close_ int fd = -1;
	int r;

	memcpy(ifr.ifr_name, name, strlen(name)); /* name_valid: shorter than IFNAMSIZ */
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		log_error("net: cannot open /dev/net/tun", "tap=%s error=\"%s\"", name, strerror(-r));
		return r;
	}
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		r = -errno;
		if (r == -EBUSY) {
			log_debug("net: tap exists already", "tap=%s", name);
			return 0;
		}
		log_error("net: cannot create tap", "tap=%s error=\"%s\"", name, strerror(-r));
		return r;
	}
	if (ioctl(fd, TUNSETPERSIST, 1) < 0) {
		r = -errno;
		log_error("net: cannot make tap persistent", "tap=%s error=\"%s\"", name, strerror(-r));
		return r;
	}
	log_info("net: tap created", "tap=%s", name);
	return 0;
}

int agent_net_ensure_tap(struct agent_net *net, const char *tap, const char *bridge)
{
	_cleanup_(link_putp) struct rtnl_link *link = NULL, *br = NULL;
	int r;

	r = net_name_check_owned(net, tap);
	if (r < 0)
		return r;
	r = net_name_check_owned(net, bridge);
	if (r < 0)
		return r;

	pthread_mutex_lock(&net->lock);
	r = net_master_bridge_get(net, tap, bridge, &br);
	if (r < 0)
		goto unlock;
	r = net_link_get(net, tap, &link);
	if (r == -ENODEV) {
		r = tap_create(tap);
		if (r < 0)
			goto unlock;
		r = net_link_get(net, tap, &link);
	}
	if (r < 0) {
		log_error("net: cannot read tap", "tap=%s error=\"%s\"", tap, strerror(-r));
		goto unlock;
	}
	r = net_link_want_kind(link, "tun", -EEXIST);
	if (r == 0)
		r = net_link_up_without_ipv6(net, link, tap, rtnl_link_get_ifindex(br));
unlock:
	pthread_mutex_unlock(&net->lock);
	return r;
}

int agent_net_delete_link(struct agent_net *net, const char *name)
{
	_cleanup_(link_putp) struct rtnl_link *link = NULL;
	int r;

	r = net_name_check_owned(net, name);
	if (r < 0)
		return r;
	link = rtnl_link_alloc();
	if (!link)
		return -ENOMEM;
	/* By name only: the kernel resolves it when it deletes, so what goes is what was checked. */
	rtnl_link_set_name(link, name);

	pthread_mutex_lock(&net->lock);
	r = rtnl_link_delete(net->sock, link);
	pthread_mutex_unlock(&net->lock);
	if (r == -NLE_NODEV || r == -NLE_OBJ_NOTFOUND)
		return 0;
	if (r < 0) {
		log_error("net: cannot delete link", "link=%s error=\"%s\"", name, nl_geterror(r));
		return net_nlerr_to_errno(r);
	}
	log_info("net: link deleted", "link=%s", name);
	return 0;
}

bool agent_net_link_exists(struct agent_net *net, const char *name)
{
	_cleanup_(link_putp) struct rtnl_link *link = NULL;
	int r;

	if (!net_name_valid(name))
		return false;
	pthread_mutex_lock(&net->lock);
	r = net_link_get(net, name, &link);
	pthread_mutex_unlock(&net->lock);
	if (r < 0 && r != -ENODEV)
		log_error("net: cannot read link", "link=%s error=\"%s\"", name, strerror(-r));
	return r == 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int agent_net_list_links(struct agent_net *net, const char *prefix, char ***ret_names, size_t *ret_n)
{
	_cleanup_(cache_freep) struct nl_cache *cache = NULL;
	struct nl_object *obj;
	char **names = NULL;
	size_t n = 0;
	int r;

	if (!prefix || !ret_names || !ret_n)
		return -EINVAL;
	pthread_mutex_lock(&net->lock);
	for (int tries = 0; tries < NET_DUMP_TRIES; tries++) {
		r = rtnl_link_alloc_cache(net->sock, AF_UNSPEC, &cache);
		if (r != -NLE_DUMP_INTR)
			break;
	}
	pthread_mutex_unlock(&net->lock);
	if (r < 0) {
		log_error("net: cannot list links", "error=\"%s\"", nl_geterror(r));
		return net_nlerr_to_errno(r);
	}

	names = calloc(nl_cache_nitems(cache) + 1, sizeof(*names));
	if (!names)
		return -ENOMEM;
	for (obj = nl_cache_get_first(cache); obj; obj = nl_cache_get_next(obj)) {
		const char *name = rtnl_link_get_name((struct rtnl_link *)obj);

		if (!name || !str_has_prefix(name, prefix))
			continue;
		names[n] = strdup(name);
		if (!names[n]) {
			r = -ENOMEM;
			goto fail;
		}
		n++;
	}
	qsort(names, n, sizeof(*names), name_cmp);
	*ret_names = names;
	*ret_n = n;
	return 0;

fail:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

int agent_net_link_master(struct agent_net *net, const char *name, char *buf, size_t size)
{
	_cleanup_(link_putp) struct rtnl_link *link = NULL, *master = NULL;
	int ifindex, r;

	if (!net_name_valid(name) || !buf)
		return -EINVAL;
	pthread_mutex_lock(&net->lock);
	r = net_link_get(net, name, &link);
	if (r < 0)
		goto unlock;
	ifindex = rtnl_link_get_master(link);
	if (ifindex <= 0) {
		r = -ENOENT;
		goto unlock;
	}
	r = rtnl_link_get_kernel(net->sock, ifindex, NULL, &master);
	if (r < 0) {
		r = net_nlerr_to_errno(r);
		/* The master went away between the two reads: the link has none now. */
		if (r == -ENODEV || r == -ENOENT)
			r = -ENOENT;
	}
unlock:
	pthread_mutex_unlock(&net->lock);
	if (r == -ENODEV || r == -ENOENT)
		return r;
	if (r < 0) {
		log_error("net: cannot read link master", "link=%s error=\"%s\"", name, strerror(-r));
		return r;
	}
	return ecs_strlcpy(buf, strempty(rtnl_link_get_name(master)), size);
}

int agent_net_link_mtu(struct agent_net *net, const char *name, unsigned *ret_mtu)
{
	_cleanup_(link_putp) struct rtnl_link *link = NULL;
	int r;

	if (!net_name_valid(name) || !ret_mtu)
		return -EINVAL;
	pthread_mutex_lock(&net->lock);
	r = net_link_get(net, name, &link);
	pthread_mutex_unlock(&net->lock);
	if (r < 0) {
		if (r != -ENODEV)
			log_error("net: cannot read link", "link=%s error=\"%s\"", name, strerror(-r));
		return r;
	}
	*ret_mtu = rtnl_link_get_mtu(link);
	return 0;
}

int agent_net_link_mac(struct agent_net *net, const char *name, char buf[18])
{
	_cleanup_(link_putp) struct rtnl_link *link = NULL;
	struct nl_addr *mac;
	int r;

	if (!net_name_valid(name))
		return -EINVAL;
	pthread_mutex_lock(&net->lock);
	r = net_link_get(net, name, &link);
	pthread_mutex_unlock(&net->lock);
	if (r < 0)
		return r;
	mac = rtnl_link_get_addr(link);
	if (!mac || nl_addr_get_len(mac) != 6)
		return -EINVAL;
	nl_addr2str(mac, buf, 18);
	return 0;
}

int agent_net_copy_mac(struct agent_net *net, const char *name, const char *from)
{
	_cleanup_(link_putp) struct rtnl_link *link = NULL, *src = NULL, *change = NULL;
	struct nl_addr *mac;
	int r;

	if (!net_name_valid(name) || !net_name_valid(from))
		return -EINVAL;
	r = net_name_check_owned(net, name);
	if (r < 0)
		return r;
	change = rtnl_link_alloc();
	if (!change)
		return -ENOMEM;
	pthread_mutex_lock(&net->lock);
	r = net_link_get(net, name, &link);
	if (r == 0)
		r = net_link_get(net, from, &src);
	mac = r == 0 ? rtnl_link_get_addr(src) : NULL;
	if (r == 0 && !mac)
		r = -EINVAL;
	if (r == 0 && nl_addr_cmp(mac, rtnl_link_get_addr(link)) != 0) {
		rtnl_link_set_addr(change, mac);
		r = rtnl_link_change(net->sock, link, change, 0);
		if (r < 0) {
			log_error("net: cannot set MAC address", "link=%s from=%s error=\"%s\"", name, from, nl_geterror(r));
			r = net_nlerr_to_errno(r);
		}
	}
	pthread_mutex_unlock(&net->lock);
	return r;
}
