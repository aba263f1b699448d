/* filter.h: column conditions (a write's Condition.column_condition) and read filters (the
 * filter of GetRow, BatchGetRow, GetRange), parsed from the SDKs' Filter messages into a tree
 * and evaluated on a row's cells (sorted by name, newest version first, as row.h keeps them).
 *
 * A single condition compares a column's value with a constant: with latest_version_only its
 * newest version only, else any version passing is enough; a column the row lacks passes
 * unless filter_if_missing; values of different types are unequal and unordered. Composites
 * combine conditions with NOT (exactly one), AND, OR (one or more). A column pagination filter
 * (reads only, alone) keeps `limit` columns after skipping `offset`. */
#ifndef OTS_FILTER_H
#define OTS_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plainbuf.h"

#define OTS_FILTER_NODES_MAX 32 /* conditions in one filter, composites counted */

struct ots_filter;

/* 0, or -EINVAL with a message (static) for a malformed or refused filter; -ENOMEM.
 * paging: whether a column pagination filter is allowed (reads). */
int ots_filter_parse(const uint8_t *p, size_t len, bool paging, struct ots_filter **ret, const char **ret_msg);
void ots_filter_free(struct ots_filter *f);

/* Whether the row passes (its attribute cells; none: every column missing). A pagination
 * filter passes every row. */
bool ots_filter_match(const struct ots_filter *f, const struct ots_row *row);
/* A pagination filter's offset and limit; false for other filters. */
bool ots_filter_paging(const struct ots_filter *f, int32_t *ret_offset, int32_t *ret_limit);

#endif
