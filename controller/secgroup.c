#include "secgroup.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "id.h"
#include "json.h"
#include "log.h"
#include "params.h"
#include "sgsync.h"
#include "store.h"
#include "util.h"

#define MAX_PERMISSIONS 100	/* Permissions.N in one call (ECS) */
#define MAX_DESCRIBE_IDS 100	/* SecurityGroupIds of DescribeSecurityGroups */
#define MAX_INSTANCE_LIST 100	/* SecurityGroupIds.N read before the limit of 5 is applied */

static const char default_description[] = "System created security group.";

/* ---- names and texts (ECS's rules) ---- */

/* Characters of a valid UTF-8 text without control characters, or -1. */
static long utf8_chars(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	long n = 0;

	while (*p) {
		unsigned c = *p;
		int len;

		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return -1;
			len = 1;
		} else if ((c & 0xe0) == 0xc0 && c >= 0xc2) {
			len = 2;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3;
		} else if ((c & 0xf8) == 0xf0 && c <= 0xf4) {
			len = 4;
		} else {
			return -1;
		}
		for (int i = 1; i < len; i++)
			if ((p[i] & 0xc0) != 0x80)
				return -1;
		p += len;
		n++;
	}
	return n;
}

/* SecurityGroupName: 2-128 characters, a letter first (any non-ASCII character counts as
 * one: ECS allows Unicode letters such as Chinese), then letters, digits, ':', '_', '.',
 * '-'. That alphabet already rules out http:// and https://. */
static bool name_ok(const char *n)
{
	long len = utf8_chars(n);

	if (len < 2 || len > 128)
		return false;
	if (!(isalpha((unsigned char)n[0]) || (unsigned char)n[0] >= 0x80))
		return false;
	for (const char *p = n; *p; p++)
		if (!(isalnum((unsigned char)*p) || (unsigned char)*p >= 0x80 || strchr(":_.-", *p)))
			return false;
	return true;
}

/* A description: min-max characters, not beginning with http:// or https://. */
static bool text_ok(const char *d, long min, long max)
{
	long len = utf8_chars(d);

	return len >= min && len <= max && !str_has_prefix(d, "http://") && !str_has_prefix(d, "https://");
}

static int not_found(struct ctl_call *call)
{
	return ctl_fail(call, 404, "InvalidSecurityGroupId.NotFound", "The specified SecurityGroupId does not exist.");
}

static int malformed(struct ctl_call *call, const char *code, const char *name)
{
	return ctl_fail(call, 400, code, "The specified parameter \"%s\" is not valid.", name);
}

/* ---- groups ---- */

/* 0 when the caller's account has the group, else InvalidSecurityGroupId.NotFound (another
 * account's group answers as a missing one). */
