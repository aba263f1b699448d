/* heal.c: hosts that heal (docs/cluster.md, "When a host dies").
 *
 * A thread looks at the hosts every heal_interval (a fifth of host_dead_after_s, at least
 * 1 s):
 *  1. detection: a host silent for host_dead_after_s is "down";
 *  2. confirmation with Ceph: a down host that still holds its storage (an OSD of it up in
 *     a fresh reading of the cluster; for a host without OSDs, a watch on a disk image of
 *     one of its instances from its address) only lost the controller: it is not declared
 *     dead and nothing moves;
 *  3. fencing: otherwise its address is blocklisted in the cluster (`osd blocklist add
 *     IP:0/0`: every client from it, its QEMUs included, cannot write another byte) and it
 *     is "dead";
 *  4. recovery: each instance of a dead host is placed by the scheduler (same filters) on
 *     another host and created there with the same id, disks, private IP, MAC, groups and key
 *     pair; an event SystemFailure.Reboot records it (Executing, then Executed once Running);
 *     a silent host holding load balancers is confirmed and fenced the same way: they move
 *     off it once it is dead (ctl_slbsync_failover);
 *  5. a revived host's agent asks which of its instances moved (POST
 *     /agent/v1/instances/moved) and removes them before starting anything; once it has
 *     none left (evicted_at), its blocklist entry is removed.
 * Without [ceph] nothing is confirmed, so nothing is fenced and no instance moves (load
 * balancers still leave a host silent for host_dead_after_s, slbsync.c). */
#include "heal.h"

#include <errno.h>
#include <pthread.h>
#include <rados/librados.h>
#include <rbd/librbd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ceph.h"
#include "common.h"
#include "id.h"
#include "instance.h"
#include "jobs.h"
#include "json.h"
#include "log.h"
#include "sgsync.h"
#include "store.h"
#include "util.h"

#define MAX_HOSTS 256
#define BLOCKLIST_EXPIRE_S 604800 /* a week: lifted long before, by the revived agent */

struct heal_host {
	char id[64], ip[64], state[16], fenced[80];
	long long last_seen, fenced_at, evicted_at;
};

static pthread_t thread;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static bool running, stopping;

void ctl_heal_host_ip(const char *underlay_ip, const char *api_url, char ip[64])
{
	const char *p = api_url;
	size_t n;

	if (underlay_ip && *underlay_ip) {
		snprintf(ip, 64, "%s", underlay_ip);
		return;
	}
	ip[0] = '\0';
	if (!p)
		return;
	p = strstr(p, "://") ? strstr(p, "://") + 3 : p;
	n = strcspn(p, ":/");
	if (n < 64)
		snprintf(ip, 64, "%.*s", (int)n, p);
}

bool ctl_heal_addr_of(const char *watcher_addr, const char *ip)
{
	const char *a = watcher_addr;
	size_t n = strlen(ip);

	if (!n)
		return false;
	if (str_has_prefix(a, "v1:") || str_has_prefix(a, "v2:"))
		a += 3;
	return strncmp(a, ip, n) == 0 && a[n] == ':';
}

static int mon_command(rados_t cluster, const char *cmd, char *err, size_t err_size)
{
	const char *cmds[1] = { cmd };
	char *out = NULL, *outs = NULL;
	size_t outlen = 0, outslen = 0;
	int r = rados_mon_command(cluster, cmds, 1, "", 0, &out, &outlen, &outs, &outslen);

	if (r < 0)
		snprintf(err, err_size, "%s: %.*s", strerror(-r), (int)outslen, outs ? outs : "");
	rados_buffer_free(out);
	rados_buffer_free(outs);
	return r;
}

static int blocklist(rados_t cluster, const char *op, const char *ip, char *err, size_t err_size)
{
	_cleanup_free_ char *cmd =
		streq(op, "add") ? ecs_strdup_printf("{\"prefix\":\"osd blocklist\",\"blocklistop\":\"add\",\"addr\":\"%s:0/0\","
						     "\"expire\":%d.0}",
						     ip, BLOCKLIST_EXPIRE_S)
				 : ecs_strdup_printf("{\"prefix\":\"osd blocklist\",\"blocklistop\":\"rm\",\"addr\":\"%s:0/0\"}", ip);

	return cmd ? mon_command(cluster, cmd, err, err_size) : -ENOMEM;
}

/* The host's OSDs (its CRUSH host bucket) in a fresh reading of the cluster: 1 one is up,
 * 0 all are down, -ENOENT it has none, -EAGAIN no fresh reading. */
