/* Tests for lib/hostauth.c: signing agent/controller calls and refusing unsigned, stale,
 * replayed and tampered ones. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit.h"
#include "hostauth.h"
#include "util.h"

#define KEY "host-key-0123456789"
#define HOST "host-a"
/* HMAC-SHA256 of "ECS2-HMAC-SHA256\nh1\nGET\n/v1/host\n\n1700000000\nnonce-0123456789\n" sha256("") */
#define KNOWN_SIG "7640edfc377ffdf79b3f13e0318eb17e182b45d56af49cd0366dda8809add424"

static void sign_request(const char *method, const char *path, struct ecs_kvlist *q, const char *body,
			 struct ecs_kvlist *h)
{
	assert_int_equal(ecs_hostauth_add_headers(KEY, HOST, method, path, q, body, body ? strlen(body) : 0, h), 0);
}

static int verify(struct ecs_nonce_cache *c, const char *method, const char *path, struct ecs_kvlist *q,
		  struct ecs_kvlist *h, const char *body, time_t now, const char **why)
{
	return ecs_hostauth_verify(KEY, HOST, c, method, path, q, h, body, body ? strlen(body) : 0, now, why);
}

static void test_good_then_replayed(void **state)
{
	struct ecs_nonce_cache *c;
	struct ecs_kvlist q = ECS_KVLIST_INIT, h = ECS_KVLIST_INIT;
	const char *why = NULL;

	(void)state;
	assert_int_equal(ecs_nonce_cache_new(128, &c), 0);
	ecs_kvlist_add(&q, "z", "1");
	ecs_kvlist_add(&q, "a", "x y");
	sign_request("PUT", "/v1/instances/i-1", &q, "{\"a\":1}", &h);
	assert_int_equal(verify(c, "PUT", "/v1/instances/i-1", &q, &h, "{\"a\":1}", time(NULL), &why), 0);
	/* The same request again is a replay. */
	assert_int_equal(verify(c, "PUT", "/v1/instances/i-1", &q, &h, "{\"a\":1}", time(NULL), &why), -EACCES);
	assert_string_equal(why, "replayed request (nonce already used)");
	ecs_kvlist_clear(&q);
	ecs_kvlist_clear(&h);
	ecs_nonce_cache_free(c);
}

static void test_tampering(void **state)
{
	struct ecs_nonce_cache *c;
	struct ecs_kvlist q = ECS_KVLIST_INIT, q2 = ECS_KVLIST_INIT, h = ECS_KVLIST_INIT;
	const char *why = NULL;
	time_t now = time(NULL);

	(void)state;
	assert_int_equal(ecs_nonce_cache_new(128, &c), 0);
	ecs_kvlist_add(&q, "force", "true");
	sign_request("POST", "/v1/instances/i-1/stop", &q, "{}", &h);
	assert_int_equal(verify(c, "POST", "/v1/instances/i-2/stop", &q, &h, "{}", now, &why), -EACCES);
	assert_string_equal(why, "signature does not match");
	assert_int_equal(verify(c, "DELETE", "/v1/instances/i-1/stop", &q, &h, "{}", now, &why), -EACCES);
	assert_int_equal(verify(c, "POST", "/v1/instances/i-1/stop", &q, &h, "{ }", now, &why), -EACCES);
	ecs_kvlist_add(&q2, "force", "false");
	assert_int_equal(verify(c, "POST", "/v1/instances/i-1/stop", &q2, &h, "{}", now, &why), -EACCES);
	assert_int_equal(ecs_hostauth_verify("other-key", HOST, c, "POST", "/v1/instances/i-1/stop", &q, &h, "{}", 2, now,
					     &why),
			 -EACCES);
	/* None of the failures spent the nonce: the genuine request still passes. */
	assert_int_equal(verify(c, "POST", "/v1/instances/i-1/stop", &q, &h, "{}", now, &why), 0);
	ecs_kvlist_clear(&q);
	ecs_kvlist_clear(&q2);
	ecs_kvlist_clear(&h);
	ecs_nonce_cache_free(c);
}

