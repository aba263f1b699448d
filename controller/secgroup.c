#include "secgroup.h"

#include <ctype.h>
#include <errno.h>

#include "common.h"
#include "id.h"
#include "json.h"
#include "listcache.h"
#include "log.h"
#include "params.h"
#include "secgroup_int.h"
#include "sgsync.h"
#include "store.h"
#include "utf8.h"
#include "util.h"

#define MAX_DESCRIBE_IDS 100	/* SecurityGroupIds of DescribeSecurityGroups */
#define MAX_INSTANCE_LIST 100	/* SecurityGroupIds.N read before the limit of 5 is applied */

static const char default_description[] = "System created security group.";

/* ---- names and texts (ECS's rules) ---- */

/* Characters of a valid UTF-8 text without control characters, or -1. */
static long utf8_chars(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	long n = 0;
	uint32_t cp;

	while (*p) {
		int len = ecs_utf8_next(p, &cp);

		if (len < 0 || cp < 0x20 || cp == 0x7f)
			return -1;
		p += len;
		n++;
	}
	return n;
}

/* A description: min-max characters, not beginning with http:// or https://. */
bool ctl_sg_text_ok(const char *d, long min, long max)
{
	long len = utf8_chars(d);

	return len >= min && len <= max && !str_has_prefix(d, "http://") && !str_has_prefix(d, "https://");
}

static int not_found(struct ctl_call *call)
{
	return ctl_fail(call, 404, "InvalidSecurityGroupId.NotFound", "The specified SecurityGroupId does not exist.");
}

int ctl_sg_malformed(struct ctl_call *call, const char *code, const char *name)
{
	return ctl_fail(call, 400, code, "The specified parameter \"%s\" is not valid.", name);
}

/* ---- groups ---- */

/* 0 when the caller's account has the group, else InvalidSecurityGroupId.NotFound (another
 * account's group answers as a missing one). */
int ctl_sg_group_check(struct ctl_call *call, sqlite3 *db, const char *group_id, bool *ret_found)
{
	sqlite3_stmt *st = ctl_db_prepare(db, "SELECT 1 FROM security_groups WHERE group_id = ?1 AND account_id = ?2");
	int r;

	if (!st)
		return ctl_db_failure(call);
	sqlite3_bind_text(st, 1, group_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, call->account->account_id, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	sqlite3_finalize(st);
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		return ctl_db_failure(call);
	if (ret_found) {
		*ret_found = r == SQLITE_ROW;
		return 0;
	}
	return r == SQLITE_ROW ? 0 : not_found(call);
}

static int group_insert(sqlite3 *db, const char *account_id, const char *name, const char *description,
			const char *vpc_id, char ret_id[ECS_ID_MAX])
{
	sqlite3_stmt *st;
	char id[ECS_ID_MAX];
	int r;

	if (ecs_id_new(ECS_ID_SECURITY_GROUP, id) < 0)
		return -EIO;
	st = ctl_db_prepare_args(db,
				 "INSERT INTO security_groups (group_id, account_id, name, description, vpc_id, created_at)"
				 " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
				 (const char *const[]){ id, account_id, name, description, vpc_id }, 5);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 6, time(NULL));
	r = ctl_db_step_done(st);
	sqlite3_finalize(st);
	if (r == 0)
		memcpy(ret_id, id, sizeof(id));
	return r;
}

int ctl_sg_create(struct ctl_call *call, struct json_object *out)
{
	const char *name, *desc, *vpc;
	char id[ECS_ID_MAX];
	sqlite3 *db = NULL;
	long long n = -1;
	int r;

	if ((r = ctl_param_str(call, "SecurityGroupName", 0, 4096, "", &name)) < 0 ||
	    (r = ctl_param_str(call, "Description", 0, 4096, "", &desc)) < 0 ||
	    (r = ctl_param_str(call, "VpcId", 0, 64, "", &vpc)) < 0)
		return r;
	if (*name && !ctl_name_ok(name))
		return ctl_sg_malformed(call, "InvalidSecurityGroupName.Malformed", "SecurityGroupName");
	if (*desc && !ctl_sg_text_ok(desc, 2, 256))
		return ctl_sg_malformed(call, "InvalidDescription.Malformed", "Description");
	db = ctl_db_begin(call, &r);
	if (!db)
		goto out;
	if (ctl_db_count(db, "SELECT count(*) FROM security_groups WHERE account_id = ?1", (const char *const[]){ call->account->account_id },
			 1, &n) < 0) {
		r = ctl_db_failure(call);
		goto out;
	}
	if (n >= call->c->cfg.quota_security_groups) {
		r = ctl_fail(call, 403, "QuotaExceed.SecurityGroup", "The maximum number of security groups is reached (%lld).",
			     call->c->cfg.quota_security_groups);
		goto out;
	}
	r = group_insert(db, call->account->account_id, name, desc, vpc, id);
	r = ctl_db_commit(call, db, r);
	if (r < 0)
		goto out;
	ecs_jb_str(out, "SecurityGroupId", id);
	log_info("security group created", "account=%s group=%s", call->account->account_id, id);
out:
	ctl_db_put(call->c->store, db);
	return r;
}

