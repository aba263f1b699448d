/* The multipart calls: InitiateMultipartUpload, UploadPart (its body streamed into a
 * writer), UploadPartCopy, CompleteMultipartUpload, AbortMultipartUpload, ListParts and
 * ListMultipartUploads. Every one needs write access to the bucket but ListParts and
 * ListMultipartUploads, which need read access (as OSS: a public-read bucket's uploads and
 * parts are listed); an upload id is
 * looked up under this bucket and key only, so another's id is NoSuchUpload. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api-internal.h"
#include "crypto.h"
#include "parse.h"
#include "util.h"

#define MAX_LIST 1000

static void no_upload(const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	oss_fail(req, resp, 404, "NoSuchUpload",
		 "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
		 NULL);
}

/* partNumber: 1-10000. */
static int part_number(const struct ecs_http_request *req, struct ecs_http_response *resp, unsigned *ret)
{
	long long n;

	if (ecs_parse_int64(strempty(ecs_kvlist_get(req->query, "partNumber")), 1, OSS_PART_NUMBER_MAX, &n) < 0) {
		oss_fail(req, resp, 400, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive.",
			 NULL);
		return -EINVAL;
	}
	*ret = (unsigned)n;
	return 0;
}

/* Access (write, or read for ListParts) and the upload of uploadId under this bucket and
 * key: 0, or answered. */
static int upload_access(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp,
			 bool write)
{
	int r;

	if (!oss_allowed(q, q->b.acl, write)) {
		oss_denied(req, resp);
		return -EACCES;
	}
	r = oss_upload_get(q->o, &q->b, q->key, strempty(ecs_kvlist_get(req->query, "uploadId")), &q->upload);
	if (r == -ENOENT)
		no_upload(req, resp);
	else if (r < 0)
		oss_fail_errno(req, resp, r);
	return r;
}

static int upload_open(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	return upload_access(q, req, resp, true);
}

int oss_part_begin(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	int r;

	if ((r = part_number(req, resp, &q->part_number)) < 0 || (r = upload_open(q, req, resp)) < 0)
		return r;
	return oss_body_begin(q, req, resp, oss_declared_length(req), OSS_OBJECT_MAX, "A part is at most 5 GiB.");
}

static void part_done(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp, int r,
		      const struct oss_part *p, bool copy)
{
	char etag[56], date[32];
	struct oss_xml x = { 0 };

	if (r == -ENOENT)
		return no_upload(req, resp);
	if (r == -EBADMSG)
		return oss_fail(req, resp, 400, "InvalidDigest", "The Content-MD5 you specified did not match what we received.",
				NULL);
	if (r == -EFBIG)
		return oss_fail(req, resp, 400, "EntityTooLarge", "A part is at most 5 GiB.", NULL);
	if (r < 0)
		return oss_fail_errno(req, resp, r);
	if (!copy) {
		oss_reply_etag(req, resp, p->etag);
		return oss_reply_crc64(req, resp, p->has_crc64, p->crc64);
	}
	oss_etag_quoted(req, p->etag, etag);
	{
		oss_iso_date_format(p->mtime, date);
		oss_xroot(&x, req, "CopyPartResult");
		oss_xel(&x, "LastModified", date, false);
		oss_xel(&x, "ETag", etag, false);
		oss_xput(&x, "</CopyPartResult>\n");
		oss_reply_xml(req, resp, 200, oss_xfinish(&x));
	}
	ecs_http_add_header(resp, "ETag", etag);
	(void)q;
}

static void part_put(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	const char *md5_b64 = ecs_kvlist_get_case(req->headers, "Content-MD5");
	_cleanup_free_ uint8_t *md5 = NULL;
	struct oss_part p;
	size_t ml = 0;
	int r;

	if (md5_b64 && (ecs_base64_decode(md5_b64, strlen(md5_b64), &md5, &ml) < 0 || ml != ECS_MD5_LEN))
		return oss_fail(req, resp, 400, "InvalidDigest", "The Content-MD5 you specified is not valid.", NULL);
	r = oss_part_commit(TAKE_PTR(q->w), &q->upload, q->part_number, md5, &p);
	part_done(q, req, resp, r, &p, false);
}

