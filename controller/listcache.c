#include "listcache.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "store.h"
#include "util.h"

/* How a kind's visible ids are read in list order (the order of its Describe action). */
static const char *const order_sql[CTL_LIST_KINDS] = {
	[CTL_LIST_INSTANCES] = "SELECT instance_id FROM instances WHERE account_id = ?1 AND deleted = 0 AND"
			       " desired != 'deleted' ORDER BY created_at DESC, instance_id",
	[CTL_LIST_DISKS] = "SELECT disk_id FROM disks WHERE account_id = ?1 AND deleted = 0 ORDER BY created_at DESC,"
			   " disk_id",
	[CTL_LIST_GROUPS] = "SELECT group_id FROM security_groups WHERE account_id = ?1 ORDER BY created_at DESC,"
			    " rowid DESC",
};
static const char *const kind_name[CTL_LIST_KINDS] = { "instances", "disks", "security_groups" };

#define LIST_CACHE_ENTRIES 64

/* One account's ids of one kind at one generation: ids[off[i]] is the i-th, NUL-ended. */
struct list_entry {
	enum ctl_list_kind kind;
	char *account, *path;
	long long gen;
	size_t n;
	uint32_t *off;
	char *ids;
	unsigned long long used;
};

static struct list_entry *entries[LIST_CACHE_ENTRIES];
static unsigned long long use_clock;
static pthread_rwlock_t list_lock = PTHREAD_RWLOCK_INITIALIZER;

static void entry_free(struct list_entry *e)
{
	if (!e)
		return;
	free(e->account);
	free(e->path);
	free(e->off);
	free(e->ids);
	free(e);
}

static bool entry_is(const struct list_entry *e, enum ctl_list_kind kind, const char *account, const char *path)
{
	return e && e->kind == kind && streq(e->account, account) && streq(e->path, path);
}

/* Append s as a JSON string (the ids are the controller's own, escaped all the same). */
static int json_string_add(struct ecs_buf *b, const char *s)
{
	char esc[8];
	int r = ecs_buf_append(b, "\"", 1, SIZE_MAX);

	for (const char *p = s; r == 0 && *p; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch == '"' || ch == '\\' || ch < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", ch);
			r = ecs_buf_append(b, esc, 6, SIZE_MAX);
		} else {
			r = ecs_buf_append(b, p, 1, SIZE_MAX);
		}
	}
	return r == 0 ? ecs_buf_append(b, "\"", 1, SIZE_MAX) : r;
}

/* The page [from, from + size) of e as a JSON array of ids (caller frees). */
static char *page_ids(const struct list_entry *e, long long from, long long size)
{
	struct ecs_buf b = { 0 };
	int r = ecs_buf_append(&b, "[", 1, SIZE_MAX);

	for (long long i = from; r == 0 && i < from + size && i >= 0 && (size_t)i < e->n; i++) {
		if (i > from)
			r = ecs_buf_append(&b, ",", 1, SIZE_MAX);
		if (r == 0)
			r = json_string_add(&b, e->ids + e->off[i]);
	}
	if (r == 0)
		r = ecs_buf_append(&b, "]", 1, SIZE_MAX);
	if (r < 0) {
		ecs_buf_free(&b);
		return NULL;
	}
	return ecs_buf_steal(&b);
}

/* The cached list of (kind, account, path) at gen: its page and size into *ids, *total;
 * false when there is none at that generation. */
static bool cache_page(enum ctl_list_kind kind, const char *account, const char *path, long long gen,
		       const struct ctl_page *page, char **ids, long long *total)
{
	bool found = false;

	pthread_rwlock_rdlock(&list_lock);
	for (size_t i = 0; i < LIST_CACHE_ENTRIES; i++) {
		struct list_entry *e = entries[i];

		if (entry_is(e, kind, account, path) && e->gen == gen) {
			*ids = page_ids(e, (page->number - 1) * page->size, page->size);
			*total = (long long)e->n;
			__atomic_store_n(&e->used, __atomic_add_fetch(&use_clock, 1, __ATOMIC_RELAXED), __ATOMIC_RELAXED);
			found = *ids != NULL;
			break;
		}
	}
	pthread_rwlock_unlock(&list_lock);
	return found;
}

/* Keep e (replacing the entry of its key, else the least recently used). */
static void cache_install(struct list_entry *e)
{
	size_t victim = LIST_CACHE_ENTRIES;

	e->used = __atomic_add_fetch(&use_clock, 1, __ATOMIC_RELAXED);
	pthread_rwlock_wrlock(&list_lock);
	for (size_t i = 0; i < LIST_CACHE_ENTRIES && victim == LIST_CACHE_ENTRIES; i++)
		if (entry_is(entries[i], e->kind, e->account, e->path))
			victim = i;
	if (victim < LIST_CACHE_ENTRIES && entries[victim]->gen > e->gen) {
		/* A newer one was read meanwhile. */
		pthread_rwlock_unlock(&list_lock);
		entry_free(e);
		return;
	}
	for (size_t i = 0; i < LIST_CACHE_ENTRIES && victim == LIST_CACHE_ENTRIES; i++)
		if (!entries[i])
			victim = i;
	if (victim == LIST_CACHE_ENTRIES) {
		victim = 0;
		for (size_t i = 1; i < LIST_CACHE_ENTRIES; i++)
			if (entries[i]->used < entries[victim]->used)
				victim = i;
	}
	entry_free(entries[victim]);
	entries[victim] = e;
	pthread_rwlock_unlock(&list_lock);
}

