/* Tests for storage/oss/sigv1.c and parse.c: the OSS V1 string to sign, Range, HTTP dates,
 * bucket names, object keys and the XML bodies ecs-ossd reads. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"
#include "kv.h"
#include "parse.h"
#include "sigv1.h"
#include "util.h"

static void test_string_to_sign(void **state)
{
	struct ecs_kvlist h = ECS_KVLIST_INIT, q = ECS_KVLIST_INIT;
	const char *date = "Sun, 06 Dec 2026 18:00:00 GMT";
	char sig[29];
	char *sts;

	(void)state;
	ecs_kvlist_add(&h, "Content-Type", "text/plain");
	ecs_kvlist_add(&h, "Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg==");
	ecs_kvlist_add(&h, "X-OSS-Meta-A", " 1 ");
	ecs_kvlist_add(&h, "x-oss-date", date);
	ecs_kvlist_add(&h, "Host", "bkt.oss-cn-local.aliyuncs.com");
	/* Only signed sub-resources, sorted; list parameters are not signed. */
	ecs_kvlist_add(&q, "response-content-type", "text/x");
	ecs_kvlist_add(&q, "prefix", "p");
	ecs_kvlist_add(&q, "acl", "");
	struct oss_sign_input in = { .method = "PUT", .date = date, .headers = &h, .query = &q, .bucket = "bkt",
				     .key = "dir/k" };
	sts = oss_sign_string(&in);
	assert_string_equal(sts, "PUT\n1B2M2Y8AsgTpgAmY7PhCfg==\ntext/plain\nSun, 06 Dec 2026 18:00:00 GMT\n"
				 "x-oss-date:Sun, 06 Dec 2026 18:00:00 GMT\nx-oss-meta-a:1\n"
				 "/bkt/dir/k?acl&response-content-type=text/x");
	/* The HMAC as Python's hmac module computes it over the same string. */
	assert_int_equal(oss_sign_v1("secret", sts, sig), 0);
	assert_string_equal(sig, "gmhfR3lxJLqbt90zw+9lkTxA350=");
	free(sts);
	/* A bucket call's resource ends with '/', the service's is "/". */
	in = (struct oss_sign_input){ .method = "GET", .date = date, .headers = NULL, .query = NULL, .bucket = "bkt" };
	sts = oss_sign_string(&in);
	assert_string_equal(sts, "GET\n\n\nSun, 06 Dec 2026 18:00:00 GMT\n/bkt/");
	free(sts);
	in.bucket = NULL;
	sts = oss_sign_string(&in);
	assert_string_equal(sts, "GET\n\n\nSun, 06 Dec 2026 18:00:00 GMT\n/");
	free(sts);
	ecs_kvlist_clear(&h);
	ecs_kvlist_clear(&q);
}

static void test_auth_header(void **state)
{
	char ak[OSS_AK_MAX], sig[OSS_SIG_MAX];

	(void)state;
	assert_int_equal(oss_auth_header_parse("OSS LTAIabc:c2lnbmF0dXJl", ak, sig), 0);
	assert_string_equal(ak, "LTAIabc");
	assert_string_equal(sig, "c2lnbmF0dXJl");
	assert_int_equal(oss_auth_header_parse("OSS :sig", ak, sig), -EINVAL);
	assert_int_equal(oss_auth_header_parse("OSS ak:", ak, sig), -EINVAL);
	assert_int_equal(oss_auth_header_parse("OSS4-HMAC-SHA256 Credential=x", ak, sig), -EINVAL);
	assert_int_equal(oss_auth_header_parse("AWS ak:sig", ak, sig), -EINVAL);
	assert_int_equal(oss_auth_header_parse(NULL, ak, sig), -EINVAL);
}

