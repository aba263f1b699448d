#include "account.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "log.h"
#include "store.h"
#include "util.h"

static bool name_ok(const char *n)
{
	size_t len = strlen(n);

	if (len == 0 || len > 64)
		return false;
	for (; *n; n++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-", *n))
			return false;
	return true;
}

/* Base62 of random bytes: AccessKeyIds look like Alibaba's LTAI… ones. */
static int random_token(char *out, size_t len)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	uint8_t rnd[64];
	int r;

	if (len > sizeof(rnd))
		return -EINVAL;
	r = ecs_random_bytes(rnd, len);
	if (r < 0)
		return r;
	for (size_t i = 0; i < len; i++)
		out[i] = alphabet[rnd[i] % 62];
	out[len] = '\0';
	return 0;
}

static void fill(sqlite3_stmt *st, struct ctl *c, struct ctl_account *a)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->account_id, sizeof(a->account_id), "%s", (const char *)sqlite3_column_text(st, 0));
	snprintf(a->name, sizeof(a->name), "%s", (const char *)sqlite3_column_text(st, 1));
	snprintf(a->access_key_id, sizeof(a->access_key_id), "%s", (const char *)sqlite3_column_text(st, 2));
	snprintf(a->access_key_secret, sizeof(a->access_key_secret), "%s", (const char *)sqlite3_column_text(st, 3));
	a->quota_instances = sqlite3_column_type(st, 4) == SQLITE_NULL ? c->cfg.quota_instances : sqlite3_column_int64(st, 4);
	a->quota_vcpus = sqlite3_column_type(st, 5) == SQLITE_NULL ? c->cfg.quota_vcpus : sqlite3_column_int64(st, 5);
	a->quota_disks = sqlite3_column_type(st, 6) == SQLITE_NULL ? c->cfg.quota_disks : sqlite3_column_int64(st, 6);
	a->quota_snapshots = sqlite3_column_type(st, 7) == SQLITE_NULL ? c->cfg.quota_snapshots : sqlite3_column_int64(st, 7);
}

static int lookup(struct ctl *c, const char *column, const char *value, struct ctl_account *ret)
{
	_cleanup_free_ char *sql = ecs_strdup_printf(
		"SELECT account_id, name, access_key_id, access_key_secret, quota_instances, quota_vcpus, quota_disks,"
		" quota_snapshots FROM accounts WHERE %s = ?1",
		column);
	sqlite3 *db = ctl_db_get(c->store);
	/* Every signed request comes here: its statement stays prepared. */
	sqlite3_stmt *st = db && sql ? ctl_db_prepare_cached(db, sql) : NULL;
	int r = -EIO;

	if (st) {
		sqlite3_bind_text(st, 1, value, -1, SQLITE_STATIC);
		r = sqlite3_step(st);
		if (r == SQLITE_ROW) {
			fill(st, c, ret);
			r = 0;
		} else {
			r = r == SQLITE_DONE ? -ENOENT : -EIO;
		}
	}
	ctl_db_release(st);
	ctl_db_put(c->store, db);
	return r;
}

int ctl_account_by_key(struct ctl *c, const char *access_key_id, struct ctl_account *ret)
{
	return lookup(c, "access_key_id", access_key_id, ret);
}

int ctl_account_by_name(struct ctl *c, const char *name, struct ctl_account *ret)
{
	return lookup(c, "name", name, ret);
}

int ctl_account_create(struct ctl *c, const char *name, struct ctl_account *ret)
{
	struct ctl_account a = { 0 };
	char rnd[32];
	sqlite3 *db;
	sqlite3_stmt *st;
	int r;

	if (!name_ok(name))
		return -EINVAL;
	if ((r = random_token(rnd, 16)) < 0)
		return r;
	snprintf(a.account_id, sizeof(a.account_id), "acc-%s", rnd);
	if ((r = random_token(rnd, 20)) < 0)
		return r;
	snprintf(a.access_key_id, sizeof(a.access_key_id), "LTAI%s", rnd);
	if ((r = random_token(a.access_key_secret, 30)) < 0)
		return r;
	snprintf(a.name, sizeof(a.name), "%s", name);
	db = ctl_db_get(c->store);
	if (!db)
		return -EIO;
	st = ctl_db_prepare(db, "INSERT INTO accounts (account_id, name, access_key_id, access_key_secret, created_at)"
				" VALUES (?1, ?2, ?3, ?4, ?5)");
	if (!st) {
		ctl_db_put(c->store, db);
		return -EIO;
	}
	sqlite3_bind_text(st, 1, a.account_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, a.name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, a.access_key_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, a.access_key_secret, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, time(NULL));
	r = ctl_db_step_done(st);
	sqlite3_finalize(st);
	ctl_db_put(c->store, db);
	if (r < 0)
		return r;
	a.quota_instances = c->cfg.quota_instances;
	a.quota_vcpus = c->cfg.quota_vcpus;
	a.quota_disks = c->cfg.quota_disks;
	a.quota_snapshots = c->cfg.quota_snapshots;
	log_info("account created", "account=%s name=%s", a.account_id, name);
	*ret = a;
	return 0;
}

