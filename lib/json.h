/* json.h: short, bounds-checked reading and building of JSON API bodies over json-c.
 *
 * Reading: a reader remembers the first error (field and reason) so a handler reads every
 * field in a row and checks once:
 *
 *	struct ecs_jreader jr;
 *	ecs_jr_init(&jr, body);
 *	const char *name = ecs_jr_str(&jr, "Name", ECS_JR_REQUIRED, 128, NULL);
 *	long long size = ecs_jr_int(&jr, "Size", 0, 1, 2048, 20);
 *	if (ecs_jr_finish(&jr, true) < 0)
 *		return reply_error(jr.rc == -ENOENT ? "MissingParameter" : "InvalidParameter", jr.message);
 */
#ifndef ECS_JSON_H
#define ECS_JSON_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ECS_JSON_MAX_DEPTH 32
#define ECS_JR_MAX_FIELDS 64

/* Parse exactly one JSON value from buf[len] (nesting at most ECS_JSON_MAX_DEPTH, nothing
 * but whitespace after it). -EINVAL with a message in *ret_error (static string). */
int ecs_json_parse(const char *buf, size_t len, struct json_object **ret, const char **ret_error);

enum {
	ECS_JR_REQUIRED = 1 << 0,
	ECS_JR_NONEMPTY = 1 << 1, /* strings: "" counts as missing */
};

struct ecs_jreader {
	struct json_object *obj;
	int rc;		  /* 0, or the first error: -ENOENT missing, -EINVAL bad */
	char field[128];  /* the field of the first error */
	char message[256]; /* a sentence naming the field */
	const char *seen[ECS_JR_MAX_FIELDS];
	size_t n_seen;
};

/* obj must be a JSON object, else the reader starts in error. */
void ecs_jr_init(struct ecs_jreader *r, struct json_object *obj);
const char *ecs_jr_str(struct ecs_jreader *r, const char *key, unsigned flags, size_t maxlen, const char *def);
long long ecs_jr_int(struct ecs_jreader *r, const char *key, unsigned flags, long long min, long long max,
		     long long def);
bool ecs_jr_bool(struct ecs_jreader *r, const char *key, unsigned flags, bool def);
/* An array of at most max_items (NULL when absent or on error). */
struct json_object *ecs_jr_array(struct ecs_jreader *r, const char *key, unsigned flags, size_t max_items);
struct json_object *ecs_jr_object(struct ecs_jreader *r, const char *key, unsigned flags);
/* Record an error found by the caller (keeps the first). */
void ecs_jr_fail(struct ecs_jreader *r, int rc, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Returns r->rc; with strict, a field never read is an error ("unknown field"). */
int ecs_jr_finish(struct ecs_jreader *r, bool strict);

/* Building. A NULL string is written as "" (the wire never carries null strings). */
void ecs_jb_str(struct json_object *o, const char *key, const char *val);
void ecs_jb_int(struct json_object *o, const char *key, int64_t val);
void ecs_jb_bool(struct json_object *o, const char *key, bool val);
void ecs_jb_double(struct json_object *o, const char *key, double val);
/* Add {"outer": {"inner": []}} and return the array, as the ECS API wraps lists. */
struct json_object *ecs_jb_list(struct json_object *o, const char *outer, const char *inner);
/* Add an empty object under key and return it. */
struct json_object *ecs_jb_obj(struct json_object *o, const char *key);

/* The same for the hot answers (a Describe page's rows): the key is a string literal (kept,
 * not copied) and not yet in o. */
void ecs_jbk_str(struct json_object *o, const char *key, const char *val);
void ecs_jbk_int(struct json_object *o, const char *key, int64_t val);
void ecs_jbk_bool(struct json_object *o, const char *key, bool val);
struct json_object *ecs_jbk_list(struct json_object *o, const char *outer, const char *inner);
struct json_object *ecs_jbk_obj(struct json_object *o, const char *key);

/* Reading documents the program wrote itself (no error reporting): the value under key,
 * or def when absent or of another type. */
struct json_object *ecs_json_get(struct json_object *o, const char *key);
const char *ecs_json_str(struct json_object *o, const char *key, const char *def);
int64_t ecs_json_int(struct json_object *o, const char *key, int64_t def);
bool ecs_json_bool(struct json_object *o, const char *key);

/* Compact text of o, owned by o. */
const char *ecs_json_text(struct json_object *o, size_t *ret_len);

#endif
