/* slbsync.h: carrying load balancers and public IPs to the agents (docs/slb.md, "What the
 * controller sends"; the agent's side in docs/agent-api.md, "Load balancers and public IPs").
 *
 * Each change queues a job (jobs.h) in the change's own transaction:
 *   kind "lb", resource the LB id, op "put": PUT /v1/load-balancers/ID with the whole
 *     document as the database holds it when the job runs (so a burst of changes ends with
 *     the last); "delete": DELETE, then the LB's rows and its address are freed; "purge"
 *     (args {host_id}): DELETE on that host only, a copy the controller does not want there.
 *   kind "eip", resource the public address, the same three ops on /v1/public-ips/ADDR
 *     ({"private_ip"} from the instance).
 * A job is retried while the host is down, unreachable or answers 5xx (backoff up to 30 s,
 * through controller restarts: jobs live in the database); a 409 is retried for
 * transition_timeout_s (an address the agent is still freeing); any other refusal (4xx) gives
 * up, logged and kept on the row's `error` (such a row is not re-sent by the re-sync).
 *
 * Re-sync: the heartbeat of a host that holds load balancers or public IPs queues, at most
 * every [slb] sync_interval_s, a job (kind "lbsync", resource "sync:<host>") that lists what
 * the agent holds and queues a put for each thing it lacks and a purge for each it holds
 * that the controller does not want there (as instances are sent again, instance.h). */
#ifndef CTL_SLBSYNC_H
#define CTL_SLBSYNC_H

#include <json-c/json.h>
#include <sqlite3.h>

#include "ctl.h"

/* Queue a job (kind "lb" or "eip", op "put" or "delete") in the caller's transaction; a
 * put also clears the row's error. The caller wakes the workers after its commit. */
int ctl_slbsync_queue(sqlite3 *db, const char *kind, const char *resource_id, const char *op);

/* In the caller's transaction: instance_id is gone; it leaves every LB (each gets a put) and
 * its public IP is released. */
int ctl_slbsync_instance_forget(sqlite3 *db, const char *instance_id);

/* A heartbeat came from host_id, saying which LBs and public IPs its agent holds
 * (held_lbs, held_eips: arrays of ids, from the facts): what it lacks is put, what it holds
 * and should not is purged, at once. A heartbeat without them (NULL) queues the re-sync job
 * that asks the agent, at most every sync_interval_s. */
void ctl_slbsync_heartbeat(struct ctl *c, const char *host_id, struct json_object *held_lbs,
			   struct json_object *held_eips);

/* Failover: each LB (not deleted) whose host has been down for host_dead_after_s moves to
 * the alive host of its zone with the fewest (ctl_schedule_lb), its public VIP's row with it,
 * and a put is queued there. A host back from the dead is re-synced at its first heartbeat,
 * which removes what moved away. Runs at most once a second; called from heartbeats. */
void ctl_slbsync_failover(struct ctl *c);

/* The agent's copy of an LB with its health (GET /v1/load-balancers/ID, the short timeouts):
 * 0 and *ret, or a negative errno (host down, unreachable, not there: -ENOENT). */
int ctl_slbsync_agent_lb(struct ctl *c, const char *host_id, const char *lb_id, struct json_object **ret);

/* The job handlers for kinds "lb", "eip" and "lbsync" (registered by main). */
void ctl_slbsync_register_jobs(void);

#endif