static void test_stale_and_missing(void **state)
{
	struct ecs_nonce_cache *c;
	struct ecs_kvlist h = ECS_KVLIST_INIT, none = ECS_KVLIST_INIT;
	const char *why = NULL;

	(void)state;
	assert_int_equal(ecs_nonce_cache_new(128, &c), 0);
	assert_int_equal(verify(c, "GET", "/v1/host", NULL, &none, NULL, time(NULL), &why), -EACCES);
	assert_true(str_has_prefix(why, "missing signature"));
	sign_request("GET", "/v1/host", NULL, NULL, &h);
	assert_int_equal(verify(c, "GET", "/v1/host", NULL, &h, NULL, time(NULL) + ECS_HOSTAUTH_WINDOW_S + 5, &why),
			 -EACCES);
	assert_true(str_has_prefix(why, "stale request"));
	assert_int_equal(verify(c, "GET", "/v1/host", NULL, &h, NULL, time(NULL) - ECS_HOSTAUTH_WINDOW_S - 5, &why),
			 -EACCES);
	ecs_kvlist_set(&h, "X-Ecs-Nonce", "short");
	assert_int_equal(verify(c, "GET", "/v1/host", NULL, &h, NULL, time(NULL), &why), -EACCES);
	assert_string_equal(why, "malformed X-Ecs-Nonce");
	ecs_kvlist_set(&h, "Authorization", "Basic abc");
	assert_int_equal(verify(c, "GET", "/v1/host", NULL, &h, NULL, time(NULL), &why), -EACCES);
	assert_string_equal(why, "unknown signature scheme");
	ecs_kvlist_clear(&h);
	ecs_nonce_cache_free(c);
}

static void test_cache_full_refuses(void **state)
{
	struct ecs_nonce_cache *c;
	const char *why = NULL;
	time_t now = time(NULL);

	(void)state;
	assert_int_equal(ecs_nonce_cache_new(4, &c), 0);
	for (int i = 0; i < 5; i++) {
		struct ecs_kvlist h = ECS_KVLIST_INIT;

		sign_request("GET", "/v1/host", NULL, NULL, &h);
		assert_int_equal(verify(c, "GET", "/v1/host", NULL, &h, NULL, now, &why), i < 4 ? 0 : -EACCES);
		ecs_kvlist_clear(&h);
	}
	assert_string_equal(why, "too many requests in the window");
	/* Once the first nonces have expired, their slots are free again. */
	{
		struct ecs_kvlist h = ECS_KVLIST_INIT;
		time_t later = now + ECS_HOSTAUTH_WINDOW_S + 2;
		char sig[65], date[24], auth[100];
		const char *nonce = "later-nonce-0123456789";

		assert_int_equal(ecs_hostauth_sign(KEY, HOST, "GET", "/v1/host", NULL, later, nonce, NULL, 0, sig), 0);
		snprintf(date, sizeof(date), "%lld", (long long)later);
		snprintf(auth, sizeof(auth), "%s %s", ECS_HOSTAUTH_SCHEME, sig);
		ecs_kvlist_add(&h, "X-Ecs-Date", date);
		ecs_kvlist_add(&h, "X-Ecs-Nonce", nonce);
		ecs_kvlist_add(&h, "Authorization", auth);
		assert_int_equal(ecs_hostauth_verify(KEY, HOST, c, "GET", "/v1/host", NULL, &h, NULL, 0, later, &why), 0);
		ecs_kvlist_clear(&h);
	}
	ecs_nonce_cache_free(c);
}

