/* verbs_oss.c: oss mb, rb, ls, cp, rm, presign against ecs-ossd (the profile's oss_endpoint),
 * signed with the profile's AccessKey pair in OSS's signature V1 (storage/oss/sigv1.c, the
 * code the gateway checks with), path-style. Objects are named oss://BUCKET/KEY.
 *
 * cp uploads a file up to --part-size in one PutObject, a larger one as a multipart upload
 * of --part-size parts (aborted on failure), and downloads in --part-size ranges into a
 * temporary file renamed at the end: memory stays one part whatever the size. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "crypto.h"
#include "ecsctl.h"
#include "http_client.h"
#include "sigv1.h"
#include "url.h"
#include "util.h"
#include "verbs.h"

#define MIB (1LL << 20)
#define PRESIGN_MAX_S 604800

struct oss {
	struct ecsctl *ctx;
	const struct ecsctl_profile *p;
	struct ecs_http_client *hc;
	long long part;
};

struct oss_req {
	const char *method, *bucket, *key;
	struct ecs_kvlist query;   /* decoded */
	struct ecs_kvlist headers; /* sent and signed (Content-Type, x-oss-*), plus Range */
	const void *body;
	size_t len;
};

static int oss_open(struct ecsctl *ctx, const struct ecsctl_args *a, struct oss *o)
{
	struct ecs_http_client_config cfg = { 0 };
	int r;

	memset(o, 0, sizeof(*o));
	o->ctx = ctx;
	r = ecsctl_profile(ctx, &o->p);
	if (r < 0)
		return r;
	if (!o->p->access_key_id || !o->p->access_key_secret)
		return ecsctl_usage_error(ctx, "no AccessKey configured (access_key_id and access_key_secret)");
	r = ecsctl_flag_int(ctx, a, "part-size", 1, 5120, 8, &o->part);
	if (r < 0)
		return r;
	o->part *= MIB;
	cfg.timeout_ms = o->p->request_timeout_s * 1000;
	cfg.retries = 2;
	cfg.max_response = (size_t)o->part + MIB;
	cfg.user_agent = "ecsctl";
	r = ecs_http_client_new(&cfg, &o->hc);
	return r < 0 ? ecsctl_fail(ctx, r, "cannot make an HTTP client") : 0;
}

static void oss_close(struct oss *o)
{
	ecs_http_client_free(o->hc);
}

static char *url_of(struct oss *o, const char *bucket, const char *key, const struct ecs_kvlist *query)
{
	_cleanup_free_ char *path = ecs_percent_encode_path(key ? key : ""), *q = query->n ? ecs_form_build(query) : strdup("");

	if (!path || !q)
		return NULL;
	return ecs_strdup_printf("%s%s%s%s%s%s", o->p->oss_endpoint, bucket ? bucket : "", bucket ? "/" : "", path,
				 *q ? "?" : "", q);
}

/* Sign (V1, Date header) and send q; rep filled on any HTTP answer. A status outside ok
 * (and 2xx when ok is 0) is printed as OSS's Code and Message and is -EREMOTEIO. */
