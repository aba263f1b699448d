/* sigv4.h: AWS Signature Version 4 as S3 checks it (header and presigned URL) and the
 * signatures of an aws-chunked body (STREAMING-AWS4-HMAC-SHA256-PAYLOAD).
 *
 *   Authorization: AWS4-HMAC-SHA256 Credential=AK/yyyymmdd/region/s3/aws4_request,
 *                  SignedHeaders=h1;h2, Signature=hex
 *   CanonicalRequest = VERB \n URI-encoded path \n sorted encoded query \n
 *                      "name:value\n" per signed header \n signed headers \n payload hash
 *   StringToSign = "AWS4-HMAC-SHA256\n" amzdate \n scope \n hex(SHA256(CanonicalRequest))
 *   key = HMAC(HMAC(HMAC(HMAC("AWS4" secret, date), region), service), "aws4_request")
 *   a chunk's: "AWS4-HMAC-SHA256-PAYLOAD\n" amzdate \n scope \n previous signature \n
 *              hex(SHA256("")) \n hex(SHA256(chunk)); the first previous is the header's.
 * OSS V4 (OSS4-HMAC-SHA256, as ali-oss signs it) is the same scheme: the key chain starts
 * from "aliyun_v4" + secret and ends with "aliyun_v4_request", the canonical URI is always
 * "/bucket/key", and the headers signed are content-type, content-md5, x-oss-* and the
 * AdditionalHeaders. Pure functions, fuzzed in tests/fuzz/fuzz_oss.c. */
#ifndef OSS_SIGV4_H
#define OSS_SIGV4_H

#include <stdbool.h>
#include <stdint.h>

#include "kv.h"

#define OSS_V4_SIGNED_HEADERS_MAX 2048
#define OSS_V4_EXPIRES_MAX 604800 /* a presigned URL lives at most 7 days */

struct oss_v4_auth {
	bool oss;	 /* OSS4-HMAC-SHA256: "aliyun_v4" key chain, "aliyun_v4_request" scope */
	char ak[128];
	char date[9];	 /* yyyymmdd */
	char region[64];
	char service[16];
	char signed_headers[OSS_V4_SIGNED_HEADERS_MAX];
	char signature[65]; /* lower-case hex */
	char amz_date[17];  /* yyyymmddThhmmssZ (from x-amz-date or the query) */
	long long expires;  /* presigned: X-Amz-Expires */
};

/* The Authorization header's fields; -EINVAL when malformed or a part too long. */
int oss_v4_header_parse(const char *value, struct oss_v4_auth *ret);
/* OSS V4: "OSS4-HMAC-SHA256 Credential=AK/date/region/oss/aliyun_v4_request,
 * [AdditionalHeaders=h1;h2,]Signature=hex" (signed_headers holds the additional ones). */
int oss_v4_header_parse_oss(const char *value, struct oss_v4_auth *ret);
/* OSS V4 signed URL: x-oss-signature-version, -credential, -date, -expires,
 * -additional-headers, -signature. */
int oss_v4_query_parse_oss(const struct ecs_kvlist *query, struct oss_v4_auth *ret);
/* X-Amz-Algorithm, -Credential, -Date, -Expires, -SignedHeaders, -Signature; -EINVAL. */
int oss_v4_query_parse(const struct ecs_kvlist *query, struct oss_v4_auth *ret);
/* yyyymmddThhmmssZ into a time; -EINVAL. */
int oss_v4_date_parse(const char *s, long long *ret);

struct oss_v4_request {
	const char *method;
	const char *path;		  /* decoded; encoded here */
	const struct ecs_kvlist *query;	  /* decoded; X-Amz-Signature left out */
	const struct ecs_kvlist *headers; /* as received */
	const char *signed_headers;	  /* "host;x-amz-date" */
	const char *payload_hash;	  /* hex, UNSIGNED-PAYLOAD, STREAMING-… */
};
/* OSS V4's canonical request: URI "/bucket/key" encoded ('/' kept), every query parameter
 * but x-oss-signature encoded and sorted ("k" alone for an empty value, or "k=" with
 * empty_equals), content-type, content-md5, every x-oss-* header and the additional ones,
 * the additional names, the payload hash (x-oss-content-sha256 or UNSIGNED-PAYLOAD). */
struct oss_v4_oss_request {
	const char *method;
	const char *bucket, *key; /* "" when none */
	const struct ecs_kvlist *query, *headers;
	const char *additional;	  /* "" or "h1;h2" */
	bool empty_equals;
};
char *oss_v4_canonical_request_oss(const struct oss_v4_oss_request *r);
/* The canonical request (caller frees); NULL when out of memory or a signed header is
 * missing. */
char *oss_v4_canonical_request(const struct oss_v4_request *r);
/* A path in AWS's URI encoding, '/' kept (caller frees; NULL when out of memory). */
char *oss_v4_path_encode(const char *path);
/* The scope "date/region/service/aws4_request" into buf. */
void oss_v4_scope(const struct oss_v4_auth *a, char *buf, size_t size);
/* The signing key of a secret for a's date, region and service. */
int oss_v4_signing_key(const char *secret, const struct oss_v4_auth *a, uint8_t key[32]);
/* The request's signature (hex) from the key and the canonical request (AWS4-… or, with
 * a.oss, OSS4-HMAC-SHA256 in the string to sign). */
int oss_v4_sign_auth(const struct oss_v4_auth *a, const uint8_t key[32], const char *canonical, char out[65]);
/* The request's signature (hex) from the key and the canonical request. */
int oss_v4_sign(const uint8_t key[32], const char *amz_date, const char *scope, const char *canonical, char out[65]);
/* A chunk's signature from the previous one and its data's SHA-256. */
int oss_v4_chunk_sign(const uint8_t key[32], const char *amz_date, const char *scope, const char *prev_sig,
		      const uint8_t data_sha256[32], char out[65]);

#endif