/* Live rows of each kind (deleted ones keep their row with deleted = 1). */
static const struct {
	const char *name, *sql;
} resources[_CTL_ACCOUNT_RESOURCE_MAX] = {
	[CTL_ACCOUNT_INSTANCES] = { "instances", "SELECT COUNT(*) FROM instances WHERE account_id = ?1 AND deleted = 0" },
	[CTL_ACCOUNT_DISKS] = { "disks", "SELECT COUNT(*) FROM disks WHERE account_id = ?1 AND deleted = 0" },
	[CTL_ACCOUNT_SNAPSHOTS] = { "snapshots", "SELECT COUNT(*) FROM snapshots WHERE account_id = ?1 AND deleted = 0" },
	[CTL_ACCOUNT_IMAGES] = { "images", "SELECT COUNT(*) FROM images WHERE account_id = ?1 AND deleted = 0" },
	[CTL_ACCOUNT_KEY_PAIRS] = { "key pairs", "SELECT COUNT(*) FROM key_pairs WHERE account_id = ?1" },
	[CTL_ACCOUNT_SECURITY_GROUPS] = { "security groups",
					  "SELECT COUNT(*) FROM security_groups WHERE account_id = ?1" },
	[CTL_ACCOUNT_LOAD_BALANCERS] = { "load balancers",
					 "SELECT COUNT(*) FROM load_balancers WHERE account_id = ?1 AND deleted = 0" },
	[CTL_ACCOUNT_POLICIES] = { "auto snapshot policies",
				   "SELECT COUNT(*) FROM auto_snapshot_policies WHERE account_id = ?1" },
	[CTL_ACCOUNT_PUBLIC_IPS] = { "public IPs", "SELECT COUNT(*) FROM public_ips WHERE account_id = ?1" },
};

const char *ctl_account_resource_name(enum ctl_account_resource r)
{
	return r < _CTL_ACCOUNT_RESOURCE_MAX ? resources[r].name : NULL;
}

static int count_resources(sqlite3 *db, const char *account_id, long long ret[_CTL_ACCOUNT_RESOURCE_MAX])
{
	for (size_t i = 0; i < _CTL_ACCOUNT_RESOURCE_MAX; i++) {
		sqlite3_stmt *st = ctl_db_prepare(db, resources[i].sql);

		if (!st)
			return -EIO;
		sqlite3_bind_text(st, 1, account_id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_ROW) {
			sqlite3_finalize(st);
			return -EIO;
		}
		ret[i] = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	return 0;
}

int ctl_account_list(struct ctl *c)
{
	sqlite3 *db = ctl_db_get(c->store);
	sqlite3_stmt *st = db ? ctl_db_prepare(db, "SELECT name, access_key_id, account_id, created_at FROM accounts"
						   " ORDER BY name")
			      : NULL;
	int r = 0;

	if (!st) {
		ctl_db_put(c->store, db);
		return -EIO;
	}
	printf("NAME\tACCESS_KEY_ID\tCREATED");
	for (size_t i = 0; i < _CTL_ACCOUNT_RESOURCE_MAX; i++) {
		printf("\t");
		for (const char *p = resources[i].name; *p; p++)
			putchar(*p == ' ' ? '_' : (*p >= 'a' && *p <= 'z' ? *p - 32 : *p));
	}
	printf("\n");
	while (r == 0 && sqlite3_step(st) == SQLITE_ROW) {
		long long n[_CTL_ACCOUNT_RESOURCE_MAX];
		time_t created = (time_t)sqlite3_column_int64(st, 3);
		char when[32];
		struct tm tm;

		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&created, &tm));
		r = count_resources(db, (const char *)sqlite3_column_text(st, 2), n);
		if (r < 0)
			break;
		printf("%s\t%s\t%s", sqlite3_column_text(st, 0), sqlite3_column_text(st, 1), when);
		for (size_t i = 0; i < _CTL_ACCOUNT_RESOURCE_MAX; i++)
			printf("\t%lld", n[i]);
		printf("\n");
	}
	sqlite3_finalize(st);
	ctl_db_put(c->store, db);
	return r;
}

int ctl_account_delete(struct ctl *c, const char *name, enum ctl_account_resource *ret_kind, long long *ret_count)
{
	static const char *const rows[] = {
		"DELETE FROM client_tokens WHERE account_id = ?1",
		"DELETE FROM instance_counts WHERE account_id = ?1",
		"DELETE FROM deployment_sets WHERE account_id = ?1", /* empty: the account has no instance */
		"DELETE FROM signature_nonces WHERE access_key_id = ?2",
		"DELETE FROM accounts WHERE account_id = ?1",
	};
	long long n[_CTL_ACCOUNT_RESOURCE_MAX];
	struct ctl_account a;
	sqlite3 *db;
	int r;

	r = ctl_account_by_name(c, name, &a);
	if (r < 0)
		return r;
	db = ctl_db_get(c->store);
	if (!db)
		return -EIO;
	/* Counted and deleted in one transaction: nothing may be made in between. */
	r = ctl_db_tx_begin(db);
	if (r < 0)
		goto out;
	r = count_resources(db, a.account_id, n);
	for (size_t i = 0; r == 0 && i < _CTL_ACCOUNT_RESOURCE_MAX; i++) {
		if (n[i] > 0) {
			*ret_kind = (enum ctl_account_resource)i;
			*ret_count = n[i];
			r = -EBUSY;
		}
	}
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(rows); i++) {
		sqlite3_stmt *st = ctl_db_prepare(db, rows[i]);

		if (!st) {
			r = -EIO;
			break;
		}
		sqlite3_bind_text(st, 1, a.account_id, -1, SQLITE_STATIC);
		if (sqlite3_bind_parameter_count(st) >= 2)
			sqlite3_bind_text(st, 2, a.access_key_id, -1, SQLITE_STATIC);
		r = ctl_db_step_done(st);
		sqlite3_finalize(st);
	}
	if (r == 0)
		r = ctl_db_tx_commit(db);
	if (r < 0)
		ctl_db_tx_rollback(db);
	else
		log_info("account deleted", "account=%s name=%s", a.account_id, name);
out:
	ctl_db_put(c->store, db);
	return r;
}
