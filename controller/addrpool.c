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

int ctl_ip_lease(struct ctl *c, sqlite3 *db, const char *owner_id, char ret[CTL_IP_MAX])
{
	struct ctl_pool p;
	uint32_t first, last;
	sqlite3_stmt *st;
	int r;

	if (ctl_pool_parse(c->cfg.ip_pool, 8, 30, &p) < 0)
		return -EINVAL;
	ctl_pool_range(&p, false, c->cfg.host_gateways, &first, &last);
	st = ctl_db_prepare(db, "INSERT INTO ip_leases (ip, instance_id) VALUES (?1, ?2)");
	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 2, owner_id, -1, SQLITE_STATIC);
	r = lease_lowest(st, first, last, ret);
	sqlite3_finalize(st);
	return r;
}

int ctl_public_lease(struct ctl *c, sqlite3 *db, const char *account_id, const char *owner_id, const char *host_id,
		     const char *want, char ret[CTL_IP_MAX])
{
	struct ctl_pool p;
	uint32_t first, last;
	sqlite3_stmt *st;
	int r;

	if (ctl_pool_parse(c->cfg.public_ip_pool, 8, 32, &p) < 0)
		return -EINVAL;
	ctl_pool_range(&p, true, 0, &first, &last);
	st = ctl_db_prepare(db, "INSERT INTO public_ips (address, account_id, owner_id, host_id, state, created_at)"
				" VALUES (?1, ?2, ?3, ?4, 'active', ?5)");
	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 2, account_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, owner_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, host_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, time(NULL));
	if (want) {
		uint32_t v;

		r = -EADDRNOTAVAIL;
		if (ctl_pool_contains(&p, want) && ecs_ipv4_parse(want, &v) == 0) {
			if (v >= first && v <= last) {
				sqlite3_bind_text(st, 1, want, -1, SQLITE_STATIC);
				r = ctl_db_step_done(st);
				if (r == -EEXIST)
					r = -EADDRINUSE;
				if (r == 0)
					snprintf(ret, CTL_IP_MAX, "%s", want);
			}
		}
	} else {
		r = lease_lowest(st, first, last, ret);
	}
	sqlite3_finalize(st);
	return r;
}
