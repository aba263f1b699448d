/* Tests for lib/sysctl.c, in a private network namespace (net/ keys follow it), so the
 * host's settings are never touched. */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "nstest.h"
#include "sysctl.h"
#include "util.h"

static void test_read_write(void **state)
{
	char v[ECS_SYSCTL_VALUE_MAX + 1], small[2];

	(void)state;
	/* A new namespace's IPv4 forwarding copies the host's (devconf_inherit_init_net), so
	 * either value may come first: flip it, read it back, flip it back. */
	assert_int_equal(ecs_sysctl_read("net/ipv4/ip_forward", v, sizeof(v)), 0);
	assert_true(streq(v, "0") || streq(v, "1"));
	{
		const char *first = streq(v, "0") ? "0" : "1", *other = streq(v, "0") ? "1" : "0";

		assert_int_equal(ecs_sysctl_write("net/ipv4/ip_forward", other), 0);
		assert_int_equal(ecs_sysctl_read("net/ipv4/ip_forward", v, sizeof(v)), 0);
		assert_string_equal(v, other); /* no trailing newline */
		assert_int_equal(ecs_sysctl_write("net/ipv4/ip_forward", first), 0);
		assert_int_equal(ecs_sysctl_read("net/ipv4/ip_forward", v, sizeof(v)), 0);
		assert_string_equal(v, first);
	}
	/* A value that does not fit. */
	assert_int_equal(ecs_sysctl_read("net/ipv4/ip_local_port_range", small, sizeof(small)), -ENAMETOOLONG);
}

static void test_ensure(void **state)
{
	char v[16];
	bool changed = true;

	(void)state;
	assert_int_equal(ecs_sysctl_write("net/ipv4/ip_forward", "0"), 0);
	assert_int_equal(ecs_sysctl_ensure("net/ipv4/ip_forward", "1", &changed), 0);
	assert_true(changed);
	assert_int_equal(ecs_sysctl_read("net/ipv4/ip_forward", v, sizeof(v)), 0);
	assert_string_equal(v, "1");
	assert_int_equal(ecs_sysctl_ensure("net/ipv4/ip_forward", "1", &changed), 0);
	assert_false(changed);
	assert_int_equal(ecs_sysctl_ensure("net/ipv4/ip_forward", "1", NULL), 0);
	assert_int_equal(ecs_sysctl_write("net/ipv4/ip_forward", "0"), 0);
}

static void test_errors(void **state)
{
	static const char *const bad[] = { "",		 "/net/ipv4/ip_forward", "net//ipv4/ip_forward",
					   "net/ipv4/",	 "net/../net/ipv4/ip_forward", "net/./ipv4/ip_forward",
					   "..",	 "net/ipv4/ip_forward/.." };
	char v[16], big[ECS_SYSCTL_VALUE_MAX + 2];
	bool changed = true;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(ecs_sysctl_read(bad[i], v, sizeof(v)), -EINVAL);
		assert_int_equal(ecs_sysctl_write(bad[i], "1"), -EINVAL);
	}
	assert_int_equal(ecs_sysctl_read(NULL, v, sizeof(v)), -EINVAL);
	/* A dotted name is a path component, not a separator. */
	assert_int_equal(ecs_sysctl_read("net.ipv4.ip_forward", v, sizeof(v)), -ENOENT);
	assert_int_equal(ecs_sysctl_write("net/ipv4/conf/no-such-link/forwarding", "1"), -ENOENT);
	assert_int_equal(ecs_sysctl_ensure("net/ipv4/conf/no-such-link/forwarding", "1", &changed), -ENOENT);
	assert_true(changed); /* untouched on failure */
	assert_int_equal(ecs_sysctl_write("net/ipv4/ip_forward", NULL), -EINVAL);
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(ecs_sysctl_write("net/ipv4/ip_forward", big), -EINVAL);
	/* The kernel's own refusal comes back as its errno. */
	assert_int_equal(ecs_sysctl_write("net/ipv4/ip_forward", "x"), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_write),
		cmocka_unit_test(test_ensure),
		cmocka_unit_test(test_errors),
	};

	/* Never the host's settings: net/ keys follow the namespace. */
	if (nstest_private_netns("test_sysctl") < 0)
		return 1;
	return cmocka_run_group_tests_name("sysctl", tests, NULL, NULL);
}
