/* account.h: accounts and their AccessKey pairs. Every resource belongs to one account; an
 * account sees only its own (another's ids answer *.NotFound). Quotas default to [quota]
 * and may be set per account. */
#ifndef CTL_ACCOUNT_H
#define CTL_ACCOUNT_H

#include "ctl.h"

/* Make an account named name (1-64 of [A-Za-z0-9._-]) with a new AccessKey pair. */
int ctl_account_create(struct ctl *c, const char *name, struct ctl_account *ret);
/* -ENOENT when the key is unknown. */
int ctl_account_by_key(struct ctl *c, const char *access_key_id, struct ctl_account *ret);
int ctl_account_by_name(struct ctl *c, const char *name, struct ctl_account *ret);
/* The kinds of resource an account may own, as counted for `account ls` and delete. */
enum ctl_account_resource {
	CTL_ACCOUNT_INSTANCES,
	CTL_ACCOUNT_DISKS,
	CTL_ACCOUNT_SNAPSHOTS,
	CTL_ACCOUNT_IMAGES,
	CTL_ACCOUNT_KEY_PAIRS,
	CTL_ACCOUNT_SECURITY_GROUPS,
	CTL_ACCOUNT_LOAD_BALANCERS,
	CTL_ACCOUNT_POLICIES,
	CTL_ACCOUNT_PUBLIC_IPS,
	_CTL_ACCOUNT_RESOURCE_MAX,
};
const char *ctl_account_resource_name(enum ctl_account_resource r);

/* Print every account to stdout, one a line, tab-separated after a header: name,
 * AccessKeyId, created (UTC), then the live count of each resource kind. No secret. */
int ctl_account_list(struct ctl *c);
/* Delete the account named name and its AccessKey: -ENOENT when there is none; -EBUSY
 * while it owns any resource, the first kind found in *ret_kind and its count in
 * *ret_count (both written only then). */
int ctl_account_delete(struct ctl *c, const char *name, enum ctl_account_resource *ret_kind, long long *ret_count);

#endif
