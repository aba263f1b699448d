#include "rowjson.h"

#include <errno.h>

#include "common.h"
#include "json.h"

void ctl_row_json(sqlite3_stmt *st, int first, const struct ctl_col_key *cols, size_t n, struct json_object *o)
{
	for (size_t k = 0; k < n; k++) {
		int i = first + (int)k;

		switch (cols[k].kind) {
		case CTL_COL_STR:
			ecs_jb_str(o, cols[k].key, ctl_col(st, i));
			break;
		case CTL_COL_INT:
			ecs_jb_int(o, cols[k].key, sqlite3_column_int64(st, i));
			break;
		case CTL_COL_BOOL:
			ecs_jb_bool(o, cols[k].key, sqlite3_column_int(st, i) != 0);
			break;
		}
	}
}

int ctl_query_each(sqlite3 *db, const char *sql, const char *const *args, int n,
		   int (*row)(sqlite3_stmt *st, void *arg), void *arg)
{
	sqlite3_stmt *st = ctl_db_prepare_args(db, sql, args, n);
	int r = 0;

	if (!st)
		return -EIO;
	while (r == 0 && sqlite3_step(st) == SQLITE_ROW)
		r = row(st, arg);
	sqlite3_finalize(st);
	return r;
}

struct rows_json {
	const struct ctl_col_key *cols;
	size_t n;
	struct json_object *list;
};

static int row_json(sqlite3_stmt *st, void *arg)
{
	struct rows_json *rj = arg;
	struct json_object *o = json_object_new_object();

	ctl_row_json(st, 0, rj->cols, rj->n, o);
	json_object_array_add(rj->list, o);
	return 0;
}

void ctl_rows_json(sqlite3_stmt *st, const struct ctl_col_key *cols, size_t n, struct json_object *list)
{
	struct rows_json rj = { cols, n, list };

	while (sqlite3_step(st) == SQLITE_ROW)
		row_json(st, &rj);
}

int ctl_query_json(sqlite3 *db, const char *sql, const char *const *args, int n, const struct ctl_col_key *cols,
		   size_t ncols, struct json_object *list)
{
	struct rows_json rj = { cols, ncols, list };

	return ctl_query_each(db, sql, args, n, row_json, &rj);
}
