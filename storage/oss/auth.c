/* Who signed a request: OSS V1 and V4 (header or signed URL), S3 V2 (header or query) and S3 V4
 * (header or presigned URL, with the payload's hash or its signed chunks checked as the
 * body arrives), or nobody. Keys come from the controller (storage_keys.h). */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api-internal.h"
#include "chunked.h"
#include "crypto.h"
#include "log.h"
#include "parse.h"
#include "sigv1.h"
#include "sigv4.h"
#include "storage_keys.h"
#include "util.h"

#define SKEW_MAX_S (15 * 60)

static int denied(const struct ecs_http_request *req, struct ecs_http_response *resp, const char *code,
		  const char *message)
{
	oss_fail(req, resp, 403, code, message, NULL);
	return -EACCES;
}

static int bad_sig(const struct ecs_http_request *req, struct ecs_http_response *resp, const char *sts)
{
	_cleanup_free_ char *e = oss_xml_escape(sts ? sts : ""), *extra = NULL;

	extra = ecs_strdup_printf("  <StringToSign>%s</StringToSign>\n", e ? e : "");
	oss_fail(req, resp, 403, "SignatureDoesNotMatch",
		 "The request signature we calculated does not match the signature you provided.", extra);
	return -EACCES;
}

/* The key of ak, or an error answered. */
static int key_get(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp,
		   const char *ak, struct storage_key *ret)
{
	int r = storage_keys_get(q->o->keys, ak, ret);

	if (r == -ENOENT)
		return denied(req, resp, "InvalidAccessKeyId", "The Access Key Id you provided does not exist in our records.");
	if (r < 0) {
		oss_fail(req, resp, 503, "ServiceUnavailable", "The key service cannot be reached.", NULL);
		return r;
	}
	if (!ret->account_id[0]) {
		explicit_bzero(ret, sizeof(*ret));
		oss_fail(req, resp, 500, "InternalError", "The key has no account.", NULL);
		return -EIO;
	}
	return 0;
}

static int skew_check(const struct ecs_http_request *req, struct ecs_http_response *resp, long long t)
{
	long long now = time(NULL);

	if (t > now + SKEW_MAX_S || t < now - SKEW_MAX_S)
		return denied(req, resp, "RequestTimeTooSkewed",
			      "The difference between the request time and the current time is too large.");
	return 0;
}

/* RFC 1123 with "GMT", or "+0000" as s3cmd writes it. */
static int date_parse(const char *s, time_t *ret)
{
	char gmt[32];
	size_t n = strlen(s);

	if (n == 31 && streq(s + 25, " +0000")) {
		snprintf(gmt, sizeof(gmt), "%.25s GMT", s);
		return oss_http_date_parse(gmt, ret);
	}
	return oss_http_date_parse(s, ret);
}

