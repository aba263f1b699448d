/* Tests for lib/sign.c and lib/url.c: the RPC signature 1.0 and percent-encoding. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"
#include "sign.h"
#include "url.h"
#include "util.h"

/* kv: key, value, key, value, ..., NULL; each pair added to l in order. */
static void kv_add_all(struct ecs_kvlist *l, const char *const *kv)
{
	for (; kv[0]; kv += 2)
		ecs_kvlist_add(l, kv[0], kv[1]);
}

static void add_vector_params(struct ecs_kvlist *p)
{
	/* Deliberately unsorted: signing must sort. */
	kv_add_all(p, (const char *const[]){
					"Version", "2014-05-26",
					"Action", "DescribeRegions",
					"AccessKeyId", "testid",
					"Format", "XML",
					"SignatureMethod", "HMAC-SHA1",
					"SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
					"SignatureVersion", "1.0",
					"TimeStamp", "2016-02-23T12:46:24Z",
					NULL });
}

static void test_public_vector(void **state)
{
	struct ecs_kvlist p = ECS_KVLIST_INIT;
	_cleanup_free_ char *sig = NULL, *sts = NULL;

	(void)state;
	add_vector_params(&p);
	sts = ecs_rpc_string_to_sign("GET", &p);
	assert_string_equal(sts, "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML"
				 "%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-"
				 "4e0ad82fd6cf%26SignatureVersion%3D1.0%26TimeStamp%3D2016-02-23T12%253A46%"
				 "253A24Z%26Version%3D2014-05-26");
	sig = ecs_rpc_sign("GET", &p, "testsecret");
	assert_string_equal(sig, "CT9X0VtwR86fNWSnsc6v8YGOjuE=");
	ecs_kvlist_clear(&p);
}

static void test_verify(void **state)
{
	struct ecs_kvlist p = ECS_KVLIST_INIT;
	char *sts = NULL;

	(void)state;
	add_vector_params(&p);
	assert_int_equal(ecs_rpc_verify("GET", &p, "testsecret", NULL), -ENOENT);

	ecs_kvlist_add(&p, "Signature", "CT9X0VtwR86fNWSnsc6v8YGOjuE=");
	assert_int_equal(ecs_rpc_verify("GET", &p, "testsecret", NULL), 0);
	/* Another method, another secret, a changed parameter: all fail. */
	assert_int_equal(ecs_rpc_verify("POST", &p, "testsecret", NULL), -EBADMSG);
	assert_int_equal(ecs_rpc_verify("GET", &p, "testsecreT", &sts), -EBADMSG);
	assert_non_null(sts);
	assert_true(str_has_prefix(sts, "GET&%2F&AccessKeyId"));
	free(sts);
	ecs_kvlist_set(&p, "Format", "JSON");
	assert_int_equal(ecs_rpc_verify("GET", &p, "testsecret", NULL), -EBADMSG);
	ecs_kvlist_clear(&p);
}

static void assert_encodes(const char *in, const char *want)
{
	_cleanup_free_ char *got = ecs_percent_encode(in);

	assert_string_equal(got, want);
}

static void test_percent_encode_edges(void **state)
{
	(void)state;
	assert_encodes("", "");
	assert_encodes("AZaz09-_.~", "AZaz09-_.~");
	assert_encodes("a b", "a%20b");  /* space is %20, never + */
	assert_encodes("a*b", "a%2Ab");  /* * is encoded (Java's encoder leaves it) */
	assert_encodes("a~b", "a~b");	 /* ~ is kept (Java's encoder escapes it) */
	assert_encodes("a/b", "a%2Fb");
	assert_encodes("a+b", "a%2Bb");
	assert_encodes("a=b&c", "a%3Db%26c");
	assert_encodes("%", "%25");
	assert_encodes("\xe4\xb8\xad\xe6\x96\x87", "%E4%B8%AD%E6%96%87"); /* "中文" as UTF-8 */
	assert_encodes("é", "%C3%A9");
	assert_encodes("\x7f\x01", "%7F%01");
}

static void test_sign_non_ascii_and_space(void **state)
{
	struct ecs_kvlist p = ECS_KVLIST_INIT;
	_cleanup_free_ char *sts = NULL;

	(void)state;
	ecs_kvlist_add(&p, "InstanceName", "my vm*~/中");
	ecs_kvlist_add(&p, "Action", "CreateInstance");
	sts = ecs_rpc_string_to_sign("POST", &p);
	/* The value is encoded once inside C, then C is encoded again. */
	assert_string_equal(sts, "POST&%2F&Action%3DCreateInstance%26InstanceName%3Dmy%2520vm%252A~%252F%25E4%25B8%25AD");
	ecs_kvlist_clear(&p);
}

