/* Tests for controller/rpc.c, the RPC layer, called as the HTTP server's route calls it
 * (ctl_rpc_handle) on a controller state in a temporary SQLite file: parameters from the
 * query and from a form body, the V1 signature and its failures, Timestamp and
 * SignatureNonce, Version and Action lookup, RegionId, ClientToken's shape, and the error
 * body (RequestId, HostId, Code, Message, Recommend) with its HTTP status, as JSON and as
 * XML (Format=XML). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "unit.h"
#include "account.h"
#include "config.h"
#include "ctl.h"
#include "ctl_env.h"
#include "json.h"
#include "kv.h"
#include "url.h"
#include "nonce.h"
#include "rpc.h"
#include "sign.h"
#include "store.h"
#include "timeutil.h"
#include "util.h"

struct env {
	struct ctl_test_env t;
	struct ctl_account alice;
	int n_nonce;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	ctl_test_env_open(&e->t, "test_ctl_rpc");
	assert_int_equal(ecs_nonce_set_new(1024, &e->t.c.sig_nonces), 0);
	assert_int_equal(ctl_throttle_new(1000, 1000, &e->t.c.throttle), 0);
	assert_int_equal(ctl_account_create(&e->t.c, "alice", &e->alice), 0);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	ctl_throttle_free(e->t.c.throttle);
	ecs_nonce_set_free(e->t.c.sig_nonces);
	ctl_test_env_close(&e->t);
	free(e);
	return 0;
}

/* ---- making calls ---- */

enum {
	SIGNED = 1 << 0,   /* add AccessKeyId, SignatureNonce, Timestamp, … and a valid Signature */
	AS_FORM = 1 << 1,  /* the parameters in an x-www-form-urlencoded POST body */
	BAD_SIG = 1 << 2,  /* sign with another secret */
	SIGN_AS_GET = 1 << 3, /* sign as a GET whatever the method */
};

struct answer {
	int status;
	char content_type[64];
	char *body;
	struct json_object *json; /* the body parsed, for JSON answers */
};

static void answer_clear(struct answer *a)
{
	free(a->body);
	json_object_put(a->json);
}

/* The common parameters of a signed V1 call, before the caller's own. */
static void add_signing_params(struct env *e, struct ecs_kvlist *p)
{
	char ts[ECS_ISO8601_LEN + 1], nonce[32];

	ecs_time_format(time(NULL), ts);
	snprintf(nonce, sizeof(nonce), "nonce-%d-%ld", e->n_nonce++, (long)time(NULL));
	assert_int_equal(ecs_kvlist_add(p, "AccessKeyId", e->alice.access_key_id), 0);
	assert_int_equal(ecs_kvlist_add(p, "SignatureMethod", "HMAC-SHA1"), 0);
	assert_int_equal(ecs_kvlist_add(p, "SignatureVersion", "1.0"), 0);
	assert_int_equal(ecs_kvlist_add(p, "SignatureNonce", nonce), 0);
	assert_int_equal(ecs_kvlist_add(p, "Timestamp", ts), 0);
}

/* Call the endpoint with method and the parameters name, value, …, NULL (a name starting
 * with '-' removes that common parameter after signing, to test its absence). */
static struct answer call_full(struct env *e, const char *method, unsigned flags, ...)
{
	struct ecs_kvlist params = ECS_KVLIST_INIT, query = ECS_KVLIST_INIT, headers = ECS_KVLIST_INIT;
	struct ecs_http_response resp = { 0 };
	struct ecs_http_request req = { 0 };
	_cleanup_free_ char *body = NULL;
	struct answer a = { 0 };
	const char *k, *perr;
	va_list ap;

