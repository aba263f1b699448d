/* Tests for lib/prom.c: the request table's families, its bounds, label escaping and the
 * token (the controller's own families: test_ctl_console.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "contains.h"
#include "prom.h"

static const struct ecs_prom_names gw = { .prefix = "ecs_gw", .op_label = "operation", .code_label = "status",
					  .bytes = true };

static char *render(struct ecs_prom *m)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	ecs_prom_render(f, m);
	assert_int_equal(fclose(f), 0);
	return text;
}

static void test_families_and_bytes(void **state)
{
	struct ecs_prom *m = NULL;
	char *text;

	(void)state;
	assert_int_equal(ecs_prom_new(&gw, &m), 0);
	ecs_prom_request(m, "PutObject", "200", 3, 1000, 0);
	ecs_prom_request(m, "PutObject", "200", 700, 24, 0);
	ecs_prom_request(m, "GetObject", "404", 1, 0, 250);
	ecs_prom_request(m, NULL, "say \"hi\"\n\\", 1, 5, 6);
	text = render(m);
	assert_contains(text,
			"# TYPE ecs_gw_requests_total counter\n",
			"ecs_gw_requests_total{operation=\"PutObject\",status=\"200\"} 2\n",
			"ecs_gw_requests_total{operation=\"GetObject\",status=\"404\"} 1\n",
			"ecs_gw_requests_total{operation=\"unknown\",status=\"say \\\"hi\\\"\\n\\\\\"} 1\n",
			"ecs_gw_request_duration_seconds_bucket{operation=\"PutObject\",le=\"0.005\"} 1\n",
			"ecs_gw_request_duration_seconds_bucket{operation=\"PutObject\",le=\"1\"} 2\n",
			"ecs_gw_request_duration_seconds_bucket{operation=\"PutObject\",le=\"+Inf\"} 2\n",
			"ecs_gw_request_duration_seconds_sum{operation=\"PutObject\"} 0.703000\n",
			"ecs_gw_received_bytes_total{operation=\"PutObject\"} 1024\n",
			"ecs_gw_sent_bytes_total{operation=\"GetObject\"} 250\n",
			"ecs_gw_requests_unlabelled_total 0\n");
	free(text);
	ecs_prom_free(m);
	ecs_prom_free(NULL);
	ecs_prom_request(NULL, "PutObject", "200", 1, 1, 1); /* nothing counted, no crash */
}

static void test_series_bounded(void **state)
{
	static const struct ecs_prom_names api = { .prefix = "ecs_api", .op_label = "action", .code_label = "code" };
	struct ecs_prom *m = NULL;
	char code[32], *text;

	(void)state;
	assert_int_equal(ecs_prom_new(&api, &m), 0);
	for (int i = 0; i < ECS_PROM_MAX_SERIES + 7; i++) {
		snprintf(code, sizeof(code), "Code%d", i);
		ecs_prom_request(m, "StartInstance", code, 1, 0, 0);
	}
	text = render(m);
	assert_non_null(strstr(text, "ecs_api_requests_unlabelled_total 7\n"));
	assert_non_null(strstr(text, "ecs_api_request_duration_seconds_count{action=\"StartInstance\"} 4103\n"));
	assert_null(strstr(text, "Code4096\""));
	assert_null(strstr(text, "received_bytes")); /* bytes off for this table */
	free(text);
	ecs_prom_free(m);
}

static void test_token(void **state)
{
	char token[ECS_PROM_TOKEN_LEN + 1], other[ECS_PROM_TOKEN_LEN + 1];

	(void)state;
	/* HMAC-SHA256("a-host-key", "ecs-metrics"), as Python's hmac computes it. */
	assert_int_equal(ecs_prom_token("a-host-key", token), 0);
	assert_string_equal(token, "a0943cd1263e121e6dde8a94e75a4bbfd38832dde0a5199f3b341336c9d7ae0f");
	assert_int_equal(ecs_prom_token("another-key", other), 0);
	assert_string_not_equal(token, other);
	assert_int_equal(ecs_prom_token(NULL, other), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_families_and_bytes),
		cmocka_unit_test(test_series_bounded),
		cmocka_unit_test(test_token),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
