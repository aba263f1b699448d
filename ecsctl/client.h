/* client.h: signed calls to the ECS API (Alibaba Cloud RPC, signature 1.0).
 *
 * Each call sends, beside its own parameters, AccessKeyId, Action, Format=JSON, RegionId,
 * SignatureMethod=HMAC-SHA1, SignatureNonce (a fresh UUID), SignatureVersion=1.0,
 * Timestamp (UTC, yyyy-MM-ddTHH:mm:ssZ) and Version (ecsctl_action_version: 2014-05-15 for
 * the SLB actions, 2014-05-26 for the rest), then Signature over all of them (lib/sign.h). A parameter of the call replaces a common one of the same name
 * (`ecsctl api … --RegionId x`). POST sends every parameter in the form body; GET in the
 * query. The headers x-acs-action and x-acs-version repeat the action and version.
 *
 * Only read-only actions (Describe*) are retried, and only when no connection could be made
 * or it broke before an answer: each attempt is signed anew (new nonce and timestamp).
 * Anything else that fails is reported, never repeated, since it may have happened.
 *
 * A reply is an error when its HTTP status is outside 200-299 or its JSON carries a Code
 * (as pop-core and the Python SDK decide). Replies are read up to ECSCTL_MAX_REPLY. */
#ifndef ECSCTL_CLIENT_H
#define ECSCTL_CLIENT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>

#include "kv.h"

#define ECSCTL_VERSION "1.0.0"
#define ECSCTL_API_VERSION "2014-05-26"
#define ECSCTL_SLB_API_VERSION "2014-05-15" /* the SLB actions (ecsctl_action_version) */
#define ECSCTL_MAX_REPLY (16 * 1024 * 1024)

struct ecsctl_client_config {
	const char *endpoint;	      /* "http://host:port/" */
	const char *access_key_id;
	const char *access_key_secret;
	const char *region;
	const char *method;	      /* "POST" (NULL) or "GET" */
	long connect_timeout_ms;      /* 0: 5000 */
	long timeout_ms;	      /* whole call; 0: 60000 */
	unsigned retries;	      /* extra attempts for read-only actions; see ECSCTL_RETRIES */
	long backoff_ms;	      /* first pause, doubled each retry; 0: 200 */
	FILE *debug;		      /* when set: one line per attempt and per answer */
};

#define ECSCTL_RETRIES 2

/* An error as the API reported it (code, message, request id), or, with code empty, why
 * no usable answer came (message only). */
struct ecsctl_api_error {
	long status;		/* HTTP status; 0 when none came */
	char code[128];
	char message[1024];
	char request_id[64];
	char host_id[128];
};

struct ecsctl_client;

int ecsctl_client_new(const struct ecsctl_client_config *cfg, struct ecsctl_client **ret);
void ecsctl_client_free(struct ecsctl_client *c);

/* The parameters as sent: the call's, the common ones, and Signature last. */
int ecsctl_client_sign(struct ecsctl_client *c, const char *action, const struct ecs_kvlist *params,
		       struct ecs_kvlist *ret);

/* Call action. 0 with *ret the reply object; -EREMOTEIO for an API error; -ECONNREFUSED,
 * -EHOSTUNREACH, -EIO when no answer came; -ETIMEDOUT when it came too late; -EFBIG when it
 * was too large; -EBADMSG when it was not a JSON object. err is filled on every error. */
int ecsctl_client_call(struct ecsctl_client *c, const char *action, const struct ecs_kvlist *params,
		       struct json_object **ret, struct ecsctl_api_error *err);

/* Attempts made by the last call (1 + retries). */
unsigned ecsctl_client_last_attempts(const struct ecsctl_client *c);

/* The API version an action belongs to: ECSCTL_SLB_API_VERSION for SLB's (load balancers,
 * listeners, backend servers, health), else ECSCTL_API_VERSION. */
const char *ecsctl_action_version(const char *action);

/* True for the actions that change nothing (Describe*), which may be retried. */
bool ecsctl_action_read_only(const char *action);

#endif
