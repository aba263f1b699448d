#include "addrpool.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store.h"
#include "util.h"

int ctl_pool_parse(const char *cidr, int min_prefix, int max_prefix, struct ctl_pool *ret)
{
	char addr[32], tail;
	struct in_addr in;
	int prefix;

	if (!cidr || sscanf(cidr, "%31[^/]/%d%c", addr, &prefix, &tail) != 2 || prefix < min_prefix ||
	    prefix > max_prefix || inet_pton(AF_INET, addr, &in) != 1)
		return -EINVAL;
	ret->prefix = prefix;
	ret->mask = prefix ? ~0u << (32 - prefix) : 0;
	ret->net = ntohl(in.s_addr) & ret->mask;
	return 0;
}

void ctl_pool_ip_str(uint32_t ip, char buf[CTL_IP_MAX])
{
	struct in_addr in = { htonl(ip) };

	inet_ntop(AF_INET, &in, buf, CTL_IP_MAX);
}

bool ctl_ip_valid(const char *ip)
{
	struct in_addr in;
	char back[CTL_IP_MAX];

	return ip && inet_pton(AF_INET, ip, &in) == 1 && inet_ntop(AF_INET, &in, back, sizeof(back)) && streq(back, ip);
}

bool ctl_pool_contains(const struct ctl_pool *p, const char *ip)
{
	struct in_addr in;

	if (!ctl_ip_valid(ip) || inet_pton(AF_INET, ip, &in) != 1)
		return false;
	return (ntohl(in.s_addr) & p->mask) == p->net;
}

void ctl_pool_range(const struct ctl_pool *p, bool is_public, int gateways, uint32_t *ret_first, uint32_t *ret_last)
{
	uint32_t broadcast = p->net | ~p->mask;

	if (is_public && p->prefix >= 31) {
		*ret_first = p->net;
		*ret_last = broadcast;
		return;
	}
	*ret_first = p->net + (is_public ? 1 : 1 + (uint32_t)(gateways > 0 ? gateways : 1));
	*ret_last = broadcast - 1;
}

bool ctl_pool_is_gateway(const struct ctl_pool *p, int gateways, const char *ip)
{
	struct in_addr in;
	uint32_t v;

	if (!ctl_pool_contains(p, ip) || inet_pton(AF_INET, ip, &in) != 1)
		return false;
	v = ntohl(in.s_addr);
	return v > p->net && v <= p->net + (uint32_t)gateways;
}

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
		struct in_addr in;
		uint32_t v;

		r = -EADDRNOTAVAIL;
		if (ctl_pool_contains(&p, want) && inet_pton(AF_INET, want, &in) == 1) {
			v = ntohl(in.s_addr);
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
