#include "net.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/neighbour.h>
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
#include <netlink/route/link/vxlan.h>
#include <netlink/route/neighbour.h>
#include <netlink/socket.h>

#include "log.h"
#include "util.h"

/* A bridge carries a handful of gateway addresses; more is a caller's bug. */
#define NET_MAX_ADDRS 64
/* Link dumps interrupted by concurrent changes (NLE_DUMP_INTR) are retried this often. */
#define NET_DUMP_TRIES 3
/* Head-end replication sends each broadcast frame once to every peer: a flood list far
 * beyond a cluster's hosts is a caller's bug. */
#define NET_MAX_PEERS 1024

/* libvirt opens the tap with IFF_TAP | IFF_NO_PI (| IFF_VNET_HDR for virtio models): the
 * kernel replaces the feature flags with the attacher's, so ours only have to agree on
 * the type and on IFF_MULTI_QUEUE, which must stay off (libvirt attaches one queue). */
#define NET_TAP_FLAGS (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)

struct agent_net {
	pthread_mutex_t lock; /* serialises every use of sock */
	struct nl_sock *sock;
	char **prefixes;
	size_t n_prefixes;
};

static inline void link_putp(struct rtnl_link **l)
{
	if (*l)
		rtnl_link_put(*l);
}

static inline void cache_freep(struct nl_cache **c)
{
	if (*c)
		nl_cache_free(*c);
}

static int nlerr_to_errno(int nlerr)
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

/* A name the kernel would accept (dev_valid_name): 1..IFNAMSIZ-1 bytes, no '/', ':' or
 * blanks, not "." or "..". */
static bool name_valid(const char *name)
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
static int name_check_owned(const struct agent_net *net, const char *name)
{
	char q[64];

	if (!name_valid(name)) {
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
		r = nlerr_to_errno(r);
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
static int link_get(struct agent_net *net, const char *name, struct rtnl_link **ret)
{
	struct rtnl_link *link = NULL;
	int r;

	r = rtnl_link_get_kernel(net->sock, 0, name, &link);
	if (r < 0) {
		r = nlerr_to_errno(r);
		return r == -ENOENT ? -ENODEV : r;
	}
	*ret = link;
	return 0;
}

/* Make link a port of master_ifindex (when > 0) and administratively up; sends nothing
 * when both hold already. Called with the lock held. */
static int link_converge(struct agent_net *net, struct rtnl_link *link, int master_ifindex)
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
		return nlerr_to_errno(r);
	}
	return 0;
}

/* "A.B.C.D/N" into an nl_addr with its prefix length. IPv4 only: IPv6 is off on the bridge. */
static int cidr_parse(const char *s, struct nl_addr **ret)
{
	char ip[INET_ADDRSTRLEN];
	struct in_addr in;
	struct nl_addr *a;
	const char *slash;
	long long plen;

	if (!s)
		return -EINVAL;
	slash = strchr(s, '/');
	if (!slash || (size_t)(slash - s) >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, s, slash - s);
	ip[slash - s] = '\0';
	if (inet_pton(AF_INET, ip, &in) != 1)
		return -EINVAL;
	if (ecs_parse_int64(slash + 1, 1, 32, &plen) < 0)
		return -EINVAL;
	a = nl_addr_build(AF_INET, &in, sizeof(in));
	if (!a)
		return -ENOMEM;
	nl_addr_set_prefixlen(a, (int)plen);
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
		return nlerr_to_errno(r);
	}
	return 0;
}

/* Get the bridge, creating it when missing; -EEXIST when the name is taken by another kind
 * of link. Called with the lock held. */
