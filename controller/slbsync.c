#include "slbsync.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agents.h"
#include "common.h"
#include "jobs.h"
#include "json.h"
#include "log.h"
#include "rowjson.h"
#include "scheduler.h"
#include "store.h"
#include "util.h"

#define SYNC_PREFIX "sync:"

int ctl_slbsync_queue(sqlite3 *db, const char *kind, const char *resource_id, const char *op)
{
	const char *args[] = { resource_id };
	int r = 0;

	if (streq(op, "put"))
		r = ctl_db_run(db, streq(kind, "lb") ? "UPDATE load_balancers SET error = '' WHERE lb_id = ?1"
						     : "UPDATE public_ips SET error = '' WHERE address = ?1",
			       args, 1);
	return r < 0 ? r : ctl_jobs_add(db, kind, resource_id, op, NULL);
}

/* ---- the documents ---- */

static const struct ctl_col_key lb_cols[] = { { "address", CTL_COL_STR }, { "status", CTL_COL_STR } };
/* A listener's columns 0-4, its health check's 5-9 and 11-14 (10: the HTTP codes, a list). */
static const struct ctl_col_key listener_cols[] = {
	{ "protocol", CTL_COL_STR }, { "port", CTL_COL_INT },	  { "backend_port", CTL_COL_INT },
	{ "scheduler", CTL_COL_STR }, { "status", CTL_COL_STR },
};
static const struct ctl_col_key hc_cols[] = {
	{ "enabled", CTL_COL_BOOL }, { "type", CTL_COL_STR }, { "port", CTL_COL_INT },
	{ "uri", CTL_COL_STR },	     { "domain", CTL_COL_STR },
};
static const struct ctl_col_key hc_time_cols[] = {
	{ "interval_s", CTL_COL_INT },
	{ "timeout_s", CTL_COL_INT },
	{ "healthy_threshold", CTL_COL_INT },
	{ "unhealthy_threshold", CTL_COL_INT },
};
static const struct ctl_col_key backend_cols[] = {
	{ "server_id", CTL_COL_STR },
	{ "ip", CTL_COL_STR },
	{ "weight", CTL_COL_INT },
};

/* An empty array added to doc under key. */
static struct json_object *doc_array(struct json_object *doc, const char *key)
{
	struct json_object *a = json_object_new_array();

	json_object_object_add(doc, key, a);
	return a;
}

