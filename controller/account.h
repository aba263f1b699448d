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
/* Print every account (name, AccessKeyId) to stdout. */
int ctl_account_list(struct ctl *c);

#endif
