/* Tests for controller/addrpool.c: parsing pools, their usable ranges, and leases of both
 * pools in a controller database in a temporary folder (the lowest free address, a full
 * pool, a chosen public address, reuse once freed). */
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
#include "addrpool.h"
#include "store.h"
#include "util.h"

static void test_parse(void **state)
{
	static const char *const bad[] = { "10.0.0.0", "10.0.0.0/31", "10.0.0.0/7", "x/8",
					   "10.0.0.0/16x", "10.0.0.256/16", "" };
	struct ctl_pool p;
	char ip[CTL_IP_MAX];

	(void)state;
	assert_int_equal(ctl_pool_parse("10.240.7.9/16", 8, 30, &p), 0);
	ctl_pool_ip_str(p.net, ip);
	assert_string_equal(ip, "10.240.0.0"); /* the host bits go */
	assert_int_equal(p.prefix, 16);
	assert_int_equal(ctl_pool_parse("192.0.2.7/32", 8, 32, &p), 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(ctl_pool_parse(bad[i], 8, 30, &p), -EINVAL);
	assert_int_equal(ctl_pool_parse(NULL, 8, 30, &p), -EINVAL);
}

static void range_is(const char *cidr, bool is_public, int gateways, const char *first, const char *last)
{
	struct ctl_pool p;
	uint32_t a, b;
	char x[CTL_IP_MAX], y[CTL_IP_MAX];

	assert_int_equal(ctl_pool_parse(cidr, 8, 32, &p), 0);
	ctl_pool_range(&p, is_public, gateways, &a, &b);
	ctl_pool_ip_str(a, x);
	ctl_pool_ip_str(b, y);
	assert_string_equal(x, first);
	assert_string_equal(y, last);
}

static void test_ranges_and_addresses(void **state)
{
	struct ctl_pool p;

	(void)state;
	range_is("10.9.0.0/24", false, 1, "10.9.0.2", "10.9.0.254"); /* .1 is the gateway */
	range_is("10.9.0.0/24", false, 16, "10.9.0.17", "10.9.0.254"); /* .1-.16: 16 hosts' bridges */
	range_is("192.0.2.0/29", true, 16, "192.0.2.1", "192.0.2.6");
	range_is("192.0.2.0/31", true, 0, "192.0.2.0", "192.0.2.1");
	range_is("192.0.2.9/32", true, 0, "192.0.2.9", "192.0.2.9");
	assert_int_equal(ctl_pool_parse("10.9.0.0/24", 8, 30, &p), 0);
	assert_false(ctl_pool_is_gateway(&p, 2, "10.9.0.0"));
	assert_true(ctl_pool_is_gateway(&p, 2, "10.9.0.1"));
	assert_true(ctl_pool_is_gateway(&p, 2, "10.9.0.2"));
	assert_false(ctl_pool_is_gateway(&p, 2, "10.9.0.3"));
	assert_false(ctl_pool_is_gateway(&p, 2, "10.9.1.1"));
	assert_false(ctl_pool_is_gateway(&p, 2, "10.9.0.01"));
	assert_true(ctl_ip_valid("10.0.0.5"));
	assert_false(ctl_ip_valid("10.0.0.05"));
	assert_false(ctl_ip_valid("10.0.0"));
	assert_false(ctl_ip_valid("10.0.0.5 "));
	assert_false(ctl_ip_valid(NULL));
	assert_int_equal(ctl_pool_parse("192.0.2.0/29", 8, 32, &p), 0);
	assert_true(ctl_pool_contains(&p, "192.0.2.7"));
	assert_false(ctl_pool_contains(&p, "192.0.2.8"));
	assert_false(ctl_pool_contains(&p, "192.0.2.007"));
}

struct env {
	char dir[64];
	struct ctl c;
	sqlite3 *db;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	_cleanup_free_ char *path = NULL;

	assert_non_null(e);
	snprintf(e->dir, sizeof(e->dir), "/tmp/test_ctl_addrpool.XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	path = ecs_strdup_printf("%s/controller.db", e->dir);
	assert_int_equal(ctl_store_open(path, &e->c.store), 0);
	e->c.cfg.ip_pool = "10.9.0.0/29";	 /* .2 - .6 */
	e->c.cfg.host_gateways = 1;
	e->c.cfg.public_ip_pool = "192.0.2.0/30"; /* .1 - .2 */
	e->db = ctl_db_get(e->c.store);
	assert_non_null(e->db);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	ctl_db_put(e->c.store, e->db);
	ctl_store_close(e->c.store);
	ecs_remove_tree(e->dir);
	free(e);
	return 0;
}

static void test_private_leases(void **state)
{
	struct env *e = *state;
	char ip[CTL_IP_MAX];

	for (int i = 2; i <= 6; i++) {
		char want[CTL_IP_MAX], owner[16];

		snprintf(owner, sizeof(owner), "i-%d", i);
		snprintf(want, sizeof(want), "10.9.0.%d", i);
		assert_int_equal(ctl_ip_lease(&e->c, e->db, owner, ip), 0);
		assert_string_equal(ip, want);
	}
	assert_int_equal(ctl_ip_lease(&e->c, e->db, "lb-full", ip), -ENOSPC);
	assert_int_equal(ctl_db_exec(e->db, "DELETE FROM ip_leases WHERE instance_id = 'i-4'"), 0);
	assert_int_equal(ctl_ip_lease(&e->c, e->db, "lb-again", ip), 0);
	assert_string_equal(ip, "10.9.0.4"); /* the lowest free one comes back */
}

static void test_public_leases(void **state)
{
	struct env *e = *state;
	char ip[CTL_IP_MAX];

	assert_int_equal(ctl_public_lease(&e->c, e->db, "acc", "lb-a", "h-1", NULL, ip), 0);
	assert_string_equal(ip, "192.0.2.1");
	/* A chosen address: taken, outside the pool, the pool's broadcast address. */
	assert_int_equal(ctl_public_lease(&e->c, e->db, "acc", "i-b", "h-1", "192.0.2.1", ip), -EADDRINUSE);
	assert_int_equal(ctl_public_lease(&e->c, e->db, "acc", "i-b", "h-1", "198.51.100.1", ip), -EADDRNOTAVAIL);
	assert_int_equal(ctl_public_lease(&e->c, e->db, "acc", "i-b", "h-1", "192.0.2.3", ip), -EADDRNOTAVAIL);
	assert_int_equal(ctl_public_lease(&e->c, e->db, "acc", "i-b", "h-1", "192.0.2.2", ip), 0);
	assert_string_equal(ip, "192.0.2.2");
	assert_int_equal(ctl_public_lease(&e->c, e->db, "acc", "i-c", "h-1", NULL, ip), -ENOSPC);
	assert_int_equal(ctl_db_exec(e->db, "DELETE FROM public_ips WHERE owner_id = 'lb-a'"), 0);
	assert_int_equal(ctl_public_lease(&e->c, e->db, "acc", "i-c", "h-2", NULL, ip), 0);
	assert_string_equal(ip, "192.0.2.1");
}

UNIT_MAIN("ctl_addrpool", NULL, NULL, NULL, NULL,
	  cmocka_unit_test(test_parse),
	  cmocka_unit_test(test_ranges_and_addresses),
	  cmocka_unit_test_setup_teardown(test_private_leases, setup, teardown),
	  cmocka_unit_test_setup_teardown(test_public_leases, setup, teardown))