static void test_repeated_keys_keep_order(void **state)
{
	struct ecs_kvlist a = ECS_KVLIST_INIT, b = ECS_KVLIST_INIT;
	_cleanup_free_ char *sa = NULL, *sb = NULL;

	(void)state;
	kv_add_all(&a, (const char *const[]){ "b", "2", "a", "1", "b", "1", NULL });
	kv_add_all(&b, (const char *const[]){ "a", "1", "b", "2", "b", "1", NULL });
	sa = ecs_rpc_string_to_sign("GET", &a);
	sb = ecs_rpc_string_to_sign("GET", &b);
	assert_string_equal(sa, sb);
	assert_string_equal(sa, "GET&%2F&a%3D1%26b%3D2%26b%3D1");
	ecs_kvlist_clear(&a);
	ecs_kvlist_clear(&b);
}

static void test_percent_decode(void **state)
{
	char *out = NULL;

	(void)state;
	assert_int_equal(ecs_percent_decode("a%20b+c", 7, true, &out), 0);
	assert_string_equal(out, "a b c");
	free(out);
	assert_int_equal(ecs_percent_decode("a+c", 3, false, &out), 0);
	assert_string_equal(out, "a+c");
	free(out);
	assert_int_equal(ecs_percent_decode("%E4%b8%AD", 9, false, &out), 0);
	assert_string_equal(out, "\xe4\xb8\xad");
	free(out);
	out = NULL;
	assert_int_equal(ecs_percent_decode("%", 1, false, &out), -EINVAL);
	assert_int_equal(ecs_percent_decode("%4", 2, false, &out), -EINVAL);
	assert_int_equal(ecs_percent_decode("%zz", 3, false, &out), -EINVAL);
	assert_int_equal(ecs_percent_decode("a%00b", 5, false, &out), -EINVAL);
	assert_null(out);
}

static void test_form_parse(void **state)
{
	struct ecs_kvlist l = ECS_KVLIST_INIT;
	const char *body = "Action=RunInstances&InstanceName=a+b%2Fc&Empty=&Flag&&Tag.1.Key=k%3D";

	(void)state;
	assert_int_equal(ecs_form_parse(body, strlen(body), 100, &l), 0);
	assert_int_equal(l.n, 5);
	assert_string_equal(ecs_kvlist_get(&l, "Action"), "RunInstances");
	assert_string_equal(ecs_kvlist_get(&l, "InstanceName"), "a b/c");
	assert_string_equal(ecs_kvlist_get(&l, "Empty"), "");
	assert_string_equal(ecs_kvlist_get(&l, "Flag"), "");
	assert_string_equal(ecs_kvlist_get(&l, "Tag.1.Key"), "k=");
	ecs_kvlist_clear(&l);

	assert_int_equal(ecs_form_parse("a=1&b=2&c=3", 11, 2, &l), -E2BIG);
	ecs_kvlist_clear(&l);
	assert_int_equal(ecs_form_parse("a=%G1", 5, 10, &l), -EINVAL);
	ecs_kvlist_clear(&l);
}

static void test_form_build_round_trip(void **state)
{
	struct ecs_kvlist l = ECS_KVLIST_INIT, back = ECS_KVLIST_INIT;
	_cleanup_free_ char *s = NULL;

	(void)state;
	ecs_kvlist_add(&l, "K 1", "v&=+/中");
	ecs_kvlist_add(&l, "k2", "");
	s = ecs_form_build(&l);
	assert_string_equal(s, "K%201=v%26%3D%2B%2F%E4%B8%AD&k2=");
	assert_int_equal(ecs_form_parse(s, strlen(s), 10, &back), 0);
	assert_string_equal(ecs_kvlist_get(&back, "K 1"), "v&=+/中");
	ecs_kvlist_clear(&l);
	ecs_kvlist_clear(&back);
}

static void test_kvlist(void **state)
{
	struct ecs_kvlist l = ECS_KVLIST_INIT;

	(void)state;
	kv_add_all(&l, (const char *const[]){ "Host", "a", "x", "1", "x", "2", NULL });
	assert_string_equal(ecs_kvlist_get_case(&l, "host"), "a");
	assert_null(ecs_kvlist_get(&l, "host"));
	assert_int_equal(ecs_kvlist_remove(&l, "x"), 2);
	assert_int_equal(l.n, 1);
	ecs_kvlist_set(&l, "Host", "b");
	assert_string_equal(ecs_kvlist_get(&l, "Host"), "b");
	ecs_kvlist_clear(&l);
	ecs_kvlist_clear(&l); /* idempotent */
}

/* A vector made with Alibaba Cloud's own @alicloud/openapi-util 0.3.2 (getAuthorization),
 * the code the current SDKs sign V3 requests with. */
