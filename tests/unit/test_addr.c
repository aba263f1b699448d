/* Tests for lib/addr.c: the one set of IPv4, CIDR and MAC spelling rules. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"
#include "addr.h"
#include "util.h"

static void test_ipv4(void **state)
{
	static const char *const good[] = { "0.0.0.0", "10.0.0.1", "255.255.255.255", "192.168.100.200", "1.2.3.4" };
	static const char *const bad[] = {
		"", "10.0.0", "10.0.0.1.", "10.0.0.1.2", "10..0.1", ".10.0.0.1", "10.0.0.256", "256.0.0.1",
		"010.0.0.1", "10.0.0.01", "10.00.0.1", "1.2.3.0004", "+1.2.3.4", "-1.2.3.4", " 1.2.3.4", "1.2.3.4 ",
		"1.2.3.4\n", "0x1.2.3.4", "1.2.3.a", "1.2.3.4/32", "::1", "::ffff:1.2.3.4", "1234", "1.2.3.1000",
	};
	char out[ECS_IPV4_MAX];
	uint32_t v = 7;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		assert_int_equal(ecs_ipv4_parse(good[i], &v), 0);
		ecs_ipv4_format(v, out);
		assert_string_equal(out, good[i]); /* canonical: it prints back as written */
		assert_true(ecs_ipv4_valid(good[i]));
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		v = 7;
		assert_int_equal(ecs_ipv4_parse(bad[i], &v), -EINVAL);
		assert_int_equal(v, 7); /* untouched on failure */
		assert_false(ecs_ipv4_valid(bad[i]));
	}
	assert_int_equal(ecs_ipv4_parse(NULL, &v), -EINVAL);
	assert_int_equal(ecs_ipv4_parse("10.1.2.3", &v), 0);
	assert_int_equal(v, 0x0a010203);
	assert_int_equal(ecs_ipv4_parse("10.1.2.3", NULL), 0);
}

static void test_ipv4_classes(void **state)
{
	static const struct {
		const char *ip;
		bool unicast, assignable;
	} cases[] = {
		{ "0.0.0.0", false, false },	     { "0.1.2.3", true, false },	{ "127.0.0.1", true, false },
		{ "10.0.0.1", true, true },	     { "223.255.255.254", true, true }, { "224.0.0.1", false, false },
		{ "239.255.255.255", false, false }, { "240.0.0.1", true, false },	{ "255.255.255.255", false, false },
		{ "192.0.2.1", true, true },
	};
	uint32_t v;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_int_equal(ecs_ipv4_parse(cases[i].ip, &v), 0);
		assert_int_equal(ecs_ipv4_unicast(v), cases[i].unicast);
		assert_int_equal(ecs_ipv4_assignable(v), cases[i].assignable);
	}
}

static void test_cidr(void **state)
{
	struct ecs_cidr c;

	(void)state;
	assert_int_equal(ecs_cidr_parse("10.240.0.1/16", 0, &c), 0);
	assert_int_equal(c.addr, 0x0af00001); /* host bits kept in addr … */
	assert_int_equal(c.net, 0x0af00000);  /* … and masked off in net */
	assert_int_equal(c.mask, 0xffff0000);
	assert_int_equal(c.len, 16);
	assert_true(ecs_cidr_contains(&c, 0x0af0ffff));
	assert_false(ecs_cidr_contains(&c, 0x0af10000));
	assert_int_equal(ecs_cidr_parse("10.0.0.7/32", 0, &c), 0);
	assert_int_equal(c.net, 0x0a000007);
	assert_int_equal(c.mask, 0xffffffff);
	assert_int_equal(ecs_cidr_parse("1.2.3.4/1", 0, &c), 0);
	assert_int_equal(c.net, 0);

	/* The bare address and /0 only when asked for. */
	assert_int_equal(ecs_cidr_parse("10.0.0.1", 0, &c), -EINVAL);
	assert_int_equal(ecs_cidr_parse("10.0.0.1", ECS_CIDR_BARE, &c), 0);
	assert_int_equal(c.len, 32);
	assert_int_equal(c.net, 0x0a000001);
	assert_int_equal(ecs_cidr_parse("0.0.0.0/0", 0, &c), -EINVAL);
	assert_int_equal(ecs_cidr_parse("10.9.8.7/0", ECS_CIDR_LEN0, &c), 0);
	assert_int_equal(c.net, 0);
	assert_int_equal(c.mask, 0);
	assert_true(ecs_cidr_contains(&c, 0xffffffff));

	static const char *const bad[] = {
		"10.0.0.0/33", "10.0.0.0/08", "10.0.0.0/00", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/ 8",
		"10.0.0.0/8 ", "10.0.0.0/100", "10.0.0.0/8/8", "10.0.0/8", "010.0.0.0/8", "10.0.0.256/8", "/8",
		"fd00::/8", "any", "",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(ecs_cidr_parse(bad[i], ECS_CIDR_BARE | ECS_CIDR_LEN0, &c), -EINVAL);
	assert_int_equal(ecs_cidr_parse(NULL, ECS_CIDR_BARE, &c), -EINVAL);
	assert_int_equal(ecs_cidr_parse("10.0.0.0/8", 0, NULL), 0);
}

static void test_mac(void **state)
{
	uint8_t m[6];

	(void)state;
	assert_int_equal(ecs_mac_parse("52:54:00:ab:CD:0f", m), 0);
	assert_memory_equal(m, ((uint8_t[]){ 0x52, 0x54, 0x00, 0xab, 0xcd, 0x0f }), 6);
	assert_true(ecs_mac_valid("AA:BB:CC:DD:EE:FF")); /* upper case */
	assert_true(ecs_mac_unicast("52:54:00:00:00:01"));
	assert_true(ecs_mac_unicast("FE:54:00:00:00:01"));
	assert_true(ecs_mac_valid("01:00:5e:00:00:01"));  /* multicast: a valid MAC … */
	assert_false(ecs_mac_unicast("01:00:5e:00:00:01")); /* … but not unicast */
	assert_false(ecs_mac_unicast("ff:ff:ff:ff:ff:ff"));
	assert_false(ecs_mac_unicast("33:33:00:00:00:01"));
	assert_false(ecs_mac_unicast("nonsense"));

	static const char *const bad[] = {
		"", "52:54:00:ab:cd", "52:54:00:ab:cd:0f:", "52:54:00:ab:cd:0", "52-54-00-ab-cd-0f", "5254.00ab.cd0f",
		"52:54:00:ab:cd:0g", " 52:54:00:ab:cd:0f", "52:54:00:ab:cd:0f ", "0x:54:00:ab:cd:0f", "52:54:00:ab:cd:+f",
		"525:4:00:ab:cd:0f", "52:54:00:ab:cd:0f0",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(ecs_mac_parse(bad[i], m), -EINVAL);
		assert_false(ecs_mac_valid(bad[i]));
		assert_false(ecs_mac_unicast(bad[i]));
	}
	assert_int_equal(ecs_mac_parse(NULL, m), -EINVAL);
}

UNIT_MAIN("addr", NULL, NULL, NULL, NULL,
	  cmocka_unit_test(test_ipv4),
	  cmocka_unit_test(test_ipv4_classes),
	  cmocka_unit_test(test_cidr),
	  cmocka_unit_test(test_mac))
