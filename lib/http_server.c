#include "http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "id.h"
#include "json.h"
#include "log.h"
#include "prom.h"
#include "timeutil.h"
#include "util.h"

struct ecs_http_server {
	struct MHD_Daemon *mhd;
	struct ecs_http_server_config cfg;
	char *name;
	struct ecs_http_route *routes;
	size_t n_routes;
	uint16_t port;
	/* Upgraded connections: reserved (an answer queued) and running (a thread), their
	 * sockets, so that a stop can shut them down and wait. */
	pthread_mutex_t up_lock;
	pthread_cond_t up_cond;
	unsigned n_up_running;
	int up_fds[ECS_HTTP_MAX_UPGRADED];
	bool stopping;
};

struct upgrade_job {
	struct ecs_http_server *srv;
	ecs_http_upgrade_fn fn;
	void (*free_fn)(void *);
	void *cls;
	int fd, slot;
	struct MHD_UpgradeResponseHandle *urh;
	char *extra;
	size_t extra_len;
};

/* One per request, from the first callback until the completion notice. */
struct request_ctx {
	struct ecs_http_server *srv;
	char rid[ECS_REQUEST_ID_LEN + 1];
	char *method;
	char *path;
	struct ecs_buf body;
	bool too_large;
	bool answered;
	int64_t start_ms;
	int status;
	size_t resp_bytes;
	uint64_t req_bytes;
	const char *op;
	const struct ecs_http_stream_ops *stream;
	void *stream_state;
	bool stream_failed;
};

static const struct {
	const char *code;
	int status;
} http_errors[_ECS_HTTP_ERROR_MAX] = {
	[ECS_HTTP_ERROR_NOT_FOUND] = { "NotFound", 404 },
	[ECS_HTTP_ERROR_METHOD] = { "MethodNotAllowed", 405 },
	[ECS_HTTP_ERROR_BODY_TOO_LARGE] = { "EntityTooLarge", 413 },
	[ECS_HTTP_ERROR_INTERNAL] = { "InternalError", 500 },
};

const char *ecs_http_error_code(enum ecs_http_error err)
{
	return err < _ECS_HTTP_ERROR_MAX ? http_errors[err].code : "InternalError";
}

static void response_clear_body(struct ecs_http_response *resp)
{
	if (resp->reader_free && resp->reader_cls)
		resp->reader_free(resp->reader_cls);
	resp->reader = NULL;
	resp->reader_free = NULL;
	resp->reader_cls = NULL;
	resp->reader_size = 0;
	if (resp->upgrade_free && resp->upgrade_cls)
		resp->upgrade_free(resp->upgrade_cls);
	resp->upgrade = NULL;
	resp->upgrade_free = NULL;
	resp->upgrade_cls = NULL;
	free(resp->body);
	free(resp->content_type);
	resp->body = NULL;
	resp->content_type = NULL;
	resp->body_len = 0;
}

int ecs_http_reply_take(struct ecs_http_response *resp, int status, const char *content_type, char *body,
			size_t len)
{
	char *ct = strdup(content_type ? content_type : "application/octet-stream");

	if (!ct) {
		free(body);
		return -ENOMEM;
	}
	response_clear_body(resp);
	resp->status = status;
	resp->content_type = ct;
	resp->body = body;
	resp->body_len = len;
	return 0;
}

int ecs_http_reply(struct ecs_http_response *resp, int status, const char *content_type, const void *body,
		   size_t len)
{
	char *copy = malloc(len + 1);

	if (!copy)
		return -ENOMEM;
	if (len)
		memcpy(copy, body, len);
	copy[len] = '\0';
	return ecs_http_reply_take(resp, status, content_type, copy, len);
}

int ecs_http_reply_reader(struct ecs_http_response *resp, int status, const char *content_type, uint64_t size,
			  long (*reader)(void *, uint64_t, char *, size_t), void (*reader_free)(void *), void *cls)
{
	int r = ecs_http_reply_take(resp, status, content_type, NULL, 0);

	if (r < 0) {
		if (reader_free)
			reader_free(cls);
		return r;
	}
	resp->reader = reader;
	resp->reader_free = reader_free;
	resp->reader_cls = cls;
	resp->reader_size = size;
	return 0;
}

