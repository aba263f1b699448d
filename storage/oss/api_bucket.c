/* The service and bucket calls: GetService, PutBucket, DeleteBucket, GetBucket (ListObjects
 * and ListObjectsV2), GetBucketInfo, GetBucketLocation, Get/PutBucketAcl. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api-internal.h"
#include "crypto.h"
#include "parse.h"
#include "url.h"
#include "util.h"

static bool is_owner(const struct oss_req *q)
{
	return q->caller[0] && streq(q->caller, q->b.owner);
}

static void denied(const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	oss_fail(req, resp, 403, "AccessDenied", "You have no right to access this bucket.", NULL);
}

/* max-keys: 1-1000, default 100. */
static int max_keys(const struct ecs_http_request *req, struct ecs_http_response *resp, unsigned *ret)
{
	const char *s = ecs_kvlist_get(req->query, "max-keys");
	long long v = 100;

	if (s && ecs_parse_int64(s, 1, 1000, &v) < 0) {
		oss_fail(req, resp, 400, "InvalidArgument", "max-keys must be an integer from 1 to 1000.", NULL);
		return -EINVAL;
	}
	*ret = (unsigned)v;
	return 0;
}

static void service_list(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	const char *prefix = strempty(ecs_kvlist_get(req->query, "prefix"));
	const char *marker = strempty(ecs_kvlist_get(req->query, "marker"));
	char **names = NULL;
	size_t n = 0;
	bool more = false;
	unsigned max;
	struct oss_xml w = { 0 };
	int r;

	if (!q->caller[0])
		return oss_fail(req, resp, 403, "AccessDenied", "Anonymous access is forbidden for this operation.", NULL);
	if (max_keys(req, resp, &max) < 0)
		return;
	if (!ecs_kvlist_get(req->query, "max-keys"))
		max = 1000;
	if ((r = oss_bucket_names(q->o, q->caller, prefix, marker, max, &names, &n, &more)) < 0)
		return oss_fail_errno(req, resp, r);
	oss_xroot(&w, req, "ListAllMyBucketsResult");
	if (*prefix)
		oss_xel(&w, "Prefix", prefix, false);
	if (*marker)
		oss_xel(&w, "Marker", marker, false);
	if (ecs_kvlist_get(req->query, "max-keys"))
		oss_xint(&w, "MaxKeys", max);
	if (more) {
		oss_xput(&w, "<IsTruncated>true</IsTruncated>");
		oss_xel(&w, "NextMarker", n ? names[n - 1] : "", false);
	}
	oss_xowner(&w, q->caller);
	oss_xput(&w, "<Buckets>");
	for (size_t i = 0; i < n; i++) {
		struct oss_bucket b;
		char date[32];

		if (oss_bucket_get(q->o, names[i], &b) < 0 || !streq(b.owner, q->caller))
			continue;
		oss_iso_date_format(b.created, date);
		oss_xput(&w, "<Bucket>");
		oss_xel(&w, "CreationDate", date, false);
		oss_xput(&w, "<Location>oss-");
		oss_xput(&w, q->o->region);
		oss_xput(&w, "</Location>");
		oss_xel(&w, "Name", b.name, false);
		oss_xel(&w, "Region", q->o->region, false);
		oss_xput(&w, "<StorageClass>Standard</StorageClass></Bucket>");
	}
	oss_xput(&w, "</Buckets></ListAllMyBucketsResult>\n");
	ecs_strv_free(names, n);
	oss_reply_xml(req, resp, 200, oss_xfinish(&w));
}

static void bucket_put(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	const char *acl_h = oss_hdr(req, "acl");
	const char *acl = acl_h ? oss_acl_canonical(acl_h, false) : "private";
	struct oss_bucket b = { 0 }, cur;
	char granted[24];
	int r;

	if (!q->caller[0])
		return oss_fail(req, resp, 403, "AccessDenied", "Anonymous access is forbidden for this operation.", NULL);
	if ((r = oss_acl_from_grants(req, resp, q->caller, granted)) < 0)
		return;
	if (r == 0)
		acl = acl_h = granted;
	if (!acl)
		return oss_fail(req, resp, 400, "InvalidArgument", "no such bucket access control exists", NULL);
	snprintf(b.name, sizeof(b.name), "%s", q->bucket);
	snprintf(b.owner, sizeof(b.owner), "%s", q->caller);
	snprintf(b.acl, sizeof(b.acl), "%s", acl);
	oss_random_hex(b.id);
	b.created = time(NULL);
	r = oss_bucket_create(q->o, &b);
	if (r == -EEXIST) {
		/* The owner making it again is no error (OSS); the ACL given is applied. */
		if (oss_bucket_get(q->o, q->bucket, &cur) == 0 && streq(cur.owner, q->caller)) {
			if (acl_h && (r = oss_bucket_set_acl(q->o, &cur, acl)) < 0)
				return oss_fail_errno(req, resp, r);
			goto ok;
		}
		return oss_fail(req, resp, 409, "BucketAlreadyExists", "The requested bucket name is not available.", NULL);
	}
	if (r == -EDQUOT)
		return oss_fail(req, resp, 400, "TooManyBuckets", "You have attempted to create more buckets than allowed.",
				NULL);
	if (r < 0)
		return oss_fail_errno(req, resp, r);
ok:
	oss_reply_empty(req, resp);
	ecs_http_add_header(resp, "Location", "/");
}