	if (flags & SIGNED)
		add_signing_params(e, &params);
	va_start(ap, flags);
	while ((k = va_arg(ap, const char *))) {
		const char *v = va_arg(ap, const char *);

		assert_int_equal(ecs_kvlist_set(&params, k, v), 0);
	}
	va_end(ap);
	if (flags & SIGNED) {
		_cleanup_free_ char *sig =
			ecs_rpc_sign((flags & SIGN_AS_GET) ? "GET" : method, &params,
				     (flags & BAD_SIG) ? "not-the-secret" : e->alice.access_key_secret);

		assert_non_null(sig);
		assert_int_equal(ecs_kvlist_add(&params, "Signature", sig), 0);
	}
	if (flags & AS_FORM) {
		body = ecs_form_build(&params);
		assert_non_null(body);
		assert_int_equal(ecs_kvlist_add(&headers, "Content-Type", "application/x-www-form-urlencoded"), 0);
	} else {
		for (size_t i = 0; i < params.n; i++)
			assert_int_equal(ecs_kvlist_add(&query, params.items[i].key, params.items[i].value), 0);
	}
	req = (struct ecs_http_request){ .method = method, .path = "/", .query = &query, .headers = &headers,
					 .body = body ? body : "", .body_len = body ? strlen(body) : 0,
					 .request_id = "REQ-1", .remote_addr = "127.0.0.1", .userdata = &e->t.c };
	ctl_rpc_handle(&req, &resp);
	a.status = resp.status;
	snprintf(a.content_type, sizeof(a.content_type), "%s", resp.content_type ? resp.content_type : "");
	a.body = strndup(resp.body ? resp.body : "", resp.body_len);
	if (str_has_prefix(a.content_type, "application/json"))
		assert_int_equal(ecs_json_parse(a.body, strlen(a.body), &a.json, &perr), 0);
	free(resp.body);
	free(resp.content_type);
	ecs_kvlist_clear(&resp.headers);
	ecs_kvlist_clear(&params);
	ecs_kvlist_clear(&query);
	ecs_kvlist_clear(&headers);
	return a;
}

#define call_signed(e, ...) call_full(e, "GET", SIGNED, __VA_ARGS__)

/* The ECS error body: every field present, the code and status as expected. */
static void expect_error(struct answer a, int status, const char *code)
{
	if (a.status != status || !a.json || !streq(ecs_json_str(a.json, "Code", ""), code))
		fail_msg("expected %d %s, got %d %s", status, code, a.status, a.body);
	assert_string_equal(ecs_json_str(a.json, "RequestId", ""), "REQ-1");
	assert_non_null(ecs_json_str(a.json, "HostId", NULL));
	assert_true(*ecs_json_str(a.json, "Message", ""));
	assert_non_null(ecs_json_str(a.json, "Recommend", NULL));
	answer_clear(&a);
}

/* ---- the happy path ---- */

static void test_signed_get(void **state)
{
	struct env *e = *state;
	struct answer a = call_signed(e, "Action", "DescribeRegions", "Version", CTL_API_VERSION, NULL);
	struct json_object *regions;

	assert_int_equal(a.status, 200);
	assert_string_equal(ecs_json_str(a.json, "RequestId", ""), "REQ-1");
	assert_true(json_object_object_get_ex(a.json, "Regions", &regions));
	answer_clear(&a);
}

/* pop-core's way: the parameters in a form body of a POST, signed as POST. */
static void test_signed_form_post(void **state)
{
	struct env *e = *state;
	struct answer a = call_full(e, "POST", SIGNED | AS_FORM, "Action", "DescribeRegions", "Version",
				    CTL_API_VERSION, NULL);

	assert_int_equal(a.status, 200);
	answer_clear(&a);
	/* Signed as GET, sent as POST: the method is in the string to sign. */
	expect_error(call_full(e, "POST", SIGNED | AS_FORM | SIGN_AS_GET, "Action", "DescribeRegions", "Version",
			       CTL_API_VERSION, NULL),
		     400, "SignatureDoesNotMatch");
}

/* Each of the strings ..., NULL is somewhere in body. */
static void assert_contains_all(const char *body, ...)
{
	const char *want;
	va_list ap;

	va_start(ap, body);
	while ((want = va_arg(ap, const char *))) {
		if (!strstr(body, want))
			fail_msg("\"%s\" not in %s", want, body);
	}
	va_end(ap);
}

