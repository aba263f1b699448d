#include "console_oss.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.h"
#include "image.h"
#include "json.h"
#include "log.h"
#include "url.h"
#include "util.h"

/* The console's operations: what each is on the wire and what it names. */
static const struct oss_op {
	const char *name, *method;
	bool bucket, key, listing;
} ops[] = {
	{ "ListBuckets", "GET", false, false, false },	{ "PutBucket", "PUT", true, false, false },
	{ "DeleteBucket", "DELETE", true, false, false }, { "ListObjects", "GET", true, false, true },
	{ "DeleteObject", "DELETE", true, true, false },  { "GetObject", "GET", true, true, false },
};

static const char *param(const struct ctl_call *call, const char *name)
{
	const char *v = ecs_kvlist_get(call->params, name);

	return v ? v : "";
}

/* Bucket and key as the operation wants them; 0 or failed. */
static int check_names(struct ctl_call *call, const struct oss_op *op, const char *bucket, const char *key)
{
	if (op->bucket && !ctl_oss_bucket_name_ok(bucket))
		return ctl_fail(call, 400, "InvalidBucketName", "The bucket name is not valid.");
	if (op->key && !ctl_oss_object_name_ok(key))
		return ctl_fail(call, 400, "InvalidObjectName", "The object name is not valid.");
	return 0;
}

/* ListObjects' own parameters appended, unsigned (OSS signs sub-resources only); takes url. */
static char *listing_url(struct ctl_call *call, char *url)
{
	static const char *const names[][2] = { { "Prefix", "prefix" }, { "Delimiter", "delimiter" },
						{ "Marker", "marker" } };
	char *out = url;

	for (size_t i = 0; out && i < ARRAY_SIZE(names); i++) {
		const char *v = param(call, names[i][0]);
		_cleanup_free_ char *enc = NULL;
		char *next;

		if (!*v)
			continue;
		enc = ecs_percent_encode(v);
		next = enc ? ecs_strdup_printf("%s&%s=%s", out, names[i][1], enc) : NULL;
		free(out);
		out = next;
	}
	return out ? ecs_strdup_printf("%s&max-keys=100", out) : NULL;
}

/* Make the call and pass ecs-ossd's answer through. */
static int forward(struct ctl_call *call, const char *method, const char *url, const void *body, size_t len,
		   const char *download_name, struct ecs_http_response *resp)
{
	struct ecs_http_client_config cfg = { .connect_timeout_ms = 3000, .timeout_ms = 60000, .retries = 1,
					      .max_response = CTL_CONSOLE_OSS_DOWNLOAD_MAX };
	struct ecs_http_client *hc = NULL;
	struct ecs_http_reply rep = { 0 };
	struct ecs_kvlist h = ECS_KVLIST_INIT;
	const char *ct;
	int r;

	/* The presigned string has no Content-Type: curl must not add one. */
	r = ecs_kvlist_add(&h, "Content-Type", "");
	if (r == 0)
		r = ecs_http_client_new(&cfg, &hc);
	if (r == 0)
		r = ecs_http_client_do(hc, &(struct ecs_http_call){ .method = method, .url = url, .headers = &h,
								     .body = body, .body_len = len },
				       &rep);
	ecs_kvlist_clear(&h);
	ecs_http_client_free(hc);
	if (r == -EFBIG)
		return ctl_fail(call, 400, "EntityTooLarge", "The object is larger than the console downloads (64 MiB).");
	if (r < 0) {
		log_warn("console: the object store did not answer", "endpoint=%s error=%s", call->c->cfg.oss_endpoint,
			 strerror(-r));
		return ctl_fail(call, 503, "ServiceUnavailable", "The object store cannot be reached; try again later.");
	}
	ct = ecs_kvlist_get(&rep.headers, "content-type");
	if (download_name && rep.status == 200) {
		_cleanup_free_ char *disp = ecs_strdup_printf("attachment; filename*=UTF-8''%s", download_name);

		if (disp)
			ecs_http_add_header(resp, "Content-Disposition", disp);
		ct = "application/octet-stream";
	}
	r = ecs_http_reply_take(resp, (int)rep.status, ct && !download_name ? ct : "application/octet-stream", rep.body,
				rep.body_len);
	rep.body = NULL;
	ecs_http_reply_clear(&rep);
	return r < 0 ? ctl_fail(call, 500, "InternalError", "out of memory") : 0;
}

