#include "api.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api-internal.h"
#include "crypto.h"
#include "log.h"
#include "ots_sign.h"
#include "storage_keys.h"
#include "timeutil.h"
#include "util.h"

#define SKEW_MAX_S (15 * 60)
#define API_VERSION "2015-12-31"

static const struct {
	const char *name;
	ots_op_fn fn;
} ops[] = {
	{ "CreateTable", ots_op_create_table },	    { "ListTable", ots_op_list_table },
	{ "DescribeTable", ots_op_describe_table }, { "UpdateTable", ots_op_update_table },
	{ "DeleteTable", ots_op_delete_table },	    { "GetRow", ots_op_get_row },
	{ "PutRow", ots_op_put_row },		    { "UpdateRow", ots_op_update_row },
	{ "DeleteRow", ots_op_delete_row },	    { "BatchGetRow", ots_op_batch_get_row },
	{ "BatchWriteRow", ots_op_batch_write_row }, { "GetRange", ots_op_get_range },
	{ "StartLocalTransaction", ots_op_start_local_transaction },
	{ "CommitTransaction", ots_op_commit_transaction },
	{ "AbortTransaction", ots_op_abort_transaction },
	{ "CreateIndex", ots_op_create_index },	    { "DropIndex", ots_op_drop_index },
};