static int listener_json(sqlite3_stmt *st, void *arg)
{
	struct json_object *l = json_object_new_object(), *hc, *codes = json_object_new_array();
	_cleanup_free_ char *text = strdup(ctl_col(st, 10));
	char *save = NULL;

	ctl_row_json(st, 0, CTL_COLS(listener_cols), l);
	hc = ecs_jb_obj(l, "health_check");
	ctl_row_json(st, 5, CTL_COLS(hc_cols), hc);
	for (char *t = text ? strtok_r(text, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
		json_object_array_add(codes, json_object_new_string(t));
	json_object_object_add(hc, "http_codes", codes);
	ctl_row_json(st, 11, CTL_COLS(hc_time_cols), hc);
	json_object_array_add(arg, l);
	return 0;
}

/* The agent's document of lb_id (docs/agent-api.md) and its host; -ENOENT when the LB is
 * gone or being deleted. */
static int lb_document(sqlite3 *db, const char *lb_id, char host[64], struct json_object **ret)
{
	sqlite3_stmt *st = ctl_db_prepare(db, "SELECT address, status, host_id FROM load_balancers WHERE lb_id = ?1 AND"
					      " deleted = 0");
	struct json_object *doc;
	int r = -ENOENT;

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, lb_id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return r;
	}
	doc = json_object_new_object();
	ctl_row_json(st, 0, CTL_COLS(lb_cols), doc);
	snprintf(host, 64, "%s", ctl_col(st, 2));
	sqlite3_finalize(st);

	/* Its listeners, then its backends: instances not gone, with the address of their NIC. */
	if (ctl_query_each(db,
			   "SELECT protocol, port, backend_port, scheduler, status, hc_enabled, hc_type, hc_port,"
			   " hc_uri, hc_domain, hc_codes, hc_interval, hc_timeout, healthy_threshold,"
			   " unhealthy_threshold FROM lb_listeners WHERE lb_id = ?1 ORDER BY port, protocol",
			   &lb_id, 1, listener_json, doc_array(doc, "listeners")) < 0 ||
	    ctl_query_json(db,
			   "SELECT b.instance_id, i.private_ip, b.weight FROM lb_backends b JOIN instances i ON"
			   " i.instance_id = b.instance_id WHERE b.lb_id = ?1 AND i.deleted = 0 AND i.private_ip IS NOT"
			   " NULL ORDER BY b.instance_id",
			   &lb_id, 1, CTL_COLS(backend_cols), doc_array(doc, "backends")) < 0)
		goto fail;
	*ret = doc;
	return 0;
fail:
	json_object_put(doc);
	return -EIO;
}

/* A public IP's document ({"private_ip"}) and host; -ENOENT when it is being released or
 * its instance is gone. */
static int eip_document(sqlite3 *db, const char *address, char host[64], struct json_object **ret)
{
	sqlite3_stmt *st = ctl_db_prepare(db, "SELECT p.host_id, i.private_ip FROM public_ips p JOIN instances i ON"
					      " i.instance_id = p.owner_id WHERE p.address = ?1 AND p.state = 'active' AND"
					      " i.deleted = 0 AND i.private_ip IS NOT NULL");
	int r = -ENOENT;

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, address, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(host, 64, "%s", ctl_col(st, 0));
		*ret = json_object_new_object();
		ecs_jb_str(*ret, "private_ip", ctl_col(st, 1));
		r = 0;
	}
	sqlite3_finalize(st);
	return r;
}

/* ---- jobs ---- */

struct target {
	const char *kind;    /* "lb" or "eip" */
	const char *table;   /* its rows */
	const char *key;     /* their key column */
	const char *path;    /* the agent's collection */
};

static const struct target lb_target = { "lb", "load_balancers", "lb_id", "/v1/load-balancers/" };
static const struct target eip_target = { "eip", "public_ips", "address", "/v1/public-ips/" };

static void set_error(struct ctl *c, const struct target *t, const char *id, const char *why)
{
	sqlite3 *db = ctl_db_get(c->store);
	_cleanup_free_ char *sql = ecs_strdup_printf("UPDATE %s SET error = ?2 WHERE %s = ?1", t->table, t->key);
	const char *args[] = { id, why };

	if (db && sql)
		ctl_db_run(db, sql, args, 2);
	ctl_db_put(c->store, db);
}

/* The host the row of a delete names, and whether the row is there. */
static int row_host(struct ctl *c, const struct target *t, const char *id, char host[64])
{
	sqlite3 *db = ctl_db_get(c->store);
	_cleanup_free_ char *sql = ecs_strdup_printf("SELECT host_id FROM %s WHERE %s = ?1", t->table, t->key);
	sqlite3_stmt *st = db && sql ? ctl_db_prepare(db, sql) : NULL;
	int r = -EIO;

	if (st) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		r = sqlite3_step(st) == SQLITE_ROW ? 0 : -ENOENT;
		if (r == 0)
			snprintf(host, 64, "%s", ctl_col(st, 0));
	}
	sqlite3_finalize(st);
	ctl_db_put(c->store, db);
	return r;
}

/* The agent let go of a deleted LB or a released public IP: free its rows and address. */
static int forget(struct ctl *c, const struct target *t, const char *id)
{
	sqlite3 *db = ctl_db_get(c->store);
	const char *args[] = { id };
	int r;

	if (!db || ctl_db_tx_begin(db) < 0) {
		ctl_db_put(c->store, db);
		return -EIO;
	}
	if (t == &lb_target) {
		r = ctl_db_run(db, "DELETE FROM public_ips WHERE owner_id = ?1", args, 1);
		if (r == 0)
			r = ctl_db_run(db, "DELETE FROM ip_leases WHERE instance_id = ?1", args, 1);
		if (r == 0)
			r = ctl_db_run(db, "DELETE FROM load_balancers WHERE lb_id = ?1 AND deleted = 1", args, 1);
	} else {
		r = ctl_db_run(db, "DELETE FROM public_ips WHERE address = ?1 AND state = 'releasing'", args, 1);
	}
	if (r == 0)
		r = ctl_db_tx_commit(db);
	ctl_db_put(c->store, db);
	if (r == 0)
		log_info(t == &lb_target ? "load balancer gone from its host" : "public IP gone from its host", "id=%s", id);
	return r;
}

