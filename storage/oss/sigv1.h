/* sigv1.h: OSS signature V1, as ali-oss and OSS's other clients sign and OSS checks it.
 *
 *   Authorization: OSS <AccessKeyId>:<base64(HMAC-SHA1(secret, StringToSign))>
 *   StringToSign = VERB "\n" Content-MD5 "\n" Content-Type "\n" DATE "\n"
 *                  sorted lowercase "x-oss-name:value\n" lines (values trimmed)
 *                  CanonicalizedResource
 *   CanonicalizedResource = "/" | "/bucket/" | "/bucket/key", then the signed
 *                  sub-resources present in the query, sorted: "?acl&response-expires=v"
 *
 * DATE is x-oss-date when the request has one (ali-oss sends no Date), else Date; in a
 * signed URL (OSSAccessKeyId, Expires, Signature in the query) it is Expires. */
#ifndef OSS_SIGV1_H
#define OSS_SIGV1_H

#include <stdbool.h>

#include "kv.h"

#define OSS_AK_MAX 128
#define OSS_SIG_MAX 64

struct oss_sign_input {
	const char *method;
	const char *date;		  /* the date slot (see above) */
	const struct ecs_kvlist *headers; /* as received: Content-MD5, Content-Type, x-oss-* */
	const struct ecs_kvlist *query;	  /* decoded */
	const char *bucket;		  /* NULL or "": the service */
	const char *key;		  /* NULL or "": the bucket */
	/* S3's signature V2 (Authorization: AWS ak:sig), the same scheme: x-amz-* headers,
	 * S3's sub-resources, and the resource given as the client addressed it. */
	bool s3;
	const char *resource; /* s3: "/bucket/key" as requested (decoded), or "/" */
};

/* Whether a query parameter is a signed sub-resource. */
bool oss_subresource_signed(const char *name);
/* The StringToSign (caller frees); NULL when out of memory. */
char *oss_sign_string(const struct oss_sign_input *in);
/* base64(HMAC-SHA1(secret, sts)) into out (29 bytes with the NUL). */
int oss_sign_v1(const char *secret, const char *sts, char out[29]);
/* Split "OSS ak:sig" (or, prefix "AWS ", S3's V2 "AWS ak:sig"); -EINVAL when it is not that shape or a part is too long. */
int oss_auth_header_parse(const char *value, char ret_ak[OSS_AK_MAX], char ret_sig[OSS_SIG_MAX]);
int oss_auth_header_parse_prefix(const char *value, const char *prefix, char ret_ak[OSS_AK_MAX],
				 char ret_sig[OSS_SIG_MAX]);

#endif
