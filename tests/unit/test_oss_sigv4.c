/* Tests for storage/oss/sigv4.c and chunked.c against the examples of AWS's SigV4 pages
 * ("Signature Calculations for the Authorization Header" GET example; "Signature
 * Calculation: Transfer Payload in Multiple Chunks"): the same secret, date and request
 * give the signatures printed there. */
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
#include "chunked.h"
#include "kv.h"
#include "sigv4.h"
#include "util.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void test_get_example(void **state)
{
	struct ecs_kvlist h = ECS_KVLIST_INIT, q = ECS_KVLIST_INIT;
	struct oss_v4_auth a;
	uint8_t key[32];
	char scope[128], sig[65], *canonical;

	(void)state;
	assert_int_equal(oss_v4_header_parse("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
					     "aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
					     "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
					     &a),
			 0);
	assert_string_equal(a.ak, "AKIAIOSFODNN7EXAMPLE");
	assert_string_equal(a.region, "us-east-1");
	ecs_kvlist_add(&h, "Host", "examplebucket.s3.amazonaws.com");
	ecs_kvlist_add(&h, "Range", "bytes=0-9");
	ecs_kvlist_add(&h, "x-amz-content-sha256", EMPTY);
	ecs_kvlist_add(&h, "x-amz-date", "20130524T000000Z");
	struct oss_v4_request rq = { .method = "GET", .path = "/test.txt", .query = &q, .headers = &h,
				     .signed_headers = a.signed_headers, .payload_hash = EMPTY };
	canonical = oss_v4_canonical_request(&rq);
	assert_non_null(canonical);
	assert_string_equal(canonical, "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
				       "x-amz-content-sha256:" EMPTY "\nx-amz-date:20130524T000000Z\n\n"
				       "host;range;x-amz-content-sha256;x-amz-date\n" EMPTY);
	oss_v4_scope(&a, scope, sizeof(scope));
	assert_int_equal(oss_v4_signing_key(SECRET, &a, key), 0);
	assert_int_equal(oss_v4_sign(key, "20130524T000000Z", scope, canonical, sig), 0);
	assert_string_equal(sig, a.signature);
	free(canonical);
	/* A signed header the request lacks: no canonical request. */
	rq.signed_headers = "host;x-missing";
	assert_null(oss_v4_canonical_request(&rq));
	ecs_kvlist_clear(&h);
	ecs_kvlist_clear(&q);
}

