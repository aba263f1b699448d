#include "params.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "json.h"
#include "utf8.h"
#include "util.h"

const char *ctl_param(struct ctl_call *call, const char *name, unsigned flags)
{
	const char *v = (flags & CTL_CI) ? ecs_kvlist_get_case(call->params, name) : ecs_kvlist_get(call->params, name);

	if (v && !*v && (flags & CTL_NONEMPTY))
		return NULL;
	return v;
}

static int missing(struct ctl_call *call, const char *name)
{
	return ctl_fail(call, 400, "MissingParameter",
			"The input parameter \"%s\" that is mandatory for processing this request is not supplied.",
			name);
}

static int invalid(struct ctl_call *call, const char *name, const char *why)
{
	return ctl_fail(call, 400, "InvalidParameter", "The specified parameter \"%s\" is not valid: %s", name, why);
}

/* The value, or NULL (0) when absent and optional, or an error when absent and required. */
static int get(struct ctl_call *call, const char *name, unsigned flags, const char **ret)
{
	const char *v = ctl_param(call, name, flags);

	if (!v && (flags & CTL_REQUIRED))
		return missing(call, name);
	*ret = v;
	return 0;
}

int ctl_param_str(struct ctl_call *call, const char *name, unsigned flags, size_t maxlen, const char *def,
		  const char **ret)
{
	const char *v;
	int r = get(call, name, flags, &v);

	if (r < 0)
		return r;
	if (!v) {
		*ret = def;
		return 0;
	}
	if (strlen(v) > maxlen) {
		char why[64];

		snprintf(why, sizeof(why), "longer than %zu characters", maxlen);
		return invalid(call, name, why);
	}
	*ret = v;
	return 0;
}

int ctl_param_int(struct ctl_call *call, const char *name, unsigned flags, long long min, long long max,
		  long long def, long long *ret)
{
	const char *v;
	char why[96];
	int r = get(call, name, flags, &v);

	if (r < 0)
		return r;
	if (!v || !*v) {
		if (v && (flags & CTL_REQUIRED))
			return missing(call, name);
		*ret = def;
		return 0;
	}
	r = ecs_parse_int64(v, min, max, ret);
	if (r == -EINVAL)
		return invalid(call, name, "not an integer");
	if (r < 0) {
		snprintf(why, sizeof(why), "must be in %lld..%lld", min, max);
		return invalid(call, name, why);
	}
	return 0;
}

int ctl_param_bool(struct ctl_call *call, const char *name, unsigned flags, bool def, bool *ret)
{
	const char *v;
	int r = get(call, name, flags, &v);

	if (r < 0)
		return r;
	if (!v || !*v) {
		*ret = def;
		return 0;
	}
	/* The wire carries "true"/"false" (ECS-WIRE.md); accept their case variants. */
	if (strcaseeq(v, "true"))
		*ret = true;
	else if (strcaseeq(v, "false"))
		*ret = false;
	else
		return invalid(call, name, "must be true or false");
	return 0;
}

int ctl_param_enum(struct ctl_call *call, const char *name, unsigned flags, const char *const *allowed,
		   const char *def, const char **ret)
{
	const char *v;
	int r = get(call, name, flags | CTL_NONEMPTY, &v);

	if (r < 0)
		return r;
	if (!v) {
		*ret = def;
		return 0;
	}
	for (size_t i = 0; allowed[i]; i++) {
		if (streq(v, allowed[i])) {
			*ret = allowed[i];
			return 0;
		}
	}
	return invalid(call, name, "not one of the allowed values");
}

int ctl_param_json_list(struct ctl_call *call, const char *name, unsigned flags, size_t max,
			struct json_object **ret)
{
	struct json_object *o = NULL;
	const char *v, *perr;
	char why[64];
	int r = get(call, name, flags | CTL_NONEMPTY, &v);

	*ret = NULL;
	if (r < 0 || !v)
		return r;
	if (ecs_json_parse(v, strlen(v), &o, &perr) < 0 || !json_object_is_type(o, json_type_array)) {
		json_object_put(o);
		return invalid(call, name, "not a JSON array of strings");
	}
	if (json_object_array_length(o) > max) {
		json_object_put(o);
		snprintf(why, sizeof(why), "more than %zu items", max);
		return invalid(call, name, why);
	}
	for (size_t i = 0; i < json_object_array_length(o); i++) {
		struct json_object *it = json_object_array_get_idx(o, i);

		if (!json_object_is_type(it, json_type_string) || json_object_get_string_len(it) > 256) {
			json_object_put(o);
			return invalid(call, name, "not a JSON array of strings");
		}
	}
	*ret = o;
	return 0;
}

