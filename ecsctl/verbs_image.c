/* verbs_image.c: image create, ls, rm, import. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "util.h"
#include "verbs.h"
#include "wait.h"

static const struct ecsctl_column image_columns[] = {
	{ "ID", "ImageId" },	      { "NAME", "ImageName" }, { "STATUS", "Status" },
	{ "SIZE", "Size" },	      { "OWNER", "ImageOwnerAlias" },
	{ "OS", "OSName" },	      { "CREATED", "CreationTime" },
};

/* Print the new image's id, then wait for it to be Available when asked. */
static int created(struct ecsctl *ctx, const struct ecsctl_args *a, struct json_object *reply, long timeout)
{
	const char *id = ecs_json_str(reply, "ImageId", NULL);
	int r = ecsctl_print_created(ctx, reply, "ImageId");

	fflush(ctx->out);
	if (r < 0 || !ecsctl_args_bool(a, "wait"))
		return r;
	if (!id)
		return ecsctl_fail(ctx, -EBADMSG, "the reply has no ImageId");
	return ecsctl_wait_for(ctx, &ecsctl_watch_image, &id, 1, "Available", timeout);
}

static int create_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	struct ecs_kvlist p = ECS_KVLIST_INIT;
	struct json_object *reply = NULL;
	bool snap = ecsctl_args_get(a, "snapshot"), inst = ecsctl_args_get(a, "instance");
	long timeout;
	int r;

	if (snap == inst)
		return ecsctl_usage_error(ctx, "'ecsctl image create' takes --snapshot or --instance (one of them)");
	r = ecsctl_flag_timeout(ctx, a, &timeout);
	if (r < 0)
		return r;
	if ((r = ecsctl_param_from_flag(&p, a, "snapshot", "SnapshotId")) < 0 ||
	    (r = ecsctl_param_from_flag(&p, a, "instance", "InstanceId")) < 0 ||
	    (r = ecsctl_param_from_flag(&p, a, "name", "ImageName")) < 0 ||
	    (r = ecsctl_param_from_flag(&p, a, "description", "Description")) < 0)
		goto out;
	r = ecsctl_call(ctx, "CreateImage", &p, &reply);
	if (r >= 0)
		r = created(ctx, a, reply, timeout);
out:
	json_object_put(reply);
	ecs_kvlist_clear(&p);
	return r;
}

static int ls_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	struct ecs_kvlist p = ECS_KVLIST_INIT;
	struct json_object *items = NULL;
	int r;

	/* DescribeImages lists only Available images unless asked for others. */
	if ((r = ecs_kvlist_add(&p, "Status", ecsctl_watch_image.extra_value)) < 0 ||
	    (r = ecsctl_param_from_flag(&p, a, "owner", "ImageOwnerAlias")) < 0)
		goto out;
	r = ecsctl_describe_all(ctx, "DescribeImages", &p, "Images", "Image", 100, &items);
	if (r < 0)
		goto out;
	r = ecsctl_print_list(ctx, items, "Images", "Image", image_columns, ARRAY_SIZE(image_columns), "ImageId");
out:
	json_object_put(items);
	ecs_kvlist_clear(&p);
	return r;
}

static int rm_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	for (size_t i = 0; i < a->n_pos; i++) {
		struct ecs_kvlist p = ECS_KVLIST_INIT;
		struct json_object *reply = NULL;
		int r = ecs_kvlist_add(&p, "ImageId", a->pos[i]);

		if (r >= 0 && ecsctl_args_bool(a, "force"))
			r = ecs_kvlist_add(&p, "Force", "true");
		if (r >= 0)
			r = ecsctl_call(ctx, "DeleteImage", &p, &reply);
		if (r >= 0)
			ecsctl_print_done(ctx, reply);
		json_object_put(reply);
		ecs_kvlist_clear(&p);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The path as the controller will read it: made absolute against our working directory. */
static int absolute_path(const char *path, char **ret)
{
	_cleanup_free_ char *cwd = NULL;

	if (path[0] == '/') {
		*ret = strdup(path);
		return *ret ? 0 : -ENOMEM;
	}
	cwd = getcwd(NULL, 0);
	if (!cwd)
		return -errno;
	*ret = ecs_strdup_printf("%s/%s", cwd, path);
	return *ret ? 0 : -ENOMEM;
}

static int import_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	struct ecs_kvlist p = ECS_KVLIST_INIT;
	struct json_object *reply = NULL;
	_cleanup_free_ char *path = NULL;
	long timeout;
	int r;

	r = ecsctl_flag_timeout(ctx, a, &timeout);
	if (r < 0)
		return r;
	r = absolute_path(ecsctl_args_get(a, "path"), &path);
	if (r < 0)
		return ecsctl_fail(ctx, r, "--path: %s", strerror(-r));
	if ((r = ecsctl_param_from_flag(&p, a, "name", "ImageName")) < 0 ||
	    (r = ecs_kvlist_add(&p, "DiskDeviceMapping.1.ImportPath", path)) < 0 ||
	    (r = ecsctl_param_from_flag(&p, a, "os-type", "OSType")) < 0 ||
	    (r = ecsctl_param_from_flag(&p, a, "arch", "Architecture")) < 0 ||
	    (r = ecsctl_param_from_flag(&p, a, "description", "Description")) < 0)
		goto out;
	r = ecsctl_call(ctx, "ImportImage", &p, &reply);
	if (r >= 0)
		r = created(ctx, a, reply, timeout);
out:
	json_object_put(reply);
	ecs_kvlist_clear(&p);
	return r;
}

