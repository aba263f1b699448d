/* ecsctl.h: the command line's shared state and conventions.
 *
 * ecsctl_main() (run.h) runs one command line against ctx and returns the process exit status:
 *   0 ok, 1 an API error (or no answer from the endpoint), 2 usage or configuration,
 *   3 a timeout (a --wait, `ecsctl wait`, or a request that got no answer in time).
 * Inside, functions return 0 or a negative errno; ecsctl_exit_status() maps them:
 *   -EINVAL (a usage error, printed by ecsctl_usage_error()) -> 2,
 *   -ETIME / -ETIMEDOUT -> 3, any other -> 1.
 * An error is printed once, to ctx->err, by the function that detects it; results go to
 * ctx->out. Nothing here exits the process, so the tests run whole command lines. */
#ifndef ECSCTL_H
#define ECSCTL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "kv.h"
#include "output.h"
#include "profile.h"

#define ECSCTL_ARGS_MAX 100 /* ids a verb takes at once (ECS's limit for InstanceIds) */

enum ecsctl_exit {
	ECSCTL_EXIT_OK = 0,
	ECSCTL_EXIT_API = 1,
	ECSCTL_EXIT_USAGE = 2,
	ECSCTL_EXIT_TIMEOUT = 3,
	_ECSCTL_EXIT_MAX,
};

struct ecsctl_client;
struct ecsctl_api_error;

struct ecsctl {
	FILE *out, *err;
	bool out_tty, err_tty, in_tty;	/* set by the caller (main: isatty) */
	enum ecsctl_output output;	/* after option parsing */
	bool output_set;		/* -o given */
	bool debug;			/* --debug: each request on stderr */
	const char *method;		/* --method: "POST" (default) or "GET" */
	struct ecsctl_overrides overrides;
	struct ecsctl_profile profile;
	bool profile_loaded;
	struct ecsctl_client *client;	/* made at the first call */
	long poll_initial_ms;		/* --wait polling: first interval (0: 1000) */
	long poll_max_ms;		/* … growing to (0: 5000) */
	int exit_status;		/* a verb whose status is another's (ssh): returned as is */
};

/* Zero ctx and point it at the given streams. */
void ecsctl_init(struct ecsctl *ctx, FILE *out, FILE *err);
/* Free what ctx holds (the streams stay open). */
void ecsctl_done(struct ecsctl *ctx);

int ecsctl_exit_status(int r);

/* Print "ecsctl: MESSAGE" and a hint to see `ecsctl help [VERB]`; returns -EINVAL. */
int ecsctl_usage_error(struct ecsctl *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "ecsctl: MESSAGE" to ctx->err; returns r. */
int ecsctl_fail(struct ecsctl *ctx, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The profile, loaded at the first use (a bad config file is a usage error, printed). */
int ecsctl_profile(struct ecsctl *ctx, const struct ecsctl_profile **ret);

/* Call action with params (the common parameters and the signature are added). On an API
 * error prints "ecsctl: Code: Message (RequestId: …)" and returns -EREMOTEIO; on no answer
 * prints why and returns -ECONNREFUSED, -ETIMEDOUT, … . *ret (caller puts) on success. */
int ecsctl_call(struct ecsctl *ctx, const char *action, const struct ecs_kvlist *params, struct json_object **ret);
/* The same without printing: the caller judges err (never NULL). */
int ecsctl_call_quiet(struct ecsctl *ctx, const char *action, const struct ecs_kvlist *params,
		      struct json_object **ret, struct ecsctl_api_error *err);
/* Print an error the way ecsctl_call does. */
void ecsctl_print_api_error(struct ecsctl *ctx, const struct ecsctl_api_error *err);

/* '["a","b"]': the JSON-array string ECS takes for InstanceIds and the like. */
char *ecsctl_json_string_array(const char *const *items, size_t n);
/* The array at reply[outer][inner] (NULL when absent). */
struct json_object *ecsctl_reply_list(struct json_object *reply, const char *outer, const char *inner);

#endif
