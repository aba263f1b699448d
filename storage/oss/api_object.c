/* The object calls: PutObject (its body streamed into a writer), CopyObject, GetObject
 * (streamed out of the stripes), HeadObject, GetObjectMeta, DeleteObject and
 * DeleteMultipleObjects. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api-internal.h"
#include "crypto.h"
#include "log.h"
#include "parse.h"
#include "url.h"
#include "util.h"

void oss_denied(const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	oss_fail(req, resp, 403, "AccessDenied", "You have no right to access this object because of bucket acl.", NULL);
}

const char *oss_declared_length(const struct ecs_http_request *req)
{
	const char *clen = ecs_kvlist_get_case(req->headers, "x-amz-decoded-content-length");

	return clen ? clen : ecs_kvlist_get_case(req->headers, "Content-Length");
}

int oss_body_begin(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp,
		   const char *clen, uint64_t max, const char *too_large)
{
	long long n;
	int r;

	if (clen && (ecs_parse_int64(clen, 0, INT64_MAX, &n) < 0 || (uint64_t)n > max)) {
		oss_fail(req, resp, 400, "EntityTooLarge", too_large, NULL);
		return -EFBIG;
	}
	if ((r = oss_writer_begin(q->o, &q->b, q->key, &q->w)) < 0) {
		oss_fail_errno(req, resp, r);
		return r;
	}
	return 0;
}

static void denied(const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	oss_denied(req, resp);
}

static void no_key(const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	oss_fail(req, resp, 404, "NoSuchKey", "The specified key does not exist.", NULL);
}

/* The entry's fields the client gave: Content-Type, x-oss-meta-*, x-oss-object-acl.
 * 0, or an error answered. */
int oss_entry_from_headers(const struct ecs_http_request *req, struct ecs_http_response *resp, const char *owner,
			   struct oss_entry *e)
{
	const char *ct = ecs_kvlist_get_case(req->headers, "Content-Type");
	const char *acl_h = oss_hdr(req, oss_req_is_s3(req) ? "acl" : "object-acl");
	const char *mp = oss_req_is_s3(req) ? "x-amz-meta-" : "x-oss-meta-";
	const char *acl = acl_h ? oss_acl_canonical(acl_h, true) : "default";
	char granted[24];
	size_t meta = 0;
	int g = oss_acl_from_grants(req, resp, owner, granted);

	if (g < 0)
		return g;
	if (g == 0)
		acl = granted;
	if (!acl) {
		oss_fail(req, resp, 400, "InvalidArgument", "no such object access control exists", NULL);
		return -EINVAL;
	}
	if (ct && strlen(ct) >= sizeof(e->ctype)) {
		oss_fail(req, resp, 400, "InvalidArgument", "Content-Type is too long.", NULL);
		return -EINVAL;
	}
	snprintf(e->ctype, sizeof(e->ctype), "%s", ct && *ct ? ct : "application/octet-stream");
	snprintf(e->acl, sizeof(e->acl), "%s", acl);
	e->meta = json_object_new_object();
	for (size_t i = 0; i < req->headers->n; i++) {
		const char *k = req->headers->items[i].key, *v = req->headers->items[i].value;
		char name[256];

		if (strncasecmp(k, mp, 11) != 0)
			continue;
		meta += strlen(k) + strlen(v);
		if (meta > OSS_META_MAX || strlen(k + 11) >= sizeof(name)) {
			oss_fail(req, resp, 400, "MetadataTooLarge", "Your metadata headers exceed the maximum allowed size.",
				 NULL);
			return -EINVAL;
		}
		for (size_t j = 0; j <= strlen(k + 11); j++)
			name[j] = (char)((k[11 + j] >= 'A' && k[11 + j] <= 'Z') ? k[11 + j] + 32 : k[11 + j]);
		json_object_object_add(e->meta, name, json_object_new_string(v));
	}
	return 0;
}


int oss_object_put_begin(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	if (!oss_allowed(q, q->b.acl, true)) {
		denied(req, resp);
		return -EACCES;
	}
	return oss_body_begin(q, req, resp, oss_declared_length(req), OSS_OBJECT_MAX,
			      "Your proposed upload exceeds the maximum allowed object size.");
}

