#include "ceph.h"

#include <errno.h>
#include <pthread.h>
#include <rados/librados.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "log.h"
#include "util.h"

#define MAX_AGENT_REPORTS 4096

struct agent_report {
	char host[64];
	char message[192];
	long long at;
};

struct ctl_ceph {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool running, stopping;
	struct ctl_ceph_snap *latest; /* published; freed by its last holder once replaced */
	struct agent_report reports[MAX_AGENT_REPORTS]; /* agents that cannot reach the cluster */
	size_t n_reports;
	rados_t cluster;
	bool connected;
};

const char *ctl_storage_name(enum ctl_storage s)
{
	switch (s) {
	case CTL_STORAGE_OK:
		return "ok";
	case CTL_STORAGE_DOWN:
		return "down";
	case CTL_STORAGE_UNKNOWN:
		return "unknown";
	default:
		return "none";
	}
}

/* ---- parsing ---- */

static int parse_fail(struct ctl_ceph_snap *snap, const char *what)
{
	snprintf(snap->error, sizeof(snap->error), "cannot read the cluster's %s", what);
	return -EBADMSG;
}

static void parse_health(struct json_object *health, struct ctl_ceph_snap *snap)
{
	struct json_object *checks = ecs_json_get(health, "checks");

	snprintf(snap->health, sizeof(snap->health), "%s", ecs_json_str(health, "status", ""));
	if (!json_object_is_type(checks, json_type_object))
		return;
	json_object_object_foreach(checks, name, check)
	{
		struct ctl_ceph_check *k;

		if (snap->n_checks == CTL_CEPH_MAX_CHECKS)
			break;
		k = &snap->checks[snap->n_checks++];
		snprintf(k->name, sizeof(k->name), "%s", name);
		snprintf(k->severity, sizeof(k->severity), "%s", ecs_json_str(check, "severity", ""));
		snprintf(k->summary, sizeof(k->summary), "%s",
			 ecs_json_str(ecs_json_get(check, "summary"), "message", ""));
	}
}

static void parse_pools(struct json_object *df, struct ctl_ceph_snap *snap)
{
	struct json_object *pools = ecs_json_get(df, "pools");

	for (size_t i = 0; json_object_is_type(pools, json_type_array) && i < json_object_array_length(pools) &&
			   snap->n_pools < CTL_CEPH_MAX_POOLS;
	     i++) {
		struct json_object *p = json_object_array_get_idx(pools, i), *stats = ecs_json_get(p, "stats");
		struct ctl_ceph_pool *o = &snap->pools[snap->n_pools++];

		snprintf(o->name, sizeof(o->name), "%s", ecs_json_str(p, "name", ""));
		o->stored = ecs_json_int(stats, "stored", 0);
		o->max_avail = ecs_json_int(stats, "max_avail", 0);
	}
}

/* "osd tree": nodes of type host list their OSDs' ids as children; an OSD node has its
 * status ("up"/"down") and reweight (0: out). */
