/* vnc.h: the console into a guest (docs/console.md, "The VNC console").
 *
 * DescribeInstanceVncUrl (ECS: InstanceId; answers VncUrl) checks that the caller owns the
 * instance and that it is Running, and gives a one-time token: 32 random bytes (hex), good
 * for CTL_VNC_TOKEN_TTL_S seconds and for one connection, bound to the account, the
 * instance and its host. The tokens live in the controller's memory (at most
 * CTL_VNC_MAX_TOKENS unused ones; past it Throttling).
 *
 *   GET /console/vnc?token=T   (WebSocket: Upgrade: websocket, version 13)
 *
 * takes the token (any use ends it, good or not), refuses a cross-site Origin and a console
 * session of another account than the token's, opens the agent's signed
 * GET /v1/instances/<id>/vnc (agent/vnc.h) and then carries the RFB bytes between WebSocket
 * binary frames and the agent's connection. Nothing else reaches QEMU's VNC server: it has
 * no TCP port. A session idle CTL_VNC_IDLE_S seconds is closed. */
#ifndef CTL_VNC_H
#define CTL_VNC_H

#include "ctl.h"
#include "http_server.h"

#define CTL_VNC_TOKEN_LEN 64
#define CTL_VNC_TOKEN_TTL_S 30
#define CTL_VNC_MAX_TOKENS 256
#define CTL_VNC_IDLE_S 300
#define CTL_VNC_MAX_FRAME (256 * 1024) /* a larger frame from the browser closes the session */

struct ctl_vnc_tokens;

/* What a token grants. */
struct ctl_vnc_grant {
	char account_id[64];
	char instance_id[32];
	char host_id[64];
};

int ctl_vnc_tokens_new(struct ctl_vnc_tokens **ret);
/* The console's tokens (console.c keeps them with its sessions). */
struct ctl_vnc_tokens *ctl_console_vnc(struct ctl_console *s);
void ctl_vnc_tokens_free(struct ctl_vnc_tokens *t);

/* A new token for g at now_ms. -ENOSPC when CTL_VNC_MAX_TOKENS unexpired ones are unused. */
int ctl_vnc_token_issue(struct ctl_vnc_tokens *t, const struct ctl_vnc_grant *g, long long now_ms,
			char token[CTL_VNC_TOKEN_LEN + 1]);
/* Take the token (it is gone afterwards): 0 with its grant; -ENOENT unknown or used;
 * -ETIMEDOUT expired. */
int ctl_vnc_token_take(struct ctl_vnc_tokens *t, const char *token, long long now_ms, struct ctl_vnc_grant *g);

/* The action DescribeInstanceVncUrl (actions.c). */
int ctl_vnc_describe_url(struct ctl_call *call, struct json_object *out);

/* GET /console/vnc. session_account: the account id of the request's console session, or
 * NULL when it has none. */
void ctl_vnc_handle(struct ctl *c, const struct ecs_http_request *req, struct ecs_http_response *resp,
		    const char *session_account);

/* The WebSocket handshake's Sec-WebSocket-Accept for key (RFC 6455). */
int ctl_vnc_ws_accept(const char *key, char out[29]);

#endif
