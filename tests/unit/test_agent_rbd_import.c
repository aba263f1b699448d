/* Tests for agent/rbd_import.c's reading of `qemu-img map --output=json`: data extents kept
 * with their file offsets (contiguous ones merged), zeros and holes left out, the virtual
 * size from the last extent; compressed clusters, a backing file or a missing offset refuse
 * the direct path (-ENOTSUP); gaps or bad JSON are errors (-EIO). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"
#include "rbd_import.h"

static int parse(const char *json, struct agent_disk_map *m)
{
	return agent_disk_map_parse(json, strlen(json), m);
}

static void test_qcow2_map(void **state)
{
	struct agent_disk_map m;
	(void)state;
	/* As qemu-img 7.2 prints the tiny image's map (abridged). */
	const char *json =
		"[{ \"start\": 0, \"length\": 327680, \"depth\": 0, \"present\": true, \"zero\": false, \"data\": true,"
		" \"offset\": 327680},\n"
		"{ \"start\": 327680, \"length\": 851968, \"depth\": 0, \"present\": false, \"zero\": true, \"data\": false},\n"
		"{ \"start\": 1179648, \"length\": 65536, \"depth\": 0, \"present\": true, \"zero\": false, \"data\": true,"
		" \"offset\": 655360},\n"
		"{ \"start\": 1245184, \"length\": 65536, \"depth\": 0, \"present\": true, \"zero\": false, \"data\": true,"
		" \"offset\": 720896},\n"
		"{ \"start\": 1310720, \"length\": 65536, \"depth\": 0, \"present\": true, \"zero\": true, \"data\": true,"
		" \"offset\": 786432},\n"
		"{ \"start\": 1376256, \"length\": 65732608, \"depth\": 0, \"present\": false, \"zero\": true,"
		" \"data\": false}]";

	assert_int_equal(parse(json, &m), 0);
	assert_int_equal(m.vsize, 64u << 20);
	assert_int_equal(m.n, 2);
	assert_int_equal(m.data[0].start, 0);
	assert_int_equal(m.data[0].length, 327680);
	assert_int_equal(m.data[0].offset, 327680);
	/* Two extents contiguous in the disk and in the file are one. */
	assert_int_equal(m.data[1].start, 1179648);
	assert_int_equal(m.data[1].length, 131072);
	assert_int_equal(m.data[1].offset, 655360);
	agent_disk_map_clear(&m);
}

static void test_raw_and_empty(void **state)
{
	struct agent_disk_map m;
	(void)state;

	assert_int_equal(parse("[{\"start\": 0, \"length\": 4096, \"depth\": 0, \"zero\": false, \"data\": true,"
			       " \"offset\": 0}]", &m), 0);
	assert_int_equal(m.vsize, 4096);
	assert_int_equal(m.n, 1);
	agent_disk_map_clear(&m);
	assert_int_equal(parse("[]", &m), 0);
	assert_int_equal(m.vsize, 0);
	assert_int_equal(m.n, 0);
	agent_disk_map_clear(&m);
}

static void test_not_in_place(void **state)
{
	struct agent_disk_map m;
	(void)state;

	/* Compressed (no offset), flagged compressed, from a backing file. */
	assert_int_equal(parse("[{\"start\": 0, \"length\": 65536, \"depth\": 0, \"zero\": false, \"data\": true}]", &m),
			 -ENOTSUP);
	assert_int_equal(parse("[{\"start\": 0, \"length\": 65536, \"depth\": 0, \"zero\": false, \"data\": true,"
			       " \"compressed\": true, \"offset\": 0}]", &m), -ENOTSUP);
	assert_int_equal(parse("[{\"start\": 0, \"length\": 65536, \"depth\": 1, \"zero\": false, \"data\": true,"
			       " \"offset\": 0}]", &m), -ENOTSUP);
	assert_null(m.data);
}

static void test_malformed(void **state)
{
	struct agent_disk_map m;
	(void)state;

	assert_int_equal(parse("{}", &m), -EIO);
	assert_int_equal(parse("not json", &m), -EIO);
	/* A gap between extents, a missing length, a negative start. */
	assert_int_equal(parse("[{\"start\": 0, \"length\": 10, \"data\": false},"
			       " {\"start\": 20, \"length\": 10, \"data\": false}]", &m), -EIO);
	assert_int_equal(parse("[{\"start\": 0, \"data\": false}]", &m), -EIO);
	assert_int_equal(parse("[{\"start\": -1, \"length\": 10, \"data\": false}]", &m), -EIO);
	assert_int_equal(parse("[{\"start\": 0, \"length\": 10, \"data\": true, \"offset\": -5}]", &m), -ENOTSUP);
	assert_null(m.data);
}

UNIT_MAIN("agent_rbd_import", NULL, NULL, NULL, NULL,
	  cmocka_unit_test(test_qcow2_map),
	  cmocka_unit_test(test_raw_and_empty),
	  cmocka_unit_test(test_not_in_place),
	  cmocka_unit_test(test_malformed))