int ctl_sg_delete(struct ctl_call *call, struct json_object *out)
{
	const char *id;
	sqlite3 *db = NULL;
	sqlite3_stmt *st;
	int r, in_use = -1, referenced = -1;

	(void)out;
	if ((r = ctl_param_str(call, "SecurityGroupId", CTL_REQUIRED | CTL_NONEMPTY, 64, NULL, &id)) < 0)
		return r;
	db = ctl_db_begin(call, &r);
	if (!db)
		goto out;
	if ((r = ctl_sg_group_check(call, db, id, NULL)) < 0)
		goto out;
	st = ctl_db_prepare_args(db, "SELECT EXISTS (SELECT 1 FROM instance_security_groups m JOIN instances i ON"
				     " i.instance_id = m.instance_id WHERE m.group_id = ?1 AND i.deleted = 0),"
				     " EXISTS (SELECT 1 FROM security_group_rules WHERE peer_group_id = ?1 AND group_id != ?1)",
				 &id, 1);
	if (st) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			in_use = sqlite3_column_int(st, 0);
			referenced = sqlite3_column_int(st, 1);
		}
	}
	sqlite3_finalize(st);
	if (in_use < 0) {
		r = ctl_db_failure(call);
		goto out;
	}
	if (in_use) {
		r = ctl_fail(call, 403, "DependencyViolation", "There is still instance(s) in the specified security group.");
		goto out;
	}
	if (referenced) {
		r = ctl_fail(call, 403, "DependencyViolation", "The specified security group has been authorized in another one.");
		goto out;
	}
	/* Its rules go with it (ON DELETE CASCADE); no instance is in it, so no agent's view
	 * held it and the generation stays. */
	{
		const char *args[] = { id };

		r = ctl_db_run(db, "DELETE FROM instance_security_groups WHERE group_id = ?1", args, 1);
		if (r == 0)
			r = ctl_db_run(db, "DELETE FROM security_groups WHERE group_id = ?1", args, 1);
	}
	r = ctl_db_commit(call, db, r);
	if (r < 0)
		goto out;
	log_info("security group deleted", "account=%s group=%s", call->account->account_id, id);
out:
	ctl_db_put(call->c->store, db);
	return r;
}

int ctl_sg_modify(struct ctl_call *call, struct json_object *out)
{
	const char *id, *name, *desc;
	sqlite3 *db = NULL;
	int r;

	(void)out;
	if ((r = ctl_param_str(call, "SecurityGroupId", CTL_REQUIRED | CTL_NONEMPTY, 64, NULL, &id)) < 0 ||
	    (r = ctl_param_str(call, "SecurityGroupName", CTL_NONEMPTY, 4096, NULL, &name)) < 0 ||
	    (r = ctl_param_str(call, "Description", CTL_NONEMPTY, 4096, NULL, &desc)) < 0)
		return r;
	if (name && !ctl_name_ok(name))
		return ctl_sg_malformed(call, "InvalidSecurityGroupName.Malformed", "SecurityGroupName");
	if (desc && !ctl_sg_text_ok(desc, 2, 256))
		return ctl_sg_malformed(call, "InvalidDescription.Malformed", "Description");
	db = ctl_db_begin(call, &r);
	if (!db)
		goto out;
	if ((r = ctl_sg_group_check(call, db, id, NULL)) < 0)
		goto out;
	r = ctl_db_run(db,
		       "UPDATE security_groups SET name = COALESCE(?2, name), description = COALESCE(?3, description)"
		       " WHERE group_id = ?1",
		       (const char *const[]){ id, name, desc }, 3);
	r = ctl_db_commit(call, db, r);
out:
	ctl_db_put(call->c->store, db);
	return r;
}

