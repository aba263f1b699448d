/* Tests for controller/heal.c's pure parts: a host's fabric address (its underlay address,
 * else the host of its API URL) and whether a Ceph client address (as rbd_watchers_list
 * gives it: "[v1:|v2:]IP:PORT/NONCE") is that host's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"
#include "heal.h"

static void test_host_ip(void **state)
{
	char ip[64];

	(void)state;
	ctl_heal_host_ip("10.231.9.3", "http://10.231.9.9:8774", ip);
	assert_string_equal(ip, "10.231.9.3");
	ctl_heal_host_ip("", "http://10.231.9.4:8774", ip);
	assert_string_equal(ip, "10.231.9.4");
	ctl_heal_host_ip(NULL, "http://192.0.2.17/", ip);
	assert_string_equal(ip, "192.0.2.17");
	ctl_heal_host_ip("", "", ip);
	assert_string_equal(ip, "");
	ctl_heal_host_ip("", NULL, ip);
	assert_string_equal(ip, "");
}

static void test_addr_of(void **state)
{
	(void)state;
	assert_true(ctl_heal_addr_of("10.231.9.3:0/2261303185", "10.231.9.3"));
	assert_true(ctl_heal_addr_of("v1:10.231.9.3:0/42", "10.231.9.3"));
	assert_true(ctl_heal_addr_of("v2:10.231.9.3:6800/42", "10.231.9.3"));
	/* Another host whose address begins the same. */
	assert_false(ctl_heal_addr_of("10.231.9.31:0/42", "10.231.9.3"));
	assert_false(ctl_heal_addr_of("10.231.9.4:0/42", "10.231.9.3"));
	/* No address: nothing is its. */
	assert_false(ctl_heal_addr_of("10.231.9.3:0/42", ""));
}

UNIT_MAIN("ctl_heal", NULL, NULL, NULL, NULL,
	  cmocka_unit_test(test_host_ip),
	  cmocka_unit_test(test_addr_of))
