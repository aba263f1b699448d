/* verbs_instance.c: run, ls, show, start, stop, reboot, rm, wait (instances). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "json.h"
#include "util.h"
#include "verbs.h"
#include "wait.h"

#define USER_DATA_MAX (32 * 1024) /* ECS: at most 32 KiB before base64 */

static const struct ecsctl_column instance_columns[] = {
	{ "ID", "InstanceId" },
	{ "NAME", "InstanceName" },
	{ "STATUS", "Status" },
	{ "TYPE", "InstanceType" },
	{ "IMAGE", "ImageId" },
	{ "IP", "InnerIpAddress.IpAddress|VpcAttributes.PrivateIpAddress.IpAddress|PublicIpAddress.IpAddress" },
	{ "HOST", "HostId" },
	{ "ZONE", "ZoneId" },
	{ "CREATED", "CreationTime" },
};

static int add_indexed(struct ecs_kvlist *p, const char *fmt, size_t i, const char *value)
{
	char key[64];

	snprintf(key, sizeof(key), fmt, i);
	return ecs_kvlist_add(p, key, value);
}

static int read_user_data(struct ecsctl *ctx, const char *path, char **ret)
{
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r = ecs_read_file(path, USER_DATA_MAX, &data, &len);

	if (r == -EFBIG)
		return ecsctl_usage_error(ctx, "--user-data %s: larger than 32 KiB", path);
	if (r < 0)
		return ecsctl_usage_error(ctx, "--user-data %s: %s", path, strerror(-r));
	*ret = ecs_base64_encode(data, len);
	return *ret ? 0 : -ENOMEM;
}

