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

static const struct ecsctl_listing deployset_list = { "DescribeDeploymentSets", "DeploymentSets", "DeploymentSet", 50,
						      ECSCTL_COLUMNS(deployset_columns), "DeploymentSetId",
						      ECSCTL_PAIRS("name", "DeploymentSetName") };

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

static const struct ecsctl_each deployset_rm = { .action = "DeleteDeploymentSet", .id_param = "DeploymentSetId" };

const struct ecsctl_verb ecsctl_deployset_verbs[] = {
	{
		.group = "deployset",
		.name = "create",
		.flags = create_flags,
		.summary = "create a deployment set (strategy Availability); prints its id",
		.details = "Each member of the set runs on its own host: a member no host can take is refused\n"
			   "(QuotaExceed.DeploymentSetInstanceQuotaFull). When a host dies and no other host keeps\n"
			   "the rule, --on-unable says what recovery does: CancelMembershipAndStart (the instance\n"
			   "leaves the set and starts anyway) or KeepStopped (it waits for a host that keeps it).\n"
			   "  ds=$(ecsctl deployset create --name web)\n"
			   "  ecsctl run --image tiny --type ecs.t1.small --count 3 --deployment-set \"$ds\"",
		.create = &deployset_create,
	},
	{
		.group = "deployset",
		.name = "ls",
		.flags = ls_flags,
		.summary = "list deployment sets and their member counts",
		.list = &deployset_list,
	},
	{
		.group = "deployset",
		.name = "rm",
		ECSCTL_IDS("DS..."),
		.summary = "delete deployment sets (refused while a set has members)",
		.each = &deployset_rm,
	},
	{ .name = NULL },
};
