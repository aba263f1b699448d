/* verbs_disk.c: disk create, ls, attach, detach, resize, rm. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"
#include "verbs.h"
#include "wait.h"

static const struct ecsctl_column disk_columns[] = {
	{ "ID", "DiskId" },	     { "NAME", "DiskName" },	  { "SIZE", "Size" },
	{ "CATEGORY", "Category" },  { "TYPE", "Type" },	  { "STATUS", "Status" },
	{ "INSTANCE", "InstanceId" }, { "DEVICE", "Device" },	  { "ZONE", "ZoneId" },
};

/* ZoneId for CreateDisk: --zone, else the profile's zone, else the region's first zone. */
static int pick_zone(struct ecsctl *ctx, const struct ecsctl_args *a, char **ret)
{
	const struct ecsctl_profile *prof;
	struct json_object *reply = NULL, *zones;
	const char *z = ecsctl_args_get(a, "zone");
	int r;

	if (!z) {
		r = ecsctl_profile(ctx, &prof);
		if (r < 0)
			return r;
		z = prof->zone;
	}
	if (z) {
		*ret = strdup(z);
		return *ret ? 0 : -ENOMEM;
	}
	r = ecsctl_call(ctx, "DescribeZones", NULL, &reply);
	if (r < 0)
		return r;
	zones = ecsctl_reply_list(reply, "Zones", "Zone");
	z = zones && json_object_array_length(zones) ? ecs_json_str(json_object_array_get_idx(zones, 0), "ZoneId", NULL)
						     : NULL;
	if (!z || !*z) {
		json_object_put(reply);
		return ecsctl_fail(ctx, -ENOENT, "the region has no zone: give --zone");
	}
	*ret = strdup(z);
	json_object_put(reply);
	return *ret ? 0 : -ENOMEM;
}

static const struct ecsctl_creation disk_create = {
	"CreateDisk", "DiskId",
	ECSCTL_PAIRS("size", "Size", "snapshot", "SnapshotId", "name", "DiskName", "category", "DiskCategory"),
	&ecsctl_watch_disk, "Available",
};

static int create_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	_cleanup_kvlist_ struct ecs_kvlist p = ECS_KVLIST_INIT;
	_cleanup_free_ char *zone = NULL;
	long long size;
	long timeout;
	int r;

	if (!ecsctl_args_get(a, "size") && !ecsctl_args_get(a, "snapshot"))
		return ecsctl_usage_error(ctx, "'ecsctl disk create' needs --size or --snapshot");
	if ((r = ecsctl_flag_int(ctx, a, "size", 1, 65536, 0, &size)) < 0 ||
	    (r = ecsctl_flag_timeout(ctx, a, &timeout)) < 0)
		return r;
	r = pick_zone(ctx, a, &zone);
	if (r < 0)
		return r;
	r = ecs_kvlist_add(&p, "ZoneId", zone);
	return r < 0 ? r : ecsctl_create(ctx, a, &disk_create, &p, timeout);
}

static const struct ecsctl_listing disks = { "DescribeDisks", "Disks", "Disk", 100, ECSCTL_COLUMNS(disk_columns), "DiskId",
					    ECSCTL_PAIRS("instance", "InstanceId", "status", "Status") };

/* Call action with the given parameters (NULL-terminated key, value pairs), then wait. */
static int simple(struct ecsctl *ctx, const struct ecsctl_args *a, const char *action, const char *wait_status,
		  const char *const *kv)
{
	struct ecs_kvlist p = ECS_KVLIST_INIT;
	struct json_object *reply = NULL;
	long timeout = 0;
	int r = 0;

	if (wait_status && ecsctl_args_bool(a, "wait") && (r = ecsctl_flag_timeout(ctx, a, &timeout)) < 0)
		return r;
	for (; kv[0]; kv += 2)
		if ((r = ecs_kvlist_add(&p, kv[0], kv[1])) < 0)
			goto out;
	r = ecsctl_call(ctx, action, &p, &reply);
	if (r < 0)
		goto out;
	ecsctl_print_done(ctx, reply);
	fflush(ctx->out);
	if (wait_status && ecsctl_args_bool(a, "wait"))
		r = ecsctl_wait_for(ctx, &ecsctl_watch_disk, &a->pos[0], 1, wait_status, timeout);
out:
	json_object_put(reply);
	ecs_kvlist_clear(&p);
	return r;
}