int ecs_http_reply_upgrade(struct ecs_http_response *resp, ecs_http_upgrade_fn fn, void (*free_fn)(void *),
			   void *cls)
{
	int r = ecs_http_reply_take(resp, 101, NULL, NULL, 0);

	if (r < 0) {
		if (free_fn)
			free_fn(cls);
		return r;
	}
	free(resp->content_type);
	resp->content_type = NULL;
	resp->upgrade = fn;
	resp->upgrade_free = free_fn;
	resp->upgrade_cls = cls;
	return 0;
}

int ecs_http_reply_json(struct ecs_http_response *resp, int status, struct json_object *obj)
{
	size_t len;
	const char *text = ecs_json_text(obj, &len);

	if (!text)
		return -ENOMEM;
	return ecs_http_reply(resp, status, "application/json;charset=utf-8", text, len);
}

int ecs_http_reply_error(struct ecs_http_response *resp, int status, const char *code, const char *message,
			 const char *request_id)
{
	struct json_object *o = json_object_new_object();
	int r;

	ecs_jb_str(o, "code", code);
	ecs_jb_str(o, "message", message);
	if (request_id)
		ecs_jb_str(o, "request_id", request_id);
	r = ecs_http_reply_json(resp, status, o);
	json_object_put(o);
	return r;
}

int ecs_http_add_header(struct ecs_http_response *resp, const char *name, const char *value)
{
	return ecs_kvlist_add(&resp->headers, name, value);
}

void ecs_http_default_error(const struct ecs_http_request *req, struct ecs_http_response *resp,
			    enum ecs_http_error err, int status, const char *message)
{
	struct json_object *o = json_object_new_object();

	ecs_jb_str(o, "RequestId", req->request_id);
	ecs_jb_str(o, "Code", ecs_http_error_code(err));
	ecs_jb_str(o, "Message", message);
	ecs_http_reply_json(resp, status, o);
	json_object_put(o);
}

static void raise_error(struct ecs_http_server *srv, const struct ecs_http_request *req,
			struct ecs_http_response *resp, enum ecs_http_error err, const char *message)
{
	ecs_http_error_fn fn = srv->cfg.error_fn ? srv->cfg.error_fn : ecs_http_default_error;

	fn(req, resp, err, http_errors[err].status, message);
}

/* Accept an incoming request id only if it is short and plain (it goes into logs). */
static bool request_id_acceptable(const char *s)
{
	size_t n = 0;

	if (!s)
		return false;
	for (; s[n]; n++)
		if (n >= ECS_REQUEST_ID_LEN ||
		    !strchr("0123456789abcdefABCDEFGHIJKLMNOPQRSTUVWXYZghijklmnopqrstuvwxyz-_.", s[n]))
			return false;
	return n > 0;
}

static enum MHD_Result collect_kv(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	return ecs_kvlist_add(cls, key, value) < 0 ? MHD_NO : MHD_YES;
}

static const struct ecs_http_route *route_find(struct ecs_http_server *srv, const char *method,
					       const char *path, bool *ret_path_known)
{
	*ret_path_known = false;
	for (size_t i = 0; i < srv->n_routes; i++) {
		const struct ecs_http_route *rt = &srv->routes[i];
		bool match = rt->prefix ? str_has_prefix(path, rt->path) : streq(path, rt->path);

		if (!match)
			continue;
		*ret_path_known = true;
		if (!rt->method || streq(rt->method, method))
			return rt;
	}
	return NULL;
}

static void peer_address(struct MHD_Connection *c, char *buf, size_t size)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	buf[0] = '\0';
	if (!ci || !ci->client_addr)
		return;
	if (getnameinfo(ci->client_addr,
			ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							       : sizeof(struct sockaddr_in),
			buf, (socklen_t)size, NULL, 0, NI_NUMERICHOST) != 0)
		buf[0] = '\0';
}

int ecs_http_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void upgrade_job_free(struct upgrade_job *job)
{
	if (job->free_fn)
		job->free_fn(job->cls);
	free(job->extra);
	free(job);
}

