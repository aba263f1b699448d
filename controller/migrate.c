/* migrate.c: live migration and drain (migrate.h; the agents' part: agent/migrate.h).
 *
 * One instance moves so:
 *  1. placed by the scheduler on another host (its own excluded), in one transaction with
 *     its agent_seq set to the highest value: while it moves, no heartbeat of either host
 *     changes its status or sends it again (instance_heartbeat.c reads the agent's word
 *     only for agent_seq <= the listing's state_seq); the event is Executing;
 *  2. the target agent prepares it (migrate-in: taps, rules, config drive; no domain) and
 *     answers the domain XML it would define;
 *  3. the source agent migrates it live to the target's libvirtd (migrate-out), or, for a
 *     stopped instance or a live migration that failed, shuts it down; then removes it;
 *  4. the target agent finishes (migrate-finish: a cold move starts it there);
 *  5. agent_seq is the target's answer's, the status its answer's; the event Executed.
 * A failure before the source let go puts the instance back on its host (agent_seq 0) and
 * removes what the target prepared; the event is Failed with the reason. */
#include "migrate.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agents.h"
#include "common.h"
#include "heal.h"
#include "id.h"
#include "instance.h"
#include "instance_int.h"
#include "json.h"
#include "log.h"
#include "params.h"
#include "secgroup.h"
#include "sgsync.h"
#include "store.h"
#include "util.h"

#define EVENT "SystemMaintenance.Migrate"
#define MOVING_SEQ "9223372036854775807"
#define RETRY_AFTER_FAILED_S "60"
#define MAX_BATCH "64"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static bool kicked, stopping;

static void kick(void)
{
	pthread_mutex_lock(&lock);
	kicked = true;
	pthread_cond_broadcast(&wake);
	pthread_mutex_unlock(&lock);
}

static int admin_only(struct ctl_call *call)
{
	if (ctl_config_is_admin(&call->c->cfg, call->account->name))
		return 0;
	return ctl_fail(call, 403, "Forbidden",
			"User not authorized to operate on the specified resource: %s is an administrator's action.",
			call->action);
}

/* A Scheduled event for the instance, unless one is under way. 1 made, 0 one was there. */
static int schedule(sqlite3 *db, const char *id, const char *reason, char eid[ECS_ID_MAX])
{
	const char *a[3] = { id, eid, reason };
	sqlite3_stmt *st = ctl_db_prepare_args(db,
					       "SELECT event_id FROM instance_events WHERE instance_id = ?1 AND event_type = '" EVENT
					       "' AND status IN ('Scheduled', 'Executing')",
					       a, 1);
	int r;

	if (!st)
		return -EIO;
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(eid, ECS_ID_MAX, "%s", ctl_col(st, 0));
		sqlite3_finalize(st);
		return 0;
	}
	sqlite3_finalize(st);
	ecs_id_new(ECS_ID_INSTANCE, eid);
	eid[0] = 'e';
	r = ctl_db_run(db, "INSERT INTO instance_events (event_id, instance_id, event_type, status, reason, not_before,"
			   " published_at, finished_at) VALUES (?2, ?1, '" EVENT "', 'Scheduled', ?3,"
			   " CAST(strftime('%s') AS INTEGER), CAST(strftime('%s') AS INTEGER), 0)",
		       a, 3);
	return r < 0 ? r : 1;
}

int ctl_migrate_instance(struct ctl_call *call, struct json_object *out)
{
	const char *id = NULL;
	char eid[ECS_ID_MAX] = "", status[32] = "";
	_cleanup_db_ struct ctl_db_conn conn = ctl_db_take(call->c->store);
	sqlite3_stmt *st;
	int r;

	if ((r = admin_only(call)) < 0 || (r = ctl_param_id(call, "InstanceId", CTL_REQUIRED, "i-", &id)) < 0)
		return r;
	if (!conn.db)
		return ctl_fail(call, 500, "InternalError", "cannot read instances");
	st = ctl_db_prepare_args(conn.db,
				 "SELECT status FROM instances WHERE instance_id = ?1 AND deleted = 0 AND desired != 'deleted'",
				 &id, 1);
	if (st && sqlite3_step(st) == SQLITE_ROW)
		snprintf(status, sizeof(status), "%s", ctl_col(st, 0));
	sqlite3_finalize(st);
	if (!status[0])
		return ctl_fail(call, 404, "InvalidInstanceId.NotFound", "The specified InstanceId does not exist.");
	if (!streq(status, "Running") && !streq(status, "Stopped"))
		return ctl_fail(call, 403, "IncorrectInstanceStatus",
				"The current status of the resource does not support this operation: %s.", status);
	r = schedule(conn.db, id, "migration asked by an administrator", eid);
	if (r < 0)
		return ctl_fail(call, 500, "InternalError", "cannot record the migration");
	kick();
	ecs_jb_str(out, "InstanceId", id);
	ecs_jb_str(out, "EventId", eid);
	return 0;
}