static enum ctl_job_result carry(struct ctl *c, const struct target *t, struct ctl_job *job, char *why,
				 size_t why_size)
{
	const char *id = job->resource_id;
	_cleanup_free_ char *path = ecs_strdup_printf("%s%s", t->path, id);
	struct json_object *doc = NULL, *ans = NULL;
	const char *method = "PUT";
	char host[64] = "";
	enum ctl_job_result res = CTL_JOB_RETRY;
	long status = 0;
	int r;

	if (!path)
		return CTL_JOB_RETRY;
	if (streq(job->op, "put")) {
		sqlite3 *db = ctl_db_get(c->store);

		r = !db ? -EIO : t == &lb_target ? lb_document(db, id, host, &doc) : eip_document(db, id, host, &doc);
		ctl_db_put(c->store, db);
		if (r == -ENOENT) {
			snprintf(why, why_size, "%s %s is gone", t->kind, id);
			return CTL_JOB_DONE; /* a delete follows, or nothing is wanted */
		}
		if (r < 0)
			return CTL_JOB_RETRY;
	} else if (streq(job->op, "delete")) {
		method = "DELETE";
		r = row_host(c, t, id, host);
		if (r == -ENOENT)
			return CTL_JOB_DONE;
		if (r < 0)
			return CTL_JOB_RETRY;
	} else if (streq(job->op, "purge")) {
		method = "DELETE";
		snprintf(host, sizeof(host), "%s", ecs_json_str(job->args, "host_id", ""));
	} else {
		snprintf(why, why_size, "unknown op %s", job->op);
		return CTL_JOB_FAILED;
	}
	r = ctl_agent_call_alive(c, host, method, path, doc, &status, &ans);
	if (r == 0 && (status == 200 || (status == 404 && !streq(job->op, "put")))) {
		if (streq(job->op, "delete"))
			res = forget(c, t, id) == 0 ? CTL_JOB_DONE : CTL_JOB_RETRY;
		else
			res = CTL_JOB_DONE;
		goto out;
	}
	snprintf(why, why_size, "%s %s on %s: %s", method, id, host,
		 ctl_agent_error(r, ans));
	/* Unreachable or failing: again later. A 409 is an address the agent may be freeing
	 * (a public IP released and allocated again): again, for a while. */
	if (r < 0 || status >= 500)
		goto out;
	if (status == 409 && time(NULL) - job->created_at <= c->cfg.transition_timeout_s)
		goto out;
	log_warn("agent refused a load balancer or public IP", "kind=%s id=%s host=%s status=%ld reason=\"%s\"", t->kind,
		 id, host, status, why);
	if (!streq(job->op, "purge"))
		set_error(c, t, id, why);
	res = CTL_JOB_FAILED;
out:
	json_object_put(doc);
	json_object_put(ans);
	return res;
}

static enum ctl_job_result lb_job(struct ctl *c, struct ctl_job *job, char *why, size_t why_size)
{
	return carry(c, &lb_target, job, why, why_size);
}

static enum ctl_job_result eip_job(struct ctl *c, struct ctl_job *job, char *why, size_t why_size)
{
	return carry(c, &eip_target, job, why, why_size);
}

/* ---- re-sync ---- */

/* The ids the agent holds: the "load_balancer_id" (or "public_ip") of each item of the list
 * under key, as a set. NULL when the agent did not answer with one. */
