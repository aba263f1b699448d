#include "kv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

/* A pair as one block, "key\0value\0" (one allocation a parameter, not two: a signed
 * request carries a dozen); the key owns it, the value points into it. */
static int pair_new(const char *key, size_t klen, const char *value, size_t vlen, struct ecs_kv *ret)
{
	char *k = malloc(klen + vlen + 2);

	if (!k)
		return -ENOMEM;
	memcpy(k, key, klen);
	k[klen] = '\0';
	if (vlen)
		memcpy(k + klen + 1, value, vlen);
	k[klen + 1 + vlen] = '\0';
	*ret = (struct ecs_kv){ .key = k, .value = k + klen + 1 };
	return 0;
}

int ecs_kvlist_addn(struct ecs_kvlist *l, const char *key, size_t klen, const char *value, size_t vlen)
{
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 16;
		struct ecs_kv *ni = realloc(l->items, ncap * sizeof(*ni));

		if (!ni)
			return -ENOMEM;
		l->items = ni;
		l->cap = ncap;
	}
	/* strndup's length: the value ends at its first NUL, as before. */
	klen = strnlen(key, klen);
	vlen = value ? strnlen(value, vlen) : 0;
	if (pair_new(key, klen, value, vlen, &l->items[l->n]) < 0)
		return -ENOMEM;
	l->n++;
	return 0;
}

int ecs_kvlist_add(struct ecs_kvlist *l, const char *key, const char *value)
{
	return ecs_kvlist_addn(l, key, strlen(key), value, value ? strlen(value) : 0);
}

int ecs_kvlist_set(struct ecs_kvlist *l, const char *key, const char *value)
{
	for (size_t i = 0; i < l->n; i++) {
		if (streq(l->items[i].key, key)) {
			struct ecs_kv kv;

			if (pair_new(key, strlen(key), strempty(value), strlen(strempty(value)), &kv) < 0)
				return -ENOMEM;
			free(l->items[i].key);
			l->items[i] = kv;
			return 0;
		}
	}
	return ecs_kvlist_add(l, key, value);
}

const char *ecs_kvlist_get(const struct ecs_kvlist *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (streq(l->items[i].key, key))
			return l->items[i].value;
	return NULL;
}

const char *ecs_kvlist_get_case(const struct ecs_kvlist *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcaseeq(l->items[i].key, key))
			return l->items[i].value;
	return NULL;
}

size_t ecs_kvlist_remove(struct ecs_kvlist *l, const char *key)
{
	size_t j = 0, removed = 0;

	for (size_t i = 0; i < l->n; i++) {
		if (streq(l->items[i].key, key)) {
			free(l->items[i].key); /* and its value */
			removed++;
			continue;
		}
		l->items[j++] = l->items[i];
	}
	l->n = j;
	return removed;
}

struct kv_pos {
	struct ecs_kv kv;
	size_t pos;
};

static int kv_pos_cmp(const void *a, const void *b)
{
	const struct kv_pos *x = a, *y = b;
	int c = strcmp(x->kv.key, y->kv.key);

	if (c)
		return c;
	/* Equal keys keep their order, so repeated parameters sign the same way. */
	return (x->pos > y->pos) - (x->pos < y->pos);
}

int ecs_kvlist_sort(struct ecs_kvlist *l)
{
	_cleanup_free_ struct kv_pos *tmp = NULL;

	if (l->n < 2)
		return 0;
	tmp = calloc(l->n, sizeof(*tmp));
	if (!tmp)
		return -ENOMEM;
	for (size_t i = 0; i < l->n; i++)
		tmp[i] = (struct kv_pos){ l->items[i], i };
	qsort(tmp, l->n, sizeof(*tmp), kv_pos_cmp);
	for (size_t i = 0; i < l->n; i++)
		l->items[i] = tmp[i].kv;
	return 0;
}

void ecs_kvlist_clear(struct ecs_kvlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i].key); /* and its value */
	free(l->items);
	l->items = NULL;
	l->n = l->cap = 0;
}
