/* Tests for agent/configdrive.c: the NoCloud files (golden), and a real ISO read back with
 * isoinfo (label cidata, the files present, their content). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit.h"
#include "cmd.h"
#include "configdrive.h"
#include "golden.h"
#include "util.h"

static const char *const keys[] = { "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB key one", "ssh-rsa AAAAB3 \"quoted\" two" };
static const char *const dns[] = { "10.0.0.1", "1.1.1.1" };

static struct agent_configdrive sample(void)
{
	return (struct agent_configdrive){
		.instance_id = "i-abcdefghijklmnopqrst",
		.hostname = "web-1",
		.public_keys = keys,
		.n_keys = 2,
		.mac = "52:54:00:aa:bb:cc",
		.ip = "10.0.0.5",
		.prefix_len = 24,
		.gateway = "10.0.0.1",
		.dns = dns,
		.n_dns = 2,
		.user_data = "#!/bin/sh\necho hi\n",
		.user_data_len = 18,
		.password_hash = "$6$salt$hash/with.chars",
	};
}

static void test_texts_golden(void **state)
{
	struct agent_configdrive cd = sample();
	_cleanup_free_ char *m = agent_configdrive_meta_data(&cd), *n = agent_configdrive_network_config(&cd);
	_cleanup_free_ char *v = agent_configdrive_vendor_data(&cd);

	(void)state;
	assert_non_null(m);
	assert_non_null(n);
	assert_non_null(v);
	assert_golden("configdrive_meta-data.txt", m);
	assert_golden("configdrive_network-config.txt", n);
	assert_golden("configdrive_vendor-data.txt", v);
}

static void test_minimal(void **state)
{
	struct agent_configdrive cd = { .instance_id = "i-1", .hostname = "h", .mac = "52:54:00:00:00:01",
					.ip = "10.0.0.2", .prefix_len = 16 };
	_cleanup_free_ char *m = agent_configdrive_meta_data(&cd), *n = agent_configdrive_network_config(&cd);
	_cleanup_free_ char *v = agent_configdrive_vendor_data(&cd);

	(void)state;
	assert_string_equal(m, "instance-id: \"i-1\"\nlocal-hostname: \"h\"\n");
	assert_null(strstr(n, "gateway4"));
	assert_null(strstr(n, "nameservers"));
	assert_null(strstr(n, "mtu"));
	assert_string_equal(v, "#cloud-config\n");
}

/* Behind the overlay the guest is told the MTU that leaves room for VXLAN's headers. */
static void test_mtu(void **state)
{
	struct agent_configdrive cd = { .instance_id = "i-1", .hostname = "h", .mac = "52:54:00:00:00:01",
					.ip = "10.0.0.2", .prefix_len = 16, .gateway = "10.0.0.1", .mtu = 1450 };
	_cleanup_free_ char *n = agent_configdrive_network_config(&cd);

	(void)state;
	assert_non_null(strstr(n, "    gateway4: \"10.0.0.1\"\n    mtu: 1450\n"));
}

static char *iso_file(const char *iso, const char *name)
{
	_cleanup_free_ char *arg = ecs_strdup_printf("/%s", name);
	const char *argv[] = { "isoinfo", "-R", "-i", iso, "-x", arg, NULL };
	struct ecs_cmd_result r;

	assert_int_equal(ecs_cmd_run_ok(argv, NULL, &r), 0);
	free(r.err);
	return r.out;
}

static void test_iso_round_trip(void **state)
{
	struct agent_configdrive cd = sample();
	char path[64];
	const char *pvd[] = { "isoinfo", "-d", "-i", path, NULL };
	struct ecs_cmd_result r;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/ecs-test-cd-%d.iso", getpid());
	assert_int_equal(agent_configdrive_build(&cd, path), 0);
	assert_int_equal(ecs_cmd_run_ok(pvd, NULL, &r), 0);
	assert_non_null(strstr(r.out, "Volume id: cidata"));
	ecs_cmd_result_clear(&r);
	{
		/* By their Rock Ridge names, as guests see them. */
		_cleanup_free_ char *ud = iso_file(path, "user-data");
		_cleanup_free_ char *md = iso_file(path, "meta-data");

		assert_string_equal(ud, "#!/bin/sh\necho hi\n");
		assert_non_null(strstr(md, "instance-id: \"i-abcdefghijklmnopqrst\""));
	}
	/* Without user-data, no user-data file; the temporaries are gone. */
	cd.user_data = NULL;
	assert_int_equal(agent_configdrive_build(&cd, path), 0);
	{
		const char *ls[] = { "isoinfo", "-R", "-f", "-i", path, NULL };

		assert_int_equal(ecs_cmd_run_ok(ls, NULL, &r), 0);
		assert_non_null(strstr(r.out, "/meta-data"));
		assert_non_null(strstr(r.out, "/vendor-data"));
		assert_null(strstr(r.out, "/user-data"));
		ecs_cmd_result_clear(&r);
	}
	{
		_cleanup_free_ char *tmp = ecs_strdup_printf("%s.tmp", path), *dir = ecs_strdup_printf("%s.d", path);

		assert_int_equal(access(tmp, F_OK), -1);
		assert_int_equal(access(dir, F_OK), -1);
	}
	/* A hash with a newline would break out of its YAML item: refused. */
	cd.password_hash = "$6$x\nruncmd: [reboot]";
	assert_int_equal(agent_configdrive_build(&cd, path), -EINVAL);
	unlink(path);
}

UNIT_MAIN("configdrive", NULL, NULL, NULL, NULL,
	  cmocka_unit_test(test_texts_golden),
	  cmocka_unit_test(test_minimal),
	  cmocka_unit_test(test_mtu),
	  cmocka_unit_test(test_iso_round_trip))
