#include "nonce.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define OWNER_BUCKETS 256

struct owner {
	struct owner *chain;
	size_t n; /* live nonces; the record goes with the last one */
	uint64_t hash;
	char name[];
};

struct entry {
	struct entry *chain; /* next in the hash bucket */
	struct owner *owner;
	time_t expires;
	uint64_t hash; /* of owner "\n" nonce */
	char key[];    /* owner "\n" nonce */
};

struct ecs_nonce_set {
	pthread_mutex_t lock;
	struct entry **buckets;
	size_t n_buckets, n, max;
	struct entry **heap; /* min-heap on expires */
	size_t heap_cap;
	struct owner *owners[OWNER_BUCKETS];
};

static uint64_t fnv1a(const char *s, uint64_t h)
{
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	return h;
}

#define FNV_SEED 1469598103934665603ULL

int ecs_nonce_set_new(size_t max_per_owner, struct ecs_nonce_set **ret)
{
	struct ecs_nonce_set *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->max = max_per_owner ? max_per_owner : 65536;
	/* About one bucket per two entries of one full owner; chains stay short. */
	s->n_buckets = 1024;
	while (s->n_buckets < s->max / 2 && s->n_buckets < (1u << 24))
		s->n_buckets *= 2;
	s->buckets = calloc(s->n_buckets, sizeof(*s->buckets));
	if (!s->buckets) {
		free(s);
		return -ENOMEM;
	}
	pthread_mutex_init(&s->lock, NULL);
	*ret = s;
	return 0;
}

void ecs_nonce_set_free(struct ecs_nonce_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->heap[i]);
	for (size_t i = 0; i < OWNER_BUCKETS; i++)
		for (struct owner *o = s->owners[i], *next; o; o = next) {
			next = o->chain;
			free(o);
		}
	free(s->heap);
	free(s->buckets);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* ---- owners ---- */

static struct owner *owner_find(struct ecs_nonce_set *s, const char *name, bool create)
{
	uint64_t h = fnv1a(name, FNV_SEED);
	struct owner **head = &s->owners[h % OWNER_BUCKETS], *o;
	size_t len;

	for (o = *head; o; o = o->chain)
		if (o->hash == h && strcmp(o->name, name) == 0)
			return o;
	if (!create)
		return NULL;
	len = strlen(name);
	o = calloc(1, sizeof(*o) + len + 1);
	if (!o)
		return NULL;
	memcpy(o->name, name, len + 1);
	o->hash = h;
	o->chain = *head;
	*head = o;
	return o;
}

static void owner_put(struct ecs_nonce_set *s, struct owner *o)
{
	struct owner **p;

	if (--o->n > 0)
		return;
	for (p = &s->owners[o->hash % OWNER_BUCKETS]; *p && *p != o; p = &(*p)->chain)
		;
	if (*p)
		*p = o->chain;
	free(o);
}

/* ---- the heap ---- */

static void heap_swap(struct ecs_nonce_set *s, size_t a, size_t b)
{
	struct entry *t = s->heap[a];

	s->heap[a] = s->heap[b];
	s->heap[b] = t;
}

static void heap_up(struct ecs_nonce_set *s, size_t i)
{
	while (i > 0 && s->heap[(i - 1) / 2]->expires > s->heap[i]->expires) {
		heap_swap(s, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(struct ecs_nonce_set *s, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < s->n && s->heap[l]->expires < s->heap[m]->expires)
			m = l;
		if (r < s->n && s->heap[r]->expires < s->heap[m]->expires)
			m = r;
		if (m == i)
			return;
		heap_swap(s, i, m);
		i = m;
	}
}

static void unlink_from_bucket(struct ecs_nonce_set *s, struct entry *e)
{
	struct entry **p = &s->buckets[e->hash & (s->n_buckets - 1)];

	while (*p && *p != e)
		p = &(*p)->chain;
	if (*p)
		*p = e->chain;
}

/* Drop every entry whose time has come, earliest first. */
static void expire(struct ecs_nonce_set *s, time_t now)
{
	while (s->n && s->heap[0]->expires <= now) {
		struct entry *e = s->heap[0];

		s->heap[0] = s->heap[--s->n];
		heap_down(s, 0);
		unlink_from_bucket(s, e);
		owner_put(s, e->owner);
		free(e);
	}
}

int ecs_nonce_set_add_owned(struct ecs_nonce_set *s, const char *owner, const char *nonce, time_t now,
			    time_t expires)
{
	size_t olen = strlen(owner), nlen = strlen(nonce);
	uint64_t h = fnv1a(nonce, fnv1a("\n", fnv1a(owner, FNV_SEED)));
	struct owner *o;
	struct entry *e;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	expire(s, now);
	for (e = s->buckets[h & (s->n_buckets - 1)]; e; e = e->chain) {
		if (e->hash == h && strncmp(e->key, owner, olen) == 0 && e->key[olen] == '\n' &&
		    strcmp(e->key + olen + 1, nonce) == 0) {
			r = -EEXIST;
			goto out;
		}
	}
	if (expires <= now)
		goto out; /* it would be gone at once */
	o = owner_find(s, owner, false);
	if (o && o->n >= s->max) {
		r = -ENOSPC;
		goto out;
	}
	if (s->n == s->heap_cap) {
		size_t cap = s->heap_cap ? 2 * s->heap_cap : 1024;
		struct entry **heap = realloc(s->heap, cap * sizeof(*heap));

		if (!heap) {
			r = -ENOMEM;
			goto out;
		}
		s->heap = heap;
		s->heap_cap = cap;
	}
	e = malloc(sizeof(*e) + olen + 1 + nlen + 1);
	if (!e) {
		r = -ENOMEM;
		goto out;
	}
	if (!o && !(o = owner_find(s, owner, true))) {
		free(e);
		r = -ENOMEM;
		goto out;
	}
	memcpy(e->key, owner, olen);
	e->key[olen] = '\n';
	memcpy(e->key + olen + 1, nonce, nlen + 1);
	e->hash = h;
	e->expires = expires;
	e->owner = o;
	o->n++;
	e->chain = s->buckets[h & (s->n_buckets - 1)];
	s->buckets[h & (s->n_buckets - 1)] = e;
	s->heap[s->n] = e;
	heap_up(s, s->n++);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int ecs_nonce_set_add(struct ecs_nonce_set *s, const char *key, time_t now, time_t expires)
{
	return ecs_nonce_set_add_owned(s, "", key, now, expires);
}

int ecs_nonce_set_claim(struct ecs_nonce_set *s, const char *owner, const char *nonce, time_t stamp, time_t now,
			time_t window)
{
	if (stamp < now - window || stamp > now + window)
		return -ERANGE;
	return ecs_nonce_set_add_owned(s, owner, nonce, now, stamp + window + 1);
}

size_t ecs_nonce_set_size(struct ecs_nonce_set *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = s->n;
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t ecs_nonce_set_owner_size(struct ecs_nonce_set *s, const char *owner)
{
	struct owner *o;
	size_t n;

	pthread_mutex_lock(&s->lock);
	o = owner_find(s, owner, false);
	n = o ? o->n : 0;
	pthread_mutex_unlock(&s->lock);
	return n;
}