/* Read the list of (kind, account) from db's open snapshot. */
static struct list_entry *cache_read(sqlite3 *db, enum ctl_list_kind kind, const char *account, const char *path,
				     long long gen)
{
	struct list_entry *e = calloc(1, sizeof(*e));
	sqlite3_stmt *st = ctl_db_prepare_cached(db, order_sql[kind]);
	size_t cap = 0, len = 0, cap_off = 0;
	int rc = SQLITE_DONE;

	if (!e || !st || !(e->account = strdup(account)) || !(e->path = strdup(path)))
		goto fail;
	e->kind = kind;
	e->gen = gen;
	sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *id = ctl_col(st, 0);
		size_t n = strlen(id) + 1;

		if (e->n == cap_off) {
			uint32_t *o = realloc(e->off, (cap_off = cap_off ? cap_off * 2 : 1024) * sizeof(*o));

			if (!o)
				goto fail;
			e->off = o;
		}
		if (len + n > cap) {
			char *t = realloc(e->ids, cap = (cap ? cap * 2 : 32768) + n);

			if (!t)
				goto fail;
			e->ids = t;
		}
		if (len + n > UINT32_MAX)
			goto fail;
		memcpy(e->ids + len, id, n);
		e->off[e->n++] = (uint32_t)len;
		len += n;
	}
	if (rc != SQLITE_DONE)
		goto fail;
	ctl_db_release(st);
	return e;
fail:
	ctl_db_release(st);
	entry_free(e);
	return NULL;
}

static int list_ids(struct ctl_call *call, sqlite3 *db, const struct ctl_page *page, enum ctl_list_kind kind,
		    char **ids, long long *total)
{
	const char *account = call->account->account_id, *path = sqlite3_db_filename(db, "main");
	sqlite3_stmt *st = ctl_db_prepare_cached(db, "SELECT gen FROM list_gens WHERE kind = ?1 AND account_id = ?2");
	struct list_entry *e;
	long long gen = 0;
	int rc;

	if (!st)
		return -EIO;
	if (!path)
		path = "";
	sqlite3_bind_text(st, 1, kind_name[kind], -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, account, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		gen = sqlite3_column_int64(st, 0);
	ctl_db_release(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -EIO;
	if (cache_page(kind, account, path, gen, page, ids, total))
		return 0;
	e = cache_read(db, kind, account, path, gen);
	if (!e)
		return -EIO;
	*ids = page_ids(e, (page->number - 1) * page->size, page->size);
	*total = (long long)e->n;
	cache_install(e);
	return *ids ? 0 : -ENOMEM;
}

/* BEGIN or COMMIT from the connection's kept statements (no parse per page). */
static int run_kept(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = ctl_db_prepare_cached(db, sql);
	int rc = st ? sqlite3_step(st) : SQLITE_ERROR;

	ctl_db_release(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

int ctl_list_query(struct ctl_call *call, const struct ctl_page *page, const struct ctl_list_query *q,
		   struct json_object *out)
{
	_cleanup_db_ struct ctl_db_conn conn = ctl_db_take(call->c->store);
	_cleanup_free_ char *ids = NULL;
	char sql[1600];
	sqlite3_stmt *st = NULL;
	long long total = 0;
	int rc;

	/* One snapshot for the generation, the ids and the rows. */
	if (!conn.db || run_kept(conn.db, "BEGIN") < 0 || list_ids(call, conn.db, page, q->kind, &ids, &total) < 0)
		return ctl_db_failure(call);
	snprintf(sql, sizeof(sql), "SELECT %s FROM (SELECT key AS page_pos, value AS page_id FROM json_each(?1)) j CROSS JOIN %s"
		 " ON %s = j.page_id WHERE %s = ?2 ORDER BY j.page_pos",
		 q->columns, q->table, q->id_column, q->account_column);
	st = ctl_db_prepare_cached(conn.db, sql);
	if (!st)
		return ctl_db_failure(call);
	sqlite3_bind_text(st, 1, ids, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, call->account->account_id, -1, SQLITE_STATIC);
	ctl_page_answer(out, page, total);
	rc = ctl_rows_answer(call, st, q->list_key, q->item_key, q->row, q->write, q->arg, out);
	ctl_db_release(st);
	if (rc < 0)
		return ctl_db_failure(call);
	run_kept(conn.db, "COMMIT");
	return 0;
}
