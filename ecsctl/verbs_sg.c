/* verbs_sg.c: security groups: create, ls, show, allow, deny, revoke, join, leave, rm. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"
#include "verbs.h"

static const struct ecsctl_column sg_columns[] = {
	{ "ID", "SecurityGroupId" },
	{ "NAME", "SecurityGroupName" },
	{ "DESCRIPTION", "Description" },
	{ "CREATED", "CreationTime" },
};

static const struct ecsctl_column rule_columns[] = {
	{ "DIRECTION", "Direction" },	  { "PROTOCOL", "IpProtocol" },	  { "PORTS", "PortRange" },
	{ "SOURCE", "SourceCidrIp" },	  { "SOURCE_GROUP", "SourceGroupId" }, { "DEST", "DestCidrIp" },
	{ "DEST_GROUP", "DestGroupId" }, { "POLICY", "Policy" },	  { "PRIORITY", "Priority" },
};

static const struct ecsctl_creation sg_create = {
	"CreateSecurityGroup", "SecurityGroupId", ECSCTL_PAIRS("name", "SecurityGroupName", "description", "Description"),
	NULL, NULL,
};

static const struct ecsctl_listing groups = { "DescribeSecurityGroups", "SecurityGroups", "SecurityGroup", 50,
					     ECSCTL_COLUMNS(sg_columns), "SecurityGroupId",
					     ECSCTL_PAIRS("name", "SecurityGroupName") };

static int show_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	struct ecs_kvlist p = ECS_KVLIST_INIT;
	struct json_object *reply = NULL;
	int r;

	if ((r = ecs_kvlist_add(&p, "SecurityGroupId", a->pos[0])) < 0 ||
	    (r = ecs_kvlist_add(&p, "Direction", "all")) < 0)
		goto out;
	r = ecsctl_call(ctx, "DescribeSecurityGroupAttribute", &p, &reply);
	if (r < 0)
		goto out;
	if (ctx->output == ECSCTL_OUTPUT_JSON)
		ecsctl_print_done(ctx, reply);
	else
		r = ecsctl_print_list(ctx, ecsctl_reply_list(reply, "Permissions", "Permission"), "Permissions",
				      "Permission", rule_columns, ARRAY_SIZE(rule_columns), "Direction");
out:
	json_object_put(reply);
	ecs_kvlist_clear(&p);
	return r;
}

/* The rule a verb names, as Authorize/Revoke(Egress) take it. */
static int rule_params(struct ecsctl *ctx, const struct ecsctl_args *a, const char *policy, struct ecs_kvlist *p,
		       const char **ret_action_suffix)
{
	bool egress = ecsctl_args_bool(a, "egress");
	const char *proto = ecsctl_args_get(a, "protocol"), *port = ecsctl_args_get(a, "port");
	const char *cidr = ecsctl_args_get(a, "cidr"), *group = ecsctl_args_get(a, "group");
	_cleanup_free_ char *range = NULL;
	int r;

	if (!cidr && !group)
		cidr = "0.0.0.0/0";
	if (cidr && group)
		return ecsctl_usage_error(ctx, "give --cidr or --group, not both");
	if (!port)
		port = "-1/-1";
	/* "22" means 22/22. */
	range = strchr(port, '/') ? strdup(port) : ecs_strdup_printf("%s/%s", port, port);
	if (!range)
		return -ENOMEM;
	if ((r = ecs_kvlist_add(p, "SecurityGroupId", a->pos[0])) < 0 ||
	    (r = ecs_kvlist_add(p, "IpProtocol", proto ? proto : "all")) < 0 ||
	    (r = ecs_kvlist_add(p, "PortRange", range)) < 0 ||
	    (policy && (r = ecs_kvlist_add(p, "Policy", policy)) < 0) ||
	    (cidr && (r = ecs_kvlist_add(p, egress ? "DestCidrIp" : "SourceCidrIp", cidr)) < 0) ||
	    (group && (r = ecs_kvlist_add(p, egress ? "DestGroupId" : "SourceGroupId", group)) < 0) ||
	    (r = ecsctl_param_from_flag(p, a, "priority", "Priority")) < 0 ||
	    (r = ecsctl_param_from_flag(p, a, "description", "Description")) < 0)
		return r;
	*ret_action_suffix = egress ? "Egress" : "";
	return 0;
}

static int rule_verb(struct ecsctl *ctx, const struct ecsctl_args *a, const char *action, const char *policy)
{
	_cleanup_kvlist_ struct ecs_kvlist p = ECS_KVLIST_INIT;
	const char *suffix = "";
	char name[64];
	int r = rule_params(ctx, a, policy, &p, &suffix);

	if (r < 0)
		return r;
	snprintf(name, sizeof(name), "%s%s", action, suffix);
	return ecsctl_call_done(ctx, name, &p);
}

static int allow_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	return rule_verb(ctx, a, "AuthorizeSecurityGroup", "accept");
}

static int deny_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	return rule_verb(ctx, a, "AuthorizeSecurityGroup", "drop");
}

static int revoke_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	return rule_verb(ctx, a, "RevokeSecurityGroup", ecsctl_args_get(a, "policy"));
}

