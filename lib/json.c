#include "json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

int ecs_json_parse(const char *buf, size_t len, struct json_object **ret, const char **ret_error)
{
	struct json_tokener *tok;
	struct json_object *obj;
	enum json_tokener_error jerr;
	size_t off;

	if (len > INT32_MAX) {
		*ret_error = "body too large";
		return -EINVAL;
	}
	tok = json_tokener_new_ex(ECS_JSON_MAX_DEPTH);
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	off = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!obj || jerr != json_tokener_success) {
		json_object_put(obj);
		*ret_error = jerr == json_tokener_continue ? "truncated JSON" : json_tokener_error_desc(jerr);
		return -EINVAL;
	}
	for (; off < len; off++) {
		if (!strchr(" \t\r\n", buf[off])) {
			json_object_put(obj);
			*ret_error = "trailing data after JSON value";
			return -EINVAL;
		}
	}
	*ret = obj;
	return 0;
}

void ecs_jr_init(struct ecs_jreader *r, struct json_object *obj)
{
	memset(r, 0, sizeof(*r));
	r->obj = obj;
	if (!json_object_is_type(obj, json_type_object))
		ecs_jr_fail(r, -EINVAL, "", "the body must be a JSON object");
}

void ecs_jr_fail(struct ecs_jreader *r, int rc, const char *key, const char *fmt, ...)
{
	va_list ap;

	if (r->rc)
		return;
	r->rc = rc;
	snprintf(r->field, sizeof(r->field), "%s", key);
	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
}

/* Look key up, remember it was read, report a missing required field or one not of TYPE
 * ("KEY must be WHAT"): NULL then, as when it is absent. */
static struct json_object *lookup(struct ecs_jreader *r, const char *key, unsigned flags, json_type type,
				  const char *what)
{
	struct json_object *v = NULL;

	if (r->rc)
		return NULL;
	if (r->n_seen < ECS_JR_MAX_FIELDS)
		r->seen[r->n_seen++] = key;
	if (!json_object_object_get_ex(r->obj, key, &v) || json_object_is_type(v, json_type_null)) {
		if (flags & ECS_JR_REQUIRED)
			ecs_jr_fail(r, -ENOENT, key, "%s is mandatory for this action", key);
		return NULL;
	}
	if (!json_object_is_type(v, type)) {
		ecs_jr_fail(r, -EINVAL, key, "%s must be %s", key, what);
		return NULL;
	}
	return v;
}

const char *ecs_jr_str(struct ecs_jreader *r, const char *key, unsigned flags, size_t maxlen, const char *def)
{
	struct json_object *v = lookup(r, key, flags, json_type_string, "a string");
	size_t len;

	if (!v)
		return def;
	len = (size_t)json_object_get_string_len(v);
	if (len == 0 && (flags & ECS_JR_NONEMPTY)) {
		if (flags & ECS_JR_REQUIRED)
			ecs_jr_fail(r, -ENOENT, key, "%s is mandatory for this action", key);
		return def;
	}
	if (len > maxlen) {
		ecs_jr_fail(r, -EINVAL, key, "%s is longer than %zu characters", key, maxlen);
		return def;
	}
	if (strlen(json_object_get_string(v)) != len) {
		ecs_jr_fail(r, -EINVAL, key, "%s holds a NUL character", key);
		return def;
	}
	return json_object_get_string(v);
}

long long ecs_jr_int(struct ecs_jreader *r, const char *key, unsigned flags, long long min, long long max,
		     long long def)
{
	struct json_object *v = lookup(r, key, flags, json_type_int, "an integer");
	int64_t n;

	if (!v)
		return def;
	errno = 0;
	n = json_object_get_int64(v);
	/* json-c clamps out-of-range literals to INT64_MIN/MAX and sets errno. */
	if (errno == ERANGE || n < min || n > max) {
		ecs_jr_fail(r, -EINVAL, key, "%s must be in %lld..%lld", key, min, max);
		return def;
	}
	return n;
}

bool ecs_jr_bool(struct ecs_jreader *r, const char *key, unsigned flags, bool def)
{
	struct json_object *v = lookup(r, key, flags, json_type_boolean, "true or false");

	if (!v)
		return def;
	return json_object_get_boolean(v);
}

