/* kv.h: an ordered list of string key/value pairs: query parameters, form fields, headers.
 * Keys may repeat; lookups return the first match. The list owns copies of its strings. */
#ifndef ECS_KV_H
#define ECS_KV_H

#include <stdbool.h>
#include <stddef.h>

struct ecs_kv {
	char *key;
	char *value;
};

struct ecs_kvlist {
	struct ecs_kv *items;
	size_t n;
	size_t cap;
};

#define ECS_KVLIST_INIT { NULL, 0, 0 }

/* Append copies of key and value (value NULL is stored as ""). */
int ecs_kvlist_add(struct ecs_kvlist *l, const char *key, const char *value);
/* Append key and a value of explicit length (may hold any bytes but NUL). */
int ecs_kvlist_addn(struct ecs_kvlist *l, const char *key, size_t klen, const char *value, size_t vlen);
/* Replace the first value of key, or append it. */
int ecs_kvlist_set(struct ecs_kvlist *l, const char *key, const char *value);

const char *ecs_kvlist_get(const struct ecs_kvlist *l, const char *key);
const char *ecs_kvlist_get_case(const struct ecs_kvlist *l, const char *key);
/* Remove every pair with this key; returns how many were removed. */
size_t ecs_kvlist_remove(struct ecs_kvlist *l, const char *key);

/* Sort by key (byte order), stable for equal keys. */
int ecs_kvlist_sort(struct ecs_kvlist *l);

void ecs_kvlist_clear(struct ecs_kvlist *l);

#endif
