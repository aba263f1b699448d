/* controller_link.h: the agent's heartbeat to the controller, signed with the host key.
 *
 *   POST {controller}/agent/v1/heartbeat     host facts and every instance's state; sent
 *                                            every heartbeat_interval_s and at once after a
 *                                            lifecycle event
 *
 * The calls themselves, the nudge and the "wanted?" question are controller_call.h, below
 * this file. Standalone (no controller_url): no heartbeat. */
#ifndef AGENT_CONTROLLER_LINK_H
#define AGENT_CONTROLLER_LINK_H

#include <json-c/json.h>
#include <stdbool.h>

struct agent;

int agent_controller_start(struct agent *a);
void agent_controller_stop(struct agent *a);
/* Host facts (shared with the API's GET /v1/host). */
struct json_object *agent_host_facts(struct agent *a);

#endif