struct json_object *ecs_jr_array(struct ecs_jreader *r, const char *key, unsigned flags, size_t max_items)
{
	struct json_object *v = lookup(r, key, flags, json_type_array, "an array");

	if (!v)
		return NULL;
	if (json_object_array_length(v) > max_items) {
		ecs_jr_fail(r, -EINVAL, key, "%s holds more than %zu items", key, max_items);
		return NULL;
	}
	return v;
}

struct json_object *ecs_jr_object(struct ecs_jreader *r, const char *key, unsigned flags)
{
	return lookup(r, key, flags, json_type_object, "an object");
}

int ecs_jr_finish(struct ecs_jreader *r, bool strict)
{
	if (r->rc || !strict)
		return r->rc;
	json_object_object_foreach(r->obj, key, val)
	{
		bool known = false;

		(void)val;
		for (size_t i = 0; i < r->n_seen && !known; i++)
			known = streq(r->seen[i], key);
		if (!known) {
			ecs_jr_fail(r, -EINVAL, key, "unknown field %s", key);
			break;
		}
	}
	return r->rc;
}

void ecs_jb_str(struct json_object *o, const char *key, const char *val)
{
	json_object_object_add(o, key, json_object_new_string(strempty(val)));
}

void ecs_jb_int(struct json_object *o, const char *key, int64_t val)
{
	json_object_object_add(o, key, json_object_new_int64(val));
}

void ecs_jb_bool(struct json_object *o, const char *key, bool val)
{
	json_object_object_add(o, key, json_object_new_boolean(val));
}

void ecs_jb_double(struct json_object *o, const char *key, double val)
{
	json_object_object_add(o, key, json_object_new_double(val));
}

struct json_object *ecs_jb_obj(struct json_object *o, const char *key)
{
	struct json_object *child = json_object_new_object();

	json_object_object_add(o, key, child);
	return child;
}

struct json_object *ecs_jb_list(struct json_object *o, const char *outer, const char *inner)
{
	struct json_object *wrap = ecs_jb_obj(o, outer);
	struct json_object *arr = json_object_new_array();

	json_object_object_add(wrap, inner, arr);
	return arr;
}

#define LITERAL_KEY (JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_ADD_CONSTANT_KEY)

void ecs_jbk_str(struct json_object *o, const char *key, const char *val)
{
	json_object_object_add_ex(o, key, json_object_new_string(strempty(val)), LITERAL_KEY);
}

void ecs_jbk_int(struct json_object *o, const char *key, int64_t val)
{
	json_object_object_add_ex(o, key, json_object_new_int64(val), LITERAL_KEY);
}

void ecs_jbk_bool(struct json_object *o, const char *key, bool val)
{
	json_object_object_add_ex(o, key, json_object_new_boolean(val), LITERAL_KEY);
}

struct json_object *ecs_jbk_obj(struct json_object *o, const char *key)
{
	struct json_object *child = json_object_new_object();

	json_object_object_add_ex(o, key, child, LITERAL_KEY);
	return child;
}

struct json_object *ecs_jbk_list(struct json_object *o, const char *outer, const char *inner)
{
	struct json_object *arr = json_object_new_array();

	json_object_object_add_ex(ecs_jbk_obj(o, outer), inner, arr, LITERAL_KEY);
	return arr;
}

struct json_object *ecs_json_get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (o)
		json_object_object_get_ex(o, key, &v);
	return v;
}

const char *ecs_json_str(struct json_object *o, const char *key, const char *def)
{
	struct json_object *v = ecs_json_get(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : def;
}

int64_t ecs_json_int(struct json_object *o, const char *key, int64_t def)
{
	struct json_object *v = ecs_json_get(o, key);

	return v && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : def;
}

bool ecs_json_bool(struct json_object *o, const char *key)
{
	struct json_object *v = ecs_json_get(o, key);

	return v && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

const char *ecs_json_text(struct json_object *o, size_t *ret_len)
{
	return json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
						 ret_len);
}