static void test_range(void **state)
{
	uint64_t s = 0, l = 0;

	(void)state;
	assert_int_equal(oss_range_parse("bytes=0-9", 100, &s, &l), 0);
	assert_true(s == 0 && l == 10);
	assert_int_equal(oss_range_parse("bytes=90-", 100, &s, &l), 0);
	assert_true(s == 90 && l == 10);
	assert_int_equal(oss_range_parse("bytes=90-1000", 100, &s, &l), 0);
	assert_true(s == 90 && l == 10);
	assert_int_equal(oss_range_parse("bytes=-10", 100, &s, &l), 0);
	assert_true(s == 90 && l == 10);
	assert_int_equal(oss_range_parse("bytes=-1000", 100, &s, &l), 0);
	assert_true(s == 0 && l == 100);
	assert_int_equal(oss_range_parse("bytes=100-", 100, &s, &l), -ERANGE);
	assert_int_equal(oss_range_parse("bytes=-0", 100, &s, &l), -ERANGE);
	assert_int_equal(oss_range_parse("bytes=0-0", 0, &s, &l), -ERANGE);
	/* Ignored, as OSS ignores them: the whole object. */
	assert_int_equal(oss_range_parse("bytes=5-1", 100, &s, &l), 1);
	assert_int_equal(oss_range_parse("bytes=0-1,3-4", 100, &s, &l), 1);
	assert_int_equal(oss_range_parse("items=0-1", 100, &s, &l), 1);
	assert_int_equal(oss_range_parse("bytes=a-b", 100, &s, &l), 1);
	assert_int_equal(oss_range_parse("bytes=99999999999999999999-", 100, &s, &l), 1);
}

static void test_dates(void **state)
{
	char buf[32];
	time_t t;

	(void)state;
	assert_int_equal(oss_http_date_parse("Sun, 06 Dec 2026 18:00:00 GMT", &t), 0);
	oss_http_date_format(t, buf);
	assert_string_equal(buf, "Sun, 06 Dec 2026 18:00:00 GMT");
	oss_iso_date_format(t, buf);
	assert_string_equal(buf, "2026-12-06T18:00:00.000Z");
	assert_int_equal(oss_http_date_parse("Sun, 06 Dec 2026 18:00:00 UTC", &t), -EINVAL);
	assert_int_equal(oss_http_date_parse("2026-12-06T18:00:00Z", &t), -EINVAL);
	assert_int_equal(oss_http_date_parse("Sun, 06 Foo 2026 18:00:00 GMT", &t), -EINVAL);
}

static void test_names(void **state)
{
	char k[1100];

	(void)state;
	assert_true(oss_bucket_name_valid("abc"));
	assert_true(oss_bucket_name_valid("a-1-b"));
	assert_false(oss_bucket_name_valid("ab"));
	assert_false(oss_bucket_name_valid("-ab"));
	assert_false(oss_bucket_name_valid("ab-"));
	assert_false(oss_bucket_name_valid("aBc"));
	assert_false(oss_bucket_name_valid("a.c"));
	memset(k, 'a', 64);
	k[64] = '\0';
	assert_false(oss_bucket_name_valid(k));
	k[63] = '\0';
	assert_true(oss_bucket_name_valid(k));
	assert_int_equal(oss_key_check("a/b c+é"), 0);
	assert_int_equal(oss_key_check(""), -EINVAL);
	assert_int_equal(oss_key_check("/a"), -EINVAL);
	assert_int_equal(oss_key_check("\\a"), -EINVAL);
	assert_int_equal(oss_key_check("a\x01"), -EINVAL);
	assert_int_equal(oss_key_check("a\xff"), -EINVAL);
	assert_int_equal(oss_key_check("a\xc0\xaf"), -EINVAL); /* overlong */
	memset(k, 'k', 1023);
	k[1023] = '\0';
	assert_int_equal(oss_key_check(k), 0);
	k[1023] = 'k';
	k[1024] = '\0';
	assert_int_equal(oss_key_check(k), -ENAMETOOLONG);
}