static int oss_do(struct oss *o, struct oss_req *q, long ok, struct ecs_http_reply *rep)
{
	char date[64], sig[29];
	time_t now = time(NULL);
	struct tm tm;
	_cleanup_free_ char *sts = NULL, *url = NULL, *auth = NULL;
	struct oss_sign_input in;
	int r;

	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&now, &tm));
	if (ecs_kvlist_set(&q->headers, "Date", date) < 0)
		return -ENOMEM;
	/* libcurl would add a form Content-Type to a PUT or POST without one: send (and sign) ours. */
	if ((q->body || streq(q->method, "PUT") || streq(q->method, "POST")) && !ecs_kvlist_get(&q->headers, "Content-Type") &&
	    ecs_kvlist_add(&q->headers, "Content-Type", "application/octet-stream") < 0)
		return -ENOMEM;
	in = (struct oss_sign_input){ .method = q->method, .date = date, .headers = &q->headers, .query = &q->query,
				      .bucket = q->bucket, .key = q->key };
	sts = oss_sign_string(&in);
	if (!sts || oss_sign_v1(o->p->access_key_secret, sts, sig) < 0)
		return -ENOMEM;
	auth = ecs_strdup_printf("OSS %s:%s", o->p->access_key_id, sig);
	url = url_of(o, q->bucket, q->key, &q->query);
	if (!auth || !url || ecs_kvlist_set(&q->headers, "Authorization", auth) < 0)
		return -ENOMEM;
	if (o->ctx->debug)
		fprintf(o->ctx->err, "%s %s\n", q->method, url);
	r = ecs_http_client_do(o->hc, &(struct ecs_http_call){ .method = q->method, .url = url, .headers = &q->headers,
							     .body = q->body, .body_len = q->len },
			       rep);
	if (r < 0)
		return ecsctl_fail(o->ctx, r, "%s: no answer (%s)", o->p->oss_endpoint, strerror(-r));
	if (ok ? rep->status == ok : rep->status / 100 == 2)
		return 0;
	{
		const char *b = rep->body ? rep->body : "", *s = strstr(b, "<Code>"), *e = s ? strstr(s, "</Code>") : NULL;
		const char *m = strstr(b, "<Message>"), *me = m ? strstr(m, "</Message>") : NULL;

		ecsctl_fail(o->ctx, -EREMOTEIO, "%.*s: %.*s (HTTP %ld)", e ? (int)(e - s - 6) : 4, e ? s + 6 : "HTTP",
			    me ? (int)(me - m - 9) : 0, me ? m + 9 : "", rep->status);
	}
	return -EREMOTEIO;
}

static void req_clear(struct oss_req *q)
{
	ecs_kvlist_clear(&q->query);
	ecs_kvlist_clear(&q->headers);
}

/* One call, its answer dropped. */
static int oss_simple(struct oss *o, struct oss_req *q, long ok)
{
	struct ecs_http_reply rep = { 0 };
	int r = oss_do(o, q, ok, &rep);

	ecs_http_reply_clear(&rep);
	req_clear(q);
	return r;
}

/* "oss://bucket/key" into bucket and key (key may be "" when key_ok). */
static int parse_uri(struct ecsctl *ctx, const char *s, char **bucket, char **key, bool key_optional)
{
	const char *b, *slash;

	if (!str_has_prefix(s, "oss://"))
		return ecsctl_usage_error(ctx, "\"%s\" is not oss://BUCKET/KEY", s);
	b = s + 6;
	slash = strchr(b, '/');
	*bucket = slash ? strndup(b, (size_t)(slash - b)) : strdup(b);
	*key = strdup(slash ? slash + 1 : "");
	if (!*bucket || !*key)
		return -ENOMEM;
	if (!**bucket || (!key_optional && !**key))
		return ecsctl_usage_error(ctx, "\"%s\" names no %s", s, **bucket ? "object" : "bucket");
	return 0;
}

/* The text of each <tag> in xml after *pos, percent-decoded when url. */
static char *xml_next(const char *xml, const char *tag, const char **pos, bool url)
{
	_cleanup_free_ char *open = ecs_strdup_printf("<%s>", tag), *close = ecs_strdup_printf("</%s>", tag);
	const char *s, *e;
	char *out = NULL;

	if (!open || !close || !(s = strstr(*pos, open)) || !(e = strstr(s, close)))
		return NULL;
	s += strlen(open);
	*pos = e + strlen(close);
	if (url) {
		if (ecs_percent_decode(s, (size_t)(e - s), false, &out) < 0)
			return NULL;
		return out;
	}
	(void)xml;
	return strndup(s, (size_t)(e - s));
}

/* ---- mb, rb ---- */

static int mb_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	const char *acl = ecsctl_args_get(a, "acl");
	struct oss_req q = { .method = "PUT", .bucket = a->pos[0] };
	struct oss o;
	int r = oss_open(ctx, a, &o);

	if (r == 0 && acl && ecs_kvlist_add(&q.headers, "x-oss-acl", acl) < 0)
		r = -ENOMEM;
	if (r == 0)
		r = oss_simple(&o, &q, 200);
	req_clear(&q);
	oss_close(&o);
	return r;
}

