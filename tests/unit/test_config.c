/* Tests for lib/config.c: INI parsing, environment overrides, validation messages. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit.h"
#include "config.h"
#include "util.h"

static const struct ecs_config_option opts[] = {
	{ "agent", "data_dir", ECS_CONFIG_STRING, "/var/lib/ecs", 0, 0, "where disks live" },
	{ "agent", "port", ECS_CONFIG_INT, "8774", 1, 65535, "API port" },
	{ "agent", "debug", ECS_CONFIG_BOOL, "false", 0, 0, "debug logs" },
	{ "scheduler", "cpu_ratio", ECS_CONFIG_DOUBLE, "16.0", 0.1, 100, "vCPU overcommit" },
	{ "scheduler", "zone", ECS_CONFIG_STRING, NULL, 0, 0, "required" },
};

static char path[64];

static void write_conf(const char *text)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/ecs-test-config-%d.ini", getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	unsetenv("ECS_AGENT_PORT");
	unsetenv("ECS_SCHEDULER_ZONE");
	unsetenv("ECS_SCHEDULER_CPU_RATIO");
	return 0;
}

static void expect_error(const char *text, const char *want)
{
	struct ecs_config *cfg = NULL;
	_cleanup_free_ char *err = NULL;

	write_conf(text);
	assert_true(ecs_config_load(opts, ARRAY_SIZE(opts), path, &cfg, &err) < 0);
	assert_null(cfg);
	assert_non_null(err);
	if (!strstr(err, want))
		fail_msg("error \"%s\" does not contain \"%s\"", err, want);
}

static void test_file_and_defaults(void **state)
{
	struct ecs_config *cfg = NULL;
	char *err = NULL;

	(void)state;
	write_conf("# comment\n; another\n\n[agent]\nport = 9000\ndebug=yes\n"
		   "[scheduler]\n  zone = cn-hangzhou-a  \ncpu_ratio=2.5\n");
	assert_int_equal(ecs_config_load(opts, ARRAY_SIZE(opts), path, &cfg, &err), 0);
	assert_null(err);
	assert_int_equal(ecs_config_int(cfg, "agent", "port"), 9000);
	assert_true(ecs_config_bool(cfg, "agent", "debug"));
	assert_string_equal(ecs_config_str(cfg, "agent", "data_dir"), "/var/lib/ecs");
	assert_string_equal(ecs_config_str(cfg, "scheduler", "zone"), "cn-hangzhou-a");
	assert_true(ecs_config_double(cfg, "scheduler", "cpu_ratio") == 2.5);
	assert_string_equal(ecs_config_origin(cfg, "agent", "data_dir"), "default");
	assert_true(strstr(ecs_config_origin(cfg, "agent", "port"), ":5") != NULL);
	ecs_config_free(cfg);
}

static void test_env_overrides_file(void **state)
{
	struct ecs_config *cfg = NULL;
	char *err = NULL;
	char name[64];

	(void)state;
	ecs_config_env_name("scheduler", "cpu_ratio", name, sizeof(name));
	assert_string_equal(name, "ECS_SCHEDULER_CPU_RATIO");
	write_conf("[agent]\nport = 9000\n[scheduler]\nzone=a\n");
	setenv("ECS_AGENT_PORT", "9100", 1);
	assert_int_equal(ecs_config_load(opts, ARRAY_SIZE(opts), path, &cfg, &err), 0);
	assert_int_equal(ecs_config_int(cfg, "agent", "port"), 9100);
	assert_string_equal(ecs_config_origin(cfg, "agent", "port"), "ECS_AGENT_PORT");
	ecs_config_free(cfg);

	/* Without a file: defaults plus environment. */
	setenv("ECS_SCHEDULER_ZONE", "z1", 1);
	assert_int_equal(ecs_config_load(opts, ARRAY_SIZE(opts), NULL, &cfg, &err), 0);
	assert_string_equal(ecs_config_str(cfg, "scheduler", "zone"), "z1");
	ecs_config_free(cfg);

	setenv("ECS_AGENT_PORT", "http", 1);
	cfg = NULL;
	assert_int_equal(ecs_config_load(opts, ARRAY_SIZE(opts), NULL, &cfg, &err), -EINVAL);
	assert_string_equal(err, "ECS_AGENT_PORT: [agent] port: \"http\" is not an integer");
	free(err);
}

static void test_validation_errors(void **state)
{
	(void)state;
	expect_error("[agent]\nport = 70000\n[scheduler]\nzone=a\n", ":2: [agent] port: 70000 is out of range 1..65535");
	expect_error("[agent]\nprot = 1\n", ":2: unknown option \"prot\" in [agent]");
	expect_error("[agnet]\n", ":1: unknown section [agnet]");
	expect_error("port = 1\n", ":1: \"port\" outside any [section]");
	expect_error("[agent]\nport\n", ":2: expected \"key = value\"");
	expect_error("[agent\n", ":1: malformed section header");
	expect_error("[agent]\ndebug = maybe\n", "\"maybe\" is not a boolean");
	expect_error("[scheduler]\ncpu_ratio = 1e9\nzone=a\n", "out of range");
	expect_error("[scheduler]\ncpu_ratio = fast\n", "\"fast\" is not a number");
	expect_error("[agent]\n", "[scheduler] zone is required (set it in the file or as ECS_SCHEDULER_ZONE)");
}

static void test_missing_file(void **state)
{
	struct ecs_config *cfg = NULL;
	_cleanup_free_ char *err = NULL;

	(void)state;
	assert_int_equal(ecs_config_load(opts, ARRAY_SIZE(opts), "/nonexistent/x.ini", &cfg, &err), -ENOENT);
	assert_true(strstr(err, "/nonexistent/x.ini: cannot read") != NULL);
}

/* ecs_config_fill: each field of a struct from its option, by the field's size. */
static void test_fill(void **state)
{
	struct filled {
		const char *data_dir, *zone;
		uint16_t port;
		bool debug;
		double cpu_ratio;
	} f = { 0 };
	static const struct ecs_config_field fields[] = {
		ECS_CONFIG_FIELD("agent", "data_dir", struct filled, data_dir),
		ECS_CONFIG_FIELD("agent", "port", struct filled, port),
		ECS_CONFIG_FIELD("agent", "debug", struct filled, debug),
		ECS_CONFIG_FIELD("scheduler", "cpu_ratio", struct filled, cpu_ratio),
		ECS_CONFIG_FIELD("scheduler", "zone", struct filled, zone),
	};
	struct ecs_config *cfg = NULL;
	_cleanup_free_ char *err = NULL;

	(void)state;
	write_conf("[agent]\nport = 65535\ndebug = true\n[scheduler]\nzone = z1\ncpu_ratio = 3.5\n");
	assert_int_equal(ecs_config_load(opts, ARRAY_SIZE(opts), path, &cfg, &err), 0);
	ecs_config_fill(cfg, fields, ARRAY_SIZE(fields), &f);
	assert_string_equal(f.data_dir, "/var/lib/ecs");
	assert_int_equal(f.port, 65535);
	assert_true(f.debug);
	assert_true(f.cpu_ratio == 3.5);
	assert_string_equal(f.zone, "z1");
	ecs_config_free(cfg);
}

UNIT_MAIN("config", NULL, NULL, NULL, NULL,
	  cmocka_unit_test_teardown(test_file_and_defaults, teardown),
	  cmocka_unit_test_teardown(test_env_overrides_file, teardown),
	  cmocka_unit_test_teardown(test_validation_errors, teardown),
	  cmocka_unit_test_teardown(test_missing_file, teardown),
	  cmocka_unit_test_teardown(test_fill, teardown))