/* ---- describing ---- */

#define GROUP_COLUMNS                                                                                         \
	"g.group_id, g.name, g.description, g.vpc_id, g.created_at, (SELECT count(*) FROM"                      \
	" instance_security_groups m JOIN instances i ON i.instance_id = m.instance_id WHERE"                    \
	" m.group_id = g.group_id AND i.deleted = 0)"

static void group_write(struct ctl_call *call, sqlite3_stmt *st, struct ecs_jw *w, void *arg)
{
	char created[ECS_ISO8601_LEN + 1];

	(void)arg;
	ctl_time_str(sqlite3_column_int64(st, 4), created);
	ecs_jw_open(w, NULL, '{');
	ecs_jw_str(w, "SecurityGroupId", ctl_col(st, 0));
	ecs_jw_str(w, "SecurityGroupName", ctl_col(st, 1));
	ecs_jw_str(w, "Description", ctl_col(st, 2));
	ecs_jw_str(w, "VpcId", ctl_col(st, 3));
	ecs_jw_str(w, "CreationTime", created);
	ecs_jw_str(w, "SecurityGroupType", "normal");
	ecs_jw_str(w, "ResourceGroupId", "");
	ecs_jw_bool(w, "ServiceManaged", false);
	ecs_jw_int(w, "EcsCount", sqlite3_column_int64(st, 5));
	ecs_jw_str(w, "RegionId", call->region_id);
	ecs_jw_list_open(w, "Tags", "Tag");
	ecs_jw_list_close(w);
	ecs_jw_close(w, '}');
}

int ctl_sg_describe(struct ctl_call *call, struct json_object *out)
{
	_cleanup_json_ struct json_object *ids = NULL;
	const char *one, *name, *vpc;
	struct ctl_page page;
	int r;

	if ((r = ctl_param_json_list(call, "SecurityGroupIds", 0, MAX_DESCRIBE_IDS, &ids)) < 0 ||
	    (r = ctl_param_str(call, "SecurityGroupId", CTL_NONEMPTY, 64, NULL, &one)) < 0 ||
	    (r = ctl_param_str(call, "SecurityGroupName", CTL_NONEMPTY, 4096, NULL, &name)) < 0 ||
	    (r = ctl_param_str(call, "VpcId", CTL_NONEMPTY, 64, NULL, &vpc)) < 0 ||
	    (r = ctl_param_paging(call, 100, 10, &page)) < 0)
		return r;
	ecs_jb_str(out, "RegionId", call->region_id);
	if (!ids && !one && !name && !vpc)
		return ctl_list_query(call, &page,
				      &(struct ctl_list_query){ .kind = CTL_LIST_GROUPS, .columns = GROUP_COLUMNS,
								.table = "security_groups g", .id_column = "g.group_id",
								.account_column = "g.account_id", .list_key = "SecurityGroups",
								.item_key = "SecurityGroup", .write = group_write },
				      out);
	return ctl_page_query(
		call, &page,
		&(struct ctl_page_query){
			.columns = GROUP_COLUMNS,
			/* SecurityGroupIds (<= 100) drive the query from their values. */
			.from = ids ? " FROM (SELECT DISTINCT value AS page_id FROM json_each(?2)) j CROSS JOIN"
				      " security_groups g ON g.group_id = j.page_id WHERE g.account_id = ?1 AND (?3 IS NULL"
				      " OR g.group_id = ?3) AND (?4 IS NULL OR g.name = ?4) AND (?5 IS NULL OR g.vpc_id = ?5)"
				    : " FROM security_groups g WHERE g.account_id = ?1 AND ?2 IS NULL AND (?3 IS NULL OR"
				      " g.group_id = ?3) AND (?4 IS NULL OR g.name = ?4) AND (?5 IS NULL OR g.vpc_id = ?5)",
			.order = " ORDER BY g.created_at DESC, g.rowid DESC",
			.args = (const char *const[]){ ids ? ecs_json_text(ids, NULL) : NULL, one, name, vpc },
			.n_args = 4,
			.list_key = "SecurityGroups",
			.item_key = "SecurityGroup",
			.write = group_write,
		},
		out);
}