static int run_params(struct ecsctl *ctx, const struct ecsctl_args *a, struct ecs_kvlist *p)
{
	_cleanup_free_ char *user_data = NULL;
	const char *ud = ecsctl_args_get(a, "user-data");
	size_t n_sg = 0, n_disk = 0;
	long long v;
	int r;

	if ((r = ecs_kvlist_add(p, "ImageId", ecsctl_args_get(a, "image"))) < 0 ||
	    (r = ecs_kvlist_add(p, "InstanceType", ecsctl_args_get(a, "type"))) < 0)
		return r;
	if ((r = ecsctl_flag_int(ctx, a, "count", 1, 100, 1, &v)) < 0)
		return r;
	if (ecsctl_args_get(a, "count") && (r = ecs_kvlist_add(p, "Amount", ecsctl_args_get(a, "count"))) < 0)
		return r;
	if ((r = ecsctl_param_from_flag(p, a, "keypair", "KeyPairName")) < 0 ||
	    (r = ecsctl_param_from_flag(p, a, "name", "InstanceName")) < 0 ||
	    (r = ecsctl_param_from_flag(p, a, "hostname", "HostName")) < 0 ||
	    (r = ecsctl_param_from_flag(p, a, "password", "Password")) < 0 ||
	    (r = ecsctl_param_from_flag(p, a, "zone", "ZoneId")) < 0 ||
	    (r = ecsctl_param_from_flag(p, a, "deployment-set", "DeploymentSetId")) < 0)
		return r;
	if (ud) {
		if ((r = read_user_data(ctx, ud, &user_data)) < 0 || (r = ecs_kvlist_add(p, "UserData", user_data)) < 0)
			return r;
	}
	if ((r = ecsctl_flag_int(ctx, a, "system-disk", 1, 65536, 0, &v)) < 0)
		return r;
	if ((r = ecsctl_param_from_flag(p, a, "system-disk", "SystemDisk.Size")) < 0)
		return r;
	for (size_t i = 0; i < a->flags.n; i++)
		n_sg += streq(a->flags.items[i].key, "security-group");
	for (size_t i = 0, k = 0; i < a->flags.n; i++) {
		const struct ecs_kv *f = &a->flags.items[i];

		r = 0;
		if (streq(f->key, "security-group")) {
			/* One group: SecurityGroupId as CreateInstance; several: the RunInstances list. */
			r = n_sg == 1 ? ecs_kvlist_add(p, "SecurityGroupId", f->value)
				      : add_indexed(p, "SecurityGroupIds.%zu", ++k, f->value);
		} else if (streq(f->key, "disk")) {
			if (ecs_parse_int64(f->value, 1, 65536, &v) < 0)
				return ecsctl_usage_error(ctx, "--disk takes a size in GiB (1..65536), not \"%s\"",
							  f->value);
			if (++n_disk > 16)
				return ecsctl_usage_error(ctx, "at most 16 --disk");
			r = add_indexed(p, "DataDisk.%zu.Size", n_disk, f->value);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/* The ids in reply[outer][inner] (an array of strings) into a new vector. */
static int id_vector(struct json_object *list, const char ***ret, size_t *ret_n)
{
	size_t n = list ? json_object_array_length(list) : 0;
	const char **v = calloc(n + 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		v[i] = json_object_get_string(json_object_array_get_idx(list, i));
	*ret = v;
	*ret_n = n;
	return 0;
}

static int run_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	struct ecs_kvlist p = ECS_KVLIST_INIT;
	struct json_object *reply = NULL, *ids;
	_cleanup_free_ const char **idv = NULL;
	size_t n = 0;
	long timeout;
	int r;

	r = ecsctl_flag_timeout(ctx, a, &timeout);
	if (r < 0)
		goto out;
	r = run_params(ctx, a, &p);
	if (r < 0)
		goto out;
	r = ecsctl_call(ctx, "RunInstances", &p, &reply);
	if (r < 0)
		goto out;
	ids = ecsctl_reply_list(reply, "InstanceIdSets", "InstanceIdSet");
	if (!ids) {
		r = ecsctl_fail(ctx, -EBADMSG, "the reply to RunInstances has no InstanceIdSets.InstanceIdSet");
		goto out;
	}
	if (ctx->output == ECSCTL_OUTPUT_JSON)
		ecsctl_print_json(ctx->out, reply);
	else
		ecsctl_print_ids(ctx->out, ids, "");
	fflush(ctx->out);
	if (!ecsctl_args_bool(a, "wait"))
		goto out;
	r = id_vector(ids, &idv, &n);
	if (r < 0)
		goto out;
	r = ecsctl_wait_for(ctx, &ecsctl_watch_instance, idv, n, "Running", timeout);
out:
	json_object_put(reply);
	ecs_kvlist_clear(&p);
	return r;
}

static const struct ecsctl_listing instances = {
	"DescribeInstances", "Instances", "Instance", 100, ECSCTL_COLUMNS(instance_columns), "InstanceId",
	ECSCTL_PAIRS("status", "Status", "zone", "ZoneId", "name", "InstanceName"),
};

int ecsctl_instance_describe(struct ecsctl *ctx, const char *id, struct json_object **ret)
{
	struct ecs_kvlist p = ECS_KVLIST_INIT;
	struct json_object *reply = NULL, *row = NULL, *list;
	_cleanup_free_ char *ids = ecsctl_json_string_array(&id, 1);
	int r;

	if (!ids)
		return -ENOMEM;
	if ((r = ecs_kvlist_add(&p, "InstanceIds", ids)) < 0)
		goto out;
	r = ecsctl_call(ctx, "DescribeInstances", &p, &reply);
	if (r < 0)
		goto out;
	list = ecsctl_reply_list(reply, "Instances", "Instance");
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		struct json_object *o = json_object_array_get_idx(list, i);

		if (streq(ecs_json_str(o, "InstanceId", NULL), id))
			row = o;
	}
	if (!row) {
		r = ecsctl_fail(ctx, -ENOENT, "InvalidInstanceId.NotFound: instance %s does not exist", id);
		goto out;
	}
	*ret = json_object_get(row);
out:
	json_object_put(reply);
	ecs_kvlist_clear(&p);
	return r;
}

static int show_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	struct json_object *o = NULL;
	int r = ecsctl_instance_describe(ctx, a->pos[0], &o);

	if (r < 0)
		return r;
	r = ecsctl_print_object(ctx->out, ctx->output, o);
	json_object_put(o);
	return r;
}

static int wait_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	static const char *const known[] = { "Pending", "Starting", "Running", "Stopping", "Stopped", "Deleted" };
	const char *arg = ecsctl_args_get(a, "status"), *status = NULL;
	long timeout;
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (strcaseeq(arg, known[i]))
			status = known[i];
	if (!status)
		return ecsctl_usage_error(ctx, "--status takes Pending, Starting, Running, Stopping, Stopped or "
					  "Deleted, not \"%s\"", arg);
	r = ecsctl_flag_timeout(ctx, a, &timeout);
	if (r < 0)
		return r;
	return ecsctl_wait_for(ctx, &ecsctl_watch_instance, a->pos, a->n_pos,
			       streq(status, "Deleted") ? NULL : status, timeout);
}

static const struct ecsctl_flag run_flags[] = {
	{ "image", ECSCTL_FLAG_VALUE, true, "IMAGE", "ImageId" },
	{ "type", ECSCTL_FLAG_VALUE, true, "TYPE", "InstanceType, e.g. ecs.t1.small" },
	{ "keypair", ECSCTL_FLAG_VALUE, false, "NAME", "KeyPairName: the key pair root logs in with" },
	{ "count", ECSCTL_FLAG_VALUE, false, "N", "Amount: how many (1..100, default 1)" },
	{ "name", ECSCTL_FLAG_VALUE, false, "NAME", "InstanceName" },
	{ "hostname", ECSCTL_FLAG_VALUE, false, "HOST", "HostName" },
	{ "password", ECSCTL_FLAG_VALUE, false, "PASSWORD", "Password of root (visible in ps)" },
	{ "user-data", ECSCTL_FLAG_VALUE, false, "FILE", "UserData: the file, base64-encoded (at most 32 KiB)" },
	{ "security-group", ECSCTL_FLAG_LIST, false, "SG", "SecurityGroupId; repeat for SecurityGroupIds.N" },
	{ "system-disk", ECSCTL_FLAG_VALUE, false, "SIZE_GIB", "SystemDisk.Size" },
	{ "disk", ECSCTL_FLAG_LIST, false, "SIZE_GIB", "a data disk, DataDisk.N.Size" },
	{ "zone", ECSCTL_FLAG_VALUE, false, "ZONE", "ZoneId" },
	{ "deployment-set", ECSCTL_FLAG_VALUE, false, "DS", "DeploymentSetId: each member on its own host" },
	ECSCTL_WAIT_FLAGS("wait until done"),
	{ NULL },
};

