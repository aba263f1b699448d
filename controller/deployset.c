/* deployset.c: deployment sets (deployset.h). */
#include "deployset.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "id.h"
#include "json.h"
#include "log.h"
#include "params.h"
#include "rowjson.h"
#include "store.h"
#include "util.h"

#define MAX_IDS 100 /* DeploymentSetIds */

static int not_found(struct ctl_call *call)
{
	return ctl_fail(call, 404, "InvalidDeploymentSetId.NotFound", "The specified DeploymentSetId does not exist.");
}

/* ECS's description: 2-256 characters, not starting with http:// or https://. */
static bool description_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 2 && n <= 256 && !str_has_prefix(s, "http://") && !str_has_prefix(s, "https://");
}

/* DeploymentSetName and Description, each optional; NULL when absent. */
static int read_text(struct ctl_call *call, const char **name, const char **desc)
{
	int r;

	if ((r = ctl_param_str(call, "DeploymentSetName", CTL_NONEMPTY, 128, NULL, name)) < 0 ||
	    (r = ctl_param_str(call, "Description", CTL_NONEMPTY, 256, NULL, desc)) < 0)
		return r;
	if (*name && !ctl_name_ok(*name))
		return ctl_fail(call, 400, "InvalidDeploymentSetName.Malformed",
				"The specified parameter DeploymentSetName is not valid.");
	if (*desc && !description_ok(*desc))
		return ctl_fail(call, 400, "InvalidDescription.Malformed", "The specified parameter Description is not valid.");
	return 0;
}

int ctl_deployset_create(struct ctl_call *call, struct json_object *out)
{
	static const char *const strategies[] = { "Availability", NULL };
	static const char *const domains[] = { "Default", NULL };
	static const char *const granularities[] = { "Host", NULL };
	static const char *const on_unable[] = { "CancelMembershipAndStart", "KeepStopped", NULL };
	const char *name, *desc, *strategy, *domain, *granularity, *unable;
	const char *owner[] = { call->account->account_id };
	char id[ECS_ID_MAX];
	long long n = 0;
	sqlite3 *db;
	int r;

	if ((r = read_text(call, &name, &desc)) < 0 ||
	    (r = ctl_param_enum(call, "Strategy", CTL_NONEMPTY, strategies, "Availability", &strategy)) < 0 ||
	    (r = ctl_param_enum(call, "Domain", CTL_NONEMPTY, domains, "Default", &domain)) < 0 ||
	    (r = ctl_param_enum(call, "Granularity", CTL_NONEMPTY, granularities, "Host", &granularity)) < 0 ||
	    (r = ctl_param_enum(call, "OnUnableToRedeployFailedInstance", CTL_NONEMPTY, on_unable,
				"CancelMembershipAndStart", &unable)) < 0)
		return r;
	if (ecs_id_new(ECS_ID_DEPLOYMENT_SET, id) < 0)
		return ctl_db_failure(call);
	db = ctl_db_begin(call, &r);
	if (!db)
		return r;
	if (ctl_db_count(db, "SELECT count(*) FROM deployment_sets WHERE account_id = ?1", owner, 1, &n) < 0) {
		r = ctl_db_failure(call);
		goto out;
	}
	if (n >= CTL_DEPLOYSET_MAX) {
		r = ctl_fail(call, 403, "QuotaExceed.DeploymentSet",
			     "The maximum number of deployment sets in the region has been reached (%d).", CTL_DEPLOYSET_MAX);
		goto out;
	}
	{
		sqlite3_stmt *st = ctl_db_prepare_args(
			db,
			"INSERT INTO deployment_sets (deployment_set_id, account_id, name, description, strategy, on_unable,"
			" created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
			(const char *const[]){ id, call->account->account_id, name ? name : "", desc ? desc : "", strategy,
					       unable },
			6);

		if (!st) {
			r = ctl_db_failure(call);
			goto out;
		}
		sqlite3_bind_int64(st, 7, time(NULL));
		r = ctl_db_step_done(st);
		sqlite3_finalize(st);
	}
	r = ctl_db_commit(call, db, r);
	if (r == 0) {
		ecs_jb_str(out, "DeploymentSetId", id);
		log_info("deployment set created", "account=%s set=%s strategy=%s on_unable=%s", call->account->account_id,
			 id, strategy, unable);
	}
out:
	ctl_db_put(call->c->store, db);
	return r;
}

