/* verbs_host.c: host ls, host show (DescribeHosts, an administrator's action): the hosts,
 * their capacity and use, OSDs and storage state, whether drained, and the storage
 * cluster's health and pools. -o json prints DescribeHosts' fields (every page's hosts, and
 * Ceph). host drain / undrain (DrainHost, UndrainHost) and host migrate (MigrateInstance),
 * administrators' actions too. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "util.h"
#include "verbs.h"

static const struct ecsctl_column host_columns[] = {
	{ "HOST", "HostId" },
	{ "ADDRESS", "Address" },
	{ "STATE", "State" },
	{ "DRAINED", "ecsctlDrained" },
	{ "ZONE", "ZoneId" },
	{ "VCPU USED/CAP", "ecsctlCpu" },
	{ "MEM MIB USED/CAP", "ecsctlMemory" },
	{ "INSTANCES", "InstanceCount" },
	{ "STORAGE", "StorageState" },
	{ "OSDS", "ecsctlOsds" },
	{ "REASON", "StorageReason" },
};

static const struct ecsctl_column pool_columns[] = {
	{ "POOL", "Name" },
	{ "STORED", "Stored" },
	{ "MAX AVAIL", "MaxAvail" },
};

/* The table's derived columns: "2/128", "osd.0 up/in, osd.1 down/out". */
static void add_display_fields(struct json_object *h)
{
	struct json_object *osds = ecs_json_get(ecs_json_get(h, "Osds"), "Osd");
	char buf[512];
	size_t off = 0;

	snprintf(buf, sizeof(buf), "%lld/%lld", (long long)ecs_json_int(h, "UsedCpu", 0),
		 (long long)ecs_json_int(h, "CpuCapacity", 0));
	ecs_jb_str(h, "ecsctlCpu", buf);
	snprintf(buf, sizeof(buf), "%lld/%lld", (long long)ecs_json_int(h, "UsedMemory", 0),
		 (long long)ecs_json_int(h, "MemoryCapacity", 0));
	ecs_jb_str(h, "ecsctlMemory", buf);
	buf[0] = '\0';
	for (size_t i = 0; json_object_is_type(osds, json_type_array) && i < json_object_array_length(osds); i++) {
		struct json_object *o = json_object_array_get_idx(osds, i);
		int n = snprintf(buf + off, sizeof(buf) - off, "%s%s %s/%s", i ? ", " : "", ecs_json_str(o, "Name", "?"),
				 ecs_json_bool(o, "Up") ? "up" : "down", ecs_json_bool(o, "In") ? "in" : "out");

		if (n < 0 || (size_t)n >= sizeof(buf) - off)
			break;
		off += (size_t)n;
	}
	ecs_jb_str(h, "ecsctlOsds", off ? buf : "-");
	ecs_jb_str(h, "ecsctlDrained", ecs_json_bool(h, "Drained") ? "yes" : "no");
}

static int print_ceph(struct ecsctl *ctx, struct json_object *ceph)
{
	struct json_object *checks = ecsctl_reply_list(ceph, "Checks", "Check");
	const char *err = ecs_json_str(ceph, "Error", "");

	fprintf(ctx->out, "\n");
	if (streq(ecs_json_str(ceph, "Storage", "none"), "none")) {
		fprintf(ctx->out, "storage: none (the controller has no [ceph] section)\n");
		return 0;
	}
	fprintf(ctx->out, "ceph: ");
	ecsctl_print_safe(ctx->out, *ecs_json_str(ceph, "Health", "") ? ecs_json_str(ceph, "Health", "") : "unknown");
	fprintf(ctx->out, " (read %llds ago)\n", (long long)ecs_json_int(ceph, "SnapshotAgeSeconds", -1));
	if (*err) {
		fprintf(ctx->out, "  last reading failed: ");
		ecsctl_print_safe(ctx->out, err);
		fprintf(ctx->out, "\n");
	}
	for (size_t i = 0; checks && i < json_object_array_length(checks); i++) {
		struct json_object *k = json_object_array_get_idx(checks, i);

		fprintf(ctx->out, "  ");
		ecsctl_print_safe(ctx->out, ecs_json_str(k, "Name", ""));
		fprintf(ctx->out, ": ");
		ecsctl_print_safe(ctx->out, ecs_json_str(k, "Summary", ""));
		fprintf(ctx->out, "\n");
	}
	fprintf(ctx->out, "\n");
	return ecsctl_print_table(ctx->out, pool_columns, ARRAY_SIZE(pool_columns),
				  ecsctl_reply_list(ceph, "Pools", "Pool"));
}

/* DescribeHosts' Ceph part: one page of one host is enough. */
static int ceph_part(struct ecsctl *ctx, struct json_object **ret)
{
	_cleanup_kvlist_ struct ecs_kvlist p = ECS_KVLIST_INIT;
	struct json_object *reply = NULL;
	int r;

	if ((r = ecs_kvlist_add(&p, "PageSize", "1")) < 0 || (r = ecsctl_call(ctx, "DescribeHosts", &p, &reply)) < 0)
		return r;
	*ret = json_object_get(ecs_json_get(reply, "Ceph"));
	json_object_put(reply);
	if (!*ret)
		return ecsctl_fail(ctx, -EBADMSG, "the reply to DescribeHosts has no Ceph");
	return 0;
}

