/* Listing a bucket: the shards read in key order from the marker on and merged, common
 * prefixes skipped in every shard at once. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "storage_rados.h"
#include "store-internal.h"
#include "util.h"

struct cursor {
	char oid[128];
	char **keys, **vals;
	size_t *vlens;
	size_t n, i;
	bool more;
};

static void cursor_drop(struct cursor *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->keys[i]);
		free(c->vals[i]);
	}
	c->n = c->i = 0;
}

/* Read the next batch after start_after (keys under prefix). */
static int refill(struct oss *o, struct cursor *c, const char *start_after, const char *prefix)
{
	rados_read_op_t op = rados_create_read_op();
	rados_omap_iter_t it = NULL;
	unsigned char more = 0;
	int prval = 0, r;

	cursor_drop(c);
	if (!op)
		return -ENOMEM;
	rados_read_op_omap_get_vals2(op, start_after, prefix, OSS_LIST_BATCH, &it, &more, &prval);
	r = storage_read_op(o->io, op, c->oid, &prval);
	if (r == -ENOENT) {
		r = 0;
		more = 0;
	}
	if (r >= 0) {
		char *k, *v;
		size_t kl, vl;

		while (c->n < OSS_LIST_BATCH && rados_omap_get_next2(it, &k, &v, &kl, &vl) == 0 && k) {
			c->keys[c->n] = strndup(k, kl);
			c->vals[c->n] = malloc(vl + 1);
			if (!c->keys[c->n] || !c->vals[c->n]) {
				free(c->keys[c->n]);
				free(c->vals[c->n]);
				r = -ENOMEM;
				break;
			}
			memcpy(c->vals[c->n], v, vl);
			c->vals[c->n][vl] = '\0';
			c->vlens[c->n] = vl;
			c->n++;
		}
	}
	/* An OSD may answer fewer than asked and still have more: "more" says so. */
	c->more = more;
	if (it)
		rados_omap_get_end(it);
	rados_release_read_op(op);
	return r;
}

/* The cursor's current key, refilling when its batch is used up; NULL when done. */
static int current(struct oss *o, struct cursor *c, const char *prefix, const char **ret)
{
	while (c->i >= c->n) {
		char last[1024 + 2];
		int r;

		if (!c->more) {
			*ret = NULL;
			return 0;
		}
		if (!c->n) { /* more with an empty batch: nothing to resume from */
			*ret = NULL;
			return 0;
		}
		snprintf(last, sizeof(last), "%s", c->keys[c->n - 1]);
		if ((r = refill(o, c, last, prefix)) < 0)
			return r;
	}
	*ret = c->keys[c->i];
	return 0;
}

/* Move a cursor past every key starting with cp. */
static int skip_prefix(struct oss *o, struct cursor *c, const char *cp, const char *prefix)
{
	size_t cl = strlen(cp);

	for (;;) {
		const char *k;
		int r = current(o, c, prefix, &k);

		if (r < 0)
			return r;
		if (!k || strncmp(k, cp, cl) != 0)
			return 0;
		if (c->i + 1 < c->n || !c->more) {
			c->i++;
			continue;
		}
		/* The batch ends inside cp: resume after all of it (UTF-8 has no 0xff byte). */
		{
			char after[1024 + 2];

			snprintf(after, sizeof(after), "%s\xff", cp);
			if ((r = refill(o, c, after, prefix)) < 0)
				return r;
		}
	}
}

static int add_prefix(struct oss_listing *l, const char *cp, unsigned max)
{
	if (!l->prefixes && !(l->prefixes = calloc(max, sizeof(char *))))
		return -ENOMEM;
	if (!(l->prefixes[l->n_prefixes] = strdup(cp)))
		return -ENOMEM;
	l->n_prefixes++;
	return 0;
}

int oss_list(struct oss *o, const struct oss_bucket *b, const char *prefix, const char *delimiter, const char *marker,
	     unsigned max, struct oss_listing *ret)
{
	struct cursor cur[OSS_SHARDS] = { 0 };
	struct oss_listing l = { 0 };
	size_t plen = strlen(prefix), dlen = delimiter ? strlen(delimiter) : 0;
	const char *start = strcmp(marker, prefix) > 0 ? marker : "";
	int r = 0;

	l.entries = calloc(max ? max : 1, sizeof(*l.entries));
	if (!l.entries)
		return -ENOMEM;
	for (unsigned s = 0; s < OSS_SHARDS; s++) {
		oss_oid_shard(cur[s].oid, sizeof(cur[s].oid), b->id, s);
		cur[s].keys = calloc(OSS_LIST_BATCH, sizeof(char *));
		cur[s].vals = calloc(OSS_LIST_BATCH, sizeof(char *));
		cur[s].vlens = calloc(OSS_LIST_BATCH, sizeof(size_t));
		if (!cur[s].keys || !cur[s].vals || !cur[s].vlens) {
			r = -ENOMEM;
			goto out;
		}
		if ((r = refill(o, &cur[s], start, prefix)) < 0)
			goto out;
	}
	for (;;) {
		const char *best = NULL, *k, *d;
		int bs = -1;

		for (unsigned s = 0; s < OSS_SHARDS; s++) {
			if ((r = current(o, &cur[s], prefix, &k)) < 0)
				goto out;
			if (k && (!best || strcmp(k, best) < 0)) {
				best = k;
				bs = (int)s;
			}
		}
		if (!best)
			break;
		if (l.n + l.n_prefixes >= max) {
			l.truncated = true;
			break;
		}
		d = dlen ? strstr(best + plen, delimiter) : NULL;
		if (d) {
			char cp[1024 + 1];

			snprintf(cp, sizeof(cp), "%.*s", (int)(d - best + dlen), best);
			if (strcmp(cp, marker) > 0) {
				if ((r = add_prefix(&l, cp, max)) < 0)
					goto out;
				snprintf(l.next_marker, sizeof(l.next_marker), "%s", cp);
			}
			for (unsigned s = 0; s < OSS_SHARDS; s++)
				if ((r = skip_prefix(o, &cur[s], cp, prefix)) < 0)
					goto out;
			continue;
		}
		{
			struct oss_entry *e = &l.entries[l.n];
			struct cursor *c = &cur[bs];

			memset(e, 0, sizeof(*e));
			snprintf(e->key, sizeof(e->key), "%s", best);
			if (oss_entry_parse(c->vals[c->i], c->vlens[c->i], e) == 0)
				l.n++;
			snprintf(l.next_marker, sizeof(l.next_marker), "%s", best);
			c->i++;
		}
	}
	if (!l.truncated)
		l.next_marker[0] = '\0';
	*ret = l;
	memset(&l, 0, sizeof(l));
out:
	for (unsigned s = 0; s < OSS_SHARDS; s++) {
		if (cur[s].keys)
			cursor_drop(&cur[s]);
		free(cur[s].keys);
		free(cur[s].vals);
		free(cur[s].vlens);
	}
	oss_listing_clear(&l);
	return r;
}

void oss_listing_clear(struct oss_listing *l)
{
	for (size_t i = 0; i < l->n; i++)
		oss_entry_clear(&l->entries[i]);
	free(l->entries);
	ecs_strv_free(l->prefixes, l->n_prefixes);
	memset(l, 0, sizeof(*l));
}
