/* params.h: reading an action's parameters with ECS's errors. Each reader records
 * MissingParameter or InvalidParameter (naming the parameter) on the call and returns a
 * negative errno; the action returns that at once. Names are matched exactly, except with
 * CTL_CI (the lower-case names ECS mixes in: timePoints, diskIds, …). */
#ifndef CTL_PARAMS_H
#define CTL_PARAMS_H

#include <json-c/json.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

#include "ctl.h"

enum {
	CTL_REQUIRED = 1 << 0,
	CTL_CI = 1 << 1,       /* match the name case-insensitively */
	CTL_NONEMPTY = 1 << 2, /* "" counts as absent */
};

/* The raw value, or NULL. */
const char *ctl_param(struct ctl_call *call, const char *name, unsigned flags);

/* A string of at most maxlen characters; *ret = def when absent. */
int ctl_param_str(struct ctl_call *call, const char *name, unsigned flags, size_t maxlen, const char *def,
		  const char **ret);
int ctl_param_int(struct ctl_call *call, const char *name, unsigned flags, long long min, long long max,
		  long long def, long long *ret);
int ctl_param_bool(struct ctl_call *call, const char *name, unsigned flags, bool def, bool *ret);
/* One of allowed (case-sensitive, as ECS); *ret = def when absent. */
int ctl_param_enum(struct ctl_call *call, const char *name, unsigned flags, const char *const *allowed,
		   const char *def, const char **ret);
/* A JSON array of strings given as a string ('["a","b"]'); at most max items, each ≤ 256.
 * *ret NULL when absent. */
int ctl_param_json_list(struct ctl_call *call, const char *name, unsigned flags, size_t max,
			struct json_object **ret);
/* A RepeatList: Name.1, Name.2, … (or Name.N.Sub with subs) gathered into a JSON array of
 * strings (no subs) or objects {Sub: value}. Indexes 1..max, in order. */
int ctl_param_repeat(struct ctl_call *call, const char *name, const char *const *subs, size_t max,
		     struct json_object **ret);
/* One page of a Describe* answer: every Describe* reads it with ctl_param_paging, binds it
 * as "LIMIT ?n OFFSET ?n+1" with ctl_page_bind and answers TotalCount, PageNumber and
 * PageSize with ctl_page_answer. */
struct ctl_page {
	long long number; /* from 1 */
	long long size;
};
/* PageNumber (1..1000000, default 1) and PageSize (1..max_size, default def_size): ECS's
 * are 100 and 10; DescribeKeyPairs' 50 and 10; SLB's DescribeLoadBalancers' 100 and 50. */
int ctl_param_paging(struct ctl_call *call, long long max_size, long long def_size, struct ctl_page *ret);
/* Bind the page's size at ?idx (LIMIT) and its offset at ?idx+1 (OFFSET). */
void ctl_page_bind(sqlite3_stmt *st, int idx, const struct ctl_page *page);
/* TotalCount, PageNumber and PageSize into out. */
void ctl_page_answer(struct json_object *out, const struct ctl_page *page, long long total);

/* A resource id of the expected prefix; InvalidParameter-like errors use code_malformed. */
int ctl_param_id(struct ctl_call *call, const char *name, unsigned flags, const char *prefix, const char **ret);

/* The text rules every action shares, applied to a whole request before its action runs:
 * - every parameter name and value is well-formed UTF-8 (no overlong form, no surrogate,
 *   nothing past U+10FFFF; NUL cannot pass the form parser) → InvalidParameter;
 * - on a creating or changing action (mutating), a resource name (InstanceName, DiskName,
 *   SnapshotName, ImageName, SecurityGroupName, SystemDisk.DiskName, DataDisk.N.DiskName)
 *   follows ctl_name_ok() → Invalid<Kind>Name.Malformed;
 * - UserData is base64 (InvalidUserData.NotBase64) of at most CTL_MAX_USER_DATA bytes
 *   once decoded (InvalidUserData.SizeExceeded, also for a longer text not decoded). */
#define CTL_MAX_USER_DATA 32768
int ctl_params_check(struct ctl_call *call, bool mutating);

/* Well-formed UTF-8 (see ctl_params_check). */
bool ctl_utf8_ok(const char *s);
/* ECS's resource name: 2-128 characters, a letter (A-Z, a-z) or a CJK character first, then
 * letters, CJK characters, digits, '.', '_', ':' and '-' (which rules out http:// and
 * https://). CJK: kana, Hangul syllables and the CJK ideograph blocks. */
bool ctl_name_ok(const char *s);
/* ECS's ASCII names (KeyPairName, AutoSnapshotPolicyName): min-128 characters, a letter
 * first, then letters, digits, '.', '_', ':', '-' (an alphabet that rules out http://). */
bool ctl_ascii_name_ok(const char *s, size_t min);

#endif