/* OSS V1 and S3 V2: one scheme, HMAC-SHA1 over the string to sign. */
static int auth_v1(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp, bool s3,
		   const char *auth)
{
	const char *qak = ecs_kvlist_get(req->query, s3 ? "AWSAccessKeyId" : "OSSAccessKeyId");
	char ak[OSS_AK_MAX], sig[OSS_SIG_MAX], want[29], account[64];
	const char *date;
	_cleanup_free_ char *sts = NULL, *path = NULL, *resource = NULL;
	struct storage_key key;
	time_t t;
	int r;

	if (auth) {
		if (oss_auth_header_parse_prefix(auth, s3 ? "AWS " : "OSS ", ak, sig) < 0) {
			oss_fail(req, resp, 400, "InvalidArgument", "Authorization header is invalid.", NULL);
			return -EINVAL;
		}
		date = ecs_kvlist_get_case(req->headers, s3 ? "x-amz-date" : "x-oss-date");
		if (!date)
			date = ecs_kvlist_get_case(req->headers, "Date");
		if (!date || date_parse(date, &t) < 0)
			return denied(req, resp, "AccessDenied", "Invalid date format or missing date.");
		if ((r = skew_check(req, resp, t)) < 0)
			return r;
		/* S3: x-amz-date is among the signed headers and the date slot stays empty. */
		if (s3 && ecs_kvlist_get_case(req->headers, "x-amz-date"))
			date = "";
	} else {
		const char *s = ecs_kvlist_get(req->query, "Signature");
		long long exp;

		date = ecs_kvlist_get(req->query, "Expires");
		if (!s || !date || ecs_parse_int64(date, 0, INT64_MAX, &exp) < 0 || ecs_strlcpy(ak, qak, sizeof(ak)) < 0 ||
		    ecs_strlcpy(sig, s, sizeof(sig)) < 0)
			return denied(req, resp, "AccessDenied", "The signed URL is missing Expires or Signature.");
		if (exp < time(NULL))
			return denied(req, resp, "AccessDenied", "Request has expired.");
	}
	if ((r = key_get(q, req, resp, ak, &key)) < 0)
		return r;
	if (s3) {
		/* "/bucket/key" (the key URI-encoded) whichever way the client addressed it. */
		path = oss_v4_path_encode(q->key ? q->key : "");
		resource = !path ? NULL : q->bucket[0] ? ecs_strdup_printf("/%s/%s", q->bucket, path) : strdup("/");
	}
	{
		struct oss_sign_input in = { .method = req->method, .date = date, .headers = req->headers,
					     .query = req->query, .bucket = q->bucket, .key = q->key ? q->key : "",
					     .s3 = s3, .resource = resource };

		sts = (!s3 || resource) ? oss_sign_string(&in) : NULL;
	}
	r = !sts || oss_sign_v1(key.secret, sts, want) < 0 ? -ENOMEM : 0;
	snprintf(account, sizeof(account), "%s", key.account_id);
	explicit_bzero(&key, sizeof(key));
	if (r < 0) {
		oss_fail_errno(req, resp, r);
		return r;
	}
	if (!ecs_streq_ct(want, sig))
		return bad_sig(req, resp, sts);
	snprintf(q->caller, sizeof(q->caller), "%s", account);
	return 0;
}