int ctl_param_repeat(struct ctl_call *call, const char *name, const char *const *subs, size_t max,
		     struct json_object **ret)
{
	struct json_object *arr = json_object_new_array();
	size_t plen = strlen(name);

	/* Gather by index: Name.N or Name.N.Sub. */
	for (size_t n = 1; n <= max; n++) {
		char key[160];
		struct json_object *item = NULL;

		if (!subs) {
			const char *v;

			snprintf(key, sizeof(key), "%s.%zu", name, n);
			v = ecs_kvlist_get(call->params, key);
			if (v)
				json_object_array_add(arr, json_object_new_string(v));
			continue;
		}
		for (size_t s = 0; subs[s]; s++) {
			const char *v;

			snprintf(key, sizeof(key), "%s.%zu.%s", name, n, subs[s]);
			v = ecs_kvlist_get(call->params, key);
			if (!v)
				continue;
			if (!item)
				item = json_object_new_object();
			ecs_jb_str(item, subs[s], v);
		}
		if (item)
			json_object_array_add(arr, item);
	}
	/* An index past max, or an unknown sub-field, is an error rather than silently lost. */
	for (size_t i = 0; i < call->params->n; i++) {
		const char *k = call->params->items[i].key;
		char *end;
		unsigned long idx;

		if (strncmp(k, name, plen) != 0 || k[plen] != '.')
			continue;
		idx = strtoul(k + plen + 1, &end, 10);
		if (end == k + plen + 1)
			continue; /* Name.Sub (no index): another parameter */
		if (idx < 1 || idx > max) {
			char why[64];

			json_object_put(arr);
			snprintf(why, sizeof(why), "index must be in 1..%zu", max);
			return invalid(call, k, why);
		}
		if (subs) {
			bool known = false;

			for (size_t s = 0; subs[s] && !known; s++)
				known = *end == '.' && streq(end + 1, subs[s]);
			if (!known) {
				json_object_put(arr);
				return invalid(call, k, "unknown field");
			}
		} else if (*end) {
			json_object_put(arr);
			return invalid(call, k, "unknown field");
		}
	}
	*ret = arr;
	return 0;
}

int ctl_param_paging(struct ctl_call *call, long long max_size, long long def_size, struct ctl_page *ret)
{
	struct ctl_page p;
	int r = ctl_param_int(call, "PageNumber", 0, 1, 1000000, 1, &p.number);

	if (r == 0)
		r = ctl_param_int(call, "PageSize", 0, 1, max_size, def_size, &p.size);
	if (r == 0)
		*ret = p;
	return r;
}

void ctl_page_bind(sqlite3_stmt *st, int idx, const struct ctl_page *page)
{
	sqlite3_bind_int64(st, idx, page->size);
	sqlite3_bind_int64(st, idx + 1, (page->number - 1) * page->size);
}

void ctl_page_answer(struct json_object *out, const struct ctl_page *page, long long total)
{
	ecs_jb_int(out, "TotalCount", total);
	ecs_jb_int(out, "PageNumber", page->number);
	ecs_jb_int(out, "PageSize", page->size);
}

int ctl_param_id(struct ctl_call *call, const char *name, unsigned flags, const char *prefix, const char **ret)
{
	const char *v;
	int r = ctl_param_str(call, name, flags | CTL_NONEMPTY, 64, NULL, &v);

	if (r < 0)
		return r;
	if (v && !str_has_prefix(v, prefix))
		return invalid(call, name, "not an id of the right kind");
	*ret = v;
	return 0;
}

/* ---- text rules shared by every action ---- */

bool ctl_utf8_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;

	while (*p) {
		int n = ecs_utf8_next(p, &cp);

		if (n < 0)
			return false;
		p += n;
	}
	return true;
}

