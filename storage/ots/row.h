/* row.h: what a write does to a stored row and what a read returns of it, on decoded rows
 * (plainbuf.h). A stored row keeps its attribute cells sorted by name, newest version
 * first, at most max_versions a column, none older than the table's time to live. The
 * cells point into the buffers they were decoded from: keep those alive. */
#ifndef OTS_ROW_H
#define OTS_ROW_H

#include <stdbool.h>
#include <stdint.h>

#include "plainbuf.h"

struct ots_table_rules {
	int32_t max_versions; /* >= 1 */
	int32_t ttl_s;	      /* -1: forever */
	int64_t now_ms;
};

struct ots_filter;

/* What a read asks for. */
struct ots_read_spec {
	struct ots_filter *filter; /* NULL: every row (api-internal.h's ots_read_spec_make owns it) */
	char **columns; /* NULL/0: all */
	size_t n_columns;
	int32_t max_versions; /* 0: use the time range alone */
	bool has_range;
	int64_t start_ms, end_ms; /* [start, end) */
};

/* 0, or -EINVAL with a message (static) when a write's cells break a rule: a value type a
 * column cannot have, a name, a timestamp, a size, or more than the column limit. */
int ots_row_check_write(const struct ots_row *req, bool update, const char **ret_msg);

/* The row after the write: PutRow replaces the attributes (old may be NULL), UpdateRow
 * merges into old. out shares pk with req and cells with req and old; free with
 * free(out->cols) only (pk is not set). -EOPNOTSUPP for an increment. */
int ots_row_apply(const struct ots_row *old, const struct ots_row *req, bool update,
		  const struct ots_table_rules *rules, struct ots_row *out);

/* The cells of stored a read returns (out->cols is allocated, cells shared). An empty
 * result still has the key. Free out->cols only. */
int ots_row_select(const struct ots_row *stored, const struct ots_read_spec *spec,
		   const struct ots_table_rules *rules, struct ots_row *out);

#endif