static void test_complete_body(void **state)
{
	const char *ok = "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"0123456789ABCDEF0123456789abcdef\"</ETag>"
			 "</Part><Part><ETag>00000000000000000000000000000000</ETag><PartNumber>3</PartNumber></Part>"
			 "</CompleteMultipartUpload>";
	const char *unordered = "<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>00000000000000000000000000000000"
				"</ETag></Part><Part><PartNumber>2</PartNumber><ETag>00000000000000000000000000000000</ETag>"
				"</Part></CompleteMultipartUpload>";
	const char *bad[] = {
		"<CompleteMultipartUpload></CompleteMultipartUpload>",
		"<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>00000000000000000000000000000000</ETag></Part>"
		"</CompleteMultipartUpload>",
		"<CompleteMultipartUpload><Part><PartNumber>10001</PartNumber><ETag>00000000000000000000000000000000</ETag>"
		"</Part></CompleteMultipartUpload>",
		"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>abc</ETag></Part></CompleteMultipartUpload>",
		"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>",
		"<Other/>",
	};
	unsigned *n = NULL;
	char(*e)[33] = NULL;
	size_t count = 0;

	(void)state;
	assert_int_equal(oss_complete_body_parse(ok, strlen(ok), 10, &n, &e, &count), 0);
	assert_int_equal(count, 2);
	assert_int_equal(n[0], 1);
	assert_int_equal(n[1], 3);
	assert_string_equal(e[0], "0123456789abcdef0123456789abcdef");
	free(n);
	free(e);
	assert_int_equal(oss_complete_body_parse(ok, strlen(ok), 1, &n, &e, &count), -EINVAL); /* over max */
	assert_int_equal(oss_complete_body_parse(unordered, strlen(unordered), 10, &n, &e, &count), -EDOM);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(oss_complete_body_parse(bad[i], strlen(bad[i]), 10, &n, &e, &count), -EINVAL);
}

static void test_xml(void **state)
{
	const char *ok = "<Delete><Quiet>true</Quiet><Object><Key>a&amp;b</Key></Object><Object><Key>c</Key></Object>"
			 "</Delete>";
	char **keys = NULL, acl[24], *e;
	size_t n = 0;
	bool quiet = false;

	(void)state;
	assert_int_equal(oss_delete_body_parse(ok, strlen(ok), &keys, &n, &quiet), 0);
	assert_int_equal(n, 2);
	assert_true(quiet);
	assert_string_equal(keys[0], "a&b");
	ecs_strv_free(keys, n);
	assert_int_equal(oss_delete_body_parse("<Delete></Delete>", 17, &keys, &n, &quiet), -EINVAL);
	assert_int_equal(oss_delete_body_parse("<Delete>", 8, &keys, &n, &quiet), -EINVAL);
	assert_int_equal(oss_delete_body_parse("<Other/>", 8, &keys, &n, &quiet), -EINVAL);
	{
		const char *b = "<AccessControlPolicy><AccessControlList><Grant>public-read</Grant></AccessControlList>"
				"</AccessControlPolicy>";

		assert_int_equal(oss_acl_body_parse(b, strlen(b), "me", acl), 0);
		assert_string_equal(acl, "public-read");
	}
	{
		/* S3's grants: those of a canned ACL, else -EOPNOTSUPP. */
#define OWNER_FULL "<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" " \
		   "xsi:type=\"CanonicalUser\"><ID>me</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant>"
#define ALL(p) "<Grant><Grantee><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee>" \
	       "<Permission>" p "</Permission></Grant>"
#define POLICY(g) "<AccessControlPolicy><Owner><ID>me</ID></Owner><AccessControlList>" g \
		  "</AccessControlList></AccessControlPolicy>"
		static const struct {
			const char *body;
			int r;
			const char *acl;
		} cases[] = {
			{ POLICY(OWNER_FULL), 0, "private" },
			{ POLICY(OWNER_FULL ALL("READ")), 0, "public-read" },
			{ POLICY(ALL("READ") OWNER_FULL ALL("WRITE")), 0, "public-read-write" },
			{ POLICY(""), -EINVAL, NULL },
			{ POLICY(ALL("WRITE")), -EOPNOTSUPP, NULL },
			{ POLICY(ALL("READ_ACP")), -EOPNOTSUPP, NULL },
			{ POLICY("<Grant><Grantee><ID>other</ID></Grantee><Permission>READ</Permission></Grant>"), -EOPNOTSUPP,
			  NULL },
			{ POLICY("<Grant><Grantee><URI>http://acs.amazonaws.com/groups/global/AuthenticatedUsers</URI>"
				 "</Grantee><Permission>READ</Permission></Grant>"),
			  -EOPNOTSUPP, NULL },
			{ POLICY("<Grant><Grantee><ID>me</ID></Grantee></Grant>"), -EINVAL, NULL },
		};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			assert_int_equal(oss_acl_body_parse(cases[i].body, strlen(cases[i].body), "me", acl), cases[i].r);
			if (cases[i].acl)
				assert_string_equal(acl, cases[i].acl);
		}
	}
	assert_null(oss_acl_canonical("public", false));
	assert_null(oss_acl_canonical("default", false));
	assert_string_equal(oss_acl_canonical("default", true), "default");
	e = oss_xml_escape("<a&'\">");
	assert_string_equal(e, "&lt;a&amp;&apos;&quot;&gt;");
	free(e);
}