/* A slot given back. */
static void upgrade_release(struct ecs_http_server *srv, int slot)
{
	pthread_mutex_lock(&srv->up_lock);
	if (slot >= 0) {
		srv->up_fds[slot] = -1;
		srv->n_up_running--;
	}
	pthread_cond_broadcast(&srv->up_cond);
	pthread_mutex_unlock(&srv->up_lock);
}

static void *upgrade_thread(void *arg)
{
	struct upgrade_job *job = arg;
	struct ecs_http_server *srv = job->srv;
	int fl = fcntl(job->fd, F_GETFL);

	if (fl >= 0)
		fcntl(job->fd, F_SETFL, fl & ~O_NONBLOCK);
	job->fn(job->cls, job->fd, job->extra, job->extra_len);
	MHD_upgrade_action(job->urh, MHD_UPGRADE_ACTION_CLOSE);
	upgrade_release(srv, job->slot);
	upgrade_job_free(job);
	return NULL;
}

static void on_upgrade(void *cls, struct MHD_Connection *c, void *req_cls, const char *extra_in,
		       size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
	struct upgrade_job *job = cls;
	struct ecs_http_server *srv = job->srv;
	pthread_attr_t attr;
	pthread_t t;
	bool ok;

	(void)c;
	(void)req_cls;
	job->fd = sock;
	job->urh = urh;
	if (extra_in_size && (job->extra = malloc(extra_in_size)))
		memcpy(job->extra, extra_in, extra_in_size);
	job->extra_len = job->extra ? extra_in_size : 0;
	pthread_mutex_lock(&srv->up_lock);
	ok = !srv->stopping;
	for (int i = 0; ok && i < ECS_HTTP_MAX_UPGRADED; i++)
		if (srv->up_fds[i] < 0) {
			srv->up_fds[i] = sock;
			job->slot = i;
			break;
		}
	ok = ok && job->slot >= 0;
	if (ok)
		srv->n_up_running++;
	pthread_mutex_unlock(&srv->up_lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (ok && pthread_create(&t, &attr, upgrade_thread, job) == 0) {
		pthread_attr_destroy(&attr);
		return;
	}
	pthread_attr_destroy(&attr);
	MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
	upgrade_release(srv, ok ? job->slot : -1);
	upgrade_job_free(job);
}

/* The 101 answer; on_upgrade takes the job (should the client leave before, libmicrohttpd
 * never calls it and the job is lost: a few bytes, and its cls). NULL when every slot is
 * taken (the caller answers 503); a slot is taken for good in on_upgrade. */
static struct MHD_Response *upgrade_response(struct ecs_http_server *srv, struct ecs_http_response *resp)
{
	struct upgrade_job *job = calloc(1, sizeof(*job));
	struct MHD_Response *r = NULL;
	bool ok;

	if (!job)
		return NULL;
	pthread_mutex_lock(&srv->up_lock);
	ok = !srv->stopping && srv->n_up_running < ECS_HTTP_MAX_UPGRADED;
	pthread_mutex_unlock(&srv->up_lock);
	*job = (struct upgrade_job){ .srv = srv, .fn = resp->upgrade, .free_fn = resp->upgrade_free,
				     .cls = resp->upgrade_cls, .fd = -1, .slot = -1 };
	if (ok)
		r = MHD_create_response_for_upgrade(on_upgrade, job);
	if (!r) {
		free(job);
		return NULL;
	}
	resp->upgrade_cls = NULL; /* the job's now */
	resp->upgrade = NULL;
	resp->upgrade_free = NULL;
	return r;
}

static enum MHD_Result send_response(struct MHD_Connection *c, struct request_ctx *ctx,
				     struct ecs_http_response *resp)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	int status = resp->status ? resp->status : 500;

	if (resp->upgrade) {
		r = upgrade_response(ctx->srv, resp);
		if (!r) {
			status = 503;
			r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
			if (!r)
				return MHD_NO;
		}
	} else if (resp->reader) {
		r = MHD_create_response_from_callback(resp->reader_size, 256 * 1024,
						      (MHD_ContentReaderCallback)(void *)resp->reader, resp->reader_cls,
						      resp->reader_free);
		if (!r)
			return MHD_NO;
		resp->reader_cls = NULL; /* owned by MHD now */
		resp->reader = NULL;
	} else {
		r = MHD_create_response_from_buffer(resp->body_len, resp->body ? resp->body : (void *)"",
						    resp->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
		if (!r)
			return MHD_NO;
		resp->body = NULL; /* owned by MHD now */
	}
	if (resp->content_type)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
	MHD_add_response_header(r, ECS_HTTP_RESPONSE_ID_HEADER, ctx->rid);
	for (size_t i = 0; i < resp->headers.n; i++)
		MHD_add_response_header(r, resp->headers.items[i].key, resp->headers.items[i].value);
	ctx->status = status;
	ctx->op = resp->op;
	ctx->resp_bytes = resp->reader_size ? resp->reader_size : resp->body_len;
	ctx->answered = true;
	ret = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

/* What a handler sees of a request, gathered from the connection (its query, headers and
 * peer), and the log's request id, set until request_frame_close. */
struct request_frame {
	struct ecs_kvlist query, headers;
	char peer[INET6_ADDRSTRLEN + 8];
};

static void request_frame_open(struct request_frame *f, struct ecs_http_server *srv, struct MHD_Connection *c,
			       struct request_ctx *ctx, const char *method, const char *url, struct ecs_http_request *req)
{
	*f = (struct request_frame){ .query = ECS_KVLIST_INIT, .headers = ECS_KVLIST_INIT };
	ecs_log_set_request_id(ctx->rid);
	peer_address(c, f->peer, sizeof(f->peer));
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_kv, &f->query);
	MHD_get_connection_values(c, MHD_HEADER_KIND, collect_kv, &f->headers);
	*req = (struct ecs_http_request){
		.method = method,
		.path = url,
		.query = &f->query,
		.headers = &f->headers,
		.body = ctx->body.data ? ctx->body.data : "",
		.body_len = ctx->body.len,
		.request_id = ctx->rid,
		.remote_addr = f->peer,
		.userdata = srv->cfg.userdata,
	};
}

/* The end of a request: the response's leftovers and the frame freed, the request id unset. */
static void request_frame_close(struct request_frame *f, struct ecs_http_response *resp)
{
	response_clear_body(resp);
	ecs_kvlist_clear(&resp->headers);
	ecs_kvlist_clear(&f->query);
	ecs_kvlist_clear(&f->headers);
	ecs_log_set_request_id(NULL);
}

/* A streaming route's first call: begin() sees the headers and may answer at once. */
static enum MHD_Result stream_begin(struct ecs_http_server *srv, struct MHD_Connection *c, struct request_ctx *ctx,
				   const char *method, const char *url)
{
	struct ecs_http_response resp = { 0 };
	enum MHD_Result ret = MHD_YES;
	struct ecs_http_request req;
	struct request_frame f;

	request_frame_open(&f, srv, c, ctx, method, url, &req); /* no body yet */
	ctx->stream->begin(&req, &resp, &ctx->stream_state);
	if (resp.status) {
		const char *clen = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

		/* A body not read: the connection must not be reused. */
		if ((clen && !streq(clen, "0")) ||
		    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING))
			ecs_http_add_header(&resp, MHD_HTTP_HEADER_CONNECTION, "close");
		ret = send_response(c, ctx, &resp);
	}
	request_frame_close(&f, &resp);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct ecs_http_server *srv = cls;
	struct request_ctx *ctx = *con_cls;
	struct ecs_http_response resp = { 0 };
	struct ecs_http_request req;
	const struct ecs_http_route *rt;
	struct request_frame f;
	enum MHD_Result ret;
	bool path_known;

	(void)version;
	if (!ctx) {
		const char *rid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, ECS_HTTP_REQUEST_ID_HEADER);
		const char *clen = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		long long n;

		ctx = calloc(1, sizeof(*ctx));
		if (!ctx)
			return MHD_NO;
		*con_cls = ctx;
		ctx->srv = srv;
		ctx->start_ms = ecs_now_mono_ms();
		ctx->method = strdup(method);
		ctx->path = strdup(url);
		if (request_id_acceptable(rid))
			ecs_strlcpy(ctx->rid, rid, sizeof(ctx->rid));
		else
			ecs_request_id_new(ctx->rid);
		if (!ctx->method || !ctx->path)
			return MHD_NO;
		if (srv->cfg.stream) {
			ctx->stream = srv->cfg.stream;
			return stream_begin(srv, c, ctx, method, url);
		}
		/* Refuse an announced oversized body before reading a byte of it. */
		if (clen && ecs_parse_int64(clen, 0, INT64_MAX, &n) == 0 && (size_t)n > srv->cfg.max_body)
			ctx->too_large = true;
		else
			return MHD_YES;
	} else if (*upload_data_size > 0) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		ctx->req_bytes += n;
		if (ctx->stream) {
			if (!ctx->answered && !ctx->stream_failed && ctx->stream->data(ctx->stream_state, upload_data, n) < 0)
				ctx->stream_failed = true;
			return MHD_YES;
		}
		/* libmicrohttpd accepts no answer while a body is arriving: past the limit,
		 * keep nothing and answer 413 once the body has ended. */
		if (!ctx->too_large) {
			int r = ecs_buf_append(&ctx->body, upload_data, n, srv->cfg.max_body);

			if (r == -EFBIG)
				ctx->too_large = true;
			else if (r < 0)
				return MHD_NO;
		}
		return MHD_YES;
	}

	if (ctx->answered)
		return MHD_YES; /* body still arriving after an early answer: discard it */

	request_frame_open(&f, srv, c, ctx, method, url, &req);

	if (ctx->stream) {
		ctx->stream->end(ctx->stream_state, &req, &resp);
		if (!resp.status)
			raise_error(srv, &req, &resp, ECS_HTTP_ERROR_INTERNAL, "the handler gave no answer");
	} else if (ctx->too_large) {
		char msg[128];

		snprintf(msg, sizeof(msg), "the request body is larger than %zu bytes", srv->cfg.max_body);
		raise_error(srv, &req, &resp, ECS_HTTP_ERROR_BODY_TOO_LARGE, msg);
		/* The rest of the body is not read: the connection must not be reused. */
		ecs_http_add_header(&resp, MHD_HTTP_HEADER_CONNECTION, "close");
	} else {
		rt = route_find(srv, method, url, &path_known);
		if (rt)
			rt->handler(&req, &resp);
		else if (path_known)
			raise_error(srv, &req, &resp, ECS_HTTP_ERROR_METHOD, "the method is not allowed here");
		else
			raise_error(srv, &req, &resp, ECS_HTTP_ERROR_NOT_FOUND, "no such resource");
		if (!resp.status)
			raise_error(srv, &req, &resp, ECS_HTTP_ERROR_INTERNAL, "the handler gave no answer");
	}
	ret = send_response(c, ctx, &resp);
	request_frame_close(&f, &resp);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct ecs_http_server *srv = cls;
	struct request_ctx *ctx = *con_cls;

	(void)c;
	if (!ctx)
		return;
	if (srv->cfg.access_log) {
		char qpath[512];

		ecs_log_set_request_id(ctx->rid);
		log_info("http request", "server=%s method=%s path=%s status=%d bytes=%zu dur_ms=%lld%s", srv->name,
			 strempty(ctx->method), ecs_log_quote(ctx->path, qpath, sizeof(qpath)), ctx->status,
			 ctx->resp_bytes, (long long)(ecs_now_mono_ms() - ctx->start_ms),
			 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=true");
		ecs_log_set_request_id(NULL);
	}
	if (srv->cfg.metrics && ctx->answered) {
		char code[16];

		snprintf(code, sizeof(code), "%d", ctx->status);
		ecs_prom_request(srv->cfg.metrics, ctx->op, code, ecs_now_mono_ms() - ctx->start_ms, ctx->req_bytes,
				 ctx->resp_bytes);
	}
	if (ctx->stream && ctx->stream->free)
		ctx->stream->free(ctx->stream_state);
	free(ctx->method);
	free(ctx->path);
	ecs_buf_free(&ctx->body);
	free(ctx);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct ecs_http_server *srv = cls;
	char msg[512], q[600];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_warn("http server", "server=%s detail=%s", srv->name, ecs_log_quote(msg, q, sizeof(q)));
}

