#include "addrpool.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "store.h"

/* Insert the lowest address of [first, last] the statement (bound at ?1 per try) accepts. */
static int lease_lowest(sqlite3_stmt *st, uint32_t first, uint32_t last, char ret[CTL_IP_MAX])
{
	for (uint64_t ip = first; ip <= last; ip++) {
		char s[CTL_IP_MAX];
		int r;

		ctl_pool_ip_str((uint32_t)ip, s);
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, s, -1, SQLITE_TRANSIENT);
		r = ctl_db_step_done(st);
		if (r == 0) {
			memcpy(ret, s, CTL_IP_MAX);
			return 0;
		}
		if (r != -EEXIST)
			return r;
	}
	return -ENOSPC;
}

/* A lease being made: the pool, its usable range and the INSERT that takes an address. */
struct lease {
	struct ctl_pool p;
	uint32_t first, last;
	sqlite3_stmt *st;
};

/* Parse pool (a CIDR of prefix 8 .. max_prefix), find its usable range and prepare sql. */
static int lease_begin(struct lease *l, sqlite3 *db, const char *pool, int max_prefix, bool is_public, int gateways,
		       const char *sql)
{
	if (ctl_pool_parse(pool, 8, max_prefix, &l->p) < 0)
		return -EINVAL;
	ctl_pool_range(&l->p, is_public, gateways, &l->first, &l->last);
	l->st = ctl_db_prepare(db, sql);
	return l->st ? 0 : -EIO;
}

int ctl_ip_lease(struct ctl *c, sqlite3 *db, const char *owner_id, char ret[CTL_IP_MAX])
{
	struct lease l;
	int r = lease_begin(&l, db, c->cfg.ip_pool, 30, false, c->cfg.host_gateways,
			    "INSERT INTO ip_leases (ip, instance_id) VALUES (?1, ?2)");

	if (r < 0)
		return r;
	sqlite3_bind_text(l.st, 2, owner_id, -1, SQLITE_STATIC);
	r = lease_lowest(l.st, l.first, l.last, ret);
	sqlite3_finalize(l.st);
	return r;
}

int ctl_public_lease(struct ctl *c, sqlite3 *db, const char *account_id, const char *owner_id, const char *host_id,
		     const char *want, char ret[CTL_IP_MAX])
{
	struct lease l;
	sqlite3_stmt *st;
	int r = lease_begin(&l, db, c->cfg.public_ip_pool, 32, true, 0,
			    "INSERT INTO public_ips (address, account_id, owner_id, host_id, state, created_at)"
			    " VALUES (?1, ?2, ?3, ?4, 'active', ?5)");

	if (r < 0)
		return r;
	st = l.st;
	sqlite3_bind_text(st, 2, account_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, owner_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, host_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, time(NULL));
	if (want) {
		uint32_t v;

		r = -EADDRNOTAVAIL;
		if (ctl_pool_contains(&l.p, want) && ecs_ipv4_parse(want, &v) == 0) {
			if (v >= l.first && v <= l.last) {
				sqlite3_bind_text(st, 1, want, -1, SQLITE_STATIC);
				r = ctl_db_step_done(st);
				if (r == -EEXIST)
					r = -EADDRINUSE;
				if (r == 0)
					snprintf(ret, CTL_IP_MAX, "%s", want);
			}
		}
	} else {
		r = lease_lowest(st, l.first, l.last, ret);
	}
	sqlite3_finalize(st);
	return r;
}