static int bridge_get_or_create(struct agent_net *net, const char *name, struct rtnl_link **ret)
{
	struct rtnl_link *link = NULL;
	bool created = false;
	const char *kind;
	int r;

	r = link_get(net, name, &link);
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
			return nlerr_to_errno(r);
		}
		r = link_get(net, name, &link);
	}
	if (r < 0) {
		log_error("net: cannot read link", "bridge=%s error=\"%s\"", name, strerror(-r));
		return r;
	}
	kind = rtnl_link_get_type(link);
	if (!streq(kind, "bridge")) {
		log_error("net: link exists and is not a bridge", "bridge=%s kind=%s", name, kind ? kind : "none");
		rtnl_link_put(link);
		return -EEXIST;
	}
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
	return r < 0 ? nlerr_to_errno(r) : 0;
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
static int link_disable_ipv6(const char *name)
{
	_cleanup_free_ char *path = ecs_strdup_printf("/proc/sys/net/ipv6/conf/%s/disable_ipv6", name);
	_cleanup_close_ int fd = -1;
	int r;

	if (!path)
		return -ENOMEM;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		if (r == -ENOENT && access("/proc/sys/net/ipv6", F_OK) < 0)
			return 0; /* no IPv6 in this kernel: nothing to disable */
		log_error("net: cannot disable IPv6", "link=%s error=\"%s\"", name, strerror(-r));
		return r;
	}
	if (write(fd, "1\n", 2) != 2) {
		r = errno ? -errno : -EIO;
		log_error("net: cannot disable IPv6", "link=%s error=\"%s\"", name, strerror(-r));
		return r;
	}
	return 0;
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
		return nlerr_to_errno(r);
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

	r = name_check_owned(net, bridge);
	if (r < 0)
		return r;
	if (n_addrs > NET_MAX_ADDRS || (n_addrs && !addrs)) {
		log_error("net: bad address list", "bridge=%s n_addrs=%zu", bridge, n_addrs);
		return n_addrs > NET_MAX_ADDRS ? -E2BIG : -EINVAL;
	}
	parsed = calloc(n_addrs ? n_addrs : 1, sizeof(*parsed));
	if (!parsed)
		return -ENOMEM;
	/* Refuse a bad address before changing anything. */
	for (i = 0; i < n_addrs; i++) {
		r = cidr_parse(addrs[i], &parsed[i]);
		if (r < 0) {
			char q[64];

			log_error("net: bad bridge address, want IPv4 A.B.C.D/N", "bridge=%s address=%s", bridge,
				  ecs_log_quote(strempty(addrs[i]), q, sizeof(q)));
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
	r = link_disable_ipv6(bridge);
	if (r < 0)
		goto unlock;
	for (i = 0; i < n_addrs; i++) {
		r = bridge_addr_ensure(net, bridge, ifindex, parsed[i], addrs[i]);
		if (r < 0)
			goto unlock;
	}
	r = link_converge(net, link, 0);
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

	r = name_check_owned(net, name);
	if (r < 0)
		return r;
	if (cidr_parse(cidr, ret_addr) < 0) {
		char q[64];

		log_error("net: bad address, want IPv4 A.B.C.D/N", "link=%s address=%s", name,
			  ecs_log_quote(strempty(cidr), q, sizeof(q)));
		return -EINVAL;
	}
	r = link_get(net, name, &link);
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
		r = nlerr_to_errno(r);
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
	const char *kind;
	int r;

	r = name_check_owned(net, tap);
	if (r < 0)
		return r;
	r = name_check_owned(net, bridge);
	if (r < 0)
		return r;

	pthread_mutex_lock(&net->lock);
	r = link_get(net, bridge, &br);
	if (r < 0) {
		log_error("net: cannot read bridge", "tap=%s bridge=%s error=\"%s\"", tap, bridge, strerror(-r));
		goto unlock;
	}
	kind = rtnl_link_get_type(br);
	if (!streq(kind, "bridge")) {
		log_error("net: master is not a bridge", "tap=%s bridge=%s kind=%s", tap, bridge, kind ? kind : "none");
		r = -EINVAL;
		goto unlock;
	}
	r = link_get(net, tap, &link);
	if (r == -ENODEV) {
		r = tap_create(tap);
		if (r < 0)
			goto unlock;
		r = link_get(net, tap, &link);
	}
	if (r < 0) {
		log_error("net: cannot read tap", "tap=%s error=\"%s\"", tap, strerror(-r));
		goto unlock;
	}
	kind = rtnl_link_get_type(link);
	if (!streq(kind, "tun")) {
		log_error("net: link exists and is not a tap", "tap=%s kind=%s", tap, kind ? kind : "none");
		r = -EEXIST;
		goto unlock;
	}
	/* Else the host gives the port a link-local address once a guest attaches (carrier
	 * on) and sends router solicitations and MLD reports into the guest's segment. */
	r = link_disable_ipv6(tap);
	if (r < 0)
		goto unlock;
	r = link_converge(net, link, rtnl_link_get_ifindex(br));
unlock:
	pthread_mutex_unlock(&net->lock);
	return r;
}

int agent_net_delete_link(struct agent_net *net, const char *name)
{
	_cleanup_(link_putp) struct rtnl_link *link = NULL;
	int r;

	r = name_check_owned(net, name);
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
		return nlerr_to_errno(r);
	}
	log_info("net: link deleted", "link=%s", name);
	return 0;
}

