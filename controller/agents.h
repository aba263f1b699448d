/* agents.h: the agents as the controller calls them: a signed call to a host's agent API
 * (the host key; the URL is the one its heartbeat gave) and whether a host is alive (a
 * heartbeat within host_dead_after_s). Low level: it knows hosts only as rows, so every
 * module that talks to agents sits above it, and hosts.c (the heartbeat) above them. */
#ifndef CTL_AGENTS_H
#define CTL_AGENTS_H

#include <json-c/json.h>
#include <stdbool.h>

#include "ctl.h"

/* A signed call to host_id's agent. 0 with *ret_status (and *ret_body, may be NULL) when it
 * answered; -EHOSTDOWN when the host is unknown or down; -ECONNREFUSED/-ETIMEDOUT/-EIO. */
int ctl_agent_call(struct ctl *c, const char *host_id, const char *method, const char *path, struct json_object *body,
		   long *ret_status, struct json_object **ret_body);

/* The same with the short timeouts of c->nudges (a call nobody waits for: a nudge). */
int ctl_agent_call_short(struct ctl *c, const char *host_id, const char *method, const char *path,
			 struct json_object *body, long *ret_status, struct json_object **ret_body);

bool ctl_host_alive(struct ctl *c, const char *host_id);

/* ctl_agent_call when host_id is alive, else -EHOSTDOWN without trying (a job's call). */
int ctl_agent_call_alive(struct ctl *c, const char *host_id, const char *method, const char *path,
			 struct json_object *body, long *ret_status, struct json_object **ret_body);

/* Why an agent call did not succeed, for a job's `why`: the errno r (< 0), else the
 * message of the agent's answer ans. */
const char *ctl_agent_error(int r, struct json_object *ans);

#endif