int ecs_http_server_start(const struct ecs_http_server_config *cfg, const struct ecs_http_route *routes,
			  size_t n_routes, struct ecs_http_server **ret)
{
	struct ecs_http_server *srv;
	struct sockaddr_storage ss = { 0 };
	const char *addr = cfg->address ? cfg->address : "127.0.0.1";
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_EPOLL | MHD_ALLOW_UPGRADE;
	const union MHD_DaemonInfo *info;

	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->cfg = *cfg;
	pthread_mutex_init(&srv->up_lock, NULL);
	pthread_cond_init(&srv->up_cond, NULL);
	for (int i = 0; i < ECS_HTTP_MAX_UPGRADED; i++)
		srv->up_fds[i] = -1;
	srv->name = strdup(cfg->name ? cfg->name : "http");
	srv->routes = calloc(n_routes ? n_routes : 1, sizeof(*routes));
	if (!srv->name || !srv->routes) {
		ecs_http_server_stop(srv);
		return -ENOMEM;
	}
	memcpy(srv->routes, routes, n_routes * sizeof(*routes));
	srv->n_routes = n_routes;
	if (!srv->cfg.threads)
		srv->cfg.threads = 4;
	if (!srv->cfg.max_body)
		srv->cfg.max_body = 1024 * 1024;
	if (!srv->cfg.timeout_s)
		srv->cfg.timeout_s = 60;
	if (!srv->cfg.max_connections)
		srv->cfg.max_connections = 1024;

	if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(cfg->port);
	} else if (inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(cfg->port);
		flags |= MHD_USE_IPv6;
	} else {
		log_error("bad listen address", "server=%s address=%s", srv->name, addr);
		ecs_http_server_stop(srv);
		return -EINVAL;
	}

	{
		/* The logger goes first so that MHD reports errors in the other options through it. */
		struct MHD_OptionItem opts[] = {
			{ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, srv },
			{ MHD_OPTION_SOCK_ADDR, 0, &ss },
			{ MHD_OPTION_CONNECTION_TIMEOUT, srv->cfg.timeout_s, NULL },
			{ MHD_OPTION_CONNECTION_LIMIT, srv->cfg.max_connections, NULL },
			{ MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL },
			{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, srv },
			{ MHD_OPTION_THREAD_POOL_SIZE, srv->cfg.threads, NULL },
			{ MHD_OPTION_END, 0, NULL },
		};

		if (cfg->thread_per_connection) {
			/* One thread a connection: no pool (MHD warns about a pool of 0). */
			flags = (flags & ~(unsigned)MHD_USE_EPOLL) | MHD_USE_THREAD_PER_CONNECTION;
			opts[ARRAY_SIZE(opts) - 2] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
		}
		srv->mhd = MHD_start_daemon(flags, cfg->port, NULL, NULL, on_request, srv, MHD_OPTION_ARRAY, opts,
					    MHD_OPTION_END);
	}
	if (!srv->mhd) {
		int r = errno ? -errno : -EADDRINUSE;

		log_error("cannot start http server", "server=%s address=%s port=%u error=%s", srv->name, addr,
			  cfg->port, strerror(-r));
		ecs_http_server_stop(srv);
		return r;
	}
	info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = info ? info->port : cfg->port;
	log_info("http server listening", "server=%s address=%s port=%u threads=%u", srv->name, addr, srv->port,
		 srv->cfg.threads);
	*ret = srv;
	return 0;
}

uint16_t ecs_http_server_port(const struct ecs_http_server *srv)
{
	return srv->port;
}

void ecs_http_server_stop(struct ecs_http_server *srv)
{
	if (!srv)
		return;
	/* Upgraded connections end first: their sockets shut down wakes their threads. */
	pthread_mutex_lock(&srv->up_lock);
	srv->stopping = true;
	for (int i = 0; i < ECS_HTTP_MAX_UPGRADED; i++)
		if (srv->up_fds[i] >= 0)
			shutdown(srv->up_fds[i], SHUT_RDWR);
	while (srv->n_up_running)
		pthread_cond_wait(&srv->up_cond, &srv->up_lock);
	pthread_mutex_unlock(&srv->up_lock);
	if (srv->mhd)
		MHD_stop_daemon(srv->mhd);
	pthread_mutex_destroy(&srv->up_lock);
	pthread_cond_destroy(&srv->up_cond);
	free(srv->routes);
	free(srv->name);
	free(srv);
}