static bool is_cjk(uint32_t cp)
{
	return (cp >= 0x3040 && cp <= 0x30ff) ||   /* Hiragana, Katakana */
	       (cp >= 0x3400 && cp <= 0x4dbf) ||   /* CJK Extension A */
	       (cp >= 0x4e00 && cp <= 0x9fff) ||   /* CJK Unified Ideographs */
	       (cp >= 0xac00 && cp <= 0xd7af) ||   /* Hangul syllables */
	       (cp >= 0xf900 && cp <= 0xfaff) ||   /* CJK Compatibility Ideographs */
	       (cp >= 0x20000 && cp <= 0x2fa1f);   /* Extensions B-F, Compatibility Supplement */
}

static bool is_ascii_letter(uint32_t cp)
{
	return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
}

bool ctl_ascii_name_ok(const char *s, size_t min)
{
	size_t len = strlen(s);

	if (len < min || len > 128 || !is_ascii_letter((unsigned char)s[0]))
		return false;
	for (; *s; s++)
		if (!is_ascii_letter((unsigned char)*s) && !(*s >= '0' && *s <= '9') && !strchr("._:-", *s))
			return false;
	return true;
}

bool ctl_name_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t chars = 0;
	uint32_t cp;

	while (*p) {
		int n = ecs_utf8_next(p, &cp);

		if (n < 0)
			return false;
		if (chars == 0 ? !(is_ascii_letter(cp) || is_cjk(cp))
			       : !(is_ascii_letter(cp) || is_cjk(cp) || (cp >= '0' && cp <= '9') || (cp < 0x80 && strchr("._:-", (int)cp))))
			return false;
		chars++;
		p += n;
	}
	return chars >= 2 && chars <= 128;
}

/* The name parameters a creating or changing action sets, and ECS's code for each. A
 * DataDisk.N.DiskName matches by its last part. */
static const struct {
	const char *param, *code;
} name_params[] = {
	{ "InstanceName", "InvalidInstanceName.Malformed" },
	{ "DiskName", "InvalidDiskName.Malformed" },
	{ "SnapshotName", "InvalidSnapshotName.Malformed" },
	{ "ImageName", "InvalidImageName.Malformed" },
	{ "SecurityGroupName", "InvalidSecurityGroupName.Malformed" },
	{ "SystemDisk.DiskName", "InvalidSystemDiskName.Malformed" },
	{ ".DiskName", "InvalidDataDiskName.Malformed" },
};

static const char *name_code(const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(name_params); i++) {
		const char *p = name_params[i].param;

		if (*p == '.' ? str_has_prefix(key, "DataDisk.") && str_has_suffix(key, p) : streq(key, p))
			return name_params[i].code;
	}
	return NULL;
}

static int check_user_data(struct ctl_call *call, const char *v)
{
	_cleanup_free_ uint8_t *raw = NULL;
	size_t len = 0, n = strlen(v);

	if (n > (CTL_MAX_USER_DATA + 2) / 3 * 4)
		return ctl_fail(call, 400, "InvalidUserData.SizeExceeded",
				"The specified UserData exceeds %d bytes (before base64).", CTL_MAX_USER_DATA);
	if (ecs_base64_decode(v, n, &raw, &len) < 0)
		return ctl_fail(call, 400, "InvalidUserData.NotBase64", "The specified UserData is not base64 encoded.");
	if (len > CTL_MAX_USER_DATA)
		return ctl_fail(call, 400, "InvalidUserData.SizeExceeded",
				"The specified UserData exceeds %d bytes (before base64).", CTL_MAX_USER_DATA);
	return 0;
}

int ctl_params_check(struct ctl_call *call, bool mutating)
{
	for (size_t i = 0; i < call->params->n; i++) {
		const char *k = call->params->items[i].key, *v = call->params->items[i].value, *code;

		if (!ctl_utf8_ok(k))
			return ctl_fail(call, 400, "InvalidParameter", "A parameter name is not valid UTF-8.");
		if (!ctl_utf8_ok(v))
			return invalid(call, k, "not valid UTF-8");
		if (streq(k, "UserData") && *v) {
			int r = check_user_data(call, v);

			if (r < 0)
				return r;
		}
		if (mutating && *v && (code = name_code(k)) && !ctl_name_ok(v))
			return ctl_fail(call, 400, code,
					"The specified parameter \"%s\" is not valid: 2-128 characters, a letter or CJK "
					"character first, then letters, CJK characters, digits, '.', '_', ':', '-'.",
					k);
	}
	return 0;
}
