#include "common.h"

#include <errno.h>
#include <string.h>

#include "jobs.h"
#include "json.h"
#include "params.h"
#include "store.h"
#include "util.h"

int ctl_db_failure(struct ctl_call *call)
{
	return ctl_fail(call, 500, "InternalError", "The request processing has failed due to some unknown error.");
}

sqlite3_stmt *ctl_db_prepare_owned(struct ctl_call *call, sqlite3 *db, const char *sql, const char *id)
{
	sqlite3_stmt *st = db ? ctl_db_prepare(db, sql) : NULL;

	if (st) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, call->account->account_id, -1, SQLITE_STATIC);
	}
	return st;
}

/* The statements stay prepared per connection (ctl_db_prepare_cached): given back with
 * ctl_db_release. */
static sqlite3_stmt *page_statement(struct ctl_call *call, sqlite3 *db, const char *sql,
				    const struct ctl_page_query *q)
{
	sqlite3_stmt *st = sql ? ctl_db_prepare_cached(db, sql) : NULL;

	if (!st)
		return NULL;
	sqlite3_bind_text(st, 1, call->account->account_id, -1, SQLITE_STATIC);
	for (size_t i = 0; i < q->n_args; i++)
		if (q->args[i])
			sqlite3_bind_text(st, (int)i + 2, q->args[i], -1, SQLITE_STATIC);
	return st;
}

static void stmt_releasep(sqlite3_stmt **st)
{
	ctl_db_release(*st);
}

int ctl_page_query(struct ctl_call *call, const struct ctl_page *page, const struct ctl_page_query *q,
		   struct json_object *out)
{
	_cleanup_free_ char *count_sql = ecs_strdup_printf("SELECT count(*)%s", q->from);
	_cleanup_free_ char *page_sql = ecs_strdup_printf("SELECT %s%s%s LIMIT ?%zu OFFSET ?%zu", q->columns, q->from,
							  q->order, q->n_args + 2, q->n_args + 3);
	_cleanup_db_ struct ctl_db_conn conn = ctl_db_take(call->c->store);
	__attribute__((cleanup(stmt_releasep))) sqlite3_stmt *count =
		conn.db ? page_statement(call, conn.db, count_sql, q) : NULL;
	__attribute__((cleanup(stmt_releasep))) sqlite3_stmt *rows =
		conn.db ? page_statement(call, conn.db, page_sql, q) : NULL;
	if (!count || !rows || sqlite3_step(count) != SQLITE_ROW)
		return ctl_db_failure(call);
	ctl_page_bind(rows, (int)q->n_args + 2, page);
	ctl_page_answer(out, page, sqlite3_column_int64(count, 0));
	if (ctl_rows_answer(call, rows, q->list_key, q->item_key, q->row, q->write, q->arg, out) < 0)
		return ctl_db_failure(call);
	return 0;
}

int ctl_rows_answer(struct ctl_call *call, sqlite3_stmt *st, const char *list_key, const char *item_key,
		    ctl_row_fn row, ctl_row_write_fn write, void *arg, struct json_object *out)
{
	struct ecs_jw w = { 0 };
	struct json_object *list;
	int rc;

	if (!write) {
		list = ecs_jb_list(out, list_key, item_key);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			json_object_array_add(list, row(call, st, arg));
		return rc == SQLITE_DONE ? 0 : -EIO;
	}
	ecs_jw_open(&w, NULL, '[');
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		write(call, st, &w, arg);
	ecs_jw_close(&w, ']');
	if (rc != SQLITE_DONE) {
		ecs_jw_free(&w);
		return -EIO;
	}
	list = ecs_jw_take(&w);
	if (!list)
		return -ENOMEM;
	json_object_object_add(ecs_jb_obj(out, list_key), item_key, list);
	return 0;
}

sqlite3_stmt *ctl_db_prepare_args(sqlite3 *db, const char *sql, const char *const *args, int n)
{
	sqlite3_stmt *st = db ? ctl_db_prepare(db, sql) : NULL;

	for (int i = 0; st && i < n; i++)
		if (args[i])
			sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_STATIC);
	return st;
}

int ctl_db_commit(struct ctl_call *call, sqlite3 *db, int r)
{
	if (r == 0)
		r = ctl_db_tx_commit(db);
	return r < 0 ? ctl_db_failure(call) : r;
}

int ctl_db_run(sqlite3 *db, const char *sql, const char *const *args, int n)
{
	sqlite3_stmt *st = ctl_db_prepare_args(db, sql, args, n);
	int r;

	if (!st)
		return -EIO;
	r = ctl_db_step_done(st);
	sqlite3_finalize(st);
	return r;
}

sqlite3 *ctl_db_begin(struct ctl_call *call, int *ret)
{
	sqlite3 *db = ctl_db_get(call->c->store);

	if (!db || ctl_db_tx_begin(db) < 0) {
		ctl_db_put(call->c->store, db);
		*ret = ctl_db_failure(call);
		return NULL;
	}
	return db;
}

int ctl_db_count(sqlite3 *db, const char *sql, const char *const *args, int n, long long *ret)
{
	_cleanup_stmt_ sqlite3_stmt *st = ctl_db_prepare_args(db, sql, args, n);

	if (!st || sqlite3_step(st) != SQLITE_ROW)
		return -EIO;
	*ret = sqlite3_column_int64(st, 0);
	return 0;
}

int ctl_change_and_queue(struct ctl_call *call, const struct ctl_change *ch)
{
	sqlite3 *db = ctl_db_get(call->c->store);
	sqlite3_stmt *st;
	char state[64] = "";
	bool found = false, allowed = false;
	int r;

	if (!db || ctl_db_tx_begin(db) < 0) {
		ctl_db_put(call->c->store, db);
		return ctl_db_failure(call);
	}
	st = ctl_db_prepare_args(db, ch->check_sql, ch->args, ch->n_args);
	if (!st) {
		r = ctl_db_failure(call);
		goto out;
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		found = true;
		snprintf(state, sizeof(state), "%s", ctl_col(st, 0));
	}
	sqlite3_finalize(st);
	if (!found) {
		r = ctl_fail(call, 404, ch->not_found_code, "%s", ch->not_found_message);
		goto out;
	}
	for (size_t i = 0; ch->allowed && ch->allowed[i] && !allowed; i++)
		allowed = streq(ch->allowed[i], state);
	if (ch->allowed && !allowed) {
		r = ctl_fail(call, 403, ch->state_code, "%s", ch->state_message);
		goto out;
	}
	r = ch->update_sql ? ctl_db_run(db, ch->update_sql, ch->args, ch->n_args) : 0;
	if (r == 0 && ch->job_kind)
		r = ctl_jobs_add(db, ch->job_kind, ch->job_resource, ch->job_op, ch->job_args);
	r = ctl_db_commit(call, db, r);
out:
	ctl_db_put(call->c->store, db);
	if (r == 0 && ch->job_kind)
		ctl_jobs_kick(call->c);
	return r;
}
