#include "api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "api-internal.h"
#include "checksum.h"
#include "chunked.h"
#include "crypto.h"
#include "log.h"
#include "parse.h"
#include "sigv1.h"
#include "util.h"


void oss_reply_xml(const struct ecs_http_request *req, struct ecs_http_response *resp, int status, char *body)
{
	if (!body) {
		oss_fail(req, resp, 500, "InternalError", "out of memory", NULL);
		return;
	}
	ecs_http_reply_take(resp, status, "application/xml", body, strlen(body));
	ecs_http_add_header(resp, "x-oss-request-id", req->request_id);
}

void oss_fail(const struct ecs_http_request *req, struct ecs_http_response *resp, int status, const char *code,
	      const char *message, const char *extra_xml)
{
	struct oss *o = req->userdata;
	_cleanup_free_ char *m = oss_xml_escape(message);
	char *body = ecs_strdup_printf("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n  <Code>%s</Code>\n"
				       "  <Message>%s</Message>\n  <RequestId>%s</RequestId>\n  <HostId>%s</HostId>\n%s</Error>\n",
				       code, m ? m : "", req->request_id, o && o->host_name ? o->host_name : "",
				       extra_xml ? extra_xml : "");

	if (!body) {
		ecs_http_reply(resp, 500, "text/plain", "out of memory", 13);
		return;
	}
	ecs_http_reply_take(resp, status, "application/xml", body, strlen(body));
	ecs_http_add_header(resp, "x-oss-request-id", req->request_id);
	ecs_http_add_header(resp, "x-oss-ec", code);
}

void oss_fail_errno(const struct ecs_http_request *req, struct ecs_http_response *resp, int r)
{
	switch (r) {
	case -ENOMEM:
		return oss_fail(req, resp, 503, "ServiceUnavailable", "The service is out of memory.", NULL);
	case -EBUSY:
		return oss_fail(req, resp, 409, "OperationConflict", "The object is being changed; try again.", NULL);
	default:
		log_error("storage call failed", "error=%s", strerror(-r));
		return oss_fail(req, resp, 500, "InternalError", "We encountered an internal error. Please try again.",
				NULL);
	}
}

bool oss_req_is_s3(const struct ecs_http_request *req)
{
	const char *auth = ecs_kvlist_get_case(req->headers, "Authorization");

	if (auth)
		return str_has_prefix(auth, "AWS");
	return ecs_kvlist_get(req->query, "X-Amz-Algorithm") || ecs_kvlist_get(req->query, "AWSAccessKeyId");
}

const char *oss_hdr(const struct ecs_http_request *req, const char *suffix)
{
	char name[96];

	snprintf(name, sizeof(name), "%s%s", oss_req_is_s3(req) ? "x-amz-" : "x-oss-", suffix);
	return ecs_kvlist_get_case(req->headers, name);
}

static void server_error(const struct ecs_http_request *req, struct ecs_http_response *resp, enum ecs_http_error err,
			 int status, const char *message)
{
	static const char *const codes[_ECS_HTTP_ERROR_MAX] = {
		[ECS_HTTP_ERROR_NOT_FOUND] = "NotFound",
		[ECS_HTTP_ERROR_METHOD] = "MethodNotAllowed",
		[ECS_HTTP_ERROR_BODY_TOO_LARGE] = "EntityTooLarge",
		[ECS_HTTP_ERROR_INTERNAL] = "InternalError",
	};

	oss_fail(req, resp, status, codes[err] ? codes[err] : "InternalError", message, NULL);
}

bool oss_allowed(const struct oss_req *q, const char *acl, bool write)
{
	if (q->caller[0] && streq(q->caller, q->b.owner))
		return true;
	if (streq(acl, "public-read-write"))
		return true;
	return !write && streq(acl, "public-read");
}

/* Whether host names us (path style) rather than a bucket (virtual-host style). */
static bool host_is_ours(const char *host, size_t len)
{
	char h[256];
	struct in_addr a4;

	if (!len || len >= sizeof(h) || host[0] == '[')
		return true;
	memcpy(h, host, len);
	h[len] = '\0';
	return streq(h, "localhost") || inet_pton(AF_INET, h, &a4) == 1 || !strchr(h, '.');
}

/* Bucket and key from Host and the (decoded) path. -EINVAL: a bucket name that is not one. */
/* Whether the request's Host is the gateway's own (path style), not a bucket's; the Host
 * header and the length of its name without the port into ret_*. */