static int osds_up(struct ctl *c, const char *host)
{
	const struct ctl_ceph_snap *snap = ctl_ceph_acquire(c);
	long long fresh_after = time(NULL) - 3LL * (c->cfg.ceph_interval_s + c->cfg.ceph_timeout_s);
	int r = -ENOENT;

	if (!snap || snap->error[0] || snap->taken_at < fresh_after)
		r = -EAGAIN;
	for (size_t i = 0; r != -EAGAIN && snap && i < snap->n_osds && r != 1; i++)
		if (streq(snap->osds[i].host, host))
			r = snap->osds[i].up ? 1 : 0;
	ctl_ceph_release(c, snap);
	return r;
}

/* Whether the host still holds its storage: an OSD of it up (a host with OSDs), or a client
 * at ip watching a disk image of its instances (a host without). 1 yes, 0 no, < 0 unknown
 * (no fresh reading of the cluster, or the images could not be read). */
static int holds_storage(struct ctl *c, rados_t cluster, sqlite3 *db, const char *host, const char *ip)
{
	sqlite3_stmt *st = ctl_db_prepare_args(db,
					       "SELECT d.disk_id FROM disks d JOIN instances i ON i.instance_id = d.instance_id"
					       " WHERE i.host_id = ?1 AND i.deleted = 0 AND d.deleted = 0",
					       &host, 1);
	rados_ioctx_t io;
	int r, holds = 0;

	if (!st)
		return -EIO;
	/* A host with OSDs holds its storage while one of them is up: once the cluster marked
	 * them all down it is gone from the storage network. (Its clients' watches are no
	 * witness then: those of a killed QEMU linger until the fence drops them.) */
	r = osds_up(c, host);
	if (r != -ENOENT) {
		sqlite3_finalize(st);
		return r;
	}
	r = rados_ioctx_create(cluster, c->cfg.ceph_rbd_pool, &io);
	if (r < 0) {
		sqlite3_finalize(st);
		return r;
	}
	while (holds == 0 && sqlite3_step(st) == SQLITE_ROW) {
		_cleanup_free_ char *name = ecs_strdup_printf("disk-%s", ctl_col(st, 0));
		rbd_image_watcher_t w[64];
		size_t n = ARRAY_SIZE(w);
		rbd_image_t img;

		if (!name)
			continue;
		r = rbd_open_read_only(io, name, &img, NULL);
		if (r == -ENOENT)
			continue; /* never made (a file disk, or a create cut short) */
		if (r < 0) {
			holds = r;
			break;
		}
		r = rbd_watchers_list(img, w, &n);
		if (r < 0) {
			holds = r;
		} else {
			for (size_t i = 0; i < n && !holds; i++)
				if (ctl_heal_addr_of(w[i].addr, ip))
					holds = 1;
			rbd_watchers_list_cleanup(w, n);
		}
		rbd_close(img);
	}
	sqlite3_finalize(st);
	rados_ioctx_destroy(io);
	return holds;
}

static int set_host(sqlite3 *db, const char *sql, const char *host, const char *val)
{
	const char *args[2] = { host, val ? val : "" };

	return ctl_db_run(db, sql, args, 2);
}

/* One instance of a dead host: placed elsewhere, created there, an event recorded. */
static int recover_one(struct ctl *c, const char *host, const char *id, bool start)
{
	struct json_object *nudge = json_object_new_object(), *args = json_object_new_object();
	const char *exclude[1] = { host };
	char to[64] = "", eid[ECS_ID_MAX];
	sqlite3 *db = ctl_db_get(c->store);
	int r = db ? 0 : -EIO;

	ecs_id_new(ECS_ID_INSTANCE, eid);
	eid[0] = 'e';
	ecs_jb_bool(args, "start", start);
	pthread_mutex_lock(&c->sched_lock);
	if (r == 0)
		r = ctl_db_tx_begin(db);
	if (r == 0)
		r = ctl_instance_place_elsewhere(c, db, id, host, exclude, 1, nudge, to);
	if (r == 0) {
		char now[24];
		const char *a[4] = { id, now, eid, host };

		snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
		r = ctl_db_run(db, "UPDATE instances SET status = CASE WHEN desired = 'running' THEN 'Starting' ELSE status END,"
				   " error = '', transition_at = ?2 WHERE instance_id = ?1", a, 2);
		if (r == 0)
			r = ctl_db_run(db, "INSERT INTO instance_events (event_id, instance_id, event_type, status, reason,"
					   " not_before, published_at, finished_at) VALUES (?3, ?1, 'SystemFailure.Reboot',"
					   " 'Executing', 'host ' || ?4 || ' failed: restarted on another host', ?2, ?2, 0)",
				       a, 4);
	}
	if (r == 0)
		r = ctl_jobs_add(db, "instance", id, "create", args);
	if (r == 0)
		r = ctl_db_tx_commit(db);
	ctl_db_put(c->store, db);
	pthread_mutex_unlock(&c->sched_lock);
	if (r == 0) {
		log_warn("instance recovered on another host", "instance=%s from=%s to=%s event=%s", id, host, to, eid);
		ctl_sgsync_nudge(c, nudge);
		ctl_jobs_kick(c);
	} else {
		log_warn("instance of a dead host not placed yet", "instance=%s host=%s error=%s", id, host, strerror(-r));
	}
	json_object_put(nudge);
	json_object_put(args);
	return r;
}