static int do_call(struct ctl_call *call, struct ecs_http_response *resp)
{
	const struct ctl_account *a = call->account;
	const char *name = param(call, "Op"), *bucket = param(call, "Bucket"), *key = param(call, "Key");
	const struct oss_op *op = NULL;
	_cleanup_free_ char *url = NULL, *fname = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
		if (streq(ops[i].name, name))
			op = &ops[i];
	if (!op)
		return ctl_fail(call, 400, "InvalidParameter", "Op is not an operation of the console's storage pages.");
	if (check_names(call, op, bucket, key) < 0)
		return -EINVAL;
	url = ctl_oss_presign(call->c, a->access_key_id, a->access_key_secret, op->method, op->bucket ? bucket : "",
			      op->key ? key : NULL, NULL);
	if (url && op->listing)
		url = listing_url(call, url); /* takes url */
	if (!url)
		return ctl_fail(call, 500, "InternalError", "out of memory");
	if (streq(op->name, "GetObject")) {
		const char *slash = strrchr(key, '/');

		fname = ecs_percent_encode(slash ? slash + 1 : key);
		if (!fname)
			return ctl_fail(call, 500, "InternalError", "out of memory");
	}
	return forward(call, op->method, url, NULL, 0, fname, resp);
}

static int do_upload(struct ctl_call *call, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	const struct ctl_account *a = call->account;
	const char *bucket = ecs_kvlist_get(req->query, "Bucket"), *key = ecs_kvlist_get(req->query, "Key");
	_cleanup_free_ char *url = NULL;

	if (!bucket || !ctl_oss_bucket_name_ok(bucket))
		return ctl_fail(call, 400, "InvalidBucketName", "The bucket name is not valid.");
	if (!key || !ctl_oss_object_name_ok(key))
		return ctl_fail(call, 400, "InvalidObjectName", "The object name is not valid.");
	url = ctl_oss_presign(call->c, a->access_key_id, a->access_key_secret, "PUT", bucket, key, NULL);
	if (!url)
		return ctl_fail(call, 500, "InternalError", "out of memory");
	return forward(call, "PUT", url, req->body, req->body_len, NULL, resp);
}

static int do_presign(struct ctl_call *call, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	const struct ctl_account *a = call->account;
	const char *bucket = param(call, "Bucket"), *key = param(call, "Key");
	_cleanup_free_ char *url = NULL;
	struct json_object *o;

	if (!ctl_oss_bucket_name_ok(bucket))
		return ctl_fail(call, 400, "InvalidBucketName", "The bucket name is not valid.");
	if (!ctl_oss_object_name_ok(key))
		return ctl_fail(call, 400, "InvalidObjectName", "The object name is not valid.");
	url = ctl_oss_presign(call->c, a->access_key_id, a->access_key_secret, "GET", bucket, key, NULL);
	o = url ? json_object_new_object() : NULL;
	if (!o)
		return ctl_fail(call, 500, "InternalError", "out of memory");
	ecs_jb_str(o, "RequestId", req->request_id);
	ecs_jb_str(o, "Url", url);
	ecs_http_reply_json(resp, 200, o);
	json_object_put(o);
	return 0;
}

int ctl_console_oss(struct ctl_call *call, const char *path, const struct ecs_http_request *req,
		    struct ecs_http_response *resp)
{
	if (!call->c->cfg.oss_endpoint || !*call->c->cfg.oss_endpoint)
		return ctl_fail(call, 403, "OperationDenied.OSSUnavailable", "This cloud has no object store.");
	if (streq(path, "call"))
		return do_call(call, resp);
	if (streq(path, "upload"))
		return do_upload(call, req, resp);
	if (streq(path, "presign"))
		return do_presign(call, req, resp);
	return ctl_fail(call, 404, "InvalidApi.NotFound", "Specified api is not found, please check your url and method.");
}
