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


static const struct ecsctl_creation image_create = {
	"CreateImage", "ImageId",
	ECSCTL_PAIRS("snapshot", "SnapshotId", "instance", "InstanceId", "name", "ImageName", "description",
		     "Description"),
	&ecsctl_watch_image, "Available",
};

static int create_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	bool snap = ecsctl_args_get(a, "snapshot"), inst = ecsctl_args_get(a, "instance");
	long timeout;
	int r;

	if (snap == inst)
		return ecsctl_usage_error(ctx, "'ecsctl image create' takes --snapshot or --instance (one of them)");
	r = ecsctl_flag_timeout(ctx, a, &timeout);
	return r < 0 ? r : ecsctl_create(ctx, a, &image_create, NULL, timeout);
}

static const struct ecsctl_listing images = { "DescribeImages", "Images", "Image", 100, ECSCTL_COLUMNS(image_columns),
					     "ImageId", ECSCTL_PAIRS("owner", "ImageOwnerAlias") };

static int ls_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	_cleanup_kvlist_ struct ecs_kvlist p = ECS_KVLIST_INIT;
	/* DescribeImages lists only Available images unless asked for others. */
	int r = ecs_kvlist_add(&p, "Status", ecsctl_watch_image.extra_value);

	return r < 0 ? r : ecsctl_list(ctx, a, &images, &p);
}

/* The path as the hosts' agents will read it: made absolute against our working directory. */
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

static const struct ecsctl_creation image_import = {
	"ImportImage", "ImageId",
	ECSCTL_PAIRS("os-type", "OSType", "arch", "Architecture", "description", "Description"),
	&ecsctl_watch_image, "Available",
};

static int import_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	_cleanup_kvlist_ struct ecs_kvlist p = ECS_KVLIST_INIT;
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
	    (r = ecs_kvlist_add(&p, "DiskDeviceMapping.1.ImportPath", path)) < 0)
		return r;
	return ecsctl_create(ctx, a, &image_import, &p, timeout);
}

static const struct ecsctl_flag create_flags[] = {
	{ "snapshot", ECSCTL_FLAG_VALUE, false, "SNAPSHOT", "SnapshotId: the system disk's snapshot" },
	{ "instance", ECSCTL_FLAG_VALUE, false, "INSTANCE", "InstanceId: image this instance" },
	{ "name", ECSCTL_FLAG_VALUE, false, "NAME", "ImageName" },
	{ "description", ECSCTL_FLAG_VALUE, false, "TEXT", "Description" },
	ECSCTL_WAIT_FLAGS("wait until Available (CreateFailed: exit 1)"),
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
	{ "path", ECSCTL_FLAG_VALUE, true, "DIR", "DiskDeviceMapping.1.ImportPath: a directory inside the "
						  "hosts' [images] import_dirs (made absolute)" },
	{ "os-type", ECSCTL_FLAG_VALUE, false, "TYPE", "OSType: linux or windows" },
	{ "arch", ECSCTL_FLAG_VALUE, false, "ARCH", "Architecture: x86_64 or i386" },
	{ "description", ECSCTL_FLAG_VALUE, false, "TEXT", "Description" },
	ECSCTL_WAIT_FLAGS("wait until Available (CreateFailed: exit 1)"),
	{ NULL },
};

static const struct ecsctl_each image_rm = { "DeleteImage", "ImageId", "Force", NULL, NULL };

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
		ECSCTL_IDS("IMAGE..."),
		.flags = rm_flags,
		.summary = "delete images",
		.each = &image_rm,
	},
	{
		.group = "image",
		.name = "import",
		.flags = import_flags,
		.actions = "ImportImage; DescribeImages with --wait",
		.summary = "import an image from a directory the hosts' agents may read; prints its id",
		.details = "ECS's ImportImage reads DiskDeviceMapping.N.OSSBucket/OSSObject; this controller also\n"
			   "takes a local directory (as images/build.sh makes: manifest.json, disk.qcow2, …) in\n"
			   "DiskDeviceMapping.1.ImportPath, read by an agent: it must lie inside an [images] import_dirs\n"
			   "folder of the hosts' agent config (none by default) and be the same on every host.\n"
			   "Use `ecsctl api ImportImage …` for the OSS form.",
		.run = import_run,
	},
	{ .name = NULL },
};
