#include "console.h"
#include "console_oss.h"
#include "console_ots.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "console_assets.h"
#include "crypto.h"
#include "json.h"
#include "log.h"
#include "rpc.h"
#include "timeutil.h"
#include "url.h"
#include "util.h"
#include "vnc.h"

struct session {
	char id[CTL_CONSOLE_ID_LEN + 1];
	char csrf[CTL_CONSOLE_ID_LEN + 1];
	char access_key_id[64];
	long long last_ms;
};

struct ctl_console {
	pthread_mutex_t lock;
	long long idle_ms;
	size_t max, n;
	struct session *s; /* n live ones first, max in all */
	struct ctl_vnc_tokens *vnc;
};

int ctl_console_new(int idle_timeout_s, size_t max_sessions, struct ctl_console **ret)
{
	struct ctl_console *s = calloc(1, sizeof(*s));

	if (!s || !(s->s = calloc(max_sessions ? max_sessions : 1, sizeof(*s->s))) || ctl_vnc_tokens_new(&s->vnc) < 0) {
		if (s)
			free(s->s);
		free(s);
		return -ENOMEM;
	}
	pthread_mutex_init(&s->lock, NULL);
	s->idle_ms = (long long)idle_timeout_s * 1000;
	s->max = max_sessions;
	*ret = s;
	return 0;
}