static int rb_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	struct oss_req q = { .method = "DELETE", .bucket = a->pos[0] };
	struct oss o;
	int r = oss_open(ctx, a, &o);

	if (r == 0)
		r = oss_simple(&o, &q, 204);
	oss_close(&o);
	return r;
}

/* ---- ls ---- */

static int ls_buckets(struct oss *o)
{
	struct oss_req q = { .method = "GET" };
	struct ecs_http_reply rep = { 0 };
	int r = oss_do(o, &q, 200, &rep);
	const char *pos = rep.body;
	char *name;

	while (r == 0 && (name = xml_next(rep.body, "Name", &pos, false))) {
		fprintf(o->ctx->out, "%s\n", name);
		free(name);
	}
	ecs_http_reply_clear(&rep);
	req_clear(&q);
	return r;
}

static int ls_objects(struct oss *o, const char *bucket, const char *prefix)
{
	_cleanup_free_ char *marker = strdup("");
	bool truncated = true;
	int r = marker ? 0 : -ENOMEM;

	/* Every page: encoding-type=url, so any key comes back whole. */
	for (int pages = 0; r == 0 && truncated && pages < 1000000; pages++) {
		struct oss_req q = { .method = "GET", .bucket = bucket };
		struct ecs_http_reply rep = { 0 };
		const char *pos;
		char *key;

		if (ecs_kvlist_add(&q.query, "encoding-type", "url") < 0 || ecs_kvlist_add(&q.query, "max-keys", "1000") < 0 ||
		    (*prefix && ecs_kvlist_add(&q.query, "prefix", prefix) < 0) ||
		    (*marker && ecs_kvlist_add(&q.query, "marker", marker) < 0)) {
			req_clear(&q);
			return -ENOMEM;
		}
		r = oss_do(o, &q, 200, &rep);
		req_clear(&q);
		pos = rep.body;
		while (r == 0 && (key = xml_next(rep.body, "Key", &pos, true))) {
			_cleanup_free_ char *size = xml_next(rep.body, "Size", &pos, false);

			fprintf(o->ctx->out, "%12s  %s\n", size ? size : "?", key);
			free(marker);
			marker = key;
		}
		truncated = r == 0 && rep.body && strstr(rep.body, "<IsTruncated>true</IsTruncated>");
		ecs_http_reply_clear(&rep);
	}
	return r;
}

static int ls_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	_cleanup_free_ char *bucket = NULL, *prefix = NULL;
	struct oss o;
	int r;

	if (a->n_pos && (r = parse_uri(ctx, a->pos[0], &bucket, &prefix, true)) < 0)
		return r;
	r = oss_open(ctx, a, &o);
	if (r == 0)
		r = bucket ? ls_objects(&o, bucket, prefix) : ls_buckets(&o);
	oss_close(&o);
	return r;
}

/* ---- cp ---- */