static struct json_object *agent_ids(struct ctl *c, const char *host, const char *path, const char *key,
				     const char *id_key)
{
	struct json_object *ans = NULL, *list, *set = NULL;
	long status = 0;

	if (ctl_agent_call_short(c, host, "GET", path, NULL, &status, &ans) == 0 && status == 200 &&
	    (list = ecs_json_get(ans, key)) && json_object_is_type(list, json_type_array)) {
		set = json_object_new_object();
		for (size_t i = 0; i < json_object_array_length(list); i++) {
			const char *id = ecs_json_str(json_object_array_get_idx(list, i), id_key, NULL);

			if (id)
				json_object_object_add(set, id, NULL);
		}
	}
	json_object_put(ans);
	return set;
}

/* Queue a put for each wanted thing the agent lacks (have) and a purge for each it holds
 * that is not wanted on host; things with a job under way are left to it. */
static int resync(sqlite3 *db, const struct target *t, const char *host, struct json_object *have, bool *kick)
{
	_cleanup_free_ char *want_sql = NULL, *held_sql = NULL;
	struct json_object *args = json_object_new_object();
	sqlite3_stmt *st;
	int r = 0;

	if (t == &lb_target) {
		want_sql = strdup("SELECT lb_id FROM load_balancers l WHERE host_id = ?1 AND deleted = 0 AND error = '' AND"
				  " NOT EXISTS (SELECT 1 FROM jobs WHERE resource_id = l.lb_id)");
		held_sql = strdup("SELECT NOT EXISTS (SELECT 1 FROM load_balancers WHERE lb_id = ?1 AND host_id = ?2 AND"
				  " deleted = 0) AND NOT EXISTS (SELECT 1 FROM jobs WHERE resource_id = ?1)");
	} else {
		want_sql = strdup("SELECT address FROM public_ips p WHERE host_id = ?1 AND owner_id LIKE 'i-%' AND"
				  " state = 'active' AND error = '' AND NOT EXISTS (SELECT 1 FROM jobs WHERE"
				  " resource_id = p.address)");
		held_sql = strdup("SELECT NOT EXISTS (SELECT 1 FROM public_ips WHERE address = ?1 AND host_id = ?2 AND"
				  " owner_id LIKE 'i-%' AND state = 'active') AND NOT EXISTS (SELECT 1 FROM jobs WHERE"
				  " resource_id = ?1)");
	}
	ecs_jb_str(args, "host_id", host);
	st = want_sql ? ctl_db_prepare(db, want_sql) : NULL;
	if (!st) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC);
	while (r == 0 && sqlite3_step(st) == SQLITE_ROW) {
		if (json_object_object_get_ex(have, ctl_col(st, 0), NULL))
			continue;
		log_warn("missing on its host: sending it again", "kind=%s id=%s host=%s", t->kind, ctl_col(st, 0), host);
		r = ctl_jobs_add(db, t->kind, ctl_col(st, 0), "put", NULL);
		*kick = true;
	}
	sqlite3_finalize(st);
	st = held_sql ? ctl_db_prepare(db, held_sql) : NULL;
	if (!st) {
		r = -EIO;
		goto out;
	}
	json_object_object_foreach(have, id, unused)
	{
		(void)unused;
		if (r < 0)
			break;
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, host, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0)) {
			log_warn("not wanted on its host: removing it", "kind=%s id=%s host=%s", t->kind, id, host);
			r = ctl_jobs_add(db, t->kind, id, "purge", args);
			*kick = true;
		}
	}
	sqlite3_finalize(st);
out:
	json_object_put(args);
	return r;
}

static enum ctl_job_result sync_job(struct ctl *c, struct ctl_job *job, char *why, size_t why_size)
{
	const char *host = job->resource_id + strlen(SYNC_PREFIX);
	struct json_object *lbs = NULL, *eips = NULL;
	sqlite3 *db = NULL;
	bool kick = false;
	int r = 0;