bool agent_net_link_exists(struct agent_net *net, const char *name)
{
	_cleanup_(link_putp) struct rtnl_link *link = NULL;
	int r;

	if (!name_valid(name))
		return false;
	pthread_mutex_lock(&net->lock);
	r = link_get(net, name, &link);
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
		return nlerr_to_errno(r);
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

	if (!name_valid(name) || !buf)
		return -EINVAL;
	pthread_mutex_lock(&net->lock);
	r = link_get(net, name, &link);
	if (r < 0)
		goto unlock;
	ifindex = rtnl_link_get_master(link);
	if (ifindex <= 0) {
		r = -ENOENT;
		goto unlock;
	}
	r = rtnl_link_get_kernel(net->sock, ifindex, NULL, &master);
	if (r < 0) {
		r = nlerr_to_errno(r);
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

	if (!name_valid(name) || !ret_mtu)
		return -EINVAL;
	pthread_mutex_lock(&net->lock);
	r = link_get(net, name, &link);
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

	if (!name_valid(name))
		return -EINVAL;
	pthread_mutex_lock(&net->lock);
	r = link_get(net, name, &link);
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

	if (!name_valid(name) || !name_valid(from))
		return -EINVAL;
	r = name_check_owned(net, name);
	if (r < 0)
		return r;
	change = rtnl_link_alloc();
	if (!change)
		return -ENOMEM;
	pthread_mutex_lock(&net->lock);
	r = link_get(net, name, &link);
	if (r == 0)
		r = link_get(net, from, &src);
	mac = r == 0 ? rtnl_link_get_addr(src) : NULL;
	if (r == 0 && !mac)
		r = -EINVAL;
	if (r == 0 && nl_addr_cmp(mac, rtnl_link_get_addr(link)) != 0) {
		rtnl_link_set_addr(change, mac);
		r = rtnl_link_change(net->sock, link, change, 0);
		if (r < 0) {
			log_error("net: cannot set MAC address", "link=%s from=%s error=\"%s\"", name, from, nl_geterror(r));
			r = nlerr_to_errno(r);
		}
	}
	pthread_mutex_unlock(&net->lock);
	return r;
}

/* ---- VXLAN overlay ---- */

/* A unicast IPv4 address in dotted-quad form: not 0.0.0.0, broadcast or multicast. */
static int ipv4_unicast_parse(const char *s, struct in_addr *ret)
{
	struct in_addr in;
	uint32_t h;

	if (!s || inet_pton(AF_INET, s, &in) != 1)
		return -EINVAL;
	h = ntohl(in.s_addr);
	if (h == INADDR_ANY || h == INADDR_BROADCAST || IN_MULTICAST(h))
		return -EINVAL;
	*ret = in;
	return 0;
}

static int in_addr_cmp(const void *a, const void *b)
{
	uint32_t x = ntohl(((const struct in_addr *)a)->s_addr), y = ntohl(((const struct in_addr *)b)->s_addr);

	return x < y ? -1 : x > y;
}

/* Sort by address and drop duplicates; returns the new count. */
static size_t in_addr_sort_unique(struct in_addr *addrs, size_t n)
{
	size_t out = 0;

	if (n == 0)
		return 0;
	qsort(addrs, n, sizeof(*addrs), in_addr_cmp);
	for (size_t i = 1; i < n; i++)
		if (addrs[i].s_addr != addrs[out].s_addr)
			addrs[++out] = addrs[i];
	return out + 1;
}

static bool in_addr_in(const struct in_addr *sorted, size_t n, struct in_addr a)
{
	return n > 0 && bsearch(&a, sorted, n, sizeof(*sorted), in_addr_cmp);
}

/* The existing bridge a link of ours is to join: -ENODEV when missing, -EINVAL when the
 * name is another kind of link. Called with the lock held. */
static int master_bridge_get(struct agent_net *net, const char *name, const char *bridge, struct rtnl_link **ret)
{
	struct rtnl_link *br = NULL;
	const char *kind;
	int r;

	r = link_get(net, bridge, &br);
	if (r < 0) {
		log_error("net: cannot read bridge", "link=%s bridge=%s error=\"%s\"", name, bridge, strerror(-r));
		return r;
	}
	kind = rtnl_link_get_type(br);
	if (!streq(kind, "bridge")) {
		log_error("net: master is not a bridge", "link=%s bridge=%s kind=%s", name, bridge,
			  kind ? kind : "none");
		rtnl_link_put(br);
		return -EINVAL;
	}
	*ret = br;
	return 0;
}

/* Whether an existing vxlan link is what vxlan_create() makes: the same VNI, local address
 * and port, learning on, no lower device and no default remote (group). */
static bool vxlan_matches(struct rtnl_link *link, uint32_t vni, struct in_addr local, uint16_t port)
{
	struct nl_addr *addr = NULL;
	uint32_t id, p, lower;
	bool same;

	if (!rtnl_link_is_vxlan(link))
		return false;
	if (rtnl_link_vxlan_get_id(link, &id) < 0 || id != vni)
		return false;
	if (rtnl_link_vxlan_get_port(link, &p) < 0 || p != port)
		return false;
	if (rtnl_link_vxlan_get_learning(link) <= 0)
		return false;
	if (rtnl_link_vxlan_get_link(link, &lower) == 0 && lower != 0)
		return false;
	if (rtnl_link_vxlan_get_group(link, &addr) == 0) {
		nl_addr_put(addr);
		return false;
	}
	if (rtnl_link_vxlan_get_local(link, &addr) < 0 || !addr)
		return false;
	same = nl_addr_get_family(addr) == AF_INET && nl_addr_get_len(addr) == sizeof(local) &&
	       memcmp(nl_addr_get_binary_addr(addr), &local, sizeof(local)) == 0;
	nl_addr_put(addr);
	return same;
}

/* Create the vxlan link: { IFNAME, LINKINFO { KIND "vxlan", DATA { ID, LOCAL, PORT, LEARNING 1 } } },
 * with no lower device and no group or remote, so that it floods to its FDB's all-zeros
 * entries only. Built here rather than with rtnl_link_vxlan_set_port() and rtnl_link_add():
 * libnl 3.7 sends IFLA_VXLAN_PORT as a u32, which the kernel reads right only on a
 * little-endian host, logging "attribute type 15 has an invalid length" each time.
 * Called with the lock held; returns a libnl error code. */
static int vxlan_create(struct agent_net *net, const char *name, uint32_t vni, struct in_addr local, uint16_t port)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	struct nlattr *info, *data;
	struct nl_msg *msg;

	msg = nlmsg_alloc_simple(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	if (!msg)
		return -NLE_NOMEM;
	if (nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 || nla_put_string(msg, IFLA_IFNAME, name) < 0 ||
	    !(info = nla_nest_start(msg, IFLA_LINKINFO)) || nla_put_string(msg, IFLA_INFO_KIND, "vxlan") < 0 ||
	    !(data = nla_nest_start(msg, IFLA_INFO_DATA)) || nla_put_u32(msg, IFLA_VXLAN_ID, vni) < 0 ||
	    nla_put(msg, IFLA_VXLAN_LOCAL, sizeof(local), &local) < 0 ||
	    nla_put_u16(msg, IFLA_VXLAN_PORT, htons(port)) < 0 || nla_put_u8(msg, IFLA_VXLAN_LEARNING, 1) < 0) {
		nlmsg_free(msg);
		return -NLE_MSGSIZE;
	}
	nla_nest_end(msg, data);
	nla_nest_end(msg, info);
	return nl_send_sync(net->sock, msg); /* frees msg */
}

/* Get the vxlan link name as vni/local/port asks, creating it when missing and recreating
 * it when it differs (the kernel changes neither VNI nor port in place); -EEXIST when the
 * name is another kind of link or another device has the VNI and port. Called with the
 * lock held. */
static int vxlan_get_or_create(struct agent_net *net, const char *name, uint32_t vni, struct in_addr local,
			       uint16_t port, struct rtnl_link **ret)
{
	struct rtnl_link *link = NULL;
	char ip[INET_ADDRSTRLEN];
	const char *kind;
	int r;

	inet_ntop(AF_INET, &local, ip, sizeof(ip));
	r = link_get(net, name, &link);
	if (r == 0) {
		kind = rtnl_link_get_type(link);
		if (!streq(kind, "vxlan")) {
			log_error("net: link exists and is not a vxlan", "vxlan=%s kind=%s", name,
				  kind ? kind : "none");
			rtnl_link_put(link);
			return -EEXIST;
		}
		if (vxlan_matches(link, vni, local, port)) {
			*ret = link;
			return 0;
		}
		/* Ours, but made for another VNI, address or port: replace it. */
		r = rtnl_link_delete(net->sock, link);
		rtnl_link_put(link);
		link = NULL;
		if (r < 0 && r != -NLE_NODEV && r != -NLE_OBJ_NOTFOUND) {
			log_error("net: cannot delete vxlan to recreate it", "vxlan=%s error=\"%s\"", name,
				  nl_geterror(r));
			return nlerr_to_errno(r);
		}
		log_info("net: vxlan differs, recreating it", "vxlan=%s vni=%u local=%s dstport=%u", name, vni, ip,
			 port);
		r = -ENODEV;
	}
	if (r == -ENODEV) {
		int nlr = vxlan_create(net, name, vni, local, port);

		if (nlr < 0 && nlr != -NLE_EXIST) {
			log_error("net: cannot create vxlan", "vxlan=%s vni=%u local=%s dstport=%u error=\"%s\"", name,
				  vni, ip, port, nl_geterror(nlr));
			return nlerr_to_errno(nlr);
		}
		/* EEXIST: a concurrent caller made it first, or another device has this VNI and
		 * port (the kernel allows one per namespace), which the lookup below tells apart. */
		r = link_get(net, name, &link);
		if (nlr == -NLE_EXIST && r == -ENODEV) {
			log_error("net: another vxlan device has this VNI and port", "vxlan=%s vni=%u dstport=%u", name,
				  vni, port);
			return -EEXIST;
		}
		if (nlr == 0)
			log_info("net: vxlan created", "vxlan=%s vni=%u local=%s dstport=%u", name, vni, ip, port);
	}
	if (r < 0) {
		log_error("net: cannot read link", "vxlan=%s error=\"%s\"", name, strerror(-r));
		return r;
	}
	kind = rtnl_link_get_type(link);
	if (!streq(kind, "vxlan")) {
		log_error("net: link exists and is not a vxlan", "vxlan=%s kind=%s", name, kind ? kind : "none");
		rtnl_link_put(link);
		return -EEXIST;
	}
	*ret = link;
	return 0;
}

int agent_net_ensure_vxlan(struct agent_net *net, const char *name, uint32_t vni, const char *local_ip,
			   uint16_t dstport, const char *bridge)
{
	_cleanup_(link_putp) struct rtnl_link *link = NULL, *br = NULL;
	struct in_addr local;
	char q[64];
	int r;

	r = name_check_owned(net, name);
	if (r < 0)
		return r;
	r = name_check_owned(net, bridge);
	if (r < 0)
		return r;
	if (vni < 1 || vni > VXLAN_ID_MAX) {
		log_error("net: bad VNI, want 1..16777215", "vxlan=%s vni=%u", name, vni);
		return -EINVAL;
	}
	if (dstport == 0) {
		log_error("net: bad vxlan port", "vxlan=%s dstport=0", name);
		return -EINVAL;
	}
	if (ipv4_unicast_parse(local_ip, &local) < 0) {
		log_error("net: bad vxlan local address, want unicast IPv4 A.B.C.D", "vxlan=%s local=%s", name,
			  ecs_log_quote(strempty(local_ip), q, sizeof(q)));
		return -EINVAL;
	}

	pthread_mutex_lock(&net->lock);
	r = master_bridge_get(net, name, bridge, &br);
	if (r < 0)
		goto unlock;
	r = vxlan_get_or_create(net, name, vni, local, dstport, &link);
	if (r < 0)
		goto unlock;
	/* Before it goes up, so it never gets an IPv6 link-local address. */
	r = link_disable_ipv6(name);
	if (r < 0)
		goto unlock;
	r = link_converge(net, link, rtnl_link_get_ifindex(br));
unlock:
	pthread_mutex_unlock(&net->lock);
	return r;
}

struct fdb_dump {
	int ifindex;
	struct in_addr *dsts;
	size_t n, cap;
	int r; /* -ENOMEM from the callback, which keeps reading to the end of the dump */
};

/* One entry of the FDB dump: keep the destination of a flood entry, i.e. the device's own
 * (NTF_SELF) all-zeros entry to an IPv4 address, with the device's own port and VNI and no
 * outgoing device of its own (which `bridge fdb append ... port/vni/via` would add: not
 * ours, left alone). Parsed here rather than with rtnl_neigh_parse(), which drops
 * NDA_PORT, NDA_VNI and NDA_IFINDEX. */
static int fdb_dump_entry(struct nl_msg *msg, void *arg)
{
	static const uint8_t zero_mac[ETH_ALEN];
	struct fdb_dump *d = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct nlattr *tb[NDA_MAX + 1];
	const struct ndmsg *ndm;

	if (h->nlmsg_type != RTM_NEWNEIGH || nlmsg_parse(h, sizeof(*ndm), tb, NDA_MAX, NULL) < 0)
		return NL_SKIP;
	ndm = nlmsg_data(h);
	if (ndm->ndm_family != AF_BRIDGE || ndm->ndm_ifindex != d->ifindex || !(ndm->ndm_flags & NTF_SELF))
		return NL_SKIP;
	if (!tb[NDA_LLADDR] || nla_len(tb[NDA_LLADDR]) != ETH_ALEN ||
	    memcmp(nla_data(tb[NDA_LLADDR]), zero_mac, ETH_ALEN) != 0)
		return NL_SKIP;
	if (!tb[NDA_DST] || nla_len(tb[NDA_DST]) != sizeof(struct in_addr) || tb[NDA_PORT] || tb[NDA_VNI] ||
	    tb[NDA_IFINDEX] || tb[NDA_SRC_VNI])
		return NL_SKIP;
	if (d->r < 0)
		return NL_SKIP;
	if (d->n == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 16;
		struct in_addr *more = reallocarray(d->dsts, cap, sizeof(*more));

		if (!more) {
			d->r = -ENOMEM;
			return NL_SKIP;
		}
		d->dsts = more;
		d->cap = cap;
	}
	memcpy(&d->dsts[d->n++], nla_data(tb[NDA_DST]), sizeof(struct in_addr));
	return NL_OK;
}

/* The destinations of the flood entries of ifindex, sorted by address, unique (caller
 * frees). The request carries an ifinfomsg naming the device: the kernel's FDB dump then
 * returns its entries only (and the bridge's entries for it, skipped by NTF_SELF). libnl's
 * neighbour cache cannot be used: it merges FDB entries by MAC, and the flood list is one
 * MAC with many destinations. Called with the lock held. */
static int fdb_flood_dump(struct agent_net *net, int ifindex, struct in_addr **ret, size_t *ret_n)
{
	struct ifinfomsg ifi = { .ifi_family = AF_BRIDGE, .ifi_index = ifindex };
	struct fdb_dump d = { .ifindex = ifindex };
	struct nl_cb *cb, *sock_cb;
	int r = 0;

	sock_cb = nl_socket_get_cb(net->sock);
	cb = nl_cb_clone(sock_cb);
	nl_cb_put(sock_cb);
	if (!cb)
		return -ENOMEM;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, fdb_dump_entry, &d);
	for (int tries = 0; tries < NET_DUMP_TRIES; tries++) {
		d.n = 0;
		d.r = 0;
		r = nl_send_simple(net->sock, RTM_GETNEIGH, NLM_F_DUMP, &ifi, sizeof(ifi));
		if (r >= 0)
			r = nl_recvmsgs(net->sock, cb);
		if (r != -NLE_DUMP_INTR)
			break;
	}
	nl_cb_put(cb);
	r = r < 0 ? nlerr_to_errno(r) : d.r;
	if (r < 0) {
		free(d.dsts);
		return r;
	}
	*ret_n = in_addr_sort_unique(d.dsts, d.n);
	*ret = d.dsts;
	return 0;
}

