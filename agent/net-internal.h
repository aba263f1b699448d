/* net-internal.h: what agent/net.c (links: bridge, addresses, taps, queries) shares with
 * agent/net_vxlan.c (the overlay device and its flood list). Not for other files: they use
 * net.h.
 *
 * Every helper here is called with net->lock held (except net_name_valid and
 * net_link_disable_ipv6, which touch no socket) and returns 0 or a negative errno. */
#ifndef AGENT_NET_INTERNAL_H
#define AGENT_NET_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <netlink/cache.h>
#include <netlink/route/link.h>

#include "net.h"

/* Link and neighbour dumps interrupted by concurrent changes (NLE_DUMP_INTR) are retried
 * this often. */
#define NET_DUMP_TRIES 3

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

/* A libnl error (NLE_*, either sign) as a negative errno. */
int net_nlerr_to_errno(int nlerr);
/* A name the kernel would accept (dev_valid_name): 1..IFNAMSIZ-1 bytes, no '/', ':' or
 * blanks, not "." or "..". */
bool net_name_valid(const char *name);
/* The check before every change: -EINVAL for a name the kernel would refuse, -EPERM for
 * one that is not ours (logged). */
int net_name_check_owned(const struct agent_net *net, const char *name);
/* The link named name into *ret (the caller puts it); -ENODEV when there is none. Does not log. */
int net_link_get(struct agent_net *net, const char *name, struct rtnl_link **ret);
/* Make link a port of master_ifindex (when > 0) and administratively up; sends nothing
 * when both hold already. */
int net_link_converge(struct agent_net *net, struct rtnl_link *link, int master_ifindex);
/* Log an argument refused before any change (want: what it should have been, value
 * quoted); returns -EINVAL. */
int net_refuse(const char *link, const char *want, const char *value);
/* A list argument of n items, at most max: -E2BIG past it, -EINVAL when NULL with items
 * (logged). */
int net_list_check(const char *link, const char *what, const void *list, size_t n, size_t max);
/* 0 when link is of kind ("bridge", "tun", "vxlan"); else logs and returns err. */
int net_link_want_kind(struct rtnl_link *link, const char *kind, int err);
/* The end of a lookup (r: its result) of the link called name: logs a failure, checks that
 * link is of kind (else logs and returns wrong_kind) and hands it over into *ret (the caller
 * puts it), or puts it. */
int net_link_got(int r, const char *name, struct rtnl_link *link, const char *kind, int wrong_kind,
		 struct rtnl_link **ret);
/* The bridge named bridge, that link name is to be a port of, into *ret (the caller puts
 * it); logs and returns -ENODEV when missing, -EINVAL when it is no bridge. */
int net_master_bridge_get(struct agent_net *net, const char *name, const char *bridge, struct rtnl_link **ret);
/* Turn IPv6 off on a link, through the calling thread's network namespace; 0 when the
 * kernel has no IPv6. */
int net_link_disable_ipv6(const char *name);

/* Bring link (named name) up as a port of master_ifindex (0: of none), with IPv6 turned
 * off before, so that it never gets a link-local address. */
int net_link_up_without_ipv6(struct agent_net *net, struct rtnl_link *link, const char *name, int master_ifindex);
/* The checks before a change given a list argument (link's name ours, the list as
 * net_list_check wants it), then room for n parsed items of item_size into *ret_parsed
 * (the caller frees it), so that every item is parsed, and a bad one refused, before
 * anything changes. */
int net_list_parse_begin(const struct agent_net *net, const char *link, const char *what, const void *list, size_t n,
			 size_t max, size_t item_size, void **ret_parsed);

#endif
