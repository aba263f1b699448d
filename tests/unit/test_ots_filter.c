/* Tests for storage/ots/filter.c: column conditions and filters parsed from the SDKs' Filter
 * messages (malformed ones and the 32-condition limit refused) and evaluated on a row's
 * cells: comparators, missing columns, latest version only, types, NOT/AND/OR, paging. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"
#include "filter.h"
#include "ots.pb-c.h"

/* A packed message into buf (caller frees data). */
static ProtobufCBinaryData pack(const ProtobufCMessage *m)
{
	ProtobufCBinaryData b = { .len = protobuf_c_message_get_packed_size(m) };

	b.data = malloc(b.len ? b.len : 1);
	assert_non_null(b.data);
	protobuf_c_message_pack(m, b.data);
	return b;
}

/* A Filter of type around a packed inner message (freed). */
static ProtobufCBinaryData wrap(Ots__FilterType type, ProtobufCBinaryData inner)
{
	Ots__Filter f = OTS__FILTER__INIT;
	ProtobufCBinaryData out;

	f.type = type;
	f.filter = inner;
	out = pack(&f.base);
	free(inner.data);
	return out;
}

/* An integer PlainBuffer value: type byte, 8 bytes little endian. */
static uint8_t int_value[9];

static ProtobufCBinaryData single(const char *col, int64_t v, Ots__ComparatorType cmp, bool filter_if_missing,
				  bool latest)
{
	Ots__SingleColumnValueFilter s = OTS__SINGLE_COLUMN_VALUE_FILTER__INIT;

	int_value[0] = 0; /* INTEGER */
	for (int i = 0; i < 8; i++)
		int_value[1 + i] = (uint8_t)((uint64_t)v >> (8 * i));
	s.comparator = cmp;
	s.column_name = (char *)col;
	s.column_value.data = int_value;
	s.column_value.len = sizeof(int_value);
	s.filter_if_missing = filter_if_missing;
	s.latest_version_only = latest;
	return wrap(OTS__FILTER_TYPE__FT_SINGLE_COLUMN_VALUE, pack(&s.base));
}

static ProtobufCBinaryData composite(Ots__LogicalOperator op, ProtobufCBinaryData *subs, size_t n)
{
	Ots__CompositeColumnValueFilter c = OTS__COMPOSITE_COLUMN_VALUE_FILTER__INIT;
	Ots__Filter **sf = calloc(n, sizeof(*sf));
	ProtobufCBinaryData out;

	assert_non_null(sf);
	for (size_t i = 0; i < n; i++) {
		sf[i] = ots__filter__unpack(NULL, subs[i].len, subs[i].data);
		assert_non_null(sf[i]);
	}
	c.combinator = op;
	c.sub_filters = sf;
	c.n_sub_filters = n;
	out = wrap(OTS__FILTER_TYPE__FT_COMPOSITE_COLUMN_VALUE, pack(&c.base));
	for (size_t i = 0; i < n; i++) {
		ots__filter__free_unpacked(sf[i], NULL);
		free(subs[i].data);
	}
	free(sf);
	return out;
}

#define CELL(n, val) { .name = n, .name_len = sizeof(n) - 1, .has_value = true, .v = { .type = OTS_VT_INTEGER, .i = val } }

/* a: 5 (newest) and 3; b: 7 */
static struct ots_cell cells[] = { CELL("a", 5), CELL("a", 3), CELL("b", 7) };
static const struct ots_row row = { .cols = cells, .n_cols = 3 };

static bool matches(ProtobufCBinaryData b)
{
	struct ots_filter *f = NULL;
	const char *msg = NULL;
	bool m;

	assert_int_equal(ots_filter_parse(b.data, b.len, false, &f, &msg), 0);
	m = ots_filter_match(f, &row);
	ots_filter_free(f);
	free(b.data);
	return m;
}

static int parse_error(ProtobufCBinaryData b, bool paging)
{
	struct ots_filter *f = NULL;
	const char *msg = NULL;
	int r = ots_filter_parse(b.data, b.len, paging, &f, &msg);

	ots_filter_free(f);
	free(b.data);
	if (r < 0)
		assert_non_null(msg);
	return r;
}