static void test_acs3_vector(void **state)
{
	struct ecs_kvlist q = ECS_KVLIST_INIT, h = ECS_KVLIST_INIT;
	_cleanup_free_ char *canon = NULL;
	struct ecs_acs3_auth auth;
	char sig[65];

	(void)state;
	kv_add_all(&q, (const char *const[]){
					"RegionId", "cn-hangzhou",
					"InstanceIds", "[\"i-abc\"]",
					"InstanceName", "a b*~/\xe4\xb8\xad",
					NULL });
	kv_add_all(&h, (const char *const[]){
					"Host", "ecs.example.com",
					"x-acs-action", "DescribeInstances",
					"x-acs-version", "2014-05-26",
					"x-acs-date", "2024-01-01T00:00:00Z",
					"X-Acs-Signature-Nonce", "3f1c0a7e-nonce",
					"x-acs-content-sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
					NULL });
	assert_int_equal(ecs_acs3_parse("ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=host;x-acs-action;"
					"x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,"
					"Signature=e413f1f9c15a531eb986fb5efdfccd4b00e3de1e02e9111582516b4be903d94e",
					&auth),
			 0);
	assert_string_equal(auth.access_key_id, "testid");
	canon = ecs_acs3_canonical_request("POST", "/", &q, &h, auth.signed_headers,
					   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_non_null(canon);
	assert_int_equal(ecs_acs3_sign("testsecret", canon, sig), 0);
	assert_string_equal(sig, auth.signature);
	assert_int_equal(ecs_acs3_parse("ACS3-HMAC-SHA256 Credential=,SignedHeaders=a,Signature=b", &auth), -EINVAL);
	assert_int_equal(ecs_acs3_parse("OSS abc:def", &auth), -EINVAL);
	ecs_kvlist_clear(&q);
	ecs_kvlist_clear(&h);
}

/* SignedHeaders is parsed exactly (issue 11, defect 6): lookalike names, empty items,
 * unsorted or repeated names and a missing required header are refused. */
static void test_acs3_signed_headers(void **state)
{
	static const char *const req[] = { "host", "x-acs-action", "x-acs-content-sha256", "x-acs-date",
					   "x-acs-signature-nonce", "x-acs-version", NULL };
	const char *missing = NULL;

	(void)state;
	assert_int_equal(ecs_acs3_signed_headers_check("host;x-acs-action;x-acs-content-sha256;x-acs-date;"
						       "x-acs-signature-nonce;x-acs-version", req, NULL), 0);
	assert_int_equal(ecs_acs3_signed_headers_check("content-type;host;x-acs-action;x-acs-content-sha256;"
						       "x-acs-date;x-acs-signature-nonce;x-acs-version", req, NULL), 0);
	/* Lookalikes of the date and nonce do not count. */
	assert_int_equal(ecs_acs3_signed_headers_check("host;x-acs-action;x-acs-content-sha256;x-acs-date-x;"
						       "x-acs-signature-nonce-x;x-acs-version", req, &missing), -ENOENT);
	assert_string_equal(missing, "x-acs-date");
	assert_int_equal(ecs_acs3_signed_headers_check("x-acs-content-sha256;x-acs-date;x-acs-signature-nonce",
						       req, &missing), -ENOENT);
	assert_string_equal(missing, "host");
	assert_int_equal(ecs_acs3_signed_headers_check("host;x-acs-action;x-acs-content-sha256;x-acs-date;"
						       "x-acs-signature-nonce", req, &missing), -ENOENT);
	assert_string_equal(missing, "x-acs-version");
	/* Malformed lists. */
	assert_int_equal(ecs_acs3_signed_headers_check("", req, NULL), -EINVAL);
	assert_int_equal(ecs_acs3_signed_headers_check("host;;x-acs-date", NULL, NULL), -EINVAL);
	assert_int_equal(ecs_acs3_signed_headers_check("host;", NULL, NULL), -EINVAL);
	assert_int_equal(ecs_acs3_signed_headers_check(";host", NULL, NULL), -EINVAL);
	assert_int_equal(ecs_acs3_signed_headers_check("x-acs-date;host", NULL, NULL), -EINVAL);
	assert_int_equal(ecs_acs3_signed_headers_check("host;host", NULL, NULL), -EINVAL);
	assert_int_equal(ecs_acs3_signed_headers_check("Host;x-acs-date", NULL, NULL), -EINVAL);
	assert_int_equal(ecs_acs3_signed_headers_check("host; x-acs-date", NULL, NULL), -EINVAL);
	/* A prefix sorts first: "x-acs-date" before "x-acs-date-x". */
	assert_int_equal(ecs_acs3_signed_headers_check("x-acs-date;x-acs-date-x", NULL, NULL), 0);
	assert_int_equal(ecs_acs3_signed_headers_check("x-acs-date-x;x-acs-date", NULL, NULL), -EINVAL);
}

UNIT_MAIN("sign", NULL, NULL, NULL, NULL,
	  cmocka_unit_test(test_public_vector),
	  cmocka_unit_test(test_verify),
	  cmocka_unit_test(test_percent_encode_edges),
	  cmocka_unit_test(test_sign_non_ascii_and_space),
	  cmocka_unit_test(test_repeated_keys_keep_order),
	  cmocka_unit_test(test_percent_decode),
	  cmocka_unit_test(test_form_parse),
	  cmocka_unit_test(test_form_build_round_trip),
	  cmocka_unit_test(test_kvlist),
	  cmocka_unit_test(test_acs3_vector),
	  cmocka_unit_test(test_acs3_signed_headers))