static void bucket_delete(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	int r;

	if (!is_owner(q))
		return denied(req, resp);
	r = oss_bucket_delete(q->o, &q->b);
	if (r == -ENOTEMPTY)
		return oss_fail(req, resp, 409, "BucketNotEmpty", "The bucket you tried to delete is not empty.", NULL);
	if (r < 0)
		return oss_fail_errno(req, resp, r);
	ecs_http_reply(resp, 204, "application/xml", "", 0);
	ecs_http_add_header(resp, "x-oss-request-id", req->request_id);
}

static void contents(const struct ecs_http_request *req, struct oss_xml *w, const struct oss_entry *e,
		     const char *owner_id, bool url)
{
	char date[32], etag[56];

	oss_iso_date_format(e->mtime, date);
	oss_etag_quoted(req, e->etag, etag);
	oss_xput(w, "<Contents>");
	oss_xel(w, "Key", e->key, url);
	oss_xel(w, "LastModified", date, false);
	oss_xel(w, "ETag", etag, false);
	oss_xput(w, e->appendable ? "<Type>Appendable</Type>" : e->parts ? "<Type>Multipart</Type>" : "<Type>Normal</Type>");
	oss_xint(w, "Size", (long long)e->size);
	oss_xput(w, "<StorageClass>Standard</StorageClass>");
	if (owner_id)
		oss_xowner(w, owner_id);
	oss_xput(w, "</Contents>");
}

static void bucket_list(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	const char *lt = ecs_kvlist_get(req->query, "list-type");
	bool v2 = streq(lt, "2");
	const char *prefix = strempty(ecs_kvlist_get(req->query, "prefix"));
	const char *delim = strempty(ecs_kvlist_get(req->query, "delimiter"));
	const char *enc = ecs_kvlist_get(req->query, "encoding-type");
	const char *token = ecs_kvlist_get(req->query, "continuation-token");
	const char *start_after = strempty(ecs_kvlist_get(req->query, "start-after"));
	bool url = streq(enc, "url"), fetch_owner = streq(ecs_kvlist_get(req->query, "fetch-owner"), "true");
	_cleanup_free_ uint8_t *tok = NULL;
	const char *marker = v2 ? start_after : strempty(ecs_kvlist_get(req->query, "marker"));
	struct oss_listing l = { 0 };
	struct oss_xml w = { 0 };
	unsigned max;
	int r;

	if (!oss_allowed(q, q->b.acl, false))
		return denied(req, resp);
	if (lt && !v2)
		return oss_fail(req, resp, 400, "InvalidArgument", "list-type must be 2.", NULL);
	if (enc && !url)
		return oss_fail(req, resp, 400, "InvalidArgument", "The encoding-type must be url.", NULL);
	if (strlen(prefix) > 1023 || strlen(marker) > 1023 || strlen(delim) > 1023)
		return oss_fail(req, resp, 400, "InvalidArgument", "prefix, marker and delimiter are at most 1023 bytes.",
				NULL);
	if (max_keys(req, resp, &max) < 0)
		return;
	if (v2 && token) {
		size_t tl;

		if (ecs_base64_decode(token, strlen(token), &tok, &tl) < 0 || tl > 1023 || memchr(tok, 0, tl))
			return oss_fail(req, resp, 400, "InvalidArgument", "The continuation-token is not valid.", NULL);
		marker = (const char *)tok;
	}
	if ((r = oss_list(q->o, &q->b, prefix, *delim ? delim : NULL, marker, max, &l)) < 0)
		return oss_fail_errno(req, resp, r);
	oss_xroot(&w, req, "ListBucketResult");
	oss_xel(&w, "Name", q->b.name, false);
	oss_xel(&w, "Prefix", prefix, url);
	if (!v2)
		oss_xel(&w, "Marker", marker, url);
	oss_xint(&w, "MaxKeys", max);
	oss_xel(&w, "Delimiter", delim, url);
	if (url)
		oss_xput(&w, "<EncodingType>url</EncodingType>");
	if (v2) {
		if (*start_after)
			oss_xel(&w, "StartAfter", start_after, url);
		if (token)
			oss_xel(&w, "ContinuationToken", token, false);
	}
	oss_xput(&w, l.truncated ? "<IsTruncated>true</IsTruncated>" : "<IsTruncated>false</IsTruncated>");
	if (l.truncated && !v2)
		oss_xel(&w, "NextMarker", l.next_marker, url);
	if (l.truncated && v2) {
		_cleanup_free_ char *nt = ecs_base64_encode(l.next_marker, strlen(l.next_marker));

		oss_xel(&w, "NextContinuationToken", nt ? nt : "", false);
	}
	if (v2)
		oss_xint(&w, "KeyCount", (long long)(l.n + l.n_prefixes));
	for (size_t i = 0; i < l.n; i++)
		contents(req, &w, &l.entries[i], !v2 || fetch_owner ? q->b.owner : NULL, url);
	for (size_t i = 0; i < l.n_prefixes; i++) {
		oss_xput(&w, "<CommonPrefixes>");
		oss_xel(&w, "Prefix", l.prefixes[i], url);
		oss_xput(&w, "</CommonPrefixes>");
	}
	oss_xput(&w, "</ListBucketResult>\n");
	oss_listing_clear(&l);
	oss_reply_xml(req, resp, 200, oss_xfinish(&w));
}