static bool request_host_ours(const struct ecs_http_request *req, const char **ret_host, size_t *ret_len)
{
	const char *host = ecs_kvlist_get_case(req->headers, "Host");
	size_t hl = host ? strcspn(host, ":") : 0;

	if (host && host[0] == '[')
		hl = strlen(host);
	*ret_host = host;
	*ret_len = hl;
	return host_is_ours(host, hl);
}

static int target(const struct ecs_http_request *req, struct oss_req *q)
{
	const char *host, *path = req->path, *key = NULL;
	size_t hl;

	if (path[0] != '/')
		return -EINVAL;
	if (!request_host_ours(req, &host, &hl)) {
		size_t bl = strcspn(host, ".");

		if (bl >= sizeof(q->bucket))
			return -EINVAL;
		memcpy(q->bucket, host, bl);
		q->bucket[bl] = '\0';
		q->vhost = true;
		key = path + 1;
	} else if (path[1]) {
		size_t bl = strcspn(path + 1, "/");

		if (bl >= sizeof(q->bucket))
			return -EINVAL;
		memcpy(q->bucket, path + 1, bl);
		q->bucket[bl] = '\0';
		key = path[1 + bl] ? path + 2 + bl : "";
	}
	if (q->bucket[0] && !oss_bucket_name_valid(q->bucket))
		return -EINVAL;
	if (key && *key && !(q->key = strdup(key)))
		return -ENOMEM;
	return 0;
}

static bool has(const struct ecs_http_request *req, const char *name)
{
	return ecs_kvlist_get(req->query, name) != NULL;
}

static enum oss_op classify(const struct ecs_http_request *req, const struct oss_req *q)
{
	const char *m = req->method;

	if (!q->bucket[0])
		return streq(m, "GET") ? OSS_OP_SERVICE_LIST : OSS_OP_NOT_IMPLEMENTED;
	if (has(req, "uploads") && !has(req, "uploadId"))
		return !q->key ? (streq(m, "GET") ? OSS_OP_UPLOADS_LIST : OSS_OP_NOT_IMPLEMENTED)
			       : (streq(m, "POST") ? OSS_OP_UPLOAD_INIT : OSS_OP_NOT_IMPLEMENTED);
	if (has(req, "uploadId") && q->key) {
		if (streq(m, "PUT") && has(req, "partNumber"))
			return oss_hdr(req, "copy-source") ? OSS_OP_UPLOAD_PART_COPY : OSS_OP_UPLOAD_PART;
		if (streq(m, "POST"))
			return OSS_OP_UPLOAD_COMPLETE;
		if (streq(m, "DELETE"))
			return OSS_OP_UPLOAD_ABORT;
		if (streq(m, "GET"))
			return OSS_OP_UPLOAD_PARTS;
		return OSS_OP_NOT_IMPLEMENTED;
	}
	if (has(req, "append") && q->key)
		return streq(m, "POST") ? OSS_OP_OBJECT_APPEND : OSS_OP_NOT_IMPLEMENTED;
	if (has(req, "uploads") || has(req, "uploadId") || has(req, "append") || has(req, "tagging") ||
	    has(req, "symlink") || has(req, "restore") || has(req, "versions") || has(req, "versionId") ||
	    has(req, "x-oss-process"))
		return OSS_OP_NOT_IMPLEMENTED;
	if (!q->key) {
		if (has(req, "acl"))
			return streq(m, "GET") ? OSS_OP_BUCKET_ACL_GET : streq(m, "PUT") ? OSS_OP_BUCKET_ACL_PUT
											   : OSS_OP_NOT_IMPLEMENTED;
		if (has(req, "bucketInfo"))
			return streq(m, "GET") ? OSS_OP_BUCKET_INFO : OSS_OP_NOT_IMPLEMENTED;
		if (has(req, "location"))
			return streq(m, "GET") ? OSS_OP_BUCKET_LOCATION : OSS_OP_NOT_IMPLEMENTED;
		if (has(req, "delete"))
			return streq(m, "POST") ? OSS_OP_OBJECTS_DELETE : OSS_OP_NOT_IMPLEMENTED;
		for (size_t i = 0; i < req->query->n; i++)
			if (oss_subresource_signed(req->query->items[i].key) &&
			    !str_has_prefix(req->query->items[i].key, "continuation-token"))
				return OSS_OP_NOT_IMPLEMENTED; /* cors, lifecycle, website, … */
		if (streq(m, "PUT"))
			return OSS_OP_BUCKET_PUT;
		if (streq(m, "DELETE"))
			return OSS_OP_BUCKET_DELETE;
		if (streq(m, "GET"))
			return OSS_OP_BUCKET_LIST;
		if (streq(m, "HEAD"))
			return OSS_OP_BUCKET_HEAD;
		return OSS_OP_NOT_IMPLEMENTED;
	}
	if (has(req, "acl"))
		return streq(m, "GET") ? OSS_OP_OBJECT_ACL_GET : streq(m, "PUT") ? OSS_OP_OBJECT_ACL_PUT
										 : OSS_OP_NOT_IMPLEMENTED;
	if (has(req, "objectMeta"))
		return streq(m, "GET") || streq(m, "HEAD") ? OSS_OP_OBJECT_META : OSS_OP_NOT_IMPLEMENTED;
	if (streq(m, "PUT"))
		return oss_hdr(req, "copy-source") ? OSS_OP_OBJECT_COPY : OSS_OP_OBJECT_PUT;
	if (streq(m, "GET"))
		return OSS_OP_OBJECT_GET;
	if (streq(m, "HEAD"))
		return OSS_OP_OBJECT_HEAD;
	if (streq(m, "DELETE"))
		return OSS_OP_OBJECT_DELETE;
	return OSS_OP_NOT_IMPLEMENTED;
}

