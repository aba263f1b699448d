#include "nonce.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	struct entry *chain; /* next in the hash bucket */
	struct entry *next;  /* next in insertion order */
	time_t expires;
	uint64_t hash;
	char key[];
};

struct ecs_nonce_set {
	pthread_mutex_t lock;
	struct entry **buckets;
	size_t n_buckets, n, max;
	struct entry *head, *tail; /* insertion order: oldest at head */
};

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	return h;
}

int ecs_nonce_set_new(size_t max_entries, struct ecs_nonce_set **ret)
{
	struct ecs_nonce_set *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->max = max_entries ? max_entries : 65536;
	/* About one bucket per two entries at the bound; chains stay short. */
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
	for (struct entry *e = s->head, *next; e; e = next) {
		next = e->next;
		free(e);
	}
	free(s->buckets);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static void unlink_from_bucket(struct ecs_nonce_set *s, struct entry *e)
{
	struct entry **p = &s->buckets[e->hash & (s->n_buckets - 1)];

	while (*p && *p != e)
		p = &(*p)->chain;
	if (*p)
		*p = e->chain;
}

/* Drop expired entries from the front of the queue (inserted earliest). */
static void expire(struct ecs_nonce_set *s, time_t now)
{
	while (s->head && s->head->expires <= now) {
		struct entry *e = s->head;

		s->head = e->next;
		if (!s->head)
			s->tail = NULL;
		unlink_from_bucket(s, e);
		free(e);
		s->n--;
	}
}

int ecs_nonce_set_add(struct ecs_nonce_set *s, const char *key, time_t now, time_t expires)
{
	uint64_t h = fnv1a(key);
	size_t len = strlen(key);
	struct entry *e;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	expire(s, now);
	for (e = s->buckets[h & (s->n_buckets - 1)]; e; e = e->chain) {
		/* An entry behind a later-expiring one may outlive its time in the queue. */
		if (e->hash == h && e->expires > now && strcmp(e->key, key) == 0) {
			r = -EEXIST;
			goto out;
		}
	}
	if (s->n >= s->max) {
		r = -ENOSPC;
		goto out;
	}
	e = malloc(sizeof(*e) + len + 1);
	if (!e) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(e->key, key, len + 1);
	e->hash = h;
	e->expires = expires;
	e->next = NULL;
	e->chain = s->buckets[h & (s->n_buckets - 1)];
	s->buckets[h & (s->n_buckets - 1)] = e;
	if (s->tail)
		s->tail->next = e;
	else
		s->head = e;
	s->tail = e;
	s->n++;
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

size_t ecs_nonce_set_size(struct ecs_nonce_set *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = s->n;
	pthread_mutex_unlock(&s->lock);
	return n;
}