	if (!str_has_prefix(job->resource_id, SYNC_PREFIX) || !ctl_host_alive(c, host))
		return CTL_JOB_DONE;
	/* What the agent holds first, then what is wanted: a thing made in between is only
	 * sent twice (idempotent), never removed. */
	lbs = agent_ids(c, host, "/v1/load-balancers", "load_balancers", "load_balancer_id");
	eips = agent_ids(c, host, "/v1/public-ips", "public_ips", "public_ip");
	if (!lbs || !eips) {
		snprintf(why, why_size, "host %s did not list its load balancers and public IPs", host);
		goto out; /* the next heartbeat tries again */
	}
	db = ctl_db_get(c->store);
	if (!db || ctl_db_tx_begin(db) < 0) {
		r = -EIO;
		goto out;
	}
	r = resync(db, &lb_target, host, lbs, &kick);
	if (r == 0)
		r = resync(db, &eip_target, host, eips, &kick);
	if (r == 0)
		r = ctl_db_tx_commit(db);
	if (r == 0 && kick)
		ctl_jobs_kick(c);
out:
	ctl_db_put(c->store, db);
	json_object_put(lbs);
	json_object_put(eips);
	return r < 0 ? CTL_JOB_RETRY : CTL_JOB_DONE;
}

static void periodic(struct ctl *c, const char *host_id);

/* The strings of a JSON array as a set (an object with those keys); NULL when list is not
 * an array of strings. */
static struct json_object *id_set(struct json_object *list)
{
	struct json_object *set;

	if (!list || !json_object_is_type(list, json_type_array))
		return NULL;
	set = json_object_new_object();
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *v = json_object_array_get_idx(list, i);

		if (!json_object_is_type(v, json_type_string)) {
			json_object_put(set);
			return NULL;
		}
		json_object_object_add(set, json_object_get_string(v), NULL);
	}
	return set;
}

/* Compare what the heartbeat says the agent holds with what is wanted there, at once. */
static void compare_now(struct ctl *c, const char *host_id, struct json_object *lbs, struct json_object *eips)
{
	const char *args[] = { host_id };
	sqlite3 *db = ctl_db_get(c->store);
	bool kick = false;
	int r;

	/* Most hosts hold none and should hold none: no write transaction for them. */
	if (db && json_object_object_length(lbs) == 0 && json_object_object_length(eips) == 0) {
		sqlite3_stmt *st = ctl_db_prepare(
			db, "SELECT EXISTS (SELECT 1 FROM load_balancers WHERE host_id = ?1 AND deleted = 0) OR EXISTS"
			    " (SELECT 1 FROM public_ips WHERE host_id = ?1 AND owner_id LIKE 'i-%' AND state = 'active')");
		bool none = false;

		if (st) {
			sqlite3_bind_text(st, 1, host_id, -1, SQLITE_STATIC);
			none = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 0;
		}
		sqlite3_finalize(st);
		if (none) {
			ctl_db_put(c->store, db);
			return;
		}
	}
	r = db && ctl_db_tx_begin(db) == 0 ? 0 : -EIO;

	if (r == 0)
		r = resync(db, &lb_target, host_id, lbs, &kick);
	if (r == 0)
		r = resync(db, &eip_target, host_id, eips, &kick);
	if (r == 0)
		r = ctl_db_run(db, "UPDATE hosts SET lb_synced_at = strftime('%s', 'now') WHERE host_id = ?1 AND"
				   " lb_synced_at < 0", args, 1);
	if (r == 0)
		r = ctl_db_tx_commit(db);
	else if (db)
		ctl_db_tx_rollback(db);
	if (r < 0)
		log_warn("cannot compare a host's load balancers with its heartbeat, the next one tries again",
			 "host=%s error=%s", host_id, strerror(-r));
	else if (kick)
		ctl_jobs_kick(c);
	ctl_db_put(c->store, db);
}

void ctl_slbsync_heartbeat(struct ctl *c, const char *host_id, struct json_object *held_lbs,
			   struct json_object *held_eips)
{
	struct json_object *lbs = id_set(held_lbs), *eips = id_set(held_eips);

	if (lbs && eips) {
		compare_now(c, host_id, lbs, eips);
		json_object_put(lbs);
		json_object_put(eips);
		return;
	}
	json_object_put(lbs);
	json_object_put(eips);
	periodic(c, host_id);
}