/* S3: an object's (or part's) body with an x-amz-checksum-* header gets it checked; the
 * same header on Complete names the whole object's and is not the body's. 0, or answered. */
static int checksum_header(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	if (q->op != OSS_OP_OBJECT_PUT && q->op != OSS_OP_UPLOAD_PART && q->op != OSS_OP_OBJECT_APPEND)
		return 0;
	for (size_t i = 0; oss_req_is_s3(req) && i < req->headers->n; i++) {
		const char *k = req->headers->items[i].key;
		int r;

		if (strncasecmp(k, "x-amz-checksum-", 15) != 0)
			continue;
		r = oss_checksum_new(k, &q->ck);
		if (r == -ENOMEM) {
			oss_fail_errno(req, resp, r);
			return r;
		}
		if (r == 0) {
			snprintf(q->ck_value, sizeof(q->ck_value), "%s", req->headers->items[i].value);
			return 0;
		}
	}
	return 0;
}

static void begin(const struct ecs_http_request *req, struct ecs_http_response *resp, void **ret_state)
{
	struct oss *o = req->userdata;
	struct oss_req *q = calloc(1, sizeof(*q));
	int r;

	*ret_state = q;
	if (!q)
		return oss_fail(req, resp, 503, "ServiceUnavailable", "out of memory", NULL);
	q->o = o;
	q->op = OSS_OP_NOT_IMPLEMENTED; /* until classified */
	r = target(req, q);
	if (r == -ENOMEM)
		goto fail_mem;
	if (r < 0)
		goto bad_name;
	if (q->key && (r = oss_key_check(q->key)) < 0) {
		q->failed = true;
		if (r == -ENAMETOOLONG)
			return oss_fail(req, resp, 400, "KeyTooLong", "The object name is longer than 1023 bytes.", NULL);
		return oss_fail(req, resp, 400, "InvalidObjectName", "The object name is not valid.", NULL);
	}
	q->op = classify(req, q);
	if (oss_authenticate(q, req, resp) < 0) {
		q->failed = true;
		return;
	}
	if (q->op == OSS_OP_NOT_IMPLEMENTED) {
		q->failed = true;
		return oss_fail(req, resp, 501, "NotImplemented", "This operation is not implemented by ecs-ossd.", NULL);
	}
	if (q->bucket[0] && q->op != OSS_OP_BUCKET_PUT) {
		r = oss_bucket_get(o, q->bucket, &q->b);
		if (r == -ENOENT) {
			char extra[128];

			q->failed = true;
			snprintf(extra, sizeof(extra), "  <BucketName>%s</BucketName>\n", q->bucket);
			return oss_fail(req, resp, 404, "NoSuchBucket", "The specified bucket does not exist.", extra);
		}
		if (r < 0) {
			q->failed = true;
			return oss_fail_errno(req, resp, r);
		}
		q->bucket_found = true;
	}
	if ((r = checksum_header(q, req, resp)) < 0) {
		q->failed = true;
		return;
	}
	if (q->op == OSS_OP_OBJECT_PUT && oss_object_put_begin(q, req, resp) < 0)
		q->failed = true;
	if (q->op == OSS_OP_UPLOAD_PART && oss_part_begin(q, req, resp) < 0)
		q->failed = true;
	if (q->op == OSS_OP_OBJECT_APPEND && oss_append_begin(q, req, resp) < 0)
		q->failed = true;
	return;
bad_name:
	q->failed = true;
	return oss_fail(req, resp, 400, "InvalidBucketName", "The specified bucket is not valid.", NULL);
fail_mem:
	q->failed = true;
	return oss_fail(req, resp, 503, "ServiceUnavailable", "out of memory", NULL);
}