static void recover(struct ctl *c, const char *host)
{
	sqlite3 *db = ctl_db_get(c->store);
	sqlite3_stmt *st = db ? ctl_db_prepare_args(db,
						    "SELECT instance_id, desired FROM instances WHERE host_id = ?1 AND"
						    " deleted = 0 AND desired != 'deleted' ORDER BY instance_id",
						    &host, 1)
			      : NULL;
	struct json_object *todo = json_object_new_object();

	while (st && sqlite3_step(st) == SQLITE_ROW)
		ecs_jb_bool(todo, ctl_col(st, 0), streq(ctl_col(st, 1), "running"));
	sqlite3_finalize(st);
	ctl_db_put(c->store, db);
	json_object_object_foreach(todo, id, start)
	{
		recover_one(c, host, id, json_object_get_boolean(start));
	}
	json_object_put(todo);
}

static size_t read_hosts(struct ctl *c, struct heal_host *hosts)
{
	sqlite3 *db = ctl_db_get(c->store);
	sqlite3_stmt *st = db ? ctl_db_prepare(db, "SELECT host_id, underlay_ip, api_url, state, fenced_addr, last_seen,"
						   " fenced_at, evicted_at FROM hosts ORDER BY host_id")
			      : NULL;
	size_t n = 0;

	while (st && n < MAX_HOSTS && sqlite3_step(st) == SQLITE_ROW) {
		struct heal_host *h = &hosts[n++];

		snprintf(h->id, sizeof(h->id), "%s", ctl_col(st, 0));
		ctl_heal_host_ip(ctl_col(st, 1), ctl_col(st, 2), h->ip);
		snprintf(h->state, sizeof(h->state), "%s", ctl_col(st, 3));
		snprintf(h->fenced, sizeof(h->fenced), "%s", ctl_col(st, 4));
		h->last_seen = sqlite3_column_int64(st, 5);
		h->fenced_at = sqlite3_column_int64(st, 6);
		h->evicted_at = sqlite3_column_int64(st, 7);
	}
	sqlite3_finalize(st);
	ctl_db_put(c->store, db);
	return n;
}

static bool other_alive(sqlite3 *db, const char *host, long long since)
{
	char t[24];
	const char *args[2] = { host, t };
	sqlite3_stmt *st;
	bool yes;

	snprintf(t, sizeof(t), "%lld", since);
	st = ctl_db_prepare_args(db, "SELECT 1 FROM hosts WHERE host_id != ?1 AND last_seen >= CAST(?2 AS INTEGER)", args, 2);
	yes = st && sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return yes;
}

static int heal_connect(struct ctl *c, rados_t *cluster, bool *connected)
{
	char err[256];

	if (*connected)
		return 0;
	if (!c->ceph)
		return -ENOTCONN;
	if (ctl_ceph_connect(c, cluster, err, sizeof(err)) < 0) {
		log_warn("heal: cannot reach the storage cluster", "error=\"%s\"", err);
		return -EIO;
	}
	*connected = true;
	return 0;
}