static void bucket_info(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	struct oss_xml w = { 0 };
	char date[32];

	if (!is_owner(q))
		return denied(req, resp);
	oss_iso_date_format(q->b.created, date);
	oss_xput(&w, OSS_XML_HEAD "<BucketInfo><Bucket>");
	oss_xel(&w, "CreationDate", date, false);
	oss_xput(&w, "<Location>oss-");
	oss_xput(&w, q->o->region);
	oss_xput(&w, "</Location>");
	oss_xel(&w, "Name", q->b.name, false);
	oss_xel(&w, "Region", q->o->region, false);
	oss_xowner(&w, q->b.owner);
	oss_xput(&w, "<AccessControlList>");
	oss_xel(&w, "Grant", q->b.acl, false);
	oss_xput(&w, "</AccessControlList><StorageClass>Standard</StorageClass><DataRedundancyType>LRS</DataRedundancyType>"
		"</Bucket></BucketInfo>\n");
	oss_reply_xml(req, resp, 200, oss_xfinish(&w));
}

static void bucket_head(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	if (!oss_allowed(q, q->b.acl, false))
		return denied(req, resp);
	oss_reply_empty(req, resp);
}

static void bucket_location(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	if (!is_owner(q))
		return denied(req, resp);
	oss_reply_xml(req, resp, 200,
		      ecs_strdup_printf(OSS_XML_HEAD "<LocationConstraint>oss-%s</LocationConstraint>\n", q->o->region));
}

static void bucket_acl_get(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	struct oss_xml w = { 0 };

	if (!is_owner(q))
		return denied(req, resp);
	oss_xacl(&w, req, q->b.owner, q->b.acl);
	oss_reply_xml(req, resp, 200, oss_xfinish(&w));
}

static void bucket_acl_put(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	const char *acl;
	char buf[24];
	int r;

	if (!is_owner(q))
		return denied(req, resp);
	if (oss_acl_requested(q, req, resp, "acl", false, "no such bucket access control exists", buf, &acl) < 0)
		return;
	if ((r = oss_bucket_set_acl(q->o, &q->b, acl)) < 0)
		return oss_fail_errno(req, resp, r);
	oss_reply_empty(req, resp);
}

void oss_bucket_op(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	switch (q->op) {
	case OSS_OP_SERVICE_LIST: return service_list(q, req, resp);
	case OSS_OP_BUCKET_PUT: return bucket_put(q, req, resp);
	case OSS_OP_BUCKET_DELETE: return bucket_delete(q, req, resp);
	case OSS_OP_BUCKET_LIST: return bucket_list(q, req, resp);
	case OSS_OP_BUCKET_INFO: return bucket_info(q, req, resp);
	case OSS_OP_BUCKET_HEAD: return bucket_head(q, req, resp);
	case OSS_OP_BUCKET_LOCATION: return bucket_location(q, req, resp);
	case OSS_OP_BUCKET_ACL_GET: return bucket_acl_get(q, req, resp);
	case OSS_OP_BUCKET_ACL_PUT: return bucket_acl_put(q, req, resp);
	default: return oss_fail(req, resp, 501, "NotImplemented", "This operation is not implemented.", NULL);
	}
}
