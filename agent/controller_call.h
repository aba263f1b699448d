/* controller_call.h: the agent's calls to the controller, signed with the host key (the
 * low half of the link; controller_link.c sends the heartbeat over it, and the files that
 * only ask or nudge the controller include this one alone).
 *
 *   GET  {controller}/agent/v1/instances/ID  is an instance this host runs but does not
 *                                            know wanted? 200 {"wanted": bool}; 404: no
 *   GET  {controller}/agent/v1/security-groups the host's security view (secgroup.h)
 *   POST {controller}/agent/v1/instances/moved {"instance_ids": [...]}: which of them run
 *                                            on another host now? 200 {"moved": [...]}
 *
 * Standalone (no controller_url): no call is made and no unknown domain is ever removed. */
#ifndef AGENT_CONTROLLER_CALL_H
#define AGENT_CONTROLLER_CALL_H

#include <json-c/json.h>
#include <stdbool.h>

struct agent;

/* Send a heartbeat soon (after a state change). */
void agent_controller_notify(struct agent *a);

enum agent_wanted {
	AGENT_WANTED_YES,
	AGENT_WANTED_NO,
	AGENT_WANTED_UNKNOWN, /* standalone, or the controller did not answer */
};
enum agent_wanted agent_controller_wanted(struct agent *a, const char *instance_id);
/* Which of ids (an object keyed by instance id) the controller has placed on another host:
 * *ret an array of ids (the caller's). -ENOTCONN standalone; < 0 no answer. */
int agent_controller_moved(struct agent *a, struct json_object *ids, struct json_object **ret);

/* A signed call to the controller; *ret_status its HTTP status, *ret_body (optional) the
 * parsed body (NULL when there is none or it is not JSON). */
int agent_controller_call(struct agent *a, const char *method, const char *path, struct json_object *body,
			  long *ret_status, struct json_object **ret_body);

/* The heartbeat thread's wait: seconds, or until agent_controller_notify or a->stopping. */
void agent_controller_wait(struct agent *a, int seconds);

#endif