static int member_verb(struct ecsctl *ctx, const struct ecsctl_args *a, const char *action)
{
	_cleanup_kvlist_ struct ecs_kvlist p = ECS_KVLIST_INIT;
	int r;

	if ((r = ecs_kvlist_add(&p, "SecurityGroupId", a->pos[0])) < 0 ||
	    (r = ecs_kvlist_add(&p, "InstanceId", a->pos[1])) < 0)
		return r;
	return ecsctl_call_done(ctx, action, &p);
}

static int join_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	return member_verb(ctx, a, "JoinSecurityGroup");
}

static int leave_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	return member_verb(ctx, a, "LeaveSecurityGroup");
}

static const struct ecsctl_flag create_flags[] = {
	{ "name", ECSCTL_FLAG_VALUE, false, "NAME", "SecurityGroupName" },
	{ "description", ECSCTL_FLAG_VALUE, false, "TEXT", "Description" },
	{ NULL },
};

static const struct ecsctl_flag ls_flags[] = {
	{ "name", ECSCTL_FLAG_VALUE, false, "NAME", "only groups with this SecurityGroupName" },
	{ NULL },
};

#define RULE_FLAGS                                                                                              \
	{ "protocol", ECSCTL_FLAG_VALUE, false, "PROTO", "IpProtocol: tcp, udp, icmp, gre or all (default all)" },  \
	{ "port", ECSCTL_FLAG_VALUE, false, "FROM[/TO]", "PortRange (tcp and udp; default -1/-1, every port)" },   \
	{ "cidr", ECSCTL_FLAG_VALUE, false, "CIDR", "SourceCidrIp (DestCidrIp with --egress); default 0.0.0.0/0" }, \
	{ "group", ECSCTL_FLAG_VALUE, false, "SG", "SourceGroupId (DestGroupId with --egress)" },                 \
	{ "priority", ECSCTL_FLAG_VALUE, false, "1-100", "Priority: smaller first (default 1)" },                   \
	{ "egress", ECSCTL_FLAG_BOOL, false, NULL, "an outbound rule (the Egress actions)" }

static const struct ecsctl_flag allow_flags[] = {
	RULE_FLAGS,
	{ "description", ECSCTL_FLAG_VALUE, false, "TEXT", "Description" },
	{ NULL },
};

static const struct ecsctl_flag revoke_flags[] = {
	RULE_FLAGS,
	{ "policy", ECSCTL_FLAG_VALUE, false, "accept|drop", "Policy of the rule to revoke (default accept)" },
	{ NULL },
};

static const struct ecsctl_each sg_rm = { .action = "DeleteSecurityGroup", .id_param = "SecurityGroupId" };

const struct ecsctl_verb ecsctl_sg_verbs[] = {
	{
		.group = "sg",
		.name = "create",
		.flags = create_flags,
		.summary = "create a security group; prints its id",
		.create = &sg_create,
	},
	{
		.group = "sg",
		.name = "ls",
		.flags = ls_flags,
		.summary = "list security groups",
		.list = &groups,
	},
	{
		.group = "sg",
		.name = "show",
		.synopsis = "SG",
		.min_pos = 1,
		.max_pos = 1,
		.actions = "DescribeSecurityGroupAttribute (Direction all)",
		.summary = "a group's rules",
		.run = show_run,
	},
	{
		.group = "sg",
		.name = "allow",
		.synopsis = "SG",
		.min_pos = 1,
		.max_pos = 1,
		.flags = allow_flags,
		.actions = "AuthorizeSecurityGroup, AuthorizeSecurityGroupEgress (Policy accept)",
		.summary = "add an accept rule, e.g. allow sg-… --protocol tcp --port 80 --cidr 10.0.0.0/8",
		.run = allow_run,
	},
	{
		.group = "sg",
		.name = "deny",
		.synopsis = "SG",
		.min_pos = 1,
		.max_pos = 1,
		.flags = allow_flags,
		.actions = "AuthorizeSecurityGroup, AuthorizeSecurityGroupEgress (Policy drop)",
		.summary = "add a drop rule (at equal priority a drop wins over an accept)",
		.run = deny_run,
	},
	{
		.group = "sg",
		.name = "revoke",
		.synopsis = "SG",
		.min_pos = 1,
		.max_pos = 1,
		.flags = revoke_flags,
		.actions = "RevokeSecurityGroup, RevokeSecurityGroupEgress",
		.summary = "remove the rule the flags name",
		.run = revoke_run,
	},
	{
		.group = "sg",
		.name = "join",
		.synopsis = "SG INSTANCE",
		.min_pos = 2,
		.max_pos = 2,
		.actions = "JoinSecurityGroup",
		.summary = "put an instance in a group (1-5 groups each)",
		.run = join_run,
	},
	{
		.group = "sg",
		.name = "leave",
		.synopsis = "SG INSTANCE",
		.min_pos = 2,
		.max_pos = 2,
		.actions = "LeaveSecurityGroup",
		.summary = "take an instance out of a group (not its last)",
		.run = leave_run,
	},
	{
		.group = "sg",
		.name = "rm",
		ECSCTL_IDS("SG..."),
		.summary = "delete groups (refused while an instance or another group's rule uses one)",
		.each = &sg_rm,
	},
	{ .name = NULL },
};
