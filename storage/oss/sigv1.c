#include "sigv1.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "crypto.h"
#include "util.h"

#define STS_MAX (64 * 1024)

static const char *const signed_subresources[] = {
	"acl", "append", "asyncFetch", "bucketInfo", "callback", "callback-var", "cname", "comp",
	"continuation-token", "cors", "delete", "encryption", "endTime", "img", "inventory", "inventoryId",
	"lifecycle", "live", "location", "logging", "objectMeta", "partNumber", "policy", "position", "qos",
	"referer", "replication", "replicationLocation", "replicationProgress", "requestPayment",
	"response-cache-control", "response-content-disposition", "response-content-encoding",
	"response-content-language", "response-content-type", "response-expires", "restore",
	"security-token", "startTime", "stat", "status", "style", "styleName", "symlink", "tagging",
	"transferAcceleration", "udf", "uploadId", "uploads", "versionId", "versioning", "versions", "vod",
	"website", "worm", "wormExtend", "wormId", "x-oss-process", "x-oss-traffic-limit",
};

/* botocore's HmacV1Auth list (S3's signature V2). */
static const char *const s3_subresources[] = {
	"accelerate", "acl", "analytics", "cors", "defaultObjectAcl", "delete", "inventory", "lifecycle",
	"location", "logging", "metrics", "notification", "object-lock", "partNumber", "policy",
	"replication", "requestPayment", "response-cache-control", "response-content-disposition",
	"response-content-encoding", "response-content-language", "response-content-type",
	"response-expires", "restore", "select", "select-type", "storageClass", "tagging", "torrent",
	"uploadId", "uploads", "versionId", "versioning", "versions", "website",
};

static bool s3_subresource(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(s3_subresources); i++)
		if (streq(name, s3_subresources[i]))
			return true;
	return false;
}

bool oss_subresource_signed(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(signed_subresources); i++)
		if (streq(name, signed_subresources[i]))
			return true;
	return false;
}

static int add(struct ecs_buf *b, const char *s, size_t n)
{
	return ecs_buf_append(b, s, n, STS_MAX);
}

static int adds(struct ecs_buf *b, const char *s)
{
	return add(b, s, strlen(s));
}

static int cmp_kv(const void *a, const void *b)
{
	return strcmp(((const struct ecs_kv *)a)->key, ((const struct ecs_kv *)b)->key);
}

/* The x-oss-* headers, names lower-cased, values trimmed, sorted. */
static int oss_headers(const struct ecs_kvlist *h, const char *prefix, struct ecs_kvlist *ret)
{
	for (size_t i = 0; h && i < h->n; i++) {
		const char *k = h->items[i].key, *v = h->items[i].value;
		size_t kl = strlen(k), vl;
		char lk[256];

		if (strncasecmp(k, prefix, 6) != 0 || kl >= sizeof(lk))
			continue;
		for (size_t j = 0; j <= kl; j++)
			lk[j] = (char)((k[j] >= 'A' && k[j] <= 'Z') ? k[j] + 32 : k[j]);
		while (*v == ' ' || *v == '\t')
			v++;
		vl = strlen(v);
		while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
			vl--;
		if (ecs_kvlist_addn(ret, lk, kl, v, vl) < 0)
			return -ENOMEM;
	}
	if (ret->n)
		qsort(ret->items, ret->n, sizeof(ret->items[0]), cmp_kv);
	return 0;
}

static const char *header(const struct oss_sign_input *in, const char *name)
{
	return in->headers ? strempty(ecs_kvlist_get_case(in->headers, name)) : "";
}

char *oss_sign_string(const struct oss_sign_input *in)
{
	struct ecs_kvlist xh = ECS_KVLIST_INIT, sub = ECS_KVLIST_INIT;
	struct ecs_buf b = { 0 };
	int r = 0;

	r |= adds(&b, in->method);
	r |= adds(&b, "\n");
	r |= adds(&b, header(in, "Content-MD5"));
	r |= adds(&b, "\n");
	r |= adds(&b, header(in, "Content-Type"));
	r |= adds(&b, "\n");
	r |= adds(&b, strempty(in->date));
	r |= adds(&b, "\n");
	if (oss_headers(in->headers, in->s3 ? "x-amz-" : "x-oss-", &xh) < 0)
		r = -ENOMEM;
	for (size_t i = 0; !r && i < xh.n; i++) {
		r |= adds(&b, xh.items[i].key);
		r |= adds(&b, ":");
		r |= adds(&b, xh.items[i].value);
		r |= adds(&b, "\n");
	}
	if (in->s3) {
		r |= adds(&b, in->resource ? in->resource : "/");
	} else {
		r |= adds(&b, "/");
	}
	if (!in->s3 && in->bucket && *in->bucket) {
		r |= adds(&b, in->bucket);
		r |= adds(&b, "/");
		if (in->key)
			r |= adds(&b, in->key);
	}
	for (size_t i = 0; in->query && i < in->query->n; i++)
		if ((in->s3 ? s3_subresource(in->query->items[i].key) : oss_subresource_signed(in->query->items[i].key)) &&
		    ecs_kvlist_add(&sub, in->query->items[i].key, in->query->items[i].value) < 0)
			r = -ENOMEM;
	if (sub.n)
		qsort(sub.items, sub.n, sizeof(sub.items[0]), cmp_kv);
	for (size_t i = 0; !r && i < sub.n; i++) {
		r |= adds(&b, i ? "&" : "?");
		r |= adds(&b, sub.items[i].key);
		if (*sub.items[i].value) {
			r |= adds(&b, "=");
			r |= adds(&b, sub.items[i].value);
		}
	}
	ecs_kvlist_clear(&xh);
	ecs_kvlist_clear(&sub);
	if (r) {
		ecs_buf_free(&b);
		return NULL;
	}
	return ecs_buf_steal(&b);
}

int oss_sign_v1(const char *secret, const char *sts, char out[29])
{
	return ecs_hmac_sha1_b64(secret, sts, out);
}

int oss_auth_header_parse(const char *value, char ret_ak[OSS_AK_MAX], char ret_sig[OSS_SIG_MAX])
{
	return oss_auth_header_parse_prefix(value, "OSS ", ret_ak, ret_sig);
}

int oss_auth_header_parse_prefix(const char *value, const char *prefix, char ret_ak[OSS_AK_MAX],
				 char ret_sig[OSS_SIG_MAX])
{
	const char *colon;
	size_t akl, sl;

	if (!value || strncmp(value, prefix, strlen(prefix)) != 0)
		return -EINVAL;
	value += strlen(prefix);
	colon = strrchr(value, ':');
	if (!colon)
		return -EINVAL;
	akl = (size_t)(colon - value);
	sl = strlen(colon + 1);
	if (!akl || akl >= OSS_AK_MAX || !sl || sl >= OSS_SIG_MAX || memchr(value, ' ', akl))
		return -EINVAL;
	memcpy(ret_ak, value, akl);
	ret_ak[akl] = '\0';
	memcpy(ret_sig, colon + 1, sl + 1);
	return 0;
}
