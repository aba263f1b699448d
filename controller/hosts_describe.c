/* hosts_describe.c: DescribeHosts, an admin action (docs/ecs-api.md, "Admin actions"): each
 * host's capacity and use, its OSDs and storage state, and the storage cluster's health and
 * pools from the latest reading (ceph.h). Only accounts named in [controller]
 * admin_accounts may call it; any other gets 403 Forbidden. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ceph.h"
#include "common.h"
#include "hosts.h"
#include "json.h"
#include "params.h"
#include "util.h"

struct describe {
	struct ctl *c;
	const struct ctl_ceph_snap *snap;
	long long now;
};

/* "http://10.0.0.2:8774/" -> "10.0.0.2" */
static void url_host(const char *url, char *buf, size_t size)
{
	const char *p = strstr(url, "://");

	p = p ? p + 3 : url;
	snprintf(buf, size, "%.*s", (int)strcspn(p, ":/"), p);
}

static struct json_object *host_row(struct ctl_call *call, sqlite3_stmt *st, void *arg)
{
	struct describe *d = arg;
	struct json_object *h = json_object_new_object(), *osds;
	const char *id = ctl_col(st, 0);
	char addr[256], when[ECS_ISO8601_LEN + 1], why[256];
	enum ctl_storage s;

	(void)call;
	url_host(ctl_col(st, 1), addr, sizeof(addr));
	ctl_time_str(sqlite3_column_int64(st, 6), when);
	ecs_jb_str(h, "HostId", id);
	ecs_jb_str(h, "ZoneId", ctl_col(st, 2));
	ecs_jb_str(h, "Address", addr);
	ecs_jb_str(h, "ApiUrl", ctl_col(st, 1));
	ecs_jb_str(h, "UnderlayIp", ctl_col(st, 7));
	ecs_jb_str(h, "State", sqlite3_column_int64(st, 6) >= d->now - d->c->cfg.host_dead_after_s ? "up" : "down");
	ecs_jb_str(h, "Hypervisor", ctl_col(st, 11));
	ecs_jb_str(h, "LastHeartbeatTime", when);
	ecs_jb_int(h, "Cpu", sqlite3_column_int64(st, 3));
	ecs_jb_int(h, "CpuCapacity", (int64_t)(sqlite3_column_int64(st, 3) * d->c->cfg.cpu_ratio));
	ecs_jb_int(h, "UsedCpu", sqlite3_column_int64(st, 8));
	ecs_jb_int(h, "Memory", sqlite3_column_int64(st, 4));
	ecs_jb_int(h, "MemoryCapacity", (int64_t)((sqlite3_column_int64(st, 4) - d->c->cfg.reserved_host_memory_mib) *
						 d->c->cfg.ram_ratio));
	ecs_jb_int(h, "UsedMemory", sqlite3_column_int64(st, 9));
	ecs_jb_int(h, "InstanceCount", sqlite3_column_int64(st, 10));
	ecs_jb_int(h, "MaxInstances", sqlite3_column_int64(st, 5));
	ecs_jb_int(h, "Disk", sqlite3_column_int64(st, 12));
	/* DrainHost: it takes no new instance, its instances move off it (migrate.h). */
	ecs_jb_bool(h, "Drained", sqlite3_column_int(st, 13) != 0);
	s = ctl_ceph_host_state(d->c, d->snap, id, why, sizeof(why));
	ecs_jb_str(h, "StorageState", ctl_storage_name(s));
	ecs_jb_str(h, "StorageReason", why);
	osds = ecs_jb_list(h, "Osds", "Osd");
	for (size_t i = 0; d->snap && i < d->snap->n_osds; i++) {
		const struct ctl_ceph_osd *o = &d->snap->osds[i];
		struct json_object *j;
		char name[32];

		if (!streq(o->host, id))
			continue;
		j = json_object_new_object();
		snprintf(name, sizeof(name), "osd.%d", o->id);
		ecs_jb_int(j, "OsdId", o->id);
		ecs_jb_str(j, "Name", name);
		ecs_jb_str(j, "Status", o->up ? "up" : "down");
		ecs_jb_bool(j, "Up", o->up);
		ecs_jb_bool(j, "In", o->in);
		json_object_array_add(osds, j);
	}
	return h;
}