/* Each zone's UsedAmount, and AvailableAmount: alive hosts of it without a member, at most
 * the zone's room left. */
static void capacities(struct ctl_call *call, const char *set_id, struct json_object *list)
{
	_cleanup_db_ struct ctl_db_conn conn = ctl_db_take(call->c->store);
	sqlite3_stmt *st = ctl_db_prepare_args(
		conn.db,
		"SELECT z.zone_id, (SELECT count(*) FROM instances i WHERE i.deployment_set_id = ?1 AND i.deleted = 0 AND"
		" i.zone_id = z.zone_id), (SELECT count(*) FROM hosts h WHERE h.zone_id = z.zone_id AND h.last_seen >= ?2"
		" AND NOT EXISTS (SELECT 1 FROM instances i WHERE i.deployment_set_id = ?1 AND i.deleted = 0 AND"
		" i.host_id = h.host_id)) FROM (SELECT DISTINCT zone_id FROM hosts) z ORDER BY z.zone_id",
		&set_id, 1);

	if (!st)
		return;
	sqlite3_bind_int64(st, 2, time(NULL) - call->c->cfg.host_dead_after_s);
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct json_object *o = json_object_new_object();
		long long used = sqlite3_column_int64(st, 1), free_hosts = sqlite3_column_int64(st, 2);
		long long room = CTL_DEPLOYSET_MAX_PER_ZONE - used;

		ecs_jb_str(o, "ZoneId", ctl_col(st, 0));
		ecs_jb_int(o, "UsedAmount", used);
		ecs_jb_int(o, "AvailableAmount", room < 0 ? 0 : free_hosts < room ? free_hosts : room);
		json_object_array_add(list, o);
	}
	sqlite3_finalize(st);
}

static struct json_object *set_json(struct ctl_call *call, sqlite3_stmt *st, void *arg)
{
	static const struct ctl_col_key cols[] = {
		{ "DeploymentSetId", CTL_COL_STR },
		{ "DeploymentSetName", CTL_COL_STR },
		{ "DeploymentSetDescription", CTL_COL_STR },
		{ "Strategy", CTL_COL_STR },
	};
	struct json_object *o = json_object_new_object(), *ids;
	char created[ECS_ISO8601_LEN + 1];
	const char *members = ctl_col(st, 6);
	_cleanup_free_ char *copy = strdup(members);
	char *save = NULL;

	(void)arg;
	ctl_time_str(sqlite3_column_int64(st, 4), created);
	ctl_row_json(st, 0, CTL_COLS(cols), o);
	ecs_jb_str(o, "DeploymentStrategy", ctl_col(st, 3));
	ecs_jb_str(o, "Domain", "Default");
	ecs_jb_str(o, "Granularity", "Host");
	ecs_jb_str(o, "CreationTime", created);
	ecs_jb_str(o, "OnUnableToRedeployFailedInstance", ctl_col(st, 5));
	ecs_jb_int(o, "GroupCount", 0);
	ecs_jb_str(o, "RegionId", call->region_id ? call->region_id : call->c->cfg.region_id);
	ids = ecs_jb_list(o, "InstanceIds", "InstanceId");
	for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
		json_object_array_add(ids, json_object_new_string(t));
	ecs_jb_int(o, "InstanceAmount", (int64_t)json_object_array_length(ids));
	ecs_jb_list(o, "Capacities", "Capacity"); /* filled once the page is read */
	return o;
}