static void object_put(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	const char *md5_b64 = ecs_kvlist_get_case(req->headers, "Content-MD5");
	const char *forbid = ecs_kvlist_get_case(req->headers, "x-oss-forbid-overwrite");
	_cleanup_free_ uint8_t *md5 = NULL;
	struct oss_entry e = { 0 };
	size_t ml = 0;
	int r;

	if (md5_b64 && (ecs_base64_decode(md5_b64, strlen(md5_b64), &md5, &ml) < 0 || ml != ECS_MD5_LEN))
		return oss_fail(req, resp, 400, "InvalidDigest", "The Content-MD5 you specified is not valid.", NULL);
	if (oss_entry_from_headers(req, resp, q->b.owner, &e) < 0)
		goto out;
	r = oss_writer_commit(TAKE_PTR(q->w), &e, md5, streq(forbid, "true"));
	if (r == -EBADMSG) {
		oss_fail(req, resp, 400, "InvalidDigest", "The Content-MD5 you specified did not match what we received.",
			 NULL);
	} else if (r == -EEXIST) {
		oss_fail(req, resp, 409, "FileAlreadyExists", "The object you specified already exists and can not be overwritten.",
			 NULL);
	} else if (r == -EFBIG) {
		oss_fail(req, resp, 400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size.",
			 NULL);
	} else if (r < 0) {
		oss_fail_errno(req, resp, r);
	} else {
		oss_reply_etag(req, resp, e.etag);
		oss_reply_crc64(req, resp, e.has_crc64, e.crc64);
	}
out:
	oss_entry_clear(&e);
}

/* Read access to an object: the object's own ACL when it has one, else the bucket's. */
static bool may_read(const struct oss_req *q, const struct oss_entry *e)
{
	return oss_allowed(q, streq(e->acl, "default") || !e->acl[0] ? q->b.acl : e->acl, false);
}

static void meta_headers(const struct ecs_http_request *req, struct ecs_http_response *resp, const struct oss_entry *e)
{
	bool s3 = oss_req_is_s3(req);

	char etag[56], date[32];

	oss_etag_quoted(req, e->etag, etag);
	oss_http_date_format(e->mtime, date);
	ecs_http_add_header(resp, "ETag", etag);
	ecs_http_add_header(resp, "Last-Modified", date);
	if (!s3) {
		ecs_http_add_header(resp, "x-oss-object-type", e->appendable ? "Appendable" : e->parts ? "Multipart" : "Normal");
		ecs_http_add_header(resp, "x-oss-storage-class", "Standard");
		oss_reply_crc64(req, resp, e->has_crc64, e->crc64);
	}
	ecs_http_add_header(resp, "Accept-Ranges", "bytes");
	json_object_object_foreach(e->meta, k, v)
	{
		char name[300];

		snprintf(name, sizeof(name), "%s-meta-%s", s3 ? "x-amz" : "x-oss", k);
		ecs_http_add_header(resp, name, json_object_get_string(v));
	}
}

/* If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since: 0 to go on, or the
 * status answered (304, 412). */
static int preconditions(const struct ecs_http_request *req, struct ecs_http_response *resp, const struct oss_entry *e)
{
	const char *im = ecs_kvlist_get_case(req->headers, "If-Match");
	const char *inm = ecs_kvlist_get_case(req->headers, "If-None-Match");
	const char *ims = ecs_kvlist_get_case(req->headers, "If-Modified-Since");
	const char *ius = ecs_kvlist_get_case(req->headers, "If-Unmodified-Since");
	char etag[56];
	time_t t;

	oss_etag_quoted(req, e->etag, etag);
	if (im && !strcaseeq(im, etag) && !strcaseeq(im, etag + 1) && !streq(im, "*")) {
		oss_fail(req, resp, 412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold.",
			 "  <Condition>If-Match</Condition>\n");
		return 412;
	}
	if (ius && oss_http_date_parse(ius, &t) == 0 && e->mtime > t) {
		oss_fail(req, resp, 412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold.",
			 "  <Condition>If-Unmodified-Since</Condition>\n");
		return 412;
	}
	if ((inm && (strcaseeq(inm, etag) || streq(inm, "*") || (strlen(inm) == 32 && strncasecmp(inm, etag + 1, 32) == 0))) ||
	    (!inm && ims && oss_http_date_parse(ims, &t) == 0 && e->mtime <= t)) {
		ecs_http_reply(resp, 304, NULL, "", 0);
		ecs_http_add_header(resp, "x-oss-request-id", req->request_id);
		meta_headers(req, resp, e);
		return 304;
	}
	return 0;
}

struct reader {
	struct oss *o;
	struct oss_layout l;
	uint64_t start;
};

static long read_stripes(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct reader *rd = cls;
	long n = oss_layout_read(rd->o, &rd->l, rd->start + pos, buf, max);

	return n > 0 ? n : -2; /* MHD_CONTENT_READER_END_WITH_ERROR: the object is short */
}

static void reader_free(void *cls)
{
	struct reader *rd = cls;

	oss_layout_clear(&rd->l);
	free(rd);
}

