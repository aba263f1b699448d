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
 * Pure functions, fuzzed in tests/fuzz/fuzz_oss.c. */
#ifndef OSS_SIGV4_H
#define OSS_SIGV4_H

#include <stdbool.h>
#include <stdint.h>

#include "kv.h"

#define OSS_V4_SIGNED_HEADERS_MAX 2048
#define OSS_V4_EXPIRES_MAX 604800 /* a presigned URL lives at most 7 days */

struct oss_v4_auth {
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
/* The canonical request (caller frees); NULL when out of memory or a signed header is
 * missing. */
char *oss_v4_canonical_request(const struct oss_v4_request *r);
/* A path in AWS's URI encoding, '/' kept (caller frees; NULL when out of memory). */
char *oss_v4_path_encode(const char *path);
/* The scope "date/region/service/aws4_request" into buf. */
void oss_v4_scope(const struct oss_v4_auth *a, char *buf, size_t size);
/* The signing key of a secret for a's date, region and service. */
int oss_v4_signing_key(const char *secret, const struct oss_v4_auth *a, uint8_t key[32]);
/* The request's signature (hex) from the key and the canonical request. */
int oss_v4_sign(const uint8_t key[32], const char *amz_date, const char *scope, const char *canonical, char out[65]);
/* A chunk's signature from the previous one and its data's SHA-256. */
int oss_v4_chunk_sign(const uint8_t key[32], const char *amz_date, const char *scope, const char *prev_sig,
		      const uint8_t data_sha256[32], char out[65]);

#endif
