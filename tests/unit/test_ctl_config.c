/* Tests for controller/ctl_config.c: every field of struct ctl_config comes from its option. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "unit.h"
#include "config.h"
#include "envset.h"
#include "ctl_config.h"
#include "util.h"

static void test_defaults_and_env(void **state)
{
	struct ctl_config c;
	struct ecs_config *raw = NULL;
	char *err = NULL;
	static const char *const env[][2] = {
		{ "ECS_CONTROLLER_PORT", "9001" },
		{ "ECS_QUOTA_PUBLIC_IPS", "7" },
		{ "ECS_SCHEDULER_RAM_RATIO", "2.25" },
	};

	(void)state;
	env_set(env, ARRAY_SIZE(env));
	assert_int_equal(ctl_config_load(NULL, &c, &raw, &err), 0);
	env_unset(env, ARRAY_SIZE(env));
	assert_string_equal(c.listen_address, "127.0.0.1");
	assert_int_equal(c.port, 9001);
	assert_string_equal(c.region_id, "cn-local");
	assert_int_equal(c.host_dead_after_s, 15);
	assert_true(c.throttle_rate == 200);
	assert_int_equal(c.nonces_per_account, 1048576);
	assert_true(c.cpu_ratio == 16.0);
	assert_true(c.ram_ratio == 2.25);
	assert_int_equal(c.schedule_attempts, 3);
	assert_int_equal(c.policy_utc_offset_h, 8);
	assert_int_equal(c.quota_instances, 100);
	assert_int_equal(c.quota_public_ips, 7);
	assert_string_equal(c.ip_pool, "10.240.0.0/16");
	assert_int_equal(c.host_gateways, 1);
	assert_int_equal(c.oss_import_max_mib, 102400);
	assert_string_equal(c.ceph_user, "ecs-controller");
	assert_int_equal(c.ceph_timeout_s, 5);
	assert_false(c.stack);
	assert_int_equal(c.n_zones, 1);
	assert_int_equal(c.n_types, 4);
	ecs_config_free(raw);
}

UNIT_MAIN("ctl_config", NULL, NULL, NULL, NULL,
	  cmocka_unit_test(test_defaults_and_env))
