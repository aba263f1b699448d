/* console.h: the web console (console/, docs/console.md), served by the controller under
 * /console/ on the API's own port.
 *
 *   GET  /console/, /console/<file>   the console's files (built in: console_assets.h)
 *   GET  /console/session             who is signed in, and the session's CSRF token
 *   POST /console/session/signin      AccessKeyId + AccessKeySecret (form): a session
 *   POST /console/session/signout
 *   POST /console/api/<Action>        any API action, its parameters as a form
 *   GET  /console/vnc?token=T         the VNC console's WebSocket (vnc.h)
 *
 * A session lives in the controller's memory only: a random id in a cookie (HttpOnly,
 * SameSite=Strict, Path=/console/), a random CSRF token, the AccessKeyId it signed in
 * with (the account is looked up again on every call, so a deleted account's sessions end),
 * and the time of its last use (idle longer than [controller] console_idle_timeout_s: gone).
 * The secret is checked once and kept nowhere.
 *
 * Every POST must come from the console's own origin (an Origin header naming another
 * host, or Sec-Fetch-Site other than same-origin, is refused with Forbidden.CrossSite) and,
 * but for sign-in, carry the session's token in X-Ecs-Csrf-Token (InvalidCsrfToken). An
 * action then takes the API's own path (rpc.h: ctl_rpc_dispatch) as the session's account:
 * the same handlers, checks and errors as a signed request. */
#ifndef CTL_CONSOLE_H
#define CTL_CONSOLE_H

#include <stddef.h>

#include "ctl.h"
#include "http_server.h"

#define CTL_CONSOLE_COOKIE "ecs_console"
#define CTL_CONSOLE_CSRF_HEADER "X-Ecs-Csrf-Token"
#define CTL_CONSOLE_ID_LEN 64 /* hex characters of an id or a token (32 random bytes) */

int ctl_console_new(int idle_timeout_s, size_t max_sessions, struct ctl_console **ret);
void ctl_console_free(struct ctl_console *s);
/* Sessions not idle (0 for NULL). */
size_t ctl_console_sessions(struct ctl_console *s);

/* A new session for access_key_id: its id and CSRF token. -ENOSPC when max_sessions are
 * live (the idle ones are swept first). */
int ctl_console_session_open(struct ctl_console *s, const char *access_key_id, long long now_ms,
			     char id[CTL_CONSOLE_ID_LEN + 1], char csrf[CTL_CONSOLE_ID_LEN + 1]);
/* The live session id, marked used at now_ms: its AccessKeyId and CSRF token. -ENOENT when
 * there is none or it was idle too long (it is then removed). */
int ctl_console_session_find(struct ctl_console *s, const char *id, long long now_ms, char access_key_id[64],
			     char csrf[CTL_CONSOLE_ID_LEN + 1]);
void ctl_console_session_close(struct ctl_console *s, const char *id);

/* Everything under /console (req->userdata is the struct ctl). */
void ctl_console_handle(const struct ecs_http_request *req, struct ecs_http_response *resp);

#endif
