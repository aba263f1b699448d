/* jwrite.c: JSON text written straight into a buffer (json.h, "writing JSON text"). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static void grow(struct ecs_jw *w, const char *p, size_t n)
{
	size_t ncap = w->cap ? w->cap : 4096;
	char *nd;

	if (w->err)
		return;
	while (ncap < w->len + n + 1)
		ncap *= 2;
	nd = realloc(w->data, ncap);
	if (!nd) {
		w->err = -ENOMEM;
		return;
	}
	w->data = nd;
	w->cap = ncap;
	memcpy(w->data + w->len, p, n);
	w->len += n;
	w->data[w->len] = '\0';
}

static inline void put(struct ecs_jw *w, const char *p, size_t n)
{
	if (w->len + n + 1 <= w->cap) {
		memcpy(w->data + w->len, p, n);
		w->len += n;
		w->data[w->len] = '\0';
	} else {
		grow(w, p, n);
	}
}

/* The comma before a member or element, unless it opens its object or array (or follows
 * its key). */
static void sep(struct ecs_jw *w)
{
	char last = w->len ? w->data[w->len - 1] : '[';

	if (last != '{' && last != '[' && last != ':')
		put(w, ",", 1);
}

/* As json-c escapes a string with JSON_C_TO_STRING_NOSLASHESCAPE: \b \n \r \t \f \" \\ by
 * name, other bytes below 0x20 as \u00xx (lower-case hex), every other byte as it is. */
static void quoted(struct ecs_jw *w, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *start = s;

	put(w, "\"", 1);
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		char esc[7] = { '\\', 0 };
		size_t n = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		switch (c) {
		case '\b': esc[1] = 'b'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		case '\f': esc[1] = 'f'; break;
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		default:
			if (c >= 0x20)
				continue;
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			n = 6;
		}
		put(w, start, (size_t)(p - start));
		put(w, esc, n);
		start = p + 1;
	}
	put(w, start, strlen(start));
	put(w, "\"", 1);
}

/* The keys are the program's own literals: plain ASCII, nothing to escape. */
static void key(struct ecs_jw *w, const char *k)
{
	sep(w);
	if (k) {
		size_t n = strlen(k);

		put(w, "\"", 1);
		put(w, k, n);
		put(w, "\":", 2);
	}
}

void ecs_jw_str(struct ecs_jw *w, const char *k, const char *val)
{
	key(w, k);
	quoted(w, val ? val : "");
}

void ecs_jw_int(struct ecs_jw *w, const char *k, int64_t val)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRId64, val);

	key(w, k);
	put(w, num, (size_t)n);
}

void ecs_jw_bool(struct ecs_jw *w, const char *k, bool val)
{
	key(w, k);
	put(w, val ? "true" : "false", val ? 4 : 5);
}

void ecs_jw_open(struct ecs_jw *w, const char *k, char brace)
{
	key(w, k);
	put(w, &brace, 1);
}

void ecs_jw_close(struct ecs_jw *w, char brace)
{
	put(w, &brace, 1);
}

void ecs_jw_list_open(struct ecs_jw *w, const char *outer, const char *inner)
{
	ecs_jw_open(w, outer, '{');
	ecs_jw_open(w, inner, '[');
}

void ecs_jw_list_close(struct ecs_jw *w)
{
	put(w, "]}", 2);
}

void ecs_jw_text(struct ecs_jw *w, const char *k, const char *text, size_t len)
{
	key(w, k);
	put(w, text, len);
}

void ecs_jw_free(struct ecs_jw *w)
{
	free(w->data);
	*w = (struct ecs_jw){ 0 };
}

/* ---- the node that prints as the text ---- */

#define RAW_MAGIC 0x6a77726157ULL /* "jwraW" */

struct raw {
	unsigned long long magic;
	size_t len;
	char *text;
};

static int raw_print(struct json_object *o, struct printbuf *pb, int level, int flags)
{
	struct raw *r = json_object_get_userdata(o);

	(void)level;
	(void)flags;
	return printbuf_memappend(pb, r->text, (int)r->len) < 0 ? -1 : 0;
}

static void raw_free(struct json_object *o, void *userdata)
{
	struct raw *r = userdata;

	(void)o;
	free(r->text);
	free(r);
}

struct json_object *ecs_jw_take(struct ecs_jw *w)
{
	struct raw *r = w->err || !w->data || w->len > INT32_MAX ? NULL : malloc(sizeof(*r));
	struct json_object *o = r ? json_object_new_object() : NULL;

	if (!o) {
		free(r);
		ecs_jw_free(w);
		return NULL;
	}
	*r = (struct raw){ RAW_MAGIC, w->len, w->data };
	*w = (struct ecs_jw){ 0 };
	/* An object: a double is the only other kind json-c gives a serializer and userdata. */
	json_object_set_serializer(o, raw_print, r, raw_free);
	return o;
}

struct json_object *ecs_json_raw_tree(struct json_object *o)
{
	struct raw *r = json_object_is_type(o, json_type_object) ? json_object_get_userdata(o) : NULL;
	struct json_object *t = NULL;
	const char *err;

	if (!r || r->magic != RAW_MAGIC || json_object_object_length(o) != 0)
		return NULL;
	if (ecs_json_parse(r->text, r->len, &t, &err) < 0)
		return NULL;
	return t;
}