/* "TCP", "Accept": how ECS's DescribeSecurityGroupAttribute spells them. */
static void upper_first(const char *in, bool all, char *out, size_t size)
{
	size_t i;

	for (i = 0; in[i] && i + 1 < size; i++)
		out[i] = (char)((all || i == 0) ? toupper((unsigned char)in[i]) : in[i]);
	out[i] = '\0';
}

static struct json_object *permission_json(sqlite3_stmt *st)
{
	struct json_object *p = json_object_new_object();
	bool egress = streq(ctl_col(st, 0), "egress");
	char proto[8], policy[8], created[ECS_ISO8601_LEN + 1];
	const char *cidr = ctl_col(st, 3), *peer = ctl_col(st, 4), *peer_name = ctl_col(st, 10);

	upper_first(ctl_col(st, 1), true, proto, sizeof(proto));
	upper_first(ctl_col(st, 5), false, policy, sizeof(policy));
	ctl_time_str(sqlite3_column_int64(st, 9), created);
	ecs_jb_str(p, "Direction", ctl_col(st, 0));
	ecs_jb_str(p, "IpProtocol", proto);
	ecs_jb_str(p, "PortRange", ctl_col(st, 2));
	ecs_jb_str(p, "SourcePortRange", "");
	ecs_jb_str(p, "SourceCidrIp", egress ? "" : cidr);
	ecs_jb_str(p, "SourceGroupId", egress ? "" : peer);
	ecs_jb_str(p, "SourceGroupName", egress ? "" : peer_name);
	ecs_jb_str(p, "SourceGroupOwnerAccount", "");
	ecs_jb_str(p, "DestCidrIp", egress ? cidr : "");
	ecs_jb_str(p, "DestGroupId", egress ? peer : "");
	ecs_jb_str(p, "DestGroupName", egress ? peer_name : "");
	ecs_jb_str(p, "DestGroupOwnerAccount", "");
	ecs_jb_str(p, "Ipv6SourceCidrIp", "");
	ecs_jb_str(p, "Ipv6DestCidrIp", "");
	ecs_jb_str(p, "SourcePrefixListId", "");
	ecs_jb_str(p, "DestPrefixListId", "");
	ecs_jb_str(p, "Policy", policy);
	ecs_jb_int(p, "Priority", sqlite3_column_int64(st, 6));
	ecs_jb_str(p, "NicType", ctl_col(st, 7));
	ecs_jb_str(p, "Description", ctl_col(st, 8));
	ecs_jb_str(p, "CreateTime", created);
	return p;
}

int ctl_sg_describe_attribute(struct ctl_call *call, struct json_object *out)
{
	static const char *const directions[] = { "all", "ingress", "egress", NULL };
	static const char *const nic_types[] = { "intranet", "internet", NULL };
	const char *id, *direction, *nic;
	struct json_object *list;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = ctl_param_str(call, "SecurityGroupId", CTL_REQUIRED | CTL_NONEMPTY, 64, NULL, &id)) < 0 ||
	    (r = ctl_param_enum(call, "Direction", 0, directions, "all", &direction)) < 0 ||
	    (r = ctl_param_enum(call, "NicType", 0, nic_types, "intranet", &nic)) < 0)
		return r;
	db = ctl_db_get(call->c->store);
	st = db ? ctl_db_prepare(db, "SELECT group_id, name, description, vpc_id FROM security_groups WHERE group_id = ?1"
				     " AND account_id = ?2")
		: NULL;
	if (!st) {
		r = ctl_db_failure(call);
		goto out;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, call->account->account_id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		r = not_found(call);
		goto out;
	}
	ecs_jb_str(out, "RegionId", call->region_id);
	ecs_jb_str(out, "SecurityGroupId", ctl_col(st, 0));
	ecs_jb_str(out, "SecurityGroupName", ctl_col(st, 1));
	ecs_jb_str(out, "Description", ctl_col(st, 2));
	ecs_jb_str(out, "VpcId", ctl_col(st, 3));
	/* Members of a group reach each other (the agents' rule, docs/security-groups.md). */
	ecs_jb_str(out, "InnerAccessPolicy", "Accept");
	sqlite3_finalize(st);
	st = ctl_db_prepare_args(db, "SELECT r.direction, r.ip_protocol, r.port_range, r.cidr, r.peer_group_id, r.policy,"
				" r.priority, r.nic_type, r.description, r.created_at, COALESCE(p.name, '')"
				" FROM security_group_rules r LEFT JOIN security_groups p ON p.group_id = r.peer_group_id"
				" WHERE r.group_id = ?1 AND (?2 = 'all' OR r.direction = ?2) AND r.nic_type = ?3"
				" ORDER BY r.rule_id",
				 (const char *const[]){ id, direction, nic }, 3);
	if (!st) {
		r = ctl_db_failure(call);
		goto out;
	}
	list = ecs_jb_list(out, "Permissions", "Permission");
	while (sqlite3_step(st) == SQLITE_ROW)
		json_object_array_add(list, permission_json(st));