void ctl_console_free(struct ctl_console *s)
{
	if (!s)
		return;
	ctl_vnc_tokens_free(s->vnc);
	explicit_bzero(s->s, s->max * sizeof(*s->s));
	free(s->s);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* Remove session i (the last one takes its place). Locked. */
static void drop(struct ctl_console *s, size_t i)
{
	s->s[i] = s->s[--s->n];
	explicit_bzero(&s->s[s->n], sizeof(s->s[s->n]));
}

static void sweep(struct ctl_console *s, long long now_ms)
{
	for (size_t i = s->n; i-- > 0;)
		if (now_ms - s->s[i].last_ms > s->idle_ms)
			drop(s, i);
}

struct ctl_vnc_tokens *ctl_console_vnc(struct ctl_console *s)
{
	return s->vnc;
}

size_t ctl_console_sessions(struct ctl_console *s)
{
	size_t n;

	if (!s)
		return 0;
	pthread_mutex_lock(&s->lock);
	sweep(s, ecs_now_mono_ms());
	n = s->n;
	pthread_mutex_unlock(&s->lock);
	return n;
}

static int random_hex(char out[CTL_CONSOLE_ID_LEN + 1])
{
	uint8_t b[CTL_CONSOLE_ID_LEN / 2];

	if (ecs_random_bytes(b, sizeof(b)) < 0)
		return -EIO;
	ecs_hex_encode(b, sizeof(b), out);
	return 0;
}

int ctl_console_session_open(struct ctl_console *s, const char *access_key_id, long long now_ms,
			     char id[CTL_CONSOLE_ID_LEN + 1], char csrf[CTL_CONSOLE_ID_LEN + 1])
{
	struct session *n;
	int r = 0;

	if (random_hex(id) < 0 || random_hex(csrf) < 0)
		return -EIO;
	pthread_mutex_lock(&s->lock);
	sweep(s, now_ms);
	if (s->n >= s->max) {
		r = -ENOSPC;
	} else {
		n = &s->s[s->n++];
		memcpy(n->id, id, sizeof(n->id));
		memcpy(n->csrf, csrf, sizeof(n->csrf));
		snprintf(n->access_key_id, sizeof(n->access_key_id), "%s", access_key_id);
		n->last_ms = now_ms;
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* Locked: the index of session id, or -1. Compared in constant time. */
static long find(struct ctl_console *s, const char *id)
{
	if (strlen(id) != CTL_CONSOLE_ID_LEN)
		return -1;
	for (size_t i = 0; i < s->n; i++)
		if (ecs_memeq_ct(s->s[i].id, id, CTL_CONSOLE_ID_LEN))
			return (long)i;
	return -1;
}

int ctl_console_session_find(struct ctl_console *s, const char *id, long long now_ms, char access_key_id[64],
			     char csrf[CTL_CONSOLE_ID_LEN + 1])
{
	long i;
	int r = -ENOENT;

	pthread_mutex_lock(&s->lock);
	i = find(s, id);
	if (i >= 0 && now_ms - s->s[i].last_ms > s->idle_ms) {
		drop(s, (size_t)i);
	} else if (i >= 0) {
		s->s[i].last_ms = now_ms;
		memcpy(access_key_id, s->s[i].access_key_id, 64);
		memcpy(csrf, s->s[i].csrf, CTL_CONSOLE_ID_LEN + 1);
		r = 0;
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

void ctl_console_session_close(struct ctl_console *s, const char *id)
{
	long i;

	pthread_mutex_lock(&s->lock);
	i = find(s, id);
	if (i >= 0)
		drop(s, (size_t)i);
	pthread_mutex_unlock(&s->lock);
}

/* ---- HTTP ---- */

static void security_headers(struct ecs_http_response *resp, bool cache)
{
	/* The files may be kept and revalidated (ETag); no answer of the API is kept. */
	ecs_http_add_header(resp, "Cache-Control", cache ? "no-cache" : "no-store");
	ecs_http_add_header(resp, "X-Content-Type-Options", "nosniff");
	ecs_http_add_header(resp, "X-Frame-Options", "DENY");
	ecs_http_add_header(resp, "Referrer-Policy", "no-referrer");
	ecs_http_add_header(resp, "Content-Security-Policy",
			    "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none';"
			    " frame-ancestors 'none'; form-action 'self'");
}

/* The value of cookie name in the Cookie header, into out; false when absent. */
static bool cookie_get(const struct ecs_http_request *req, const char *name, char *out, size_t size)
{
	const char *h = ecs_kvlist_get_case(req->headers, "Cookie");
	size_t nl = strlen(name);

	for (const char *p = h; p && *p;) {
		while (*p == ' ' || *p == ';')
			p++;
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
			if (len - nl - 1 >= size)
				return false;
			memcpy(out, p + nl + 1, len - nl - 1);
			out[len - nl - 1] = '\0';
			return true;
		}
		p += len;
	}
	return false;
}

/* A POST from a page of another origin: its Origin names another host, or the browser
 * says the request is not same-origin. */
static bool cross_site(const struct ecs_http_request *req)
{
	const char *origin = ecs_kvlist_get_case(req->headers, "Origin");
	const char *host = ecs_kvlist_get_case(req->headers, "Host");
	const char *site = ecs_kvlist_get_case(req->headers, "Sec-Fetch-Site");
	const char *rest;

	if (site && !streq(site, "same-origin"))
		return true;
	if (!origin)
		return false;
	if (!host || !*host)
		return true;
	rest = str_has_prefix(origin, "http://") ? origin + 7 : str_has_prefix(origin, "https://") ? origin + 8 : NULL;
	return !rest || !streq(rest, host);
}

static void reply_json(struct ecs_http_response *resp, int status, struct json_object *o)
{
	security_headers(resp, false);
	ecs_http_reply_json(resp, status, o);
}

static void fail(struct ctl_call *call, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	security_headers(resp, false);
	ctl_rpc_reply_failure(call, req, resp, false);
}

static void set_cookie(struct ecs_http_response *resp, const char *id, int max_age)
{
	_cleanup_free_ char *v = ecs_strdup_printf("%s=%s; Path=/console/; HttpOnly; SameSite=Strict; Max-Age=%d",
						   CTL_CONSOLE_COOKIE, id, max_age);

	if (v)
		ecs_http_add_header(resp, "Set-Cookie", v);
}

static void session_answer(struct ctl *c, const struct ecs_http_request *req, struct ecs_http_response *resp,
			   const struct ctl_account *a, const char *csrf)
{
	struct json_object *o = json_object_new_object();

	ecs_jb_str(o, "RequestId", req->request_id);
	json_object_object_add(o, "SignedIn", json_object_new_boolean(true));
	ecs_jb_str(o, "AccountName", a->name);
	ecs_jb_str(o, "AccessKeyId", a->access_key_id);
	ecs_jb_str(o, "CsrfToken", csrf);
	ecs_jb_str(o, "RegionId", c->cfg.region_id);
	ecs_jb_int(o, "IdleTimeoutSeconds", c->cfg.console_idle_timeout_s);
	reply_json(resp, 200, o);
	json_object_put(o);
}

/* The form body of a POST, bounded as the API's. */
static int read_form(struct ctl_call *call, const struct ecs_http_request *req, struct ecs_kvlist *params)
{
	const char *ct = ecs_kvlist_get_case(req->headers, "Content-Type");

	if (req->body_len && (!ct || !str_has_prefix(ct, "application/x-www-form-urlencoded")))
		return ctl_fail(call, 400, "InvalidParameter", "The console's requests are forms.");
	if (req->body_len && ecs_form_parse(req->body, req->body_len, (size_t)call->c->cfg.max_params, params) < 0)
		return ctl_fail(call, 400, "InvalidParameter", "The request body is not a valid form.");
	if (params->n > (size_t)call->c->cfg.max_params)
		return ctl_fail(call, 400, "InvalidParameter", "Too many parameters.");
	return 0;
}

static void sign_in(struct ctl_call *call, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	struct ctl *c = call->c;
	const char *ak = ecs_kvlist_get(call->params, "AccessKeyId"), *secret = ecs_kvlist_get(call->params,
											       "AccessKeySecret");
	_cleanup_free_ char *bucket = ecs_strdup_printf("console-signin:%s", req->remote_addr);
	char id[CTL_CONSOLE_ID_LEN + 1], csrf[CTL_CONSOLE_ID_LEN + 1];
	struct ctl_account a;
	int r;

	/* Guesses are throttled per peer address, as an account's calls are. */
	if (!bucket || !ctl_throttle_take(c->throttle, bucket, ecs_now_mono_ms())) {
		ctl_fail(call, 400, "Throttling", "Request was denied due to request throttling.");
		goto fail;
	}
	if (!ak || !*ak || !secret || !*secret) {
		ctl_fail(call, 400, "MissingParameter", "AccessKeyId and AccessKeySecret are both required to sign in.");
		goto fail;
	}
	r = ctl_account_by_key(c, ak, &a);
	if (r < 0 && r != -ENOENT) {
		ctl_fail(call, 500, "InternalError", "The request processing has failed due to some unknown error.");
		goto fail;
	}
	/* One answer for an unknown key and a wrong secret: no key is told to exist. */
	if (r == -ENOENT || !ecs_streq_ct(a.access_key_secret, secret)) {
		log_info("console sign-in refused", "access_key_id=%.64s", ak);
		ctl_fail(call, 401, "SignInFailed", "The AccessKeyId or the AccessKeySecret is not right.");
		goto fail;
	}
	r = ctl_console_session_open(c->console, a.access_key_id, ecs_now_mono_ms(), id, csrf);
	if (r == -ENOSPC) {
		ctl_fail(call, 503, "ServiceUnavailable", "Too many console sessions are open; try again later.");
		goto fail;
	}
	if (r < 0) {
		ctl_fail(call, 500, "InternalError", "The request processing has failed due to some unknown error.");
		goto fail;
	}
	log_info("console sign-in", "account=%s", a.name);
	set_cookie(resp, id, c->cfg.console_idle_timeout_s);
	session_answer(c, req, resp, &a, csrf);
	explicit_bzero(&a, sizeof(a));
	explicit_bzero(id, sizeof(id));
	return;
fail:
	explicit_bzero(&a, sizeof(a));
	fail(call, req, resp);
}

/* The session the request's cookie names, and its account. */
static int session_of(struct ctl_call *call, const struct ecs_http_request *req, char id[CTL_CONSOLE_ID_LEN + 1],
		      struct ctl_account *a, char csrf[CTL_CONSOLE_ID_LEN + 1])
{
	char ak[64];
	int r;

	if (!cookie_get(req, CTL_CONSOLE_COOKIE, id, CTL_CONSOLE_ID_LEN + 1) ||
	    ctl_console_session_find(call->c->console, id, ecs_now_mono_ms(), ak, csrf) < 0)
		return ctl_fail(call, 401, "SessionExpired", "Sign in to the console (no session, or it was idle too long).");
	r = ctl_account_by_key(call->c, ak, a);
	if (r == -ENOENT) {
		ctl_console_session_close(call->c->console, id);
		return ctl_fail(call, 401, "SessionExpired", "The account of this session is gone.");
	}
	if (r < 0)
		return ctl_fail(call, 500, "InternalError", "The request processing has failed due to some unknown error.");
	return 0;
}

static bool action_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
			return false;
	return true;
}

static void serve_asset(const struct ecs_http_request *req, struct ecs_http_response *resp, const char *name)
{
	if (!*name)
		name = "index.html";
	for (size_t i = 0; i < ctl_console_n_assets; i++)
		if (streq(ctl_console_assets[i].name, name)) {
			const char *tag = ecs_kvlist_get_case(req->headers, "If-None-Match");

			security_headers(resp, true);
			ecs_http_add_header(resp, "ETag", ctl_console_assets[i].etag);
			if (tag && streq(tag, ctl_console_assets[i].etag))
				ecs_http_reply(resp, 304, ctl_console_assets[i].type, "", 0);
			else
				ecs_http_reply(resp, 200, ctl_console_assets[i].type, ctl_console_assets[i].data,
					       ctl_console_assets[i].len);
			return;
		}
	ecs_http_reply(resp, 404, "text/plain; charset=utf-8", "not found\n", 10);
}

void ctl_console_handle(const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	struct ctl *c = req->userdata;
	struct ecs_kvlist params = ECS_KVLIST_INIT;
	struct ctl_call call = { .c = c, .request_id = req->request_id, .params = &params,
				 .started_ms = ecs_now_mono_ms() };
	const char *path = req->path, *sent;
	char id[CTL_CONSOLE_ID_LEN + 1], csrf[CTL_CONSOLE_ID_LEN + 1];
	struct ctl_account a;
	const struct ctl_action *act;

	if (streq(path, "/console")) {
		ecs_http_add_header(resp, "Location", "/console/");
		ecs_http_reply(resp, 302, "text/plain; charset=utf-8", "", 0);
		return;
	}
	path += strlen("/console/");
	if (str_has_prefix(path, "api/"))
		call.action = path + 4; /* for the metrics: refused calls count under their action */
	if (streq(req->method, "GET") && streq(path, "session")) {
		/* Not signed in is an answer, not an error: the page asks this first. */
		if (session_of(&call, req, id, &a, csrf) < 0 && call.status == 401) {
			struct json_object *o = json_object_new_object();

			ecs_jb_str(o, "RequestId", req->request_id);
			json_object_object_add(o, "SignedIn", json_object_new_boolean(false));
			reply_json(resp, 200, o);
			json_object_put(o);
		} else if (call.status) {
			fail(&call, req, resp);
		} else {
			session_answer(c, req, resp, &a, csrf);
		}
		goto out;
	}
	if (streq(req->method, "GET") && streq(path, "vnc")) {
		/* A console session, if any, must be the token's account's. */
		bool in = session_of(&call, req, id, &a, csrf) == 0;

		ctl_vnc_handle(c, req, resp, in ? a.account_id : NULL);
		goto out;
	}
	if (streq(req->method, "GET") || streq(req->method, "HEAD")) {
		serve_asset(req, resp, path);
		goto out;
	}
	if (!streq(req->method, "POST")) {
		ctl_fail(&call, 405, "UnsupportedHTTPMethod", "This http method is not supported.");
		fail(&call, req, resp);
		goto out;
	}
	if (cross_site(req)) {
		log_info("console: a cross-site request refused", "path=%s origin=%s", req->path,
			 ecs_kvlist_get_case(req->headers, "Origin") ?: "");
		ctl_fail(&call, 403, "Forbidden.CrossSite", "The console takes requests from its own pages only.");
		fail(&call, req, resp);
		goto out;
	}
	/* An upload's body is the object's bytes, not a form. */
	if (!streq(path, "oss/upload") && read_form(&call, req, &params) < 0) {
		fail(&call, req, resp);
		goto out;
	}
	if (streq(path, "session/signin")) {
		sign_in(&call, req, resp);
		goto out;
	}
	if (session_of(&call, req, id, &a, csrf) < 0) {
		fail(&call, req, resp);
		goto out;
	}
	sent = ecs_kvlist_get_case(req->headers, CTL_CONSOLE_CSRF_HEADER);
	if (!sent || !ecs_streq_ct(sent, csrf)) {
		log_info("console: a request without the session's CSRF token refused", "path=%s", req->path);
		ctl_fail(&call, 403, "InvalidCsrfToken", "The request does not carry this session's CSRF token.");
		fail(&call, req, resp);
		goto out;
	}
	if (streq(path, "session/signout")) {
		struct json_object *o = json_object_new_object();

		ctl_console_session_close(c->console, id);
		set_cookie(resp, "", 0);
		ecs_jb_str(o, "RequestId", req->request_id);
		reply_json(resp, 200, o);
		json_object_put(o);
		goto out;
	}
	if (str_has_prefix(path, "oss/") || str_has_prefix(path, "ots/")) {
		call.account = &a;
		if (!ctl_throttle_take(c->throttle, a.account_id, ecs_now_mono_ms()))
			ctl_fail(&call, 400, "Throttling", "Request was denied due to request throttling.");
		else if ((path[1] == 's' ? ctl_console_oss : ctl_console_ots)(&call, path + 4, req, resp) == 0)
			security_headers(resp, false);
		if (call.status)
			fail(&call, req, resp);
		goto out;
	}
	if (!str_has_prefix(path, "api/") || !action_name_ok(path + 4)) {
		ctl_fail(&call, 404, "InvalidApi.NotFound", "Specified api is not found, please check your url and method.");
		fail(&call, req, resp);
		goto out;
	}
	call.action = path + 4;
	call.account = &a;
	ecs_log_set_request_id(req->request_id);
	if (!ctl_throttle_take(c->throttle, a.account_id, ecs_now_mono_ms())) {
		ctl_fail(&call, 400, "Throttling", "Request was denied due to request throttling.");
		fail(&call, req, resp);
		goto out;
	}
	/* The action's own API version: the console names actions only. */
	act = ctl_action_find(call.action, NULL);
	security_headers(resp, false);
	ctl_rpc_dispatch(&call, req, resp, act ? act->version : CTL_API_VERSION, false);
out:
	explicit_bzero(&a, sizeof(a));
	ecs_kvlist_clear(&params);
}