static void test_read_key(void **state)
{
	char path[64];
	char *key = NULL;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/ecs-test-hostkey-%d", getpid());
	/* Trailing newlines, carriage returns and blanks are no part of the key. */
	assert_int_equal(ecs_write_file_atomic(path, "0123456789abcdef \r\n\n", 20, 0600), 0);
	assert_int_equal(ecs_hostauth_read_key(path, &key), 0);
	assert_string_equal(key, "0123456789abcdef");
	free(key);
	key = NULL;
	/* 15 characters, padded: too short. */
	assert_int_equal(ecs_write_file_atomic(path, "0123456789abcde\n  \n", 19, 0600), 0);
	assert_int_equal(ecs_hostauth_read_key(path, &key), -EINVAL);
	assert_null(key);
	/* A file past the bound. */
	{
		char *big = malloc(ECS_HOSTAUTH_KEY_MAX + 1);

		assert_non_null(big);
		memset(big, 'k', ECS_HOSTAUTH_KEY_MAX + 1);
		assert_int_equal(ecs_write_file_atomic(path, big, ECS_HOSTAUTH_KEY_MAX + 1, 0600), 0);
		free(big);
	}
	assert_int_equal(ecs_hostauth_read_key(path, &key), -EFBIG);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(ecs_hostauth_read_key(path, &key), -ENOENT);
	assert_null(key);
}

/* The signature names the host it is meant for: one cluster key, yet a request signed for
 * host-a is refused by host-b (and by the controller, whose name is ""), and the other way
 * round. The refusals spend no nonce. */
static void test_bound_to_its_host(void **state)
{
	struct ecs_nonce_cache *c;
	struct ecs_kvlist h = ECS_KVLIST_INIT, hc = ECS_KVLIST_INIT;
	const char *why = NULL;
	time_t now = time(NULL);

	(void)state;
	assert_int_equal(ecs_nonce_cache_new(128, &c), 0);
	sign_request("DELETE", "/v1/instances/i-1", NULL, NULL, &h);
	assert_int_equal(ecs_hostauth_verify(KEY, "host-b", c, "DELETE", "/v1/instances/i-1", NULL, &h, NULL, 0, now, &why),
			 -EACCES);
	assert_string_equal(why, "signature does not match");
	assert_int_equal(ecs_hostauth_verify(KEY, "", c, "DELETE", "/v1/instances/i-1", NULL, &h, NULL, 0, now, &why),
			 -EACCES);
	/* A prefix of the name is another name. */
	assert_int_equal(ecs_hostauth_verify(KEY, "host-", c, "DELETE", "/v1/instances/i-1", NULL, &h, NULL, 0, now, &why),
			 -EACCES);
	assert_int_equal(verify(c, "DELETE", "/v1/instances/i-1", NULL, &h, NULL, now, &why), 0);
	/* A call to the controller (host "") is no call to an agent. */
	assert_int_equal(ecs_hostauth_add_headers(KEY, "", "GET", "/v1/host", NULL, NULL, 0, &hc), 0);
	assert_int_equal(verify(c, "GET", "/v1/host", NULL, &hc, NULL, now, &why), -EACCES);
	assert_int_equal(ecs_hostauth_verify(KEY, "", c, "GET", "/v1/host", NULL, &hc, NULL, 0, now, &why), 0);
	/* A host name with a newline could forge the lines after it: refused. */
	assert_int_equal(ecs_hostauth_add_headers(KEY, "a\nb", "GET", "/v1/host", NULL, NULL, 0, &hc), -EINVAL);
	ecs_kvlist_clear(&h);
	ecs_kvlist_clear(&hc);
	ecs_nonce_cache_free(c);
}

/* The string to sign, pinned: the Python client (tests/e2e/agentlib.py) and docs/agent-api.md
 * make the same. */
static void test_known_signature(void **state)
{
	char sig[65];

	(void)state;
	assert_int_equal(ecs_hostauth_sign("k-0123456789abcdef", "h1", "GET", "/v1/host", NULL, 1700000000,
					   "nonce-0123456789", NULL, 0, sig),
			 0);
	assert_string_equal(sig, KNOWN_SIG);
}

UNIT_MAIN("hostauth", NULL, NULL, NULL, NULL,
	  cmocka_unit_test(test_good_then_replayed),
	  cmocka_unit_test(test_tampering),
	  cmocka_unit_test(test_stale_and_missing),
	  cmocka_unit_test(test_cache_full_refuses),
	  cmocka_unit_test(test_read_key),
	  cmocka_unit_test(test_bound_to_its_host),
	  cmocka_unit_test(test_known_signature))
