/* net.h: the host side of instance networking, through libnl (rtnetlink) and the tun
 * device: the bridge with its gateway addresses, persistent taps enslaved to it, and link
 * queries for reconciliation. Every call that creates or deletes a link checks that the
 * name carries one of the project's prefixes: nothing else is ever touched.
 *
 * All calls are idempotent: ensuring what exists changes nothing, deleting what is gone
 * succeeds. Thread-safe (one netlink socket, serialised). Names longer than 15 bytes (or
 * with '/', ':' or blanks) are -EINVAL. Call only from threads in the network namespace
 * the handle was opened in (the socket is bound there; /dev/net/tun and /proc/sys/net
 * follow the calling thread). */
#ifndef AGENT_NET_H
#define AGENT_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agent_net;

/* prefixes: NULL-terminated list of name prefixes this agent owns, e.g. {"ecsbr0", "ecst", NULL}.
 * Copied. */
int agent_net_open(const char *const *prefixes, struct agent_net **ret);
void agent_net_close(struct agent_net *net);

/* Create the bridge if missing (STP off, forward delay 0, IPv6 disabled on it), bring it
 * up, and make sure each address in addrs (CIDR, e.g. "10.240.0.1/16") is on it.
 * Addresses already there stay; others on the bridge are left alone. A new bridge's MAC is
 * pinned, so taps coming and going never change the gateway's MAC. IPv4 addresses only
 * (-EINVAL otherwise, before any change); -EEXIST when the name is another kind of link. */
int agent_net_ensure_bridge(struct agent_net *net, const char *bridge, const char *const *addrs, size_t n_addrs);

/* Add an IPv4 address "A.B.C.D/N" to a link we own (it must exist: -ENODEV); 0 when it is
 * there already. The load balancers' VIPs and the public IPs go on the bridge as /32. */
int agent_net_addr_add(struct agent_net *net, const char *link, const char *cidr);
/* Remove that address (address and prefix length both match); 0 when it is not there or
 * the link is gone. */
int agent_net_addr_del(struct agent_net *net, const char *link, const char *cidr);

/* Create a persistent tap (IFF_TAP | IFF_NO_PI, owned by root) if missing, enslave it to
 * bridge and bring it up. libvirt attaches the guest to it with
 * <interface type='ethernet'><target dev='NAME' managed='no'/>. The tap is single-queue:
 * libvirt must not be asked for <driver queues='N'/> with N > 1 (the kernel refuses a
 * multi-queue attach). IPv6 is disabled on it. -ENODEV when bridge does not exist;
 * -EEXIST when the name is another kind of link. */
int agent_net_ensure_tap(struct agent_net *net, const char *tap, const char *bridge);

/* Delete a link we own; 0 if it does not exist, -EPERM if its name has none of our prefixes. */
int agent_net_delete_link(struct agent_net *net, const char *name);

bool agent_net_link_exists(struct agent_net *net, const char *name);

/* Names of the links whose name starts with prefix, sorted (caller frees each and the array). */
int agent_net_list_links(struct agent_net *net, const char *prefix, char ***ret_names, size_t *ret_n);

/* The master (bridge) of a link into buf; -ENOENT when it has none, -ENODEV when the link
 * does not exist, -ENAMETOOLONG when buf is too small. */
int agent_net_link_master(struct agent_net *net, const char *name, char *buf, size_t size);

/* The link's MAC address as "aa:bb:cc:dd:ee:ff"; -ENODEV when it does not exist. */
int agent_net_link_mac(struct agent_net *net, const char *name, char buf[18]);

/* Give link name (ours) the MAC address of link from; 0 when it has it already. The
 * overlay device carries its bridge's MAC so frames for the host arrive as its own
 * (agent/overlay.c). -ENODEV when either is missing. */
int agent_net_copy_mac(struct agent_net *net, const char *name, const char *from);

/* The link's MTU; -ENODEV when it does not exist. */
int agent_net_link_mtu(struct agent_net *net, const char *name, unsigned *ret_mtu);

/* Make bridged frames traverse iptables (net.bridge.bridge-nf-call-iptables=1, loading
 * br_netfilter when the setting is missing), or the guards and security groups match
 * nothing. Logs a warning when it cannot. */
void agent_net_enable_bridge_netfilter(void);

/* The overlay: hosts' bridges joined at L2 by a VXLAN device on each, flooding broadcast
 * and unknown unicast to every peer (head-end replication, no multicast) and learning the
 * remote MACs from what it receives.
 *
 * Create the vxlan link if missing: VNI 1..16777215, local_ip a unicast IPv4 address
 * "A.B.C.D" (the underlay source), dstport (e.g. 4789, not 0), learning on, no lower device
 * and no group or remote; enslave it to bridge (which must exist: -ENODEV, and be a bridge:
 * -EINVAL) and bring it up, IPv6 disabled on it. Bad arguments are -EINVAL before any change.
 * An existing vxlan of that name with other settings is deleted and made anew, which drops
 * its peers: set them after this. -EEXIST when the name is another kind of link, or when
 * another device has the same VNI and port (the kernel allows one per namespace). The MTU
 * is the kernel's default (1500, no lower device): the encapsulated frames are 50 bytes longer. */
int agent_net_ensure_vxlan(struct agent_net *net, const char *name, uint32_t vni, const char *local_ip,
			   uint16_t dstport, const char *bridge);

/* Make the flood list of the vxlan link exactly peers (unicast IPv4 "A.B.C.D", duplicates
 * allowed, at most 1024: -E2BIG): one FDB entry 00:00:00:00:00:00 dst PEER (permanent, on
 * the device itself) each, as `bridge fdb append` makes. Entries already there are left as
 * they are; all-zeros entries to other addresses are deleted; learnt and other non-zero
 * entries, and all-zeros entries made by hand with their own port, VNI or device, are
 * never touched. A bad address is -EINVAL before any change; -ENODEV when the link does not
 * exist, -EINVAL when it is not a vxlan. An empty list removes the whole flood list. */
int agent_net_set_vxlan_peers(struct agent_net *net, const char *name, const char *const *peers, size_t n_peers);

/* The destinations of the link's flood entries, sorted by address (10.0.0.9 before 10.0.0.10),
 * unique (caller frees each and the array, as with agent_net_list_links); -ENODEV when the
 * link does not exist. */
int agent_net_get_vxlan_peers(struct agent_net *net, const char *name, char ***ret, size_t *ret_n);

#endif
