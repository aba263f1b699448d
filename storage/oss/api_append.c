/* AppendObject (POST ?append&position=N, its body streamed into a writer) and the object
 * ACL calls (GET/PUT ?acl on a key), and the ACL document both ACL calls answer with. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api-internal.h"
#include "parse.h"
#include "util.h"

#define XSI "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""

static void grant(struct oss_xml *w, const char *grantee_xml, const char *permission)
{
	oss_xput(w, "<Grant>");
	oss_xput(w, grantee_xml);
	oss_xel(w, "Permission", permission, false);
	oss_xput(w, "</Grant>");
}

void oss_acl_not_canned(const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	oss_fail(req, resp, 501, "NotImplemented",
		 "Only grants a canned ACL makes are supported: the owner FULL_CONTROL, and AllUsers READ, or READ and "
		 "WRITE.",
		 NULL);
}

int oss_acl_from_grants(const struct ecs_http_request *req, struct ecs_http_response *resp, const char *owner,
			char ret[24])
{
	int r;

	if (!oss_req_is_s3(req) || (r = oss_acl_grant_headers_parse(req->headers, owner, ret)) == 1)
		return 1;
	if (oss_hdr(req, "acl")) {
		oss_fail(req, resp, 400, "InvalidRequest", "Specifying both Canned ACLs and Header Grants is not allowed.",
			 NULL);
		return -EINVAL;
	}
	if (r == -EOPNOTSUPP)
		oss_acl_not_canned(req, resp);
	else if (r < 0)
		oss_fail(req, resp, 400, "InvalidArgument", "An x-amz-grant-* header is malformed.", NULL);
	return r;
}

int oss_acl_requested(const struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp,
		      const char *header, bool allow_default, const char *invalid, char buf[24], const char **ret_acl)
{
	const char *h = oss_hdr(req, header);
	const char *acl = h ? oss_acl_canonical(h, allow_default) : NULL;
	int r;

	if ((r = oss_acl_from_grants(req, resp, q->b.owner, buf)) < 0)
		return r;
	if (r == 0)
		acl = h = buf;
	r = 0;
	/* S3 sends grants in the body (or x-amz-grant-* headers) instead of a canned x-amz-acl. */
	if (!h && q->body.len && (r = oss_acl_body_parse(q->body.data, q->body.len, q->b.owner, buf)) == 0)
		acl = buf;
	if (r == -EOPNOTSUPP) {
		oss_acl_not_canned(req, resp);
		return r;
	}
	if (!acl) {
		oss_fail(req, resp, 400, "InvalidArgument", invalid, NULL);
		return -EINVAL;
	}
	*ret_acl = acl;
	return 0;
}

void oss_xacl(struct oss_xml *w, const struct ecs_http_request *req, const char *owner, const char *acl)
{
	static const char all_users[] = "<Grantee " XSI " xsi:type=\"Group\">"
					"<URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee>";

	oss_xroot(w, req, "AccessControlPolicy");
	oss_xowner(w, owner);
	oss_xput(w, "<AccessControlList>");
	if (!oss_req_is_s3(req)) {
		oss_xel(w, "Grant", acl, false);
	} else {
		_cleanup_free_ char *id = oss_xml_escape(owner);
		_cleanup_free_ char *me = ecs_strdup_printf("<Grantee " XSI " xsi:type=\"CanonicalUser\"><ID>%s</ID>"
							    "<DisplayName>%s</DisplayName></Grantee>",
							    id ? id : "", id ? id : "");

		grant(w, me ? me : "", "FULL_CONTROL");
		if (streq(acl, "public-read") || streq(acl, "public-read-write"))
			grant(w, all_users, "READ");
		if (streq(acl, "public-read-write"))
			grant(w, all_users, "WRITE");
	}
	oss_xput(w, "</AccessControlList></AccessControlPolicy>\n");
}

