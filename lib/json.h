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

/* ---- writing JSON text straight into a buffer (jwrite.c) ----
 * For the hot answers (a Describe page's rows): no json-c object per value. The text is
 * byte for byte what ecs_json_text gives for the same values built with ecs_jbk_* (the
 * strings escaped as json-c escapes them, with JSON_C_TO_STRING_NOSLASHESCAPE). A comma goes
 * before a member or element unless it is the first of its object or array. Keys are the
 * program's literals (plain ASCII), written as they are. The first allocation failure is
 * kept in err; the text is then dropped (ecs_jw_take gives NULL). */
struct ecs_jw {
	char *data;
	size_t len, cap;
	int err;
};

/* key NULL: an array element, else a member "key": of the open object. */
void ecs_jw_str(struct ecs_jw *w, const char *key, const char *val); /* NULL is "" */
void ecs_jw_int(struct ecs_jw *w, const char *key, int64_t val);
void ecs_jw_bool(struct ecs_jw *w, const char *key, bool val);
/* Open '{' or '[' (closed with ecs_jw_close and the matching '}' or ']'). */
void ecs_jw_open(struct ecs_jw *w, const char *key, char brace);
void ecs_jw_close(struct ecs_jw *w, char brace);
/* "outer":{"inner":[ ... ]} as ecs_jbk_list shapes lists: open, then close with ecs_jw_list_close. */
void ecs_jw_list_open(struct ecs_jw *w, const char *outer, const char *inner);
void ecs_jw_list_close(struct ecs_jw *w);
/* A JSON value already in compact text (a member or element as ecs_jw_str places it). */
void ecs_jw_text(struct ecs_jw *w, const char *key, const char *text, size_t len);
void ecs_jw_free(struct ecs_jw *w);

/* A json-c node that serialises as the writer's text (one value), taking the writer's
 * buffer (w is reset); NULL when the writer failed. Put into a tree like any value: the
 * tree's text then holds it verbatim. Whoever walks a tree rather than printing it
 * (xml.c) reads such a node with ecs_json_raw_tree. */
struct json_object *ecs_jw_take(struct ecs_jw *w);
/* o's text parsed into a new tree (the caller puts it) when o is a node of ecs_jw_take,
 * else NULL. */
struct json_object *ecs_json_raw_tree(struct json_object *o);

#endif
