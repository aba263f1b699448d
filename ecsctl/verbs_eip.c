/* verbs_eip.c: instances' public IPs: allocate, release, ls. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"
#include "verbs.h"

static const struct ecsctl_column eip_columns[] = {
	{ "ADDRESS", "PublicIpAddress.IpAddress" },
	{ "INSTANCE", "InstanceId" },
	{ "PRIVATE_IP", "VpcAttributes.PrivateIpAddress.IpAddress|InnerIpAddress.IpAddress" },
	{ "HOST", "HostId" },
};

static const struct ecsctl_creation eip_allocate = { "AllocatePublicIpAddress", "IpAddress",
						     ECSCTL_PAIRS("address", "IpAddress"), NULL, NULL };

static int allocate_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	_cleanup_kvlist_ struct ecs_kvlist p = ECS_KVLIST_INIT;
	int r = ecs_kvlist_add(&p, "InstanceId", a->pos[0]);

	return r < 0 ? r : ecsctl_create(ctx, a, &eip_allocate, &p, 0);
}

static int release_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	_cleanup_kvlist_ struct ecs_kvlist p = ECS_KVLIST_INIT;
	int r;

	if ((r = ecs_kvlist_add(&p, "PublicIpAddress", a->pos[0])) < 0 ||
	    (a->n_pos > 1 && (r = ecs_kvlist_add(&p, "InstanceId", a->pos[1])) < 0))
		return r;
	return ecsctl_call_done(ctx, "ReleasePublicIpAddress", &p);
}

/* The instances that have a public IP, from DescribeInstances. */
static int ls_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	struct json_object *items = NULL, *with = NULL;
	int r;

	(void)a;
	r = ecsctl_describe_all(ctx, "DescribeInstances", NULL, "Instances", "Instance", 100, &items);
	if (r < 0)
		goto out;
	with = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		struct json_object *inst = json_object_array_get_idx(items, i);
		struct json_object *ips = ecs_json_get(ecs_json_get(inst, "PublicIpAddress"), "IpAddress");

		if (ips && json_object_is_type(ips, json_type_array) && json_object_array_length(ips))
			json_object_array_add(with, json_object_get(inst));
	}
	r = ecsctl_print_list(ctx, with, "Instances", "Instance", eip_columns, ARRAY_SIZE(eip_columns),
			      "PublicIpAddress.IpAddress");
out:
	json_object_put(with);
	json_object_put(items);
	return r;
}

static const struct ecsctl_flag allocate_flags[] = {
	{ "address", ECSCTL_FLAG_VALUE, false, "IP", "IpAddress: this address of the public pool (default: the lowest free)" },
	{ NULL },
};

const struct ecsctl_verb ecsctl_eip_verbs[] = {
	{
		.group = "eip",
		.name = "allocate",
		.synopsis = "INSTANCE",
		.min_pos = 1,
		.max_pos = 1,
		.flags = allocate_flags,
		.actions = "AllocatePublicIpAddress",
		.summary = "give an instance (Running or Stopped) a public IP; prints the address",
		.run = allocate_run,
	},
	{
		.group = "eip",
		.name = "release",
		.synopsis = "IP [INSTANCE]",
		.min_pos = 1,
		.max_pos = 2,
		.actions = "ReleasePublicIpAddress",
		.summary = "give a public IP back to the pool",
		.run = release_run,
	},
	{
		.group = "eip",
		.name = "ls",
		.actions = "DescribeInstances (every page)",
		.summary = "the instances that have a public IP",
		.run = ls_run,
	},
	{ .name = NULL },
};