int oss_append_begin(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	const char *pos = ecs_kvlist_get(req->query, "position");
	const char *clen = ecs_kvlist_get_case(req->headers, "Content-Length");
	long long n;

	if (!oss_allowed(q, q->b.acl, true)) {
		oss_denied(req, resp);
		return -EACCES;
	}
	if (!pos || ecs_parse_int64(pos, 0, (long long)OSS_OBJECT_MAX, &n) < 0) {
		oss_fail(req, resp, 400, "InvalidArgument", "position must be an integer from 0 to 5 GiB.", NULL);
		return -EINVAL;
	}
	q->position = (uint64_t)n;
	return oss_body_begin(q, req, resp, clen, OSS_OBJECT_MAX - q->position,
			      "An appendable object is at most 5 GiB.");
}

static void next_position(struct ecs_http_response *resp, uint64_t len)
{
	char v[32];

	snprintf(v, sizeof(v), "%llu", (unsigned long long)len);
	ecs_http_add_header(resp, "x-oss-next-append-position", v);
}

static void object_append(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	struct oss_entry tmpl = { 0 }, e = { 0 };
	uint64_t len = 0;
	int r;

	if (oss_entry_from_headers(req, resp, q->b.owner, &tmpl) < 0)
		goto out;
	r = oss_append(TAKE_PTR(q->w), q->position, &tmpl, &e, &len);
	if (r == -ESPIPE) {
		oss_fail(req, resp, 409, "PositionNotEqualToLength",
			 "Position is not equal to file length.", NULL);
		next_position(resp, len);
	} else if (r == -EPERM) {
		oss_fail(req, resp, 409, "ObjectNotAppendable", "The object is not appendable.", NULL);
	} else if (r == -E2BIG || r == -EFBIG) {
		oss_fail(req, resp, 400, "EntityTooLarge",
			 "An appendable object is at most 5 GiB and takes at most 10000 appends.", NULL);
	} else if (r < 0) {
		oss_fail_errno(req, resp, r);
	} else {
		oss_reply_etag(req, resp, e.etag);
		oss_reply_crc64(req, resp, e.has_crc64, e.crc64);
		next_position(resp, e.size);
	}
out:
	oss_entry_clear(&tmpl);
	oss_entry_clear(&e);
}

static void object_acl_get(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	struct oss_entry e;
	struct oss_xml w = { 0 };
	bool owner = q->caller[0] && streq(q->caller, q->b.owner);
	int r;

	if (!owner)
		return oss_denied(req, resp);
	r = oss_entry_get(q->o, &q->b, q->key, &e);
	if (r == -ENOENT)
		return oss_fail(req, resp, 404, "NoSuchKey", "The specified key does not exist.", NULL);
	if (r < 0)
		return oss_fail_errno(req, resp, r);
	/* S3 has no "default": it shows what applies, the bucket's. */
	oss_xacl(&w, req, q->b.owner, oss_req_is_s3(req) && streq(e.acl, "default") ? q->b.acl : e.acl);
	oss_entry_clear(&e);
	oss_reply_xml(req, resp, 200, oss_xfinish(&w));
}

static void object_acl_put(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	const char *acl;
	char buf[24];
	int r;

	if (!q->caller[0] || !streq(q->caller, q->b.owner))
		return oss_denied(req, resp);
	if (oss_acl_requested(q, req, resp, oss_req_is_s3(req) ? "acl" : "object-acl", true,
			      "no such object access control exists", buf, &acl) < 0)
		return;
	r = oss_entry_set_acl(q->o, &q->b, q->key, acl);
	if (r == -ENOENT)
		return oss_fail(req, resp, 404, "NoSuchKey", "The specified key does not exist.", NULL);
	if (r < 0)
		return oss_fail_errno(req, resp, r);
	oss_reply_empty(req, resp);
}

void oss_append_op(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	switch (q->op) {
	case OSS_OP_OBJECT_APPEND: return object_append(q, req, resp);
	case OSS_OP_OBJECT_ACL_GET: return object_acl_get(q, req, resp);
	case OSS_OP_OBJECT_ACL_PUT: return object_acl_put(q, req, resp);
	default: return oss_fail(req, resp, 501, "NotImplemented", "This operation is not implemented.", NULL);
	}
}
