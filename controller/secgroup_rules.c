#include "secgroup.h"

#include <errno.h>

#include "addr.h"
#include "common.h"
#include "json.h"
#include "log.h"
#include "params.h"
#include "secgroup_int.h"
#include "sgsync.h"
#include "store.h"
#include "util.h"

#define MAX_PERMISSIONS 100	/* Permissions.N in one call (ECS) */

/* ---- rules ---- */

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

/* An IPv4 address in canonical dotted quad, with an optional /0-32 (lib/addr.h). */
static bool cidr_parse(const char *v, char out[32])
{
	if (ecs_cidr_parse(v, ECS_CIDR_BARE | ECS_CIDR_LEN0, NULL) < 0)
		return false;
	snprintf(out, 32, "%s", v);
	return true;
}

/* src_get of a parameter the rule must have: MissingParameter when absent. */
static int src_required(const struct rule_src *s, const char *key, char name[64], const char **ret)
{
	*ret = src_get(s, key, name);
	if (!*ret)
		return ctl_fail(s->call, 400, "MissingParameter",
				"The input parameter \"%s\" that is mandatory for processing this request is not supplied.", name);
	return 0;
}

static int read_rule(const struct rule_src *s, bool egress, struct ctl_sg_rule *ru)
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

	if ((r = src_required(s, "IpProtocol", name, &proto)) < 0)
		return r;
	for (size_t i = 0; protos[i] && !known; i++)
		if (strcaseeq(proto, protos[i])) {
			snprintf(ru->proto, sizeof(ru->proto), "%s", protos[i]);
			known = true;
		}
	if (!known)
		return ctl_fail(call, 400, "InvalidIpProtocol.ValueNotSupported",
				"The parameter \"%s\" must be specified with case insensitive TCP, UDP, ICMP, GRE or All.", name);

	if ((r = src_required(s, "PortRange", name, &range)) < 0)
		return r;
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
		return ctl_sg_malformed(call, egress ? "InvalidDestCidrIp.Malformed" : "InvalidSourceCidrIp.Malformed", cname);
	/* Both given: the CIDR block wins, as in ECS. */
	ru->peer = cidr ? "" : peer;
	snprintf(ru->peer_param, sizeof(ru->peer_param), "%s", pname);

	policy = src_get(s, "Policy", name);
	if (!policy || strcaseeq(policy, "accept"))
		ru->policy = "accept";
	else if (strcaseeq(policy, "drop"))
		ru->policy = "drop";
	else
		return ctl_sg_malformed(call, "InvalidPolicy.Malformed", name);

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
	if (desc && !ctl_sg_text_ok(desc, 1, 512))
		return ctl_fail(call, 400, "InvalidSecurityGroupDiscription.Malformed",
				"The specified security group rule description is not valid (\"%s\").", name);
	ru->description = desc ? desc : "";
	return 0;
}

static bool rule_same(const struct ctl_sg_rule *a, const struct ctl_sg_rule *b)
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
static int read_rules(struct ctl_call *call, bool egress, struct json_object **ret_perms, struct ctl_sg_rule **ret,
		      size_t *ret_n)
{
	struct json_object *perms = NULL;
	struct ctl_sg_rule *rules = NULL;
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
int ctl_sg_rule_apply(sqlite3 *db, const char *group_id, const struct ctl_sg_rule *ru, bool remove, bool *ret_changed)
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
	struct ctl_sg_rule *rules = NULL;
	const char *id;
	sqlite3 *db = NULL;
	size_t n = 0, changed = 0;
	long long count = -1;
	int r;

	if ((r = ctl_param_str(call, "SecurityGroupId", CTL_REQUIRED | CTL_NONEMPTY, 64, NULL, &id)) < 0 ||
	    (r = read_rules(call, egress, &perms, &rules, &n)) < 0)
		goto out;
	db = ctl_db_begin(call, &r);
	if (!db)
		goto out;
	if ((r = ctl_sg_group_check(call, db, id, NULL)) < 0)
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
		if ((r = ctl_sg_group_check(call, db, rules[i].peer, &found)) < 0)
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

		r = ctl_sg_rule_apply(db, id, &rules[i], revoke, &did);
		if (r < 0) {
			r = ctl_db_failure(call);
			goto out;
		}
		changed += did;
	}
	if (ctl_db_count(db, "SELECT count(*) FROM security_group_rules WHERE group_id = ?1", (const char *const[]){ id }, 1, &count) < 0) {
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

/* The four API actions: one change_rules each, by direction and kind of change. */
#define RULES_ACTION(name, egress, revoke)                               \
	int name(struct ctl_call *call, struct json_object *out)         \
	{                                                                \
		(void)out;                                               \
		return change_rules(call, egress, revoke);               \
	}
RULES_ACTION(ctl_sg_authorize, false, false)
RULES_ACTION(ctl_sg_authorize_egress, true, false)
RULES_ACTION(ctl_sg_revoke, false, true)
RULES_ACTION(ctl_sg_revoke_egress, true, true)