static bool is_hex64(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

/* V4's times: a header's date within the skew, or a signed URL's window. 0, or answered. */
static int v4_time_check(const struct ecs_http_request *req, struct ecs_http_response *resp, struct oss_v4_auth *a,
			 const char *date_header)
{
	long long t, now = time(NULL);

	if (date_header) {
		const char *d = ecs_kvlist_get_case(req->headers, date_header);

		if (!d || oss_v4_date_parse(d, &t) < 0)
			return denied(req, resp, "AccessDenied", "The request's date is missing or not valid.");
		snprintf(a->amz_date, sizeof(a->amz_date), "%s", d);
		return skew_check(req, resp, t);
	}
	if (oss_v4_date_parse(a->amz_date, &t) < 0 || t > now + SKEW_MAX_S)
		return denied(req, resp, "AccessDenied", "Request is not valid yet.");
	if (t + a->expires < now)
		return denied(req, resp, "AccessDenied", "Request has expired.");
	return 0;
}

/* A hex payload hash: the body's SHA-256 is checked at its end. */
static int expect_sha256(struct oss_req *q, const char *payload)
{
	memcpy(q->payload_sha256, payload, 65);
	return (q->sha = EVP_MD_CTX_new()) && EVP_DigestInit_ex(q->sha, EVP_sha256(), NULL) == 1 ? 0 : -ENOMEM;
}

/* S3 V4, header or presigned. */
static int auth_v4(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp,
		   const char *auth)
{
	struct oss_v4_auth a;
	struct storage_key key;
	const char *payload = ecs_kvlist_get_case(req->headers, "x-amz-content-sha256");
	_cleanup_free_ char *canonical = NULL;
	char scope[160], want[65], account[64];
	uint8_t skey[32];
	int r;

	if (auth) {
		if (oss_v4_header_parse(auth, &a) < 0) {
			oss_fail(req, resp, 400, "AuthorizationHeaderMalformed", "The authorization header is malformed.", NULL);
			return -EINVAL;
		}
		if ((r = v4_time_check(req, resp, &a, "x-amz-date")) < 0)
			return r;
		if (!payload) {
			oss_fail(req, resp, 400, "InvalidRequest",
				 "Missing required header for this request: x-amz-content-sha256", NULL);
			return -EINVAL;
		}
	} else {
		if (oss_v4_query_parse(req->query, &a) < 0) {
			oss_fail(req, resp, 400, "AuthorizationQueryParametersError",
				 "The X-Amz-* query parameters are missing or not valid.", NULL);
			return -EINVAL;
		}
		if ((r = v4_time_check(req, resp, &a, NULL)) < 0)
			return r;
		if (!payload)
			payload = "UNSIGNED-PAYLOAD";
	}
	if (strncmp(a.amz_date, a.date, 8) != 0 || !streq(a.service, "s3")) {
		oss_fail(req, resp, 400, "AuthorizationHeaderMalformed",
			 "The credential's date or service does not match the request.", NULL);
		return -EINVAL;
	}
	if (!strstr(a.signed_headers, "host")) {
		oss_fail(req, resp, 400, "AuthorizationHeaderMalformed", "The host header must be signed.", NULL);
		return -EINVAL;
	}
	if (!is_hex64(payload) && !streq(payload, "UNSIGNED-PAYLOAD") &&
	    !streq(payload, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD") && !streq(payload, "STREAMING-UNSIGNED-PAYLOAD-TRAILER")) {
		oss_fail(req, resp, 400, "InvalidArgument", "x-amz-content-sha256 is not a payload hash this service takes.",
			 NULL);
		return -EINVAL;
	}
	{
		struct oss_v4_request rq = { .method = req->method, .path = req->path, .query = req->query,
					     .headers = req->headers, .signed_headers = a.signed_headers,
					     .payload_hash = payload };

		canonical = oss_v4_canonical_request(&rq);
	}
	if (!canonical)
		return bad_sig(req, resp, "a signed header is missing");
	if ((r = key_get(q, req, resp, a.ak, &key)) < 0)
		return r;
	oss_v4_scope(&a, scope, sizeof(scope));
	r = oss_v4_signing_key(key.secret, &a, skey);
	snprintf(account, sizeof(account), "%s", key.account_id);
	explicit_bzero(&key, sizeof(key));
	if (r < 0 || oss_v4_sign(skey, a.amz_date, scope, canonical, want) < 0) {
		explicit_bzero(skey, sizeof(skey));
		oss_fail_errno(req, resp, -ENOMEM);
		return -ENOMEM;
	}
	if (!ecs_streq_ct(want, a.signature)) {
		explicit_bzero(skey, sizeof(skey));
		return bad_sig(req, resp, canonical);
	}
	if (streq(payload, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"))
		r = oss_chunked_new(skey, a.amz_date, scope, a.signature, &q->chunked);
	else if (streq(payload, "STREAMING-UNSIGNED-PAYLOAD-TRAILER") &&
		 (r = oss_chunked_new_unsigned(ecs_kvlist_get_case(req->headers, "x-amz-trailer"), &q->chunked)) == -EINVAL) {
		explicit_bzero(skey, sizeof(skey));
		oss_fail(req, resp, 400, "InvalidRequest", "x-amz-trailer must name a crc32, crc32c or sha256 checksum.", NULL);
		return r;
	}
	else if (is_hex64(payload))
		r = expect_sha256(q, payload);
	explicit_bzero(skey, sizeof(skey));
	if (r < 0) {
		oss_fail_errno(req, resp, r);
		return r;
	}
	snprintf(q->caller, sizeof(q->caller), "%s", account);
	return 0;
}

/* OSS V4 (OSS4-HMAC-SHA256), header or signed URL, as ali-oss signs it. */
static int auth_oss_v4(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp,
		       const char *auth)
{
	struct oss_v4_auth a;
	struct storage_key key;
	const char *payload = ecs_kvlist_get_case(req->headers, "x-oss-content-sha256");
	char want[65], account[64];
	uint8_t skey[32];
	bool ok = false;
	int r;

	if (auth ? oss_v4_header_parse_oss(auth, &a) < 0 : oss_v4_query_parse_oss(req->query, &a) < 0) {
		oss_fail(req, resp, 400, "InvalidArgument", "The V4 signature's fields are missing or not valid.", NULL);
		return -EINVAL;
	}
	if ((r = v4_time_check(req, resp, &a, auth ? "x-oss-date" : NULL)) < 0)
		return r;
	if (strncmp(a.amz_date, a.date, 8) != 0 || !streq(a.service, "oss")) {
		oss_fail(req, resp, 400, "InvalidArgument", "The credential's date or product does not match the request.",
			 NULL);
		return -EINVAL;
	}
	if (payload && !is_hex64(payload) && !streq(payload, "UNSIGNED-PAYLOAD")) {
		oss_fail(req, resp, 400, "InvalidArgument", "x-oss-content-sha256 is not a payload hash this service takes.",
			 NULL);
		return -EINVAL;
	}
	if ((r = key_get(q, req, resp, a.ak, &key)) < 0)
		return r;
	r = oss_v4_signing_key(key.secret, &a, skey);
	snprintf(account, sizeof(account), "%s", key.account_id);
	explicit_bzero(&key, sizeof(key));
	/* An empty query value is signed as "k" (a sub-resource) or "k=": either is the client's. */
	for (int eq = 0; r == 0 && eq < 2 && !ok; eq++) {
		struct oss_v4_oss_request rq = { .method = req->method, .bucket = q->bucket, .key = q->key ? q->key : "",
						 .query = req->query, .headers = req->headers,
						 .additional = a.signed_headers, .empty_equals = eq };
		_cleanup_free_ char *canonical = oss_v4_canonical_request_oss(&rq);

		r = canonical ? oss_v4_sign_auth(&a, skey, canonical, want) : -ENOMEM;
		ok = r == 0 && ecs_streq_ct(want, a.signature);
	}
	if (r == 0 && ok && payload && is_hex64(payload))
		r = expect_sha256(q, payload);
	explicit_bzero(skey, sizeof(skey));
	if (r < 0) {
		oss_fail_errno(req, resp, r);
		return r;
	}
	if (!ok)
		return bad_sig(req, resp, "OSS4-HMAC-SHA256");
	snprintf(q->caller, sizeof(q->caller), "%s", account);
	return 0;
}

int oss_authenticate(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	const char *auth = ecs_kvlist_get_case(req->headers, "Authorization");

	if (auth) {
		if (str_has_prefix(auth, "OSS "))
			return auth_v1(q, req, resp, false, auth);
		if (str_has_prefix(auth, "AWS "))
			return auth_v1(q, req, resp, true, auth);
		if (str_has_prefix(auth, "AWS4-HMAC-SHA256 "))
			return auth_v4(q, req, resp, auth);
		if (str_has_prefix(auth, "OSS4-HMAC-SHA256 "))
			return auth_oss_v4(q, req, resp, auth);
		oss_fail(req, resp, 400, "InvalidArgument", "Authorization header is invalid.", NULL);
		return -EINVAL;
	}
	if (ecs_kvlist_get(req->query, "OSSAccessKeyId"))
		return auth_v1(q, req, resp, false, NULL);
	if (ecs_kvlist_get(req->query, "AWSAccessKeyId"))
		return auth_v1(q, req, resp, true, NULL);
	if (ecs_kvlist_get(req->query, "X-Amz-Algorithm"))
		return auth_v4(q, req, resp, NULL);
	if (ecs_kvlist_get(req->query, "x-oss-signature-version"))
		return auth_oss_v4(q, req, resp, NULL);
	return 0;
}
