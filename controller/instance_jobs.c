#include "instance.h"

#include <errno.h>

#include "addrpool.h"
#include "agents.h"
#include "common.h"
#include "eip.h"
#include "instance_int.h"
#include "jobs.h"
#include "json.h"
#include "log.h"
#include "scheduler.h"
#include "secgroup.h"
#include "sgsync.h"
#include "slbsync.h"
#include "store.h"
#include "util.h"

/* Run sql with ?1 bound to id. */
static int run_for(sqlite3 *db, const char *sql, const char *id)
{
	return ctl_db_run(db, sql, &id, 1);
}

/* ---- jobs: carrying the actions to the agents ---- */

struct json_object *ctl_instance_agent_spec(struct ctl *c, sqlite3 *db, const char *id, bool start)
{
	sqlite3_stmt *st = ctl_db_prepare(
		db, "SELECT i.hostname, i.vcpus, i.memory_mib, i.image_id, i.private_ip, i.mac, i.key_pair_name,"
		    " i.password_hash, i.user_data, k.public_key, i.account_id, h.gateway FROM instances i LEFT JOIN"
		    " key_pairs k ON k.account_id = i.account_id AND k.name = i.key_pair_name LEFT JOIN hosts h ON"
		    " h.host_id = i.host_id WHERE i.instance_id = ?1");
	struct json_object *spec = NULL, *nics, *nic, *data, *dns;
	struct ctl_pool p;
	char gw[CTL_IP_MAX];

	if (!st)
		return NULL;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW || ctl_pool_parse(c->cfg.ip_pool, 8, 30, &p) < 0) {
		sqlite3_finalize(st);
		return NULL;
	}
	spec = json_object_new_object();
	ecs_jb_str(spec, "instance_id", id);
	ecs_jb_str(spec, "hostname", ctl_col(st, 0));
	ecs_jb_int(spec, "vcpus", sqlite3_column_int(st, 1));
	ecs_jb_int(spec, "memory_mib", sqlite3_column_int(st, 2));
	ecs_jb_str(spec, "image_id", ctl_col(st, 3));
	nics = json_object_new_array();
	nic = json_object_new_object();
	/* The gateway is the bridge of the instance's host (hosts joined by the overlay each
	 * have their own); network+1 for a host that reported none. */
	if (ctl_pool_is_gateway(&p, c->cfg.host_gateways, ctl_col(st, 11)))
		snprintf(gw, sizeof(gw), "%s", ctl_col(st, 11));
	else
		ctl_pool_ip_str(p.net + 1, gw);
	ecs_jb_str(nic, "mac", ctl_col(st, 5));
	ecs_jb_str(nic, "ip", ctl_col(st, 4));
	ecs_jb_int(nic, "prefix_len", p.prefix);
	ecs_jb_str(nic, "gateway", gw);
	dns = json_object_new_array();
	json_object_array_add(dns, json_object_new_string(gw));
	json_object_object_add(nic, "dns", dns);
	json_object_array_add(nics, nic);
	json_object_object_add(spec, "nics", nics);
	if (*ctl_col(st, 6))
		ecs_jb_str(spec, "key_pair_name", ctl_col(st, 6));
	if (*ctl_col(st, 9)) {
		struct json_object *keys = json_object_new_array();

		json_object_array_add(keys, json_object_new_string(ctl_col(st, 9)));
		json_object_object_add(spec, "public_keys", keys);
	}
	if (*ctl_col(st, 7))
		ecs_jb_str(spec, "password_hash", ctl_col(st, 7));
	if (*ctl_col(st, 8))
		ecs_jb_str(spec, "user_data", ctl_col(st, 8));
	ecs_jb_bool(spec, "start", start);
	sqlite3_finalize(st);

	/* Its groups: the agent pulls their rules before the NIC exists if it lacks them. */
	st = ctl_db_prepare(db, "SELECT group_id FROM instance_security_groups WHERE instance_id = ?1 ORDER BY position");
	if (st) {
		struct json_object *groups = json_object_new_array();

		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW)
			json_object_array_add(groups, json_object_new_string(ctl_col(st, 0)));
		sqlite3_finalize(st);
		if (json_object_array_length(groups))
			json_object_object_add(spec, "security_group_ids", groups);
		else
			json_object_put(groups);
	}

	st = ctl_db_prepare(db, "SELECT disk_id, size_gib, type, source_snapshot_id FROM disks WHERE instance_id = ?1"
				" AND deleted = 0 ORDER BY device");
	if (st)
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	data = json_object_new_array();
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		struct json_object *d = json_object_new_object();

		ecs_jb_str(d, "disk_id", ctl_col(st, 0));
		ecs_jb_int(d, "size_gib", sqlite3_column_int64(st, 1));
		if (streq(ctl_col(st, 2), "system")) {
			json_object_object_add(spec, "system_disk", d);
			continue;
		}
		if (*ctl_col(st, 3))
			ecs_jb_str(d, "snapshot_id", ctl_col(st, 3));
		json_object_array_add(data, d);
	}
	sqlite3_finalize(st);
	if (json_object_array_length(data))
		json_object_object_add(spec, "data_disks", data);
	else
		json_object_put(data);
	return spec;
}

