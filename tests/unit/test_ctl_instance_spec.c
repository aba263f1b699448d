/* Golden-file tests for the instance spec the controller sends an agent with a create job
 * (ctl_instance_agent_spec, controller/instance_jobs.c): the rows of one instance, its host,
 * key pair, security groups and disks written into a controller state in a temporary SQLite
 * file, the spec compared with tests/unit/golden/ctl_instance_spec_*.json
 * (ECS_REGENERATE_GOLDEN=1 rewrites them). A change of the spec's shape shows in the diff,
 * and the agent's side (agent/instance.c) must read the same keys. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"
#include "config.h"
#include "ctl.h"
#include "ctl_env.h"
#include "golden.h"
#include "instance.h"
#include "json.h"
#include "store.h"
#include "util.h"

struct env {
	struct ctl_test_env t; /* first: ctl_test_env_teardown frees the whole */
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	ctl_test_env_open(&e->t, "test_ctl_instance_spec");
	/* The spec depends on the pool (prefix, default gateway): fixed here, not the default's. */
	e->t.c.cfg.ip_pool = "10.20.0.0/16";
	e->t.c.cfg.host_gateways = 4;
	assert_int_equal(
		ctl_db_exec(e->t.db,
			    "INSERT INTO hosts (host_id, api_url, zone_id, hypervisor, vcpus, memory_mib, disk_gib,"
			    " max_instances, images, last_seen, state, gateway) VALUES"
			    " ('host-a', 'http://127.0.0.1:1', 'zone-a', 'kvm', 8, 8192, 100, 10, '[]', 0, 'up', '10.20.0.3'),"
			    " ('host-b', 'http://127.0.0.1:2', 'zone-a', 'kvm', 8, 8192, 100, 10, '[]', 0, 'up', '');"
			    "INSERT INTO key_pairs (account_id, name, fingerprint, public_key, created_at) VALUES"
			    " ('acc-1', 'laptop', 'ab:cd', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample laptop', 0),"
			    " ('acc-2', 'laptop', 'ef:01', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOther other', 0);"
			    "INSERT INTO security_groups (group_id, account_id, name, description, created_at) VALUES"
			    " ('sg-web', 'acc-1', 'web', '', 0), ('sg-ssh', 'acc-1', 'ssh', '', 0);"),
		0);
	*state = e;
	return 0;
}

static void add_instance(struct env *e, const char *id, const char *host, const char *ip, const char *mac,
			 const char *key_pair, const char *password_hash, const char *user_data)
{
	_cleanup_free_ char *sql = ecs_strdup_printf(
		"INSERT INTO instances (instance_id, account_id, name, description, hostname, image_id, instance_type,"
		" vcpus, memory_mib, zone_id, host_id, status, desired, private_ip, mac, key_pair_name, password_hash,"
		" user_data, internet_max_bandwidth_out, created_at, transition_at) VALUES ('%s', 'acc-1', 'name', '',"
		" 'web-1', 'ubuntu_22_04_x64', 'ecs.t1.small', 2, 1024, 'zone-a', '%s', 'Pending', 'running', '%s', '%s',"
		" '%s', '%s', '%s', 0, 0, 0)",
		id, host, ip, mac, key_pair, password_hash, user_data);

	assert_int_equal(ctl_db_exec(e->t.db, sql), 0);
}

static void add_disk(struct env *e, const char *id, const char *instance, const char *type, int size,
		     const char *snapshot, const char *device)
{
	_cleanup_free_ char *sql = ecs_strdup_printf(
		"INSERT INTO disks (disk_id, account_id, zone_id, name, description, type, category, size_gib, image_id,"
		" source_snapshot_id, status, instance_id, device, host_id, delete_with_instance, created_at) VALUES"
		" ('%s', 'acc-1', 'zone-a', '', '', '%s', 'cloud_efficiency', %d, '', '%s', 'Creating', '%s', '%s',"
		" 'host-a', 1, 0)",
		id, type, size, snapshot, instance, device);

	assert_int_equal(ctl_db_exec(e->t.db, sql), 0);
}

static void expect_spec(struct env *e, const char *id, bool start, const char *golden)
{
	struct json_object *spec = ctl_instance_agent_spec(&e->t.c, e->t.db, id, start);
	_cleanup_free_ char *text = NULL;

	assert_non_null(spec);
	text = ecs_strdup_printf("%s\n", json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PRETTY |
										  JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(spec);
	assert_golden(golden, text);
}

/* Everything a spec may carry: key (the account's, not another's of the same name), password
 * hash, user data, two groups in their order, a system disk and two data disks (one from a
 * snapshot) in device order, the host's own gateway. */
static void test_full(void **state)
{
	struct env *e = *state;

	add_instance(e, "i-full", "host-a", "10.20.0.9", "52:54:00:aa:bb:cc", "laptop", "$6$salt$hash",
		     "I2Nsb3VkLWNvbmZpZwo=");
	assert_int_equal(ctl_db_exec(e->t.db, "INSERT INTO instance_security_groups (instance_id, group_id, position)"
					    " VALUES ('i-full', 'sg-ssh', 2), ('i-full', 'sg-web', 1)"),
			 0);
	add_disk(e, "d-data2", "i-full", "data", 20, "s-snap", "/dev/xvdc");
	add_disk(e, "d-sys", "i-full", "system", 40, "", "/dev/xvda");
	add_disk(e, "d-data1", "i-full", "data", 10, "", "/dev/xvdb");
	expect_spec(e, "i-full", true, "ctl_instance_spec_full.json");
}

/* The least: no key, password or user data, no group, only a system disk, a host that
 * reported no gateway (network+1 then), created stopped. */
static void test_minimal(void **state)
{
	struct env *e = *state;

	add_instance(e, "i-min", "host-b", "10.20.0.10", "52:54:00:00:00:01", "", "", "");
	add_disk(e, "d-min", "i-min", "system", 20, "", "/dev/xvda");
	expect_spec(e, "i-min", false, "ctl_instance_spec_minimal.json");
}

static void test_unknown(void **state)
{
	struct env *e = *state;

	assert_null(ctl_instance_agent_spec(&e->t.c, e->t.db, "i-nothere", true));
}

UNIT_MAIN("ctl_instance_spec", setup, ctl_test_env_teardown, NULL, NULL,
	  cmocka_unit_test(test_full),
	  cmocka_unit_test(test_minimal),
	  cmocka_unit_test(test_unknown))