/* x-amz-grant-* headers: a canned ACL's grants, else -EOPNOTSUPP; malformed lists -EINVAL. */
static void test_grant_headers(void **state)
{
#define AU "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\""
	static const struct {
		const char *read, *write, *full, *read_acp;
		int r;
		const char *acl;
	} cases[] = {
		{ NULL, NULL, NULL, NULL, 1, NULL },
		{ AU, NULL, NULL, NULL, 0, "public-read" },
		{ AU, AU, "id=\"me\"", NULL, 0, "public-read-write" },
		{ "uri=http://acs.amazonaws.com/groups/global/AllUsers", NULL, "ID = me", NULL, 0, "public-read" },
		{ NULL, NULL, " id=\"me\" ", NULL, 0, "private" },
		{ NULL, AU, NULL, NULL, -EOPNOTSUPP, NULL },
		{ NULL, NULL, NULL, AU, -EOPNOTSUPP, NULL },
		{ "id=\"other\"", NULL, NULL, NULL, -EOPNOTSUPP, NULL },
		{ AU ", id=\"other\"", NULL, NULL, NULL, -EOPNOTSUPP, NULL },
		{ "emailAddress=\"a@b.c\"", NULL, NULL, NULL, -EOPNOTSUPP, NULL },
		{ NULL, NULL, "uri=\"http://acs.amazonaws.com/groups/global/AuthenticatedUsers\"", NULL, -EOPNOTSUPP,
		  NULL },
		{ "", NULL, NULL, NULL, -EINVAL, NULL },
		{ "nonsense", NULL, NULL, NULL, -EINVAL, NULL },
		{ "id=\"me", NULL, NULL, NULL, -EINVAL, NULL },
		{ "id=", NULL, NULL, NULL, -EINVAL, NULL },
		{ "colour=\"me\"", NULL, NULL, NULL, -EINVAL, NULL },
		{ AU " " AU, NULL, NULL, NULL, -EINVAL, NULL },
		{ AU ",", NULL, NULL, NULL, 0, "public-read" },
	};
	char acl[24], big[400];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ecs_kvlist h = ECS_KVLIST_INIT;

		ecs_kvlist_add(&h, "Content-Type", "text/plain");
		if (cases[i].read)
			ecs_kvlist_add(&h, "X-Amz-Grant-Read", cases[i].read);
		if (cases[i].write)
			ecs_kvlist_add(&h, "x-amz-grant-write", cases[i].write);
		if (cases[i].full)
			ecs_kvlist_add(&h, "x-amz-grant-full-control", cases[i].full);
		if (cases[i].read_acp)
			ecs_kvlist_add(&h, "x-amz-grant-read-acp", cases[i].read_acp);
		assert_int_equal(oss_acl_grant_headers_parse(&h, "me", acl), cases[i].r);
		if (cases[i].acl)
			assert_string_equal(acl, cases[i].acl);
		ecs_kvlist_clear(&h);
	}
	{
		/* A grantee is at most 255 bytes. */
		struct ecs_kvlist h = ECS_KVLIST_INIT;

		snprintf(big, sizeof(big), "id=\"%0300d\"", 0);
		ecs_kvlist_add(&h, "x-amz-grant-read", big);
		assert_int_equal(oss_acl_grant_headers_parse(&h, "me", acl), -EINVAL);
		ecs_kvlist_clear(&h);
	}
}

UNIT_MAIN("oss_parse", NULL, NULL, NULL, NULL,
	  cmocka_unit_test(test_string_to_sign), cmocka_unit_test(test_auth_header), cmocka_unit_test(test_range),
	  cmocka_unit_test(test_dates),	       cmocka_unit_test(test_names),	   cmocka_unit_test(test_xml),
	  cmocka_unit_test(test_complete_body),  cmocka_unit_test(test_grant_headers))
