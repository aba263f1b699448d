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

#endif