static const char *const overrides[][2] = {
	{ "response-content-type", "Content-Type" },
	{ "response-content-language", "Content-Language" },
	{ "response-expires", "Expires" },
	{ "response-cache-control", "Cache-Control" },
	{ "response-content-disposition", "Content-Disposition" },
	{ "response-content-encoding", "Content-Encoding" },
};

static void object_get(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp, bool head)
{
	const char *range = ecs_kvlist_get_case(req->headers, "Range");
	const char *behavior = ecs_kvlist_get_case(req->headers, "x-oss-range-behavior");
	const char *ctype;
	struct oss_entry e;
	struct reader *rd;
	uint64_t start = 0, len;
	int r, partial;

	r = oss_entry_get(q->o, &q->b, q->key, &e);
	if (r == -ENOENT)
		return oss_allowed(q, q->b.acl, false) ? no_key(req, resp) : denied(req, resp);
	if (r < 0)
		return oss_fail_errno(req, resp, r);
	if (!may_read(q, &e))
		goto denied;
	if (preconditions(req, resp, &e))
		goto out;
	len = e.size;
	partial = range ? oss_range_parse(range, e.size, &start, &len) : 1;
	if (partial == -ERANGE) {
		if (strcaseeq(behavior, "standard") || oss_req_is_s3(req)) {
			char cr[64];

			snprintf(cr, sizeof(cr), "bytes */%llu", (unsigned long long)e.size);
			oss_fail(req, resp, 416, "InvalidRange", "The requested range cannot be satisfied.", NULL);
			ecs_http_add_header(resp, "Content-Range", cr);
			goto out;
		}
		partial = 1; /* OSS serves the whole object for a range it cannot satisfy */
	}
	if (partial == 1) {
		start = 0;
		len = e.size;
	}
	rd = calloc(1, sizeof(*rd));
	if (!rd) {
		oss_fail_errno(req, resp, -ENOMEM);
		goto out;
	}
	rd->o = q->o;
	if ((r = oss_layout_load(q->o, &q->b, &e, &rd->l)) < 0) {
		free(rd);
		oss_fail_errno(req, resp, r);
		goto out;
	}
	rd->start = start;
	ctype = e.ctype;
	for (size_t i = 0; i < ARRAY_SIZE(overrides); i++)
		if (streq(overrides[i][0], "response-content-type") && ecs_kvlist_get(req->query, overrides[i][0]))
			ctype = ecs_kvlist_get(req->query, overrides[i][0]);
	ecs_http_reply_reader(resp, partial == 0 ? 206 : 200, ctype, len, read_stripes, reader_free, rd);
	ecs_http_add_header(resp, "x-oss-request-id", req->request_id);
	meta_headers(req, resp, &e);
	if (partial == 0) {
		char cr[96];

		snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", (unsigned long long)start,
			 (unsigned long long)(start + len - 1), (unsigned long long)e.size);
		ecs_http_add_header(resp, "Content-Range", cr);
	}
	for (size_t i = 1; i < ARRAY_SIZE(overrides); i++) {
		const char *v = ecs_kvlist_get(req->query, overrides[i][0]);

		if (v)
			ecs_http_add_header(resp, overrides[i][1], v);
	}
	(void)head;
	goto out;
denied:
	denied(req, resp);
out:
	oss_entry_clear(&e);
}

static long no_body(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)cls, (void)pos, (void)buf, (void)max;
	return -2;
}

static void object_meta(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	struct oss_entry e;
	char etag[56], date[32], size[32];
	int r = oss_entry_get(q->o, &q->b, q->key, &e);

	if (r == -ENOENT)
		return oss_allowed(q, q->b.acl, false) ? no_key(req, resp) : denied(req, resp);
	if (r < 0)
		return oss_fail_errno(req, resp, r);
	if (!may_read(q, &e)) {
		oss_entry_clear(&e);
		return denied(req, resp);
	}
	oss_etag_quoted(req, e.etag, etag);
	oss_http_date_format(e.mtime, date);
	snprintf(size, sizeof(size), "%llu", (unsigned long long)e.size);
	/* As OSS: a HEAD's Content-Length is the object's size (no reader runs for a HEAD). */
	if (streq(req->method, "HEAD"))
		ecs_http_reply_reader(resp, 200, "application/octet-stream", e.size, no_body, NULL, NULL);
	else
		ecs_http_reply(resp, 200, "application/xml", "", 0);
	ecs_http_add_header(resp, "x-oss-request-id", req->request_id);
	ecs_http_add_header(resp, "ETag", etag);
	ecs_http_add_header(resp, "Last-Modified", date);
	ecs_http_add_header(resp, "x-oss-object-size", size);
	oss_entry_clear(&e);
}