static const struct ecsctl_flag ls_flags[] = {
	{ "status", ECSCTL_FLAG_VALUE, false, "STATUS", "only instances in this Status" },
	{ "zone", ECSCTL_FLAG_VALUE, false, "ZONE", "only instances in this ZoneId" },
	{ "name", ECSCTL_FLAG_VALUE, false, "NAME", "only instances with this InstanceName" },
	{ NULL },
};

static const struct ecsctl_flag start_flags[] = { ECSCTL_WAIT_FLAGS("wait until done"), { NULL } };

static const struct ecsctl_flag stop_flags[] = {
	{ "force", ECSCTL_FLAG_BOOL, false, NULL, "ForceStop: power off without asking the guest" },
	ECSCTL_WAIT_FLAGS("wait until done"),
	{ NULL },
};

/* One call per id, then with --wait a wait for the status (rm: until gone). */
static const struct ecsctl_each instance_start = {
	"StartInstance", "InstanceId", NULL, &ecsctl_watch_instance, "Running",
};
static const struct ecsctl_each instance_stop = {
	"StopInstance", "InstanceId", "ForceStop", &ecsctl_watch_instance, "Stopped",
};
static const struct ecsctl_each instance_reboot = {
	"RebootInstance", "InstanceId", "ForceStop", &ecsctl_watch_instance, "Running",
};
static const struct ecsctl_each instance_rm = {
	"DeleteInstance", "InstanceId", "Force", &ecsctl_watch_instance, NULL,
};

static const struct ecsctl_flag reboot_flags[] = {
	{ "force", ECSCTL_FLAG_BOOL, false, NULL, "ForceStop: reset without asking the guest" },
	{ NULL },
};

static const struct ecsctl_flag rm_flags[] = {
	{ "force", ECSCTL_FLAG_BOOL, false, NULL, "Force: delete a running instance" },
	ECSCTL_WAIT_FLAGS("wait until done"),
	{ NULL },
};

static const struct ecsctl_flag wait_flags[] = {
	{ "status", ECSCTL_FLAG_VALUE, true, "STATUS", "Running, Stopped, … or Deleted (no longer listed)" },
	{ "timeout", ECSCTL_FLAG_VALUE, false, "SECONDS", "give up after this (default 600); then exit 3" },
	{ NULL },
};

const struct ecsctl_verb ecsctl_instance_verbs[] = {
	{
		.name = "run",
		.max_pos = 0,
		.flags = run_flags,
		.actions = "RunInstances; DescribeInstances with --wait",
		.summary = "create and start instances; prints their ids",
		.details = "With --wait, returns when every instance is Running.\n"
			   "  ecsctl run --image tiny --type ecs.t1.small --keypair k --count 2 --wait",
		.run = run_run,
	},
	{
		.name = "ls",
		.flags = ls_flags,
		.summary = "list instances",
		.list = &instances,
	},
	{
		.name = "show",
		.synopsis = "ID",
		.min_pos = 1,
		.max_pos = 1,
		.actions = "DescribeInstances",
		.summary = "show one instance (-o json: its DescribeInstances fields)",
		.run = show_run,
	},
	{
		.name = "start",
		ECSCTL_IDS("ID..."),
		.flags = start_flags,
		.summary = "start instances (--wait: until Running)",
		.each = &instance_start,
	},
	{
		.name = "stop",
		ECSCTL_IDS("ID..."),
		.flags = stop_flags,
		.summary = "stop instances (--wait: until Stopped)",
		.each = &instance_stop,
	},
	{
		.name = "reboot",
		ECSCTL_IDS("ID..."),
		.flags = reboot_flags,
		.summary = "reboot instances",
		.each = &instance_reboot,
	},
	{
		.name = "rm",
		ECSCTL_IDS("ID..."),
		.flags = rm_flags,
		.summary = "delete instances (--wait: until no longer listed)",
		.each = &instance_rm,
	},
	{
		.name = "wait",
		ECSCTL_IDS("ID..."),
		.flags = wait_flags,
		.actions = "DescribeInstances",
		.summary = "wait until instances have a status",
		.details = "Exits 0 when every instance has the status, 3 when the time runs out.",
		.run = wait_run,
	},
	{ .name = NULL },
};