static int group_check(struct ctl_call *call, sqlite3 *db, const char *group_id, bool *ret_found)
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
	st = ctl_db_prepare(db, "INSERT INTO security_groups (group_id, account_id, name, description, vpc_id, created_at)"
				" VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, account_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, description, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, vpc_id, -1, SQLITE_STATIC);
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
	sqlite3_stmt *st;
	long long n = -1;
	int r;

	if ((r = ctl_param_str(call, "SecurityGroupName", 0, 4096, "", &name)) < 0 ||
	    (r = ctl_param_str(call, "Description", 0, 4096, "", &desc)) < 0 ||
	    (r = ctl_param_str(call, "VpcId", 0, 64, "", &vpc)) < 0)
		return r;
	if (*name && !name_ok(name))
		return malformed(call, "InvalidSecurityGroupName.Malformed", "SecurityGroupName");
	if (*desc && !text_ok(desc, 2, 256))
		return malformed(call, "InvalidDescription.Malformed", "Description");
	db = ctl_db_get(call->c->store);
	if (!db || ctl_db_tx_begin(db) < 0) {
		r = ctl_db_failure(call);
		goto out;
	}
	st = ctl_db_prepare(db, "SELECT count(*) FROM security_groups WHERE account_id = ?1");
	if (st) {
		sqlite3_bind_text(st, 1, call->account->account_id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (n < 0) {
		r = ctl_db_failure(call);
		goto out;
	}
	if (n >= call->c->cfg.quota_security_groups) {
		r = ctl_fail(call, 403, "QuotaExceed.SecurityGroup", "The maximum number of security groups is reached (%lld).",
			     call->c->cfg.quota_security_groups);
		goto out;
	}
	r = group_insert(db, call->account->account_id, name, desc, vpc, id);
	if (r == 0)
		r = ctl_db_tx_commit(db);
	if (r < 0) {
		r = ctl_db_failure(call);
		goto out;
	}
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
	db = ctl_db_get(call->c->store);
	if (!db || ctl_db_tx_begin(db) < 0) {
		r = ctl_db_failure(call);
		goto out;
	}
	if ((r = group_check(call, db, id, NULL)) < 0)
		goto out;
	st = ctl_db_prepare(db, "SELECT EXISTS (SELECT 1 FROM instance_security_groups m JOIN instances i ON"
				" i.instance_id = m.instance_id WHERE m.group_id = ?1 AND i.deleted = 0),"
				" EXISTS (SELECT 1 FROM security_group_rules WHERE peer_group_id = ?1 AND group_id != ?1)");
	if (st) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
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
	if (r == 0)
		r = ctl_db_tx_commit(db);
	if (r < 0) {
		r = ctl_db_failure(call);
		goto out;
	}
	log_info("security group deleted", "account=%s group=%s", call->account->account_id, id);
out:
	ctl_db_put(call->c->store, db);
	return r;
}

int ctl_sg_modify(struct ctl_call *call, struct json_object *out)
{
	const char *id, *name, *desc;
	sqlite3 *db = NULL;
	sqlite3_stmt *st;
	int r;

	(void)out;
	if ((r = ctl_param_str(call, "SecurityGroupId", CTL_REQUIRED | CTL_NONEMPTY, 64, NULL, &id)) < 0 ||
	    (r = ctl_param_str(call, "SecurityGroupName", CTL_NONEMPTY, 4096, NULL, &name)) < 0 ||
	    (r = ctl_param_str(call, "Description", CTL_NONEMPTY, 4096, NULL, &desc)) < 0)
		return r;
	if (name && !name_ok(name))
		return malformed(call, "InvalidSecurityGroupName.Malformed", "SecurityGroupName");
	if (desc && !text_ok(desc, 2, 256))
		return malformed(call, "InvalidDescription.Malformed", "Description");
	db = ctl_db_get(call->c->store);
	if (!db || ctl_db_tx_begin(db) < 0) {
		r = ctl_db_failure(call);
		goto out;
	}
	if ((r = group_check(call, db, id, NULL)) < 0)
		goto out;
	st = ctl_db_prepare(db, "UPDATE security_groups SET name = COALESCE(?2, name), description = COALESCE(?3, description)"
				" WHERE group_id = ?1");
	if (!st) {
		r = ctl_db_failure(call);
		goto out;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (name)
		sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	if (desc)
		sqlite3_bind_text(st, 3, desc, -1, SQLITE_STATIC);
	r = ctl_db_step_done(st);
	sqlite3_finalize(st);
	if (r == 0)
		r = ctl_db_tx_commit(db);
	if (r < 0)
		r = ctl_db_failure(call);
out:
	ctl_db_put(call->c->store, db);
	return r;
}

/* ---- describing ---- */

static struct json_object *group_json(struct ctl_call *call, sqlite3_stmt *st)
{
	struct json_object *g = json_object_new_object();
	char created[ECS_ISO8601_LEN + 1];

	ctl_time_str(sqlite3_column_int64(st, 4), created);
	ecs_jb_str(g, "SecurityGroupId", ctl_col(st, 0));
	ecs_jb_str(g, "SecurityGroupName", ctl_col(st, 1));
	ecs_jb_str(g, "Description", ctl_col(st, 2));
	ecs_jb_str(g, "VpcId", ctl_col(st, 3));
	ecs_jb_str(g, "CreationTime", created);
	ecs_jb_str(g, "SecurityGroupType", "normal");
	ecs_jb_str(g, "ResourceGroupId", "");
	ecs_jb_bool(g, "ServiceManaged", false);
	ecs_jb_int(g, "EcsCount", sqlite3_column_int64(st, 5));
	ecs_jb_str(g, "RegionId", call->region_id);
	ecs_jb_list(g, "Tags", "Tag");
	return g;
}

int ctl_sg_describe(struct ctl_call *call, struct json_object *out)
{
	struct json_object *ids = NULL, *list;
	const char *one, *name, *vpc;
	long long page, size, total = 0;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char sql[1024];
	int r;

	if ((r = ctl_param_json_list(call, "SecurityGroupIds", 0, MAX_DESCRIBE_IDS, &ids)) < 0 ||
	    (r = ctl_param_str(call, "SecurityGroupId", CTL_NONEMPTY, 64, NULL, &one)) < 0 ||
	    (r = ctl_param_str(call, "SecurityGroupName", CTL_NONEMPTY, 4096, NULL, &name)) < 0 ||
	    (r = ctl_param_str(call, "VpcId", CTL_NONEMPTY, 64, NULL, &vpc)) < 0 ||
	    (r = ctl_param_paging(call, &page, &size)) < 0)
		goto out;
	db = ctl_db_get(call->c->store);
	if (!db) {
		r = ctl_db_failure(call);
		goto out;
	}
#define WHERE                                                                                                  \
	" FROM security_groups g WHERE g.account_id = ?1 AND (?2 IS NULL OR g.group_id IN (SELECT value FROM"   \
	" json_each(?2))) AND (?3 IS NULL OR g.group_id = ?3) AND (?4 IS NULL OR g.name = ?4) AND (?5 IS NULL OR" \
	" g.vpc_id = ?5)"
	for (int pass = 0; pass < 2; pass++) {
		snprintf(sql, sizeof(sql), pass == 0 ? "SELECT count(*)" WHERE
					       : "SELECT g.group_id, g.name, g.description, g.vpc_id, g.created_at,"
						 " (SELECT count(*) FROM instance_security_groups m JOIN instances i ON"
						 " i.instance_id = m.instance_id WHERE m.group_id = g.group_id AND i.deleted = 0)"
						 WHERE " ORDER BY g.created_at DESC, g.rowid DESC LIMIT ?6 OFFSET ?7");
		st = ctl_db_prepare(db, sql);
		if (!st) {
			r = ctl_db_failure(call);
			goto out;
		}
		sqlite3_bind_text(st, 1, call->account->account_id, -1, SQLITE_STATIC);
		if (ids)
			sqlite3_bind_text(st, 2, ecs_json_text(ids, NULL), -1, SQLITE_TRANSIENT);
		if (one)
			sqlite3_bind_text(st, 3, one, -1, SQLITE_STATIC);
		if (name)
			sqlite3_bind_text(st, 4, name, -1, SQLITE_STATIC);
		if (vpc)
			sqlite3_bind_text(st, 5, vpc, -1, SQLITE_STATIC);
		if (pass == 0) {
			if (sqlite3_step(st) == SQLITE_ROW)
				total = sqlite3_column_int64(st, 0);
		} else {
			sqlite3_bind_int64(st, 6, size);
			sqlite3_bind_int64(st, 7, (page - 1) * size);
			ecs_jb_str(out, "RegionId", call->region_id);
			ecs_jb_int(out, "TotalCount", total);
			ecs_jb_int(out, "PageNumber", page);
			ecs_jb_int(out, "PageSize", size);
			list = ecs_jb_list(out, "SecurityGroups", "SecurityGroup");
			while (sqlite3_step(st) == SQLITE_ROW)
				json_object_array_add(list, group_json(call, st));
		}
		sqlite3_finalize(st);
		st = NULL;
	}
#undef WHERE
out:
	ctl_db_put(call->c->store, db);
	json_object_put(ids);
	return r;
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
	st = ctl_db_prepare(db, "SELECT r.direction, r.ip_protocol, r.port_range, r.cidr, r.peer_group_id, r.policy,"
				" r.priority, r.nic_type, r.description, r.created_at, COALESCE(p.name, '')"
				" FROM security_group_rules r LEFT JOIN security_groups p ON p.group_id = r.peer_group_id"
				" WHERE r.group_id = ?1 AND (?2 = 'all' OR r.direction = ?2) AND r.nic_type = ?3"
				" ORDER BY r.rule_id");
	if (!st) {
		r = ctl_db_failure(call);
		goto out;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, direction, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, nic, -1, SQLITE_STATIC);
	list = ecs_jb_list(out, "Permissions", "Permission");
	while (sqlite3_step(st) == SQLITE_ROW)
		json_object_array_add(list, permission_json(st));
out:
	sqlite3_finalize(st);
	ctl_db_put(call->c->store, db);
	return r;
}

/* ---- rules ---- */

struct rule {
	const char *direction; /* "ingress" or "egress" */
	char proto[8];	       /* tcp, udp, icmp, gre, all */
	char port_range[16];   /* "from/to", canonical */
	char cidr[32];	       /* "" or "a.b.c.d[/len]", canonical */
	const char *peer;      /* "" or a group id */
	const char *policy;    /* "accept" or "drop" */
	long long priority;    /* 1-100 */
	const char *nic_type;  /* "intranet" */
	const char *description;
	char peer_param[64];   /* the parameter that named the peer, for its error */
};

/* Where a rule's parameters come from: the flat ones, or Permissions.N.* (item). */
struct rule_src {
	struct ctl_call *call;
	struct json_object *item;
	char prefix[24];
};

/* Every field a rule may carry, flat or under Permissions.N. */
static const char *const rule_fields[] = {
	"IpProtocol", "PortRange", "SourceCidrIp", "SourceGroupId", "DestCidrIp", "DestGroupId", "Policy",
	"Priority", "NicType", "Description", "SourcePortRange", "Ipv6SourceCidrIp", "Ipv6DestCidrIp",
	"SourcePrefixListId", "DestPrefixListId", "PortRangeListId", "SourceGroupOwnerAccount", "SourceGroupOwnerId",
	"DestGroupOwnerAccount", "DestGroupOwnerId", NULL,
};

/* Fields ECS has that this service does not implement: refused when given. */
static const char *const unsupported_fields[] = {
	"SourcePortRange", "Ipv6SourceCidrIp", "Ipv6DestCidrIp", "SourcePrefixListId", "DestPrefixListId",
	"PortRangeListId", "SourceGroupOwnerAccount", "SourceGroupOwnerId", "DestGroupOwnerAccount",
	"DestGroupOwnerId", NULL,
};

static const char *src_get(const struct rule_src *s, const char *key, char name[64])
{
	const char *v = s->item ? ecs_json_str(s->item, key, NULL) : ctl_param(s->call, key, 0);

	snprintf(name, 64, "%s%s", s->prefix, key);
	return v && *v ? v : NULL;
}

/* "from/to": tcp and udp 1-65535 with from <= to; every other protocol exactly -1/-1. */
static bool port_range_parse(const char *proto, const char *v, char out[16])
{
	const char *slash = strchr(v, '/');
	char from_s[16];
	long long from, to;
	bool ports = streq(proto, "tcp") || streq(proto, "udp");

	if (!slash || (size_t)(slash - v) >= sizeof(from_s))
		return false;
	memcpy(from_s, v, (size_t)(slash - v));
	from_s[slash - v] = '\0';
	if (ecs_parse_int64(from_s, -1, 65535, &from) < 0 || ecs_parse_int64(slash + 1, -1, 65535, &to) < 0)
		return false;
	if (ports ? (from < 1 || to < from) : (from != -1 || to != -1))
		return false;
	snprintf(out, 16, "%lld/%lld", from, to);
	return true;
}

/* An IPv4 address in canonical dotted quad, with an optional /0-32. */
static bool cidr_parse(const char *v, char out[32])
{
	const char *slash = strchr(v, '/');
	char addr[INET_ADDRSTRLEN], back[INET_ADDRSTRLEN];
	struct in_addr in;
	long long len = -1;
	size_t n = slash ? (size_t)(slash - v) : strlen(v);

	if (n == 0 || n >= sizeof(addr))
		return false;
	memcpy(addr, v, n);
	addr[n] = '\0';
	if (inet_pton(AF_INET, addr, &in) != 1 || !inet_ntop(AF_INET, &in, back, sizeof(back)) || !streq(addr, back))
		return false;
	if (slash && ecs_parse_int64(slash + 1, 0, 32, &len) < 0)
		return false;
	if (len >= 0)
		snprintf(out, 32, "%s/%d", addr, (int)len);
	else
		snprintf(out, 32, "%s", addr);
	return true;
}

static int read_rule(const struct rule_src *s, bool egress, struct rule *ru)
{
	static const char *const protos[] = { "tcp", "udp", "icmp", "gre", "all", NULL };
	struct ctl_call *call = s->call;
	const char *proto, *range, *cidr, *peer, *policy, *prio, *nic, *desc;
	char name[64], pname[64], cname[64];
	bool known = false;
	int r;

	memset(ru, 0, sizeof(*ru));
	ru->direction = egress ? "egress" : "ingress";
	for (size_t i = 0; unsupported_fields[i]; i++)
		if (src_get(s, unsupported_fields[i], name))
			return ctl_fail(call, 400, "InvalidParameter",
					"The specified parameter \"%s\" is not valid: not supported by this service.", name);
	/* The five-tuple forms (a destination on an ingress rule, a source on an egress one). */
	if (src_get(s, egress ? "SourceCidrIp" : "DestCidrIp", name) || src_get(s, egress ? "SourceGroupId" : "DestGroupId", name))
		return ctl_fail(call, 400, "InvalidParameter",
				"The specified parameter \"%s\" is not valid: not supported by this service.", name);

	proto = src_get(s, "IpProtocol", name);
	if (!proto)
		return ctl_fail(call, 400, "MissingParameter",
				"The input parameter \"%s\" that is mandatory for processing this request is not supplied.", name);
	for (size_t i = 0; protos[i] && !known; i++)
		if (strcaseeq(proto, protos[i])) {
			snprintf(ru->proto, sizeof(ru->proto), "%s", protos[i]);
			known = true;
		}
	if (!known)
		return ctl_fail(call, 400, "InvalidIpProtocol.ValueNotSupported",
				"The parameter \"%s\" must be specified with case insensitive TCP, UDP, ICMP, GRE or All.", name);

	range = src_get(s, "PortRange", name);
	if (!range)
		return ctl_fail(call, 400, "MissingParameter",
				"The input parameter \"%s\" that is mandatory for processing this request is not supplied.", name);
	if (!port_range_parse(ru->proto, range, ru->port_range))
		return ctl_fail(call, 400, "InvalidIpPortRange.Malformed",
				"The specified parameter \"%s\" is not valid: 1-65535 as \"from/to\" for TCP and UDP, -1/-1 "
				"for ICMP, GRE and ALL.", name);

	cidr = src_get(s, egress ? "DestCidrIp" : "SourceCidrIp", cname);
	peer = src_get(s, egress ? "DestGroupId" : "SourceGroupId", pname);
	if (!cidr && !peer)
		return ctl_fail(call, 400, "MissingParameter", "The input parameter \"%s\" or \"%s\" cannot be both blank.", pname,
				cname);
	if (cidr && !cidr_parse(cidr, ru->cidr))
		return malformed(call, egress ? "InvalidDestCidrIp.Malformed" : "InvalidSourceCidrIp.Malformed", cname);
	/* Both given: the CIDR block wins, as in ECS. */
	ru->peer = cidr ? "" : peer;
	snprintf(ru->peer_param, sizeof(ru->peer_param), "%s", pname);

	policy = src_get(s, "Policy", name);
	if (!policy || strcaseeq(policy, "accept"))
		ru->policy = "accept";
	else if (strcaseeq(policy, "drop"))
		ru->policy = "drop";
	else
		return malformed(call, "InvalidPolicy.Malformed", name);

	prio = src_get(s, "Priority", name);
	ru->priority = 1;
	if (prio && (r = ecs_parse_int64(prio, 1, 100, &ru->priority)) < 0)
		return r == -EINVAL ? ctl_fail(call, 400, "InvalidPriority.Malformed", "The parameter \"%s\" is invalid.", name)
				    : ctl_fail(call, 400, "InvalidPriority.ValueNotSupported",
					       "The parameter \"%s\" is invalid: 1-100.", name);

	nic = src_get(s, "NicType", name);
	if (nic && !streq(nic, "intranet"))
		return ctl_fail(call, 400, "InvalidNicType.ValueNotSupported",
				"The specified parameter \"%s\" is not valid: only intranet (the groups are of the VPC type).",
				name);
	ru->nic_type = "intranet";

	desc = src_get(s, "Description", name);
	if (desc && !text_ok(desc, 1, 512))
		return ctl_fail(call, 400, "InvalidSecurityGroupDiscription.Malformed",
				"The specified security group rule description is not valid (\"%s\").", name);
	ru->description = desc ? desc : "";
	return 0;
}

static bool rule_same(const struct rule *a, const struct rule *b)
{
	return streq(a->direction, b->direction) && streq(a->proto, b->proto) && streq(a->port_range, b->port_range) &&
	       streq(a->cidr, b->cidr) && streq(a->peer, b->peer) && streq(a->policy, b->policy) &&
	       a->priority == b->priority && streq(a->nic_type, b->nic_type);
}

static bool permission_present(struct ctl_call *call, size_t k)
{
	for (size_t f = 0; rule_fields[f]; f++) {
		char key[64];

		snprintf(key, sizeof(key), "Permissions.%zu.%s", k, rule_fields[f]);
		if (ecs_kvlist_get(call->params, key))
			return true;
	}
	return false;
}

/* The rules of the call: the flat parameters (one rule) or Permissions.1-100 (never both).
 * *ret_perms owns the strings the rules point to. */
static int read_rules(struct ctl_call *call, bool egress, struct json_object **ret_perms, struct rule **ret,
		      size_t *ret_n)
{
	struct json_object *perms = NULL;
	struct rule *rules = NULL;
	size_t n;
	bool flat = false;
	int r;

	r = ctl_param_repeat(call, "Permissions", rule_fields, MAX_PERMISSIONS, &perms);
	if (r < 0)
		return r;
	n = json_object_array_length(perms);
	for (size_t i = 0; rule_fields[i]; i++)
		flat = flat || ctl_param(call, rule_fields[i], CTL_NONEMPTY);
	if (n && flat) {
		r = ctl_fail(call, 400, "InvalidParam.Permissions",
			     "The specified parameter Permissions cannot coexist with other parameters.");
		goto fail;
	}
	rules = calloc(n ? n : 1, sizeof(*rules));
	if (!rules) {
		r = ctl_db_failure(call);
		goto fail;
	}
	if (n == 0) {
		struct rule_src s = { .call = call };

		r = read_rule(&s, egress, &rules[0]);
		n = 1;
	}
	/* ctl_param_repeat keeps the items in the order of their indexes but drops the
	 * indexes; the i-th index that has a field is the i-th item (for error messages). */
	for (size_t i = 0, k = 1; r == 0 && i < json_object_array_length(perms); i++, k++) {
		struct rule_src s = { .call = call, .item = json_object_array_get_idx(perms, i) };

		for (; k <= MAX_PERMISSIONS && !permission_present(call, k); k++)
			;
		snprintf(s.prefix, sizeof(s.prefix), "Permissions.%zu.", k);
		r = read_rule(&s, egress, &rules[i]);
	}
	if (r < 0)
		goto fail;
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (rule_same(&rules[i], &rules[j])) {
				r = ctl_fail(call, 400, "InvalidParam.DuplicatePermissions",
					     "There are duplicate permissions in the specified parameter Permissions.");
				goto fail;
			}
	*ret_perms = perms;
	*ret = rules;
	*ret_n = n;
	return 0;
fail:
	free(rules);
	json_object_put(perms);
	return r;
}

/* Add the rule unless an identical one is there, or remove the identical one if there;
 * *ret_changed says whether the table changed. */
static int rule_apply(sqlite3 *db, const char *group_id, const struct rule *ru, bool remove, bool *ret_changed)
{
	sqlite3_stmt *st = ctl_db_prepare(
		db, remove ? "DELETE FROM security_group_rules WHERE group_id = ?1 AND direction = ?2 AND ip_protocol = ?3"
			     " AND port_range = ?4 AND cidr = ?5 AND peer_group_id = ?6 AND policy = ?7 AND priority = ?8"
			     " AND nic_type = ?9"
			   : "INSERT OR IGNORE INTO security_group_rules (group_id, direction, ip_protocol, port_range, cidr,"
			     " peer_group_id, policy, priority, nic_type, description, created_at)"
			     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
	int r;

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, group_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ru->direction, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, ru->proto, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, ru->port_range, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, ru->cidr, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, ru->peer, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, ru->policy, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, ru->priority);
	sqlite3_bind_text(st, 9, ru->nic_type, -1, SQLITE_STATIC);
	if (!remove) {
		sqlite3_bind_text(st, 10, ru->description, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 11, time(NULL));
	}
	r = ctl_db_step_done(st);
	*ret_changed = r == 0 && sqlite3_changes(db) > 0;
	sqlite3_finalize(st);
	return r;
}

/* Authorize (add) or revoke (remove) the call's rules in one transaction. Adding an
 * identical rule, or removing one that is not there, succeeds and changes nothing (ECS). */
static int change_rules(struct ctl_call *call, bool egress, bool revoke)
{
	struct json_object *perms = NULL, *hosts = json_object_new_object();
	struct rule *rules = NULL;
	const char *id;
	sqlite3 *db = NULL;
	sqlite3_stmt *st;
	size_t n = 0, changed = 0;
	long long count = -1;
	int r;

	if ((r = ctl_param_str(call, "SecurityGroupId", CTL_REQUIRED | CTL_NONEMPTY, 64, NULL, &id)) < 0 ||
	    (r = read_rules(call, egress, &perms, &rules, &n)) < 0)
		goto out;
	db = ctl_db_get(call->c->store);
	if (!db || ctl_db_tx_begin(db) < 0) {
		r = ctl_db_failure(call);
		goto out;
	}
	if ((r = group_check(call, db, id, NULL)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		bool found;

		if (!*rules[i].peer)
			continue;
		if (streq(rules[i].peer, id)) {
			r = ctl_fail(call, 400, "InvalidParamter.Conflict",
				     "The specified SecurityGroupId should be different from the \"%s\".", rules[i].peer_param);
			goto out;
		}
		if ((r = group_check(call, db, rules[i].peer, &found)) < 0)
			goto out;
		if (!found) {
			r = egress ? ctl_fail(call, 404, "InvalidDestGroupId.NotFound",
					      "The DestGroupId provided does not exist in our records (\"%s\").", rules[i].peer_param)
				   : ctl_fail(call, 404, "InvalidSourceGroupId.NotFound",
					      "The SourceGroupId provided does not exist in our records (\"%s\").",
					      rules[i].peer_param);
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		bool did = false;

		r = rule_apply(db, id, &rules[i], revoke, &did);
		if (r < 0) {
			r = ctl_db_failure(call);
			goto out;
		}
		changed += did;
	}
	st = ctl_db_prepare(db, "SELECT count(*) FROM security_group_rules WHERE group_id = ?1");
	if (st) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			count = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (count < 0) {
		r = ctl_db_failure(call);
		goto out;
	}
	if (!revoke && count > CTL_SG_MAX_RULES) {
		r = ctl_fail(call, 403, "AuthorizationLimitExceed",
			     "The limit of authorization records in the security group reaches (%d).", CTL_SG_MAX_RULES);
		goto out;
	}
	if (changed && (ctl_sgsync_bump(db) < 0 || ctl_sgsync_affected_hosts(db, id, hosts) < 0)) {
		r = ctl_db_failure(call);
		goto out;
	}
	if (ctl_db_tx_commit(db) < 0) {
		r = ctl_db_failure(call);
		goto out;
	}
	if (changed) {
		log_info(revoke ? "security group rules revoked" : "security group rules authorized",
			 "account=%s group=%s direction=%s rules=%zu", call->account->account_id, id,
			 egress ? "egress" : "ingress", changed);
		ctl_sgsync_nudge(call->c, hosts);
	}
out:
	ctl_db_put(call->c->store, db);
	json_object_put(hosts);
	json_object_put(perms);
	free(rules);
	return r;
}

int ctl_sg_authorize(struct ctl_call *call, struct json_object *out)
{
	(void)out;
	return change_rules(call, false, false);
}

int ctl_sg_authorize_egress(struct ctl_call *call, struct json_object *out)
{
	(void)out;
	return change_rules(call, true, false);
}

int ctl_sg_revoke(struct ctl_call *call, struct json_object *out)
{
	(void)out;
	return change_rules(call, false, true);
}

int ctl_sg_revoke_egress(struct ctl_call *call, struct json_object *out)
{
	(void)out;
	return change_rules(call, true, true);
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
	db = ctl_db_get(call->c->store);
	if (!db || ctl_db_tx_begin(db) < 0) {
		r = ctl_db_failure(call);
		goto out;
	}
	st = ctl_db_prepare(db, "SELECT status, (SELECT count(*) FROM instance_security_groups WHERE instance_id = ?1),"
				" EXISTS (SELECT 1 FROM instance_security_groups WHERE instance_id = ?1 AND group_id = ?3)"
				" FROM instances WHERE instance_id = ?1 AND account_id = ?2 AND deleted = 0 AND"
				" desired != 'deleted'");
	if (st) {
		sqlite3_bind_text(st, 1, iid, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, call->account->account_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, gid, -1, SQLITE_STATIC);
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
	if ((r = group_check(call, db, gid, NULL)) < 0)
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
		if (r == 0)
			r = ctl_db_tx_commit(db);
		if (r < 0) {
			r = ctl_db_failure(call);
			goto out;
		}
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
	static const struct rule defaults[] = {
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

		r = rule_apply(db, ret_id, &defaults[i], false, &added);
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
		int r = group_check(call, db, json_object_get_string(json_object_array_get_idx(groups, i)), NULL);

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