static void test_parse_errors(void **state)
{
	struct ecs_kvlist q = ECS_KVLIST_INIT;
	struct oss_v4_auth a;
	long long t;
	const char *bad[] = {
		"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request,SignedHeaders=host",
		"AWS4-HMAC-SHA256 Credential=AK/2013052/us-east-1/s3/aws4_request,SignedHeaders=host,Signature=" EMPTY,
		"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_reques,SignedHeaders=host,Signature=" EMPTY,
		"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request,SignedHeaders=Host,Signature=" EMPTY,
		"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request,SignedHeaders=host,Signature=abc",
		"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request,SignedHeaders=host,Signature=" EMPTY
		",Extra=1",
		"AWS AK:sig",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(oss_v4_header_parse(bad[i], &a), -EINVAL);
	assert_int_equal(oss_v4_date_parse("20130524T000000Z", &t), 0);
	assert_int_equal(t, 1369353600);
	assert_int_equal(oss_v4_date_parse("20130524T000000", &t), -EINVAL);
	assert_int_equal(oss_v4_date_parse("2013052xT000000Z", &t), -EINVAL);
	ecs_kvlist_add(&q, "X-Amz-Algorithm", "AWS4-HMAC-SHA256");
	ecs_kvlist_add(&q, "X-Amz-Credential", "AK/20130524/us-east-1/s3/aws4_request");
	ecs_kvlist_add(&q, "X-Amz-Date", "20130524T000000Z");
	ecs_kvlist_add(&q, "X-Amz-SignedHeaders", "host");
	ecs_kvlist_add(&q, "X-Amz-Signature", EMPTY);
	ecs_kvlist_add(&q, "X-Amz-Expires", "604801"); /* over 7 days */
	assert_int_equal(oss_v4_query_parse(&q, &a), -EINVAL);
	ecs_kvlist_clear(&q);
}

static int sink(void *arg, const char *buf, size_t len)
{
	(void)buf;
	*(uint64_t *)arg += len;
	return 0;
}

/* The chunked example: 64 KiB of 'a', 1 KiB of 'a', the final chunk. */
static char *chunked_example(size_t *ret_len)
{
	static const char *const sigs[] = { "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
					    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
					    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9" };
	static const size_t sizes[] = { 65536, 1024, 0 };
	char *b = malloc(70000), *p = b;

	for (size_t i = 0; i < 3; i++) {
		p += sprintf(p, "%zx;chunk-signature=%s\r\n", sizes[i], sigs[i]);
		memset(p, 'a', sizes[i]);
		p += sizes[i];
		p += sprintf(p, "\r\n");
	}
	*ret_len = (size_t)(p - b);
	return b;
}

static int feed_example(char *body, size_t len, size_t step, uint64_t *got)
{
	struct oss_v4_auth a = { .date = "20130524", .region = "us-east-1", .service = "s3" };
	struct oss_chunked *c;
	uint8_t key[32];
	int r = 0;

	assert_int_equal(oss_v4_signing_key(SECRET, &a, key), 0);
	assert_int_equal(oss_chunked_new(key, "20130524T000000Z", "20130524/us-east-1/s3/aws4_request",
					 "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9", &c),
			 0);
	for (size_t off = 0; off < len && r == 0; off += step)
		r = oss_chunked_feed(c, body + off, len - off < step ? len - off : step, sink, got);
	if (r == 0)
		r = oss_chunked_finish(c);
	oss_chunked_free(c);
	return r;
}

static void test_chunked_example(void **state)
{
	size_t len;
	char *body = chunked_example(&len);
	uint64_t got = 0;

	(void)state;
	assert_int_equal(len, 66824); /* the example's Content-Length */
	assert_int_equal(feed_example(body, len, len, &got), 0);
	assert_int_equal(got, 66560);
	got = 0;
	assert_int_equal(feed_example(body, len, 7, &got), 0); /* in small pieces */
	assert_int_equal(got, 66560);
	assert_int_equal(feed_example(body, len - 2, len, &got), -EINVAL); /* cut short */
	body[100] = 'b';						    /* a byte changed */
	assert_int_equal(feed_example(body, len, len, &got), -EACCES);
	body[100] = 'a';
	memcpy(body + len - 30, "00", 2); /* the final signature changed */
	assert_int_equal(feed_example(body, len, len, &got), -EACCES);
	free(body);
	body = strdup("zz;chunk-signature=00\r\n");
	assert_int_equal(feed_example(body, strlen(body), 4, &got), -EINVAL);
	free(body);
}

static int feed_unsigned(const char *trailer, const char *body, size_t step)
{
	struct oss_chunked *c;
	uint64_t got = 0;
	size_t len = strlen(body);
	int r = oss_chunked_new_unsigned(trailer, &c);

	if (r < 0)
		return r;
	for (size_t off = 0; off < len && r == 0; off += step)
		r = oss_chunked_feed(c, body + off, len - off < step ? len - off : step, sink, &got);
	if (r == 0)
		r = oss_chunked_finish(c);
	if (r == 0 && got != 9)
		r = -EIO;
	oss_chunked_free(c);
	return r;
}

/* The check values of CRC-32 and CRC-32C: "123456789" gives 0xCBF43926 and 0xE3069283. */
static void test_unsigned_trailer(void **state)
{
	(void)state;
	assert_int_equal(feed_unsigned("x-amz-checksum-crc32", "9\r\n123456789\r\n0\r\nx-amz-checksum-crc32:y/Q5Jg==\r\n\r\n",
				       3),
			 0);
	assert_int_equal(feed_unsigned("x-amz-checksum-crc32c",
				       "4\r\n1234\r\n5\r\n56789\r\n0\r\nx-amz-checksum-crc32c:4waSgw==\r\n\r\n", 100),
			 0);
	assert_int_equal(feed_unsigned("x-amz-checksum-crc32", "9\r\n123456789\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n",
				       5),
			 -EBADMSG);
	assert_int_equal(feed_unsigned("x-amz-checksum-crc32", "9\r\n123456789\r\n0\r\n\r\n", 5), -EINVAL);
	assert_int_equal(feed_unsigned("x-amz-checksum-crc32", "9\r\n123456789\r\n0\r\nx-amz-checksum-crc32c:y/Q5Jg==\r\n\r\n",
				       5),
			 -EINVAL);
	assert_int_equal(feed_unsigned("x-amz-checksum-md5", "0\r\n\r\n", 5), -EINVAL);
}

UNIT_MAIN("oss_sigv4", NULL, NULL, NULL, NULL,
	  cmocka_unit_test(test_get_example),
	  cmocka_unit_test(test_parse_errors),
	  cmocka_unit_test(test_chunked_example),
	  cmocka_unit_test(test_unsigned_trailer))
