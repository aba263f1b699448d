#include "sgsync.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents.h"
#include "common.h"
#include "json.h"
#include "log.h"
#include "rowjson.h"
#include "store.h"
#include "util.h"

#define NUDGE_THREADS 4
#define NUDGE_QUEUE_MAX 4096 /* hosts waiting for a nudge; beyond, the heartbeat catches up */
#define HOST_ID_MAX 64

/* ---- the generation, and who to nudge ---- */

int ctl_sgsync_bump(sqlite3 *db)
{
	return ctl_db_exec(db, "UPDATE security_generation SET n = n + 1 WHERE id = 1");
}

long long ctl_sgsync_generation(sqlite3 *db)
{
	sqlite3_stmt *st = ctl_db_prepare(db, "SELECT n FROM security_generation WHERE id = 1");
	long long n = -1;

	if (st && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

void ctl_sgsync_set_add(struct json_object *set, const char *key)
{
	if (set && key && *key && !json_object_object_get_ex(set, key, NULL))
		json_object_object_add(set, key, NULL);
}

/* The hosts whose view a change of group_id (its rules or its members) alters: those with
 * an instance in it, and those with an instance in a group whose rules name it. */
int ctl_sgsync_affected_hosts(sqlite3 *db, const char *group_id, struct json_object *hosts)
{
	sqlite3_stmt *st;

	if (!hosts)
		return 0;
	st = ctl_db_prepare_args(db, "SELECT DISTINCT i.host_id FROM instance_security_groups m JOIN instances i ON"
				     " i.instance_id = m.instance_id WHERE i.deleted = 0 AND i.host_id IS NOT NULL AND"
				     " (m.group_id = ?1 OR m.group_id IN (SELECT group_id FROM security_group_rules WHERE"
				     " peer_group_id = ?1))",
				 &group_id, 1);
	if (!st)
		return -EIO;
	while (sqlite3_step(st) == SQLITE_ROW)
		ctl_sgsync_set_add(hosts, ctl_col(st, 0));
	sqlite3_finalize(st);
	return 0;
}

/* ---- the agents' view ---- */

/* A rule's columns 1-7 (0 is its group). */
static const struct ctl_col_key rule_cols[] = {
	{ "direction", CTL_COL_STR }, { "ip_protocol", CTL_COL_STR }, { "port_range", CTL_COL_STR },
	{ "cidr", CTL_COL_STR },      { "peer_group_id", CTL_COL_STR }, { "policy", CTL_COL_STR },
	{ "priority", CTL_COL_INT },
};

/* What view_build gathers while it reads the rows. */
struct view_ctx {
	struct json_object *instances; /* instance id -> [group ids], in order */
	struct json_object *own, *own_ids; /* this host's groups: a set, and a list */
	struct json_object *groups, *by_id; /* every group needed: the list, and by id */
	struct json_object *all; /* the ids of every group needed, a set */
};

static int view_membership(sqlite3_stmt *st, void *arg)
{
	struct view_ctx *v = arg;
	struct json_object *list;

	if (!json_object_object_get_ex(v->instances, ctl_col(st, 0), &list)) {
		list = json_object_new_array();
		json_object_object_add(v->instances, ctl_col(st, 0), list);
	}
	json_object_array_add(list, json_object_new_string(ctl_col(st, 1)));
	if (!json_object_object_get_ex(v->own, ctl_col(st, 1), NULL)) {
		ctl_sgsync_set_add(v->own, ctl_col(st, 1));
		json_object_array_add(v->own_ids, json_object_new_string(ctl_col(st, 1)));
	}
	return 0;
}

static int view_group(sqlite3_stmt *st, void *arg)
{
	struct view_ctx *v = arg;
	struct json_object *g = json_object_new_object();

	ecs_jb_str(g, "group_id", ctl_col(st, 0));
	json_object_object_add(g, "rules", json_object_new_array());
	json_object_object_add(g, "members", json_object_new_array());
	json_object_array_add(v->groups, g);
	json_object_object_add(v->by_id, ctl_col(st, 0), json_object_get(g));
	ctl_sgsync_set_add(v->all, ctl_col(st, 0));
	return 0;
}

static int view_rule(sqlite3_stmt *st, void *arg)
{
	struct view_ctx *v = arg;
	struct json_object *g, *ru;

	if (!json_object_object_get_ex(v->by_id, ctl_col(st, 0), &g))
		return 0;
	ru = json_object_new_object();
	ctl_row_json(st, 1, CTL_COLS(rule_cols), ru);
	json_object_array_add(ecs_json_get(g, "rules"), ru);
	return 0;
}

static int view_member(sqlite3_stmt *st, void *arg)
{
	struct view_ctx *v = arg;
	struct json_object *g;

	if (json_object_object_get_ex(v->by_id, ctl_col(st, 0), &g))
		json_object_array_add(ecs_json_get(g, "members"), json_object_new_string(ctl_col(st, 1)));
	return 0;
}

static int view_build(sqlite3 *db, const char *host_id, struct json_object *view)
{
	struct view_ctx v = {
		.instances = ecs_jb_obj(view, "instances"),
		.own = json_object_new_object(),
		.own_ids = json_object_new_array(),
		.groups = json_object_new_array(),
		.by_id = json_object_new_object(),
		.all = json_object_new_object(),
	};
	struct json_object *all_ids = json_object_new_array();
	const char *own_text, *all_text;
	int r;

	json_object_object_add(view, "groups", v.groups);
	/* This host's instances and their groups, in order. */
	r = ctl_query_each(db, "SELECT m.instance_id, m.group_id FROM instance_security_groups m JOIN instances i ON"
			       " i.instance_id = m.instance_id WHERE i.host_id = ?1 AND i.deleted = 0"
			       " ORDER BY m.instance_id, m.position",
			   &host_id, 1, view_membership, &v);
	own_text = ecs_json_text(v.own_ids, NULL);
	/* Every group needed: those (own, with their rules) and the peers their rules name
	 * (for their members only; their own rules are no business of this host). */
	if (r == 0)
		r = ctl_query_each(db, "SELECT g.group_id FROM security_groups g WHERE g.group_id IN (SELECT value FROM"
				       " json_each(?1)) OR g.group_id IN (SELECT peer_group_id FROM security_group_rules WHERE"
				       " group_id IN (SELECT value FROM json_each(?1))) ORDER BY g.group_id",
				   &own_text, 1, view_group, &v);
	if (r == 0)
		r = ctl_query_each(db, "SELECT group_id, direction, ip_protocol, port_range, cidr, peer_group_id, policy, priority"
				       " FROM security_group_rules WHERE group_id IN (SELECT value FROM json_each(?1))"
				       " ORDER BY group_id, rule_id",
				   &own_text, 1, view_rule, &v);
	/* Members: every instance (not deleted) of each group, on any host. */
	json_object_object_foreach(v.all, k, val)
	{
		(void)val;
		json_object_array_add(all_ids, json_object_new_string(k));
	}
	all_text = ecs_json_text(all_ids, NULL);
	if (r == 0)
		r = ctl_query_each(db, "SELECT m.group_id, i.private_ip FROM instance_security_groups m JOIN instances i ON"
				       " i.instance_id = m.instance_id WHERE m.group_id IN (SELECT value FROM json_each(?1))"
				       " AND i.deleted = 0 AND i.private_ip IS NOT NULL AND i.private_ip != ''"
				       " ORDER BY m.group_id, i.private_ip",
				   &all_text, 1, view_member, &v);
	json_object_put(all_ids);
	json_object_put(v.own);
	json_object_put(v.all);
	json_object_put(v.own_ids);
	json_object_put(v.by_id);
	return r;
}

void ctl_sgsync_view(struct ctl *c, const char *host_id, struct ecs_http_response *resp)
{
	struct json_object *view = json_object_new_object();
	sqlite3 *db = ctl_db_get(c->store);
	long long gen = -1;
	int r = -EIO;

	/* One read transaction: the generation and the view it names are one snapshot. */
	if (db && ctl_db_exec(db, "BEGIN") == 0) {
		gen = ctl_sgsync_generation(db);
		ecs_jb_int(view, "generation", gen);
		r = gen < 0 ? -EIO : view_build(db, host_id, view);
	}
	ctl_db_put(c->store, db);
	if (r < 0) {
		log_error("cannot build a host's security view", "host=%s", host_id);
		ecs_http_reply_error(resp, 500, "InternalError", "cannot read the security groups", NULL);
	} else {
		ecs_http_reply_json(resp, 200, view);
	}
	json_object_put(view);
}

/* ---- nudges ---- */

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char (*queue)[HOST_ID_MAX];
	size_t n;
	pthread_t threads[NUDGE_THREADS];
	int n_threads;
	bool stopping;
	struct ctl *c;
} nudger = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

void ctl_sgsync_nudge(struct ctl *c, struct json_object *hosts)
{
	(void)c;
	if (!hosts)
		return;
	pthread_mutex_lock(&nudger.lock);
	json_object_object_foreach(hosts, host, v)
	{
		bool queued = false;

		(void)v;
		if (!nudger.queue || strlen(host) >= HOST_ID_MAX)
			continue;
		for (size_t i = 0; i < nudger.n && !queued; i++)
			queued = streq(nudger.queue[i], host);
		if (queued)
			continue;
		if (nudger.n == NUDGE_QUEUE_MAX) {
			log_warn("security nudge queue full: left to the heartbeat", "host=%s", host);
			continue;
		}
		snprintf(nudger.queue[nudger.n++], HOST_ID_MAX, "%s", host);
	}
	pthread_cond_broadcast(&nudger.cond);
	pthread_mutex_unlock(&nudger.lock);
}

static void nudge_one(struct ctl *c, const char *host)
{
	struct json_object *body;
	long status = 0;
	int r;

	if (!ctl_host_alive(c, host))
		return;
	body = json_object_new_object();
	r = ctl_agent_call_short(c, host, "POST", "/v1/security/sync", body, &status, NULL);
	json_object_put(body);
	if (r == 0 && status == 200)
		log_debug("security nudge taken", "host=%s", host);
	else
		log_debug("security nudge not taken: left to the heartbeat", "host=%s status=%ld error=%s", host, status,
			  r < 0 ? strerror(-r) : "none");
}

static void *nudge_worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&nudger.lock);
	while (!nudger.stopping) {
		char host[HOST_ID_MAX];

		if (nudger.n == 0) {
			pthread_cond_wait(&nudger.cond, &nudger.lock);
			continue;
		}
		memcpy(host, nudger.queue[0], sizeof(host));
		memmove(nudger.queue[0], nudger.queue[1], (nudger.n - 1) * sizeof(nudger.queue[0]));
		nudger.n--;
		pthread_mutex_unlock(&nudger.lock);
		nudge_one(nudger.c, host);
		pthread_mutex_lock(&nudger.lock);
	}
	pthread_mutex_unlock(&nudger.lock);
	return NULL;
}

