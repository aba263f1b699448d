/* Tests for lib/log.c: format, levels, the per-thread request id, quoting. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"
#include "log.h"
#include "util.h"

static char *buf;
static size_t size;
static FILE *mem;

static int setup(void **state)
{
	(void)state;
	mem = open_memstream(&buf, &size);
	ecs_log_set_output(mem);
	ecs_log_set_level(ECS_LOG_INFO);
	ecs_log_set_component("test");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ecs_log_set_output(NULL);
	fclose(mem);
	free(buf);
	buf = NULL;
	ecs_log_set_request_id(NULL);
	return 0;
}

static void test_format_and_fields(void **state)
{
	(void)state;
	log_info("instance started", "id=%s vcpus=%d", "i-abc", 2);
	fflush(mem);
	assert_true(str_has_prefix(buf, "ts="));
	assert_non_null(strstr(buf, "Z level=info comp=test msg=\"instance started\" id=i-abc vcpus=2\n"));
	assert_null(strstr(buf, "rid="));
}

static void test_levels(void **state)
{
	(void)state;
	log_debug("hidden", NULL);
	fflush(mem);
	assert_int_equal(size, 0);
	ecs_log_set_level(ECS_LOG_DEBUG);
	log_debug("shown", NULL);
	fflush(mem);
	assert_non_null(strstr(buf, "level=debug"));
	enum ecs_log_level l;
	assert_int_equal(ecs_log_level_from_string("WARN", &l), 0);
	assert_int_equal(l, ECS_LOG_WARN);
	assert_true(ecs_log_level_from_string("loud", &l) < 0);
}

static void *other_thread(void *arg)
{
	(void)arg;
	/* A thread has its own request id: none here. */
	log_info("from thread", NULL);
	return NULL;
}

static void test_request_id_per_thread(void **state)
{
	pthread_t t;
	char *first_nl;

	(void)state;
	ecs_log_set_request_id("5B3A2A3C-0000-4000-8000-000000000001");
	log_warn("with rid", NULL);
	fflush(mem);
	assert_non_null(strstr(buf, "level=warn comp=test rid=5B3A2A3C-0000-4000-8000-000000000001 msg="));
	pthread_create(&t, NULL, other_thread, NULL);
	pthread_join(t, NULL);
	fflush(mem);
	first_nl = strchr(buf, '\n');
	assert_non_null(first_nl);
	assert_null(strstr(first_nl, "rid="));
	assert_string_equal(ecs_log_get_request_id(), "5B3A2A3C-0000-4000-8000-000000000001");
}

static void test_quote(void **state)
{
	char q[32], tiny[8];

	(void)state;
	assert_string_equal(ecs_log_quote("a \"b\"\\c\nd", q, sizeof(q)), "\"a \\\"b\\\"\\\\c d\"");
	assert_string_equal(ecs_log_quote(NULL, q, sizeof(q)), "\"\"");
	ecs_log_quote("0123456789", tiny, sizeof(tiny));
	assert_int_equal(strlen(tiny), 6); /* truncated, still quoted */
	assert_int_equal(tiny[0], '"');
	assert_int_equal(tiny[5], '"');
	log_error("multi\nline", NULL);
	fflush(mem);
	assert_non_null(strstr(buf, "msg=\"multi line\"\n"));
}

UNIT_MAIN("log", setup, teardown, NULL, NULL,
	  cmocka_unit_test(test_format_and_fields),
	  cmocka_unit_test(test_levels),
	  cmocka_unit_test(test_request_id_per_thread),
	  cmocka_unit_test(test_quote))