static void part_copy(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	const char *range = oss_hdr(req, "copy-source-range");
	struct oss_entry se = { 0 };
	struct oss_layout sl = { 0 };
	struct oss_writer *w = NULL;
	struct oss_part p;
	uint64_t start = 0, len;
	int r;

	if (part_number(req, resp, &q->part_number) < 0 || upload_open(q, req, resp) < 0)
		return;
	if (oss_copy_source_open(q, req, resp, &se, &sl) < 0)
		return;
	len = se.size;
	if (range && oss_range_parse(range, se.size, &start, &len) != 0) {
		oss_fail(req, resp, 400, "InvalidArgument", "The copy source range is not valid.", NULL);
		goto out;
	}
	if (len > OSS_OBJECT_MAX) {
		oss_fail(req, resp, 400, "EntityTooLarge", "A part is at most 5 GiB.", NULL);
		goto out;
	}
	if ((r = oss_writer_begin(q->o, &q->b, q->key, &w)) < 0) {
		oss_fail_errno(req, resp, r);
		goto out;
	}
	if ((r = oss_writer_copy(w, &sl, start, len)) < 0) {
		oss_writer_abort(w);
		oss_fail_errno(req, resp, r);
		goto out;
	}
	r = oss_part_commit(w, &q->upload, q->part_number, NULL, &p);
	part_done(q, req, resp, r, &p, true);
out:
	oss_layout_clear(&sl);
	oss_entry_clear(&se);
}

static void upload_init(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	struct oss_upload u = { 0 };
	struct oss_xml x = { 0 };
	int r;

	if (!oss_allowed(q, q->b.acl, true))
		return oss_denied(req, resp);
	if (oss_entry_from_headers(req, resp, q->b.owner, &u.e) < 0)
		goto out;
	snprintf(u.e.key, sizeof(u.e.key), "%s", q->key);
	snprintf(u.initiator, sizeof(u.initiator), "%s", q->caller);
	if ((r = oss_upload_create(q->o, &q->b, &u)) < 0) {
		oss_fail_errno(req, resp, r);
		goto out;
	}
	oss_xroot(&x, req, "InitiateMultipartUploadResult");
	oss_xel(&x, "Bucket", q->b.name, false);
	oss_xel(&x, "Key", q->key, false);
	oss_xel(&x, "UploadId", u.id, false);
	oss_xput(&x, "</InitiateMultipartUploadResult>\n");
	oss_reply_xml(req, resp, 200, oss_xfinish(&x));
out:
	oss_upload_clear(&u);
}

static void upload_complete(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	const char *forbid = ecs_kvlist_get_case(req->headers, "x-oss-forbid-overwrite");
	_cleanup_free_ unsigned *numbers = NULL;
	_cleanup_free_ char(*etags)[33] = NULL;
	struct oss_entry e = { 0 };
	struct oss_xml x = { 0 };
	char etag[56], loc[1200], detail[160];
	size_t n = 0, bad = 0;
	int r;

	if (upload_open(q, req, resp) < 0)
		return;
	r = oss_complete_body_parse(q->body.data, q->body.len, OSS_PART_NUMBER_MAX, &numbers, &etags, &n);
	if (r == -EDOM)
		return oss_fail(req, resp, 400, "InvalidPartOrder",
				"The list of parts was not in ascending order. Parts must be ordered by part number.", NULL);
	if (r == -ENOMEM)
		return oss_fail_errno(req, resp, r);
	if (r < 0)
		return oss_fail(req, resp, 400, "MalformedXML", "The XML you provided was not well-formed.", NULL);
	r = oss_upload_complete(q->o, &q->b, &q->upload, numbers, etags, n, streq(forbid, "true"), &e, &bad);
	if (r == -ENXIO) {
		snprintf(detail, sizeof(detail), "  <PartNumber>%u</PartNumber>\n  <ETag>%s</ETag>\n", numbers[bad], etags[bad]);
		return oss_fail(req, resp, 400, "InvalidPart",
				"One or more of the specified parts could not be found or the specified entity tag might not have matched the part's entity tag.",
				detail);
	}
	if (r == -ERANGE) {
		snprintf(detail, sizeof(detail), "  <PartNumber>%u</PartNumber>\n  <MinSizeAllowed>%u</MinSizeAllowed>\n",
			 numbers[bad], OSS_PART_MIN);
		return oss_fail(req, resp, 400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size.",
				detail);
	}
	if (r == -ENOENT)
		return no_upload(req, resp);
	if (r == -EEXIST)
		return oss_fail(req, resp, 409, "FileAlreadyExists",
				"The object you specified already exists and can not be overwritten.", NULL);
	if (r < 0)
		return oss_fail_errno(req, resp, r);
	oss_etag_quoted(req, e.etag, etag);
	snprintf(loc, sizeof(loc), "/%s/%s", q->b.name, q->key);
	oss_xroot(&x, req, "CompleteMultipartUploadResult");
	oss_xel(&x, "Location", loc, false);
	oss_xel(&x, "Bucket", q->b.name, false);
	oss_xel(&x, "Key", q->key, false);
	oss_xel(&x, "ETag", etag, false);
	oss_xput(&x, "</CompleteMultipartUploadResult>\n");
	oss_reply_xml(req, resp, 200, oss_xfinish(&x));
	ecs_http_add_header(resp, "ETag", etag);
	oss_reply_crc64(req, resp, e.has_crc64, e.crc64);
	oss_entry_clear(&e);
}