static int read_full(int fd, char *buf, size_t n, size_t *got)
{
	*got = 0;
	while (*got < n) {
		ssize_t k = read(fd, buf + *got, n - *got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		*got += (size_t)k;
	}
	return 0;
}

static int put_part(struct oss *o, const char *bucket, const char *key, const char *upload, int n, const char *buf,
		    size_t len, struct ecs_buf *xml)
{
	struct oss_req q = { .method = "PUT", .bucket = bucket, .key = key, .body = buf, .len = len };
	struct ecs_http_reply rep = { 0 };
	char num[16];
	const char *etag;
	int r;

	snprintf(num, sizeof(num), "%d", n);
	if (ecs_kvlist_add(&q.query, "partNumber", num) < 0 || ecs_kvlist_add(&q.query, "uploadId", upload) < 0 ||
	    ecs_kvlist_add(&q.headers, "Content-Type", "application/octet-stream") < 0)
		r = -ENOMEM;
	else
		r = oss_do(o, &q, 200, &rep);
	if (r == 0) {
		_cleanup_free_ char *el = NULL;

		etag = ecs_kvlist_get(&rep.headers, "etag");
		el = etag ? ecs_strdup_printf("<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", n, etag) : NULL;
		r = !etag ? ecsctl_fail(o->ctx, -EPROTO, "part %d: no ETag in the answer", n)
		    : !el ? -ENOMEM
			  : ecs_buf_append(xml, el, strlen(el), SIZE_MAX);
	}
	ecs_http_reply_clear(&rep);
	req_clear(&q);
	return r;
}

static int multipart(struct oss *o, int fd, const char *bucket, const char *key, char *buf)
{
	struct oss_req q = { .method = "POST", .bucket = bucket, .key = key };
	struct ecs_http_reply rep = { 0 };
	struct ecs_buf xml = { 0 };
	_cleanup_free_ char *upload = NULL;
	const char *pos;
	size_t got = 1;
	int r, n = 0;

	r = ecs_kvlist_add(&q.query, "uploads", "") < 0 ? -ENOMEM : oss_do(o, &q, 200, &rep);
	pos = rep.body;
	if (r == 0 && !(upload = xml_next(rep.body, "UploadId", &pos, false)))
		r = ecsctl_fail(o->ctx, -EPROTO, "no UploadId in the answer");
	ecs_http_reply_clear(&rep);
	req_clear(&q);
	if (r < 0)
		return r;
	r = ecs_buf_append(&xml, "<CompleteMultipartUpload>", 25, SIZE_MAX);
	while (r == 0 && (r = read_full(fd, buf, (size_t)o->part, &got)) == 0 && got > 0 && n < 10000)
		r = put_part(o, bucket, key, upload, ++n, buf, got, &xml);
	if (r == 0)
		r = ecs_buf_append(&xml, "</CompleteMultipartUpload>", 26, SIZE_MAX);
	if (r == 0) {
		q = (struct oss_req){ .method = "POST", .bucket = bucket, .key = key, .body = xml.data, .len = xml.len };
		r = ecs_kvlist_add(&q.query, "uploadId", upload) < 0 ||
			    ecs_kvlist_add(&q.headers, "Content-Type", "application/xml") < 0
			? -ENOMEM
			: oss_simple(o, &q, 200);
		req_clear(&q);
	}
	ecs_buf_free(&xml);
	if (r < 0) {
		/* Nothing half-made stays behind. */
		q = (struct oss_req){ .method = "DELETE", .bucket = bucket, .key = key };
		if (ecs_kvlist_add(&q.query, "uploadId", upload) == 0)
			oss_simple(o, &q, 204);
		req_clear(&q);
	}
	return r;
}

static int upload(struct oss *o, const char *path, const char *bucket, const char *key)
{
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	size_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = fd < 0 ? -errno : -EINVAL;
		if (fd >= 0)
			close(fd);
		return ecsctl_fail(o->ctx, r, "%s: %s", path, r == -EINVAL ? "not a regular file" : strerror(-r));
	}
	buf = malloc((size_t)o->part);
	if (!buf)
		r = -ENOMEM;
	else if (st.st_size > o->part)
		r = multipart(o, fd, bucket, key, buf);
	else if ((r = read_full(fd, buf, (size_t)o->part, &got)) == 0) {
		struct oss_req q = { .method = "PUT", .bucket = bucket, .key = key, .body = buf, .len = got };

		r = ecs_kvlist_add(&q.headers, "Content-Type", "application/octet-stream") < 0 ? -ENOMEM
											   : oss_simple(o, &q, 200);
		req_clear(&q);
	}
	close(fd);
	return r;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int download(struct oss *o, const char *bucket, const char *key, const char *path)
{
	_cleanup_free_ char *tmp = ecs_strdup_printf("%s.ecsctl-tmp", path);
	long long off = 0, total = -1;
	int fd, r = 0;

	if (!tmp)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return ecsctl_fail(o->ctx, -errno, "%s: %s", tmp, strerror(errno));
	while (r == 0 && (total < 0 || off < total)) {
		struct oss_req q = { .method = "GET", .bucket = bucket, .key = key };
		struct ecs_http_reply rep = { 0 };
		char range[64];
		const char *cr;

		snprintf(range, sizeof(range), "bytes=%lld-%lld", off, off + o->part - 1);
		r = ecs_kvlist_add(&q.headers, "Range", range) < 0 ? -ENOMEM : oss_do(o, &q, 0, &rep);
		if (r == 0) {
			cr = ecs_kvlist_get(&rep.headers, "content-range");
			/* 200: the whole object (an empty one has no range). */
			total = rep.status == 206 && cr && strchr(cr, '/') ? strtoll(strchr(cr, '/') + 1, NULL, 10)
									  : (long long)rep.body_len;
			if (rep.status != 206)
				off = 0;
			r = write_all(fd, rep.body, rep.body_len);
			off += (long long)rep.body_len;
			if (rep.body_len == 0)
				total = off;
		}
		ecs_http_reply_clear(&rep);
		req_clear(&q);
	}
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r == 0 && rename(tmp, path) < 0)
		r = ecsctl_fail(o->ctx, -errno, "%s: %s", path, strerror(errno));
	if (r < 0)
		unlink(tmp);
	return r;
}

