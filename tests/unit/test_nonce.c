/* Tests for lib/nonce.c: replay detection within the window, expiry, the bound. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "nonce.h"

static void test_add_seen_expire(void **state)
{
	struct ecs_nonce_set *s;

	(void)state;
	assert_int_equal(ecs_nonce_set_new(10, &s), 0);
	assert_int_equal(ecs_nonce_set_add(s, "a", 100, 200), 0);
	assert_int_equal(ecs_nonce_set_add(s, "a", 150, 250), -EEXIST);
	assert_int_equal(ecs_nonce_set_add(s, "b", 150, 250), 0);
	assert_int_equal(ecs_nonce_set_size(s), 2);
	/* At its expiry "a" is gone and may be used again. */
	assert_int_equal(ecs_nonce_set_add(s, "a", 200, 300), 0);
	assert_int_equal(ecs_nonce_set_size(s), 2);
	ecs_nonce_set_free(s);
}

static void test_out_of_order_expiry(void **state)
{
	struct ecs_nonce_set *s;

	(void)state;
	assert_int_equal(ecs_nonce_set_new(10, &s), 0);
	/* Inserted first but lives longer than the next one. */
	assert_int_equal(ecs_nonce_set_add(s, "long", 100, 1000), 0);
	assert_int_equal(ecs_nonce_set_add(s, "short", 100, 110), 0);
	/* "short" has expired even though it is not at the head of the queue. */
	assert_int_equal(ecs_nonce_set_add(s, "short", 120, 130), 0);
	assert_int_equal(ecs_nonce_set_add(s, "long", 120, 1000), -EEXIST);
	ecs_nonce_set_free(s);
}

static void test_bound(void **state)
{
	struct ecs_nonce_set *s;
	char k[16];

	(void)state;
	assert_int_equal(ecs_nonce_set_new(1000, &s), 0);
	for (int i = 0; i < 1000; i++) {
		snprintf(k, sizeof(k), "n%d", i);
		assert_int_equal(ecs_nonce_set_add(s, k, 0, 10), 0);
	}
	assert_int_equal(ecs_nonce_set_add(s, "one-more", 0, 10), -ENOSPC);
	/* Once the window has passed, room again (and the old ones are freed). */
	assert_int_equal(ecs_nonce_set_add(s, "one-more", 10, 20), 0);
	assert_int_equal(ecs_nonce_set_size(s), 1);
	ecs_nonce_set_free(s);
}

static void test_many(void **state)
{
	struct ecs_nonce_set *s;
	char k[32];

	(void)state;
	assert_int_equal(ecs_nonce_set_new(300000, &s), 0);
	for (int i = 0; i < 200000; i++) {
		snprintf(k, sizeof(k), "nonce-%d", i);
		assert_int_equal(ecs_nonce_set_add(s, k, i / 1000, i / 1000 + 100), 0);
	}
	assert_int_equal(ecs_nonce_set_add(s, "nonce-199999", 199, 300), -EEXIST);
	ecs_nonce_set_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_seen_expire),
		cmocka_unit_test(test_out_of_order_expiry),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests_name("nonce", tests, NULL, NULL);
}