static void test_single(void **state)
{
	(void)state;
	assert_true(matches(single("a", 5, OTS__COMPARATOR_TYPE__CT_EQUAL, false, true)));
	assert_false(matches(single("a", 3, OTS__COMPARATOR_TYPE__CT_EQUAL, false, true)));
	assert_true(matches(single("a", 3, OTS__COMPARATOR_TYPE__CT_EQUAL, false, false))); /* any version */
	assert_true(matches(single("b", 6, OTS__COMPARATOR_TYPE__CT_GREATER_THAN, false, true)));
	assert_false(matches(single("b", 7, OTS__COMPARATOR_TYPE__CT_LESS_THAN, false, true)));
	assert_true(matches(single("b", 7, OTS__COMPARATOR_TYPE__CT_LESS_EQUAL, false, true)));
	assert_true(matches(single("b", 8, OTS__COMPARATOR_TYPE__CT_NOT_EQUAL, false, true)));
	/* a missing column passes unless filter_if_missing */
	assert_true(matches(single("zz", 1, OTS__COMPARATOR_TYPE__CT_EQUAL, false, true)));
	assert_false(matches(single("zz", 1, OTS__COMPARATOR_TYPE__CT_EQUAL, true, true)));
}

static void test_composite(void **state)
{
	ProtobufCBinaryData two[2], one[1], inner[2];

	(void)state;
	two[0] = single("a", 5, OTS__COMPARATOR_TYPE__CT_EQUAL, true, true);
	two[1] = single("b", 9, OTS__COMPARATOR_TYPE__CT_EQUAL, true, true);
	assert_false(matches(composite(OTS__LOGICAL_OPERATOR__LO_AND, two, 2)));
	two[0] = single("a", 5, OTS__COMPARATOR_TYPE__CT_EQUAL, true, true);
	two[1] = single("b", 9, OTS__COMPARATOR_TYPE__CT_EQUAL, true, true);
	assert_true(matches(composite(OTS__LOGICAL_OPERATOR__LO_OR, two, 2)));
	one[0] = single("b", 9, OTS__COMPARATOR_TYPE__CT_EQUAL, true, true);
	inner[0] = composite(OTS__LOGICAL_OPERATOR__LO_NOT, one, 1);
	inner[1] = single("a", 5, OTS__COMPARATOR_TYPE__CT_EQUAL, true, true);
	assert_true(matches(composite(OTS__LOGICAL_OPERATOR__LO_AND, inner, 2)));
	/* NOT of two is refused */
	two[0] = single("a", 5, OTS__COMPARATOR_TYPE__CT_EQUAL, true, true);
	two[1] = single("b", 9, OTS__COMPARATOR_TYPE__CT_EQUAL, true, true);
	assert_int_equal(parse_error(composite(OTS__LOGICAL_OPERATOR__LO_NOT, two, 2), false), -EINVAL);
}

static void test_limit_and_malformed(void **state)
{
	ProtobufCBinaryData subs[OTS_FILTER_NODES_MAX];
	Ots__ColumnPaginationFilter p = OTS__COLUMN_PAGINATION_FILTER__INIT;
	Ots__Filter f = OTS__FILTER__INIT;
	ProtobufCBinaryData inner;
	uint8_t junk[] = { 0xff, 0xff, 0xff };
	struct ots_filter *flt = NULL;
	const char *msg = NULL;
	int32_t off, lim;

	(void)state;
	/* 31 conditions under one AND: 32 nodes, the limit */
	for (size_t i = 0; i < OTS_FILTER_NODES_MAX - 1; i++)
		subs[i] = single("a", 5, OTS__COMPARATOR_TYPE__CT_EQUAL, true, true);
	assert_true(matches(composite(OTS__LOGICAL_OPERATOR__LO_AND, subs, OTS_FILTER_NODES_MAX - 1)));
	for (size_t i = 0; i < OTS_FILTER_NODES_MAX; i++)
		subs[i] = single("a", 5, OTS__COMPARATOR_TYPE__CT_EQUAL, true, true);
	assert_int_equal(parse_error(composite(OTS__LOGICAL_OPERATOR__LO_AND, subs, OTS_FILTER_NODES_MAX), false),
			 -EINVAL);
	assert_int_equal(ots_filter_parse(junk, sizeof(junk), true, &flt, &msg), -EINVAL);
	/* column paging: reads only */
	p.offset = 1;
	p.limit = 2;
	inner = pack(&p.base);
	f.type = OTS__FILTER_TYPE__FT_COLUMN_PAGINATION;
	f.filter = inner;
	assert_int_equal(parse_error(pack(&f.base), false), -EINVAL);
	{
		ProtobufCBinaryData b = pack(&f.base);

		assert_int_equal(ots_filter_parse(b.data, b.len, true, &flt, &msg), 0);
		assert_true(ots_filter_paging(flt, &off, &lim));
		assert_int_equal(off, 1);
		assert_int_equal(lim, 2);
		assert_true(ots_filter_match(flt, &row));
		ots_filter_free(flt);
		free(b.data);
	}
	free(inner.data);
}

UNIT_MAIN("ots_filter", NULL, NULL, NULL, NULL,
	  cmocka_unit_test(test_single),
	  cmocka_unit_test(test_composite),
	  cmocka_unit_test(test_limit_and_malformed))