static void test_format_xml(void **state)
{
	struct env *e = *state;
	struct answer a = call_signed(e, "Action", "DescribeRegions", "Version", CTL_API_VERSION, "Format", "XML", NULL);

	assert_int_equal(a.status, 200);
	assert_true(str_has_prefix(a.content_type, "text/xml"));
	assert_true(str_has_prefix(a.body, "<?xml"));
	assert_contains_all(a.body, "<DescribeRegionsResponse>", "<RequestId>REQ-1</RequestId>",
			    "</DescribeRegionsResponse>", NULL);
	answer_clear(&a);
	/* JSON by name too, any case for XML. */
	a = call_signed(e, "Action", "DescribeRegions", "Version", CTL_API_VERSION, "Format", "JSON", NULL);
	assert_int_equal(a.status, 200);
	assert_true(str_has_prefix(a.content_type, "application/json"));
	answer_clear(&a);
	a = call_signed(e, "Action", "DescribeRegions", "Version", CTL_API_VERSION, "Format", "xml", NULL);
	assert_true(str_has_prefix(a.content_type, "text/xml"));
	answer_clear(&a);
}

/* An error as XML: <Error> with the same fields. */
static void test_error_xml(void **state)
{
	struct env *e = *state;
	struct answer a = call_signed(e, "Action", "NoSuchAction", "Version", CTL_API_VERSION, "Format", "XML", NULL);

	assert_int_equal(a.status, 404);
	assert_true(str_has_prefix(a.content_type, "text/xml"));
	assert_contains_all(a.body, "<Error>", "<Code>InvalidApi.NotFound</Code>", "<RequestId>REQ-1</RequestId>",
			    "<HostId>", "<Message>", NULL);
	answer_clear(&a);
}

/* ---- signatures ---- */

static void test_signature_failures(void **state)
{
	struct env *e = *state;
	struct answer a = call_full(e, "GET", SIGNED | BAD_SIG, "Action", "DescribeRegions", "Version", CTL_API_VERSION,
				    NULL);

	/* The Python SDK splits the message at "is:" to show the server's string to sign. */
	assert_non_null(a.json);
	assert_non_null(strstr(ecs_json_str(a.json, "Message", ""), "server string to sign is:GET&%2F&"));
	expect_error(a, 400, "SignatureDoesNotMatch");
	/* A parameter changed after signing. */
	{
		struct ecs_kvlist p = ECS_KVLIST_INIT;
		_cleanup_free_ char *sig = NULL;

		add_signing_params(e, &p);
		ecs_kvlist_add(&p, "Action", "DescribeRegions");
		ecs_kvlist_add(&p, "Version", CTL_API_VERSION);
		sig = ecs_rpc_sign("GET", &p, e->alice.access_key_secret);
		a = call_signed(e, "Action", "DescribeZones", "Version", CTL_API_VERSION, "Signature", sig, NULL);
		ecs_kvlist_clear(&p);
	}
	expect_error(a, 400, "SignatureDoesNotMatch");
	expect_error(call_signed(e, "Action", "DescribeRegions", "Version", CTL_API_VERSION, "AccessKeyId", "LTAInobody",
				 NULL),
		     404, "InvalidAccessKeyId.NotFound");
	expect_error(call_full(e, "GET", 0, "Action", "DescribeRegions", "Version", CTL_API_VERSION, "AccessKeyId",
			       e->alice.access_key_id, NULL),
		     400, "MissingParameter");
	expect_error(call_full(e, "GET", 0, "Action", "DescribeRegions", "Version", CTL_API_VERSION, NULL), 400,
		     "MissingParameter");
	expect_error(call_signed(e, "Action", "DescribeRegions", "Version", CTL_API_VERSION, "SignatureMethod",
				 "HMAC-SHA256", NULL),
		     400, "InvalidParameter");
	expect_error(call_signed(e, "Action", "DescribeRegions", "Version", CTL_API_VERSION, "SignatureVersion", "2.0",
				 NULL),
		     400, "InvalidParameter");
}

