/* sgsync.h: what the agents learn of security groups (docs/security-groups.md, "Agents").
 *
 * The security generation is one counter in the database, bumped (ctl_sgsync_bump) in the
 * transaction of every change an agent must enforce. GET /agent/v1/security-groups answers a
 * host's view with the generation it was read at (ctl_sgsync_view); the heartbeat's answer
 * carries the current one. After a change commits, the hosts whose view it altered
 * (ctl_sgsync_affected_hosts, found inside the transaction) are nudged with POST
 * /v1/security/sync by background threads (ctl_sgsync_nudge): a nudge never delays or fails
 * the API call, and a lost one is caught up by the next heartbeat.
 *
 * Host sets are JSON objects used as sets (keys only). */
#ifndef CTL_SGSYNC_H
#define CTL_SGSYNC_H

#include <json-c/json.h>
#include <sqlite3.h>

#include "ctl.h"
#include "http_server.h"

/* Bump the generation (inside the caller's transaction). */
int ctl_sgsync_bump(sqlite3 *db);
/* The current generation, or -1 when it cannot be read. */
long long ctl_sgsync_generation(sqlite3 *db);

/* Add to `hosts` the hosts whose view a change of group_id (its rules or its members)
 * alters: those with an instance in it, and those with an instance in a group whose rules
 * name it. Call it where the change is seen: after a join, before a leave. */
int ctl_sgsync_affected_hosts(sqlite3 *db, const char *group_id, struct json_object *hosts);
void ctl_sgsync_set_add(struct json_object *hosts, const char *host_id);

/* GET /agent/v1/security-groups for host_id (docs/agent-api.md, "Security groups"). */
void ctl_sgsync_view(struct ctl *c, const char *host_id, struct ecs_http_response *resp);

/* Queue a nudge for every host in `hosts` (after the change committed). Before
 * ctl_sgsync_start, or after ctl_sgsync_stop, nothing is queued. */
void ctl_sgsync_nudge(struct ctl *c, struct json_object *hosts);
/* The nudging threads. */
int ctl_sgsync_start(struct ctl *c);
void ctl_sgsync_stop(struct ctl *c);

#endif