int ots_fail(struct ots_call *c, int status, const char *code, const char *fmt, ...)
{
	va_list ap;

	c->status = status;
	c->code = code;
	va_start(ap, fmt);
	vsnprintf(c->message, sizeof(c->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int ots_fail_errno(struct ots_call *c, int r)
{
	switch (r) {
	case -ENOENT:
		return ots_fail(c, 404, "OTSObjectNotExist", "Requested table does not exist.");
	case -ECANCELED:
	case -EBUSY:
		return ots_fail(c, 409, "OTSRowOperationConflict", "Data is being modified by the other request.");
	case -ENOMEM:
		return ots_fail(c, 503, "OTSServerBusy", "Server is busy.");
	default:
		log_error("storage call failed", "error=%s", strerror(-r));
		return ots_fail(c, 500, "OTSInternalServerError", "Internal server error.");
	}
}

int ots_reply(struct ots_call *c, const ProtobufCMessage *msg)
{
	size_t n = protobuf_c_message_get_packed_size(msg);

	free(c->out);
	c->out = malloc(n ? n : 1);
	if (!c->out)
		return ots_fail_errno(c, -ENOMEM);
	c->out_len = protobuf_c_message_pack(msg, c->out);
	c->status = 200;
	return 0;
}

/* "2026-12-06T20:36:40.123Z" (the SDKs) or without the milliseconds. */
static int parse_date(const char *s, time_t *ret)
{
	struct tm tm = { 0 };
	const char *e = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);

	if (!e)
		return -EINVAL;
	if (*e == '.') {
		e++;
		for (int i = 0; i < 6 && *e >= '0' && *e <= '9'; i++)
			e++;
	}
	if (strcmp(e, "Z") != 0)
		return -EINVAL;
	*ret = timegm(&tm);
	return 0;
}

/* Who signed: fills c->scope and key. 0, or an error recorded in c. */
static int authenticate(struct ots_call *c, const struct ecs_http_request *req, const char *op,
			struct storage_key *key)
{
	static const char *const required[] = { "x-ots-date", "x-ots-apiversion", "x-ots-accesskeyid",
						"x-ots-instancename", "x-ots-contentmd5", "x-ots-signature" };
	const char *ak, *inst, *md5, *ver;
	uint8_t sum[ECS_MD5_LEN];
	_cleanup_free_ char *b64 = NULL;
	time_t t, now = time(NULL);
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(required); i++)
		if (!ecs_kvlist_get_case(req->headers, required[i]))
			return ots_fail(c, 400, "OTSMissingHeader", "Missing header: '%s'.", required[i]);
	ak = ecs_kvlist_get_case(req->headers, "x-ots-accesskeyid");
	inst = ecs_kvlist_get_case(req->headers, "x-ots-instancename");
	md5 = ecs_kvlist_get_case(req->headers, "x-ots-contentmd5");
	ver = ecs_kvlist_get_case(req->headers, "x-ots-apiversion");
	if (!streq(ver, API_VERSION))
		return ots_fail(c, 400, "OTSUnsupportOperation", "Unsupported API version: '%.64s'.", ver);
	if (parse_date(ecs_kvlist_get_case(req->headers, "x-ots-date"), &t) < 0)
		return ots_fail(c, 400, "OTSParameterInvalid", "Invalid date format: x-ots-date.");
	if (t > now + SKEW_MAX_S || t < now - SKEW_MAX_S)
		return ots_fail(c, 403, "OTSAuthFailed", "Mismatch between system time and x-ots-date.");
	if (!ots_instance_name_valid(inst))
		return ots_fail(c, 400, "OTSParameterInvalid", "Invalid instance name.");
	r = storage_keys_get(c->o->keys, ak, key);
	if (r == -ENOENT)
		return ots_fail(c, 403, "OTSAuthFailed", "The AccessKeyID does not exist.");
	if (r < 0)
		return ots_fail(c, 503, "OTSServerUnavailable", "The key service cannot be reached.");
	r = ots_sign_verify(key->secret, op, req->headers);
	if (r == -ENOMEM)
		return ots_fail_errno(c, r);
	if (r < 0) {
		explicit_bzero(key, sizeof(*key));
		return ots_fail(c, 403, "OTSAuthFailed", "Signature mismatch.");
	}
	if (ecs_md5(req->body, req->body_len, sum) < 0 || !(b64 = ecs_base64_encode(sum, sizeof(sum))))
		return ots_fail_errno(c, -ENOMEM);
	if (!streq(b64, md5))
		return ots_fail(c, 400, "OTSParameterInvalid", "Content MD5 mismatch.");
	snprintf(c->scope.account, sizeof(c->scope.account), "%s", key->account_id);
	snprintf(c->scope.instance, sizeof(c->scope.instance), "%s", inst);
	return 0;
}

/* The body (answer or Error) with the x-ots-* headers, signed when the caller is known. */
static void respond(const struct ecs_http_request *req, struct ecs_http_response *resp, struct ots_call *c,
		    const char *op, const struct storage_key *key)
{
	struct ecs_kvlist h = ECS_KVLIST_INIT;
	uint8_t sum[ECS_MD5_LEN];
	_cleanup_free_ char *md5 = NULL, *auth = NULL;
	char date[32];

	if (c->code) {
		Ots__Error e = OTS__ERROR__INIT;

		e.code = (char *)c->code;
		e.message = c->message;
		free(c->out);
		c->out_len = ots__error__get_packed_size(&e);
		c->out = malloc(c->out_len);
		if (!c->out) {
			ecs_http_reply(resp, 503, "text/plain", "out of memory", 13);
			return;
		}
		ots__error__pack(&e, c->out);
		if (c->status >= 500 || c->status == 403)
			log_info("request failed", "op=%s code=%s message=%s", op ? op : "-", c->code, c->message);
	}
	ots_sign_date(date);
	if (ecs_md5(c->out ? (const void *)c->out : "", c->out_len, sum) < 0 ||
	    !(md5 = ecs_base64_encode(sum, sizeof(sum))) || ecs_kvlist_add(&h, "x-ots-contentmd5", md5) < 0 ||
	    ecs_kvlist_add(&h, "x-ots-requestid", req->request_id) < 0 || ecs_kvlist_add(&h, "x-ots-date", date) < 0 ||
	    ecs_kvlist_add(&h, "x-ots-contenttype", "protocol buffer") < 0) {
		ecs_kvlist_clear(&h);
		ecs_http_reply(resp, 503, "text/plain", "out of memory", 13);
		return;
	}
	if (key && op)
		auth = ots_sign_response(ecs_kvlist_get_case(req->headers, "x-ots-accesskeyid"), key->secret, op, &h);
	ecs_http_reply_take(resp, c->status ? c->status : 500, "application/x-protobuf", (char *)c->out, c->out_len);
	c->out = NULL;
	for (size_t i = 0; i < h.n; i++)
		ecs_http_add_header(resp, h.items[i].key, h.items[i].value);
	if (auth)
		ecs_http_add_header(resp, "Authorization", auth);
	ecs_kvlist_clear(&h);
}

static void handle(const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	struct ots_call c = { .o = req->userdata, .body = (const uint8_t *)req->body, .body_len = req->body_len,
			      .now_ms = ecs_now_ms() };
	struct storage_key key = { 0 };
	const char *op = NULL;
	bool signed_ok = false;

	/* No operation of the API is named "metrics". */
	if (streq(req->path, "/metrics") && (streq(req->method, "GET") || streq(req->method, "HEAD")))
		return storage_gateway_metrics(req, resp, c.o->metrics, c.o->metrics_token);
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
		if (streq(req->path + 1, ops[i].name))
			op = ops[i].name;
	if (!op) {
		ots_fail(&c, 400, "OTSUnsupportOperation", "Unsupported operation: '%.64s'.", req->path + 1);
	} else if (req->body_len > OTS_REQUEST_MAX) {
		ots_fail(&c, 413, "OTSRequestBodyTooLarge", "The request body exceeds the 4 MB limit.");
	} else if (!streq(req->method, "POST")) {
		ots_fail(&c, 405, "OTSMethodNotAllowed", "Only POST is allowed.");
	} else if (authenticate(&c, req, op, &key) == 0) {
		signed_ok = true;
		for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
			if (streq(op, ops[i].name))
				ops[i].fn(&c);
	}
	respond(req, resp, &c, op, signed_ok ? &key : NULL);
	resp->op = op;
	explicit_bzero(&key, sizeof(key));
	free(c.out);
}

static void server_error(const struct ecs_http_request *req, struct ecs_http_response *resp, enum ecs_http_error err,
			 int status, const char *message)
{
	struct ots_call c = { 0 };

	(void)message;
	switch (err) {
	case ECS_HTTP_ERROR_BODY_TOO_LARGE:
		ots_fail(&c, 413, "OTSRequestBodyTooLarge", "The request body exceeds the 4 MB limit.");
		break;
	case ECS_HTTP_ERROR_NOT_FOUND:
	case ECS_HTTP_ERROR_METHOD:
		ots_fail(&c, status, "OTSUnsupportOperation", "Unsupported operation.");
		break;
	default:
		ots_fail(&c, 500, "OTSInternalServerError", "Internal server error.");
	}
	respond(req, resp, &c, NULL, NULL);
}

int ots_api_start(struct ots *o, const struct storage_api_config *cfg, struct ecs_http_server **ret)
{
	static const struct ecs_http_route routes[] = {
		{ NULL, "/", true, handle },
	};
	struct ecs_http_server_config sc = {
		.name = "ots-api",
		.address = cfg->address,
		.port = cfg->port,
		/* Handlers block on RADOS: one thread a connection, bounded in number. */
		.thread_per_connection = true,
		.max_connections = cfg->max_connections,
		/* Read a little past the limit so the client, still sending, gets the answer. */
		.max_body = OTS_REQUEST_MAX + (1u << 20),
		.timeout_s = 120,
		.access_log = true,
		.error_fn = server_error,
		.metrics = cfg->metrics,
		.userdata = o,
	};

	o->metrics = cfg->metrics;
	o->metrics_token = cfg->metrics_token;
	return ecs_http_server_start(&sc, routes, ARRAY_SIZE(routes), ret);
}
