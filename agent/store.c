#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "util.h"

#define STORE_SCHEMA_VERSION 1
#define STORE_MAX_DOC (4 * 1024 * 1024)

struct agent_store {
	sqlite3 *db;
	pthread_mutex_t lock;
};

static int exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_error("store: sql failed", "sql=\"%.60s\" error=\"%s\"", sql, err ? err : "?");
		sqlite3_free(err);
		return -EIO;
	}
	return 0;
}

/* Schema migrations, applied in order; the version is kept in user_version. */
static const char *const migrations[] = {
	[1] = "CREATE TABLE objects (kind TEXT NOT NULL, id TEXT NOT NULL, doc TEXT NOT NULL,"
	      " updated_at INTEGER NOT NULL DEFAULT (strftime('%s','now')), PRIMARY KEY (kind, id));",
};

static int migrate(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int version = 0, r;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > STORE_SCHEMA_VERSION) {
		log_error("store: database is newer than this agent", "version=%d supported=%d", version,
			  STORE_SCHEMA_VERSION);
		return -EPROTO;
	}
	for (int v = version + 1; v <= STORE_SCHEMA_VERSION; v++) {
		_cleanup_free_ char *sql =
			ecs_strdup_printf("BEGIN; %s PRAGMA user_version = %d; COMMIT;", migrations[v], v);

		if (!sql)
			return -ENOMEM;
		r = exec(db, sql);
		if (r < 0) {
			exec(db, "ROLLBACK");
			return r;
		}
		log_info("store: migrated", "version=%d", v);
	}
	return 0;
}

int agent_store_open(const char *path, struct agent_store **ret)
{
	struct agent_store *s;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		log_error("store: cannot open", "path=%s error=\"%s\"", path, s->db ? sqlite3_errmsg(s->db) : "?");
		r = -EIO;
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 5000);
	/* FULL: a put that returned survives kill -9 and power loss. */
	r = exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
	if (r < 0)
		goto fail;
	r = migrate(s->db);
	if (r < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	agent_store_close(s);
	return r;
}

void agent_store_close(struct agent_store *s)
{
	if (!s)
		return;
	sqlite3_close(s->db);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int agent_store_put(struct agent_store *s, const char *kind, const char *id, struct json_object *doc)
{
	sqlite3_stmt *st = NULL;
	size_t len;
	const char *text = ecs_json_text(doc, &len);
	int r = 0;

	if (!text)
		return -ENOMEM;
	if (len > STORE_MAX_DOC)
		return -EFBIG;
	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db,
			       "INSERT INTO objects (kind, id, doc) VALUES (?1, ?2, ?3) ON CONFLICT (kind, id) DO "
			       "UPDATE SET doc = excluded.doc, updated_at = strftime('%s','now')",
			       -1, &st, NULL) != SQLITE_OK) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, text, (int)len, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		log_error("store: put failed", "kind=%s id=%s error=\"%s\"", kind, id, sqlite3_errmsg(s->db));
		r = -EIO;
	}
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->lock);
	return r;
}

static int parse_doc(sqlite3_stmt *st, int col, struct json_object **ret)
{
	const char *text = (const char *)sqlite3_column_text(st, col);
	const char *err;

	if (!text)
		return -EIO;
	return ecs_json_parse(text, (size_t)sqlite3_column_bytes(st, col), ret, &err) < 0 ? -EIO : 0;
}

int agent_store_get(struct agent_store *s, const char *kind, const char *id, struct json_object **ret)
{
	sqlite3_stmt *st = NULL;
	int r;

	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db, "SELECT doc FROM objects WHERE kind = ?1 AND id = ?2", -1, &st, NULL) !=
	    SQLITE_OK) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW)
		r = parse_doc(st, 0, ret);
	else
		r = r == SQLITE_DONE ? -ENOENT : -EIO;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int agent_store_delete(struct agent_store *s, const char *kind, const char *id)
{
	sqlite3_stmt *st = NULL;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db, "DELETE FROM objects WHERE kind = ?1 AND id = ?2", -1, &st, NULL) !=
	    SQLITE_OK) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = -EIO;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int agent_store_list(struct agent_store *s, const char *kind, struct json_object **ret)
{
	sqlite3_stmt *st = NULL;
	struct json_object *all = json_object_new_object();
	int r = 0, step;

	if (!all)
		return -ENOMEM;
	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db, "SELECT id, doc FROM objects WHERE kind = ?1 ORDER BY id", -1, &st, NULL) !=
	    SQLITE_OK) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct json_object *doc;

		r = parse_doc(st, 1, &doc);
		if (r < 0)
			goto out;
		json_object_object_add(all, (const char *)sqlite3_column_text(st, 0), doc);
	}
	if (step != SQLITE_DONE)
		r = -EIO;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->lock);
	if (r < 0) {
		json_object_put(all);
		return r;
	}
	*ret = all;
	return 0;
}

int agent_store_count(struct agent_store *s, const char *kind, size_t *ret)
{
	sqlite3_stmt *st = NULL;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM objects WHERE kind = ?1", -1, &st, NULL) != SQLITE_OK) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		*ret = (size_t)sqlite3_column_int64(st, 0);
	else
		r = -EIO;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->lock);
	return r;
}
