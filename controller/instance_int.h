/* instance_int.h: what the instance files share among themselves, and nobody else uses.
 * instance.c holds the actions that change instances (create, lifecycle, modify, replace
 * system disk); instance_describe.c reads them (Describe*, user data, console, monitor);
 * instance_jobs.c carries the actions to the agents; instance_heartbeat.c takes in what a
 * host's heartbeat reports. */
#ifndef CTL_INSTANCE_INT_H
#define CTL_INSTANCE_INT_H

#include <json-c/json.h>

#include "ctl.h"

/* Record what the agent says the instance is now (its instance object). */
void ctl_instance_apply_agent_state(struct ctl *c, const char *id, struct json_object *desc);

#endif
