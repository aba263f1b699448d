/* Tests for agent/agent_config.c: every field of struct agent_config comes from its option. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "unit.h"
#include "agent_config.h"
#include "config.h"
#include "envset.h"
#include "util.h"

static void test_defaults_and_env(void **state)
{
	struct agent_config a;
	struct ecs_config *raw = NULL;
	char *err = NULL;
	static const char *const env[][2] = {
		{ "ECS_AGENT_HOST_ID", "h-1" },
		{ "ECS_AGENT_PORT", "65535" },
		{ "ECS_AGENT_KEEP_CAPS", "true" },
		{ "ECS_STORAGE_BACKEND", "qcow2" },
	};

	(void)state;
	env_set(env, ARRAY_SIZE(env));
	assert_int_equal(agent_config_load(NULL, &a, &raw, &err), 0);
	env_unset(env, ARRAY_SIZE(env));
	assert_string_equal(a.host_id, "h-1");
	assert_int_equal(a.port, 65535);
	assert_true(a.keep_caps);
	assert_false(a.fault_points);
	assert_string_equal(a.data_dir, "/var/lib/ecs/agent");
	assert_string_equal(a.libvirt_uri, "qemu:///system");
	assert_int_equal(a.reconcile_interval_s, 30);
	assert_int_equal(a.max_instances, 256);
	assert_string_equal(a.bridge, "ecsbr0");
	assert_int_equal(a.metadata_port, 80);
	assert_int_equal(a.vxlan_vni, 0);
	assert_int_equal(a.vxlan_port, 4789);
	assert_string_equal(a.storage_backend, "qcow2");
	assert_string_equal(a.ceph_user, "ecs-agent");
	assert_string_equal(a.ceph_pool, "ecs-rbd");
	ecs_config_free(raw);
}

UNIT_MAIN("agent_config", NULL, NULL, NULL, NULL,
	  cmocka_unit_test(test_defaults_and_env))
