#include "ecsctl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "client.h"
#include "util.h"
#include "verbs.h"

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

int ecsctl_main(struct ecsctl *ctx, int argc, char **argv)
{
	struct ecsctl_args a;
	int r;

	r = ecsctl_args_parse(ctx, argc, argv, &a);
	if (r < 0)
		return ecsctl_exit_status(r);
	if (!ctx->output_set)
		ctx->output = ctx->out_tty ? ECSCTL_OUTPUT_TABLE : ECSCTL_OUTPUT_TEXT;

	if (a.version) {
		fprintf(ctx->out, "ecsctl %s (ECS API %s)\n", ECSCTL_VERSION, ECSCTL_API_VERSION);
		r = 0;
	} else if (a.help) {
		if (a.verb)
			ecsctl_help_verb(ctx->out, a.verb);
		else if (a.group)
			ecsctl_help_group(ctx->out, a.group);
		else
			ecsctl_help_overview(ctx->out);
		r = 0;
	} else if (!a.verb) {
		if (a.group) {
			fprintf(ctx->err, "ecsctl: '%s' needs a command\n\n", a.group);
			ecsctl_help_group(ctx->err, a.group);
		} else {
			ecsctl_help_overview(ctx->err);
		}
		r = -EINVAL;
	} else {
		r = a.verb->run(ctx, &a);
	}
	ecsctl_args_clear(&a);
	/* Output lost (a full disk, a closed pipe) must not pass for success in a script. */
	if ((fflush(ctx->out) != 0 || ferror(ctx->out)) && r >= 0)
		r = ecsctl_fail(ctx, -EIO, "cannot write the output: %s", strerror(errno));
	fflush(ctx->err);
	if (r >= 0 && ctx->exit_status)
		return ctx->exit_status;
	return ecsctl_exit_status(r);
}
