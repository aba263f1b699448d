/* hostauth.h: how the controller and the agents sign their calls to each other with the
 * host's shared key (HMAC-SHA256), and how the receiver rejects unsigned, stale and
 * replayed requests.
 *
 *   X-Ecs-Date:    Unix seconds when the request was signed
 *   X-Ecs-Nonce:   16-64 characters [A-Za-z0-9_-], never reused within the window
 *   Authorization: ECS2-HMAC-SHA256 <hex signature>
 *
 *   string to sign = "ECS2-HMAC-SHA256\n" HOST "\n" METHOD "\n" PATH "\n" CANONICAL_QUERY "\n"
 *                    DATE "\n" NONCE "\n" hex(sha256(BODY))
 *
 * HOST names the receiver the request is meant for: the agent's host id (its [agent]
 * host_id) for a call to an agent, "" for a call to the controller. Every host shares one
 * key, so without it a request captured on its way to one agent would be good for any
 * other (each keeps its own nonces). CANONICAL_QUERY is the decoded query parameters sorted
 * by key, percent-encoded, joined with '&' (the same canonical form as the RPC signature).
 * ECS1 (the same without HOST) is no longer accepted: controller and agents are upgraded
 * together. */
#ifndef ECS_HOSTAUTH_H
#define ECS_HOSTAUTH_H

#include <stddef.h>
#include <time.h>

#include "kv.h"

#define ECS_HOSTAUTH_SCHEME "ECS2-HMAC-SHA256"
#define ECS_HOSTAUTH_HOST_MAX 255
#define ECS_HOSTAUTH_WINDOW_S 300 /* a request older or newer than this is stale */
#define ECS_HOSTAUTH_NONCE_MAX 64

#define ECS_HOSTAUTH_KEY_MIN 16	 /* characters of a host key, at least */
#define ECS_HOSTAUTH_KEY_MAX 4096 /* bytes of its file, at most */

/* The host key from its file, trailing newlines and blanks taken off (*ret: caller frees).
 * -EINVAL when it is shorter than ECS_HOSTAUTH_KEY_MIN; -EFBIG past ECS_HOSTAUTH_KEY_MAX;
 * otherwise the file's errno. */
int ecs_hostauth_read_key(const char *path, char **ret);

/* Compute the signature (64 hex characters + NUL). host: the receiver (see above); -EINVAL
 * when it is longer than ECS_HOSTAUTH_HOST_MAX or holds a control character. */
int ecs_hostauth_sign(const char *key, const char *host, const char *method, const char *path, const struct ecs_kvlist *query,
		      time_t date, const char *nonce, const void *body, size_t body_len, char out[65]);

/* Append X-Ecs-Date, X-Ecs-Nonce and Authorization for a request to host to headers. */
int ecs_hostauth_add_headers(const char *key, const char *host, const char *method, const char *path,
			     const struct ecs_kvlist *query, const void *body, size_t body_len,
			     struct ecs_kvlist *headers);

/* Seen nonces, kept for the window, bounded in number. Thread-safe. */
struct ecs_nonce_cache;
int ecs_nonce_cache_new(size_t capacity, struct ecs_nonce_cache **ret);
void ecs_nonce_cache_free(struct ecs_nonce_cache *c);

/* Verify a received request. 0 when good; otherwise -EACCES with a reason in *ret_reason
 * (a static string: "missing signature", "stale request", "replayed request", …).
 * headers are matched case-insensitively. now is the receiver's clock; host its own name
 * (a request signed for another host does not match). */
int ecs_hostauth_verify(const char *key, const char *host, struct ecs_nonce_cache *nonces, const char *method, const char *path,
			const struct ecs_kvlist *query, const struct ecs_kvlist *headers, const void *body,
			size_t body_len, time_t now, const char **ret_reason);

#endif