static int ls_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	struct json_object *items = NULL, *ceph = NULL, *o;
	int r;

	(void)a;
	r = ceph_part(ctx, &ceph);
	if (r >= 0)
		r = ecsctl_describe_all(ctx, "DescribeHosts", NULL, "Hosts", "Host", 100, &items);
	if (r < 0)
		goto out;
	switch (ctx->output) {
	case ECSCTL_OUTPUT_JSON:
		o = json_object_new_object();
		ecs_jb_int(o, "TotalCount", (int64_t)json_object_array_length(items));
		json_object_object_add(ecs_jb_obj(o, "Hosts"), "Host", json_object_get(items));
		json_object_object_add(o, "Ceph", json_object_get(ceph));
		ecsctl_print_json(ctx->out, o);
		json_object_put(o);
		break;
	case ECSCTL_OUTPUT_TEXT:
		r = ecsctl_print_ids(ctx->out, items, "HostId");
		break;
	default:
		for (size_t i = 0; i < json_object_array_length(items); i++)
			add_display_fields(json_object_array_get_idx(items, i));
		r = ecsctl_print_table(ctx->out, host_columns, ARRAY_SIZE(host_columns), items);
		if (r >= 0)
			r = print_ceph(ctx, ceph);
	}
out:
	json_object_put(items);
	json_object_put(ceph);
	return r;
}

static int show_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	_cleanup_kvlist_ struct ecs_kvlist p = ECS_KVLIST_INIT;
	struct json_object *reply = NULL, *list, *host;
	int r;

	if ((r = ecs_kvlist_add(&p, "HostId", a->pos[0])) < 0 || (r = ecsctl_call(ctx, "DescribeHosts", &p, &reply)) < 0)
		return r;
	list = ecsctl_reply_list(reply, "Hosts", "Host");
	host = list && json_object_array_length(list) == 1 ? json_object_array_get_idx(list, 0) : NULL;
	if (!host)
		r = ecsctl_fail(ctx, -ENOENT, "no host %s", a->pos[0]);
	else
		r = ecsctl_print_object(ctx->out, ctx->output, host);
	json_object_put(reply);
	return r;
}

/* One admin action with one parameter, its answer printed. */
static int admin_run(struct ecsctl *ctx, const char *action, const char *param, const char *value)
{
	_cleanup_kvlist_ struct ecs_kvlist p = ECS_KVLIST_INIT;
	struct json_object *reply = NULL;
	int r;

	if ((r = ecs_kvlist_add(&p, param, value)) < 0 || (r = ecsctl_call(ctx, action, &p, &reply)) < 0)
		return r;
	json_object_object_del(reply, "RequestId");
	r = ecsctl_print_object(ctx->out, ctx->output, reply);
	json_object_put(reply);
	return r;
}

static int drain_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	return admin_run(ctx, "DrainHost", "HostId", a->pos[0]);
}

static int undrain_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	return admin_run(ctx, "UndrainHost", "HostId", a->pos[0]);
}

static int migrate_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	return admin_run(ctx, "MigrateInstance", "InstanceId", a->pos[0]);
}

const struct ecsctl_verb ecsctl_host_verbs[] = {
	{
		.group = "host",
		.name = "ls",
		.actions = "DescribeHosts (every page; an administrator's action)",
		.summary = "list hosts, their OSDs and storage state, and the Ceph cluster's health and pools",
		.details = "Only accounts named in the controller's [controller] admin_accounts may call DescribeHosts.\n"
			   "A host whose STORAGE is down takes no new instances.",
		.run = ls_run,
	},
	{
		.group = "host",
		.name = "show",
		.synopsis = "HOST",
		.min_pos = 1,
		.max_pos = 1,
		.actions = "DescribeHosts (HostId)",
		.summary = "one host's capacity, use, OSDs and storage state",
		.run = show_run,
	},
	{
		.group = "host",
		.name = "drain",
		.synopsis = "HOST",
		.min_pos = 1,
		.max_pos = 1,
		.actions = "DrainHost (an administrator's action)",
		.summary = "place nothing new on HOST and migrate every instance off it (live when running)",
		.details = "Each instance moves to a host the scheduler picks; `ecsctl events ID` shows its\n"
			   "SystemMaintenance.Migrate event. `host ls` shows DRAINED until `host undrain`.",
		.run = drain_run,
	},
	{
		.group = "host",
		.name = "undrain",
		.synopsis = "HOST",
		.min_pos = 1,
		.max_pos = 1,
		.actions = "UndrainHost (an administrator's action)",
		.summary = "let a drained HOST take instances again",
		.run = undrain_run,
	},
	{
		.group = "host",
		.name = "migrate",
		.synopsis = "INSTANCE",
		.min_pos = 1,
		.max_pos = 1,
		.actions = "MigrateInstance (an administrator's action)",
		.summary = "move one instance to another host (live when running); prints its event's id",
		.run = migrate_run,
	},
	{ .name = NULL },
};