static int attach_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	const char *kv[] = { "DiskId", a->pos[0], "InstanceId", a->pos[1], NULL };

	return simple(ctx, a, "AttachDisk", "In_use", kv);
}

static int detach_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	const char *kv[] = { "DiskId", a->pos[0], "InstanceId", a->pos[1], NULL };

	return simple(ctx, a, "DetachDisk", "Available", kv);
}

static int resize_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	const char *kv[] = { "DiskId", a->pos[0], "NewSize", a->pos[1], NULL };
	long long size;

	if (ecs_parse_int64(a->pos[1], 1, 65536, &size) < 0)
		return ecsctl_usage_error(ctx, "the new size is a number of GiB (1..65536), not \"%s\"", a->pos[1]);
	return simple(ctx, a, "ResizeDisk", NULL, kv);
}

static const struct ecsctl_flag create_flags[] = {
	{ "size", ECSCTL_FLAG_VALUE, false, "SIZE_GIB", "Size (needed unless --snapshot)" },
	{ "zone", ECSCTL_FLAG_VALUE, false, "ZONE", "ZoneId (default: the profile's zone, else the first zone)" },
	{ "snapshot", ECSCTL_FLAG_VALUE, false, "SNAPSHOT", "SnapshotId: start from this snapshot" },
	{ "name", ECSCTL_FLAG_VALUE, false, "NAME", "DiskName" },
	{ "category", ECSCTL_FLAG_VALUE, false, "CATEGORY", "DiskCategory (e.g. cloud_efficiency)" },
	ECSCTL_WAIT_FLAGS("wait until done"),
	{ NULL },
};

static const struct ecsctl_flag ls_flags[] = {
	{ "instance", ECSCTL_FLAG_VALUE, false, "ID", "only the disks of this instance" },
	{ "status", ECSCTL_FLAG_VALUE, false, "STATUS", "only disks in this Status" },
	{ NULL },
};

static const struct ecsctl_flag wait_flags[] = { ECSCTL_WAIT_FLAGS("wait until done"), { NULL } };
static const struct ecsctl_each disk_rm = { .action = "DeleteDisk", .id_param = "DiskId" };

const struct ecsctl_verb ecsctl_disk_verbs[] = {
	{
		.group = "disk",
		.name = "create",
		.flags = create_flags,
		.actions = "CreateDisk (DescribeZones without a zone)",
		.summary = "create a data disk; prints its id",
		.run = create_run,
	},
	{
		.group = "disk",
		.name = "ls",
		.flags = ls_flags,
		.summary = "list disks",
		.list = &disks,
	},
	{
		.group = "disk",
		.name = "attach",
		.synopsis = "DISK INSTANCE",
		.min_pos = 2,
		.max_pos = 2,
		.flags = wait_flags,
		.actions = "AttachDisk",
		.summary = "attach a disk to an instance (--wait: until In_use)",
		.run = attach_run,
	},
	{
		.group = "disk",
		.name = "detach",
		.synopsis = "DISK INSTANCE",
		.min_pos = 2,
		.max_pos = 2,
		.flags = wait_flags,
		.actions = "DetachDisk",
		.summary = "detach a disk (--wait: until Available)",
		.run = detach_run,
	},
	{
		.group = "disk",
		.name = "resize",
		.synopsis = "DISK SIZE_GIB",
		.min_pos = 2,
		.max_pos = 2,
		.actions = "ResizeDisk (NewSize)",
		.summary = "grow a disk",
		.run = resize_run,
	},
	{
		.group = "disk",
		.name = "rm",
		ECSCTL_IDS("DISK..."),
		.summary = "delete disks",
		.each = &disk_rm,
	},
	{ .name = NULL },
};