/* Record what the agent says the instance is now. */
void ctl_instance_apply_agent_state(struct ctl *c, const char *id, struct json_object *desc)
{
	const char *status = ecs_json_str(desc, "status", NULL);
	sqlite3 *db;
	sqlite3_stmt *st;

	if (!status)
		return;
	db = ctl_db_get(c->store);
	st = db ? ctl_db_prepare(db, "UPDATE instances SET status = ?2, error = '', transition_at = ?3,"
				     " started_at = CASE WHEN ?2 = 'Running' AND status != 'Running' THEN ?3 ELSE started_at END,"
				     " desired = CASE WHEN ?2 = 'Stopped' AND desired = 'running' AND status = 'Running'"
				     " THEN 'stopped' ELSE desired END WHERE instance_id = ?1 AND deleted = 0 AND"
				     " (status != ?2 OR error != '')")
		: NULL;
	if (st) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, time(NULL));
		ctl_db_step_done(st);
	}
	sqlite3_finalize(st);
	/* Disks the agent has made are usable. */
	st = db ? ctl_db_prepare(db, "UPDATE disks SET status = 'In_use' WHERE instance_id = ?1 AND status = 'Creating'")
		: NULL;
	if (st) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		ctl_db_step_done(st);
	}
	sqlite3_finalize(st);
	ctl_db_put(c->store, db);
}

/* The agent's state_seq of an answer about the instance (agent/agent.h). */
static void note_agent_seq(struct ctl *c, const char *id, struct json_object *ans)
{
	long long seq = ecs_json_int(ans, "state_seq", 0);
	sqlite3 *db;
	sqlite3_stmt *st;

	if (seq <= 0)
		return;
	db = ctl_db_get(c->store);
	st = db ? ctl_db_prepare(db, "UPDATE instances SET agent_seq = ?2 WHERE instance_id = ?1 AND agent_seq < ?2") : NULL;
	if (st) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, seq);
		ctl_db_step_done(st);
	}
	sqlite3_finalize(st);
	ctl_db_put(c->store, db);
}

static void set_error(struct ctl *c, const char *id, const char *why)
{
	sqlite3 *db = ctl_db_get(c->store);
	sqlite3_stmt *st = db ? ctl_db_prepare(db, "UPDATE instances SET error = ?2 WHERE instance_id = ?1") : NULL;

	if (st) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, why, -1, SQLITE_STATIC);
		ctl_db_step_done(st);
	}
	sqlite3_finalize(st);
	ctl_db_put(c->store, db);
}

int ctl_instance_place_elsewhere(struct ctl *c, sqlite3 *db, const char *id, const char *from_host,
				 const char *const *exclude, size_t n_exclude, struct json_object *nudge, char ret_host[64])
{
	sqlite3_stmt *st = ctl_db_prepare_args(db,
					       "SELECT vcpus, memory_mib, image_id, zone_id, (SELECT sum(size_gib) FROM disks WHERE"
					       " instance_id = ?1), (SELECT account_id IS NULL FROM images WHERE image_id ="
					       " instances.image_id) FROM instances WHERE instance_id = ?1",
					       &id, 1);
	_cleanup_free_ char *image = NULL, *zone = NULL;
	struct ctl_sched_request rq;
	int r;

	if (!st)
		return -EIO;
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return -ENOENT;
	}
	image = strdup(ctl_col(st, 2));
	zone = strdup(ctl_col(st, 3));
	rq = (struct ctl_sched_request){ .zone_id = zone, .vcpus = sqlite3_column_int(st, 0),
					 .memory_mib = sqlite3_column_int(st, 1), .disk_gib = sqlite3_column_int(st, 4),
					 .image_id = image, .system_image = sqlite3_column_int(st, 5),
					 .exclude = exclude, .n_exclude = n_exclude, .instance_id = id };
	sqlite3_finalize(st);
	if (!image || !zone)
		return -ENOMEM;
	/* The instance's own booking does not count against the new host. */
	r = run_for(db, "UPDATE instances SET host_id = NULL WHERE instance_id = ?1", id);
	if (r == 0)
		r = ctl_schedule(c, db, &rq, ret_host);
	if (r == 0)
		r = ctl_instance_records_to_host(db, id, ret_host, from_host, nudge);
	return r;
}