static int set_drained(struct ctl_call *call, struct json_object *out, int drained)
{
	const char *host = NULL;
	_cleanup_db_ struct ctl_db_conn conn = ctl_db_take(call->c->store);
	const char *a[2] = { NULL, drained ? "1" : "0" };
	int r;

	if ((r = admin_only(call)) < 0 || (r = ctl_param_str(call, "HostId", CTL_REQUIRED | CTL_NONEMPTY, 64, NULL, &host)) < 0)
		return r;
	if (!conn.db)
		return ctl_fail(call, 500, "InternalError", "cannot read hosts");
	a[0] = host;
	r = ctl_db_run(conn.db, "UPDATE hosts SET drained = CAST(?2 AS INTEGER) WHERE host_id = ?1", a, 2);
	if (r < 0)
		return ctl_fail(call, 500, "InternalError", "cannot record the host");
	if (sqlite3_changes(conn.db) == 0)
		return ctl_fail(call, 404, "InvalidHostId.NotFound", "The specified HostId does not exist.");
	log_warn(drained ? "host drained: its instances move off it" : "host undrained: it takes instances again",
		 "host=%s", host);
	if (drained)
		kick();
	ecs_jb_str(out, "HostId", host);
	ecs_jb_bool(out, "Drained", drained);
	return 0;
}

int ctl_hosts_drain(struct ctl_call *call, struct json_object *out)
{
	return set_drained(call, out, 1);
}

int ctl_hosts_undrain(struct ctl_call *call, struct json_object *out)
{
	return set_drained(call, out, 0);
}

/* ---- the moves ---- */

static void finish_event(struct ctl *c, const char *eid, const char *status, const char *reason)
{
	_cleanup_db_ struct ctl_db_conn conn = ctl_db_take(c->store);
	const char *a[3] = { eid, status, reason };

	if (conn.db)
		ctl_db_run(conn.db, "UPDATE instance_events SET status = ?2, reason = ?3, finished_at ="
				    " CAST(strftime('%s') AS INTEGER) WHERE event_id = ?1",
			   a, 3);
}

/* Back on its host, as if it never moved (its agent's word counts again). */
static void put_back(struct ctl *c, const char *id, const char *from, const char *to)
{
	_cleanup_json_ struct json_object *nudge = json_object_new_object();
	sqlite3 *db = ctl_db_get(c->store);
	int r = db ? ctl_db_tx_begin(db) : -EIO;

	if (r == 0)
		r = ctl_instance_records_to_host(db, id, from, to, nudge);
	if (r == 0)
		r = ctl_db_tx_commit(db);
	else if (db)
		ctl_db_tx_rollback(db);
	ctl_db_put(c->store, db);
	if (r == 0)
		ctl_sgsync_nudge(c, nudge);
	else
		log_error("migration: cannot put the instance back on its host", "instance=%s host=%s", id, from);
}

/* An agent's step; 0 with its answer, or < 0 with why filled. */
static int step(struct ctl *c, const char *host, const char *id, const char *name, struct json_object *body,
		struct json_object **ans, char *why, size_t why_size)
{
	_cleanup_free_ char *path = ecs_strdup_printf("/v1/instances/%s/migrate-%s", id, name);
	long status = 0;
	int r;

	*ans = NULL;
	r = path ? ctl_agent_call_alive(c, host, "POST", path, body, &status, ans) : -ENOMEM;
	if (r == 0 && status == 200)
		return 0;
	snprintf(why, why_size, "migrate-%s on %s: %s", name, host, ctl_agent_error(r, *ans));
	json_object_put(*ans);
	*ans = NULL;
	return r < 0 ? r : -EIO;
}

