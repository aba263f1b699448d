/* Tests for storage/ots/row.c: what a write does to a stored row (versions kept newest first
 * and trimmed, TTL, deletes of one or all versions, PutRow replacing) and what a read selects. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"
#include "ots.h"
#include "row.h"

#define CELL(n, val, t) { .name = n, .name_len = sizeof(n) - 1, .has_value = true, \
			  .v = { .type = OTS_VT_INTEGER, .i = val }, .has_ts = true, .ts = t }

static const struct ots_table_rules rules = { .max_versions = 2, .ttl_s = 100, .now_ms = 1000000 };

static void test_update_versions(void **state)
{
	struct ots_cell old_cells[] = { CELL("a", 1, 999000), CELL("b", 2, 999000) };
	struct ots_cell req_cells[] = { CELL("a", 3, 999500), CELL("a", 4, 999900), CELL("c", 5, 800000) };
	struct ots_row old = { .cols = old_cells, .n_cols = 2 }, req = { .cols = req_cells, .n_cols = 3 }, out;

	(void)state;
	assert_int_equal(ots_row_apply(&old, &req, true, &rules, &out), 0);
	/* a: newest two of three; b kept; c older than the TTL (100 s before now) dropped */
	assert_int_equal(out.n_cols, 3);
	assert_int_equal(out.cols[0].v.i, 4);
	assert_int_equal(out.cols[1].v.i, 3);
	assert_int_equal(out.cols[2].v.i, 2);
	free(out.cols);
	/* PutRow replaces: b goes */
	assert_int_equal(ots_row_apply(&old, &req, false, &rules, &out), 0);
	assert_int_equal(out.n_cols, 2);
	free(out.cols);
}

static void test_update_deletes_and_timestamps(void **state)
{
	struct ots_cell old_cells[] = { CELL("a", 1, 999000), CELL("a", 2, 999100), CELL("b", 3, 999000) };
	struct ots_cell req_cells[] = {
		{ .name = "a", .name_len = 1, .has_ts = true, .ts = 999100, .op = OTS_OP_DELETE_ONE },
		{ .name = "b", .name_len = 1, .op = OTS_OP_DELETE_ALL },
		{ .name = "d", .name_len = 1, .has_value = true, .v = { .type = OTS_VT_BOOLEAN, .i = 1 } },
		CELL("a", 9, 999000), /* the same timestamp again replaces that version */
	};
	struct ots_row old = { .cols = old_cells, .n_cols = 3 }, req = { .cols = req_cells, .n_cols = 4 }, out;
	struct ots_read_spec spec = { .max_versions = 1 };
	struct ots_row sel;
	const char *msg;

	(void)state;
	assert_int_equal(ots_row_check_write(&req, true, &msg), 0);
	assert_int_equal(ots_row_check_write(&req, false, &msg), -EINVAL);
	assert_int_equal(ots_row_apply(&old, &req, true, &rules, &out), 0);
	assert_int_equal(out.n_cols, 2);
	assert_int_equal(out.cols[0].v.i, 9);
	assert_true(out.cols[1].has_ts && out.cols[1].ts == rules.now_ms); /* d: the server's time */
	out.pk = NULL;
	assert_int_equal(ots_row_select(&out, &spec, &rules, &sel), 0);
	assert_int_equal(sel.n_cols, 2);
	free(sel.cols);
	free(out.cols);
	req_cells[2].op = OTS_OP_INCREMENT;
	assert_int_equal(ots_row_apply(&old, &req, true, &rules, &out), -EOPNOTSUPP);
}

static void test_select(void **state)
{
	struct ots_cell cells[] = { CELL("a", 1, 999900), CELL("a", 2, 999800), CELL("a", 3, 999700),
				    CELL("b", 4, 999900), CELL("old", 5, 100) };
	struct ots_row row = { .cols = cells, .n_cols = 5 }, sel;
	char *only_b[] = { "b" };
	struct ots_read_spec all = { .max_versions = 2 };
	struct ots_read_spec range = { .has_range = true, .start_ms = 999750, .end_ms = 999850 };
	struct ots_read_spec cols = { .columns = only_b, .n_columns = 1, .max_versions = 1 };

	(void)state;
	assert_int_equal(ots_row_select(&row, &all, &rules, &sel), 0);
	assert_int_equal(sel.n_cols, 3); /* a twice, b; old is past the TTL */
	free(sel.cols);
	assert_int_equal(ots_row_select(&row, &range, &rules, &sel), 0);
	assert_int_equal(sel.n_cols, 1);
	assert_int_equal(sel.cols[0].v.i, 2);
	free(sel.cols);
	assert_int_equal(ots_row_select(&row, &cols, &rules, &sel), 0);
	assert_int_equal(sel.n_cols, 1);
	assert_int_equal(sel.cols[0].v.i, 4);
	free(sel.cols);
}

static void test_write_checks(void **state)
{
	struct ots_cell bad_name[] = { CELL("1a", 1, 1) };
	struct ots_cell no_value[] = { { .name = "a", .name_len = 1 } };
	struct ots_cell inf[] = { { .name = "a", .name_len = 1, .has_value = true, .v = { .type = OTS_VT_INF_MAX } } };
	struct ots_cell neg_ts[] = { CELL("a", 1, -1) };
	struct ots_row r = { .n_cols = 1 };
	const char *msg;

	(void)state;
	r.cols = bad_name;
	assert_int_equal(ots_row_check_write(&r, false, &msg), -EINVAL);
	r.cols = no_value;
	assert_int_equal(ots_row_check_write(&r, false, &msg), -EINVAL);
	r.cols = inf;
	assert_int_equal(ots_row_check_write(&r, false, &msg), -EINVAL);
	r.cols = neg_ts;
	assert_int_equal(ots_row_check_write(&r, false, &msg), -EINVAL);
	r.n_cols = OTS_COLUMNS_PER_WRITE_MAX + 1;
	assert_int_equal(ots_row_check_write(&r, false, &msg), -EINVAL);
}

UNIT_MAIN("ots_row", NULL, NULL, NULL, NULL,
	  cmocka_unit_test(test_update_versions),
	  cmocka_unit_test(test_update_deletes_and_timestamps),
	  cmocka_unit_test(test_select),
	  cmocka_unit_test(test_write_checks))