/* Body bytes as the client meant them (after aws-chunked decoding). */
static int deliver(void *state, const char *buf, size_t len)
{
	struct oss_req *q = state;

	if (q->ck)
		oss_checksum_update(q->ck, buf, len);
	if (q->w)
		return oss_writer_write(q->w, buf, len);
	return ecs_buf_append(&q->body, buf, len, OSS_SMALL_BODY_MAX);
}

/* Operation names of the request table (/metrics): the API's own. */
static const char *const op_names[_OSS_OP_MAX] = {
	[OSS_OP_SERVICE_LIST] = "ListBuckets",
	[OSS_OP_BUCKET_PUT] = "PutBucket",
	[OSS_OP_BUCKET_DELETE] = "DeleteBucket",
	[OSS_OP_BUCKET_LIST] = "ListObjects",
	[OSS_OP_BUCKET_HEAD] = "HeadBucket",
	[OSS_OP_BUCKET_INFO] = "GetBucketInfo",
	[OSS_OP_BUCKET_LOCATION] = "GetBucketLocation",
	[OSS_OP_BUCKET_ACL_GET] = "GetBucketAcl",
	[OSS_OP_BUCKET_ACL_PUT] = "PutBucketAcl",
	[OSS_OP_OBJECTS_DELETE] = "DeleteMultipleObjects",
	[OSS_OP_OBJECT_PUT] = "PutObject",
	[OSS_OP_OBJECT_COPY] = "CopyObject",
	[OSS_OP_OBJECT_GET] = "GetObject",
	[OSS_OP_OBJECT_HEAD] = "HeadObject",
	[OSS_OP_OBJECT_META] = "GetObjectMeta",
	[OSS_OP_OBJECT_DELETE] = "DeleteObject",
	[OSS_OP_OBJECT_APPEND] = "AppendObject",
	[OSS_OP_OBJECT_ACL_GET] = "GetObjectAcl",
	[OSS_OP_OBJECT_ACL_PUT] = "PutObjectAcl",
	[OSS_OP_UPLOAD_INIT] = "InitiateMultipartUpload",
	[OSS_OP_UPLOAD_PART] = "UploadPart",
	[OSS_OP_UPLOAD_PART_COPY] = "UploadPartCopy",
	[OSS_OP_UPLOAD_COMPLETE] = "CompleteMultipartUpload",
	[OSS_OP_UPLOAD_ABORT] = "AbortMultipartUpload",
	[OSS_OP_UPLOAD_PARTS] = "ListParts",
	[OSS_OP_UPLOADS_LIST] = "ListMultipartUploads",
	[OSS_OP_NOT_IMPLEMENTED] = "Other", /* also a request refused before it was classified */
};

static const char *op_name(const struct oss_req *q)
{
	return q && q->op < _OSS_OP_MAX ? op_names[q->op] : NULL;
}

/* "/-/metrics" on the gateway's own host: no bucket is named "-", so no request of the
 * API is shadowed (a bucket's host, virtual-hosted style, keeps the path as a key). */
static bool is_metrics(const struct ecs_http_request *req)
{
	const char *host;
	size_t hl;

	return streq(req->path, OSS_METRICS_PATH) && (streq(req->method, "GET") || streq(req->method, "HEAD")) &&
	       request_host_ours(req, &host, &hl);
}

static void on_begin(const struct ecs_http_request *req, struct ecs_http_response *resp, void **ret_state)
{
	struct oss *o = req->userdata;

	if (is_metrics(req)) {
		*ret_state = NULL;
		return storage_gateway_metrics(req, resp, o->metrics, o->metrics_token);
	}
	begin(req, resp, ret_state);
	resp->op = op_name(*ret_state);
	if (resp->status && oss_req_is_s3(req))
		ecs_http_add_header(resp, "x-amz-request-id", req->request_id);
}