struct move {
	char id[ECS_ID_MAX], eid[ECS_ID_MAX], from[64], to[64], to_ip[64];
	bool start;
};

/* Step 1: placed elsewhere, its heartbeats held off, the event Executing. */
static int place(struct ctl *c, struct move *m, char *why, size_t why_size)
{
	_cleanup_json_ struct json_object *nudge = json_object_new_object();
	const char *exclude[1] = { m->from };
	sqlite3 *db = ctl_db_get(c->store);
	sqlite3_stmt *st;
	int r = db ? 0 : -EIO;

	pthread_mutex_lock(&c->sched_lock);
	if (r == 0)
		r = ctl_db_tx_begin(db);
	if (r == 0) {
		r = ctl_instance_place_elsewhere(c, db, m->id, m->from, exclude, 1, nudge, m->to);
		if (r == -ENOSPC)
			snprintf(why, why_size, "no other host has room for it");
	}
	if (r == 0)
		r = ctl_db_run(db, "UPDATE instances SET agent_seq = " MOVING_SEQ " WHERE instance_id = ?1",
			       (const char *const[]){ m->id }, 1);
	if (r == 0)
		r = ctl_db_run(db, "UPDATE instance_events SET status = 'Executing' WHERE event_id = ?1",
			       (const char *const[]){ m->eid }, 1);
	if (r == 0) {
		st = ctl_db_prepare_args(db, "SELECT underlay_ip, api_url FROM hosts WHERE host_id = ?1",
					 (const char *const[]){ m->to }, 1);
		if (st && sqlite3_step(st) == SQLITE_ROW)
			ctl_heal_host_ip(ctl_col(st, 0), ctl_col(st, 1), m->to_ip);
		sqlite3_finalize(st);
		r = m->to_ip[0] ? 0 : -EIO;
	}
	if (r == 0)
		r = ctl_db_tx_commit(db);
	else if (db)
		ctl_db_tx_rollback(db);
	ctl_db_put(c->store, db);
	pthread_mutex_unlock(&c->sched_lock);
	if (r == 0)
		ctl_sgsync_nudge(c, nudge);
	else if (!why[0])
		snprintf(why, why_size, "cannot place it: %s", strerror(-r));
	return r;
}

/* Steps 2-5 of one move; 0 moved, < 0 not (why). */
static int move(struct ctl *c, struct move *m, char *why, size_t why_size)
{
	_cleanup_json_ struct json_object *body = json_object_new_object(), *ans = NULL, *out = NULL, *fin = NULL;
	struct json_object *spec;
	const char *xml;
	bool live = false;
	sqlite3 *db;
	int r;

	db = ctl_db_get(c->store);
	spec = db ? ctl_instance_agent_spec(c, db, m->id, m->start) : NULL;
	ctl_db_put(c->store, db);
	if (!spec) {
		snprintf(why, why_size, "cannot build the instance's spec");
		put_back(c, m->id, m->from, m->to);
		return -EIO;
	}
	json_object_object_add(body, "spec", spec);
	r = step(c, m->to, m->id, "in", body, &ans, why, why_size);
	xml = ecs_json_str(ans, "domain_xml", "");
	if (r == 0 && !*xml) {
		snprintf(why, why_size, "migrate-in on %s: no domain XML", m->to);
		r = -EIO;
	}
	if (r == 0) {
		json_object_put(body);
		body = json_object_new_object();
		ecs_jb_str(body, "target_address", m->to_ip);
		ecs_jb_str(body, "domain_xml", xml);
		ecs_jb_bool(body, "live", m->start);
		r = step(c, m->from, m->id, "out", body, &out, why, why_size);
		if (r < 0 && m->start && r != -EHOSTDOWN) {
			/* Not live: shut down there, started here (ECS's cold migration). */
			log_warn("live migration failed: moving it cold", "instance=%s from=%s to=%s why=\"%s\"", m->id,
				 m->from, m->to, why);
			ecs_jb_bool(body, "live", false);
			json_object_object_del(body, "domain_xml");
			r = step(c, m->from, m->id, "out", body, &out, why, why_size);
		}
		live = ecs_json_bool(out, "live");
	}
	if (r < 0) {
		_cleanup_json_ struct json_object *ab = json_object_new_object(), *abans = NULL;
		char ignored[256];

		step(c, m->to, m->id, "abort", ab, &abans, ignored, sizeof(ignored));
		put_back(c, m->id, m->from, m->to);
		return r;
	}
	/* The source let go: from here the instance is the target's, whatever happens. */
	json_object_put(body);
	body = json_object_new_object();
	ecs_jb_bool(body, "start", m->start);
	for (int i = 0; i < 5; i++) {
		r = step(c, m->to, m->id, "finish", body, &fin, why, why_size);
		if (r == 0)
			break;
		sleep(1);
	}
	db = ctl_db_get(c->store);
	if (db) {
		char seq[24];
		const char *a[2] = { m->id, seq };

		snprintf(seq, sizeof(seq), "%lld", r == 0 ? (long long)ecs_json_int(fin, "state_seq", 0) : 0LL);
		ctl_db_run(db, "UPDATE instances SET agent_seq = CAST(?2 AS INTEGER) WHERE instance_id = ?1", a, 2);
	}
	ctl_db_put(c->store, db);
	if (r < 0)
		return r;
	ctl_instance_apply_agent_state(c, m->id, fin);
	snprintf(why, why_size, "moved %s from %s to %s (downtime %lld ms)", live ? "live" : "cold", m->from, m->to,
		 (long long)ecs_json_int(fin, "downtime_ms", -1));
	return 0;
}

