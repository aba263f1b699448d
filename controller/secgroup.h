/* secgroup.h: security groups (ECS API 2014-05-26; docs/security-groups.md).
 *
 * The actions: Create/Delete/ModifySecurityGroup(Attribute), DescribeSecurityGroups,
 * DescribeSecurityGroupAttribute, Authorize/RevokeSecurityGroup(Egress) (the flat rule
 * parameters or Permissions.N.*), Join/LeaveSecurityGroup. Each change is one transaction:
 * a refused call changes nothing.
 *
 * Instances: CreateInstance/RunInstances name their groups (SecurityGroupId,
 * SecurityGroupIds.N) or get the account's group named "default", made on first need. An
 * instance is in 1-5 groups, in order; its membership goes with it when it is forgotten.
 *
 * Every change an agent must enforce (rules, membership, an instance made, moved or gone)
 * bumps the security generation in its transaction and, once committed, nudges the hosts
 * whose view changed (sgsync.h). */
#ifndef CTL_SECGROUP_H
#define CTL_SECGROUP_H

#include <json-c/json.h>
#include <sqlite3.h>
#include <stdbool.h>

#include "ctl.h"

#define CTL_SG_MAX_RULES 200	    /* ingress and egress together (ECS) */
#define CTL_SG_MAX_PER_INSTANCE 5   /* groups an instance is in (ECS's default) */
#define CTL_SG_DEFAULT_NAME "default"

int ctl_sg_create(struct ctl_call *call, struct json_object *out);	      /* CreateSecurityGroup */
int ctl_sg_delete(struct ctl_call *call, struct json_object *out);	      /* DeleteSecurityGroup */
int ctl_sg_describe(struct ctl_call *call, struct json_object *out);	      /* DescribeSecurityGroups */
int ctl_sg_describe_attribute(struct ctl_call *call, struct json_object *out); /* DescribeSecurityGroupAttribute */
int ctl_sg_modify(struct ctl_call *call, struct json_object *out);	      /* ModifySecurityGroupAttribute */
int ctl_sg_authorize(struct ctl_call *call, struct json_object *out);	      /* AuthorizeSecurityGroup */
int ctl_sg_authorize_egress(struct ctl_call *call, struct json_object *out);  /* AuthorizeSecurityGroupEgress */
int ctl_sg_revoke(struct ctl_call *call, struct json_object *out);	      /* RevokeSecurityGroup */
int ctl_sg_revoke_egress(struct ctl_call *call, struct json_object *out);     /* RevokeSecurityGroupEgress */
int ctl_sg_join(struct ctl_call *call, struct json_object *out);	      /* JoinSecurityGroup */
int ctl_sg_leave(struct ctl_call *call, struct json_object *out);	      /* LeaveSecurityGroup */

/* ---- instances (instance.c) ---- */

/* Read SecurityGroupId, and with `run` SecurityGroupIds.N, into *ret: a JSON array of 0-5
 * distinct ids, in order (empty: the default group). Parameter errors only. */
int ctl_sg_instance_groups_read(struct ctl_call *call, bool run, struct json_object **ret);
/* In the caller's transaction: check that every id in groups is the account's
 * (InvalidSecurityGroupId.NotFound), or, when groups is empty, add the id of the account's
 * "default" group, made now if missing. */
int ctl_sg_instance_groups_resolve(struct ctl_call *call, sqlite3 *db, struct json_object *groups);
/* In the caller's transaction: put a new instance in groups (in order), bump the
 * generation and add the hosts to nudge to the set `hosts` (sgsync.h). */
int ctl_sg_instance_join_all(sqlite3 *db, const char *instance_id, struct json_object *groups,
			     struct json_object *hosts);
/* In the caller's transaction: the instance is gone; its memberships go, the generation
 * moves if it had any. */
int ctl_sg_instance_forget(sqlite3 *db, const char *instance_id, struct json_object *hosts);
/* In the caller's transaction: the instance moved from old_host to another host. */
int ctl_sg_instance_moved(sqlite3 *db, const char *instance_id, const char *old_host, struct json_object *hosts);

#endif
