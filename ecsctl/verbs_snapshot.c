/* verbs_snapshot.c: snapshot create, ls, rm, prune. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "prune.h"
#include "util.h"
#include "verbs.h"
#include "wait.h"

static const struct ecsctl_column snapshot_columns[] = {
	{ "ID", "SnapshotId" },		{ "NAME", "SnapshotName" },	{ "DISK", "SourceDiskId" },
	{ "SIZE", "SourceDiskSize" },	{ "STATUS", "Status" },		{ "PROGRESS", "Progress" },
	{ "USAGE", "Usage" },		{ "CREATED", "CreationTime" },
};

static const struct ecsctl_creation snapshot_create = {
	"CreateSnapshot", "SnapshotId",
	ECSCTL_PAIRS("disk", "DiskId", "name", "SnapshotName", "description", "Description"),
	&ecsctl_watch_snapshot, "accomplished",
};

static const struct ecsctl_listing snapshots = { "DescribeSnapshots", "Snapshots", "Snapshot", 100,
						 ECSCTL_COLUMNS(snapshot_columns), "SnapshotId", ECSCTL_PAIRS("disk", "DiskId") };

static int list_snapshots(struct ecsctl *ctx, const char *disk, struct json_object **ret)
{
	struct ecs_kvlist p = ECS_KVLIST_INIT;
	int r = disk ? ecs_kvlist_add(&p, "DiskId", disk) : 0;

	if (r >= 0)
		r = ecsctl_describe_all(ctx, snapshots.action, &p, snapshots.outer, snapshots.inner, snapshots.page_size,
					ret);
	ecs_kvlist_clear(&p);
	return r;
}

static int delete_snapshot(struct ecsctl *ctx, const char *id)
{
	struct ecs_kvlist p = ECS_KVLIST_INIT;
	struct json_object *reply = NULL;
	int r = ecs_kvlist_add(&p, "SnapshotId", id);

	if (r >= 0)
		r = ecsctl_call(ctx, "DeleteSnapshot", &p, &reply);
	json_object_put(reply);
	ecs_kvlist_clear(&p);
	return r;
}

static int rm_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	for (size_t i = 0; i < a->n_pos; i++) {
		int r = delete_snapshot(ctx, a->pos[i]);

		if (r < 0)
			return r;
	}
	return 0;
}

static struct json_object *string_array(const char *const *v, size_t n)
{
	struct json_object *arr = json_object_new_array();

	for (size_t i = 0; arr && i < n; i++)
		json_object_array_add(arr, json_object_new_string(v[i]));
	return arr;
}

static int prune_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	const char *disk = ecsctl_args_get(a, "disk");
	bool dry_run = ecsctl_args_bool(a, "dry-run");
	struct json_object *items = NULL, *report = NULL;
	struct ecsctl_prune sel = { 0 };
	_cleanup_free_ const char **deleted = NULL;
	size_t n_deleted = 0;
	long long keep;
	int r, first_error = 0;

	r = ecsctl_flag_int(ctx, a, "keep", 0, 100000, 0, &keep);
	if (r < 0)
		return r;
	r = list_snapshots(ctx, disk, &items);
	if (r < 0)
		return r;
	r = ecsctl_prune_select(items, disk, (size_t)keep, &sel);
	if (r < 0)
		goto out;
	deleted = calloc(sel.n_remove + 1, sizeof(*deleted));
	if (!deleted) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < sel.n_in_use; i++)
		fprintf(ctx->err, "ecsctl: keeping %s: an image was made from it\n", sel.in_use[i]);
	for (size_t i = 0; i < sel.n_remove; i++) {
		if (!dry_run) {
			r = delete_snapshot(ctx, sel.remove[i]);
			if (r < 0) {
				/* Go on with the others: one locked snapshot must not keep all. */
				if (!first_error)
					first_error = r;
				continue;
			}
		}
		deleted[n_deleted++] = sel.remove[i];
		if (ctx->output != ECSCTL_OUTPUT_JSON) {
			fprintf(ctx->out, "%s\n", sel.remove[i]);
			fflush(ctx->out);
		}
	}
	if (ctx->output == ECSCTL_OUTPUT_JSON) {
		report = json_object_new_object();
		if (!report) {
			r = -ENOMEM;
			goto out;
		}
		ecs_jb_str(report, "DiskId", disk);
		ecs_jb_bool(report, "DryRun", dry_run);
		json_object_object_add(report, "Deleted", string_array(deleted, n_deleted));
		json_object_object_add(report, "Kept", string_array(sel.keep, sel.n_keep));
		json_object_object_add(report, "InUse", string_array(sel.in_use, sel.n_in_use));
		ecsctl_print_json(ctx->out, report);
	}
	r = first_error;
out:
	json_object_put(report);
	ecsctl_prune_clear(&sel);
	json_object_put(items);
	return r;
}

static const struct ecsctl_flag create_flags[] = {
	{ "disk", ECSCTL_FLAG_VALUE, true, "DISK", "DiskId" },
	{ "name", ECSCTL_FLAG_VALUE, false, "NAME", "SnapshotName" },
	{ "description", ECSCTL_FLAG_VALUE, false, "TEXT", "Description" },
	ECSCTL_WAIT_FLAGS("wait until accomplished (failed: exit 1)"),
	{ NULL },
};

static const struct ecsctl_flag ls_flags[] = {
	{ "disk", ECSCTL_FLAG_VALUE, false, "DISK", "only the snapshots of this DiskId" },
	{ NULL },
};

static const struct ecsctl_flag prune_flags[] = {
	{ "disk", ECSCTL_FLAG_VALUE, true, "DISK", "the disk whose snapshots to prune" },
	{ "keep", ECSCTL_FLAG_VALUE, true, "N", "how many of the newest accomplished snapshots stay" },
	{ "dry-run", ECSCTL_FLAG_BOOL, false, NULL, "print what would be deleted, delete nothing" },
	{ NULL },
};

const struct ecsctl_verb ecsctl_snapshot_verbs[] = {
	{
		.group = "snapshot",
		.name = "create",
		.flags = create_flags,
		.summary = "snapshot a disk; prints the snapshot id",
		.create = &snapshot_create,
	},
	{
		.group = "snapshot",
		.name = "ls",
		.flags = ls_flags,
		.summary = "list snapshots",
		.list = &snapshots,
	},
	{
		.group = "snapshot",
		.name = "rm",
		.synopsis = "SNAPSHOT...",
		.min_pos = 1,
		.max_pos = ECSCTL_ARGS_MAX,
		.actions = "DeleteSnapshot",
		.summary = "delete snapshots",
		.run = rm_run,
	},
	{
		.group = "snapshot",
		.name = "prune",
		.flags = prune_flags,
		.actions = "DescribeSnapshots, DeleteSnapshot",
		.summary = "delete all but the newest N accomplished snapshots of a disk; prints what it deleted",
		.details = "Progressing and failed snapshots are left alone, and so are snapshots an image was\n"
			   "made from (reported on stderr). A deletion that fails is reported and the others go on;\n"
			   "the exit status is then 1. From cron:\n"
			   "  ecsctl snapshot create --disk d-… --wait &&\n"
			   "      ecsctl snapshot prune --disk d-… --keep 7",
		.run = prune_run,
	},
	{ .name = NULL },
};