static int on_data(void *state, const char *buf, size_t len)
{
	struct oss_req *q = state;
	int r;

	if (!q || q->failed || q->body_error)
		return -EIO;
	if (q->sha)
		EVP_DigestUpdate(q->sha, buf, len);
	if (q->chunked)
		r = oss_chunked_feed(q->chunked, buf, len, deliver, q);
	else
		r = deliver(q, buf, len);
	if (r < 0)
		q->body_error = r;
	return r;
}

/* S3 V4: the body is the one signed. 0, or an error answered. */
static int payload_check(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	if (q->chunked) {
		const char *dl = ecs_kvlist_get_case(req->headers, "x-amz-decoded-content-length");
		long long n;

		int r = oss_chunked_finish(q->chunked);

		if (r == -EBADMSG) {
			oss_fail(req, resp, 400, "BadDigest", "The checksum in the trailer does not match the body.", NULL);
			return r;
		}
		if (r < 0 ||
		    (dl && (ecs_parse_int64(dl, 0, INT64_MAX, &n) < 0 || (uint64_t)n != oss_chunked_total(q->chunked)))) {
			oss_fail(req, resp, 400, "IncompleteBody", "The aws-chunked body is malformed or cut short.", NULL);
			return -EINVAL;
		}
	}
	if (q->ck && oss_checksum_check(q->ck, q->ck_value) < 0) {
		oss_fail(req, resp, 400, "BadDigest", "The x-amz-checksum you specified does not match the body.", NULL);
		return -EBADMSG;
	}
	if (q->sha) {
		uint8_t h[32];
		unsigned hl = 0;
		char hex[65];

		EVP_DigestFinal_ex(q->sha, h, &hl);
		ecs_hex_encode(h, 32, hex);
		if (!streq(hex, q->payload_sha256)) {
			oss_fail(req, resp, 400, "XAmzContentSHA256Mismatch",
				 "The provided 'x-amz-content-sha256' header does not match what was computed.", NULL);
			return -EINVAL;
		}
	}
	return 0;
}

static void dispatch(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	if (q->body_error == -EACCES)
		return oss_fail(req, resp, 403, "SignatureDoesNotMatch", "A chunk's signature does not match its bytes.", NULL);
	if (q->body_error == -EINVAL && q->chunked)
		return oss_fail(req, resp, 400, "IncompleteBody", "The aws-chunked body is malformed.", NULL);
	if (q->body_error == -EFBIG)
		return oss_fail(req, resp, 400, q->w ? "EntityTooLarge" : "MalformedXML",
				"Your proposed upload exceeds the maximum allowed size.", NULL);
	if (q->body_error)
		return oss_fail_errno(req, resp, q->body_error);
	if (payload_check(q, req, resp) < 0)
		return;
	if (q->op == OSS_OP_SERVICE_LIST ||
	    (q->bucket[0] && !q->key && q->op != OSS_OP_OBJECTS_DELETE && q->op != OSS_OP_UPLOADS_LIST))
		return oss_bucket_op(q, req, resp);
	oss_object_op(q, req, resp);
}

static void on_end(void *state, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	struct oss_req *q = state;

	if (!q)
		return oss_fail(req, resp, 503, "ServiceUnavailable", "out of memory", NULL);
	dispatch(q, req, resp);
	resp->op = op_name(q);
	if (oss_req_is_s3(req))
		ecs_http_add_header(resp, "x-amz-request-id", req->request_id);
}

static void on_free(void *state)
{
	struct oss_req *q = state;

	if (!q)
		return;
	oss_writer_abort(q->w);
	oss_upload_clear(&q->upload);
	oss_chunked_free(q->chunked);
	oss_checksum_free(q->ck);
	EVP_MD_CTX_free(q->sha);
	ecs_buf_free(&q->body);
	free(q->key);
	free(q);
}

static const struct ecs_http_stream_ops stream_ops = {
	.begin = on_begin,
	.data = on_data,
	.end = on_end,
	.free = on_free,
};

int oss_api_start(struct oss *o, const struct storage_api_config *cfg, struct ecs_http_server **ret)
{
	struct ecs_http_server_config sc = {
		.name = "oss-api",
		.address = cfg->address,
		.port = cfg->port,
		/* Handlers block on RADOS: one thread a connection, bounded in number. */
		.thread_per_connection = true,
		.max_connections = cfg->max_connections,
		.timeout_s = 120,
		.access_log = true,
		.error_fn = server_error,
		.stream = &stream_ops,
		.metrics = cfg->metrics,
		.userdata = o,
	};

	o->metrics = cfg->metrics;
	o->metrics_token = cfg->metrics_token;
	return ecs_http_server_start(&sc, NULL, 0, ret);
}
