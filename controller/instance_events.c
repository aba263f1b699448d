/* instance_events.c: DescribeInstanceHistoryEvents, the system events of the caller's
 * instances (heal.c records SystemFailure.Reboot when a dead host's instance is started on
 * another host). As ECS: without a cycle status, only the finished ones (Executed, Avoided,
 * Canceled, Failed); InstanceEventCycleStatus.N asks for others (Executing). */
#include "instance.h"

#include "common.h"
#include "json.h"
#include "params.h"
#include "util.h"

static const char *const statuses[] = { "Scheduled", "Avoided",	 "Executing", "Executed",
					"Canceled",  "Failed",	 "Inquiring", NULL };
static const char *const types[] = { "SystemMaintenance.Reboot", "SystemMaintenance.Redeploy",
				     "SystemFailure.Reboot",	 "SystemFailure.Redeploy",
				     "SystemFailure.Delete",	 "InstanceFailure.Reboot",
				     "SystemMaintenance.Migrate", NULL };

/* ECS's numeric codes beside the names. */
static int code_of(const char *name)
{
	static const struct {
		const char *name;
		int code;
	} codes[] = { { "SystemMaintenance.Reboot", 1 }, { "SystemMaintenance.Redeploy", 2 },
		      { "SystemFailure.Reboot", 65 },	 { "SystemFailure.Redeploy", 66 },
		      { "SystemFailure.Delete", 67 },	 { "InstanceFailure.Reboot", 68 },
		      { "SystemMaintenance.Migrate", 3 }, /* ours: a live migration (migrate.h) */
		      { "Scheduled", 24 },		 { "Avoided", 18 },
		      { "Executing", 32 },		 { "Executed", 48 },
		      { "Canceled", 64 },		 { "Failed", 65 },
		      { "Inquiring", 16 } };

	for (size_t i = 0; i < ARRAY_SIZE(codes); i++)
		if (streq(codes[i].name, name))
			return codes[i].code;
	return 0;
}

static struct json_object *named(const char *name)
{
	struct json_object *o = json_object_new_object();

	ecs_jb_int(o, "Code", code_of(name));
	ecs_jb_str(o, "Name", name);
	return o;
}

static struct json_object *event_json(struct ctl_call *call, sqlite3_stmt *st, void *arg)
{
	struct json_object *o = json_object_new_object();

	(void)call;
	(void)arg;
	ecs_jb_str(o, "EventId", ctl_col(st, 0));
	ecs_jb_str(o, "InstanceId", ctl_col(st, 1));
	json_object_object_add(o, "EventType", named(ctl_col(st, 2)));
	json_object_object_add(o, "EventCycleStatus", named(ctl_col(st, 3)));
	ecs_jb_str(o, "Reason", ctl_col(st, 4));
	ecs_jb_str(o, "NotBefore", ctl_col(st, 5));
	ecs_jb_str(o, "EventPublishTime", ctl_col(st, 6));
	ecs_jb_str(o, "EventFinishTime", ctl_col(st, 7));
	ecs_jb_str(o, "ImpactLevel", "100");
	return o;
}

int ctl_instance_history_events(struct ctl_call *call, struct json_object *out)
{
	_cleanup_json_ struct json_object *cycle = NULL, *ids = NULL;
	const char *id = NULL, *type = NULL, *one = NULL;
	struct ctl_page page;
	int r;

	if ((r = ctl_param_id(call, "InstanceId", 0, "i-", &id)) < 0 ||
	    (r = ctl_param_enum(call, "EventType", 0, types, NULL, &type)) < 0 ||
	    (r = ctl_param_enum(call, "EventCycleStatus", 0, statuses, NULL, &one)) < 0 ||
	    (r = ctl_param_repeat(call, "InstanceEventCycleStatus", NULL, 7, &cycle)) < 0 ||
	    (r = ctl_param_repeat(call, "EventId", NULL, 100, &ids)) < 0 || (r = ctl_param_paging(call, 100, 10, &page)) < 0)
		return r;
	for (size_t i = 0; i < json_object_array_length(cycle); i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(cycle, i));
		bool known = false;

		for (size_t k = 0; statuses[k] && !known; k++)
			known = streq(statuses[k], s);
		if (!known)
			return ctl_fail(call, 400, "InvalidParameter", "The specified InstanceEventCycleStatus is not valid.");
	}
	if (!json_object_array_length(cycle)) {
		json_object_put(cycle);
		cycle = json_object_new_array();
		if (one) {
			json_object_array_add(cycle, json_object_new_string(one));
		} else {
			for (size_t k = 0; k < 4; k++)
				json_object_array_add(cycle, json_object_new_string(
								     (const char *[]){ "Executed", "Avoided", "Canceled", "Failed" }[k]));
		}
	}
	return ctl_page_query(
		call, &page,
		&(struct ctl_page_query){
			.columns = "e.event_id, e.instance_id, e.event_type, e.status, e.reason,"
				   " strftime('%Y-%m-%dT%H:%M:%SZ', e.not_before, 'unixepoch'),"
				   " strftime('%Y-%m-%dT%H:%M:%SZ', e.published_at, 'unixepoch'),"
				   " CASE WHEN e.finished_at > 0 THEN strftime('%Y-%m-%dT%H:%M:%SZ', e.finished_at, 'unixepoch')"
				   " ELSE '' END",
			/* The caller's instances only (also those deleted since). */
			.from = " FROM instance_events e JOIN instances i ON i.instance_id = e.instance_id WHERE"
				" i.account_id = ?1 AND (?2 IS NULL OR e.instance_id = ?2) AND (?3 IS NULL OR e.event_type = ?3)"
				" AND e.status IN (SELECT value FROM json_each(?4)) AND"
				" (?5 IS NULL OR e.event_id IN (SELECT value FROM json_each(?5)))",
			.order = " ORDER BY e.published_at DESC, e.event_id",
			.args = (const char *const[]){ id, type, ecs_json_text(cycle, NULL),
						       json_object_array_length(ids) ? ecs_json_text(ids, NULL) : NULL },
			.n_args = 4,
			.list_key = "InstanceSystemEventSet",
			.item_key = "InstanceSystemEventType",
			.row = event_json,
		},
		out);
}