int ctl_instance_records_to_host(sqlite3 *db, const char *id, const char *host, const char *from_host,
				 struct json_object *nudge)
{
	const char *host_args[2] = { id, host };
	/* agent_seq orders the answers of one agent: the new host's start afresh. */
	int r = ctl_db_run(db, "UPDATE instances SET host_id = ?2, agent_seq = 0 WHERE instance_id = ?1", host_args, 2);

	if (r == 0)
		r = ctl_db_run(db, "UPDATE disks SET host_id = ?2 WHERE instance_id = ?1", host_args, 2);
	if (r == 0)
		r = ctl_sg_instance_moved(db, id, from_host, nudge);
	if (r == 0)
		r = ctl_eip_follow(db, id, host);
	return r;
}

/* Move a failed create to another host, up to [scheduler] attempts. */
static bool reschedule(struct ctl *c, struct ctl_job *job, const char *failed_host)
{
	struct json_object *tried = ecs_json_get(job->args, "tried");
	const char *exclude[16];
	size_t n = 0;
	char host[64];
	sqlite3 *db;
	struct json_object *nudge = NULL;
	bool moved = false;

	if (!tried) {
		tried = json_object_new_array();
		json_object_object_add(job->args, "tried", tried);
	}
	json_object_array_add(tried, json_object_new_string(failed_host));
	if ((int)json_object_array_length(tried) >= c->cfg.schedule_attempts)
		return false;
	for (size_t i = 0; i < json_object_array_length(tried) && n < ARRAY_SIZE(exclude); i++)
		exclude[n++] = json_object_get_string(json_object_array_get_idx(tried, i));
	nudge = json_object_new_object();
	db = ctl_db_get(c->store);
	pthread_mutex_lock(&c->sched_lock);
	if (!db || ctl_db_tx_begin(db) < 0)
		goto out;
	moved = ctl_instance_place_elsewhere(c, db, job->resource_id, failed_host, exclude, n, nudge, host) == 0;
	/* The first host still holds what it made of it: it learns that the instance is
	 * another host's now (POST /agent/v1/instances/moved) and removes it. */
	if (moved && ctl_db_tx_commit(db) == 0) {
		log_warn("instance moved to another host", "instance=%s from=%s to=%s", job->resource_id, failed_host, host);
		ctl_sgsync_nudge(c, nudge);
	} else {
		moved = false;
	}
out:
	ctl_db_put(c->store, db);
	pthread_mutex_unlock(&c->sched_lock);
	json_object_put(nudge);
	return moved;
}

/* The instance is gone from its host: free what it held. */
static int forget_instance(struct ctl *c, const char *id)
{
	sqlite3 *db = ctl_db_get(c->store);
	struct json_object *nudge;
	int r;

	if (!db || ctl_db_tx_begin(db) < 0) {
		ctl_db_put(c->store, db);
		return -EIO;
	}
	/* Its groups lose a member: while it still counts, to find whose view changes. */
	nudge = json_object_new_object();
	r = ctl_sg_instance_forget(db, id, nudge);
	if (r == 0)
		r = run_for(db, "UPDATE instances SET deleted = 1, status = 'Stopped' WHERE instance_id = ?1", id);
	/* It leaves its load balancers; its public IP is released. */
	if (r == 0)
		r = ctl_slbsync_instance_forget(db, id);
	if (r == 0)
		r = run_for(db, "DELETE FROM ip_leases WHERE instance_id = ?1", id);
	if (r == 0)
		r = run_for(db, "UPDATE disks SET deleted = 1, status = 'Deleted' WHERE instance_id = ?1 AND"
				   " (delete_with_instance = 1 OR type = 'system')",
			       id);
	/* Kept disks stay where their file is, detached. */
	if (r == 0)
		r = run_for(db, "UPDATE disks SET instance_id = NULL, device = '', status = 'Available' WHERE"
				   " instance_id = ?1 AND deleted = 0",
			       id);
	if (r == 0)
		r = ctl_db_tx_commit(db);
	ctl_db_put(c->store, db);
	if (r == 0) {
		log_info("instance deleted", "instance=%s", id);
		ctl_jobs_kick(c);
		ctl_sgsync_nudge(c, nudge);
	}
	json_object_put(nudge);
	return r;
}

