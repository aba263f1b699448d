#include "scheduler.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ceph.h"
#include "common.h"
#include "deployset.h"
#include "json.h"
#include "log.h"
#include "store.h"
#include "util.h"

static bool has_image(const char *images_json, const char *image)
{
	struct json_object *arr = NULL;
	const char *perr;
	bool found = false;

	if (ecs_json_parse(images_json, strlen(images_json), &arr, &perr) < 0)
		return false;
	for (size_t i = 0; json_object_is_type(arr, json_type_array) && i < json_object_array_length(arr); i++)
		found = found || streq(json_object_get_string(json_object_array_get_idx(arr, i)), image);
	json_object_put(arr);
	return found;
}

/* A drained host (DrainHost, migrate.h) takes no new instance. */
static bool drained(sqlite3 *db, const char *host)
{
	sqlite3_stmt *st = ctl_db_prepare(db, "SELECT drained FROM hosts WHERE host_id = ?1");
	bool yes;

	if (!st)
		return false;
	sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC);
	yes = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) != 0;
	sqlite3_finalize(st);
	return yes;
}

/* The best host so far by the weigher. */
struct pick {
	bool found;
	double best;
	char host[64];
};

static void weigh(const struct ctl *c, struct pick *p, const char *host, double free_mem)
{
	/* Spread: the most free memory; stack: the least that still fits. */
	if (!p->found || (c->cfg.stack ? free_mem < p->best : free_mem > p->best)) {
		p->best = free_mem;
		snprintf(p->host, sizeof(p->host), "%s", host);
		p->found = true;
	}
}

/* The deployment set filter (deployset.h): a host that fits but would break the set's rule
 * is weighed apart (`broken`), as the fallback a soft rule takes when no host keeps it.
 * Returns 0 with the host, -ENOSPC (no host fits at all) or -EXFULL (hosts fit, none keeps
 * the set's rule). */
static int deployset_choose(sqlite3 *db, const struct ctl_sched_request *rq, const struct ctl_deployset_rule *rule,
			    const struct pick *kept, const struct pick *broken, char ret_host[64])
{
	if (kept->found) {
		snprintf(ret_host, 64, "%s", kept->host);
		return 0;
	}
	if (!broken->found)
		return -ENOSPC;
	if (!rule->soft)
		return -EXFULL;
	snprintf(ret_host, 64, "%s", broken->host);
	return ctl_deployset_rule_broken(db, rule, rq->instance_id);
}

int ctl_schedule(struct ctl *c, sqlite3 *db, const struct ctl_sched_request *rq, char ret_host[64])
{
	/* Room used on each host by every instance booked there. */
	sqlite3_stmt *st = ctl_db_prepare(
		db, "SELECT h.host_id, h.zone_id, h.vcpus, h.memory_mib, h.disk_gib, h.max_instances, h.images,"
		    " COALESCE(u.vcpus, 0), COALESCE(u.memory_mib, 0), COALESCE(u.n, 0), COALESCE(d.disk_gib, 0)"
		    " FROM hosts h"
		    " LEFT JOIN (SELECT host_id, sum(vcpus) AS vcpus, sum(memory_mib) AS memory_mib, count(*) AS n"
		    "            FROM instances WHERE deleted = 0 GROUP BY host_id) u ON u.host_id = h.host_id"
		    " LEFT JOIN (SELECT host_id, sum(size_gib) AS disk_gib FROM disks WHERE deleted = 0"
		    "            GROUP BY host_id) d ON d.host_id = h.host_id"
		    " WHERE h.last_seen >= ?1 ORDER BY h.host_id");
	const struct ctl_ceph_snap *storage;
	struct ctl_deployset_rule rule;
	struct pick kept = { 0 }, broken = { 0 };
	int r;

	if (!st)
		return -EIO;
	if (ctl_deployset_rule_load(db, rq->deployment_set_id, rq->instance_id, &rule) < 0) {
		sqlite3_finalize(st);
		ctl_deployset_rule_clear(&rule);
		return -EIO;
	}
	storage = ctl_ceph_acquire(c);
	sqlite3_bind_int64(st, 1, time(NULL) - c->cfg.host_dead_after_s);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *host = (const char *)sqlite3_column_text(st, 0);
		const char *zone = (const char *)sqlite3_column_text(st, 1);
		double cpu_cap = sqlite3_column_int(st, 2) * c->cfg.cpu_ratio;
		double mem_cap = (sqlite3_column_int(st, 3) - c->cfg.reserved_host_memory_mib) * c->cfg.ram_ratio;
		double disk_cap = sqlite3_column_int(st, 4) * c->cfg.disk_ratio;
		int max_inst = sqlite3_column_int(st, 5);
		double free_mem = mem_cap - sqlite3_column_int64(st, 8);
		bool excluded = false, fits;

		for (size_t i = 0; i < rq->n_exclude && !excluded; i++)
			excluded = streq(rq->exclude[i], host);
		fits = !excluded && (!rq->zone_id || streq(rq->zone_id, zone)) &&
		       (!rq->system_image || has_image((const char *)sqlite3_column_text(st, 6), rq->image_id)) &&
		       sqlite3_column_int64(st, 7) + rq->vcpus <= cpu_cap && rq->memory_mib <= free_mem &&
		       sqlite3_column_int64(st, 10) + rq->disk_gib <= disk_cap && sqlite3_column_int(st, 9) < max_inst;
		if (!fits || drained(db, host))
			continue;
		/* Storage: a host whose OSDs are down, or whose agent cannot reach the cluster, would
		 * only fail the instance's disks. */
		{
			char why[256];

			if (ctl_ceph_host_state(c, storage, host, why, sizeof(why)) == CTL_STORAGE_DOWN) {
				log_info("host skipped", "host=%s reason=\"storage down: %s\"", host, why);
				continue;
			}
		}
		weigh(c, ctl_deployset_rule_allows(&rule, host, zone) ? &kept : &broken, host, free_mem);
	}
	sqlite3_finalize(st);
	ctl_ceph_release(c, storage);
	r = deployset_choose(db, rq, &rule, &kept, &broken, ret_host);
	ctl_deployset_rule_clear(&rule);
	return r;
}

/* The alive, undrained host (of zone, if given) holding the fewest LBs and public IPs. */
int ctl_schedule_lb(struct ctl *c, sqlite3 *db, const char *zone, char host[64], char zone_out[64])
{
	sqlite3_stmt *st = ctl_db_prepare(
		db, "SELECT h.host_id, h.zone_id FROM hosts h WHERE h.last_seen >= ?1 AND h.drained = 0 AND"
		    " (?2 IS NULL OR h.zone_id = ?2)"
		    " ORDER BY (SELECT count(*) FROM load_balancers l WHERE l.host_id = h.host_id AND l.deleted = 0) +"
		    " (SELECT count(*) FROM public_ips p WHERE p.host_id = h.host_id AND p.owner_id LIKE 'i-%'),"
		    " h.host_id LIMIT 1");
	int r = -ENOSPC;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, time(NULL) - c->cfg.host_dead_after_s);
	if (zone)
		sqlite3_bind_text(st, 2, zone, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(host, 64, "%s", ctl_col(st, 0));
		snprintf(zone_out, 64, "%s", ctl_col(st, 1));
		r = 0;
	}
	sqlite3_finalize(st);
	return r;
}