int ctl_sgsync_start(struct ctl *c)
{
	pthread_mutex_lock(&nudger.lock);
	nudger.c = c;
	nudger.stopping = false;
	nudger.n = 0;
	if (!nudger.queue)
		nudger.queue = calloc(NUDGE_QUEUE_MAX, sizeof(nudger.queue[0]));
	pthread_mutex_unlock(&nudger.lock);
	if (!nudger.queue)
		return -ENOMEM;
	for (int i = 0; i < NUDGE_THREADS; i++) {
		if (pthread_create(&nudger.threads[i], NULL, nudge_worker, NULL) != 0)
			return -EAGAIN;
		nudger.n_threads++;
	}
	return 0;
}

void ctl_sgsync_stop(struct ctl *c)
{
	(void)c;
	pthread_mutex_lock(&nudger.lock);
	nudger.stopping = true;
	pthread_cond_broadcast(&nudger.cond);
	pthread_mutex_unlock(&nudger.lock);
	for (int i = 0; i < nudger.n_threads; i++)
		pthread_join(nudger.threads[i], NULL);
	nudger.n_threads = 0;
	pthread_mutex_lock(&nudger.lock);
	free(nudger.queue);
	nudger.queue = NULL;
	nudger.n = 0;
	pthread_mutex_unlock(&nudger.lock);
}
