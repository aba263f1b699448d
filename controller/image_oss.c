/* image_oss.c: images and the object store, ecs-ossd at [oss] endpoint (docs/ecs-api.md,
 * "Images and OSS"). The controller holds no object: it checks with the caller's own
 * AccessKey that the caller may read the object (ImportImage) or owns the bucket
 * (ExportImage), answering the API's error at once; each job then hands its agent a URL
 * presigned with that same key for URL_TTL_S, so ecs-ossd checks the account's rights again
 * when the agent reads or writes. */
#include "image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "account.h"
#include "agents.h"
#include "common.h"
#include "crypto.h"
#include "http_client.h"
#include "id.h"
#include "jobs.h"
#include "json.h"
#include "log.h"
#include "params.h"
#include "store.h"
#include "url.h"
#include "util.h"

#define URL_TTL_S 900

/* OSS's rule: 3-63 characters of a-z, 0-9 and '-', neither first nor last a '-'. */
bool ctl_oss_bucket_name_ok(const char *b)
{
	size_t n = strlen(b);

	if (n < 3 || n > 63 || b[0] == '-' || b[n - 1] == '-')
		return false;
	for (; *b; b++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789-", *b))
			return false;
	return true;
}

/* 1-1023 bytes, not starting with '/' or '\', no control character (the API already checked
 * it is UTF-8). */
bool ctl_oss_object_name_ok(const char *o)
{
	size_t n = strlen(o);

	if (n < 1 || n > 1023 || o[0] == '/' || o[0] == '\\')
		return false;
	for (; *o; o++)
		if ((unsigned char)*o < 0x20 || *o == 0x7f)
			return false;
	return true;
}

char *ctl_oss_presign(const struct ctl *c, const char *ak, const char *secret, const char *method, const char *bucket,
		      const char *key, const char *sub)
{
	const char *ep = c->cfg.oss_endpoint;
	size_t eplen = strlen(ep);
	long long expires = (long long)time(NULL) + URL_TTL_S;
	_cleanup_free_ char *sts = NULL, *sig64 = NULL, *ekey = NULL, *esig = NULL, *eak = NULL;
	char sig[ECS_HMAC_SHA1_B64_LEN + 1];

	/* OSS V1 (storage/oss/sigv1.h): no Content-MD5 or Content-Type, Expires in the date slot. */
	/* No bucket: the service (ListBuckets), resource "/". */
	sts = ecs_strdup_printf("%s\n\n\n%lld\n/%s%s%s%s%s", method, expires, bucket, *bucket ? "/" : "",
				key ? key : "", sub ? "?" : "", sub ? sub : "");
	if (!sts || ecs_hmac_sha1_b64(secret, sts, sig) < 0)
		return NULL;
	ekey = ecs_percent_encode_path(key ? key : "");
	esig = ecs_percent_encode(sig);
	eak = ecs_percent_encode(ak);
	if (!ekey || !esig || !eak)
		return NULL;
	while (eplen && ep[eplen - 1] == '/')
		eplen--;
	return ecs_strdup_printf("%.*s/%s%s%s?%s%sOSSAccessKeyId=%s&Expires=%lld&Signature=%s", (int)eplen, ep, bucket,
				 *bucket ? "/" : "", ekey, sub ? sub : "", sub ? "&" : "", eak, expires, esig);
}

/* GET url (with a Range of one byte when ranged): the status, the OSS error Code and the
 * object's whole size (from Content-Range or Content-Length). */
static int probe(const char *url, bool ranged, long *ret_status, char code[64], long long *ret_size)
{
	struct ecs_http_client_config cfg = { .connect_timeout_ms = 3000, .timeout_ms = 15000, .retries = 1,
					      .max_response = 256 << 10 };
	struct ecs_http_client *hc = NULL;
	struct ecs_http_reply rep = { 0 };
	struct ecs_kvlist h = { 0 };
	const char *cr, *s, *e;
	int r;

	if (ranged && ecs_kvlist_add(&h, "Range", "bytes=0-0") < 0)
		return -ENOMEM;
	r = ecs_http_client_new(&cfg, &hc);
	if (r == 0)
		r = ecs_http_client_do(hc, &(struct ecs_http_call){ .method = "GET", .url = url, .headers = &h }, &rep);
	ecs_kvlist_clear(&h);
	ecs_http_client_free(hc);
	if (r < 0)
		return r;
	*ret_status = rep.status;
	code[0] = '\0';
	if (rep.body && (s = strstr(rep.body, "<Code>")) && (e = strstr(s, "</Code>")))
		snprintf(code, 64, "%.*s", (int)(e - s - 6), s + 6);
	*ret_size = (long long)rep.body_len;
	if ((cr = ecs_kvlist_get(&rep.headers, "content-range")) && (s = strchr(cr, '/')))
		*ret_size = strtoll(s + 1, NULL, 10);
	ecs_http_reply_clear(&rep);
	return 0;
}

static int unavailable(struct ctl_call *call, int r, long status)
{
	log_warn("oss: the object store did not answer as expected", "endpoint=%s error=%s status=%ld",
		 call->c->cfg.oss_endpoint, r < 0 ? strerror(-r) : "-", status);
	return ctl_fail(call, 503, "ServiceUnavailable", "The object store cannot be reached; try again later.");
}

/* Whether the caller may read bucket/object, read with their own key; its size. */
static int check_object(struct ctl_call *call, const char *bucket, const char *object, long long *ret_size)
{
	const struct ctl_account *a = call->account;
	_cleanup_free_ char *url = ctl_oss_presign(call->c, a->access_key_id, a->access_key_secret, "GET", bucket, object,
						   NULL);
	long status = 0;
	char code[64];
	int r;

	if (!url)
		return -ENOMEM;
	r = probe(url, true, &status, code, ret_size);
	if (r < 0 || status >= 500)
		return unavailable(call, r, status);
	if (status == 404 && streq(code, "NoSuchBucket"))
		return ctl_fail(call, 404, "InvalidOSSBucket.NotFound", "The specified OSSBucket does not exist.");
	if (status == 404)
		return ctl_fail(call, 404, "InvalidOSSObject.NotFound", "The specified OSSObject does not exist.");
	if (status == 401 || status == 403)
		return ctl_fail(call, 403, "Forbidden.OSSObject", "Your account may not read the specified OSSObject.");
	if (status == 416)
		*ret_size = 0; /* an empty object has no first byte */
	else if (status != 200 && status != 206)
		return unavailable(call, 0, status);
	return 0;
}

int ctl_image_import_oss(struct ctl_call *call, const char *id, const char *name, const char *desc, const char *bucket,
			 const char *object)
{
	long long size = 0, max = (long long)call->c->cfg.oss_import_max_mib << 20;
	struct json_object *args;
	int r;

	if (!call->c->cfg.oss_endpoint[0])
		return ctl_fail(call, 403, "OperationDenied.OSSUnavailable",
				"This cloud has no object store ([oss] endpoint): import from a folder the operator "
				"allows, with DiskDeviceMapping.1.ImportPath.");
	if (!ctl_oss_bucket_name_ok(bucket))
		return ctl_fail(call, 400, "InvalidOSSBucket.Malformed",
				"OSSBucket is 3 to 63 characters of a-z, 0-9 and '-', neither first nor last a '-'.");
	if (!ctl_oss_object_name_ok(object))
		return ctl_fail(call, 400, "InvalidOSSObject.Malformed",
				"OSSObject is 1 to 1023 bytes, not starting with '/' or '\\', without control characters.");
	if ((r = check_object(call, bucket, object, &size)) < 0)
		return r < 0 && !call->status ? ctl_db_failure(call) : r;
	if (size == 0)
		return ctl_fail(call, 400, "InvalidOSSObject.Empty", "The specified OSSObject is empty.");
	if (size > max)
		return ctl_fail(call, 400, "InvalidOSSObject.SizeExceeded",
				"The specified OSSObject is %lld bytes; an image may have at most %lld MiB ([oss] "
				"import_max_mib).",
				size, max >> 20);
	args = json_object_new_object();
	ecs_jb_str(args, "oss_bucket", bucket);
	ecs_jb_str(args, "oss_object", object);
	ecs_jb_str(args, "access_key_id", call->account->access_key_id);
	ecs_jb_str(args, "account_id", call->account->account_id);
	r = ctl_image_insert(call, id, name, desc, "", 1, args);
	json_object_put(args);
	return r;
}

/* The account a job acts for, by the key it was given with (-ENOENT when the key is gone). */
static int job_account(struct ctl *c, struct ctl_job *job, struct ctl_account *ret)
{
	int r = ctl_account_by_key(c, ecs_json_str(job->args, "access_key_id", ""), ret);

	if (r == 0 && !streq(ret->account_id, ecs_json_str(job->args, "account_id", "")))
		r = -ENOENT;
	return r;
}

int ctl_image_oss_body(struct ctl *c, struct ctl_job *job, struct json_object *body)
{
	_cleanup_free_ char *url = NULL;
	struct ctl_account a;
	int r = job_account(c, job, &a);

	if (r < 0)
		return r;
	url = ctl_oss_presign(c, a.access_key_id, a.access_key_secret, "GET", ecs_json_str(job->args, "oss_bucket", ""),
			      ecs_json_str(job->args, "oss_object", ""), NULL);
	if (!url)
		return -ENOMEM;
	ecs_jb_str(body, "oss_url", url);
	ecs_jb_int(body, "max_bytes", (long long)c->cfg.oss_import_max_mib << 20);
	return 0;
}

/* ---- ExportImage ---- */

static bool prefix_ok(const char *p)
{
	if (strlen(p) > 128 || p[0] == '/' || strstr(p, ".."))
		return false;
	for (; *p; p++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_./", *p))
			return false;
	return true;
}

/* The caller owns the bucket: only its owner reads its ACL (GetBucketAcl). */
static int check_bucket(struct ctl_call *call, const char *bucket)
{
	const struct ctl_account *a = call->account;
	_cleanup_free_ char *url = ctl_oss_presign(call->c, a->access_key_id, a->access_key_secret, "GET", bucket, NULL,
						   "acl");
	long long size;
	long status = 0;
	char code[64];
	int r;

	if (!url)
		return -ENOMEM;
	r = probe(url, false, &status, code, &size);
	if (r < 0 || status >= 500)
		return unavailable(call, r, status);
	if (status == 404)
		return ctl_fail(call, 404, "InvalidOSSBucket.NotFound", "The specified OSSBucket does not exist.");
	if (status == 401 || status == 403)
		return ctl_fail(call, 403, "Forbidden.OSSBucket", "The specified OSSBucket is not your account's.");
	if (status != 200)
		return unavailable(call, 0, status);
	return 0;
}

/* The account's own image, Available. */
static int check_image(struct ctl_call *call, const char *id)
{
	sqlite3 *db = ctl_db_get(call->c->store);
	const char *args[] = { id, call->account->account_id };
	sqlite3_stmt *st = db ? ctl_db_prepare_args(db, "SELECT status FROM images WHERE image_id = ?1 AND account_id = ?2"
							" AND deleted = 0", args, 2)
			      : NULL;
	int r;

	if (!st) {
		ctl_db_put(call->c->store, db);
		return ctl_db_failure(call);
	}
	if (sqlite3_step(st) != SQLITE_ROW)
		r = ctl_fail(call, 404, "InvalidImageId.NotFound", "The specified ImageId does not exist.");
	else if (!streq(ctl_col(st, 0), "Available"))
		r = ctl_fail(call, 403, "IncorrectImageStatus", "The image is %s, not Available.", ctl_col(st, 0));
	else
		r = 0;
	sqlite3_finalize(st);
	ctl_db_put(call->c->store, db);
	return r;
}

int ctl_image_export(struct ctl_call *call, struct json_object *out)
{
	static const char *const formats[] = { "raw", "qcow2", NULL };
	const char *id, *bucket, *prefix, *format;
	_cleanup_free_ char *object = NULL;
	struct json_object *args;
	uint8_t rnd[10];
	char task[32];
	sqlite3 *db;
	int r;

	if ((r = ctl_param_id(call, "ImageId", CTL_REQUIRED, "m-", &id)) < 0 ||
	    (r = ctl_param_str(call, "OSSBucket", CTL_REQUIRED | CTL_NONEMPTY, 63, NULL, &bucket)) < 0 ||
	    (r = ctl_param_str(call, "OSSPrefix", 0, 128, "", &prefix)) < 0 ||
	    (r = ctl_param_enum(call, "ImageFormat", 0, formats, "raw", &format)) < 0)
		return r;
	if (!call->c->cfg.oss_endpoint[0])
		return ctl_fail(call, 403, "OperationDenied.OSSUnavailable", "This cloud has no object store ([oss] endpoint).");
	if (!ctl_oss_bucket_name_ok(bucket))
		return ctl_fail(call, 400, "InvalidOSSBucket.Malformed",
				"OSSBucket is 3 to 63 characters of a-z, 0-9 and '-', neither first nor last a '-'.");
	if (!prefix_ok(prefix))
		return ctl_fail(call, 400, "InvalidOSSPrefix.Malformed",
				"OSSPrefix is at most 128 characters of A-Z, a-z, 0-9, '-', '_', '.', '/', without '..' "
				"and not starting with '/'.");
	if ((r = check_image(call, id)) < 0 || (r = check_bucket(call, bucket)) < 0)
		return r < 0 && !call->status ? ctl_db_failure(call) : r;
	object = ecs_strdup_printf("%s%s.%s", prefix, id, format);
	if (!object || ecs_random_bytes(rnd, sizeof(rnd)) < 0)
		return ctl_db_failure(call);
	memcpy(task, "t-", 2);
	ecs_hex_encode(rnd, sizeof(rnd), task + 2);
	args = json_object_new_object();
	ecs_jb_str(args, "task_id", task);
	ecs_jb_str(args, "oss_bucket", bucket);
	ecs_jb_str(args, "oss_object", object);
	ecs_jb_str(args, "format", format);
	ecs_jb_str(args, "access_key_id", call->account->access_key_id);
	ecs_jb_str(args, "account_id", call->account->account_id);
	db = ctl_db_get(call->c->store);
	r = db ? ctl_jobs_add(db, "image", id, "export", args) : -EIO;
	ctl_db_put(call->c->store, db);
	json_object_put(args);
	if (r < 0)
		return ctl_db_failure(call);
	ctl_jobs_kick(call->c);
	ecs_jb_str(out, "TaskId", task);
	ecs_jb_str(out, "RegionId", call->region_id);
	ecs_jb_str(out, "OSSObject", object);
	return 0;
}

enum ctl_job_result ctl_image_export_job(struct ctl *c, struct ctl_job *job, char *why, size_t why_size)
{
	_cleanup_free_ char *path = ecs_strdup_printf("/v1/images/%s/export", job->resource_id), *url = NULL;
	_cleanup_json_ struct json_object *body = json_object_new_object(), *ans = NULL;
	const char *bucket = ecs_json_str(job->args, "oss_bucket", ""), *object = ecs_json_str(job->args, "oss_object", "");
	struct ctl_account a;
	char host[64];
	long status = 0;
	int r;

	if (job_account(c, job, &a) < 0) {
		snprintf(why, why_size, "export of %s: the account's key is gone", job->resource_id);
		return CTL_JOB_FAILED;
	}
	url = ctl_oss_presign(c, a.access_key_id, a.access_key_secret, "PUT", bucket, object, NULL);
	if (!path || !url)
		return CTL_JOB_RETRY;
	if (ctl_any_alive_host(c, NULL, host) < 0) {
		snprintf(why, why_size, "no host is up");
		return CTL_JOB_RETRY;
	}
	ecs_jb_str(body, "oss_url", url);
	ecs_jb_str(body, "format", ecs_json_str(job->args, "format", "raw"));
	r = ctl_agent_call(c, host, "POST", path, body, &status, &ans);
	if (r == 0 && status == 200) {
		log_info("image exported", "image=%s task=%s object=%s/%s", job->resource_id,
			 ecs_json_str(job->args, "task_id", ""), bucket, object);
		return CTL_JOB_DONE;
	}
	snprintf(why, why_size, "export of %s to %s/%s on %s: %s", job->resource_id, bucket, object, host,
		 ctl_agent_error(r, ans));
	return ctl_job_given_up(c, job, r, status) ? CTL_JOB_FAILED : CTL_JOB_RETRY;
}