out:
	sqlite3_finalize(st);
	ctl_db_put(call->c->store, db);
	return r;
}

/* ---- membership ---- */

/* Join (or leave) one group: the instance must be Running or Stopped, as ECS wants. */
static int change_membership(struct ctl_call *call, bool join)
{
	struct json_object *hosts = json_object_new_object();
	const char *iid, *gid;
	char status[32] = "";
	sqlite3 *db = NULL;
	sqlite3_stmt *st;
	long long count = -1;
	int member = -1, r;

	if ((r = ctl_param_id(call, "InstanceId", CTL_REQUIRED, "i-", &iid)) < 0 ||
	    (r = ctl_param_str(call, "SecurityGroupId", CTL_REQUIRED | CTL_NONEMPTY, 64, NULL, &gid)) < 0)
		goto out;
	db = ctl_db_begin(call, &r);
	if (!db)
		goto out;
	st = ctl_db_prepare_args(db,
				 "SELECT status, (SELECT count(*) FROM instance_security_groups WHERE instance_id = ?1),"
				 " EXISTS (SELECT 1 FROM instance_security_groups WHERE instance_id = ?1 AND group_id = ?3)"
				 " FROM instances WHERE instance_id = ?1 AND account_id = ?2 AND deleted = 0 AND"
				 " desired != 'deleted'",
				 (const char *const[]){ iid, call->account->account_id, gid }, 3);
	if (st) {
		r = sqlite3_step(st);
		if (r == SQLITE_ROW) {
			snprintf(status, sizeof(status), "%s", ctl_col(st, 0));
			count = sqlite3_column_int64(st, 1);
			member = sqlite3_column_int(st, 2);
		}
		r = r == SQLITE_ROW || r == SQLITE_DONE ? 0 : -EIO;
	}
	sqlite3_finalize(st);
	if (!st || r < 0) {
		r = ctl_db_failure(call);
		goto out;
	}
	if (!status[0]) {
		r = ctl_fail(call, 404, "InvalidInstanceId.NotFound", "The specified InstanceId does not exist.");
		goto out;
	}
	if ((r = ctl_sg_group_check(call, db, gid, NULL)) < 0)
		goto out;
	if (!streq(status, "Running") && !streq(status, "Stopped")) {
		r = ctl_fail(call, 403, "IncorrectInstanceStatus",
			     "The current status of the resource does not support this operation.");
		goto out;
	}
	if (join && member) {
		r = ctl_fail(call, 403, "InvalidInstanceId.AlreadyExists",
			     "The specified instance already exists in the specified security group.");
		goto out;
	}
	if (join && count >= CTL_SG_MAX_PER_INSTANCE) {
		r = ctl_fail(call, 400, "InstanceSecurityGroupLimitExceeded",
			     "Exceeding the allowed amount of security groups that an instance can be in (%d).",
			     CTL_SG_MAX_PER_INSTANCE);
		goto out;
	}
	if (!join && !member) {
		r = ctl_fail(call, 403, "InstanceNotInSecurityGroup", "The instance not in the group.");
		goto out;
	}
	if (!join && count <= 1) {
		r = ctl_fail(call, 403, "InstanceLastSecurityGroup",
			     "The specified security group is the last security group for the instance.");
		goto out;
	}
	{
		const char *args[] = { iid, gid };

		/* Leaving: the hosts are found while the instance is still a member. */
		r = join ? 0 : ctl_sgsync_affected_hosts(db, gid, hosts);
		if (r == 0)
			r = ctl_db_run(db, join ? "INSERT INTO instance_security_groups (instance_id, group_id, position) SELECT"
						  " ?1, ?2, COALESCE(max(position), 0) + 1 FROM instance_security_groups"
						  " WHERE instance_id = ?1"
						: "DELETE FROM instance_security_groups WHERE instance_id = ?1 AND group_id = ?2",
				       args, 2);
		if (r == 0 && join)
			r = ctl_sgsync_affected_hosts(db, gid, hosts);
		if (r == 0)
			r = ctl_sgsync_bump(db);
		r = ctl_db_commit(call, db, r);
		if (r < 0)
			goto out;
	}
	log_info(join ? "instance joined a security group" : "instance left a security group", "account=%s instance=%s group=%s",
		 call->account->account_id, iid, gid);
	ctl_sgsync_nudge(call->c, hosts);
out:
	ctl_db_put(call->c->store, db);
	json_object_put(hosts);
	return r;
}

