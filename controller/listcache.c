#include "listcache.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* A page's ids, copied out of an entry (which may be dropped once the lock is let go). */
struct page_ids {
	size_t n;
	char *text;	    /* the ids, each NUL-ended */
	uint32_t off[CTL_PAGE_MAX_SIZE];
};

/* The page [from, from + size) of e into ret (its text freed by the caller); -ENOMEM. */
static int page_ids(const struct list_entry *e, long long from, long long size, struct page_ids *ret)
{
	size_t len = 0;

	ret->n = 0;
	ret->text = NULL;
	if (from < 0 || (size_t)from >= e->n)
		return 0;
	if (size > CTL_PAGE_MAX_SIZE)
		size = CTL_PAGE_MAX_SIZE;
	if ((size_t)(from + size) > e->n)
		size = (long long)e->n - from;
	for (long long i = from; i < from + size; i++)
		len += strlen(e->ids + e->off[i]) + 1;
	ret->text = malloc(len);
	if (!ret->text)
		return -ENOMEM;
	len = 0;
	for (long long i = from; i < from + size; i++) {
		size_t n = strlen(e->ids + e->off[i]) + 1;

		memcpy(ret->text + len, e->ids + e->off[i], n);
		ret->off[ret->n++] = (uint32_t)len;
		len += n;
	}
	return 0;
}

/* The cached list of (kind, account, path) at gen: its page and size into *ids, *total;
 * false when there is none at that generation. */
static bool cache_page(enum ctl_list_kind kind, const char *account, const char *path, long long gen,
		       const struct ctl_page *page, struct page_ids *ids, long long *total)
{
	bool found = false;

	pthread_rwlock_rdlock(&list_lock);
	for (size_t i = 0; i < LIST_CACHE_ENTRIES; i++) {
		struct list_entry *e = entries[i];

		if (entry_is(e, kind, account, path) && e->gen == gen) {
			*total = (long long)e->n;
			__atomic_store_n(&e->used, __atomic_add_fetch(&use_clock, 1, __ATOMIC_RELAXED), __ATOMIC_RELAXED);
			found = page_ids(e, (page->number - 1) * page->size, page->size, ids) == 0;
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
		    struct page_ids *ids, long long *total)
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
	rc = page_ids(e, (page->number - 1) * page->size, page->size, ids);
	*total = (long long)e->n;
	cache_install(e);
	return rc;
}

/* BEGIN or COMMIT from the connection's kept statements (no parse per page). */
static int run_kept(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = ctl_db_prepare_cached(db, sql);
	int rc = st ? sqlite3_step(st) : SQLITE_ERROR;

	ctl_db_release(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

/* The page's rows, each read by its id with one kept statement, written in page order into
 * out's list (an id whose row is gone from this snapshot is left out, as a join would). */
static int page_rows(struct ctl_call *call, sqlite3_stmt *st, const struct page_ids *ids,
		     const struct ctl_list_query *q, struct json_object *out)
{
	struct ecs_jw w = { 0 };
	struct json_object *list;
	int rc = SQLITE_DONE;

	ecs_jw_open(&w, NULL, '[');
	sqlite3_bind_text(st, 2, call->account->account_id, -1, SQLITE_STATIC);
	for (size_t i = 0; i < ids->n && (rc == SQLITE_DONE || rc == SQLITE_ROW); i++) {
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, ids->text + ids->off[i], -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			q->write(call, st, &w, q->arg);
	}
	ecs_jw_close(&w, ']');
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		ecs_jw_free(&w);
		return -EIO;
	}
	list = ecs_jw_take(&w);
	if (!list)
		return -ENOMEM;
	json_object_object_add(ecs_jb_obj(out, q->list_key), q->item_key, list);
	return 0;
}

int ctl_list_query(struct ctl_call *call, const struct ctl_page *page, const struct ctl_list_query *q,
		   struct json_object *out)
{
	_cleanup_db_ struct ctl_db_conn conn = ctl_db_take(call->c->store);
	struct page_ids ids = { 0 };
	char sql[1600];
	sqlite3_stmt *st = NULL;
	long long total = 0;
	int rc;

	/* One snapshot for the generation, the ids and the rows. */
	if (!conn.db || run_kept(conn.db, "BEGIN") < 0 || list_ids(call, conn.db, page, q->kind, &ids, &total) < 0)
		return ctl_db_failure(call);
	snprintf(sql, sizeof(sql), "SELECT %s FROM %s WHERE %s = ?1 AND %s = ?2", q->columns, q->table, q->id_column,
		 q->account_column);
	st = ctl_db_prepare_cached(conn.db, sql);
	if (!st) {
		free(ids.text);
		return ctl_db_failure(call);
	}
	ctl_page_answer(out, page, total);
	rc = page_rows(call, st, &ids, q, out);
	ctl_db_release(st);
	free(ids.text);
	if (rc < 0)
		return ctl_db_failure(call);
	run_kept(conn.db, "COMMIT");
	return 0;
}
