/* secgroup_int.h: what the security-group files share among themselves. secgroup.c holds
 * the groups (create, modify, delete, describe, membership, an instance's groups);
 * secgroup_rules.c the rules (Authorize/Revoke, flat or Permissions.N). */
#ifndef CTL_SECGROUP_INT_H
#define CTL_SECGROUP_INT_H

#include <sqlite3.h>
#include <stdbool.h>

#include "ctl.h"

struct ctl_sg_rule {
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

/* A description: min-max characters, not beginning with http:// or https://. */
bool ctl_sg_text_ok(const char *d, long min, long max);

/* Fail the call with code: "The specified parameter \"name\" is not valid." */
int ctl_sg_malformed(struct ctl_call *call, const char *code, const char *name);

/* 0 when the caller's account has the group, else InvalidSecurityGroupId.NotFound (another
 * account's group answers as a missing one); with ret_found, 0 and whether it has it. */
int ctl_sg_group_check(struct ctl_call *call, sqlite3 *db, const char *group_id, bool *ret_found);

/* Add the rule unless an identical one is there, or remove the identical one if there;
 * *ret_changed says whether the table changed. */
int ctl_sg_rule_apply(sqlite3 *db, const char *group_id, const struct ctl_sg_rule *ru, bool remove, bool *ret_changed);

#endif