static int cp_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	const char *src = a->pos[0], *dst = a->pos[1];
	_cleanup_free_ char *bucket = NULL, *key = NULL;
	bool down = str_has_prefix(src, "oss://");
	struct oss o;
	int r;

	if (down == str_has_prefix(dst, "oss://"))
		return ecsctl_usage_error(ctx, "'ecsctl oss cp' copies a file to oss://BUCKET/KEY or back (one side each)");
	if ((r = parse_uri(ctx, down ? src : dst, &bucket, &key, !down)) < 0)
		return r;
	if (!down && (!*key || key[strlen(key) - 1] == '/')) {
		/* oss://b/dir/ takes the file's own name. */
		const char *base = strrchr(src, '/') ? strrchr(src, '/') + 1 : src;
		char *k = ecs_strdup_printf("%s%s", key, base);

		if (!k)
			return -ENOMEM;
		free(key);
		key = k;
	}
	r = oss_open(ctx, a, &o);
	if (r == 0)
		r = down ? download(&o, bucket, key, dst) : upload(&o, src, bucket, key);
	oss_close(&o);
	return r;
}

/* ---- rm, presign ---- */

static int rm_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	struct oss o;
	int r = oss_open(ctx, a, &o);

	for (size_t i = 0; r == 0 && i < a->n_pos; i++) {
		_cleanup_free_ char *bucket = NULL, *key = NULL;
		struct oss_req q = { .method = "DELETE" };

		r = parse_uri(ctx, a->pos[i], &bucket, &key, false);
		q.bucket = bucket;
		q.key = key;
		if (r == 0)
			r = oss_simple(&o, &q, 204);
	}
	oss_close(&o);
	return r;
}