/* Add (NLM_F_CREATE | NLM_F_APPEND, as `bridge fdb append 00:00:00:00:00:00 dev NAME dst IP`)
 * or delete one flood entry of the vxlan device ifindex. Called with the lock held. */
static int fdb_flood_change(struct agent_net *net, const char *name, int ifindex, struct in_addr dst, bool add)
{
	static const uint8_t zero_mac[ETH_ALEN];
	struct rtnl_neigh *neigh = NULL;
	struct nl_addr *mac = NULL, *ip = NULL;
	char text[INET_ADDRSTRLEN];
	int r;

	inet_ntop(AF_INET, &dst, text, sizeof(text));
	neigh = rtnl_neigh_alloc();
	mac = nl_addr_build(AF_LLC, zero_mac, sizeof(zero_mac));
	ip = nl_addr_build(AF_INET, &dst, sizeof(dst));
	if (!neigh || !mac || !ip) {
		r = -ENOMEM;
		goto out;
	}
	rtnl_neigh_set_ifindex(neigh, ifindex);
	/* The destination first: libnl refuses one whose family is not the entry's. */
	r = rtnl_neigh_set_dst(neigh, ip);
	if (r < 0) {
		r = nlerr_to_errno(r);
		goto out;
	}
	rtnl_neigh_set_family(neigh, AF_BRIDGE);
	rtnl_neigh_set_lladdr(neigh, mac);
	rtnl_neigh_set_state(neigh, NUD_PERMANENT);
	rtnl_neigh_set_flags(neigh, NTF_SELF);
	if (add)
		r = rtnl_neigh_add(net->sock, neigh, NLM_F_CREATE | NLM_F_APPEND);
	else
		r = rtnl_neigh_delete(net->sock, neigh, 0);
	if (!add && (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV)) {
		r = 0; /* gone already */
		goto out;
	}
	if (r < 0) {
		log_error(add ? "net: cannot add vxlan peer" : "net: cannot delete vxlan peer",
			  "vxlan=%s peer=%s error=\"%s\"", name, text, nl_geterror(r));
		r = nlerr_to_errno(r);
		goto out;
	}
	log_info(add ? "net: vxlan peer added" : "net: vxlan peer deleted", "vxlan=%s peer=%s", name, text);
out:
	if (neigh)
		rtnl_neigh_put(neigh);
	nl_addr_put(mac);
	nl_addr_put(ip);
	return r;
}

