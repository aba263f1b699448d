/* verbs_deployset.c: deployset create, ls, rm (deployment sets: each member on its own host;
 * `ecsctl run --deployment-set DS` makes an instance a member). */
#include "util.h"
#include "verbs.h"

static const struct ecsctl_column deployset_columns[] = {
	{ "ID", "DeploymentSetId" },	 { "NAME", "DeploymentSetName" }, { "STRATEGY", "Strategy" },
	{ "MEMBERS", "InstanceAmount" }, { "CREATED", "CreationTime" },
};

static const struct ecsctl_creation deployset_create = {
	"CreateDeploymentSet", "DeploymentSetId",
	ECSCTL_PAIRS("name", "DeploymentSetName", "description", "Description", "on-unable",
		     "OnUnableToRedeployFailedInstance"),
	NULL, NULL,
};

static int create_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	return ecsctl_create(ctx, a, &deployset_create, NULL, 0);
}

static const struct ecsctl_listing deployset_list = { "DescribeDeploymentSets", "DeploymentSets", "DeploymentSet", 50,
						      ECSCTL_COLUMNS(deployset_columns), "DeploymentSetId",
						      ECSCTL_PAIRS("name", "DeploymentSetName") };

static int ls_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	return ecsctl_list(ctx, a, &deployset_list, NULL);
}

static int rm_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	return ecsctl_each_id(ctx, a, "DeleteDeploymentSet", "DeploymentSetId", NULL);
}

static const struct ecsctl_flag create_flags[] = {
	{ "name", ECSCTL_FLAG_VALUE, false, "NAME", "DeploymentSetName" },
	{ "description", ECSCTL_FLAG_VALUE, false, "TEXT", "Description" },
	{ "on-unable", ECSCTL_FLAG_VALUE, false, "WHAT",
	  "OnUnableToRedeployFailedInstance: CancelMembershipAndStart (default) or KeepStopped" },
	{ NULL },
};

static const struct ecsctl_flag ls_flags[] = {
	{ "name", ECSCTL_FLAG_VALUE, false, "NAME", "only sets with this DeploymentSetName" },
	{ NULL },
};

const struct ecsctl_verb ecsctl_deployset_verbs[] = {
	{
		.group = "deployset",
		.name = "create",
		.flags = create_flags,
		.actions = "CreateDeploymentSet",
		.summary = "create a deployment set (strategy Availability); prints its id",
		.details = "Each member of the set runs on its own host: a member no host can take is refused\n"
			   "(QuotaExceed.DeploymentSetInstanceQuotaFull). When a host dies and no other host keeps\n"
			   "the rule, --on-unable says what recovery does: CancelMembershipAndStart (the instance\n"
			   "leaves the set and starts anyway) or KeepStopped (it waits for a host that keeps it).\n"
			   "  ds=$(ecsctl deployset create --name web)\n"
			   "  ecsctl run --image tiny --type ecs.t1.small --count 3 --deployment-set \"$ds\"",
		.run = create_run,
	},
	{
		.group = "deployset",
		.name = "ls",
		.flags = ls_flags,
		.actions = "DescribeDeploymentSets (every page)",
		.summary = "list deployment sets and their member counts",
		.run = ls_run,
	},
	{
		.group = "deployset",
		.name = "rm",
		.synopsis = "DS...",
		.min_pos = 1,
		.max_pos = ECSCTL_ARGS_MAX,
		.actions = "DeleteDeploymentSet",
		.summary = "delete deployment sets (refused while a set has members)",
		.run = rm_run,
	},
	{ .name = NULL },
};
