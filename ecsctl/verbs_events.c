/* verbs_events.c: `ecsctl events ID`, the system events of one instance
 * (DescribeInstanceHistoryEvents, every cycle status, every page): when it happened, what
 * (SystemFailure.Reboot: its host died and it was started on another), where it stands. */
#include <stdio.h>

#include "json.h"
#include "util.h"
#include "verbs.h"

static const struct ecsctl_column event_columns[] = {
	{ "EVENT", "EventId" },	       { "TYPE", "ecsctlType" },	  { "STATUS", "ecsctlStatus" },
	{ "PUBLISHED", "EventPublishTime" }, { "FINISHED", "EventFinishTime" }, { "REASON", "Reason" },
};

static int events_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	static const char *const cycle[] = { "Scheduled", "Avoided",  "Executing", "Executed",
					     "Canceled",  "Failed",   "Inquiring" };
	struct json_object *rows = json_object_new_array();
	int r = 0;

	for (long page = 1; page <= 1000 && r == 0; page++) {
		struct ecs_kvlist p = ECS_KVLIST_INIT;
		struct json_object *reply = NULL, *list;
		char num[24];
		size_t n;

		snprintf(num, sizeof(num), "%ld", page);
		r = ecs_kvlist_add(&p, "InstanceId", a->pos[0]);
		for (size_t i = 0; r == 0 && i < ARRAY_SIZE(cycle); i++) {
			char key[48];

			snprintf(key, sizeof(key), "InstanceEventCycleStatus.%zu", i + 1);
			r = ecs_kvlist_add(&p, key, cycle[i]);
		}
		if (r == 0 && (r = ecs_kvlist_add(&p, "PageSize", "100")) == 0 &&
		    (r = ecs_kvlist_add(&p, "PageNumber", num)) == 0)
			r = ecsctl_call(ctx, "DescribeInstanceHistoryEvents", &p, &reply);
		ecs_kvlist_clear(&p);
		if (r < 0)
			break;
		list = ecsctl_reply_list(reply, "InstanceSystemEventSet", "InstanceSystemEventType");
		n = list ? json_object_array_length(list) : 0;
		for (size_t i = 0; i < n; i++) {
			struct json_object *e = json_object_get(json_object_array_get_idx(list, i));

			ecs_jb_str(e, "ecsctlType", ecs_json_str(ecs_json_get(e, "EventType"), "Name", ""));
			ecs_jb_str(e, "ecsctlStatus", ecs_json_str(ecs_json_get(e, "EventCycleStatus"), "Name", ""));
			json_object_array_add(rows, e);
		}
		json_object_put(reply);
		if (n < 100)
			break;
	}
	if (r == 0) {
		if (ctx->output == ECSCTL_OUTPUT_JSON)
			ecsctl_print_json(ctx->out, rows);
		else
			r = ecsctl_print_table(ctx->out, event_columns, ARRAY_SIZE(event_columns), rows);
	}
	json_object_put(rows);
	return r;
}

const struct ecsctl_verb ecsctl_events_verbs[] = {
	{
		.name = "events",
		.synopsis = "ID",
		.min_pos = 1,
		.max_pos = 1,
		.actions = "DescribeInstanceHistoryEvents",
		.summary = "an instance's system events (SystemFailure.Reboot: restarted on another host)",
		.run = events_run,
	},
	{ .name = NULL },
};