static int presign_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	const char *method = ecsctl_args_get(a, "http-method") ? ecsctl_args_get(a, "http-method") : "GET";
	_cleanup_free_ char *bucket = NULL, *key = NULL, *sts = NULL, *url = NULL, *ex = NULL;
	struct ecs_kvlist query = ECS_KVLIST_INIT, none = ECS_KVLIST_INIT;
	const struct ecsctl_profile *p;
	struct oss_sign_input in;
	long long expires;
	char sig[29];
	int r;

	if (!streq(method, "GET") && !streq(method, "PUT") && !streq(method, "HEAD") && !streq(method, "DELETE"))
		return ecsctl_usage_error(ctx, "--http-method is GET, PUT, HEAD or DELETE");
	if ((r = parse_uri(ctx, a->pos[0], &bucket, &key, false)) < 0 ||
	    (r = ecsctl_flag_int(ctx, a, "expires", 1, PRESIGN_MAX_S, 3600, &expires)) < 0 ||
	    (r = ecsctl_profile(ctx, &p)) < 0)
		return r;
	if (!p->access_key_id || !p->access_key_secret)
		return ecsctl_usage_error(ctx, "no AccessKey configured (access_key_id and access_key_secret)");
	ex = ecs_strdup_printf("%lld", (long long)time(NULL) + expires);
	if (!ex)
		return -ENOMEM;
	in = (struct oss_sign_input){ .method = method, .date = ex, .headers = &none, .query = &none, .bucket = bucket,
				      .key = key };
	sts = oss_sign_string(&in);
	if (!sts || oss_sign_v1(p->access_key_secret, sts, sig) < 0 ||
	    ecs_kvlist_add(&query, "OSSAccessKeyId", p->access_key_id) < 0 || ecs_kvlist_add(&query, "Expires", ex) < 0 ||
	    ecs_kvlist_add(&query, "Signature", sig) < 0) {
		ecs_kvlist_clear(&query);
		return -ENOMEM;
	}
	{
		struct oss o = { .ctx = ctx, .p = p };

		url = url_of(&o, bucket, key, &query);
	}
	ecs_kvlist_clear(&query);
	if (!url)
		return -ENOMEM;
	fprintf(ctx->out, "%s\n", url);
	return 0;
}

static const struct ecsctl_flag mb_flags[] = {
	{ "acl", ECSCTL_FLAG_VALUE, false, "ACL", "private (default), public-read or public-read-write" },
	{ NULL },
};

static const struct ecsctl_flag part_flags[] = {
	{ "part-size", ECSCTL_FLAG_VALUE, false, "MIB", "parts of a multipart upload and of a download (1-5120, 8)" },
	{ NULL },
};

static const struct ecsctl_flag presign_flags[] = {
	{ "expires", ECSCTL_FLAG_VALUE, false, "SECONDS", "how long the URL works (1-604800, default 3600)" },
	{ "http-method", ECSCTL_FLAG_VALUE, false, "METHOD", "GET (default), PUT, HEAD or DELETE" },
	{ NULL },
};

const struct ecsctl_verb ecsctl_oss_verbs[] = {
	{ .group = "oss", .name = "mb", .synopsis = "BUCKET", .min_pos = 1, .max_pos = 1, .flags = mb_flags,
	  .actions = "PutBucket (OSS)", .summary = "make a bucket", .run = mb_run },
	{ .group = "oss", .name = "rb", .synopsis = "BUCKET", .min_pos = 1, .max_pos = 1,
	  .actions = "DeleteBucket (OSS)", .summary = "remove an empty bucket", .run = rb_run },
	{ .group = "oss", .name = "ls", .synopsis = "[oss://BUCKET[/PREFIX]]", .min_pos = 0, .max_pos = 1,
	  .actions = "ListBuckets, ListObjects (OSS, every page)",
	  .summary = "list the buckets, or a bucket's objects (SIZE KEY) under PREFIX", .run = ls_run },
	{ .group = "oss", .name = "cp", .synopsis = "SRC DST", .min_pos = 2, .max_pos = 2, .flags = part_flags,
	  .actions = "PutObject, multipart upload, GetObject (OSS)",
	  .summary = "copy a file to oss://BUCKET/KEY (multipart above --part-size) or an object to a file",
	  .details = "A destination ending in '/' takes the file's own name. Downloads go by ranges of --part-size\n"
		     "into FILE.ecsctl-tmp, renamed at the end; a failed multipart upload is aborted.",
	  .run = cp_run },
	{ .group = "oss", .name = "rm", .synopsis = "oss://BUCKET/KEY...", .min_pos = 1, .max_pos = ECSCTL_ARGS_MAX,
	  .actions = "DeleteObject (OSS)", .summary = "remove objects", .run = rm_run },
	{ .group = "oss", .name = "presign", .synopsis = "oss://BUCKET/KEY", .min_pos = 1, .max_pos = 1,
	  .flags = presign_flags, .actions = "(none: signed locally)",
	  .summary = "print a URL presigned with your AccessKey (OSS V1) for --expires seconds", .run = presign_run },
	{ .name = NULL },
};
