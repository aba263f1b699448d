#include "rpc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "account.h"
#include "common.h"
#include "crypto.h"
#include "http_server.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "nonce.h"
#include "params.h"
#include "sign.h"
#include "ha.h"
#include "store.h"
#include "timeutil.h"
#include "url.h"
#include "util.h"
#include "xml.h"

/* The errno a failure of this HTTP status stands for. */
static int status_errno(int status)
{
	switch (status) {
	case 403:
		return -EACCES;
	case 404:
		return -ENOENT;
	case 409:
		return -EEXIST;
	case 429:
	case 503:
		return -EAGAIN;
	default:
		return status >= 500 ? -EIO : -EINVAL;
	}
}

int ctl_fail(struct ctl_call *call, int status, const char *code, const char *fmt, ...)
{
	int saved_errno = errno;
	va_list ap;

	/* The first failure stays the call's: a later one returns the first one's errno. */
	if (call->status)
		return status_errno(call->status);
	call->status = status;
	snprintf(call->code, sizeof(call->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(call->message, sizeof(call->message), fmt, ap);
	va_end(ap);
	errno = saved_errno;
	return status_errno(status);
}

long long ctl_now(struct ctl *c)
{
	return c->fake_now ? c->fake_now : (long long)time(NULL);
}

/* ---- throttling: a token bucket per account ---- */

struct bucket {
	char account_id[64];
	double tokens;
	long long last_ms;
	struct bucket *next;
};

struct ctl_throttle {
	pthread_mutex_t lock;
	double rate;
	int burst;
	struct bucket *buckets[256];
};

int ctl_throttle_new(double rate, int burst, struct ctl_throttle **ret)
{
	struct ctl_throttle *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	t->rate = rate;
	t->burst = burst;
	*ret = t;
	return 0;
}

void ctl_throttle_free(struct ctl_throttle *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(t->buckets); i++)
		for (struct bucket *b = t->buckets[i], *n; b; b = n) {
			n = b->next;
			free(b);
		}
	pthread_mutex_destroy(&t->lock);
	free(t);
}

bool ctl_throttle_take(struct ctl_throttle *t, const char *account_id, long long now_ms)
{
	unsigned h = 0;
	struct bucket *b;
	bool ok;

	for (const char *p = account_id; *p; p++)
		h = h * 31 + (unsigned char)*p;
	pthread_mutex_lock(&t->lock);
	for (b = t->buckets[h % 256]; b && !streq(b->account_id, account_id); b = b->next)
		;
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b) {
			pthread_mutex_unlock(&t->lock);
			return true;
		}
		snprintf(b->account_id, sizeof(b->account_id), "%s", account_id);
		b->tokens = t->burst;
		b->last_ms = now_ms;
		b->next = t->buckets[h % 256];
		t->buckets[h % 256] = b;
	}
	b->tokens += (double)(now_ms - b->last_ms) / 1000.0 * t->rate;
	if (b->tokens > t->burst)
		b->tokens = t->burst;
	b->last_ms = now_ms;
	ok = b->tokens >= 1.0;
	if (ok)
		b->tokens -= 1.0;
	pthread_mutex_unlock(&t->lock);
	return ok;
}

/* ---- answers ---- */

static void reply(const struct ecs_http_request *req, struct ecs_http_response *resp, int status,
		  struct json_object *body, const char *root, bool xml)
{
	if (xml) {
		char *text = ctl_json_to_xml(root, body);

		if (text)
			ecs_http_reply_take(resp, status, "text/xml;charset=utf-8", text, strlen(text));
		else
			ecs_http_reply(resp, 500, "text/plain", "InternalError", 13);
	} else {
		ecs_http_reply_json(resp, status, body);
	}
	(void)req;
}

static void reply_error(struct ctl *c, const struct ecs_http_request *req, struct ecs_http_response *resp,
			int status, const char *code, const char *message, bool xml)
{
	struct json_object *o = json_object_new_object();
	char host[128];

	/* Both, so that every client sees an error: pop-core reads Code, Python and Tea the status. */
	snprintf(host, sizeof(host), "%s", c->cfg.endpoint);
	ecs_jb_str(o, "RequestId", req->request_id);
	ecs_jb_str(o, "HostId", host);
	ecs_jb_str(o, "Code", code);
	ecs_jb_str(o, "Message", message);
	ecs_jb_str(o, "Recommend", "");
	reply(req, resp, status, o, "Error", xml);
	json_object_put(o);
	log_info("api error", "status=%d code=%s", status, code);
}

