/* verbs_policy.c: policy create, ls, apply, cancel, rm (automatic snapshot policies).
 *
 * ECS names these parameters in lower camel case (timePoints, repeatWeekdays,
 * retentionDays, autoSnapshotPolicyId, diskIds) and takes the lists as JSON arrays of
 * strings: timePoints='["0","12"]'. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"
#include "verbs.h"

static const struct ecsctl_column policy_columns[] = {
	{ "ID", "AutoSnapshotPolicyId" }, { "NAME", "AutoSnapshotPolicyName" },
	{ "TIME POINTS", "TimePoints" },  { "WEEKDAYS", "RepeatWeekdays" },
	{ "RETENTION", "RetentionDays" }, { "DISKS", "DiskNums" },
	{ "STATUS", "Status" },
};

/* "0,12" -> '["0","12"]', each a whole number in [min, max], at most max_items. */
static int number_list(struct ecsctl *ctx, const char *flag, const char *in, long long min, long long max,
		       size_t max_items, char **ret)
{
	_cleanup_free_ char *copy = strdup(in);
	const char *items[32];
	size_t n = 0;
	char *save = NULL;

	if (!copy)
		return -ENOMEM;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		long long v;

		while (*tok == ' ')
			tok++;
		if (ecs_parse_int64(tok, min, max, &v) < 0)
			return ecsctl_usage_error(ctx,
						  "--%s takes numbers in %lld..%lld separated by commas, not \"%s\"",
						  flag, min, max, in);
		for (size_t i = 0; i < n; i++)
			if (streq(items[i], tok))
				return ecsctl_usage_error(ctx, "--%s: %s given twice", flag, tok);
		if (n == max_items || n == ARRAY_SIZE(items))
			return ecsctl_usage_error(ctx, "--%s: at most %zu values", flag, max_items);
		items[n++] = tok;
	}
	if (!n)
		return ecsctl_usage_error(ctx, "--%s needs at least one value", flag);
	*ret = ecsctl_json_string_array(items, n);
	return *ret ? 0 : -ENOMEM;
}

static const struct ecsctl_creation policy_create = { "CreateAutoSnapshotPolicy", "AutoSnapshotPolicyId", NULL, NULL,
						      NULL };

static int create_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	_cleanup_kvlist_ struct ecs_kvlist p = ECS_KVLIST_INIT;
	_cleanup_free_ char *points = NULL, *days = NULL;
	const char *retention = ecsctl_args_get(a, "retention-days");
	long long v;
	int r;

	if ((r = number_list(ctx, "time-points", ecsctl_args_get(a, "time-points"), 0, 23, 24, &points)) < 0 ||
	    (r = number_list(ctx, "weekdays", ecsctl_args_get(a, "weekdays"), 1, 7, 7, &days)) < 0)
		return r;
	if (ecs_parse_int64(retention, -1, 65536, &v) < 0 || v == 0)
		return ecsctl_usage_error(ctx, "--retention-days takes -1 (keep for ever) or 1..65536, not \"%s\"",
					  retention);
	if ((r = ecs_kvlist_add(&p, "autoSnapshotPolicyName", ecsctl_args_get(a, "name"))) < 0 ||
	    (r = ecs_kvlist_add(&p, "timePoints", points)) < 0 ||
	    (r = ecs_kvlist_add(&p, "repeatWeekdays", days)) < 0 ||
	    (r = ecs_kvlist_add(&p, "retentionDays", retention)) < 0)
		return r;
	return ecsctl_create(ctx, a, &policy_create, &p, 0);
}

static const struct ecsctl_listing policies = { "DescribeAutoSnapshotPolicyEx", "AutoSnapshotPolicies",
						"AutoSnapshotPolicy", 100, ECSCTL_COLUMNS(policy_columns),
						"AutoSnapshotPolicyId", NULL };

/* action with an optional policy id and the disks (one at least) as diskIds. */
static int policy_disks(struct ecsctl *ctx, const char *action, const char *policy, const char *const *disks,
			size_t n)
{
	_cleanup_kvlist_ struct ecs_kvlist p = ECS_KVLIST_INIT;
	_cleanup_free_ char *list = ecsctl_json_string_array(disks, n);
	int r;

	if (!list)
		return -ENOMEM;
	if ((policy && (r = ecs_kvlist_add(&p, "autoSnapshotPolicyId", policy)) < 0) ||
	    (r = ecs_kvlist_add(&p, "diskIds", list)) < 0)
		return r;
	return ecsctl_call_done(ctx, action, &p);
}

static int apply_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	return policy_disks(ctx, "ApplyAutoSnapshotPolicy", a->pos[0], a->pos + 1, a->n_pos - 1);
}

static int cancel_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	return policy_disks(ctx, "CancelAutoSnapshotPolicy", NULL, a->pos, a->n_pos);
}

static const struct ecsctl_flag create_flags[] = {
	{ "name", ECSCTL_FLAG_VALUE, true, "NAME", "autoSnapshotPolicyName" },
	{ "time-points", ECSCTL_FLAG_VALUE, true, "H,H...", "timePoints: hours 0-23 (the policy's time zone)" },
	{ "weekdays", ECSCTL_FLAG_VALUE, true, "D,D...", "repeatWeekdays: 1 (Monday) to 7 (Sunday)" },
	{ "retention-days", ECSCTL_FLAG_VALUE, true, "DAYS", "retentionDays: 1-65536, or -1 to keep for ever" },
	{ NULL },
};

static const struct ecsctl_each policy_rm = {
	.action = "DeleteAutoSnapshotPolicy", .id_param = "autoSnapshotPolicyId",
};

const struct ecsctl_verb ecsctl_policy_verbs[] = {
	{
		.group = "policy",
		.name = "create",
		.flags = create_flags,
		.actions = "CreateAutoSnapshotPolicy",
		.summary = "create an automatic snapshot policy; prints its id",
		.details = "  ecsctl policy create --name nightly --time-points 0,12 --weekdays 1,2,3,4,5 \\\n"
			   "      --retention-days 7",
		.run = create_run,
	},
	{
		.group = "policy",
		.name = "ls",
		.summary = "list policies",
		.list = &policies,
	},
	{
		.group = "policy",
		.name = "apply",
		.synopsis = "POLICY DISK...",
		.min_pos = 2,
		.max_pos = ECSCTL_ARGS_MAX + 1,
		.actions = "ApplyAutoSnapshotPolicy",
		.summary = "apply a policy to disks",
		.run = apply_run,
	},
	{
		.group = "policy",
		.name = "cancel",
		.synopsis = "DISK...",
		.min_pos = 1,
		.max_pos = ECSCTL_ARGS_MAX,
		.actions = "CancelAutoSnapshotPolicy",
		.summary = "take disks off their policy",
		.run = cancel_run,
	},
	{
		.group = "policy",
		.name = "rm",
		ECSCTL_IDS("POLICY..."),
		.summary = "delete policies",
		.each = &policy_rm,
	},
	{ .name = NULL },
};
