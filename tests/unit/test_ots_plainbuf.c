/* Tests for storage/ots/plainbuf.c and key.c: PlainBuffer rows as the Node SDK (npm
 * tablestore 5.6.5) encodes them, round trips, every checksum and truncation refused, and
 * the omap key encoding's order. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"
#include "crypto.h"
#include "key.h"
#include "plainbuf.h"

/* PlainBufferBuilder.serializeForPutRow([{uid: -5}, {name: 'ab'}, {bin: <00 01 ff>}],
 *   [{s: 'x'}, {i: 7}, {d: 1.5}, {b: true}, {t: 'y', timestamp: 1700000000000}]) */
static const char PUT_HEX[] =
	"7500000001030403000000756964050900000000fbffffffffffffff0ad30304040000006e616d6505070000000302000000"
	"61620ad703040300000062696e050800000007030000000001ff0a78020304010000007305060000000301000000780a2703"
	"04010000006905090000000007000000000000000a3d03040100000064050900000001000000000000f83f0aba0304010000"
	"0062050200000002010a3e030401000000740506000000030100000079070068e5cf8b0100000af1095e";
/* serializeForUpdateRow([{uid: 1}], [{PUT: [{c: 'v'}]}, {DELETE: [{c: 1700000000000}]},
 *   {DELETE_ALL: ['z']}]), with the zeros the SDK leaves after it */
static const char UPD_HEX[] = "750000000103040300000075696405090000000001000000000000000a5b020304010000006305060000000301"
			      "000000760ade030401000000630603070068e5cf8b0100000a0e0304010000007a06010a2709a50000000000";
/* serializeForDeleteRow([{uid: 1}]) and serializePrimaryKey([{uid: INF_MIN}, {name: INF_MAX}]) */
static const char DEL_HEX[] = "750000000103040300000075696405090000000001000000000000000a5b08099c";
static const char INF_HEX[] = "75000000010304030000007569640501000000090a1d0304040000006e616d6505010000000a0a6b09510000";

static uint8_t *unhex(const char *hex, size_t *len)
{
	uint8_t *b;

	*len = strlen(hex) / 2;
	b = malloc(*len);
	assert_non_null(b);
	assert_int_equal(ecs_hex_decode(hex, b, *len), 0);
	return b;
}

static void test_sdk_put_row(void **state)
{
	size_t len;
	uint8_t *b = unhex(PUT_HEX, &len);
	struct ots_row r;
	struct ecs_buf out = { 0 };

	(void)state;
	assert_int_equal(ots_pb_decode_row(b, len, &r), 0);
	assert_int_equal(r.n_pk, 3);
	assert_true(ots_name_eq(&r.pk[0], "uid"));
	assert_int_equal(r.pk[0].v.type, OTS_VT_INTEGER);
	assert_int_equal(r.pk[0].v.i, -5);
	assert_int_equal(r.pk[1].v.type, OTS_VT_STRING);
	assert_memory_equal(r.pk[1].v.p, "ab", 2);
	assert_int_equal(r.pk[2].v.type, OTS_VT_BLOB);
	assert_int_equal(r.pk[2].v.len, 3);
	assert_int_equal(r.n_cols, 5);
	assert_int_equal(r.cols[1].v.i, 7);
	assert_true(r.cols[2].v.d == 1.5);
	assert_int_equal(r.cols[3].v.type, OTS_VT_BOOLEAN);
	assert_int_equal(r.cols[3].v.i, 1);
	assert_true(r.cols[4].has_ts);
	assert_int_equal(r.cols[4].ts, 1700000000000);
	assert_false(r.cols[0].has_ts);
	/* encoding what was decoded gives the SDK's bytes back */
	assert_int_equal(ots_pb_put_header(&out, SIZE_MAX), 0);
	assert_int_equal(ots_pb_put_row(&out, &r, SIZE_MAX), 0);
	assert_int_equal(out.len, len);
	assert_memory_equal(out.data, b, len);
	ecs_buf_free(&out);
	ots_row_clear(&r);
	free(b);
}

static void test_sdk_update_delete_inf(void **state)
{
	size_t len;
	uint8_t *b = unhex(UPD_HEX, &len);
	struct ots_row r;

	(void)state;
	assert_int_equal(ots_pb_decode_row(b, len, &r), 0);
	assert_int_equal(r.n_cols, 3);
	assert_int_equal(r.cols[0].op, OTS_OP_PUT);
	assert_int_equal(r.cols[1].op, OTS_OP_DELETE_ONE);
	assert_int_equal(r.cols[1].ts, 1700000000000);
	assert_false(r.cols[1].has_value);
	assert_int_equal(r.cols[2].op, OTS_OP_DELETE_ALL);
	ots_row_clear(&r);
	free(b);
	b = unhex(DEL_HEX, &len);
	assert_int_equal(ots_pb_decode_row(b, len, &r), 0);
	assert_true(r.delete_marker);
	ots_row_clear(&r);
	free(b);
	b = unhex(INF_HEX, &len);
	assert_int_equal(ots_pb_decode_row(b, len, &r), 0);
	assert_int_equal(r.pk[0].v.type, OTS_VT_INF_MIN);
	assert_int_equal(r.pk[1].v.type, OTS_VT_INF_MAX);
	ots_row_clear(&r);
	free(b);
}

