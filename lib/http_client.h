/* http_client.h: an HTTP client over libcurl for calls between the project's services.
 *
 * Connections are reused: the client keeps a pool of curl handles (each keeps its own
 * connection cache), so it may be shared by threads. Each call has a connect timeout and
 * a total timeout. Idempotent calls (GET, HEAD, PUT, DELETE, OPTIONS unless the request
 * says otherwise) are retried with exponential backoff and jitter on connection errors,
 * timeouts, 429 and 502/503/504; a POST is never retried, since it may have happened. */
#ifndef ECS_HTTP_CLIENT_H
#define ECS_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "kv.h"

struct ecs_http_client_config {
	long connect_timeout_ms; /* 0: 2000 */
	long timeout_ms;	 /* whole call; 0: 30000 */
	unsigned retries;	 /* extra attempts for idempotent calls */
	long backoff_ms;	 /* first backoff, doubled each retry; 0: 100 */
	long backoff_max_ms;	 /* 0: 5000 */
	size_t max_response;	 /* 0: 64 MiB */
	const char *user_agent;
	/* A new connection for every call, none kept: for calls back into a server that may be
	 * waiting on us in the thread that owns a kept connection (the controller's pool thread
	 * making a storage call that asks the controller for a key). */
	bool fresh_connections;
};

struct ecs_http_call {
	const char *method;		  /* "GET", "POST", … */
	const char *url;
	const struct ecs_kvlist *headers; /* may be NULL */
	const void *body;
	size_t body_len;
	int idempotent;			  /* -1 (default): by method; 0 never retry; 1 retry */
};

struct ecs_http_reply {
	long status;
	char *body; /* NUL-terminated */
	size_t body_len;
	struct ecs_kvlist headers; /* names lower-cased */
	unsigned attempts;
};

struct ecs_http_client;

int ecs_http_client_new(const struct ecs_http_client_config *cfg, struct ecs_http_client **ret);
void ecs_http_client_free(struct ecs_http_client *c);

/* Perform the call. Returns 0 when an HTTP answer arrived (any status: see reply->status),
 * -ECONNREFUSED, -ETIMEDOUT, -EHOSTUNREACH or -EIO when none did after the retries allowed,
 * -EFBIG when the answer exceeds max_response. */
int ecs_http_client_do(struct ecs_http_client *c, const struct ecs_http_call *call, struct ecs_http_reply *reply);
void ecs_http_reply_clear(struct ecs_http_reply *reply);

/* Connections opened so far by this client (to test reuse). */
long ecs_http_client_connections(struct ecs_http_client *c);

#endif