static void migrate_one(struct ctl *c, const char *eid, const char *id)
{
	struct move m = { 0 };
	char why[512] = "", state[16] = "";
	sqlite3 *db = ctl_db_get(c->store);
	sqlite3_stmt *st = db ? ctl_db_prepare_args(db,
						    "SELECT host_id, desired, status, EXISTS (SELECT 1 FROM jobs WHERE"
						    " resource_id = ?1) FROM instances WHERE instance_id = ?1 AND deleted = 0"
						    " AND desired != 'deleted' AND host_id IS NOT NULL",
						    &id, 1)
			      : NULL;
	bool busy = false;

	snprintf(m.id, sizeof(m.id), "%s", id);
	snprintf(m.eid, sizeof(m.eid), "%s", eid);
	if (st && sqlite3_step(st) == SQLITE_ROW) {
		snprintf(m.from, sizeof(m.from), "%s", ctl_col(st, 0));
		m.start = streq(ctl_col(st, 1), "running");
		snprintf(state, sizeof(state), "%s", ctl_col(st, 2));
		busy = sqlite3_column_int(st, 3) != 0;
	}
	sqlite3_finalize(st);
	ctl_db_put(c->store, db);
	if (!m.from[0])
		return finish_event(c, eid, "Canceled", "the instance is gone");
	if (busy || (!streq(state, "Running") && !streq(state, "Stopped")))
		return; /* an action under way: next pass */
	if (!ctl_host_alive(c, m.from)) {
		snprintf(why, sizeof(why), "host %s is down: not migrated (its recovery moves it)", m.from);
		return finish_event(c, eid, "Failed", why);
	}
	if (place(c, &m, why, sizeof(why)) < 0) {
		log_warn("instance not migrated", "instance=%s host=%s why=\"%s\"", id, m.from, why);
		return finish_event(c, eid, "Failed", why);
	}
	log_warn("instance migrating", "instance=%s from=%s to=%s event=%s", id, m.from, m.to, eid);
	if (move(c, &m, why, sizeof(why)) < 0) {
		log_warn("instance not migrated", "instance=%s from=%s to=%s why=\"%s\"", id, m.from, m.to, why);
		return finish_event(c, eid, "Failed", why);
	}
	log_warn("instance migrated", "instance=%s from=%s to=%s event=%s why=\"%s\"", id, m.from, m.to, eid, why);
	finish_event(c, eid, "Executed", why);
}

/* Each instance of a drained host gets an event, unless one failed lately (no host had
 * room: tried again a minute later). */