int agent_net_set_vxlan_peers(struct agent_net *net, const char *name, const char *const *peers, size_t n_peers)
{
	_cleanup_(link_putp) struct rtnl_link *link = NULL;
	_cleanup_free_ struct in_addr *want = NULL, *have = NULL;
	size_t n_want, n_have = 0, i;
	const char *kind;
	int ifindex, r;

	r = name_check_owned(net, name);
	if (r < 0)
		return r;
	if (n_peers > NET_MAX_PEERS || (n_peers && !peers)) {
		log_error("net: bad vxlan peer list", "vxlan=%s n_peers=%zu", name, n_peers);
		return n_peers > NET_MAX_PEERS ? -E2BIG : -EINVAL;
	}
	want = calloc(n_peers ? n_peers : 1, sizeof(*want));
	if (!want)
		return -ENOMEM;
	/* Refuse a bad address before changing anything. */
	for (i = 0; i < n_peers; i++) {
		if (ipv4_unicast_parse(peers[i], &want[i]) < 0) {
			char q[64];

			log_error("net: bad vxlan peer, want unicast IPv4 A.B.C.D", "vxlan=%s peer=%s", name,
				  ecs_log_quote(strempty(peers[i]), q, sizeof(q)));
			return -EINVAL;
		}
	}
	n_want = in_addr_sort_unique(want, n_peers);

	pthread_mutex_lock(&net->lock);
	r = link_get(net, name, &link);
	if (r < 0) {
		log_error("net: cannot read vxlan", "vxlan=%s error=\"%s\"", name, strerror(-r));
		goto unlock;
	}
	kind = rtnl_link_get_type(link);
	if (!streq(kind, "vxlan")) {
		log_error("net: link is not a vxlan", "vxlan=%s kind=%s", name, kind ? kind : "none");
		r = -EINVAL;
		goto unlock;
	}
	ifindex = rtnl_link_get_ifindex(link);
	r = fdb_flood_dump(net, ifindex, &have, &n_have);
	if (r < 0) {
		log_error("net: cannot read vxlan FDB", "vxlan=%s error=\"%s\"", name, strerror(-r));
		goto unlock;
	}
	/* New peers first, then the stale ones go; entries that stay are not touched. */
	for (i = 0; i < n_want && r >= 0; i++)
		if (!in_addr_in(have, n_have, want[i]))
			r = fdb_flood_change(net, name, ifindex, want[i], true);
	for (i = 0; i < n_have && r >= 0; i++)
		if (!in_addr_in(want, n_want, have[i]))
			r = fdb_flood_change(net, name, ifindex, have[i], false);
unlock:
	pthread_mutex_unlock(&net->lock);
	return r;
}

int agent_net_get_vxlan_peers(struct agent_net *net, const char *name, char ***ret, size_t *ret_n)
{
	_cleanup_(link_putp) struct rtnl_link *link = NULL;
	_cleanup_free_ struct in_addr *dsts = NULL;
	char **peers = NULL;
	size_t n = 0, i;
	int r;

	if (!name_valid(name) || !ret || !ret_n)
		return -EINVAL;
	pthread_mutex_lock(&net->lock);
	r = link_get(net, name, &link);
	if (r == 0)
		r = fdb_flood_dump(net, rtnl_link_get_ifindex(link), &dsts, &n);
	pthread_mutex_unlock(&net->lock);
	if (r < 0) {
		if (r != -ENODEV)
			log_error("net: cannot read vxlan FDB", "vxlan=%s error=\"%s\"", name, strerror(-r));
		return r;
	}

	peers = calloc(n + 1, sizeof(*peers));
	if (!peers)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		char text[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &dsts[i], text, sizeof(text));
		peers[i] = strdup(text);
		if (!peers[i]) {
			while (i > 0)
				free(peers[--i]);
			free(peers);
			return -ENOMEM;
		}
	}
	*ret = peers;
	*ret_n = n;
	return 0;
}
