/* instance.h: ECS instances: the actions (RunInstances, CreateInstance, Start/Stop/Reboot/
 * DeleteInstance, Describe*, ModifyInstanceAttribute, DescribeUserData,
 * GetInstanceConsoleOutput, ReplaceSystemDisk, DescribeInstanceMonitorData), the jobs
 * that carry them to the agents, and the statuses the agents report.
 *
 * Statuses follow ECS: Pending → Starting → Running → Stopping → Stopped. An action sets
 * the transitional status and queues a job; the status after that comes only from what
 * the agent answers or reports (a heartbeat), never assumed. A job that cannot finish in
 * transition_timeout_s leaves the instance with an OperationLocks entry giving the reason. */
#ifndef CTL_INSTANCE_H
#define CTL_INSTANCE_H

#include <json-c/json.h>
#include <sqlite3.h>
#include <stdbool.h>

#include "ctl.h"

int ctl_instance_run(struct ctl_call *call, struct json_object *out);	 /* RunInstances */
int ctl_instance_create(struct ctl_call *call, struct json_object *out); /* CreateInstance */
int ctl_instance_start(struct ctl_call *call, struct json_object *out);
int ctl_instance_stop(struct ctl_call *call, struct json_object *out);
int ctl_instance_reboot(struct ctl_call *call, struct json_object *out);
int ctl_instance_delete(struct ctl_call *call, struct json_object *out);
int ctl_instance_describe(struct ctl_call *call, struct json_object *out);
int ctl_instance_history_events(struct ctl_call *call, struct json_object *out);
int ctl_instance_describe_status(struct ctl_call *call, struct json_object *out);
int ctl_instance_describe_attribute(struct ctl_call *call, struct json_object *out);
int ctl_instance_modify(struct ctl_call *call, struct json_object *out);
int ctl_instance_user_data(struct ctl_call *call, struct json_object *out);
int ctl_instance_console(struct ctl_call *call, struct json_object *out);
int ctl_instance_replace_system_disk(struct ctl_call *call, struct json_object *out);
int ctl_instance_monitor_data(struct ctl_call *call, struct json_object *out);

/* Place instance id on another host than those of exclude, by the scheduler's filters, in
 * db's open transaction with c->sched_lock held: the instance and its disks get the host
 * (ret_host), its security groups' views to send in nudge. < 0 (-ENOSPC: no host fits). */
int ctl_instance_place_elsewhere(struct ctl *c, sqlite3 *db, const char *id, const char *from_host,
				 const char *const *exclude, size_t n_exclude, struct json_object *nudge, char ret_host[64]);
/* The instance's records on host, in db's open transaction: the instance (its agent's word
 * counted afresh) and its disks; its security groups' views (from_host's and host's) to send
 * in nudge; its public IP follows it (eip.h). */
int ctl_instance_records_to_host(sqlite3 *db, const char *id, const char *host, const char *from_host,
				 struct json_object *nudge);
/* The instance spec: the body of the create call to the agent (docs/architecture.md), from
 * the rows of instance id in db (its NIC, key, password hash, user data, groups, disks);
 * NULL when there is no such instance. The caller puts it. */
struct json_object *ctl_instance_agent_spec(struct ctl *c, sqlite3 *db, const char *id, bool start);

/* The job handler for kind "instance" (registered by main). */
void ctl_instance_register_jobs(void);

/* A host's heartbeat reported these instances (the agent's instance objects). */
/* A heartbeat's instances; state_seq: the agent's order of what it says (agent/agent.h),
 * read before it listed them. */
void ctl_instance_sync_host(struct ctl *c, const char *host_id, struct json_object *instances, long long state_seq);

/* Status checks shared with the disk actions: the instance's status and host (for the
 * caller's account), or a *.NotFound failure on the call. */
int ctl_instance_lookup(struct ctl_call *call, const char *instance_id, char status[32], char host_id[64]);

#endif