static enum ctl_job_result instance_job(struct ctl *c, struct ctl_job *job, char *why, size_t why_size)
{
	const char *id = job->resource_id;
	_cleanup_free_ char *path = NULL;
	_cleanup_json_ struct json_object *body = NULL, *ans = NULL;
	const char *method = "POST";
	char host[64] = "";
	long status = 0;
	bool stale;
	long long transition_at = 0;
	sqlite3 *db = ctl_db_get(c->store);
	sqlite3_stmt *st =
		ctl_db_prepare_args(db, "SELECT host_id, transition_at, deleted FROM instances WHERE instance_id = ?1", &id, 1);
	enum ctl_job_result res = CTL_JOB_RETRY;
	int r;

	if (st && sqlite3_step(st) == SQLITE_ROW) {
		snprintf(host, sizeof(host), "%s", ctl_col(st, 0));
		transition_at = sqlite3_column_int64(st, 1);
		if (sqlite3_column_int(st, 2))
			host[0] = '\0';
	}
	sqlite3_finalize(st);
	if (!host[0]) {
		ctl_db_put(c->store, db);
		snprintf(why, why_size, "instance %s is gone", id);
		return CTL_JOB_DONE;
	}
	if (streq(job->op, "create")) {
		method = "PUT";
		path = ecs_strdup_printf("/v1/instances/%s", id);
		body = ctl_instance_agent_spec(c, db, id, ecs_json_bool(job->args, "start"));
	} else if (streq(job->op, "start")) {
		path = ecs_strdup_printf("/v1/instances/%s/start", id);
	} else if (streq(job->op, "stop") || streq(job->op, "reboot")) {
		path = ecs_strdup_printf("/v1/instances/%s/%s", id, job->op);
		body = json_object_new_object();
		ecs_jb_bool(body, "force", ecs_json_bool(job->args, "force"));
	} else if (streq(job->op, "delete")) {
		method = "DELETE";
		path = ecs_strdup_printf("/v1/instances/%s", id);
	} else if (streq(job->op, "modify")) {
		method = "PATCH";
		path = ecs_strdup_printf("/v1/instances/%s", id);
		body = json_object_get(job->args);
	} else if (streq(job->op, "reinit")) {
		path = ecs_strdup_printf("/v1/instances/%s/reinit", id);
		body = json_object_new_object();
		ecs_jb_str(body, "image_id", ecs_json_str(job->args, "image_id", ""));
	}
	ctl_db_put(c->store, db);
	if (!path || (streq(job->op, "create") && !body)) {
		snprintf(why, why_size, "cannot build the request for %s", job->op);
		res = CTL_JOB_FAILED;
		goto out;
	}
	r = ctl_agent_call_alive(c, host, method, path, body, &status, &ans);
	if (r == 0 && status == 200) {
		if (streq(job->op, "delete")) {
			res = forget_instance(c, id) == 0 ? CTL_JOB_DONE : CTL_JOB_RETRY;
		} else {
			/* First the answer's place in the agent's order, so a heartbeat older than
			 * it, handled meanwhile, cannot undo the status set next. */
			note_agent_seq(c, id, ans);
			/* The status is the agent's answer, not an assumption. */
			if (!streq(job->op, "modify") && !streq(job->op, "reinit"))
				ctl_instance_apply_agent_state(c, id, ans);
			res = CTL_JOB_DONE;
		}
		goto out;
	}
	if (r == 0 && status == 409 && streq(job->op, "create")) {
		/* Known to the agent with another spec (changed since): it exists; refresh. */
		res = CTL_JOB_DONE;
		goto out;
	}
	if (r == 0 && status == 404 && streq(job->op, "delete")) {
		res = forget_instance(c, id) == 0 ? CTL_JOB_DONE : CTL_JOB_RETRY;
		goto out;
	}
	snprintf(why, why_size, "%s on %s: %s", job->op, host,
		 ctl_agent_error(r, ans));
	/* An agent that failed to create: another host, up to the attempts allowed. */
	if (streq(job->op, "create") && (r < 0 || status >= 500) && reschedule(c, job, host)) {
		res = CTL_JOB_RETRY;
		goto out;
	}
	stale = time(NULL) - transition_at > c->cfg.transition_timeout_s;
	if ((r == 0 && status >= 400 && status < 500 && status != 409) || stale) {
		/* Given up: visible on the instance (OperationLocks) with the reason. */
		set_error(c, id, why);
		res = CTL_JOB_FAILED;
	}
out:
	return res;
}

void ctl_instance_register_jobs(void)
{
	ctl_jobs_register("instance", instance_job);
}
