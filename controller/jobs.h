/* jobs.h: work the controller owes the agents, kept in the database so it survives a
 * restart. An action records a job (in the same transaction as the state it changes) and
 * answers at once, as ECS does; worker threads carry jobs out, retrying with backoff until
 * the job's handler says it is done or failed for good. Every handler must be idempotent:
 * after a crash a job runs again from its start.
 *
 * One job at a time per resource: a job waits while an older one for the same resource is
 * still there. */
#ifndef CTL_JOBS_H
#define CTL_JOBS_H

#include <json-c/json.h>
#include <sqlite3.h>
#include <stdbool.h>

#include "ctl.h"

enum ctl_job_result {
	CTL_JOB_DONE,	/* remove the job */
	CTL_JOB_RETRY,	/* try again later (the agent was unreachable, …) */
	CTL_JOB_FAILED, /* give up: the handler recorded why on the resource */
};

struct ctl_job {
	long long job_id;
	const char *kind, *resource_id, *op;
	struct json_object *args; /* a handler may change them: kept for the retry */
	int attempts;
	long long created_at;
};

typedef enum ctl_job_result (*ctl_job_fn)(struct ctl *c, struct ctl_job *job, char *why, size_t why_size);

/* Handlers by kind ("instance", "disk", "snapshot", "image", "lb", "eip", "lbsync");
 * registered before start. */
void ctl_jobs_register(const char *kind, ctl_job_fn fn);

/* Whether a job whose agent call did not succeed (r, status as ctl_agent_call gives them)
 * fails for good: the agent refused it (4xx), or the job is older than
 * transition_timeout_s. */
bool ctl_job_given_up(struct ctl *c, const struct ctl_job *job, int r, long status);

/* Add a job using db (inside the caller's transaction, if any). args may be NULL. */
int ctl_jobs_add(sqlite3 *db, const char *kind, const char *resource_id, const char *op, struct json_object *args);
/* Wake the workers (after the caller's transaction committed). */
void ctl_jobs_kick(struct ctl *c);

int ctl_jobs_start(struct ctl *c, int workers);
void ctl_jobs_stop(struct ctl *c);
/* Jobs still queued (tests, make up's status). */
int ctl_jobs_pending(struct ctl *c);

#endif