static void schedule_drained(struct ctl *c)
{
	_cleanup_db_ struct ctl_db_conn conn = ctl_db_take(c->store);
	_cleanup_json_ struct json_object *ids = json_object_new_array();
	sqlite3_stmt *st;

	if (!conn.db)
		return;
	st = ctl_db_prepare(conn.db, "SELECT i.instance_id FROM instances i JOIN hosts h ON h.host_id = i.host_id WHERE"
				     " h.drained = 1 AND i.deleted = 0 AND i.desired != 'deleted' AND NOT EXISTS (SELECT 1"
				     " FROM instance_events e WHERE e.instance_id = i.instance_id AND e.event_type = '" EVENT
				     "' AND (e.status IN ('Scheduled', 'Executing') OR (e.status = 'Failed' AND"
				     " e.finished_at > CAST(strftime('%s') AS INTEGER) - " RETRY_AFTER_FAILED_S ")))"
				     " ORDER BY i.instance_id LIMIT " MAX_BATCH);
	while (st && sqlite3_step(st) == SQLITE_ROW)
		json_object_array_add(ids, json_object_new_string(ctl_col(st, 0)));
	sqlite3_finalize(st);
	for (size_t i = 0; i < json_object_array_length(ids); i++) {
		char eid[ECS_ID_MAX];

		schedule(conn.db, json_object_get_string(json_object_array_get_idx(ids, i)), "its host is drained", eid);
	}
}

static void pass(struct ctl *c)
{
	_cleanup_json_ struct json_object *todo = json_object_new_array();
	sqlite3 *db;
	sqlite3_stmt *st;

	schedule_drained(c);
	db = ctl_db_get(c->store);
	st = db ? ctl_db_prepare(db, "SELECT event_id, instance_id FROM instance_events WHERE event_type = '" EVENT
				     "' AND status = 'Scheduled' ORDER BY published_at, event_id LIMIT " MAX_BATCH)
		: NULL;
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		struct json_object *p = json_object_new_array();

		json_object_array_add(p, json_object_new_string(ctl_col(st, 0)));
		json_object_array_add(p, json_object_new_string(ctl_col(st, 1)));
		json_object_array_add(todo, p);
	}
	sqlite3_finalize(st);
	ctl_db_put(c->store, db);
	for (size_t i = 0; i < json_object_array_length(todo) && !stopping; i++) {
		struct json_object *p = json_object_array_get_idx(todo, i);

		migrate_one(c, json_object_get_string(json_object_array_get_idx(p, 0)),
			    json_object_get_string(json_object_array_get_idx(p, 1)));
	}
}

/* A move the controller's last life left half done: its heartbeats count again (the
 * agents' word then says where it runs), its event Failed. */
static void recover_interrupted(struct ctl *c)
{
	_cleanup_db_ struct ctl_db_conn conn = ctl_db_take(c->store);

	if (conn.db)
		ctl_db_exec(conn.db, "UPDATE instances SET agent_seq = 0 WHERE agent_seq = " MOVING_SEQ ";"
				     "UPDATE instance_events SET status = 'Failed', reason = 'the controller restarted during"
				     " the migration', finished_at = CAST(strftime('%s') AS INTEGER) WHERE event_type = '" EVENT
				     "' AND status = 'Executing';");
}

/* Woken by kick() (a drain, a MigrateInstance) or every 2 s; a kick during a pass is not lost. */
static struct {
	pthread_t thread;
	bool started;
} worker;

static void *loop(void *arg)
{
	struct ctl *c = arg;

	recover_interrupted(c);
	pthread_mutex_lock(&lock);
	while (!stopping) {
		struct timespec until;

		kicked = false;
		pthread_mutex_unlock(&lock);
		pass(c);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 2;
		pthread_mutex_lock(&lock);
		if (!kicked && !stopping)
			pthread_cond_timedwait(&wake, &lock, &until);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

int ctl_migrate_start(struct ctl *c)
{
	stopping = false;
	worker.started = pthread_create(&worker.thread, NULL, loop, c) == 0;
	return worker.started ? 0 : -EAGAIN;
}

void ctl_migrate_stop(void)
{
	if (!worker.started)
		return;
	pthread_mutex_lock(&lock);
	stopping = true;
	pthread_cond_broadcast(&wake);
	pthread_mutex_unlock(&lock);
	pthread_join(worker.thread, NULL);
	worker.started = false;
}