static void object_delete(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	int r;

	if (!oss_allowed(q, q->b.acl, true))
		return denied(req, resp);
	r = oss_entry_delete(q->o, &q->b, q->key);
	if (r < 0 && r != -ENOENT)
		return oss_fail_errno(req, resp, r);
	/* Deleting a missing key succeeds, as OSS. */
	ecs_http_reply(resp, 204, "application/xml", "", 0);
	ecs_http_add_header(resp, "x-oss-request-id", req->request_id);
}

static int app(struct ecs_buf *b, const char *s)
{
	return ecs_buf_append(b, s, strlen(s), SIZE_MAX);
}

static void objects_delete(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	bool url = streq(ecs_kvlist_get(req->query, "encoding-type"), "url"), quiet = false;
	struct ecs_buf out = { 0 };
	char **keys = NULL;
	size_t n = 0;
	int r = 0;

	if (!oss_allowed(q, q->b.acl, true))
		return denied(req, resp);
	if (oss_delete_body_parse(q->body.data, q->body.len, &keys, &n, &quiet) < 0)
		return oss_fail(req, resp, 400, "MalformedXML", "The XML you provided was not well-formed.", NULL);
	for (size_t i = 0; i < n; i++)
		if (oss_key_check(keys[i]) < 0) {
			ecs_strv_free(keys, n);
			return oss_fail(req, resp, 400, "InvalidObjectName", "The object name is not valid.", NULL);
		}
	r |= app(&out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DeleteResult>");
	if (url)
		r |= app(&out, "<EncodingType>url</EncodingType>");
	for (size_t i = 0; i < n; i++) {
		int d = oss_entry_delete(q->o, &q->b, keys[i]);

		if (d < 0 && d != -ENOENT) {
			ecs_strv_free(keys, n);
			ecs_buf_free(&out);
			return oss_fail_errno(req, resp, d);
		}
		if (!quiet) {
			_cleanup_free_ char *enc = url ? ecs_percent_encode(keys[i]) : NULL;
			_cleanup_free_ char *esc = oss_xml_escape(url && enc ? enc : keys[i]);

			r |= app(&out, "<Deleted><Key>");
			r |= esc ? app(&out, esc) : -ENOMEM;
			r |= app(&out, "</Key></Deleted>");
		}
	}
	r |= app(&out, "</DeleteResult>\n");
	ecs_strv_free(keys, n);
	if (r) {
		ecs_buf_free(&out);
		return oss_fail_errno(req, resp, -ENOMEM);
	}
	oss_reply_xml(req, resp, 200, ecs_buf_steal(&out));
}

/* "/bucket/key" (percent-encoded, as ali-oss sends it) into its parts. */
static int copy_source(const char *h, char bucket[64], char **ret_key)
{
	_cleanup_free_ char *dec = NULL;
	const char *p, *slash;

	if (!h || ecs_percent_decode(h, strlen(h), false, &dec) < 0)
		return -EINVAL;
	p = dec[0] == '/' ? dec + 1 : dec;
	slash = strchr(p, '/');
	if (!slash || (size_t)(slash - p) >= 64)
		return -EINVAL;
	memcpy(bucket, p, (size_t)(slash - p));
	bucket[slash - p] = '\0';
	if (!oss_bucket_name_valid(bucket) || oss_key_check(slash + 1) < 0)
		return -EINVAL;
	*ret_key = strdup(slash + 1);
	return *ret_key ? 0 : -ENOMEM;
}

int oss_copy_source_open(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp,
			 struct oss_entry *ret_e, struct oss_layout *ret_layout)
{
	_cleanup_free_ char *skey = NULL;
	struct oss_bucket sb;
	struct oss_req sq;
	char sbucket[64];
	int r;

	if (copy_source(oss_hdr(req, "copy-source"), sbucket, &skey) < 0) {
		oss_fail(req, resp, 400, "InvalidArgument", "The copy source is not valid.", NULL);
		return -EINVAL;
	}
	r = oss_bucket_get(q->o, sbucket, &sb);
	if (r == -ENOENT) {
		oss_fail(req, resp, 404, "NoSuchBucket", "The specified source bucket does not exist.", NULL);
		return r;
	}
	if (r < 0)
		goto fail;
	sq = *q;
	sq.b = sb;
	r = oss_entry_get(q->o, &sb, skey, ret_e);
	if (r == -ENOENT) {
		oss_allowed(&sq, sb.acl, false) ? no_key(req, resp) : denied(req, resp);
		return r;
	}
	if (r < 0)
		goto fail;
	if (!oss_allowed(&sq, streq(ret_e->acl, "default") ? sb.acl : ret_e->acl, false)) {
		oss_entry_clear(ret_e);
		denied(req, resp);
		return -EACCES;
	}
	if ((r = oss_layout_load(q->o, &sb, ret_e, ret_layout)) < 0) {
		oss_entry_clear(ret_e);
		goto fail;
	}
	return 0;
fail:
	oss_fail_errno(req, resp, r);
	return r;
}

static void object_copy(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	const char *directive = oss_hdr(req, "metadata-directive");
	const char *forbid = ecs_kvlist_get_case(req->headers, "x-oss-forbid-overwrite");
	struct oss_entry se = { 0 }, ne = { 0 };
	struct oss_layout sl = { 0 };
	struct oss_writer *w = NULL;
	_cleanup_free_ char *body = NULL;
	char etag[56], date[32];
	struct oss_xml x = { 0 };
	int r;

	if (!oss_allowed(q, q->b.acl, true))
		return denied(req, resp);
	if (directive && !streq(directive, "COPY") && !streq(directive, "REPLACE"))
		return oss_fail(req, resp, 400, "InvalidArgument", "The metadata directive must be COPY or REPLACE.", NULL);
	if (oss_copy_source_open(q, req, resp, &se, &sl) < 0)
		return;
	if (streq(directive, "REPLACE")) {
		if (oss_entry_from_headers(req, resp, q->b.owner, &ne) < 0)
			goto out;
	} else {
		snprintf(ne.ctype, sizeof(ne.ctype), "%s", se.ctype);
		snprintf(ne.acl, sizeof(ne.acl), "%s", "default");
		ne.meta = json_object_get(se.meta);
	}
	if (se.size > OSS_OBJECT_MAX) {
		oss_fail(req, resp, 400, "EntityTooLarge", "A source larger than 5 GiB is copied with UploadPartCopy.", NULL);
		goto out;
	}
	if ((r = oss_writer_begin(q->o, &q->b, q->key, &w)) < 0) {
		oss_fail_errno(req, resp, r);
		goto out;
	}
	if ((r = oss_writer_copy(w, &sl, 0, se.size)) < 0) {
		oss_writer_abort(w);
		oss_fail_errno(req, resp, r);
		goto out;
	}
	r = oss_writer_commit(w, &ne, NULL, streq(forbid, "true"));
	if (r == -EEXIST) {
		oss_fail(req, resp, 409, "FileAlreadyExists", "The object you specified already exists and can not be overwritten.",
			 NULL);
		goto out;
	}
	if (r < 0) {
		oss_fail_errno(req, resp, r);
		goto out;
	}
	oss_etag_quoted(req, ne.etag, etag);
	oss_iso_date_format(ne.mtime, date);
	oss_xroot(&x, req, "CopyObjectResult");
	oss_xel(&x, "ETag", etag, false);
	oss_xel(&x, "LastModified", date, false);
	oss_xput(&x, "</CopyObjectResult>\n");
	oss_reply_xml(req, resp, 200, oss_xfinish(&x));
	ecs_http_add_header(resp, "ETag", etag);
out:
	oss_layout_clear(&sl);
	oss_entry_clear(&se);
	oss_entry_clear(&ne);
}

void oss_object_op(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	switch (q->op) {
	case OSS_OP_OBJECT_PUT: return object_put(q, req, resp);
	case OSS_OP_OBJECT_COPY: return object_copy(q, req, resp);
	case OSS_OP_OBJECT_GET: return object_get(q, req, resp, false);
	case OSS_OP_OBJECT_HEAD: return object_get(q, req, resp, true);
	case OSS_OP_OBJECT_META: return object_meta(q, req, resp);
	case OSS_OP_OBJECT_DELETE: return object_delete(q, req, resp);
	case OSS_OP_OBJECTS_DELETE: return objects_delete(q, req, resp);
	case OSS_OP_OBJECT_APPEND:
	case OSS_OP_OBJECT_ACL_GET:
	case OSS_OP_OBJECT_ACL_PUT: return oss_append_op(q, req, resp);
	case OSS_OP_UPLOAD_INIT:
	case OSS_OP_UPLOAD_PART:
	case OSS_OP_UPLOAD_PART_COPY:
	case OSS_OP_UPLOAD_COMPLETE:
	case OSS_OP_UPLOAD_ABORT:
	case OSS_OP_UPLOAD_PARTS:
	case OSS_OP_UPLOADS_LIST: return oss_multipart_op(q, req, resp);
	default: return oss_fail(req, resp, 501, "NotImplemented", "This operation is not implemented.", NULL);
	}
}
