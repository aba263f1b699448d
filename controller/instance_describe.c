#include "instance.h"

#include "agents.h"
#include "common.h"
#include "json.h"
#include "listcache.h"
#include "params.h"
#include "secgroup.h"
#include "store.h"
#include "util.h"

/* ---- reading instances ---- */

#define INSTANCE_COLUMNS                                                                                   \
	"i.instance_id, i.name, i.description, i.hostname, i.image_id, i.instance_type, i.vcpus, i.memory_mib,"   \
	" i.zone_id, i.host_id, i.status, i.private_ip, i.mac, i.key_pair_name, i.internet_max_bandwidth_out,"     \
	" i.tags, i.error, i.created_at, i.started_at, i.desired,"                                                \
	" (SELECT group_concat(s.position || ':' || s.group_id) FROM instance_security_groups s"                  \
	"  WHERE s.instance_id = i.instance_id),"                                                                  \
	" (SELECT p.address FROM public_ips p WHERE p.owner_id = i.instance_id AND p.state = 'active'),"             \
	" i.deployment_set_id"

struct sg_pos {
	long long pos;
	const char *id;
};

static int sg_pos_cmp(const void *a, const void *b)
{
	const struct sg_pos *x = a, *y = b;

	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* "2:sg-b,1:sg-a" (position:group, in no particular order) into the ids, in order. */
static void security_group_ids(struct ecs_jw *w, const char *text)
{
	struct sg_pos items[CTL_SG_MAX_PER_INSTANCE];
	char copy[CTL_SG_MAX_PER_INSTANCE * 80], *save = NULL;
	size_t n = 0;

	snprintf(copy, sizeof(copy), "%s", text);
	for (char *t = strtok_r(copy, ",", &save); t && n < ARRAY_SIZE(items); t = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(t, ':');

		if (colon)
			items[n++] = (struct sg_pos){ strtoll(t, NULL, 10), colon + 1 };
	}
	qsort(items, n, sizeof(items[0]), sg_pos_cmp);
	for (size_t i = 0; i < n; i++)
		ecs_jw_str(w, NULL, items[i].id);
}

/* {"outer":{"inner":[value]}}, or an empty list when value is "". */
static void one_or_none(struct ecs_jw *w, const char *outer, const char *inner, const char *value)
{
	ecs_jw_list_open(w, outer, inner);
	if (*value)
		ecs_jw_str(w, NULL, value);
	ecs_jw_list_close(w);
}

/* The stored tags (a JSON array the controller wrote) as the list's elements, each as
 * json-c prints it; nothing when they do not parse as an array. */
static void tag_items(struct ecs_jw *w, const char *text)
{
	struct json_object *tags = NULL;
	const char *perr;
	size_t len;

	if (strcmp(text, "[]") == 0 || ecs_json_parse(text, strlen(text), &tags, &perr) < 0)
		return;
	for (size_t i = 0; json_object_is_type(tags, json_type_array) && i < json_object_array_length(tags); i++) {
		const char *t = ecs_json_text(json_object_array_get_idx(tags, i), &len);

		ecs_jw_text(w, NULL, t, len);
	}
	json_object_put(tags);
}

/* One instance (a row of INSTANCE_COLUMNS) as DescribeInstances lists it. */
static void instance_write(struct ctl_call *call, sqlite3_stmt *st, struct ecs_jw *w, void *arg)
{
	struct ctl *c = call->c;
	const struct ctl_instance_type *t = ctl_config_type(&c->cfg, ctl_col(st, 5));
	char created[ECS_ISO8601_LEN + 1], started[ECS_ISO8601_LEN + 1];

	(void)arg;
	ctl_time_str(sqlite3_column_int64(st, 17), created);
	ctl_time_str(sqlite3_column_int64(st, 18), started);
	ecs_jw_open(w, NULL, '{');
	ecs_jw_str(w, "InstanceId", ctl_col(st, 0));
	ecs_jw_str(w, "InstanceName", ctl_col(st, 1));
	ecs_jw_str(w, "Description", ctl_col(st, 2));
	ecs_jw_str(w, "HostName", ctl_col(st, 3));
	ecs_jw_str(w, "ImageId", ctl_col(st, 4));
	ecs_jw_str(w, "OSName", "Debian tiny (busybox)");
	ecs_jw_str(w, "OSType", "linux");
	ecs_jw_str(w, "RegionId", c->cfg.region_id);
	ecs_jw_str(w, "ZoneId", ctl_col(st, 8));
	ecs_jw_str(w, "InstanceType", ctl_col(st, 5));
	ecs_jw_str(w, "InstanceTypeFamily", t ? t->family : "");
	ecs_jw_int(w, "Cpu", sqlite3_column_int(st, 6));
	ecs_jw_int(w, "Memory", sqlite3_column_int(st, 7));
	ecs_jw_str(w, "Status", ctl_col(st, 10));
	ecs_jw_str(w, "CreationTime", created);
	ecs_jw_str(w, "StartTime", started);
	ecs_jw_str(w, "ExpiredTime", "2099-12-31T15:59Z");
	ecs_jw_str(w, "InstanceNetworkType", "vpc");
	ecs_jw_str(w, "InstanceChargeType", "PostPaid");
	ecs_jw_str(w, "InternetChargeType", "PayByTraffic");
	ecs_jw_int(w, "InternetMaxBandwidthOut", sqlite3_column_int(st, 14));
	ecs_jw_bool(w, "IoOptimized", true);
	ecs_jw_str(w, "KeyPairName", ctl_col(st, 13));
	ecs_jw_str(w, "StoppedMode", "Not-applicable");
	ecs_jw_str(w, "DeploymentSetId", ctl_col(st, 22));
	ecs_jw_list_open(w, "SecurityGroupIds", "SecurityGroupId");
	security_group_ids(w, ctl_col(st, 20));
	ecs_jw_list_close(w);
	one_or_none(w, "PublicIpAddress", "IpAddress", ctl_col(st, 21));
	one_or_none(w, "InnerIpAddress", "IpAddress", ctl_col(st, 11));
	ecs_jw_open(w, "VpcAttributes", '{');
	ecs_jw_str(w, "VpcId", "");
	ecs_jw_str(w, "VSwitchId", "");
	ecs_jw_str(w, "NatIpAddress", "");
	one_or_none(w, "PrivateIpAddress", "IpAddress", ctl_col(st, 11));
	ecs_jw_close(w, '}');
	ecs_jw_open(w, "EipAddress", '{');
	ecs_jw_str(w, "AllocationId", "");
	ecs_jw_str(w, "IpAddress", "");
	ecs_jw_int(w, "Bandwidth", 0);
	ecs_jw_close(w, '}');
	ecs_jw_list_open(w, "OperationLocks", "LockReason");
	if (*ctl_col(st, 16)) {
		/* A job that could not finish: its reason, in ECS's lock shape. */
		ecs_jw_open(w, NULL, '{');
		ecs_jw_str(w, "LockReason", "failed");
		ecs_jw_str(w, "LockMsg", ctl_col(st, 16));
		ecs_jw_close(w, '}');
	}
	ecs_jw_list_close(w);
	ecs_jw_list_open(w, "Tags", "Tag");
	tag_items(w, ctl_col(st, 15));
	ecs_jw_list_close(w);
	/* Not in ECS: the host it runs on (ecsctl show). */
	ecs_jw_str(w, "HostId", ctl_col(st, 9));
	ecs_jw_close(w, '}');
}

int ctl_instance_lookup(struct ctl_call *call, const char *instance_id, char status[32], char host_id[64])
{
	_cleanup_db_ struct ctl_db_conn conn = ctl_db_take(call->c->store);
	_cleanup_stmt_ sqlite3_stmt *st =
		ctl_db_prepare_owned(call, conn.db,
				     "SELECT status, host_id FROM instances WHERE instance_id = ?1 AND account_id = ?2 AND"
				     " deleted = 0 AND desired != 'deleted'",
				     instance_id);

	if (!st)
		return ctl_db_failure(call);
	/* Another account's instance answers exactly as a missing one. */
	if (sqlite3_step(st) != SQLITE_ROW)
		return ctl_fail(call, 404, "InvalidInstanceId.NotFound", "The specified InstanceId does not exist.");
	snprintf(status, 32, "%s", ctl_col(st, 0));
	if (host_id)
		snprintf(host_id, 64, "%s", ctl_col(st, 1));
	return 0;
}

/* ---- describing ---- */

int ctl_instance_describe(struct ctl_call *call, struct json_object *out)
{
	static const char *const statuses[] = { "Pending", "Starting", "Running", "Stopping", "Stopped", NULL };
	struct json_object *ids = NULL;
	const char *status = NULL, *zone = NULL, *name = NULL, *group = NULL, *binds[5];
	struct ctl_page page;
	long long total = 0;
	char from[512], where[512] = "", sql[1600];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL, *count_st = NULL;
	int r, n_binds = 0;
	bool filtered;

	if ((r = ctl_param_json_list(call, "InstanceIds", 0, 100, &ids)) < 0 ||
	    (r = ctl_param_enum(call, "Status", 0, statuses, NULL, &status)) < 0 ||
	    (r = ctl_param_str(call, "ZoneId", CTL_NONEMPTY, 64, NULL, &zone)) < 0 ||
	    (r = ctl_param_str(call, "InstanceName", CTL_NONEMPTY, 128, NULL, &name)) < 0 ||
	    (r = ctl_param_str(call, "SecurityGroupId", CTL_NONEMPTY, 64, NULL, &group)) < 0 ||
	    (r = ctl_param_paging(call, 100, 10, &page)) < 0)
		goto out;
	/* Only the filters given go into the query, so SQLite can walk instances_list in
	 * order; InstanceIds drive a join from their (≤ 100) values. ?1 is the account. */
	if (ids)
		snprintf(from, sizeof(from), "FROM (SELECT DISTINCT value AS id FROM json_each(?2)) j CROSS JOIN instances i"
					     " ON i.instance_id = j.id");
	else
		snprintf(from, sizeof(from), "FROM instances i");
	binds[n_binds++] = ids ? ecs_json_text(ids, NULL) : NULL;
#define FILTER(val, col)                                                                                      \
	if (val) {                                                                                            \
		binds[n_binds++] = val;                                                                       \
		snprintf(where + strlen(where), sizeof(where) - strlen(where), " AND i." col " = ?%d", n_binds + 1); \
	}
	FILTER(status, "status")
	FILTER(zone, "zone_id")
	FILTER(name, "name")
#undef FILTER
	if (group) {
		binds[n_binds++] = group;
		snprintf(where + strlen(where), sizeof(where) - strlen(where),
			 " AND EXISTS (SELECT 1 FROM instance_security_groups s WHERE s.instance_id = i.instance_id AND"
			 " s.group_id = ?%d)", n_binds + 1);
	}
	filtered = ids || status || zone || name || group;
	if (!filtered) {
		r = ctl_list_query(call, &page,
				   &(struct ctl_list_query){ .kind = CTL_LIST_INSTANCES, .columns = INSTANCE_COLUMNS,
							     .table = "instances i", .id_column = "i.instance_id",
							     .account_column = "i.account_id", .list_key = "Instances",
							     .item_key = "Instance", .write = instance_write },
				   out);
		goto out;
	}
	db = ctl_db_get(call->c->store);
	if (!db) {
		r = ctl_db_failure(call);
		goto out;
	}
	/* TotalCount: the trigger-kept count when nothing filters, else counted. */
	if (filtered)
		snprintf(sql, sizeof(sql), "SELECT count(*) %s WHERE i.account_id = ?1 AND i.deleted = 0 AND"
					   " i.desired != 'deleted'%s", from, where);
	else
		snprintf(sql, sizeof(sql), "SELECT n FROM instance_counts WHERE account_id = ?1 AND ?2 IS NULL");
	for (int pass = 0; pass < 2; pass++) {
		/* LIMIT and OFFSET are bound, so the statement is the same for every page and
		 * stays prepared. */
		if (pass == 1)
			snprintf(sql, sizeof(sql), "SELECT " INSTANCE_COLUMNS " %s WHERE i.account_id = ?1 AND i.deleted = 0"
						   " AND i.desired != 'deleted'%s ORDER BY i.created_at DESC, i.instance_id"
						   " LIMIT ?%d OFFSET ?%d", from, where, n_binds + 2, n_binds + 3);
		st = ctl_db_prepare_cached(db, sql);
		if (!st) {
			r = ctl_db_failure(call);
			goto out;
		}
		sqlite3_bind_text(st, 1, call->account->account_id, -1, SQLITE_STATIC);
		for (int i = 0; i < n_binds; i++)
			if (binds[i])
				sqlite3_bind_text(st, i + 2, binds[i], -1, SQLITE_TRANSIENT);
		if (pass == 1) {
			ctl_page_bind(st, n_binds + 2, &page);
		}
		if (pass == 0) {
			/* Not reset until the rows are read: the count's read transaction stays
			 * open, so the count and the rows are of one snapshot. */
			if (sqlite3_step(st) == SQLITE_ROW)
				total = sqlite3_column_int64(st, 0);
			count_st = st;
		} else {
			ctl_page_answer(out, &page, total);
			r = ctl_rows_answer(call, st, "Instances", "Instance", NULL, instance_write, NULL, out);
			ctl_db_release(st);
			if (r < 0) {
				r = ctl_db_failure(call);
				goto out;
			}
		}
		st = NULL;
	}
out:
	ctl_db_release(count_st);
	if (db)
		ctl_db_put(call->c->store, db);
	json_object_put(ids);
	return r;
}

/* One instance of the caller's, as DescribeInstances shows it. */
static int one_instance(struct ctl_call *call, const char *id, struct json_object **ret)
{
	_cleanup_db_ struct ctl_db_conn conn = ctl_db_take(call->c->store);
	_cleanup_stmt_ sqlite3_stmt *st =
		ctl_db_prepare_owned(call, conn.db,
				     "SELECT " INSTANCE_COLUMNS " FROM instances i WHERE instance_id = ?1 AND"
				     " account_id = ?2 AND deleted = 0 AND desired != 'deleted'",
				     id);
	struct ecs_jw w = { 0 };
	struct json_object *raw;

	if (!st)
		return ctl_db_failure(call);
	if (sqlite3_step(st) != SQLITE_ROW)
		return ctl_fail(call, 404, "InvalidInstanceId.NotFound", "The specified InstanceId does not exist.");
	instance_write(call, st, &w, NULL);
	raw = ecs_jw_take(&w);
	*ret = raw ? ecs_json_raw_tree(raw) : NULL;
	json_object_put(raw);
	return *ret ? 0 : ctl_db_failure(call);
}

int ctl_instance_describe_attribute(struct ctl_call *call, struct json_object *out)
{
	struct json_object *inst = NULL;
	const char *id;
	int r;

	if ((r = ctl_param_id(call, "InstanceId", CTL_REQUIRED, "i-", &id)) < 0 || (r = one_instance(call, id, &inst)) < 0)
		return r;
	json_object_object_foreach(inst, k, v)
	{
		json_object_object_add(out, k, json_object_get(v));
	}
	json_object_put(inst);
	return 0;
}

static struct json_object *status_json(struct ctl_call *call, sqlite3_stmt *st, void *arg)
{
	struct json_object *o = json_object_new_object();

	(void)call;
	(void)arg;
	ecs_jb_str(o, "InstanceId", ctl_col(st, 0));
	ecs_jb_str(o, "Status", ctl_col(st, 1));
	return o;
}

int ctl_instance_describe_status(struct ctl_call *call, struct json_object *out)
{
	_cleanup_json_ struct json_object *ids = NULL;
	struct ctl_page page;
	int r;

	if ((r = ctl_param_repeat(call, "InstanceId", NULL, 100, &ids)) < 0 || (r = ctl_param_paging(call, 100, 10, &page)) < 0)
		return r;
	return ctl_page_query(
		call, &page,
		&(struct ctl_page_query){
			.columns = "instance_id, status",
			.from = " FROM instances WHERE account_id = ?1 AND deleted = 0 AND desired != 'deleted' AND"
				" (?2 IS NULL OR instance_id IN (SELECT value FROM json_each(?2)))",
			.order = " ORDER BY created_at DESC, instance_id",
			.args = (const char *const[]){ json_object_array_length(ids) ? ecs_json_text(ids, NULL) : NULL },
			.n_args = 1,
			.list_key = "InstanceStatuses",
			.item_key = "InstanceStatus",
			.row = status_json,
		},
		out);
}

int ctl_instance_user_data(struct ctl_call *call, struct json_object *out)
{
	_cleanup_db_ struct ctl_db_conn conn = { call->c->store, NULL };
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	const char *id;
	int r = ctl_param_id(call, "InstanceId", CTL_REQUIRED, "i-", &id);

	if (r < 0)
		return r;
	conn = ctl_db_take(call->c->store);
	st = ctl_db_prepare_owned(call, conn.db,
				  "SELECT user_data FROM instances WHERE instance_id = ?1 AND account_id = ?2 AND deleted = 0"
				  " AND desired != 'deleted'",
				  id);
	if (!st)
		return ctl_db_failure(call);
	if (sqlite3_step(st) != SQLITE_ROW)
		return ctl_fail(call, 404, "InvalidInstanceId.NotFound", "The specified InstanceId does not exist.");
	ecs_jb_str(out, "RegionId", call->region_id);
	ecs_jb_str(out, "InstanceId", id);
	ecs_jb_str(out, "UserData", ctl_col(st, 0));
	return 0;
}

/* A call to the agent of one of the caller's instances, for read-only actions. */
static int ask_agent(struct ctl_call *call, const char *id, const char *path, struct json_object **ret)
{
	char status[32], host[64];
	long http = 0;
	int r = ctl_instance_lookup(call, id, status, host);

	if (r < 0)
		return r;
	if (!host[0] || !ctl_host_alive(call->c, host))
		return ctl_fail(call, 503, "ServiceUnavailable", "The host of the instance does not answer now.");
	r = ctl_agent_call(call->c, host, "GET", path, NULL, &http, ret);
	if (r < 0 || http != 200) {
		json_object_put(r == 0 ? *ret : NULL);
		*ret = NULL;
		return ctl_fail(call, 503, "ServiceUnavailable", "The host of the instance does not answer now.");
	}
	return 0;
}

int ctl_instance_console(struct ctl_call *call, struct json_object *out)
{
	_cleanup_free_ char *path = NULL;
	struct json_object *ans = NULL;
	char now[ECS_ISO8601_LEN + 1];
	const char *id;
	int r = ctl_param_id(call, "InstanceId", CTL_REQUIRED, "i-", &id);

	if (r < 0)
		return r;
	path = ecs_strdup_printf("/v1/instances/%s/console", id);
	if (!path)
		return ctl_db_failure(call);
	r = ask_agent(call, id, path, &ans);
	if (r < 0)
		return r;
	ecs_time_format(time(NULL), now);
	ecs_jb_str(out, "InstanceId", id);
	ecs_jb_str(out, "ConsoleOutput", ecs_json_str(ans, "console_output", ""));
	ecs_jb_str(out, "LastUpdateTime", now);
	json_object_put(ans);
	return 0;
}

int ctl_instance_monitor_data(struct ctl_call *call, struct json_object *out)
{
	const char *id, *start_s, *end_s;
	long long period;
	time_t start, end;
	_cleanup_free_ char *path = NULL;
	struct json_object *ans = NULL, *list, *points;
	int r;

	if ((r = ctl_param_id(call, "InstanceId", CTL_REQUIRED, "i-", &id)) < 0 ||
	    (r = ctl_param_str(call, "StartTime", CTL_REQUIRED | CTL_NONEMPTY, 32, NULL, &start_s)) < 0 ||
	    (r = ctl_param_str(call, "EndTime", CTL_REQUIRED | CTL_NONEMPTY, 32, NULL, &end_s)) < 0 ||
	    (r = ctl_param_int(call, "Period", 0, 60, 3600, 60, &period)) < 0)
		return r;
	if (period != 60 && period != 600 && period != 3600)
		return ctl_fail(call, 400, "InvalidParameter", "The specified parameter \"Period\" is not valid: 60, 600 or 3600");
	if (ecs_time_parse(start_s, &start) < 0)
		return ctl_fail(call, 400, "InvalidStartTime.Malformed", "The specified parameter \"StartTime\" is not valid.");
	if (ecs_time_parse(end_s, &end) < 0)
		return ctl_fail(call, 400, "InvalidEndTime.Malformed", "The specified parameter \"EndTime\" is not valid.");
	if (end <= start)
		return ctl_fail(call, 400, "InvalidParameter", "EndTime must be later than StartTime.");
	if ((end - start) / period > 400)
		return ctl_fail(call, 400, "Throttling.TooManyPoints", "At most 400 points may be asked for at a time.");
	path = ecs_strdup_printf("/v1/instances/%s/metrics?start=%lld&end=%lld&period=%lld", id, (long long)start,
				 (long long)end, period);
	/* The query is part of what the agent checks the signature over: send it as a path. */
	r = path ? ask_agent(call, id, path, &ans) : ctl_db_failure(call);
	if (r < 0)
		return r;
	list = json_object_new_array();
	points = ecs_json_get(ans, "points");
	for (size_t i = 0; points && i < json_object_array_length(points); i++)
		json_object_array_add(list, json_object_get(json_object_array_get_idx(points, i)));
	json_object_object_add(ecs_jb_obj(out, "MonitorData"), "InstanceMonitorData", list);
	json_object_put(ans);
	return 0;
}