static void parse_tree(struct json_object *tree, struct ctl_ceph_snap *snap)
{
	struct json_object *nodes = ecs_json_get(tree, "nodes"), *stray = ecs_json_get(tree, "stray");
	size_t n = json_object_is_type(nodes, json_type_array) ? json_object_array_length(nodes) : 0;

	for (int pass = 0; pass < 2; pass++) {
		struct json_object *list = pass == 0 ? nodes : stray;
		size_t len = json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;

		for (size_t i = 0; i < len && snap->n_osds < CTL_CEPH_MAX_OSDS; i++) {
			struct json_object *o = json_object_array_get_idx(list, i);
			struct ctl_ceph_osd *d;

			if (!streq(ecs_json_str(o, "type", ""), "osd"))
				continue;
			d = &snap->osds[snap->n_osds++];
			memset(d, 0, sizeof(*d));
			d->id = (int)ecs_json_int(o, "id", -1);
			d->up = streq(ecs_json_str(o, "status", ""), "up");
			d->in = json_object_get_double(ecs_json_get(o, "reweight")) > 0;
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *h = json_object_array_get_idx(nodes, i), *kids = ecs_json_get(h, "children");

		if (!streq(ecs_json_str(h, "type", ""), "host") || !json_object_is_type(kids, json_type_array))
			continue;
		for (size_t k = 0; k < json_object_array_length(kids); k++) {
			int id = json_object_get_int(json_object_array_get_idx(kids, k));

			for (size_t j = 0; j < snap->n_osds; j++)
				if (snap->osds[j].id == id)
					snprintf(snap->osds[j].host, sizeof(snap->osds[j].host), "%s",
						 ecs_json_str(h, "name", ""));
		}
	}
}

int ctl_ceph_parse(const char *status_json, const char *df_json, const char *tree_json, struct ctl_ceph_snap *snap)
{
	struct json_object *status = NULL, *df = NULL, *tree = NULL;
	const char *perr;
	int r = 0;

	snap->n_checks = snap->n_pools = snap->n_osds = 0;
	if (ecs_json_parse(status_json, strlen(status_json), &status, &perr) < 0 ||
	    !json_object_is_type(ecs_json_get(status, "health"), json_type_object))
		r = parse_fail(snap, "status");
	else if (ecs_json_parse(df_json, strlen(df_json), &df, &perr) < 0 || !ecs_json_get(df, "pools"))
		r = parse_fail(snap, "df");
	else if (ecs_json_parse(tree_json, strlen(tree_json), &tree, &perr) < 0 || !ecs_json_get(tree, "nodes"))
		r = parse_fail(snap, "osd tree");
	if (r == 0) {
		parse_health(ecs_json_get(status, "health"), snap);
		parse_pools(df, snap);
		parse_tree(tree, snap);
		snap->error[0] = '\0';
	}
	json_object_put(status);
	json_object_put(df);
	json_object_put(tree);
	return r;
}

/* ---- a host's state ---- */

enum ctl_storage ctl_storage_of(const struct ctl_ceph_snap *snap, long long now, long long stale_after_s,
				const char *host, bool agent_down, char *why, size_t why_size)
{
	size_t n = 0;
	int off = 0;

	why[0] = '\0';
	if (!snap)
		return CTL_STORAGE_NONE;
	if (agent_down) {
		snprintf(why, why_size, "its agent cannot reach the storage cluster");
		return CTL_STORAGE_DOWN;
	}
	if (snap->taken_at == 0 || now - snap->taken_at > stale_after_s) {
		snprintf(why, why_size, "no reading of the storage cluster for %llds%s%s",
			 snap->taken_at ? now - snap->taken_at : 0, snap->error[0] ? ": " : "", snap->error);
		return CTL_STORAGE_UNKNOWN;
	}
	for (size_t i = 0; i < snap->n_osds; i++) {
		if (!streq(snap->osds[i].host, host) || snap->osds[i].up)
			continue;
		if (n++ == 0)
			off = snprintf(why, why_size, "osd.%d", snap->osds[i].id);
		else if (off >= 0 && (size_t)off < why_size)
			off += snprintf(why + off, why_size - off, ", osd.%d", snap->osds[i].id);
	}
	if (n) {
		if (off >= 0 && (size_t)off < why_size)
			snprintf(why + off, why_size - off, " down");
		return CTL_STORAGE_DOWN;
	}
	return CTL_STORAGE_OK;
}

/* ---- the snapshot ---- */

/* Each snapshot counts its holders (latest counts as one) under w->lock; the last frees it. */
static void unhold(const struct ctl_ceph_snap *snap, struct ctl_ceph_snap **ret_gone)
{
	struct ctl_ceph_snap *s = (struct ctl_ceph_snap *)snap;

	*ret_gone = s && --s->holders == 0 ? s : NULL;
}

void ctl_ceph_publish(struct ctl *c, struct ctl_ceph_snap *snap)
{
	struct ctl_ceph *w = c->ceph;
	struct ctl_ceph_snap *gone;

	snap->holders = 1;
	pthread_mutex_lock(&w->lock);
	unhold(w->latest, &gone);
	w->latest = snap;
	pthread_mutex_unlock(&w->lock);
	free(gone);
}

const struct ctl_ceph_snap *ctl_ceph_acquire(struct ctl *c)
{
	struct ctl_ceph *w = c->ceph;
	struct ctl_ceph_snap *s;

	if (!w)
		return NULL;
	pthread_mutex_lock(&w->lock);
	s = w->latest;
	if (s)
		s->holders++;
	pthread_mutex_unlock(&w->lock);
	return s;
}

void ctl_ceph_release(struct ctl *c, const struct ctl_ceph_snap *snap)
{
	struct ctl_ceph *w = c->ceph;
	struct ctl_ceph_snap *gone;

	if (!w || !snap)
		return;
	pthread_mutex_lock(&w->lock);
	unhold(snap, &gone);
	pthread_mutex_unlock(&w->lock);
	free(gone);
}

void ctl_ceph_agent_report(struct ctl *c, const char *host, bool reachable, const char *message)
{
	struct ctl_ceph *w = c->ceph;
	size_t i;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	for (i = 0; i < w->n_reports && !streq(w->reports[i].host, host); i++)
		;
	if (reachable) {
		if (i < w->n_reports)
			w->reports[i] = w->reports[--w->n_reports];
	} else if (i < w->n_reports || w->n_reports < MAX_AGENT_REPORTS) {
		if (i == w->n_reports)
			w->n_reports++;
		snprintf(w->reports[i].host, sizeof(w->reports[i].host), "%s", host);
		snprintf(w->reports[i].message, sizeof(w->reports[i].message), "%s", message ? message : "");
		w->reports[i].at = time(NULL);
	}
	pthread_mutex_unlock(&w->lock);
}

static long long stale_after(struct ctl *c)
{
	return 3LL * c->cfg.ceph_interval_s + c->cfg.ceph_timeout_s * 3LL;
}

enum ctl_storage ctl_ceph_host_state(struct ctl *c, const struct ctl_ceph_snap *snap, const char *host, char *why,
				     size_t why_size)
{
	struct ctl_ceph *w = c->ceph;
	long long now = time(NULL);
	bool agent_down = false;
	char msg[192] = "";
	enum ctl_storage s;

	if (!w) {
		why[0] = '\0';
		return CTL_STORAGE_NONE;
	}
	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; i < w->n_reports; i++)
		if (streq(w->reports[i].host, host) && now - w->reports[i].at <= stale_after(c)) {
			agent_down = true;
			snprintf(msg, sizeof(msg), "%s", w->reports[i].message);
		}
	pthread_mutex_unlock(&w->lock);
	if (!snap) {
		static const struct ctl_ceph_snap never;

		snap = &never; /* not read yet: unknown, unless the agent says down */
	}
	s = ctl_storage_of(snap, now, stale_after(c), host, agent_down, why, why_size);
	if (agent_down && msg[0])
		snprintf(why, why_size, "its agent cannot reach the storage cluster: %s", msg);
	return s;
}

