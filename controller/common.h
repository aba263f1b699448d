/* common.h: small helpers the action modules share: column reading, ISO times, the
 * failure for a broken database, and "change a row and queue its job" in one transaction. */
#ifndef CTL_COMMON_H
#define CTL_COMMON_H

#include <json-c/json.h>
#include <sqlite3.h>
#include <stdbool.h>

#include "ctl.h"
#include "timeutil.h"

static inline const char *ctl_col(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);

	return s ? s : "";
}

static inline void ctl_time_str(long long t, char buf[ECS_ISO8601_LEN + 1])
{
	if (t > 0)
		ecs_time_format((time_t)t, buf);
	else
		buf[0] = '\0';
}

/* A json-c object put when the variable leaves its scope (json_object_put accepts NULL). */
static inline void ctl_json_putp(struct json_object **o)
{
	json_object_put(*o);
}
#define _cleanup_json_ __attribute__((cleanup(ctl_json_putp)))

int ctl_db_failure(struct ctl_call *call);

/* The shape of every "the caller's X" lookup: sql prepared on db (may be NULL) with ?1
 * bound to id and ?2 to the caller's account; NULL when db is NULL or the SQL fails. */
sqlite3_stmt *ctl_db_prepare_owned(struct ctl_call *call, sqlite3 *db, const char *sql, const char *id);

/* One page of a Describe* over the caller's rows: count(*) FROM `from`, then `columns` FROM
 * `from` `order` LIMIT/OFFSET the page; TotalCount, PageNumber, PageSize and
 * out.list_key.item_key[] (one row(call, st, arg) each) are added to out. In `from`, ?1 is
 * the caller's account and ?2… are args (a NULL arg stays SQL NULL, for "?k IS NULL OR …").
 * With write instead of row, each row is written as JSON text (one object) into the list,
 * which is then a single node of text (json.h, ecs_jw_take): no json-c tree per row. */
struct ctl_page;
struct ecs_jw;
typedef struct json_object *(*ctl_row_fn)(struct ctl_call *call, sqlite3_stmt *st, void *arg);
typedef void (*ctl_row_write_fn)(struct ctl_call *call, sqlite3_stmt *st, struct ecs_jw *w, void *arg);
struct ctl_page_query {
	const char *columns, *from, *order;
	const char *const *args;
	size_t n_args;
	const char *list_key, *item_key;
	ctl_row_fn row;
	ctl_row_write_fn write;
	void *arg;
};
int ctl_page_query(struct ctl_call *call, const struct ctl_page *page, const struct ctl_page_query *q,
		   struct json_object *out);
/* The rows st steps to, as out.list_key.item_key[]: each by write when given, else by row.
 * -EIO when a step fails, -ENOMEM. */
int ctl_rows_answer(struct ctl_call *call, sqlite3_stmt *st, const char *list_key, const char *item_key,
		    ctl_row_fn row, ctl_row_write_fn write, void *arg, struct json_object *out);

/* A pooled connection with a transaction begun, for call; NULL when there is none, the call
 * then failed as the store's failure (its code in *ret). Given back with ctl_db_put, which
 * rolls back what was not committed. */
sqlite3 *ctl_db_begin(struct ctl_call *call, int *ret);

/* sql prepared on db (may be NULL) with the strings in args bound to ?1…?n (a NULL arg
 * stays SQL NULL); NULL when db is NULL or the SQL fails. */
sqlite3_stmt *ctl_db_prepare_args(sqlite3 *db, const char *sql, const char *const *args, int n);
/* The end of a change in a transaction on db: commits when r is 0; a failed step or commit
 * (r < 0, an errno) becomes the store's failure of call. Returns the call's result. */
int ctl_db_commit(struct ctl_call *call, sqlite3 *db, int r);

/* Run sql (binding the strings in args, ?1…?n) on db; -EIO/-EEXIST. */
int ctl_db_run(sqlite3 *db, const char *sql, const char *const *args, int n);
/* The one number a "SELECT count(*) ..." with text parameters ?1..?n answers, into
 * *ret; -EIO when the statement fails. */
int ctl_db_count(sqlite3 *db, const char *sql, const char *const *args, int n, long long *ret);

/* In one transaction: check that `check_sql` (bound to args) returns a row and its first
 * column is one of `allowed` (else the caller's not_found / wrong_state failure), run
 * `update_sql` (same args), and queue job kind/op for resource with job_args. Kicks the
 * workers. */
struct ctl_change {
	const char *check_sql, *update_sql;
	const char *const *args;
	int n_args;
	const char *const *allowed;
	const char *not_found_code, *not_found_message;
	const char *state_code, *state_message;
	const char *job_kind, *job_resource, *job_op;
	struct json_object *job_args;
};
int ctl_change_and_queue(struct ctl_call *call, const struct ctl_change *ch);

#endif
