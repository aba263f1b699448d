/* Tests for lib/nonce.c: replay detection within the window, expiry, the bound. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "unit.h"
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
	/* And it is gone from memory, though inserted after one that lives on. */
	assert_int_equal(ecs_nonce_set_add(s, "other", 140, 150), 0);
	assert_int_equal(ecs_nonce_set_size(s), 2);
	ecs_nonce_set_free(s);
}

/* One owner filling its share refuses only its own nonces. */
static void test_bound_per_owner(void **state)
{
	struct ecs_nonce_set *s;
	char k[16];

	(void)state;
	assert_int_equal(ecs_nonce_set_new(16, &s), 0);
	for (int i = 0; i < 16; i++) {
		snprintf(k, sizeof(k), "n%d", i);
		assert_int_equal(ecs_nonce_set_add_owned(s, "acc-a", k, 0, 100), 0);
	}
	assert_int_equal(ecs_nonce_set_add_owned(s, "acc-a", "more", 1, 100), -ENOSPC);
	assert_int_equal(ecs_nonce_set_add_owned(s, "acc-b", "more", 1, 100), 0);
	/* The same nonce of two owners is two nonces; a replay is still one. */
	assert_int_equal(ecs_nonce_set_add_owned(s, "acc-b", "n0", 1, 100), 0);
	assert_int_equal(ecs_nonce_set_add_owned(s, "acc-b", "n0", 2, 100), -EEXIST);
	assert_int_equal(ecs_nonce_set_owner_size(s, "acc-a"), 16);
	assert_int_equal(ecs_nonce_set_owner_size(s, "acc-b"), 2);
	/* Past the expiry, room again, and an owner with no nonce left is forgotten. */
	assert_int_equal(ecs_nonce_set_add_owned(s, "acc-a", "more", 100, 200), 0);
	assert_int_equal(ecs_nonce_set_owner_size(s, "acc-a"), 1);
	assert_int_equal(ecs_nonce_set_owner_size(s, "acc-b"), 0);
	assert_int_equal(ecs_nonce_set_size(s), 1);
	ecs_nonce_set_free(s);
}

/* A request dated 14 minutes ahead is remembered until its own timestamp leaves the
 * 15-minute window, not for 15 minutes from its arrival (issue 11, defect 5). */
static void test_claim_keeps_until_stamp_leaves_window(void **state)
{
	const time_t t0 = 1700000000, window = 900, stamp = t0 + 14 * 60;
	struct ecs_nonce_set *s;

	(void)state;
	assert_int_equal(ecs_nonce_set_new(100, &s), 0);
	assert_int_equal(ecs_nonce_set_claim(s, "acc-a", "n", stamp, t0, window), 0);
	/* 15 minutes after arrival the stamp is still within the window: a replay. */
	assert_int_equal(ecs_nonce_set_claim(s, "acc-a", "n", stamp, t0 + window + 1, window), -EEXIST);
	assert_int_equal(ecs_nonce_set_claim(s, "acc-a", "n", stamp, stamp + window, window), -EEXIST);
	/* One second later the stamp itself is refused, and the nonce may go. */
	assert_int_equal(ecs_nonce_set_claim(s, "acc-a", "n", stamp, stamp + window + 1, window), -ERANGE);
	assert_int_equal(ecs_nonce_set_claim(s, "acc-a", "other", stamp + window + 1, stamp + window + 1, window), 0);
	assert_int_equal(ecs_nonce_set_owner_size(s, "acc-a"), 1);
	/* Outside the window either way. */
	assert_int_equal(ecs_nonce_set_claim(s, "acc-a", "x", t0 - window - 1, t0, window), -ERANGE);
	assert_int_equal(ecs_nonce_set_claim(s, "acc-a", "x", t0 + window + 1, t0, window), -ERANGE);
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

UNIT_MAIN("nonce", NULL, NULL, NULL, NULL,
	  cmocka_unit_test(test_add_seen_expire),
	  cmocka_unit_test(test_out_of_order_expiry),
	  cmocka_unit_test(test_bound),
	  cmocka_unit_test(test_bound_per_owner),
	  cmocka_unit_test(test_claim_keeps_until_stamp_leaves_window),
	  cmocka_unit_test(test_many))