int ctl_sg_join(struct ctl_call *call, struct json_object *out)
{
	(void)out;
	return change_membership(call, true);
}

int ctl_sg_leave(struct ctl_call *call, struct json_object *out)
{
	(void)out;
	return change_membership(call, false);
}

/* ---- instances ---- */

int ctl_sg_instance_groups_read(struct ctl_call *call, bool run, struct json_object **ret)
{
	struct json_object *list = NULL, *out;
	const char *one;
	int r;

	*ret = NULL;
	r = ctl_param_str(call, "SecurityGroupId", CTL_NONEMPTY, 64, NULL, &one);
	if (r == 0 && run)
		r = ctl_param_repeat(call, "SecurityGroupIds", NULL, MAX_INSTANCE_LIST, &list);
	if (r < 0)
		return r;
	if (one && list && json_object_array_length(list)) {
		json_object_put(list);
		return ctl_fail(call, 400, "InvalidParameter.Conflict",
				"The parameters \"SecurityGroupId\" and \"SecurityGroupIds.N\" cannot be given together.");
	}
	out = json_object_new_array();
	if (one)
		json_object_array_add(out, json_object_new_string(one));
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		const char *id = json_object_get_string(json_object_array_get_idx(list, i));
		bool seen = false;

		if (!*id || strlen(id) > 64) {
			json_object_put(list);
			json_object_put(out);
			return ctl_fail(call, 400, "InvalidParameter",
					"The specified parameter \"SecurityGroupIds.%zu\" is not valid.", i + 1);
		}
		/* A group named twice is joined once. */
		for (size_t k = 0; k < json_object_array_length(out) && !seen; k++)
			seen = streq(json_object_get_string(json_object_array_get_idx(out, k)), id);
		if (!seen)
			json_object_array_add(out, json_object_new_string(id));
	}
	json_object_put(list);
	if (json_object_array_length(out) > CTL_SG_MAX_PER_INSTANCE) {
		json_object_put(out);
		return ctl_fail(call, 400, "InstanceSecurityGroupLimitExceeded",
				"Exceeding the allowed amount of security groups that an instance can be in (%d).",
				CTL_SG_MAX_PER_INSTANCE);
	}
	*ret = out;
	return 0;
}

/* The account's "default" group, made with ECS's default rules when missing. */
static int default_group(struct ctl_call *call, sqlite3 *db, char ret_id[ECS_ID_MAX])
{
	static const struct ctl_sg_rule defaults[] = {
		{ .direction = "ingress", .proto = "tcp", .port_range = "22/22", .cidr = "0.0.0.0/0", .peer = "",
		  .policy = "accept", .priority = 1, .nic_type = "intranet", .description = "" },
		{ .direction = "ingress", .proto = "icmp", .port_range = "-1/-1", .cidr = "0.0.0.0/0", .peer = "",
		  .policy = "accept", .priority = 1, .nic_type = "intranet", .description = "" },
	};
	sqlite3_stmt *st = ctl_db_prepare(db, "SELECT group_id FROM security_groups WHERE account_id = ?1 AND name = ?2"
					      " ORDER BY created_at, rowid LIMIT 1");
	bool found = false;
	int r = 0;

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, call->account->account_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, CTL_SG_DEFAULT_NAME, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(ret_id, ECS_ID_MAX, "%s", ctl_col(st, 0));
		found = true;
	}
	sqlite3_finalize(st);
	if (found)
		return 0;
	/* Made on need, whatever the quota: an instance must be in a group. */
	r = group_insert(db, call->account->account_id, CTL_SG_DEFAULT_NAME, default_description, "", ret_id);
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(defaults); i++) {
		bool added;

		r = ctl_sg_rule_apply(db, ret_id, &defaults[i], false, &added);
	}
	if (r == 0)
		log_info("default security group made", "account=%s group=%s", call->account->account_id, ret_id);
	return r;
}