static void upload_abort(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	int r;

	if (upload_open(q, req, resp) < 0)
		return;
	r = oss_upload_abort(q->o, &q->b, &q->upload);
	if (r == -ENOENT)
		return no_upload(req, resp);
	if (r < 0)
		return oss_fail_errno(req, resp, r);
	ecs_http_reply(resp, 204, "application/xml", "", 0);
	ecs_http_add_header(resp, "x-oss-request-id", req->request_id);
}

/* A paging parameter: 1-1000, default 1000; or 0-… for a marker. 0, or answered. */
static int query_uint(const struct ecs_http_request *req, struct ecs_http_response *resp, const char *name, long long min,
		      long long max, long long dflt, long long *ret)
{
	const char *s = ecs_kvlist_get(req->query, name);

	*ret = dflt;
	if (s && ecs_parse_int64(s, min, max, ret) < 0) {
		char m[128];

		snprintf(m, sizeof(m), "%s must be an integer from %lld to %lld.", name, min, max);
		oss_fail(req, resp, 400, "InvalidArgument", m, NULL);
		return -EINVAL;
	}
	return 0;
}

static void parts_list(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	struct oss_part *parts = NULL;
	struct oss_xml x = { 0 };
	long long max, marker;
	size_t n = 0;
	bool more = false;
	int r;

	if (query_uint(req, resp, "max-parts", 1, MAX_LIST, MAX_LIST, &max) < 0 ||
	    query_uint(req, resp, "part-number-marker", 0, OSS_PART_NUMBER_MAX, 0, &marker) < 0 ||
	    upload_access(q, req, resp, false) < 0)
		return;
	if ((r = oss_parts_list(q->o, &q->b, q->upload.id, (unsigned)marker, (unsigned)max, &parts, &n, &more)) < 0)
		return oss_fail_errno(req, resp, r);
	oss_xroot(&x, req, "ListPartsResult");
	oss_xel(&x, "Bucket", q->b.name, false);
	oss_xel(&x, "Key", q->key, false);
	oss_xel(&x, "UploadId", q->upload.id, false);
	oss_xint(&x, "PartNumberMarker", marker);
	oss_xint(&x, "NextPartNumberMarker", n ? parts[n - 1].number : 0);
	oss_xint(&x, "MaxParts", max);
	oss_xput(&x, more ? "<IsTruncated>true</IsTruncated>" : "<IsTruncated>false</IsTruncated>");
	for (size_t i = 0; i < n; i++) {
		char etag[56], date[32];

		oss_etag_quoted(req, parts[i].etag, etag);
		oss_iso_date_format(parts[i].mtime, date);
		oss_xput(&x, "<Part>");
		oss_xint(&x, "PartNumber", parts[i].number);
		oss_xel(&x, "LastModified", date, false);
		oss_xel(&x, "ETag", etag, false);
		oss_xint(&x, "Size", (long long)parts[i].size);
		oss_xput(&x, "</Part>");
	}
	oss_xput(&x, "</ListPartsResult>\n");
	free(parts);
	oss_reply_xml(req, resp, 200, oss_xfinish(&x));
}

