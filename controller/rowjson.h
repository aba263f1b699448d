/* rowjson.h: a row of a statement as JSON, by a table naming each column's key and kind,
 * for the documents the controller builds from its tables (agent views, job arguments). */
#ifndef CTL_ROWJSON_H
#define CTL_ROWJSON_H

#include <json-c/json.h>
#include <sqlite3.h>
#include <stddef.h>

enum ctl_col_kind {
	CTL_COL_STR, /* text ("" for NULL) */
	CTL_COL_INT, /* 64-bit integer */
	CTL_COL_BOOL, /* integer, nonzero = true */
};

struct ctl_col_key {
	const char *key;
	enum ctl_col_kind kind;
};

#define CTL_COLS(a) (a), (sizeof(a) / sizeof((a)[0]))

/* Columns first .. first+n-1 of st's current row added to o, column first+k under cols[k]. */
void ctl_row_json(sqlite3_stmt *st, int first, const struct ctl_col_key *cols, size_t n, struct json_object *o);

/* Steps st to its end: each row an object of its columns 0 .. n-1 (as ctl_row_json)
 * appended to the array list. Does not finalize st. */
void ctl_rows_json(sqlite3_stmt *st, const struct ctl_col_key *cols, size_t n, struct json_object *list);

/* sql run on db with the strings args bound to ?1 .. ?n (a NULL arg stays SQL NULL), and
 * row(st, arg) called for each row it answers, until one returns nonzero (returned then);
 * -EIO when the statement cannot be prepared, else 0. */
int ctl_query_each(sqlite3 *db, const char *sql, const char *const *args, int n,
		   int (*row)(sqlite3_stmt *st, void *arg), void *arg);

/* sql run on db with the strings args bound to ?1 .. ?n, its rows added to list as by
 * ctl_rows_json; -EIO when the statement cannot be prepared. */
int ctl_query_json(sqlite3 *db, const char *sql, const char *const *args, int n, const struct ctl_col_key *cols,
		   size_t ncols, struct json_object *list);

#endif