int ctl_sg_instance_groups_resolve(struct ctl_call *call, sqlite3 *db, struct json_object *groups)
{
	char id[ECS_ID_MAX];

	if (json_object_array_length(groups) == 0) {
		if (default_group(call, db, id) < 0)
			return ctl_db_failure(call);
		json_object_array_add(groups, json_object_new_string(id));
		return 0;
	}
	for (size_t i = 0; i < json_object_array_length(groups); i++) {
		int r = ctl_sg_group_check(call, db, json_object_get_string(json_object_array_get_idx(groups, i)), NULL);

		if (r < 0)
			return r;
	}
	return 0;
}

int ctl_sg_instance_join_all(sqlite3 *db, const char *instance_id, struct json_object *groups, struct json_object *hosts)
{
	sqlite3_stmt *st = ctl_db_prepare(db, "INSERT INTO instance_security_groups (instance_id, group_id, position)"
					      " VALUES (?1, ?2, ?3)");
	int r = st ? 0 : -EIO;

	for (size_t i = 0; r == 0 && i < json_object_array_length(groups); i++) {
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, instance_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, json_object_get_string(json_object_array_get_idx(groups, i)), -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, (int)i + 1);
		r = ctl_db_step_done(st);
	}
	sqlite3_finalize(st);
	for (size_t i = 0; r == 0 && i < json_object_array_length(groups); i++)
		r = ctl_sgsync_affected_hosts(db, json_object_get_string(json_object_array_get_idx(groups, i)), hosts);
	if (r == 0 && json_object_array_length(groups))
		r = ctl_sgsync_bump(db);
	return r;
}

/* The groups of an instance, in order. */
static struct json_object *instance_groups(sqlite3 *db, const char *instance_id)
{
	sqlite3_stmt *st = ctl_db_prepare(db, "SELECT group_id FROM instance_security_groups WHERE instance_id = ?1"
					      " ORDER BY position");
	struct json_object *out;

	if (!st)
		return NULL;
	out = json_object_new_array();
	sqlite3_bind_text(st, 1, instance_id, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_object_array_add(out, json_object_new_string(ctl_col(st, 0)));
	sqlite3_finalize(st);
	return out;
}

int ctl_sg_instance_forget(sqlite3 *db, const char *instance_id, struct json_object *hosts)
{
	struct json_object *groups = instance_groups(db, instance_id);
	const char *args[] = { instance_id };
	int r = groups ? 0 : -EIO;

	/* Found while the instance still counts: its own host is among them. */
	for (size_t i = 0; r == 0 && i < json_object_array_length(groups); i++)
		r = ctl_sgsync_affected_hosts(db, json_object_get_string(json_object_array_get_idx(groups, i)), hosts);
	if (r == 0)
		r = ctl_db_run(db, "DELETE FROM instance_security_groups WHERE instance_id = ?1", args, 1);
	if (r == 0 && json_object_array_length(groups))
		r = ctl_sgsync_bump(db);
	json_object_put(groups);
	return r;
}

int ctl_sg_instance_moved(sqlite3 *db, const char *instance_id, const char *old_host, struct json_object *hosts)
{
	struct json_object *groups = instance_groups(db, instance_id);
	int r = groups ? 0 : -EIO;

	for (size_t i = 0; r == 0 && i < json_object_array_length(groups); i++)
		r = ctl_sgsync_affected_hosts(db, json_object_get_string(json_object_array_get_idx(groups, i)), hosts);
	if (r == 0 && json_object_array_length(groups)) {
		ctl_sgsync_set_add(hosts, old_host);
		r = ctl_sgsync_bump(db);
	}
	json_object_put(groups);
	return r;
}
