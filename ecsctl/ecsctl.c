#include "ecsctl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "json.h"
#include "util.h"

void ecsctl_init(struct ecsctl *ctx, FILE *out, FILE *err)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->out = out;
	ctx->err = err;
	ctx->method = "POST";
}

void ecsctl_done(struct ecsctl *ctx)
{
	ecsctl_client_free(ctx->client);
	ctx->client = NULL;
	ecsctl_profile_clear(&ctx->profile);
	ctx->profile_loaded = false;
}

int ecsctl_exit_status(int r)
{
	if (r >= 0)
		return ECSCTL_EXIT_OK;
	if (r == -EINVAL)
		return ECSCTL_EXIT_USAGE;
	if (r == -ETIME || r == -ETIMEDOUT)
		return ECSCTL_EXIT_TIMEOUT;
	return ECSCTL_EXIT_API;
}

static void vprint(struct ecsctl *ctx, const char *fmt, va_list ap)
{
	char msg[2048];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	fputs("ecsctl: ", ctx->err);
	ecsctl_print_safe(ctx->err, msg);
	fputc('\n', ctx->err);
}

int ecsctl_usage_error(struct ecsctl *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprint(ctx, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int ecsctl_fail(struct ecsctl *ctx, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprint(ctx, fmt, ap);
	va_end(ap);
	return r;
}

int ecsctl_profile(struct ecsctl *ctx, const struct ecsctl_profile **ret)
{
	_cleanup_free_ char *error = NULL;
	int r;

	if (!ctx->profile_loaded) {
		r = ecsctl_profile_load(&ctx->overrides, &ctx->profile, &error);
		if (r < 0) {
			ecsctl_fail(ctx, r, "%s", error ? error : strerror(-r));
			return r == -ENOMEM ? r : -EINVAL;
		}
		ctx->profile_loaded = true;
	}
	*ret = &ctx->profile;
	return 0;
}

static int client(struct ecsctl *ctx, struct ecsctl_client **ret)
{
	const struct ecsctl_profile *p;
	struct ecsctl_client_config cfg;
	int r;

	if (ctx->client) {
		*ret = ctx->client;
		return 0;
	}
	r = ecsctl_profile(ctx, &p);
	if (r < 0)
		return r;
	if (!p->access_key_id || !p->access_key_secret)
		return ecsctl_usage_error(ctx,
					  "no access key for profile [%s]: set access_key_id and access_key_secret "
					  "in %s, or ECSCTL_ACCESS_KEY_ID and ECSCTL_ACCESS_KEY_SECRET",
					  p->name, p->path);
	cfg = (struct ecsctl_client_config){
		.endpoint = p->endpoint,
		.access_key_id = p->access_key_id,
		.access_key_secret = p->access_key_secret,
		.region = p->region,
		.method = ctx->method,
		.timeout_ms = p->request_timeout_s * 1000,
		.retries = ECSCTL_RETRIES,
		.debug = ctx->debug ? ctx->err : NULL,
	};
	r = ecsctl_client_new(&cfg, &ctx->client);
	if (r < 0)
		return ecsctl_fail(ctx, r, "cannot set up the HTTP client: %s", strerror(-r));
	*ret = ctx->client;
	return 0;
}

int ecsctl_call_quiet(struct ecsctl *ctx, const char *action, const struct ecs_kvlist *params,
		      struct json_object **ret, struct ecsctl_api_error *err)
{
	struct ecsctl_client *c = NULL;
	int r;

	memset(err, 0, sizeof(*err));
	r = client(ctx, &c);
	if (r < 0)
		return r; /* printed; err stays empty */
	return ecsctl_client_call(c, action, params, ret, err);
}

void ecsctl_print_api_error(struct ecsctl *ctx, const struct ecsctl_api_error *err)
{
	if (!err->message[0] && !err->code[0])
		return; /* printed where it happened */
	fputs("ecsctl: ", ctx->err);
	if (err->code[0]) {
		ecsctl_print_safe(ctx->err, err->code);
		fputs(": ", ctx->err);
	}
	ecsctl_print_safe(ctx->err, err->message);
	if (err->request_id[0]) {
		fputs(" (RequestId: ", ctx->err);
		ecsctl_print_safe(ctx->err, err->request_id);
		fputc(')', ctx->err);
	}
	fputc('\n', ctx->err);
}

int ecsctl_call(struct ecsctl *ctx, const char *action, const struct ecs_kvlist *params, struct json_object **ret)
{
	struct ecsctl_api_error err;
	int r = ecsctl_call_quiet(ctx, action, params, ret, &err);

	if (r < 0)
		ecsctl_print_api_error(ctx, &err);
	return r;
}

char *ecsctl_json_string_array(const char *const *items, size_t n)
{
	struct json_object *arr = json_object_new_array();
	char *s = NULL;

	if (!arr)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (json_object_array_add(arr, json_object_new_string(items[i])) < 0)
			goto out;
	s = strdup(ecs_json_text(arr, NULL));
out:
	json_object_put(arr);
	return s;
}

struct json_object *ecsctl_reply_list(struct json_object *reply, const char *outer, const char *inner)
{
	struct json_object *list = ecs_json_get(ecs_json_get(reply, outer), inner);

	return list && json_object_is_type(list, json_type_array) ? list : NULL;
}