/* Any single flipped bit, and any truncation, is refused (and never crashes). */
static void test_corruption_refused(void **state)
{
	size_t len;
	uint8_t *b = unhex(PUT_HEX, &len);
	struct ots_row r;
	size_t badcrc = 0;

	(void)state;
	for (size_t i = 0; i < len; i++)
		for (int bit = 0; bit < 8; bit++) {
			int rc;

			b[i] ^= (uint8_t)(1 << bit);
			rc = ots_pb_decode_row(b, len, &r);
			b[i] ^= (uint8_t)(1 << bit);
			if (rc == 0) {
				/* a flip in a value's payload that leaves every checksum intact cannot
				 * happen: the cell checksum covers every payload byte */
				ots_row_clear(&r);
				fail_msg("flip at byte %zu bit %d accepted", i, bit);
			}
			assert_true(rc == -EINVAL || rc == -EBADMSG);
			badcrc += rc == -EBADMSG;
		}
	assert_true(badcrc > 0);
	for (size_t n = 0; n < len; n++)
		assert_int_not_equal(ots_pb_decode_row(b, n, &r), 0);
	/* the checksum byte itself */
	b[len - 1] ^= 0xff;
	assert_int_equal(ots_pb_decode_row(b, len, &r), -EBADMSG);
	free(b);
}

static void test_round_trip_rows(void **state)
{
	struct ots_cell pk[2] = {
		{ .name = "k", .name_len = 1, .has_value = true, .v = { .type = OTS_VT_BLOB, .p = (const uint8_t *)"", .len = 0 } },
		{ .name = "n", .name_len = 1, .has_value = true, .v = { .type = OTS_VT_INTEGER, .i = INT64_MIN } },
	};
	struct ots_cell cols[2] = {
		{ .name = "a", .name_len = 1, .has_value = true, .v = { .type = OTS_VT_DOUBLE, .d = -0.25 }, .has_ts = true, .ts = 5 },
		{ .name = "b", .name_len = 1, .has_value = true, .v = { .type = OTS_VT_STRING, .p = (const uint8_t *)"\0x", .len = 2 } },
	};
	struct ots_row in = { .pk = pk, .n_pk = 2, .cols = cols, .n_cols = 2 }, *rows = NULL;
	struct ecs_buf b = { 0 };
	size_t n = 0;

	(void)state;
	assert_int_equal(ots_pb_put_header(&b, SIZE_MAX), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ots_pb_put_row(&b, &in, SIZE_MAX), 0);
	assert_int_equal(ots_pb_decode_rows(b.data, b.len, &rows, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(rows[2].pk[1].v.i, INT64_MIN);
	assert_int_equal(rows[2].pk[0].v.len, 0);
	assert_true(rows[1].cols[0].v.d == -0.25);
	assert_int_equal(rows[1].cols[0].ts, 5);
	assert_memory_equal(rows[0].cols[1].v.p, "\0x", 2);
	ots_rows_free(rows, n);
	/* a bound is kept: -EFBIG, not a longer buffer */
	ecs_buf_free(&b);
	assert_int_equal(ots_pb_put_row(&b, &in, 10), -EFBIG);
	ecs_buf_free(&b);
}

static char *enc(const struct ots_schema *s, uint8_t type, int64_t i, const char *p, size_t len, bool end)
{
	struct ots_cell c = { .name = "k", .name_len = 1, .has_value = true, .v = { .type = type, .i = i, .p = (const uint8_t *)p, .len = (uint32_t)len } };
	char *k = NULL;

	assert_int_equal(ots_key_encode(s, &c, 1, end, &k), 0);
	return k;
}

static void test_key_order(void **state)
{
	struct ots_schema si = { .n = 1, .col = { { "k", OTS_VT_INTEGER } } };
	struct ots_schema ss = { .n = 1, .col = { { "k", OTS_VT_BLOB } } };
	static const int64_t ints[] = { INT64_MIN, -1000, -1, 0, 1, 255, 256, INT64_MAX };
	static const struct {
		const char *p;
		size_t len;
	} strs[] = { { "", 0 }, { "\0", 1 }, { "\0\0", 2 }, { "\1", 1 }, { "\1\xff", 2 }, { "a", 1 }, { "a\0", 2 },
		     { "ab", 2 }, { "b", 1 }, { "\xfe", 1 }, { "\xfe\0", 2 }, { "\xff", 1 }, { "\xff\xff", 2 } };
	char *prev = NULL, *inf;

	(void)state;
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		char *k = enc(&si, OTS_VT_INTEGER, ints[i], NULL, 0, true);

		if (prev)
			assert_true(strcmp(prev, k) < 0);
		free(prev);
		prev = k;
	}
	free(prev);
	prev = NULL;
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		char *k = enc(&ss, OTS_VT_BLOB, 0, strs[i].p, strs[i].len, true);

		assert_null(strchr(k, (char)0xff));
		if (prev)
			assert_true(strcmp(prev, k) < 0);
		free(prev);
		prev = k;
	}
	/* INF_MAX sorts after every key, INF_MIN before */
	inf = enc(&ss, OTS_VT_INF_MAX, 0, NULL, 0, true);
	assert_true(strcmp(prev, inf) < 0);
	free(inf);
	inf = enc(&ss, OTS_VT_INF_MIN, 0, NULL, 0, true);
	assert_string_equal(inf, "");
	free(inf);
	free(prev);
}

