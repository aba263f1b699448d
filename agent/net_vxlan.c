/* net_vxlan.c: the overlay side of net.h: the vxlan device joining the hosts' bridges, and
 * its flood list (all-zeros FDB entries, one a peer). Links and the handle are agent/net.c. */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/addr.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/neighbour.h>
#include <netlink/socket.h>

#include "addr.h"
#include "log.h"
#include "net-internal.h"
#include "util.h"

/* Head-end replication sends each broadcast frame once to every peer: a flood list far
 * beyond a cluster's hosts is a caller's bug. */
#define NET_MAX_PEERS 1024

/* A unicast IPv4 address in dotted-quad form: not 0.0.0.0, broadcast or multicast. */
static int ipv4_unicast_parse(const char *s, struct in_addr *ret)
{
	uint32_t v;

	if (ecs_ipv4_parse(s, &v) < 0 || !ecs_ipv4_unicast(v))
		return -EINVAL;
	ret->s_addr = htonl(v);
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
	int r;

	inet_ntop(AF_INET, &local, ip, sizeof(ip));
	r = net_link_get(net, name, &link);
	if (r == 0) {
		r = net_link_want_kind(link, "vxlan", -EEXIST);
		if (r < 0) {
			rtnl_link_put(link);
			return r;
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
			return net_nlerr_to_errno(r);
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
			return net_nlerr_to_errno(nlr);
		}
		/* EEXIST: a concurrent caller made it first, or another device has this VNI and
		 * port (the kernel allows one per namespace), which the lookup below tells apart. */
		r = net_link_get(net, name, &link);
		if (nlr == -NLE_EXIST && r == -ENODEV) {
			log_error("net: another vxlan device has this VNI and port", "vxlan=%s vni=%u dstport=%u", name,
				  vni, port);
			return -EEXIST;
		}
		if (nlr == 0)
			log_info("net: vxlan created", "vxlan=%s vni=%u local=%s dstport=%u", name, vni, ip, port);
	}
	return net_link_got(r, name, link, "vxlan", -EEXIST, ret);
}

int agent_net_ensure_vxlan(struct agent_net *net, const char *name, uint32_t vni, const char *local_ip,
			   uint16_t dstport, const char *bridge)
{
	_cleanup_(link_putp) struct rtnl_link *link = NULL, *br = NULL;
	struct in_addr local;
	int r;

	r = net_name_check_owned(net, name);
	if (r < 0)
		return r;
	r = net_name_check_owned(net, bridge);
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
	if (ipv4_unicast_parse(local_ip, &local) < 0)
		return net_refuse(name, "a unicast IPv4 local address A.B.C.D", local_ip);

	pthread_mutex_lock(&net->lock);
	r = net_master_bridge_get(net, name, bridge, &br);
	if (r < 0)
		goto unlock;
	r = vxlan_get_or_create(net, name, vni, local, dstport, &link);
	if (r == 0)
		r = net_link_up_without_ipv6(net, link, name, rtnl_link_get_ifindex(br));
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
	r = r < 0 ? net_nlerr_to_errno(r) : d.r;
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
		r = net_nlerr_to_errno(r);
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
		r = net_nlerr_to_errno(r);
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
	int ifindex, r;

	r = net_list_parse_begin(net, name, "peers", peers, n_peers, NET_MAX_PEERS, sizeof(*want), (void **)&want);
	if (r < 0)
		return r;
	for (i = 0; i < n_peers; i++) {
		if (ipv4_unicast_parse(peers[i], &want[i]) < 0)
			return net_refuse(name, "a unicast IPv4 peer A.B.C.D", peers[i]);
	}
	n_want = in_addr_sort_unique(want, n_peers);

	pthread_mutex_lock(&net->lock);
	r = net_link_get(net, name, &link);
	if (r < 0) {
		log_error("net: cannot read vxlan", "vxlan=%s error=\"%s\"", name, strerror(-r));
		goto unlock;
	}
	r = net_link_want_kind(link, "vxlan", -EINVAL);
	if (r < 0)
		goto unlock;
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

	if (!net_name_valid(name) || !ret || !ret_n)
		return -EINVAL;
	pthread_mutex_lock(&net->lock);
	r = net_link_get(net, name, &link);
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
