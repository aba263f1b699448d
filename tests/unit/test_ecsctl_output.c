/* Tests for ecsctl/output.c and what the list verbs print: value paths, tables (aligned,
 * UTF-8, "-" for empty, control characters shown as '?'), FIELD/VALUE objects, text and
 * JSON, against golden files tests/unit/golden/ecsctl_*.txt; paging through every page. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"
#include "golden.h"
#include "output.h"
#include "test_ecsctl_fake.h"

static const char fixture[] =
	"[{\"InstanceId\":\"i-aaaa\",\"InstanceName\":\"web\",\"Status\":\"Running\",\"Cpu\":1,\"IoOptimized\":true,"
	"\"InnerIpAddress\":{\"IpAddress\":[\"10.0.0.2\",\"10.0.0.3\"]},\"PublicIpAddress\":{\"IpAddress\":[]},"
	"\"VpcAttributes\":{\"VpcId\":\"\",\"PrivateIpAddress\":{\"IpAddress\":[]}},"
	"\"Tags\":{\"Tag\":[{\"TagKey\":\"env\",\"TagValue\":\"prod\"},{\"TagKey\":\"team\",\"TagValue\":\"a\"}]},"
	"\"HostId\":\"host-1\"},"
	"{\"InstanceId\":\"i-bbbbbbbbbbbb\",\"InstanceName\":\"\xe6\x95\xb0\xe6\x8d\xae\xe5\xba\x93\","
	"\"Status\":\"Stopped\","
	"\"Cpu\":2,\"IoOptimized\":false,\"InnerIpAddress\":{\"IpAddress\":[]},"
	"\"VpcAttributes\":{\"VpcId\":\"vpc-1\",\"PrivateIpAddress\":{\"IpAddress\":[\"192.168.0.9\"]}}},"
	"{\"InstanceId\":\"i-cc\",\"InstanceName\":\"evil\\u001b[2Jname\",\"Status\":\"Pending\",\"Cpu\":null}]";

static const struct ecsctl_column cols[] = {
	{ "ID", "InstanceId" },
	{ "NAME", "InstanceName" },
	{ "STATUS", "Status" },
	{ "CPU", "Cpu" },
	{ "IP", "InnerIpAddress.IpAddress|VpcAttributes.PrivateIpAddress.IpAddress|PublicIpAddress.IpAddress" },
	{ "TAGS", "Tags" },
	{ "HOST", "HostId" },
};

static struct json_object *rows;

static int setup(void **state)
{
	const char *err;

	(void)state;
	if (ecs_json_parse(fixture, strlen(fixture), &rows, &err) < 0)
		return -1;
	return fake_group_setup(state);
}

static int teardown(void **state)
{
	json_object_put(rows);
	return fake_group_teardown(state);
}

#define CAPTURE(var, stmt)                                \
	do {                                              \
		size_t _size = 0;                         \
		FILE *f = open_memstream(&(var), &_size); \
		stmt;                                     \
		fclose(f);                                \
	} while (0)

static void test_field_text(void **state)
{
	struct json_object *a = json_object_array_get_idx(rows, 0), *b = json_object_array_get_idx(rows, 1);
	static const struct {
		int row;
		const char *path;
		const char *want;
	} cases[] = {
		{ 0, "InstanceId", "i-aaaa" },
		{ 0, "Cpu", "1" },
		{ 0, "IoOptimized", "true" },
		{ 0, "InnerIpAddress.IpAddress", "10.0.0.2,10.0.0.3" },
		{ 0, "InnerIpAddress", "10.0.0.2,10.0.0.3" }, /* a wrapped list reads as its items */
		{ 0, "PublicIpAddress.IpAddress|InnerIpAddress.IpAddress", "10.0.0.2,10.0.0.3" },
		{ 0, "Tags", "env=prod,team=a" },
		{ 0, "Nothing", "" },
		{ 0, "Nothing.Deeper", "" },
		{ 0, "InstanceId.Deeper", "" },
		{ 1, "InnerIpAddress.IpAddress|VpcAttributes.PrivateIpAddress.IpAddress", "192.168.0.9" },
		{ 1, "VpcAttributes", "{\"VpcId\":\"vpc-1\",\"PrivateIpAddress\":{\"IpAddress\":[\"192.168.0.9\"]}}" },
		{ 1, "IoOptimized", "false" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *s = ecsctl_field_text(cases[i].row ? b : a, cases[i].path);

		assert_non_null(s);
		if (!streq(s, cases[i].want))
			fail_msg("%s: \"%s\", want \"%s\"", cases[i].path, s, cases[i].want);
	}
}

static void test_table(void **state)
{
	char *out = NULL;

	(void)state;
	CAPTURE(out, assert_int_equal(ecsctl_print_table(f, cols, ARRAY_SIZE(cols), rows), 0));
	assert_null(strchr(out, '\033'));
	assert_golden("ecsctl_table.txt", out);
	free(out);
	/* No rows: the header alone. */
	{
		struct json_object *empty = json_object_new_array();

		CAPTURE(out, assert_int_equal(ecsctl_print_table(f, cols, ARRAY_SIZE(cols), empty), 0));
		assert_string_equal(out, "ID  NAME  STATUS  CPU  IP  TAGS  HOST\n");
		free(out);
		json_object_put(empty);
	}
	CAPTURE(out, assert_int_equal(ecsctl_print_ids(f, rows, "InstanceId"), 0));
	assert_string_equal(out, "i-aaaa\ni-bbbbbbbbbbbb\ni-cc\n");
	free(out);
}

