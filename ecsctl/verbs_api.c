/* verbs_api.c: `ecsctl api ACTION --Param value …`, any action with any parameters. */
#include <errno.h>
#include <string.h>

#include "util.h"
#include "verbs.h"

static int api_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	const char *action = a->pos[0];
	struct json_object *reply = NULL;
	int r;

	for (const char *p = action; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
			return ecsctl_usage_error(ctx, "\"%s\" is not an action name (letters and digits)", action);
	r = ecsctl_call(ctx, action, &a->flags, &reply);
	if (r < 0)
		return r;
	ecsctl_print_json(ctx->out, reply);
	json_object_put(reply);
	return 0;
}

static const struct ecsctl_flag api_flags[] = { { NULL } };

const struct ecsctl_verb ecsctl_api_verbs[] = {
	{
		.name = "api",
		.synopsis = "ACTION [--Param VALUE]...",
		.min_pos = 1,
		.max_pos = 1,
		.any_flags = true,
		.flags = api_flags,
		.actions = "any",
		.summary = "call any API action and print its JSON reply",
		.details = "Every --Name VALUE (or --Name=VALUE) is sent as the parameter Name, as given:\n"
			   "  ecsctl api DescribeInstances --InstanceIds '[\"i-abc\"]' --PageSize 50\n"
			   "  ecsctl api CreateInstance --ImageId tiny --InstanceType ecs.t1.small --Tag.1.Key env\n"
			   "A parameter replaces a common one of the same name (--RegionId, --Version).\n"
			   "The reply is printed as JSON whatever -o says.",
		.run = api_run,
	},
	{ .name = NULL },
};