int ctl_deployset_describe(struct ctl_call *call, struct json_object *out)
{
	static const char *const strategies[] = { "Availability", "AvailabilityGroup", "LowLatency", NULL };
	_cleanup_json_ struct json_object *ids = NULL;
	const char *name, *strategy, *ids_text = NULL;
	struct ctl_page page;
	int r;

	if ((r = ctl_param_json_list(call, "DeploymentSetIds", CTL_NONEMPTY, 1000, &ids)) < 0 ||
	    (r = ctl_param_str(call, "DeploymentSetName", CTL_NONEMPTY, 128, NULL, &name)) < 0 ||
	    (r = ctl_param_enum(call, "Strategy", CTL_NONEMPTY, strategies, NULL, &strategy)) < 0 ||
	    (r = ctl_param_paging(call, 50, 10, &page)) < 0)
		return r;
	if (ids && json_object_array_length(ids) > MAX_IDS)
		return ctl_fail(call, 403, "InvalidDeploymentSetIds.TooManyInput",
				"The parameter DeploymentSets size should less than %d.", MAX_IDS);
	if (ids)
		ids_text = ecs_json_text(ids, NULL);
	r = ctl_page_query(call, &page,
			   &(struct ctl_page_query){
				   .columns = "d.deployment_set_id, d.name, d.description, d.strategy, d.created_at,"
					      " d.on_unable, (SELECT group_concat(i.instance_id) FROM (SELECT instance_id FROM"
					      " instances WHERE deployment_set_id = d.deployment_set_id AND deleted = 0 ORDER BY"
					      " created_at, instance_id) i)",
				   .from = " FROM deployment_sets d WHERE d.account_id = ?1 AND (?2 IS NULL OR"
					   " d.deployment_set_id IN (SELECT value FROM json_each(?2))) AND (?3 IS NULL OR"
					   " d.name = ?3) AND (?4 IS NULL OR d.strategy = ?4)",
				   .order = " ORDER BY d.created_at DESC, d.deployment_set_id",
				   .args = (const char *const[]){ ids_text, name, strategy },
				   .n_args = 3,
				   .list_key = "DeploymentSets",
				   .item_key = "DeploymentSet",
				   .row = set_json,
			   },
			   out);
	if (r < 0)
		return r;
	ecs_jb_str(out, "RegionId", call->region_id ? call->region_id : call->c->cfg.region_id);
	{
		struct json_object *sets = ecs_json_get(ecs_json_get(out, "DeploymentSets"), "DeploymentSet");

		for (size_t i = 0; sets && i < json_object_array_length(sets); i++) {
			struct json_object *o = json_object_array_get_idx(sets, i);

			capacities(call, ecs_json_str(o, "DeploymentSetId", ""),
				   ecs_json_get(ecs_json_get(o, "Capacities"), "Capacity"));
		}
	}
	return 0;
}

int ctl_deployset_modify(struct ctl_call *call, struct json_object *out)
{
	const char *id, *name, *desc;
	sqlite3 *db;
	int r;

	(void)out;
	if ((r = ctl_param_str(call, "DeploymentSetId", CTL_REQUIRED | CTL_NONEMPTY, 64, NULL, &id)) < 0 ||
	    (r = read_text(call, &name, &desc)) < 0)
		return r;
	db = ctl_db_begin(call, &r);
	if (!db)
		return r;
	r = ctl_db_run(db,
		       "UPDATE deployment_sets SET name = COALESCE(?3, name), description = COALESCE(?4, description)"
		       " WHERE deployment_set_id = ?1 AND account_id = ?2",
		       (const char *const[]){ id, call->account->account_id, name, desc }, 4);
	if (r == 0 && sqlite3_changes(db) == 0)
		r = not_found(call);
	else
		r = ctl_db_commit(call, db, r);
	ctl_db_put(call->c->store, db);
	return r;
}

int ctl_deployset_delete(struct ctl_call *call, struct json_object *out)
{
	const char *id;
	long long members = 0;
	sqlite3 *db;
	int r;

	(void)out;
	if ((r = ctl_param_str(call, "DeploymentSetId", CTL_REQUIRED | CTL_NONEMPTY, 64, NULL, &id)) < 0)
		return r;
	db = ctl_db_begin(call, &r);
	if (!db)
		return r;
	r = ctl_deployset_check_owned(call, db, id);
	if (r == 0 && ctl_db_count(db, "SELECT count(*) FROM instances WHERE deployment_set_id = ?1 AND deleted = 0",
				   &id, 1, &members) < 0)
		r = ctl_db_failure(call);
	if (r == 0 && members > 0)
		r = ctl_fail(call, 403, "DependencyViolation.NotEmpty",
			     "There are still instance(s) in the specified DeploymentSetId.");
	if (r == 0) {
		r = ctl_db_commit(call, db,
				  ctl_db_run(db, "DELETE FROM deployment_sets WHERE deployment_set_id = ?1 AND account_id = ?2",
					     (const char *const[]){ id, call->account->account_id }, 2));
		if (r == 0)
			log_info("deployment set deleted", "account=%s set=%s", call->account->account_id, id);
	}
	ctl_db_put(call->c->store, db);
	return r;
}