/* An index's keys: its prefix first, INF_MIN the prefix alone, INF_MAX past every row of
 * the index and before any other index's or a table's transaction keys of a later name. */
static void test_index_key_prefix(void **state)
{
	struct ots_schema s = { .n = 1, .col = { { "k", OTS_VT_STRING } }, .prefix = "\xffIab." };
	struct ots_schema other = { .n = 1, .col = { { "k", OTS_VT_STRING } }, .prefix = "\xffIab_c." };
	struct ots_schema table = { .n = 1, .col = { { "k", OTS_VT_BLOB } } };
	char *lo = enc(&s, OTS_VT_INF_MIN, 0, NULL, 0, false), *hi = enc(&s, OTS_VT_INF_MAX, 0, NULL, 0, false);
	char *row = enc(&s, OTS_VT_STRING, 0, "zz", 2, true), *o = enc(&other, OTS_VT_STRING, 0, "", 0, true);
	char *t = enc(&table, OTS_VT_BLOB, 0, "\xff\xff", 2, true);

	(void)state;
	assert_string_equal(lo, "\xffIab.");
	assert_memory_equal(row, "\xffIab.zz\x01\x01.", 9);
	assert_true(strcmp(lo, row) < 0 && strcmp(row, hi) < 0);
	assert_true(strcmp(o, lo) < 0 || strcmp(o, hi) > 0); /* another index is outside the range */
	assert_true(strcmp(t, lo) < 0);			      /* so is every row of a table */
	free(lo);
	free(hi);
	free(row);
	free(o);
	free(t);
}

static void test_key_check(void **state)
{
	struct ots_schema s = { .n = 2, .col = { { "a", OTS_VT_INTEGER }, { "b", OTS_VT_STRING } } };
	struct ots_cell pk[2] = {
		{ .name = "a", .name_len = 1, .has_value = true, .v = { .type = OTS_VT_INTEGER } },
		{ .name = "b", .name_len = 1, .has_value = true, .v = { .type = OTS_VT_STRING, .p = (const uint8_t *)"x", .len = 1 } },
	};
	char big[OTS_PK_VALUE_MAX + 1];
	const char *msg;

	(void)state;
	assert_int_equal(ots_key_check(&s, pk, 2, OTS_KEY_ROW, &msg), 0);
	assert_int_equal(ots_key_check(&s, pk, 1, OTS_KEY_ROW, &msg), -EINVAL);
	pk[1].v.type = OTS_VT_INF_MAX;
	assert_int_equal(ots_key_check(&s, pk, 2, OTS_KEY_ROW, &msg), -EINVAL);
	assert_int_equal(ots_key_check(&s, pk, 2, OTS_KEY_BOUND, &msg), 0);
	pk[1].v.type = OTS_VT_BLOB;
	assert_int_equal(ots_key_check(&s, pk, 2, OTS_KEY_ROW, &msg), -EINVAL);
	memset(big, 'x', sizeof(big));
	pk[1].v = (struct ots_value){ .type = OTS_VT_STRING, .p = (const uint8_t *)big, .len = sizeof(big) };
	assert_int_equal(ots_key_check(&s, pk, 2, OTS_KEY_ROW, &msg), -EINVAL);
	pk[1].v.len = OTS_PK_VALUE_MAX;
	assert_int_equal(ots_key_check(&s, pk, 2, OTS_KEY_ROW, &msg), 0);
	pk[1].v = (struct ots_value){ .type = OTS_VT_STRING, .p = (const uint8_t *)"\xc3", .len = 1 };
	assert_int_equal(ots_key_check(&s, pk, 2, OTS_KEY_ROW, &msg), -EINVAL);
	pk[1].name = "c";
	pk[1].v.p = (const uint8_t *)"x";
	assert_int_equal(ots_key_check(&s, pk, 2, OTS_KEY_ROW, &msg), -EINVAL);
	assert_true(ots_name_valid("_a9", 3));
	assert_false(ots_name_valid("9a", 2));
	assert_false(ots_name_valid("a-b", 3));
	assert_false(ots_name_valid("", 0));
}

UNIT_MAIN("ots_plainbuf", NULL, NULL, NULL, NULL,
	  cmocka_unit_test(test_sdk_put_row),	    cmocka_unit_test(test_sdk_update_delete_inf),
	  cmocka_unit_test(test_corruption_refused), cmocka_unit_test(test_round_trip_rows),
	  cmocka_unit_test(test_key_order),	    cmocka_unit_test(test_key_check),
	  cmocka_unit_test(test_index_key_prefix))