#define WAIT_FLAGS                                                                                     \
	{ "wait", ECSCTL_FLAG_BOOL, false, NULL, "wait until Available (CreateFailed: exit 1)" },      \
	{                                                                                              \
		"timeout", ECSCTL_FLAG_VALUE, false, "SECONDS", "how long --wait waits (default 600); then exit 3" \
	}

static const struct ecsctl_flag create_flags[] = {
	{ "snapshot", ECSCTL_FLAG_VALUE, false, "SNAPSHOT", "SnapshotId: the system disk's snapshot" },
	{ "instance", ECSCTL_FLAG_VALUE, false, "INSTANCE", "InstanceId: image this instance" },
	{ "name", ECSCTL_FLAG_VALUE, false, "NAME", "ImageName" },
	{ "description", ECSCTL_FLAG_VALUE, false, "TEXT", "Description" },
	WAIT_FLAGS,
	{ NULL },
};

static const struct ecsctl_flag ls_flags[] = {
	{ "owner", ECSCTL_FLAG_VALUE, false, "ALIAS", "ImageOwnerAlias: system, self, others or marketplace" },
	{ NULL },
};

static const struct ecsctl_flag rm_flags[] = {
	{ "force", ECSCTL_FLAG_BOOL, false, NULL, "Force: delete even if instances use it" },
	{ NULL },
};

static const struct ecsctl_flag import_flags[] = {
	{ "name", ECSCTL_FLAG_VALUE, true, "NAME", "ImageName" },
	{ "path", ECSCTL_FLAG_VALUE, true, "DIR", "DiskDeviceMapping.1.ImportPath: a directory the controller "
						  "reads (made absolute)" },
	{ "os-type", ECSCTL_FLAG_VALUE, false, "TYPE", "OSType: linux or windows" },
	{ "arch", ECSCTL_FLAG_VALUE, false, "ARCH", "Architecture: x86_64 or i386" },
	{ "description", ECSCTL_FLAG_VALUE, false, "TEXT", "Description" },
	WAIT_FLAGS,
	{ NULL },
};

const struct ecsctl_verb ecsctl_image_verbs[] = {
	{
		.group = "image",
		.name = "create",
		.flags = create_flags,
		.actions = "CreateImage; DescribeImages with --wait",
		.summary = "make an image from a snapshot or an instance; prints its id",
		.run = create_run,
	},
	{
		.group = "image",
		.name = "ls",
		.flags = ls_flags,
		.actions = "DescribeImages (every page, every status)",
		.summary = "list images",
		.run = ls_run,
	},
	{
		.group = "image",
		.name = "rm",
		.synopsis = "IMAGE...",
		.min_pos = 1,
		.max_pos = ECSCTL_ARGS_MAX,
		.flags = rm_flags,
		.actions = "DeleteImage",
		.summary = "delete images",
		.run = rm_run,
	},
	{
		.group = "image",
		.name = "import",
		.flags = import_flags,
		.actions = "ImportImage; DescribeImages with --wait",
		.summary = "import an image from a directory on the controller's host; prints its id",
		.details = "ECS's ImportImage reads DiskDeviceMapping.N.OSSBucket/OSSObject; this controller also\n"
			   "takes a local directory (as images/build.sh makes: manifest.json, disk.qcow2, …) in\n"
			   "DiskDeviceMapping.1.ImportPath. Use `ecsctl api ImportImage …` for the OSS form.",
		.run = import_run,
	},
	{ .name = NULL },
};
