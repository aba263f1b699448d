#include "storage_keys.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "account.h"
#include "ctl.h"
#include "hostauth.h"
#include "json.h"
#include "log.h"
#include "util.h"

#define KEYS_PATH "/storage/v1/keys/"

static void reply(struct ecs_http_response *resp, int status, const char *code, const char *message)
{
	ecs_http_reply_error(resp, status, code, message, NULL);
}

void ctl_storage_keys_handle(const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	struct ctl *c = req->userdata;
	struct ctl_account a;
	struct json_object *o;
	const char *why = NULL, *ak;
	int r;

	if (ecs_hostauth_verify(c->host_key, "", c->host_nonces, req->method, req->path, req->query, req->headers, req->body,
				req->body_len, time(NULL), &why) < 0) {
		log_warn("storage call refused", "remote=%s reason=\"%s\"", req->remote_addr, why);
		return reply(resp, 401, "Unauthorized", why);
	}
	if (!streq(req->method, "GET") || !str_has_prefix(req->path, KEYS_PATH))
		return reply(resp, 404, "NotFound", "no such resource");
	ak = req->path + strlen(KEYS_PATH);
	if (!*ak || strlen(ak) >= sizeof(a.access_key_id) || strchr(ak, '/'))
		return reply(resp, 404, "InvalidAccessKeyId.NotFound", "no such key");
	r = ctl_account_by_key(c, ak, &a);
	if (r == -ENOENT)
		return reply(resp, 404, "InvalidAccessKeyId.NotFound", "no such key");
	if (r < 0)
		return reply(resp, 500, "InternalError", "cannot read accounts");
	o = json_object_new_object();
	ecs_jb_str(o, "AccountId", a.account_id);
	ecs_jb_str(o, "AccessKeyId", a.access_key_id);
	ecs_jb_str(o, "AccessKeySecret", a.access_key_secret);
	ecs_http_reply_json(resp, 200, o);
	json_object_put(o);
	explicit_bzero(&a, sizeof(a));
}