static void pass(struct ctl *c, rados_t *cluster, bool *connected)
{
	static struct heal_host hosts[MAX_HOSTS];
	size_t n = read_hosts(c, hosts);
	long long now = time(NULL);
	char err[256] = "";

	for (size_t i = 0; i < n; i++) {
		struct heal_host *h = &hosts[i];
		bool silent = h->last_seen < now - c->cfg.host_dead_after_s;
		_cleanup_db_ struct ctl_db_conn conn = ctl_db_take(c->store);
		int r;

		if (!conn.db)
			return;
		if (!silent) {
			/* Back, and rid of what moved away: its clients may write again. */
			if (h->fenced[0] && h->evicted_at >= h->fenced_at && heal_connect(c, cluster, connected) == 0 &&
			    blocklist(*cluster, "rm", h->fenced, err, sizeof(err)) >= 0 &&
			    set_host(conn.db, "UPDATE hosts SET fenced_addr = '' WHERE host_id = ?1", h->id, NULL) == 0)
				log_warn("host unfenced: its moved instances are gone from it", "host=%s addr=%s", h->id,
					 h->fenced);
			continue;
		}
		if (streq(h->state, "up")) {
			set_host(conn.db, "UPDATE hosts SET state = 'down' WHERE host_id = ?1", h->id, NULL);
			log_warn("host down: no heartbeat", "host=%s silent_s=%lld", h->id, now - h->last_seen);
		}
		if (!streq(h->state, "dead")) {
			sqlite3_stmt *st;
			bool any;

			/* Its load balancers wait for the fence too (ctl_slbsync_failover). */
			st = ctl_db_prepare_args(conn.db, "SELECT 1 FROM instances WHERE host_id = ?1 AND deleted = 0 AND"
							  " desired != 'deleted' UNION ALL SELECT 1 FROM load_balancers"
							  " WHERE host_id = ?1 AND deleted = 0",
						 (const char *const[]){ h->id }, 1);
			any = st && sqlite3_step(st) == SQLITE_ROW;
			sqlite3_finalize(st);
			/* Nothing to move, no witness to ask, an address not its own alone (loopback: a
			 * fence would shut out every client of the machine), or no other host alive to
			 * take its instances: it stays down, unfenced. */
			if (!any || !c->ceph || !h->ip[0] || str_has_prefix(h->ip, "127.") ||
			    !other_alive(conn.db, h->id, now - c->cfg.host_dead_after_s))
				continue;
			if (heal_connect(c, cluster, connected) < 0)
				return;
			r = holds_storage(c, *cluster, conn.db, h->id, h->ip);
			if (r != 0) {
				if (!streq(h->state, "holding"))
					log_warn(r > 0 ? "host silent but still holds its storage: not dead"
						       : "host silent; its storage could not be read: not dead",
						 "host=%s addr=%s error=%s", h->id, h->ip, r < 0 ? strerror(-r) : "");
				set_host(conn.db, "UPDATE hosts SET state = 'holding' WHERE host_id = ?1", h->id, NULL);
				continue;
			}
			r = blocklist(*cluster, "add", h->ip, err, sizeof(err));
			if (r < 0) {
				log_warn("heal: cannot fence a dead host", "host=%s addr=%s error=\"%s\"", h->id, h->ip, err);
				continue;
			}
			r = set_host(conn.db, "UPDATE hosts SET state = 'dead', fenced_addr = ?2, fenced_at = CAST(strftime('%s')"
					      " AS INTEGER) WHERE host_id = ?1",
				     h->id, h->ip);
			if (r < 0)
				continue;
			log_warn("host dead: fenced in the storage cluster", "host=%s addr=%s silent_s=%lld", h->id, h->ip,
				 now - h->last_seen);
		}
		ctl_db_put(c->store, conn.db);
		conn.db = NULL;
		recover(c, h->id);
	}
	/* Heal's events end when their instance is as it was again (running, or stopped and
	 * made); other kinds (a migration's) are their owner's to end. */
	{
		_cleanup_db_ struct ctl_db_conn conn = ctl_db_take(c->store);

		if (conn.db)
			ctl_db_exec(conn.db, "UPDATE instance_events SET status = 'Executed', finished_at ="
					     " CAST(strftime('%s') AS INTEGER) WHERE status = 'Executing' AND event_type ="
					     " 'SystemFailure.Reboot' AND instance_id IN"
					     " (SELECT instance_id FROM instances i WHERE deleted = 0 AND (status = 'Running' OR"
					     " (desired = 'stopped' AND status = 'Stopped')) AND NOT EXISTS (SELECT 1 FROM jobs"
					     " WHERE resource_id = i.instance_id));"
					     "UPDATE instance_events SET status = 'Failed', finished_at = CAST(strftime('%s') AS"
					     " INTEGER) WHERE status = 'Executing' AND event_type = 'SystemFailure.Reboot' AND"
					     " instance_id IN (SELECT instance_id FROM instances WHERE deleted = 1 OR error != '');");
	}
}

static void *loop(void *arg)
{
	struct ctl *c = arg;
	rados_t cluster = NULL;
	bool connected = false;
	int every = c->cfg.host_dead_after_s / 5 > 1 ? c->cfg.host_dead_after_s / 5 : 1;

	for (;;) {
		struct timespec until;

		pass(c, &cluster, &connected);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += every;
		pthread_mutex_lock(&lock);
		while (!stopping && pthread_cond_timedwait(&wake, &lock, &until) == 0)
			;
		if (stopping) {
			pthread_mutex_unlock(&lock);
			break;
		}
		pthread_mutex_unlock(&lock);
	}
	if (connected)
		rados_shutdown(cluster);
	return NULL;
}

int ctl_heal_start(struct ctl *c)
{
	stopping = false;
	if (pthread_create(&thread, NULL, loop, c) != 0)
		return -EAGAIN;
	running = true;
	return 0;
}

void ctl_heal_stop(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&lock);
	stopping = true;
	pthread_cond_broadcast(&wake);
	pthread_mutex_unlock(&lock);
	pthread_join(thread, NULL);
	running = false;
}