static void test_timestamp(void **state)
{
	struct env *e = *state;
	char old[ECS_ISO8601_LEN + 1], soon[ECS_ISO8601_LEN + 1];

	ecs_time_format(time(NULL) - 16 * 60, old);
	ecs_time_format(time(NULL) + 14 * 60, soon);
	expect_error(call_signed(e, "Action", "DescribeRegions", "Version", CTL_API_VERSION, "Timestamp", old, NULL), 400,
		     "InvalidTimeStamp.Expired");
	expect_error(call_signed(e, "Action", "DescribeRegions", "Version", CTL_API_VERSION, "Timestamp", "yesterday",
				 NULL),
		     400, "InvalidTimeStamp.Format");
	{
		struct answer a = call_signed(e, "Action", "DescribeRegions", "Version", CTL_API_VERSION, "Timestamp", soon,
					      NULL);

		assert_int_equal(a.status, 200);
		answer_clear(&a);
	}
}

/* Nonces do not outlive a restart: a request dated before this run began is refused even
 * inside the window (an earlier run may have served it), one dated since is served. */
static void test_dated_before_start(void **state)
{
	struct env *e = *state;
	char before[ECS_ISO8601_LEN + 1], since[ECS_ISO8601_LEN + 1];
	struct answer a;

	e->t.c.started_at = time(NULL) - 60;
	ecs_time_format(e->t.c.started_at - 1, before);
	ecs_time_format(e->t.c.started_at, since);
	expect_error(call_signed(e, "Action", "DescribeRegions", "Version", CTL_API_VERSION, "Timestamp", before,
				 "SignatureNonce", "before", NULL),
		     400, "InvalidTimeStamp.Expired");
	a = call_signed(e, "Action", "DescribeRegions", "Version", CTL_API_VERSION, "Timestamp", since,
			"SignatureNonce", "since", NULL);
	assert_int_equal(a.status, 200);
	answer_clear(&a);
}

static void test_nonce(void **state)
{
	struct env *e = *state;
	struct answer a = call_signed(e, "Action", "DescribeRegions", "Version", CTL_API_VERSION, "SignatureNonce",
				      "once", NULL);

	assert_int_equal(a.status, 200);
	answer_clear(&a);
	expect_error(call_signed(e, "Action", "DescribeRegions", "Version", CTL_API_VERSION, "SignatureNonce", "once",
				 NULL),
		     400, "SignatureNonceUsed");
	expect_error(call_signed(e, "Action", "DescribeRegions", "Version", CTL_API_VERSION, "SignatureNonce", "", NULL),
		     400, "MissingParameter");
}

/* ---- action, version, region, parameters ---- */

static void test_action_and_version(void **state)
{
	struct env *e = *state;

	expect_error(call_signed(e, "Version", CTL_API_VERSION, NULL), 400, "MissingParameter");
	expect_error(call_signed(e, "Action", "NoSuchAction", "Version", CTL_API_VERSION, NULL), 404,
		     "InvalidApi.NotFound");
	/* The version is the namespace: an ECS action under SLB's version is unknown there. */
	expect_error(call_signed(e, "Action", "DescribeInstances", "Version", CTL_SLB_API_VERSION, NULL), 404,
		     "InvalidApi.NotFound");
	expect_error(call_signed(e, "Action", "DescribeInstances", "Version", "2099-01-01", NULL), 400,
		     "InvalidVersion");
	expect_error(call_signed(e, "Action", "DescribeInstances", NULL), 400, "MissingParameter");
	expect_error(call_signed(e, "Action", "DescribeRegions", "Version", CTL_API_VERSION, "RegionId", "mars-1", NULL),
		     404, "InvalidRegionId.NotFound");
}

static void test_method(void **state)
{
	struct env *e = *state;

	expect_error(call_full(e, "PUT", SIGNED, "Action", "DescribeRegions", "Version", CTL_API_VERSION, NULL), 405,
		     "UnsupportedHTTPMethod");
}

