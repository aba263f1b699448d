/* Tests for controller/console.c's sessions (ids and CSRF tokens, the idle timeout, the
 * session limit, sign-out) and controller/metrics.c's counters (actions a client invents
 * counted as "unknown", the series limit, the histogram's buckets) as /metrics renders them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "contains.h"
#include "unit.h"
#include "console.h"
#include "ctl.h"
#include "ctl_env.h"
#include "metrics.h"

#define IDLE_S 60

static void test_sessions(void **state)
{
	struct ctl_console *s;
	char id1[CTL_CONSOLE_ID_LEN + 1], id2[CTL_CONSOLE_ID_LEN + 1], id3[CTL_CONSOLE_ID_LEN + 1];
	char csrf1[CTL_CONSOLE_ID_LEN + 1], csrf2[CTL_CONSOLE_ID_LEN + 1], csrf3[CTL_CONSOLE_ID_LEN + 1];
	char ak[64], csrf[CTL_CONSOLE_ID_LEN + 1];

	(void)state;
	assert_int_equal(ctl_console_new(IDLE_S, 2, &s), 0);
	assert_int_equal(ctl_console_session_open(s, "LTAIalice", 1000, id1, csrf1), 0);
	assert_int_equal(ctl_console_session_open(s, "LTAIbob", 2000, id2, csrf2), 0);
	assert_int_equal(strlen(id1), CTL_CONSOLE_ID_LEN);
	assert_int_equal(strspn(id1, "0123456789abcdef"), CTL_CONSOLE_ID_LEN);
	assert_string_not_equal(id1, id2);
	assert_string_not_equal(id1, csrf1);
	/* The limit: a third while both are live. */
	assert_int_equal(ctl_console_session_open(s, "LTAIcarol", 3000, id3, csrf3), -ENOSPC);
	assert_int_equal(ctl_console_session_find(s, id1, 4000, ak, csrf), 0);
	assert_string_equal(ak, "LTAIalice");
	assert_string_equal(csrf, csrf1);
	/* Unknown, truncated and empty ids find nothing. */
	assert_int_equal(ctl_console_session_find(s, "", 4000, ak, csrf), -ENOENT);
	id3[0] = '\0';
	assert_int_equal(ctl_console_session_find(s, "0123", 4000, ak, csrf), -ENOENT);
	/* Use keeps a session alive: id1 was used at 4000, id2 last at 2000. */
	assert_int_equal(ctl_console_session_find(s, id2, 2000 + IDLE_S * 1000 + 1, ak, csrf), -ENOENT);
	assert_int_equal(ctl_console_session_find(s, id1, 4000 + IDLE_S * 1000, ak, csrf), 0);
	/* id2 is gone, so there is room again. */
	assert_int_equal(ctl_console_session_open(s, "LTAIcarol", 5000, id3, csrf3), 0);
	assert_int_equal(ctl_console_session_find(s, id3, 5000, ak, csrf), 0);
	assert_string_equal(ak, "LTAIcarol");
	/* Sign-out. */
	ctl_console_session_close(s, id3);
	assert_int_equal(ctl_console_session_find(s, id3, 5000, ak, csrf), -ENOENT);
	/* Idle sessions make room for new ones. */
	assert_int_equal(ctl_console_session_open(s, "LTAIdave", 10000000, id2, csrf2), 0);
	assert_int_equal(ctl_console_session_find(s, id1, 10000000, ak, csrf), -ENOENT);
	ctl_console_free(s);
	assert_int_equal(ctl_console_sessions(NULL), 0);
}

static void test_metrics_render(void **state)
{
	struct ctl_test_env *e = *state;
	char code[32];
	char *text;

	assert_int_equal(ctl_metrics_new(&e->c.metrics), 0);
	ctl_metrics_request(e->c.metrics, "DescribeInstances", "OK", 3);
	ctl_metrics_request(e->c.metrics, "DescribeInstances", "OK", 700);
	ctl_metrics_request(e->c.metrics, "DescribeInstances", "InvalidParameter", 1);
	ctl_metrics_request(e->c.metrics, "Invented\"Action\n", "InvalidApi.NotFound", 1);
	ctl_metrics_request(e->c.metrics, NULL, "MissingParameter", 1);
	/* The series limit: 4 series so far, then as many more: the last 4 are counted unlabelled. */
	for (int i = 0; i < ECS_PROM_MAX_SERIES; i++) {
		snprintf(code, sizeof(code), "Code%d", i);
		ctl_metrics_request(e->c.metrics, "StartInstance", code, 1);
	}
	text = ctl_metrics_render(&e->c, 0);
	assert_contains(text,
			"ecs_api_requests_total{action=\"DescribeInstances\",code=\"OK\"} 2\n",
			"ecs_api_requests_total{action=\"DescribeInstances\",code=\"InvalidParameter\"} 1\n",
			"ecs_api_requests_total{action=\"unknown\",code=\"InvalidApi.NotFound\"} 1\n",
			"ecs_api_requests_total{action=\"unknown\",code=\"MissingParameter\"} 1\n",
			"ecs_api_requests_unlabelled_total 4\n",
			"ecs_api_request_duration_seconds_bucket{action=\"DescribeInstances\",le=\"0.005\"} 2\n",
			"ecs_api_request_duration_seconds_bucket{action=\"DescribeInstances\",le=\"0.5\"} 2\n",
			"ecs_api_request_duration_seconds_bucket{action=\"DescribeInstances\",le=\"1\"} 3\n",
			"ecs_api_request_duration_seconds_count{action=\"DescribeInstances\"} 3\n",
			"ecs_hosts{state=\"up\"} 0\n",
			"ecs_console_sessions 0\n");
	assert_null(strstr(text, "Invented"));
	free(text);
	ecs_prom_free(e->c.metrics);
}

static int setup(void **state)
{
	struct ctl_test_env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	ctl_test_env_open(e, "test_ctl_console");
	*state = e;
	return 0;
}

UNIT_MAIN("ctl_console", NULL, NULL, NULL, NULL,
	  cmocka_unit_test(test_sessions),
	  cmocka_unit_test_setup_teardown(test_metrics_render, setup, ctl_test_env_teardown))