void ctl_rpc_server_error(const struct ecs_http_request *req, struct ecs_http_response *resp, enum ecs_http_error err,
			  int status, const char *message)
{
	struct ctl *c = req->userdata;
	const char *code = err == ECS_HTTP_ERROR_NOT_FOUND ? "InvalidApi.NotFound" : ecs_http_error_code(err);

	reply_error(c, req, resp, status, code, message, false);
}

/* ---- authentication ---- */

struct auth {
	struct ctl_account account;
	const char *nonce;
	time_t timestamp;
};

static int check_time(struct ctl_call *call, const char *name, const char *value, time_t *ret)
{
	time_t t;

	if (!value || !*value)
		return ctl_fail(call, 400, "MissingParameter",
				"The input parameter \"%s\" that is mandatory for processing this request is not supplied.",
				name);
	if (ecs_time_parse(value, &t) < 0)
		return ctl_fail(call, 400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.");
	if (llabs((long long)t - (long long)time(NULL)) > CTL_TIMESTAMP_WINDOW_S)
		return ctl_fail(call, 400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.");
	*ret = t;
	return 0;
}

static int load_account(struct ctl_call *call, const char *ak, struct ctl_account *ret)
{
	int r;

	if (!ak || !*ak)
		return ctl_fail(call, 400, "MissingParameter",
				"The input parameter \"AccessKeyId\" that is mandatory for processing this request is not supplied.");
	r = ctl_account_by_key(call->c, ak, ret);
	if (r == -ENOENT)
		return ctl_fail(call, 404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.");
	if (r < 0)
		return ctl_fail(call, 500, "InternalError", "The request processing has failed due to some unknown error.");
	return 0;
}

static int auth_v1(struct ctl_call *call, const struct ecs_http_request *req, struct auth *ret)
{
	const char *method = ctl_param(call, "SignatureMethod", 0), *version = ctl_param(call, "SignatureVersion", 0);
	_cleanup_free_ char *sts = NULL;
	int r;

	r = load_account(call, ctl_param(call, "AccessKeyId", 0), &ret->account);
	if (r < 0)
		return r;
	if (!ctl_param(call, "Signature", 0))
		return ctl_fail(call, 400, "MissingParameter",
				"The input parameter \"Signature\" that is mandatory for processing this request is not supplied.");
	if (method && !streq(method, "HMAC-SHA1"))
		return ctl_fail(call, 400, "InvalidParameter", "The specified parameter \"SignatureMethod\" is not valid: only HMAC-SHA1");
	if (version && !streq(version, "1.0"))
		return ctl_fail(call, 400, "InvalidParameter", "The specified parameter \"SignatureVersion\" is not valid: only 1.0");
	r = ecs_rpc_verify(req->method, call->params, ret->account.access_key_secret, &sts);
	if (r == -EBADMSG)
		/* The ':' matters: the Python SDK splits the message there to compare strings. */
		return ctl_fail(call, 400, "SignatureDoesNotMatch",
				"Specified signature is not matched with our calculation. server string to sign is:%s",
				sts ? sts : "");
	if (r < 0)
		return ctl_fail(call, 500, "InternalError", "The request processing has failed due to some unknown error.");
	r = check_time(call, "Timestamp", ctl_param(call, "Timestamp", 0), &ret->timestamp);
	if (r < 0)
		return r;
	ret->nonce = ctl_param(call, "SignatureNonce", 0);
	return 0;
}

/* What a V3 signature must cover: whom it is for, what it asks and when (ECS's SDKs sign
 * these and every other x-acs-* header). */
static const char *const acs3_required[] = { "host", "x-acs-action", "x-acs-content-sha256", "x-acs-date",
					     "x-acs-signature-nonce", "x-acs-version", NULL };

static int auth_v3(struct ctl_call *call, const struct ecs_http_request *req, const char *authorization,
		   struct auth *ret)
{
	const char *missing = NULL;
	const char *hashed = ecs_kvlist_get_case(req->headers, "x-acs-content-sha256");
	_cleanup_free_ char *canon = NULL;
	struct ecs_acs3_auth a;
	uint8_t h[ECS_SHA256_LEN];
	char hex[2 * ECS_SHA256_LEN + 1], sig[65];
	int r;

	if (ecs_acs3_parse(authorization, &a) < 0)
		return ctl_fail(call, 400, "IncompleteSignature", "The Authorization header is not a well-formed ACS3 one.");
	r = load_account(call, a.access_key_id, &ret->account);
	if (r < 0)
		return r;
	/* The payload hash must be the body's: it is what the signature covers. */
	ecs_sha256(req->body, req->body_len, h);
	ecs_hex_encode(h, sizeof(h), hex);
	if (!hashed || !strcaseeq(hashed, hex))
		return ctl_fail(call, 400, "SignatureDoesNotMatch",
				"Specified signature is not matched with our calculation. x-acs-content-sha256 is not the body's");
	r = ecs_acs3_signed_headers_check(a.signed_headers, acs3_required, &missing);
	if (r == -ENOENT)
		return ctl_fail(call, 400, "IncompleteSignature", "SignedHeaders must cover %s.", missing);
	if (r < 0)
		return ctl_fail(call, 400, "IncompleteSignature",
				"SignedHeaders is not a sorted list of distinct lower-case header names.");
	canon = ecs_acs3_canonical_request(req->method, req->path, req->query, req->headers, a.signed_headers, hashed);
	if (!canon || ecs_acs3_sign(ret->account.access_key_secret, canon, sig) < 0)
		return ctl_fail(call, 500, "InternalError", "The request processing has failed due to some unknown error.");
	if (!ecs_streq_ct(sig, a.signature))
		return ctl_fail(call, 400, "SignatureDoesNotMatch",
				"Specified signature is not matched with our calculation. server string to sign is:%s", canon);
	r = check_time(call, "x-acs-date", ecs_kvlist_get_case(req->headers, "x-acs-date"), &ret->timestamp);
	if (r < 0)
		return r;
	ret->nonce = ecs_kvlist_get_case(req->headers, "x-acs-signature-nonce");
	return 0;
}

static int check_nonce(struct ctl_call *call, const struct auth *a)
{
	int r;

	if (!a->nonce || !*a->nonce)
		return ctl_fail(call, 400, "MissingParameter",
				"The input parameter \"SignatureNonce\" that is mandatory for processing this request is not supplied.");
	if (strlen(a->nonce) > 128)
		return ctl_fail(call, 400, "InvalidParameter", "The specified parameter \"SignatureNonce\" is not valid: too long");
	/* The nonce table does not outlive a restart: what is dated before this run began
	 * may have been served by the last one, within its window. */
	if (a->timestamp < call->c->started_at)
		return ctl_fail(call, 400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.");
	/* Kept until the request's own timestamp leaves the window, in the account's share. */
	r = ecs_nonce_set_claim(call->c->sig_nonces, a->account.account_id, a->nonce, a->timestamp, time(NULL),
				CTL_TIMESTAMP_WINDOW_S);
	if (r == -ERANGE)
		return ctl_fail(call, 400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.");
	if (r == -EEXIST)
		return ctl_fail(call, 400, "SignatureNonceUsed", "Specified signature nonce was used already.");
	if (r < 0)
		return ctl_fail(call, 400, "Throttling", "Request was denied due to request throttling.");
	return 0;
}

/* ---- ClientToken ---- */

enum token_state { TOKEN_NEW, TOKEN_REPLAY, TOKEN_NONE };

static bool token_ok(const char *t)
{
	size_t n = strlen(t);

	if (n == 0 || n > 64)
		return false;
	for (; *t; t++)
		if (*t < 0x21 || *t > 0x7e)
			return false;
	return true;
}

/* Claim (account, action, token), or find the answer of the request that claimed it. */
static enum token_state token_claim(struct ctl_call *call, const char *token, int *ret_status,
				    char **ret_body)
{
	const char *const key[] = { call->account->account_id, call->action, token };
	sqlite3 *db = ctl_db_get(call->c->store);
	sqlite3_stmt *st;
	enum token_state s = TOKEN_NONE;

	if (!db)
		return TOKEN_NONE;
	for (int tries = 0; tries < 300 && s == TOKEN_NONE; tries++) {
		st = ctl_db_prepare_args(db, "INSERT INTO client_tokens (account_id, action, token, status, body,"
					     " created_at) VALUES (?1, ?2, ?3, 0, '', ?4)",
					 key, 3);
		if (!st)
			break;
		sqlite3_bind_int64(st, 4, time(NULL));
		if (ctl_db_step_done(st) == 0) {
			s = TOKEN_NEW;
			sqlite3_finalize(st);
			break;
		}
		sqlite3_finalize(st);
		st = ctl_db_prepare_args(db, "SELECT status, body FROM client_tokens WHERE account_id = ?1 AND"
					     " action = ?2 AND token = ?3",
					 key, 3);
		if (!st)
			break;
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) != 0) {
			*ret_status = sqlite3_column_int(st, 0);
			*ret_body = strdup((const char *)sqlite3_column_text(st, 1));
			s = TOKEN_REPLAY;
		}
		sqlite3_finalize(st);
		if (s == TOKEN_NONE)
			usleep(100 * 1000); /* the first request is still running */
	}
	ctl_db_put(call->c->store, db);
	return s;
}

static void token_finish(struct ctl_call *call, const char *token, int status, const char *body)
{
	const char *const key[] = { call->account->account_id, call->action, token };
	sqlite3 *db = ctl_db_get(call->c->store);
	/* Only a success is remembered: a failed request may be retried with the token. */
	sqlite3_stmt *st = ctl_db_prepare_args(db,
					       status == 200 ? "UPDATE client_tokens SET status = ?4, body = ?5 WHERE"
							       " account_id = ?1 AND action = ?2 AND token = ?3"
							     : "DELETE FROM client_tokens WHERE account_id = ?1 AND"
							       " action = ?2 AND token = ?3",
					       key, 3);

	if (st) {
		if (status == 200) {
			sqlite3_bind_int(st, 4, status);
			sqlite3_bind_text(st, 5, body, -1, SQLITE_STATIC);
		}
		ctl_db_step_done(st);
	}
	sqlite3_finalize(st);
	ctl_db_put(call->c->store, db);
}

/* ---- the endpoint ---- */

static bool is_form(const struct ecs_http_request *req)
{
	const char *ct = ecs_kvlist_get_case(req->headers, "Content-Type");

	return ct && str_has_prefix(ct, "application/x-www-form-urlencoded");
}

void ctl_rpc_handle(const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	struct ctl *c = req->userdata;
	struct ecs_kvlist params = ECS_KVLIST_INIT;
	struct ctl_call call = { .c = c, .request_id = req->request_id, .params = &params,
				 .started_ms = ecs_now_mono_ms() };
	const char *authorization = ecs_kvlist_get_case(req->headers, "Authorization");
	bool v3 = authorization && str_has_prefix(authorization, ECS_ACS3_SCHEME " ");
	const char *format, *version;
	struct auth auth = { 0 };
	bool xml = false;

	if (!streq(req->method, "GET") && !streq(req->method, "POST")) {
		reply_error(c, req, resp, 405, "UnsupportedHTTPMethod", "This http method is not supported.", false);
		return;
	}
	/* Query and form body together, as the signature covers them (Python SDK: the query;
	 * pop-core: the body). Bounded. */
	for (size_t i = 0; i < req->query->n; i++)
		ecs_kvlist_add(&params, req->query->items[i].key, req->query->items[i].value);
	if (req->body_len && is_form(req) && ecs_form_parse(req->body, req->body_len, (size_t)c->cfg.max_params, &params) < 0) {
		reply_error(c, req, resp, 400, "InvalidParameter", "The request body is not a valid form.", false);
		goto out;
	}
	if (params.n > (size_t)c->cfg.max_params) {
		reply_error(c, req, resp, 400, "InvalidParameter", "Too many parameters.", false);
		goto out;
	}
	format = ctl_param(&call, "Format", 0);
	xml = format && strcaseeq(format, "XML");
	call.action = v3 ? ecs_kvlist_get_case(req->headers, "x-acs-action") : ctl_param(&call, "Action", 0);
	version = v3 ? ecs_kvlist_get_case(req->headers, "x-acs-version") : ctl_param(&call, "Version", 0);
	if (!call.action || !*call.action) {
		ctl_fail(&call, 400, "MissingParameter",
			 "The input parameter \"Action\" that is mandatory for processing this request is not supplied.");
		goto fail;
	}
	if ((v3 ? auth_v3(&call, req, authorization, &auth) : auth_v1(&call, req, &auth)) < 0)
		goto fail;
	call.account = &auth.account;
	ecs_log_set_request_id(req->request_id);
	/* A throttled request leaves no nonce behind: it may not fill the account's share. */
	if (!ctl_throttle_take(c->throttle, auth.account.account_id, ecs_now_mono_ms())) {
		ctl_fail(&call, 400, "Throttling", "Request was denied due to request throttling.");
		goto fail;
	}
	if (check_nonce(&call, &auth) < 0)
		goto fail;
	ctl_rpc_dispatch(&call, req, resp, version, xml);
	goto out;
fail:
	ctl_rpc_reply_failure(&call, req, resp, xml);
out:
	ecs_kvlist_clear(&params);
}

void ctl_rpc_reply_failure(struct ctl_call *call, const struct ecs_http_request *req, struct ecs_http_response *resp,
			   bool xml)
{
	ctl_metrics_request(call->c->metrics, call->action, call->code[0] ? call->code : "InternalError",
			    ecs_now_mono_ms() - call->started_ms);
	reply_error(call->c, req, resp, call->status ? call->status : 500, call->code[0] ? call->code : "InternalError",
		    call->message[0] ? call->message : "The request processing has failed due to some unknown error.", xml);
}

void ctl_rpc_dispatch(struct ctl_call *call, const struct ecs_http_request *req, struct ecs_http_response *resp,
		      const char *version, bool xml)
{
	struct ctl *c = call->c;
	const char *token = NULL, *region;
	const struct ctl_action *act;
	struct json_object *out = NULL;
	char root[160];

	if (!version || !*version) {
		ctl_fail(call, 400, "MissingParameter",
			 "The input parameter \"Version\" that is mandatory for processing this request is not supplied.");
		goto fail;
	}
	/* The version is the namespace: 2014-05-26 ECS, 2014-05-15 SLB. An action of the other
	 * API is unknown there; a version of neither is refused when the action exists. */
	act = ctl_action_find(call->action, version);
	if (!act && !streq(version, CTL_API_VERSION) && !streq(version, CTL_SLB_API_VERSION) &&
	    ctl_action_find(call->action, NULL)) {
		ctl_fail(call, 400, "InvalidVersion", "Specified parameter Version is not valid.");
		goto fail;
	}
	if (!act) {
		ctl_fail(call, 404, "InvalidApi.NotFound", "Specified api is not found, please check your url and method.");
		goto fail;
	}
	region = ctl_param(call, "RegionId", CTL_NONEMPTY);
	if (region && !streq(region, c->cfg.region_id)) {
		ctl_fail(call, 404, "InvalidRegionId.NotFound", "The specified RegionId does not exist.");
		goto fail;
	}
	call->region_id = c->cfg.region_id;
	if (act->mutating && ctl_ha_refuses_writes()) {
		char active[128];

		ctl_ha_active_endpoint(active, sizeof(active));
		ctl_fail(call, 503, "ServiceUnavailable", "This controller is a standby: send changes to the active one (%s).",
			 active[0] ? active : "not known yet");
		goto fail;
	}
	if (ctl_params_check(call, act->mutating) < 0)
		goto fail;
	if (act->mutating) {
		token = ctl_param(call, "ClientToken", CTL_NONEMPTY);
		if (token && !token_ok(token)) {
			ctl_fail(call, 400, "InvalidClientToken.Malformed",
				 "The specified parameter \"ClientToken\" is not valid: 1-64 printable ASCII characters.");
			goto fail;
		}
		if (token) {
			_cleanup_free_ char *body = NULL;
			int status = 0;

			switch (token_claim(call, token, &status, &body)) {
			case TOKEN_REPLAY: {
				struct json_object *stored = NULL;
				const char *perr;

				out = json_object_new_object();
				ecs_jb_str(out, "RequestId", req->request_id);
				if (body && ecs_json_parse(body, strlen(body), &stored, &perr) == 0) {
					json_object_object_foreach(stored, k, v)
					{
						if (!streq(k, "RequestId"))
							json_object_object_add(out, k, json_object_get(v));
					}
					json_object_put(stored);
				}
				snprintf(root, sizeof(root), "%sResponse", call->action);
				ctl_metrics_request(c->metrics, call->action, "OK", ecs_now_mono_ms() - call->started_ms);
				reply(req, resp, status, out, root, xml);
				goto out;
			}
			case TOKEN_NONE:
				ctl_fail(call, 503, "ServiceUnavailable", "A request with this ClientToken is still running.");
				goto fail;
			case TOKEN_NEW:
				break;
			}
		}
	}
	out = json_object_new_object();
	ecs_jb_str(out, "RequestId", req->request_id);
	if (act->fn(call, out) < 0 || call->status) {
		if (!call->status)
			ctl_fail(call, 500, "InternalError", "The request processing has failed due to some unknown error.");
		if (token)
			token_finish(call, token, call->status, "");
		goto fail;
	}
	if (token)
		token_finish(call, token, 200, ecs_json_text(out, NULL));
	snprintf(root, sizeof(root), "%sResponse", call->action);
	ctl_metrics_request(c->metrics, call->action, "OK", ecs_now_mono_ms() - call->started_ms);
	reply(req, resp, 200, out, root, xml);
	goto out;
fail:
	ctl_rpc_reply_failure(call, req, resp, xml);
out:
	json_object_put(out);
}