/* ---- the reading thread ---- */

static int mon_json(struct ctl_ceph *w, const char *cmd, char **ret, char *err, size_t err_size)
{
	const char *cmds[1] = { cmd };
	char *out = NULL, *outs = NULL;
	size_t outlen = 0, outslen = 0;
	int r = rados_mon_command(w->cluster, cmds, 1, "", 0, &out, &outlen, &outs, &outslen);

	if (r < 0) {
		snprintf(err, err_size, "%s: %s%s%.*s", cmd, strerror(-r), outslen ? ": " : "", (int)outslen,
			 outs ? outs : "");
	} else {
		*ret = strndup(out ? out : "", outlen);
		r = *ret ? 0 : -ENOMEM;
	}
	rados_buffer_free(out);
	rados_buffer_free(outs);
	return r;
}

int ctl_ceph_connect(struct ctl *c, rados_t *ret, char *err, size_t err_size)
{
	_cleanup_free_ char *name = ecs_strdup_printf("client.%s", c->cfg.ceph_user);
	char t[16];
	int r;

	snprintf(t, sizeof(t), "%d", c->cfg.ceph_timeout_s);
	r = name ? rados_create2(ret, "ceph", name, 0) : -ENOMEM;
	if (r < 0) {
		snprintf(err, err_size, "rados_create2: %s", strerror(-r));
		return r;
	}
	if ((r = rados_conf_read_file(*ret, c->cfg.ceph_conf)) < 0)
		snprintf(err, err_size, "cannot read %s: %s", c->cfg.ceph_conf, strerror(-r));
	else if ((c->cfg.ceph_keyring[0] && (r = rados_conf_set(*ret, "keyring", c->cfg.ceph_keyring)) < 0) ||
		 (r = rados_conf_set(*ret, "client_mount_timeout", t)) < 0 ||
		 (r = rados_conf_set(*ret, "rados_mon_op_timeout", t)) < 0 ||
		 (r = rados_conf_set(*ret, "rados_osd_op_timeout", t)) < 0)
		snprintf(err, err_size, "cannot configure the client: %s", strerror(-r));
	else if ((r = rados_connect(*ret)) < 0)
		snprintf(err, err_size, "cannot connect as %s: %s", name, strerror(-r));
	if (r < 0)
		rados_shutdown(*ret);
	return r;
}