static void ceph_answer(struct describe *d, struct json_object *out)
{
	struct json_object *o = ecs_jb_obj(out, "Ceph"), *checks, *pools;
	const struct ctl_ceph_snap *s = d->snap;
	char when[ECS_ISO8601_LEN + 1] = "";

	ecs_jb_str(o, "Storage", d->c->ceph ? "ceph" : "none");
	ecs_jb_str(o, "Health", s && s->taken_at ? s->health : "");
	if (s && s->taken_at)
		ctl_time_str(s->taken_at, when);
	ecs_jb_str(o, "UpdatedAt", when);
	ecs_jb_int(o, "SnapshotAgeSeconds", s && s->taken_at ? d->now - s->taken_at : -1);
	ecs_jb_str(o, "Error", s ? s->error : (d->c->ceph ? "not read yet" : ""));
	checks = ecs_jb_list(o, "Checks", "Check");
	pools = ecs_jb_list(o, "Pools", "Pool");
	for (size_t i = 0; s && i < s->n_checks; i++) {
		struct json_object *k = json_object_new_object();

		ecs_jb_str(k, "Name", s->checks[i].name);
		ecs_jb_str(k, "Severity", s->checks[i].severity);
		ecs_jb_str(k, "Summary", s->checks[i].summary);
		json_object_array_add(checks, k);
	}
	for (size_t i = 0; s && i < s->n_pools; i++) {
		struct json_object *p = json_object_new_object();

		ecs_jb_str(p, "Name", s->pools[i].name);
		ecs_jb_int(p, "Stored", s->pools[i].stored);
		ecs_jb_int(p, "MaxAvail", s->pools[i].max_avail);
		json_object_array_add(pools, p);
	}
}

int ctl_hosts_describe(struct ctl_call *call, struct json_object *out)
{
	struct describe d = { .c = call->c, .now = time(NULL) };
	const char *host = NULL;
	struct ctl_page page;
	int r;

	if (!ctl_config_is_admin(&call->c->cfg, call->account->name))
		return ctl_fail(call, 403, "Forbidden",
				"User not authorized to operate on the specified resource: %s is an administrator's action.",
				call->action);
	if ((r = ctl_param_str(call, "HostId", CTL_NONEMPTY, 64, NULL, &host)) < 0 ||
	    (r = ctl_param_paging(call, 100, 10, &page)) < 0)
		return r;
	d.snap = ctl_ceph_acquire(call->c);
	{
		const char *const args[] = { host };
		const struct ctl_page_query q = {
			.columns = "h.host_id, h.api_url, h.zone_id, h.vcpus, h.memory_mib, h.max_instances, h.last_seen,"
				   " h.underlay_ip, COALESCE(u.vcpus, 0), COALESCE(u.memory_mib, 0), COALESCE(u.n, 0),"
				   " h.hypervisor, h.disk_gib, h.drained",
			.from = " FROM hosts h LEFT JOIN (SELECT host_id, sum(vcpus) AS vcpus, sum(memory_mib) AS memory_mib,"
				" count(*) AS n FROM instances WHERE deleted = 0 GROUP BY host_id) u ON u.host_id = h.host_id"
				" WHERE (?2 IS NULL OR h.host_id = ?2)",
			.order = " ORDER BY h.host_id",
			.args = args,
			.n_args = 1,
			.list_key = "Hosts",
			.item_key = "Host",
			.row = host_row,
			.arg = &d,
		};

		r = ctl_page_query(call, &page, &q, out);
	}
	if (r == 0)
		ceph_answer(&d, out);
	ctl_ceph_release(call->c, d.snap);
	return r;
}