/* An agent that does not say what it holds is asked now and then. */
static void periodic(struct ctl *c, const char *host_id)
{
	_cleanup_free_ char *resource = ecs_strdup_printf(SYNC_PREFIX "%s", host_id);
	sqlite3 *db = ctl_db_get(c->store);
	sqlite3_stmt *st = db && resource ? ctl_db_prepare(
		db, "UPDATE hosts SET lb_synced_at = ?2 WHERE host_id = ?1 AND (lb_synced_at < 0 OR (lb_synced_at <= ?2 - ?3"
		    " AND (EXISTS (SELECT 1 FROM load_balancers WHERE host_id = ?1) OR EXISTS (SELECT 1 FROM public_ips"
		    " WHERE host_id = ?1 AND owner_id LIKE 'i-%')))) AND NOT EXISTS (SELECT 1 FROM jobs WHERE"
		    " resource_id = ?4)")
					  : NULL;
	bool due = false;

	if (st) {
		sqlite3_bind_text(st, 1, host_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, time(NULL));
		sqlite3_bind_int64(st, 3, c->cfg.slb_sync_interval_s);
		sqlite3_bind_text(st, 4, resource, -1, SQLITE_STATIC);
		due = ctl_db_step_done(st) == 0 && sqlite3_changes(db) == 1;
	}
	sqlite3_finalize(st);
	/* A crash in between loses one re-sync: the next comes an interval later. */
	if (due && ctl_jobs_add(db, "lbsync", resource, "sync", NULL) == 0)
		ctl_jobs_kick(c);
	ctl_db_put(c->store, db);
}

/* ---- failover ---- */

/* Move lb_id (zone) off dead_host (dead or drained), in the caller's transaction: 1 when
 * moved, 0 when no host of its zone is alive. Its address, listeners and backends are the
 * LB's records: the put sends them whole to the new host. */
static int move_lb(struct ctl *c, sqlite3 *db, const char *lb_id, const char *zone, const char *dead_host)
{
	char host[64], zone_out[64];
	const char *args[] = { lb_id, NULL, dead_host };
	int r;

	r = ctl_schedule_lb(c, db, *zone ? zone : NULL, host, zone_out);
	if (r == -ENOSPC)
		return 0;
	if (r < 0)
		return r;
	args[1] = host;
	r = ctl_db_run(db, "UPDATE load_balancers SET host_id = ?2 WHERE lb_id = ?1 AND host_id = ?3", args, 3);
	if (r == 0)
		r = ctl_db_run(db, "UPDATE public_ips SET host_id = ?2 WHERE owner_id = ?1 AND host_id = ?3", args, 3);
	if (r == 0)
		r = ctl_slbsync_queue(db, "lb", lb_id, "put");
	if (r == 0)
		log_warn("load balancer moved off a dead or drained host", "lb=%s from=%s to=%s", lb_id, dead_host, host);
	return r < 0 ? r : 1;
}

