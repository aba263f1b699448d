/* deployset.h: deployment sets (ECS's CreateDeploymentSet, DescribeDeploymentSets,
 * ModifyDeploymentSetAttribute, DeleteDeploymentSet) and their placement rule.
 *
 * A set is an account's; an instance joins one at RunInstances/CreateInstance
 * (DeploymentSetId) and leaves it when deleted. Strategy Availability (the only one): each
 * member on a distinct host, and at most CTL_DEPLOYSET_MAX_PER_ZONE members per zone (ECS's
 * 20), so a set holds at most min(hosts, 20) members per zone. A booking the rule cannot take
 * fails with QuotaExceed.DeploymentSetInstanceQuotaFull and books nothing.
 *
 * Recovery (heal.c) and rescheduling place an existing member again through the scheduler:
 * the rule holds when a host allows it; otherwise, as OnUnableToRedeployFailedInstance says,
 * CancelMembershipAndStart (the default) takes any host and the instance leaves its set,
 * KeepStopped leaves it unplaced (heal tries again each round, until a host allows it).
 *
 * Limits: CTL_DEPLOYSET_MAX sets per account (ECS's quota: 150 per region). */
#ifndef CTL_DEPLOYSET_H
#define CTL_DEPLOYSET_H

#include <json-c/json.h>
#include <sqlite3.h>
#include <stdbool.h>

#include "ctl.h"

#define CTL_DEPLOYSET_MAX 150
#define CTL_DEPLOYSET_MAX_PER_ZONE 20

int ctl_deployset_create(struct ctl_call *call, struct json_object *out);
int ctl_deployset_describe(struct ctl_call *call, struct json_object *out);
int ctl_deployset_modify(struct ctl_call *call, struct json_object *out);
int ctl_deployset_delete(struct ctl_call *call, struct json_object *out);

/* Inside a booking transaction: set_id is the caller's (else the call fails with
 * InvalidDeploymentSetId.NotFound). */
int ctl_deployset_check_owned(struct ctl_call *call, sqlite3 *db, const char *set_id);

/* The rule one placement obeys. */
struct ctl_deployset_rule {
	bool active;	/* a set applies */
	bool soft;	/* a member placed again: any host when none keeps the rule */
	char set_id[64];
	struct json_object *hosts; /* host id -> members there */
	struct json_object *zones; /* zone id -> members there */
};

/* Load the rule: of set_id for a new member (hard), or, when set_id is NULL and instance_id
 * is given, of that instance's own set (a placement again: soft unless its set says
 * KeepStopped). The instance itself is not counted. No set: rule->active is false. */
int ctl_deployset_rule_load(sqlite3 *db, const char *set_id, const char *instance_id, struct ctl_deployset_rule *rule);
/* Whether a member may go to host (of zone). */
bool ctl_deployset_rule_allows(const struct ctl_deployset_rule *rule, const char *host, const char *zone);
/* A soft rule that no host kept: the instance leaves its set (CancelMembershipAndStart). */
int ctl_deployset_rule_broken(sqlite3 *db, const struct ctl_deployset_rule *rule, const char *instance_id);
void ctl_deployset_rule_clear(struct ctl_deployset_rule *rule);

#endif
