#include "instance.h"

#include "common.h"
#include "instance_int.h"
#include "jobs.h"
#include "json.h"
#include "log.h"
#include "store.h"
#include "util.h"

/* ---- heartbeats ---- */

void ctl_instance_sync_host(struct ctl *c, const char *host_id, struct json_object *instances, long long state_seq)
{
	_cleanup_db_ struct ctl_db_conn conn = ctl_db_take(c->store);
	_cleanup_json_ struct json_object *seen = json_object_new_object();
	sqlite3 *db = conn.db;
	sqlite3_stmt *st;

	if (!db)
		return;
	/* The agent's word for instances with no job under way, unless an action's answer came
	 * after this listing began (a stale heartbeat would undo what the action did). */
	for (size_t i = 0; instances && i < json_object_array_length(instances); i++) {
		struct json_object *inst = json_object_array_get_idx(instances, i);
		const char *id = ecs_json_str(inst, "instance_id", NULL);

		if (!id)
			continue;
		json_object_object_add(seen, id, NULL);
		st = ctl_db_prepare_args(db,
					 "SELECT 1 FROM instances WHERE instance_id = ?1 AND host_id = ?2 AND deleted = 0"
					 " AND desired != 'deleted' AND agent_seq <= ?3 AND NOT EXISTS (SELECT 1 FROM jobs WHERE"
					 " resource_id = ?1)",
					 (const char *const[]){ id, host_id }, 2);
		if (!st)
			break;
		sqlite3_bind_int64(st, 3, state_seq);
		if (sqlite3_step(st) == SQLITE_ROW) {
			sqlite3_finalize(st);
			ctl_instance_apply_agent_state(c, id, inst);
			continue;
		}
		sqlite3_finalize(st);
	}
	/* Instances this host should run but did not report (an agent that lost its state,
	 * or a create the controller's crash interrupted): send them again. Idempotent. */
	/* Not those a job gave up on (error set): they wait for the user, not a loop. */
	st = ctl_db_prepare(db, "SELECT instance_id, desired FROM instances i WHERE host_id = ?1 AND deleted = 0 AND"
				" desired != 'deleted' AND error = '' AND agent_seq <= ?2 AND NOT EXISTS (SELECT 1 FROM"
				" jobs WHERE resource_id = i.instance_id)");
	if (st) {
		bool kick = false;

		sqlite3_bind_text(st, 1, host_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, state_seq);
		while (sqlite3_step(st) == SQLITE_ROW) {
			struct json_object *args;

			if (json_object_object_get_ex(seen, ctl_col(st, 0), NULL))
				continue;
			args = json_object_new_object();
			ecs_jb_bool(args, "start", streq(ctl_col(st, 1), "running"));
			if (ctl_jobs_add(db, "instance", ctl_col(st, 0), "create", args) == 0) {
				log_warn("instance missing on its host: sending it again", "instance=%s host=%s", ctl_col(st, 0),
					 host_id);
				kick = true;
			}
			json_object_put(args);
		}
		sqlite3_finalize(st);
		if (kick)
			ctl_jobs_kick(c);
	}
}