int ctl_deployset_check_owned(struct ctl_call *call, sqlite3 *db, const char *set_id)
{
	long long n = 0;

	if (ctl_db_count(db, "SELECT count(*) FROM deployment_sets WHERE deployment_set_id = ?1 AND account_id = ?2",
			 (const char *const[]){ set_id, call->account->account_id }, 2, &n) < 0)
		return ctl_db_failure(call);
	return n ? 0 : not_found(call);
}

/* ---- the placement rule ---- */

static void count_into(struct json_object *map, const char *key)
{
	json_object_object_add(map, key, json_object_new_int64(ecs_json_int(map, key, 0) + 1));
}

int ctl_deployset_rule_load(sqlite3 *db, const char *set_id, const char *instance_id, struct ctl_deployset_rule *rule)
{
	sqlite3_stmt *st;

	*rule = (struct ctl_deployset_rule){ 0 };
	if (!set_id && instance_id) {
		/* A placement again: the instance's own set, and what it says when no host keeps the rule. */
		st = ctl_db_prepare_args(db,
					 "SELECT d.deployment_set_id, d.on_unable FROM instances i JOIN deployment_sets d ON"
					 " d.deployment_set_id = i.deployment_set_id WHERE i.instance_id = ?1",
					 &instance_id, 1);
		if (!st)
			return -EIO;
		if (sqlite3_step(st) == SQLITE_ROW) {
			snprintf(rule->set_id, sizeof(rule->set_id), "%s", ctl_col(st, 0));
			rule->soft = !streq(ctl_col(st, 1), "KeepStopped");
		}
		sqlite3_finalize(st);
	} else if (set_id && *set_id) {
		snprintf(rule->set_id, sizeof(rule->set_id), "%s", set_id);
	}
	if (!rule->set_id[0])
		return 0;
	rule->active = true;
	rule->hosts = json_object_new_object();
	rule->zones = json_object_new_object();
	st = ctl_db_prepare_args(db,
				 "SELECT host_id, zone_id FROM instances WHERE deployment_set_id = ?1 AND deleted = 0 AND"
				 " (?2 IS NULL OR instance_id != ?2)",
				 (const char *const[]){ rule->set_id, instance_id }, 2);
	if (!st)
		return -EIO;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (sqlite3_column_type(st, 0) != SQLITE_NULL)
			count_into(rule->hosts, ctl_col(st, 0));
		count_into(rule->zones, ctl_col(st, 1));
	}
	sqlite3_finalize(st);
	return 0;
}

bool ctl_deployset_rule_allows(const struct ctl_deployset_rule *rule, const char *host, const char *zone)
{
	return !rule->active ||
	       (!ecs_json_get(rule->hosts, host) && ecs_json_int(rule->zones, zone, 0) < CTL_DEPLOYSET_MAX_PER_ZONE);
}

int ctl_deployset_rule_broken(sqlite3 *db, const struct ctl_deployset_rule *rule, const char *instance_id)
{
	log_warn("deployment set rule not kept: the instance leaves its set",
		 "instance=%s set=%s on_unable=CancelMembershipAndStart", instance_id, rule->set_id);
	return ctl_db_run(db, "UPDATE instances SET deployment_set_id = '' WHERE instance_id = ?1", &instance_id, 1);
}

void ctl_deployset_rule_clear(struct ctl_deployset_rule *rule)
{
	json_object_put(rule->hosts);
	json_object_put(rule->zones);
	*rule = (struct ctl_deployset_rule){ 0 };
}
