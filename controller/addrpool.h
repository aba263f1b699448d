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
#include "ippool.h"

/* A private address for owner_id (an instance or an intranet LB). -ENOSPC: the pool is full. */
int ctl_ip_lease(struct ctl *c, sqlite3 *db, const char *owner_id, char ret[CTL_IP_MAX]);

/* A public address for owner_id (an LB id or an instance id) of account_id, placed on host_id,
 * state "active". want: that address (-EADDRNOTAVAIL when outside the pool, -EADDRINUSE when
 * leased) or NULL for the lowest free one (-ENOSPC when none is). */
int ctl_public_lease(struct ctl *c, sqlite3 *db, const char *account_id, const char *owner_id, const char *host_id,
		     const char *want, char ret[CTL_IP_MAX]);

#endif
