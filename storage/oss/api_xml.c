/* Building the XML answers: elements escaped (and percent-encoded for encoding-type=url),
 * bounded in size, an allocation failure remembered until the end. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api-internal.h"
#include "parse.h"
#include "url.h"
#include "util.h"

#define OUT_MAX (64 * 1024 * 1024)

void oss_xput(struct oss_xml *w, const char *s)
{
	if (!w->error)
		w->error = ecs_buf_append(&w->b, s, strlen(s), OUT_MAX);
}

void oss_xel(struct oss_xml *w, const char *tag, const char *text, bool url)
{
	_cleanup_free_ char *enc = url ? ecs_percent_encode(text) : NULL;
	_cleanup_free_ char *esc = oss_xml_escape(url && enc ? enc : text);

	if (!esc) {
		w->error = -ENOMEM;
		return;
	}
	oss_xput(w, "<");
	oss_xput(w, tag);
	oss_xput(w, ">");
	oss_xput(w, esc);
	oss_xput(w, "</");
	oss_xput(w, tag);
	oss_xput(w, ">");
}

void oss_xint(struct oss_xml *w, const char *tag, long long v)
{
	char n[32];

	snprintf(n, sizeof(n), "%lld", v);
	oss_xel(w, tag, n, false);
}

char *oss_xfinish(struct oss_xml *w)
{
	if (w->error) {
		ecs_buf_free(&w->b);
		return NULL;
	}
	return ecs_buf_steal(&w->b);
}

void oss_xowner(struct oss_xml *w, const char *id)
{
	oss_xput(w, "<Owner>");
	oss_xel(w, "ID", id, false);
	oss_xel(w, "DisplayName", id, false);
	oss_xput(w, "</Owner>");
}

void oss_xroot(struct oss_xml *w, const struct ecs_http_request *req, const char *name)
{
	oss_xput(w, OSS_XML_HEAD "<");
	oss_xput(w, name);
	if (oss_req_is_s3(req))
		oss_xput(w, " xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"");
	oss_xput(w, ">");
}

void oss_etag_quoted(const struct ecs_http_request *req, const char *etag, char out[56])
{
	snprintf(out, 56, "\"%s\"", etag);
	if (oss_req_is_s3(req))
		return; /* S3: lower case */
	for (char *p = out; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 32);
}

void oss_reply_crc64(const struct ecs_http_request *req, struct ecs_http_response *resp, bool known, uint64_t crc)
{
	char v[24];

	if (!known || oss_req_is_s3(req))
		return;
	snprintf(v, sizeof(v), "%llu", (unsigned long long)crc);
	ecs_http_add_header(resp, "x-oss-hash-crc64ecma", v);
}

void oss_reply_empty(const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	ecs_http_reply(resp, 200, "application/xml", "", 0);
	ecs_http_add_header(resp, "x-oss-request-id", req->request_id);
}

void oss_reply_etag(const struct ecs_http_request *req, struct ecs_http_response *resp, const char *etag)
{
	char q[56];

	oss_etag_quoted(req, etag, q);
	oss_reply_empty(req, resp);
	ecs_http_add_header(resp, "ETag", q);
}