void ctl_slbsync_failover(struct ctl *c)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static time_t first, last;
	sqlite3 *db;
	sqlite3_stmt *st;
	int r = 0, moved = 0;

	pthread_mutex_lock(&lock);
	/* Once a second; and not before every live host had time to beat since this controller
	 * started (after a long stop every host looks dead). */
	if (!first)
		first = time(NULL);
	if (last == time(NULL) || time(NULL) < first + c->cfg.host_dead_after_s) {
		pthread_mutex_unlock(&lock);
		return;
	}
	last = time(NULL);
	db = ctl_db_get(c->store);
	if (!db || ctl_db_tx_begin(db) < 0) {
		ctl_db_put(c->store, db);
		pthread_mutex_unlock(&lock);
		return;
	}
	/* An LB leaves a drained host, and a dead one: with a storage cluster to fence in, a
	 * host heal fenced (a silent host may only have lost the controller and still serve the
	 * VIP); without, a host silent for host_dead_after_s. */
	st = ctl_db_prepare(db, "SELECT l.lb_id, l.zone_id, l.host_id FROM load_balancers l WHERE l.deleted = 0 AND"
				" NOT EXISTS (SELECT 1 FROM hosts h WHERE h.host_id = l.host_id AND h.drained = 0 AND"
				" CASE WHEN ?2 THEN h.state != 'dead' ELSE h.last_seen >= ?1 END)"
				" ORDER BY l.lb_id LIMIT 256");
	if (st) {
		sqlite3_bind_int64(st, 1, time(NULL) - c->cfg.host_dead_after_s);
		sqlite3_bind_int(st, 2, c->ceph != NULL);
		while (r >= 0 && sqlite3_step(st) == SQLITE_ROW) {
			r = move_lb(c, db, ctl_col(st, 0), ctl_col(st, 1), ctl_col(st, 2));
			moved += r > 0;
		}
		sqlite3_finalize(st);
	} else {
		r = -EIO;
	}
	if (r >= 0 && ctl_db_tx_commit(db) < 0)
		r = -EIO;
	if (r >= 0) {
		if (moved)
			ctl_jobs_kick(c);
	} else {
		ctl_db_tx_rollback(db);
		log_error("load balancer failover failed, tried again at the next heartbeat", "error=%s", strerror(-r));
	}
	ctl_db_put(c->store, db);
	pthread_mutex_unlock(&lock);
}

/* ---- instances going away ---- */

/* The values of the one-column query sql (bound to id), as a JSON array. */
static struct json_object *column(sqlite3 *db, const char *sql, const char *id)
{
	sqlite3_stmt *st = ctl_db_prepare(db, sql);
	struct json_object *list;

	if (!st)
		return NULL;
	list = json_object_new_array();
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_object_array_add(list, json_object_new_string(ctl_col(st, 0)));
	sqlite3_finalize(st);
	return list;
}

int ctl_slbsync_instance_forget(sqlite3 *db, const char *instance_id)
{
	struct json_object *lbs = column(db, "SELECT b.lb_id FROM lb_backends b JOIN load_balancers l ON l.lb_id = b.lb_id"
					     " WHERE b.instance_id = ?1 AND l.deleted = 0", instance_id);
	struct json_object *eips = column(db, "SELECT address FROM public_ips WHERE owner_id = ?1 AND state = 'active'",
					  instance_id);
	const char *args[] = { instance_id };
	int r = lbs && eips ? 0 : -EIO;

	if (r == 0)
		r = ctl_db_run(db, "DELETE FROM lb_backends WHERE instance_id = ?1", args, 1);
	for (size_t i = 0; r == 0 && i < json_object_array_length(lbs); i++)
		r = ctl_slbsync_queue(db, "lb", json_object_get_string(json_object_array_get_idx(lbs, i)), "put");
	if (r == 0)
		r = ctl_db_run(db, "UPDATE public_ips SET state = 'releasing' WHERE owner_id = ?1 AND state = 'active'", args,
			       1);
	for (size_t i = 0; r == 0 && i < json_object_array_length(eips); i++)
		r = ctl_slbsync_queue(db, "eip", json_object_get_string(json_object_array_get_idx(eips, i)), "delete");
	json_object_put(lbs);
	json_object_put(eips);
	return r;
}

/* ---- asking an agent ---- */

int ctl_slbsync_agent_lb(struct ctl *c, const char *host_id, const char *lb_id, struct json_object **ret)
{
	_cleanup_free_ char *path = ecs_strdup_printf("/v1/load-balancers/%s", lb_id);
	struct json_object *ans = NULL;
	long status = 0;
	int r;

	if (!path)
		return -ENOMEM;
	if (!ctl_host_alive(c, host_id))
		return -EHOSTDOWN;
	r = ctl_agent_call_short(c, host_id, "GET", path, NULL, &status, &ans);
	if (r == 0 && status != 200)
		r = status == 404 ? -ENOENT : -EIO;
	if (r < 0) {
		json_object_put(ans);
		return r;
	}
	*ret = ans;
	return 0;
}

void ctl_slbsync_register_jobs(void)
{
	ctl_jobs_register("lb", lb_job);
	ctl_jobs_register("eip", eip_job);
	ctl_jobs_register("lbsync", sync_job);
}