static int connect_cluster(struct ctl *c, char *err, size_t err_size)
{
	struct ctl_ceph *w = c->ceph;
	int r;

	if (w->connected)
		return 0;
	r = ctl_ceph_connect(c, &w->cluster, err, err_size);
	if (r == 0)
		w->connected = true;
	return r;
}

static void read_cluster(struct ctl *c)
{
	struct ctl_ceph *w = c->ceph;
	struct ctl_ceph_snap *snap = calloc(1, sizeof(*snap));
	const struct ctl_ceph_snap *prev;
	_cleanup_free_ char *status = NULL, *df = NULL, *tree = NULL;
	char err[256] = "";
	bool was_ok;
	int r;

	if (!snap)
		return;
	r = connect_cluster(c, err, sizeof(err));
	if (r == 0 && (r = mon_json(w, "{\"prefix\":\"status\",\"format\":\"json\"}", &status, err, sizeof(err))) == 0 &&
	    (r = mon_json(w, "{\"prefix\":\"df\",\"format\":\"json\"}", &df, err, sizeof(err))) == 0 &&
	    (r = mon_json(w, "{\"prefix\":\"osd tree\",\"format\":\"json\"}", &tree, err, sizeof(err))) == 0) {
		r = ctl_ceph_parse(status, df, tree, snap);
		if (r < 0)
			snprintf(err, sizeof(err), "%s", snap->error);
	}
	if (r == 0) {
		snap->taken_at = time(NULL);
		ctl_ceph_publish(c, snap);
		return;
	}
	/* The last good reading stays, with its age and this failure beside it. */
	if (w->connected) {
		rados_shutdown(w->cluster);
		w->connected = false;
	}
	prev = ctl_ceph_acquire(c);
	if (prev)
		*snap = *prev;
	was_ok = !prev || prev->error[0] == '\0';
	ctl_ceph_release(c, prev);
	snprintf(snap->error, sizeof(snap->error), "%s", err);
	snap->failed_at = time(NULL);
	if (was_ok)
		log_warn("cannot read the storage cluster", "error=\"%s\"", err);
	ctl_ceph_publish(c, snap);
}

static void *reader(void *arg)
{
	struct ctl *c = arg;
	struct ctl_ceph *w = c->ceph;

	for (;;) {
		struct timespec until;

		read_cluster(c);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += c->cfg.ceph_interval_s;
		pthread_mutex_lock(&w->lock);
		while (!w->stopping && pthread_cond_timedwait(&w->wake, &w->lock, &until) == 0)
			;
		if (w->stopping) {
			pthread_mutex_unlock(&w->lock);
			break;
		}
		pthread_mutex_unlock(&w->lock);
	}
	if (w->connected)
		rados_shutdown(w->cluster);
	w->connected = false;
	return NULL;
}

int ctl_ceph_new(struct ctl *c)
{
	struct ctl_ceph *w;

	c->ceph = NULL;
	if (!c->cfg.ceph_conf || !c->cfg.ceph_conf[0])
		return 0;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	c->ceph = w;
	return 0;
}

int ctl_ceph_start(struct ctl *c)
{
	struct ctl_ceph *w = c->ceph;
	int r;

	if (!w)
		return 0;
	r = -pthread_create(&w->thread, NULL, reader, c);
	if (r < 0)
		return r;
	w->running = true;
	log_info("watching the storage cluster", "conf=%s user=client.%s interval_s=%d", c->cfg.ceph_conf,
		 c->cfg.ceph_user, c->cfg.ceph_interval_s);
	return 0;
}

void ctl_ceph_stop(struct ctl *c)
{
	struct ctl_ceph *w = c->ceph;

	if (!w || !w->running)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_broadcast(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	w->running = false;
}

void ctl_ceph_free(struct ctl *c)
{
	struct ctl_ceph *w = c->ceph;

	if (!w)
		return;
	ctl_ceph_stop(c);
	free(w->latest);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->wake);
	free(w);
	c->ceph = NULL;
}