/* An action's own parameter errors reach the caller with their code and status. */
static void test_parameters(void **state)
{
	struct env *e = *state;

	expect_error(call_signed(e, "Action", "DescribeInstances", "Version", CTL_API_VERSION, "PageSize", "101", NULL),
		     400, "InvalidParameter");
	expect_error(call_signed(e, "Action", "DescribeInstances", "Version", CTL_API_VERSION, "PageNumber", "x", NULL),
		     400, "InvalidParameter");
	expect_error(call_signed(e, "Action", "StartInstance", "Version", CTL_API_VERSION, NULL), 400,
		     "MissingParameter");
	expect_error(call_signed(e, "Action", "StartInstance", "Version", CTL_API_VERSION, "InstanceId", "i-nothere",
				 NULL),
		     404, "InvalidInstanceId.NotFound");
	expect_error(call_signed(e, "Action", "StartInstance", "Version", CTL_API_VERSION, "InstanceId", "i-nothere",
				 "ClientToken", "bad\ttoken", NULL),
		     400, "InvalidClientToken.Malformed");
	{
		struct answer a = call_signed(e, "Action", "DescribeInstances", "Version", CTL_API_VERSION, "PageSize",
					      "100", "PageNumber", "3", NULL);

		assert_int_equal(a.status, 200);
		assert_int_equal(ecs_json_int(a.json, "PageSize", 0), 100);
		assert_int_equal(ecs_json_int(a.json, "PageNumber", 0), 3);
		assert_int_equal(ecs_json_int(a.json, "TotalCount", -1), 0);
		answer_clear(&a);
	}
}

/* A Describe* gives its pooled connection back exactly once: two connections taken
 * afterwards are two (one given back twice would be handed to two callers). */
static void test_describe_returns_connection_once(void **state)
{
	static const char *const actions[] = { "DescribeKeyPairs", "DescribeAutoSnapshotPolicyEx",
					       "DescribeSecurityGroups", "DescribeInstances", "DescribeDisks",
					       "DescribeSnapshots", "DescribeImages", "DescribeInstanceStatus" };
	struct env *e = *state;

	for (size_t i = 0; i < ARRAY_SIZE(actions); i++) {
		struct answer a = call_signed(e, "Action", actions[i], "Version", CTL_API_VERSION, NULL);
		sqlite3 *one, *two;

		if (a.status != 200)
			fail_msg("%s: %d %s", actions[i], a.status, a.body);
		answer_clear(&a);
		one = ctl_db_get(e->t.c.store);
		two = ctl_db_get(e->t.c.store);
		if (one == two)
			fail_msg("%s gave its connection back twice", actions[i]);
		ctl_db_put(e->t.c.store, two);
		ctl_db_put(e->t.c.store, one);
	}
}

/* More parameters than [controller] max_params: refused before any other check. */
static void test_too_many_parameters(void **state)
{
	struct env *e = *state;
	struct ecs_kvlist q = ECS_KVLIST_INIT, h = ECS_KVLIST_INIT;
	struct ecs_http_response resp = { 0 };
	struct ecs_http_request req = { .method = "GET", .path = "/", .query = &q, .headers = &h, .body = "",
					.request_id = "REQ-1", .remote_addr = "127.0.0.1", .userdata = &e->t.c };
	struct json_object *o = NULL;
	const char *perr;

	for (int i = 0; i <= e->t.c.cfg.max_params; i++) {
		char k[32];

		snprintf(k, sizeof(k), "P%d", i);
		assert_int_equal(ecs_kvlist_add(&q, k, "v"), 0);
	}
	ctl_rpc_handle(&req, &resp);
	assert_int_equal(resp.status, 400);
	assert_int_equal(ecs_json_parse(resp.body, resp.body_len, &o, &perr), 0);
	assert_string_equal(ecs_json_str(o, "Code", ""), "InvalidParameter");
	json_object_put(o);
	free(resp.body);
	free(resp.content_type);
	ecs_kvlist_clear(&resp.headers);
	ecs_kvlist_clear(&q);
}

UNIT_MAIN("ctl_rpc", setup, teardown, NULL, NULL,
	  cmocka_unit_test(test_signed_get),
	  cmocka_unit_test(test_signed_form_post),
	  cmocka_unit_test(test_format_xml),
	  cmocka_unit_test(test_error_xml),
	  cmocka_unit_test(test_signature_failures),
	  cmocka_unit_test(test_timestamp),
	  cmocka_unit_test(test_dated_before_start),
	  cmocka_unit_test(test_nonce),
	  cmocka_unit_test(test_action_and_version),
	  cmocka_unit_test(test_method),
	  cmocka_unit_test(test_parameters),
	  cmocka_unit_test(test_too_many_parameters),
	  cmocka_unit_test(test_describe_returns_connection_once))
