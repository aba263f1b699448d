/* libFuzzer target: what ecs-ossd parses from the internet before any check of who sent it:
 * the Authorization header, the string to sign built from any headers and query, Range, HTTP
 * dates, object keys and bucket names, and the XML bodies (DeleteMultipleObjects, ACL,
 * CompleteMultipartUpload). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "parse.h"
#include "chunked.h"
#include "sigv1.h"
#include "sigv4.h"
#include "url.h"
#include "util.h"

static void check_range(const char *s, uint64_t size)
{
	uint64_t start = 0, len = 0;
	int r = oss_range_parse(s, size, &start, &len);

	if (r == 0 && (len == 0 || start >= size || len > size - start))
		abort();
}

static int count_sink(void *arg, const char *buf, size_t len)
{
	(void)buf;
	*(uint64_t *)arg += len;
	return 0;
}

/* S3's V4 and OSS's: the Authorization header, the presigned query, the canonical request, and an
 * aws-chunked body fed in two pieces (split where the first byte says). */
static void check_v4(const char *s, size_t size, const struct ecs_kvlist *l)
{
	static const uint8_t key[32] = { 1 };
	struct oss_v4_auth a;
	struct oss_chunked *c;
	long long t;
	uint64_t got = 0;

	if (oss_v4_header_parse(s, &a) == 0 && (strlen(a.signature) != 64 || strlen(a.date) != 8))
		abort();
	if (oss_v4_query_parse(l, &a) == 0 && (a.expires < 1 || a.expires > OSS_V4_EXPIRES_MAX))
		abort();
	if (oss_v4_header_parse_oss(s, &a) == 0 && (!a.oss || strlen(a.signature) != 64))
		abort();
	if (oss_v4_query_parse_oss(l, &a) == 0 && (a.expires < 1 || a.expires > OSS_V4_EXPIRES_MAX))
		abort();
	{
		struct oss_v4_oss_request rq = { .method = "PUT", .bucket = l->n ? l->items[0].key : "", .key = s,
						 .query = l, .headers = l, .additional = l->n ? l->items[0].value : "",
						 .empty_equals = size & 1 };

		free(oss_v4_canonical_request_oss(&rq));
	}
	if (oss_v4_date_parse(s, &t) == 0 && t < 0)
		abort();
	{
		struct oss_v4_request rq = { .method = "GET", .path = s, .query = l, .headers = l,
					     .signed_headers = l->n ? l->items[0].key : "host", .payload_hash = "x" };

		free(oss_v4_canonical_request(&rq));
	}
	if (oss_chunked_new(key, "20130524T000000Z", "20130524/us-east-1/s3/aws4_request", "00", &c) == 0) {
		size_t cut = size ? (unsigned char)s[0] % (size + 1) : 0;

		if (oss_chunked_feed(c, s, cut, count_sink, &got) == 0)
			oss_chunked_feed(c, s + cut, size - cut, count_sink, &got);
		if (got != oss_chunked_total(c))
			abort();
		oss_chunked_finish(c);
		oss_chunked_free(c);
	}
	got = 0;
	if (oss_chunked_new_unsigned(size & 1 ? "x-amz-checksum-crc32" : "x-amz-checksum-sha256", &c) == 0) {
		if (oss_chunked_feed(c, s, size, count_sink, &got) == 0 && got != oss_chunked_total(c))
			abort();
		oss_chunked_finish(c);
		oss_chunked_free(c);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), ak[OSS_AK_MAX], sig[OSS_SIG_MAX], date[32], acl[24];
	struct ecs_kvlist l = ECS_KVLIST_INIT;
	uint64_t osize = 0;
	char **keys = NULL;
	size_t n = 0;
	bool quiet;
	time_t t, t2;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	for (size_t i = 0; i < size && i < 8; i++)
		osize = osize << 8 | data[i];
	check_range(s, osize);
	check_range(s, osize % 4096);
	if (oss_http_date_parse(s, &t) == 0) {
		oss_http_date_format(t, date);
		if (oss_http_date_parse(date, &t2) != 0 || t2 != t)
			abort();
	}
	if (oss_auth_header_parse(s, ak, sig) == 0 && (strlen(ak) >= OSS_AK_MAX || strlen(sig) >= OSS_SIG_MAX))
		abort();
	if (oss_key_check(s) == 0 && (strlen(s) > OSS_KEY_MAX || !*s))
		abort();
	if (oss_bucket_name_valid(s) && (strlen(s) < OSS_BUCKET_MIN || strlen(s) > OSS_BUCKET_MAX))
		abort();
	free(oss_xml_escape(s));
	if (oss_delete_body_parse(s, size, &keys, &n, &quiet) == 0) {
		if (!n || n > OSS_DELETE_MAX_KEYS)
			abort();
		ecs_strv_free(keys, n);
	}
	oss_acl_body_parse(s, size, "owner", acl);
	{
		unsigned *nums = NULL;
		char(*etags)[33] = NULL;
		size_t np = 0;

		if (oss_complete_body_parse(s, size, 50, &nums, &etags, &np) == 0) {
			if (!np || np > 50)
				abort();
			for (size_t i = 0; i < np; i++)
				if (nums[i] < 1 || nums[i] > 10000 || (i && nums[i] <= nums[i - 1]) || strlen(etags[i]) != 32)
					abort();
			free(nums);
			free(etags);
		}
	}
	if (ecs_form_parse(s, size, 100, &l) == 0) {
		/* The same pairs as headers and as query: x-oss-* lines and sub-resources. */
		struct oss_sign_input in = { .method = "GET", .date = "d", .headers = &l, .query = &l,
					     .bucket = l.n ? l.items[0].key : "b", .key = l.n ? l.items[0].value : "k" };
		char *sts = oss_sign_string(&in), out[29];

		if (sts && oss_sign_v1("secret", sts, out) != 0)
			abort();
		free(sts);
	}
	check_v4(s, size, &l);
	ecs_kvlist_clear(&l);
	free(s);
	return 0;
}
