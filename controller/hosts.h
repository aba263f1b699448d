/* hosts.h: the agents, as the controller knows them: each heartbeat (POST
 * /agent/v1/heartbeat, signed with the host key) records the host's facts and reports its
 * instances' actual states, which become the instances' statuses; a host without a
 * heartbeat for host_dead_after_s is down. GET /agent/v1/instances/ID answers whether an
 * instance the host runs is still wanted there; GET /agent/v1/security-groups answers the
 * host's security view (sgsync.h), and the heartbeat's answer carries the security
 * generation. ctl_agent_call makes signed calls to an agent's API. */
#ifndef CTL_HOSTS_H
#define CTL_HOSTS_H

#include <json-c/json.h>
#include <stdbool.h>

#include "ctl.h"
#include "http_server.h"

void ctl_hosts_handle(const struct ecs_http_request *req, struct ecs_http_response *resp);

/* A signed call to host_id's agent. 0 with *ret_status (and *ret_body, may be NULL) when it
 * answered; -EHOSTDOWN when the host is unknown or down; -ECONNREFUSED/-ETIMEDOUT/-EIO. */
int ctl_agent_call(struct ctl *c, const char *host_id, const char *method, const char *path, struct json_object *body,
		   long *ret_status, struct json_object **ret_body);

/* The same with the short timeouts of c->nudges (a call nobody waits for: a nudge). */
int ctl_agent_call_short(struct ctl *c, const char *host_id, const char *method, const char *path,
			 struct json_object *body, long *ret_status, struct json_object **ret_body);

bool ctl_host_alive(struct ctl *c, const char *host_id);

#endif