static void test_object(void **state)
{
	struct json_object *a = json_object_array_get_idx(rows, 0);
	char *out = NULL;

	(void)state;
	CAPTURE(out, assert_int_equal(ecsctl_print_object(f, ECSCTL_OUTPUT_TABLE, a), 0));
	assert_golden("ecsctl_object_table.txt", out);
	free(out);
	CAPTURE(out, assert_int_equal(ecsctl_print_object(f, ECSCTL_OUTPUT_TEXT, a), 0));
	assert_golden("ecsctl_object_text.txt", out);
	free(out);
	CAPTURE(out, assert_int_equal(ecsctl_print_object(f, ECSCTL_OUTPUT_JSON, a), 0));
	assert_golden("ecsctl_object_json.txt", out);
	free(out);
}

static void test_progress(void **state)
{
	struct ecsctl_progress p = { .enabled = false };
	char *out = NULL;

	(void)state;
	CAPTURE(out, {
		p.f = f;
		ecsctl_progress_update(&p, "waiting %d", 1);
		ecsctl_progress_done(&p);
	});
	assert_string_equal(out, "");
	free(out);
	p.enabled = true;
	CAPTURE(out, {
		p.f = f;
		ecsctl_progress_update(&p, "waiting %d", 1);
		ecsctl_progress_update(&p, "waiting %s", "\033x");
		ecsctl_progress_done(&p);
	});
	assert_string_equal(out, "\r\033[Kwaiting 1\r\033[Kwaiting ?x\r\033[K");
	free(out);
}

/* What the verbs print, from the fake's instances and snapshots. */
static void test_verbs_output(void **state)
{
	static const struct {
		const char *argv;
		const char *golden;
	} cases[] = {
		{ "ls -o table", "ecsctl_ls_table.txt" },
		{ "ls -o text", "ecsctl_ls_text.txt" },
		{ "ls -o json", "ecsctl_ls_json.txt" },
		{ "show i-fake2 -o table", "ecsctl_show_table.txt" },
		{ "show i-fake2 -o json", "ecsctl_show_json.txt" },
		{ "snapshot ls", "ecsctl_snapshot_ls_table.txt" },
		{ "run --image tiny --type ecs.t1.small -o json", "ecsctl_run_json.txt" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct run_result res;

		fake_reset();
		fake_add_instance("i-fake1", "Running");
		fake_add_instance("i-fake2", "Stopped");
		fake_add_snapshot("s-1", "d-1", "accomplished", "2026-11-20T03:00:00Z", "none");
		fake_add_snapshot("s-2", "d-1", "progressing", "2026-11-21T03:00:00Z", "image");
		fake.next_id = 2;
		res = run_ecsctl(cases[i].argv, true); /* a terminal: the default would be table */
		assert_int_equal(res.status, 0);
		assert_golden(cases[i].golden, res.out);
		run_result_clear(&res);
	}
}

/* The default output: table on a terminal, text in a pipe. */
static void test_default_output(void **state)
{
	struct run_result res;

	(void)state;
	fake_reset();
	fake_add_instance("i-fake1", "Running");
	res = run_ecsctl("ls", false);
	assert_string_equal(res.out, "i-fake1\n");
	run_result_clear(&res);
	res = run_ecsctl("ls", true);
	assert_true(str_has_prefix(res.out, "ID "));
	run_result_clear(&res);
}

/* ls reads every page (100 a page) and stops at TotalCount. */
static void test_paging(void **state)
{
	struct run_result res;
	_cleanup_free_ char *log = NULL;
	size_t lines = 0;
	char id[32];

	(void)state;
	fake_reset();
	for (int i = 0; i < 250; i++) {
		snprintf(id, sizeof(id), "i-%03d", i);
		fake_add_instance(id, "Running");
	}
	res = run_ecsctl("ls", false);
	assert_int_equal(res.status, 0);
	for (const char *p = res.out; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 250);
	assert_true(str_has_prefix(res.out, "i-000\ni-001\n"));
	assert_non_null(strstr(res.out, "i-249\n"));
	log = fake_log();
	assert_string_equal(log, "DescribeInstances PageNumber=1 PageSize=100\n"
				 "DescribeInstances PageNumber=2 PageSize=100\n"
				 "DescribeInstances PageNumber=3 PageSize=100\n");
	run_result_clear(&res);

	/* Exactly a page: stops when TotalCount is reached, no empty extra page. */
	fake_reset();
	for (int i = 0; i < 100; i++) {
		snprintf(id, sizeof(id), "i-%03d", i);
		fake_add_instance(id, "Running");
	}
	res = run_ecsctl("ls", false);
	free(log);
	log = fake_log();
	assert_string_equal(log, "DescribeInstances PageNumber=1 PageSize=100\n");
	run_result_clear(&res);
}

UNIT_MAIN("ecsctl_output", NULL, NULL, setup, teardown,
	  cmocka_unit_test(test_field_text),
	  cmocka_unit_test(test_table),
	  cmocka_unit_test(test_object),
	  cmocka_unit_test(test_progress),
	  cmocka_unit_test(test_verbs_output),
	  cmocka_unit_test(test_default_output),
	  cmocka_unit_test(test_paging))