static void uploads_list(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	const char *prefix = strempty(ecs_kvlist_get(req->query, "prefix"));
	const char *delim = strempty(ecs_kvlist_get(req->query, "delimiter"));
	const char *km = strempty(ecs_kvlist_get(req->query, "key-marker"));
	const char *im = strempty(ecs_kvlist_get(req->query, "upload-id-marker"));
	const char *enc = ecs_kvlist_get(req->query, "encoding-type");
	bool url = streq(enc, "url");
	struct oss_upload_listing l = { 0 };
	struct oss_xml x = { 0 };
	long long max;
	int r;

	if (!oss_allowed(q, q->b.acl, false))
		return oss_denied(req, resp);
	if (query_uint(req, resp, "max-uploads", 1, MAX_LIST, MAX_LIST, &max) < 0)
		return;
	if (enc && !url)
		return oss_fail(req, resp, 400, "InvalidArgument", "The encoding-type must be url.", NULL);
	if (strlen(prefix) > OSS_KEY_MAX || strlen(km) > OSS_KEY_MAX || strlen(delim) > OSS_KEY_MAX || strlen(im) > 64)
		return oss_fail(req, resp, 400, "InvalidArgument", "prefix, key-marker and delimiter are at most 1023 bytes.",
				NULL);
	if ((r = oss_uploads_list(q->o, &q->b, prefix, *delim ? delim : NULL, km, im, (unsigned)max, &l)) < 0)
		return oss_fail_errno(req, resp, r);
	oss_xroot(&x, req, "ListMultipartUploadsResult");
	oss_xel(&x, "Bucket", q->b.name, false);
	oss_xel(&x, "KeyMarker", km, url);
	oss_xel(&x, "UploadIdMarker", im, false);
	oss_xel(&x, "NextKeyMarker", l.next_key, url);
	oss_xel(&x, "NextUploadIdMarker", l.next_id, false);
	oss_xel(&x, "Delimiter", delim, url);
	oss_xel(&x, "Prefix", prefix, url);
	if (url)
		oss_xput(&x, "<EncodingType>url</EncodingType>");
	oss_xint(&x, "MaxUploads", max);
	oss_xput(&x, l.truncated ? "<IsTruncated>true</IsTruncated>" : "<IsTruncated>false</IsTruncated>");
	for (size_t i = 0; i < l.n; i++) {
		char date[32];

		oss_iso_date_format(l.uploads[i].initiated, date);
		oss_xput(&x, "<Upload>");
		oss_xel(&x, "Key", l.uploads[i].e.key, url);
		oss_xel(&x, "UploadId", l.uploads[i].id, false);
		oss_xel(&x, "Initiated", date, false);
		oss_xput(&x, "<StorageClass>Standard</StorageClass>");
		oss_xowner(&x, l.uploads[i].initiator);
		oss_xput(&x, "</Upload>");
	}
	for (size_t i = 0; i < l.n_prefixes; i++) {
		oss_xput(&x, "<CommonPrefixes>");
		oss_xel(&x, "Prefix", l.prefixes[i], url);
		oss_xput(&x, "</CommonPrefixes>");
	}
	oss_xput(&x, "</ListMultipartUploadsResult>\n");
	oss_upload_listing_clear(&l);
	oss_reply_xml(req, resp, 200, oss_xfinish(&x));
}

void oss_multipart_op(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	switch (q->op) {
	case OSS_OP_UPLOAD_INIT: return upload_init(q, req, resp);
	case OSS_OP_UPLOAD_PART: return part_put(q, req, resp);
	case OSS_OP_UPLOAD_PART_COPY: return part_copy(q, req, resp);
	case OSS_OP_UPLOAD_COMPLETE: return upload_complete(q, req, resp);
	case OSS_OP_UPLOAD_ABORT: return upload_abort(q, req, resp);
	case OSS_OP_UPLOAD_PARTS: return parts_list(q, req, resp);
	case OSS_OP_UPLOADS_LIST: return uploads_list(q, req, resp);
	default: return oss_fail(req, resp, 501, "NotImplemented", "This operation is not implemented.", NULL);
	}
}
