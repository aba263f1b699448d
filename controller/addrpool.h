/* addrpool.h: the two address pools and their leases.
 *
 * The private pool ([network] ip_pool; network+1 is the gateway, the agents' bridge
 * address) gives instances and intranet load balancers their addresses: one row of
 * ip_leases each, keyed by the address, owned by the instance or LB id. The public pool
 * ([network] public_ip_pool) gives internet load balancers their VIPs and instances their
 * public IPs: one row of public_ips each (docs/slb.md, "What the controller keeps"). A lease
 * is written in the caller's transaction, so two leases never hold one address, and the
 * lowest free address is taken. */
#ifndef CTL_ADDRPOOL_H
#define CTL_ADDRPOOL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "ctl.h"

#define CTL_IP_MAX 16 /* "255.255.255.255" and its NUL */

struct ctl_pool {
	uint32_t net, mask; /* host order */
	int prefix;
};

/* "a.b.c.d/len" with min_prefix <= len <= max_prefix; -EINVAL otherwise. */
int ctl_pool_parse(const char *cidr, int min_prefix, int max_prefix, struct ctl_pool *ret);
void ctl_pool_ip_str(uint32_t ip, char buf[CTL_IP_MAX]);
/* ip in its one canonical dotted form ("10.0.0.5", not "10.0.0.05"). */
bool ctl_ip_valid(const char *ip);
/* ip in its canonical dotted form and inside the pool. */
bool ctl_pool_contains(const struct ctl_pool *p, const char *ip);
/* The first and last usable address: network+1+gateways … broadcast-1 for the private pool
 * (network+1 … network+gateways are the hosts' bridge addresses, the instances' gateways);
 * network+1 … broadcast-1 for a public pool of /30 or wider, every address of a /31 or /32
 * (gateways is ignored there). */
void ctl_pool_range(const struct ctl_pool *p, bool is_public, int gateways, uint32_t *ret_first, uint32_t *ret_last);
/* Whether ip is one of the private pool's gateway addresses (network+1 … network+gateways). */
bool ctl_pool_is_gateway(const struct ctl_pool *p, int gateways, const char *ip);

/* A private address for owner_id (an instance or an intranet LB). -ENOSPC: the pool is full. */
int ctl_ip_lease(struct ctl *c, sqlite3 *db, const char *owner_id, char ret[CTL_IP_MAX]);

/* A public address for owner_id (an LB id or an instance id) of account_id, placed on host_id,
 * state "active". want: that address (-EADDRNOTAVAIL when outside the pool, -EADDRINUSE when
 * leased) or NULL for the lowest free one (-ENOSPC when none is). */
int ctl_public_lease(struct ctl *c, sqlite3 *db, const char *account_id, const char *owner_id, const char *host_id,
		     const char *want, char ret[CTL_IP_MAX]);

#endif
