#include "reconcile.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "controller_call.h"
#include "domain.h"
#include "id.h"
#include "instance.h"
#include "instance_names.h"
#include "log.h"
#include "net.h"
#include "overlay.h"
#include "secgroup.h"
#include "slb.h"
#include "snapshot.h"
#include "storage.h"
#include "store.h"
#include "timeutil.h"
#include "util.h"
#include "virt.h"
#include "volume.h"

static pthread_t thread;
static bool started;
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static struct agent_reconcile_stats stats;

static bool older_than(const char *path, int seconds)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return false;
	return time(NULL) - st.st_mtime >= seconds;
}

/* Is name (a file in dir) referenced? keep() decides from the documents. */
typedef bool (*keep_fn)(struct json_object *docs, const char *name);

static bool keep_disk(struct json_object *docs, const char *name)
{
	char id[64];

	/* d-xxx.qcow2 of a known disk; its .tmp is a temporary. */
	if (sscanf(name, "%63[^.].qcow2", id) != 1 || !str_has_suffix(name, ".qcow2"))
		return false;
	return json_object_object_get_ex(docs, id, NULL);
}

static bool keep_by_id(struct json_object *docs, const char *name)
{
	return json_object_object_get_ex(docs, name, NULL);
}

static bool keep_snapshot(struct json_object *docs, const char *name)
{
	return keep_disk(docs, name);
}

static int collect(struct agent *a, const char *dir, const char *kind, keep_fn keep)
{
	struct json_object *docs = json_object_new_object();
	DIR *d;
	struct dirent *e;
	int removed = 0;

	if (kind && agent_store_list(a->store, kind, &docs) < 0)
		return 0;
	d = opendir(dir);
	if (!d) {
		json_object_put(docs);
		return 0;
	}
	while ((e = readdir(d))) {
		_cleanup_free_ char *p = NULL;

		if (streq(e->d_name, ".") || streq(e->d_name, ".."))
			continue;
		if (kind && keep(docs, e->d_name))
			continue;
		p = ecs_strdup_printf("%s/%s", dir, e->d_name);
		if (!p || !older_than(p, a->cfg.orphan_grace_s))
			continue;
		if (ecs_remove_tree(p) == 0) {
			log_info("orphan removed", "path=%s", p);
			removed++;
		}
	}
	closedir(d);
	json_object_put(docs);
	return removed;
}

/* Domains and taps the documents do not know. */
static int sweep_unknown(struct agent *a, struct json_object *instances)
{
	virConnectPtr conn = agent_virt_conn(a->virt);
	char **names = NULL, **taps = NULL;
	size_t n = 0, n_taps = 0;
	struct json_object *kept = json_object_new_object();
	int problems = 0;

	if (!conn)
		return 1;
	if (agent_domain_list(conn, &names, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			const char *id = names[i] + strlen(AGENT_DOMAIN_PREFIX);

			if (json_object_object_get_ex(instances, id, NULL))
				continue;
			switch (agent_controller_wanted(a, id)) {
			case AGENT_WANTED_NO:
				log_warn("removing a domain the controller does not want", "domain=%s", names[i]);
				agent_domain_remove(conn, names[i]);
				break;
			case AGENT_WANTED_YES:
			case AGENT_WANTED_UNKNOWN:
				log_warn("unknown domain kept until the controller says it is not wanted", "domain=%s",
					 names[i]);
				json_object_object_add(kept, id, NULL);
				problems++;
				break;
			}
		}
	}
	/* A tap is ours to remove when neither a document nor a kept domain claims it. */
	if (agent_net_list_links(a->net, a->cfg.tap_prefix, &taps, &n_taps) == 0) {
		for (size_t t = 0; t < n_taps; t++) {
			bool claimed = false;
			struct json_object *owners[2] = { instances, kept };

			for (size_t o = 0; o < 2 && !claimed; o++) {
				json_object_object_foreach(owners[o], id, v)
				{
					(void)v;
					for (unsigned k = 0; k < 10 && !claimed; k++) {
						_cleanup_free_ char *tap = agent_instance_tap_name(a, id, k);

						claimed = tap && streq(tap, taps[t]);
					}
				}
			}
			if (!claimed && !streq(taps[t], a->cfg.bridge)) {
				log_info("orphan tap removed", "tap=%s", taps[t]);
				agent_net_delete_link(a->net, taps[t]);
			}
			free(taps[t]);
		}
		free(taps);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	json_object_put(kept);
	virConnectClose(conn);
	return problems;
}

int agent_reconcile_once(struct agent *a)
{
	struct json_object *instances = NULL;
	int problems = 0;

	agent_snapshot_recover(a);
	if (agent_store_list(a->store, "instance", &instances) < 0)
		return 1;
	/* Before anything starts: what runs on another host now leaves this one. */
	agent_instance_evict_moved(a, instances);
	json_object_object_foreach(instances, id, doc)
	{
		(void)doc;
		if (agent_instance_converge(a, id) < 0)
			problems++;
	}
	problems += sweep_unknown(a, instances);
	json_object_put(instances);
	collect(a, a->disks_dir, "disk", keep_disk);
	collect(a, a->snapshots_dir, "snapshot", keep_snapshot);
	collect(a, a->instances_dir, "instance", keep_by_id);
	collect(a, a->images_dir, "image", keep_by_id);
	collect(a, a->tmp_dir, NULL, NULL);
	agent_storage_reconcile(a);
	agent_instance_refresh_guard(a);
	if (agent_secgroup_apply(a, true) < 0)
		problems++;
	problems += agent_slb_converge(a);
	if (a->net && agent_overlay_ensure(a) < 0)
		problems++;
	return problems;
}

static void *loop(void *arg)
{
	struct agent *a = arg;

	while (!a->stopping) {
		struct timespec ts;
		int64_t t0 = ecs_now_mono_ms();
		int problems = agent_reconcile_once(a);
		double took = (double)(ecs_now_mono_ms() - t0) / 1000.0;

		pthread_mutex_lock(&stats_lock);
		stats.passes++;
		stats.with_problems += problems > 0;
		stats.seconds_sum += took;
		stats.last_seconds = took;
		pthread_mutex_unlock(&stats_lock);
		if (problems)
			log_debug("reconcile pass", "problems=%d", problems);
		pthread_mutex_lock(&a->wake_lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += a->cfg.reconcile_interval_s;
		while (!a->stopping && !a->wake_pending && pthread_cond_timedwait(&a->wake, &a->wake_lock, &ts) == 0)
			;
		a->wake_pending = false;
		pthread_mutex_unlock(&a->wake_lock);
	}
	return NULL;
}

void agent_reconcile_stats(struct agent_reconcile_stats *ret)
{
	pthread_mutex_lock(&stats_lock);
	*ret = stats;
	pthread_mutex_unlock(&stats_lock);
}

int agent_reconcile_start(struct agent *a)
{
	if (pthread_create(&thread, NULL, loop, a) != 0)
		return -EAGAIN;
	started = true;
	return 0;
}

void agent_reconcile_stop(struct agent *a)
{
	if (!started)
		return;
	agent_kick(a);
	pthread_join(thread, NULL);
	started = false;
}
