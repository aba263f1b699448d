#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "log.h"
#include "plainbuf.h"
#include "storage_rados.h"
#include "util.h"

#define OMAP_PAGE 512 /* an OSD answers at most 1,024 entries a request */
#define OMAP_ROWS_PAGE 128 /* rows of up to 4 MB each: keep one answer bounded */
#define AUTO_ATTEMPTS 64   /* compare-and-swap rounds for a counter (each round one writer wins) */
#define CAT_ATTEMPTS 256   /* rounds for a catalogue change against concurrent creators and deleters */
/* The catalogue's table count, beside the tables (no table name starts with '~'). */
#define CAT_COUNT_KEY "~count"

static void cat_oid(const struct ots_scope *sc, char *buf, size_t len)
{
	snprintf(buf, len, "ots.cat.%s.%s", sc->account, sc->instance);
}

static void auto_oid(const char *rows_oid, char *buf, size_t len)
{
	snprintf(buf, len, "%s.auto", rows_oid);
}

static int omap_get(struct ots *o, const char *oid, const char *key, char **ret, size_t *ret_len)
{
	rados_read_op_t op = rados_create_read_op();
	rados_omap_iter_t it = NULL;
	const char *keys[1] = { key };
	char *k = NULL, *v = NULL;
	size_t vl = 0;
	int prval = 0, r;

	if (!op)
		return -ENOMEM;
	rados_read_op_omap_get_vals_by_keys(op, keys, 1, &it, &prval);
	r = storage_read_op(o->io, op, oid, &prval);
	if (r == 0) {
		r = rados_omap_get_next(it, &k, &v, &vl);
		if (r == 0 && !k)
			r = -ENOENT;
	}
	if (r == 0) {
		*ret = malloc(vl + 1);
		if (!*ret) {
			r = -ENOMEM;
		} else {
			memcpy(*ret, v, vl);
			(*ret)[vl] = '\0';
			*ret_len = vl;
		}
	}
	if (it)
		rados_omap_get_end(it);
	rados_release_read_op(op);
	return r;
}

int ots_omap_apply(struct ots *o, const char *oid, const struct ots_omap_step *steps, size_t n, bool must_exist)
{
	rados_write_op_t op = rados_create_write_op();
	_cleanup_free_ int *prvals = calloc(n ? n : 1, sizeof(int));
	int r;

	if (!op || !prvals) {
		if (op)
			rados_release_write_op(op);
		return -ENOMEM;
	}
	if (must_exist)
		rados_write_op_assert_exists(op);
	for (size_t i = 0; i < n; i++) {
		const struct ots_omap_step *st = &steps[i];
		const char *k[1] = { st->key }, *v[1] = { st->val };
		size_t l[1] = { st->val_len };

		if (st->cmp)
			rados_write_op_omap_cmp(op, st->key, LIBRADOS_CMPXATTR_OP_EQ, st->old ? st->old : "",
						st->old ? st->old_len : 0, &prvals[i]);
		if (st->act == OTS_OMAP_SET)
			rados_write_op_omap_set(op, k, v, l, 1);
		else if (st->act == OTS_OMAP_RM)
			rados_write_op_omap_rm_keys(op, k, 1);
	}
	r = rados_write_op_operate(op, o->io, oid, NULL, 0);
	rados_release_write_op(op);
	return r;
}

/* Sets (or, for a NULL val, removes) each key whose value is still olds[i] ("" for absent):
 * all or none. */
static int omap_swap_many(struct ots *o, const char *oid, size_t n, char *const *keys, char *const *olds,
			  const size_t *old_lens, char *const *vals, const size_t *val_lens, bool must_exist)
{
	_cleanup_free_ struct ots_omap_step *st = calloc(n ? n : 1, sizeof(*st));

	if (!st)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		st[i] = (struct ots_omap_step){ .key = keys[i], .cmp = true, .old = olds[i], .old_len = old_lens[i],
						.act = vals[i] ? OTS_OMAP_SET : OTS_OMAP_RM, .val = vals[i],
						.val_len = val_lens[i] };
	return ots_omap_apply(o, oid, st, n, must_exist);
}

int ots_omap_get(struct ots *o, const char *oid, const char *key, char **ret, size_t *ret_len)
{
	return omap_get(o, oid, key, ret, ret_len);
}

static int omap_swap(struct ots *o, const char *oid, const char *key, const char *old, size_t old_len,
		     const char *val, size_t val_len, bool must_exist)
{
	char *k = (char *)key, *ov = (char *)old, *nv = (char *)val;

	return omap_swap_many(o, oid, 1, &k, &ov, &old_len, &nv, &val_len, must_exist);
}

int ots_cat_list(struct ots *o, const struct ots_scope *sc, char ***ret, size_t *ret_n)
{
	char oid[160], last[OTS_PB_MAX_NAME + 1] = "";
	char **names = NULL;
	size_t n = 0;
	int r = 0;

	cat_oid(sc, oid, sizeof(oid));
	for (;;) {
		rados_read_op_t op = rados_create_read_op();
		rados_omap_iter_t it = NULL;
		unsigned char more = 0;
		int prval = 0;
		char *k, *v;
		size_t vl;

		if (!op) {
			r = -ENOMEM;
			break;
		}
		rados_read_op_omap_get_vals2(op, last, "", OMAP_PAGE, &it, &more, &prval);
		r = storage_read_op(o->io, op, oid, &prval);
		while (r == 0 && rados_omap_get_next(it, &k, &v, &vl) == 0 && k) {
			char **nn;

			if (streq(k, CAT_COUNT_KEY))
				continue; /* the last key: '~' sorts after every name */
			nn = reallocarray(names, n + 1, sizeof(*names));

			if (!nn || !(nn[n] = strdup(k))) {
				names = nn ? nn : names;
				r = -ENOMEM;
				break;
			}
			names = nn;
			snprintf(last, sizeof(last), "%s", k);
			n++;
		}
		if (it)
			rados_omap_get_end(it);
		rados_release_read_op(op);
		if (r < 0 || !more)
			break;
	}
	if (r == -ENOENT)
		r = 0;
	if (r < 0) {
		ecs_strv_free(names, n);
		return r;
	}
	*ret = names;
	*ret_n = n;
	return 0;
}

/* An entry as stored (*ret_raw) and decoded (*ret). */
static int cat_read(struct ots *o, const struct ots_scope *sc, const char *name, char **ret_raw, size_t *ret_len,
		    Ots__StoredTable **ret)
{
	char oid[160];
	int r;

	cat_oid(sc, oid, sizeof(oid));
	if ((r = omap_get(o, oid, name, ret_raw, ret_len)) < 0)
		return r;
	*ret = ots__stored_table__unpack(NULL, *ret_len, (const uint8_t *)*ret_raw);
	if (!*ret) {
		log_error("a catalogue entry does not decode", "table=%s", name);
		free(*ret_raw);
		*ret_raw = NULL;
		return -EIO;
	}
	return 0;
}

int ots_cat_get(struct ots *o, const struct ots_scope *sc, const char *name, Ots__StoredTable **ret)
{
	_cleanup_free_ char *raw = NULL;
	size_t len;

	return cat_read(o, sc, name, &raw, &len, ret);
}

static int pack(const Ots__StoredTable *t, char **ret, size_t *ret_len)
{
	size_t n = ots__stored_table__get_packed_size(t);

	*ret = malloc(n ? n : 1);
	if (!*ret)
		return -ENOMEM;
	*ret_len = ots__stored_table__pack(t, (uint8_t *)*ret);
	return 0;
}

/* The table count as stored (*ret_raw, NULL when there is none yet: a catalogue from before
 * the count, or a new one) and its value (counted from the entries when not stored). */
static int cat_count(struct ots *o, const struct ots_scope *sc, const char *oid, char **ret_raw, size_t *ret_len,
		     long *ret_n)
{
	char **names = NULL, *end;
	size_t n = 0;
	int r = omap_get(o, oid, CAT_COUNT_KEY, ret_raw, ret_len);

	if (r == 0) {
		errno = 0;
		*ret_n = strtol(*ret_raw, &end, 10);
		if (errno || *end || *ret_n < 0) {
			free(*ret_raw);
			*ret_raw = NULL;
			return -EIO;
		}
		return 0;
	}
	*ret_raw = NULL;
	*ret_len = 0;
	if (r != -ENOENT || (r = ots_cat_list(o, sc, &names, &n)) < 0)
		return r;
	ecs_strv_free(names, n);
	*ret_n = (long)n;
	return 0;
}

/* One change of a table's entry (old -> val, NULL for absent) and of the count (+delta) in
 * one operation guarded by both: -ECANCELED when either changed since they were read. */
static int cat_change(struct ots *o, const struct ots_scope *sc, const char *name, const char *old, size_t old_len,
		      const char *val, size_t val_len, int delta, long max)
{
	_cleanup_free_ char *craw = NULL;
	char oid[160], cnt[24], *keys[2], *olds[2], *vals[2];
	size_t clen = 0, old_lens[2], val_lens[2];
	long n = 0;
	int r;

	cat_oid(sc, oid, sizeof(oid));
	if ((r = cat_count(o, sc, oid, &craw, &clen, &n)) < 0)
		return r;
	if (delta > 0 && n >= max)
		return -EDQUOT;
	snprintf(cnt, sizeof(cnt), "%ld", n + delta < 0 ? 0 : n + delta);
	keys[0] = (char *)name;
	olds[0] = (char *)old;
	old_lens[0] = old_len;
	vals[0] = (char *)val;
	val_lens[0] = val_len;
	keys[1] = CAT_COUNT_KEY;
	olds[1] = craw;
	old_lens[1] = clen;
	vals[1] = cnt;
	val_lens[1] = strlen(cnt);
	return omap_swap_many(o, oid, 2, keys, olds, old_lens, vals, val_lens, false);
}

int ots_cat_create(struct ots *o, const struct ots_scope *sc, Ots__StoredTable *t, unsigned max_tables)
{
	_cleanup_free_ char *val = NULL;
	char oid[160], rows[64];
	uint8_t rnd[8];
	size_t len;
	int r;

	cat_oid(sc, oid, sizeof(oid));
	if ((r = ecs_random_bytes(rnd, sizeof(rnd))) < 0)
		return r;
	strcpy(rows, "ots.rows.");
	ecs_hex_encode(rnd, sizeof(rnd), rows + strlen(rows));
	/* the catalogue object (omap_cmp needs it), then the rows object */
	if ((r = storage_create_object(o->io, oid, false)) < 0 || (r = storage_create_object(o->io, rows, true)) < 0)
		return r;
	for (size_t i = 0; i < t->table_meta->n_primary_key; i++)
		if (t->table_meta->primary_key[i]->has_option && (r = ots_auto_create(o, rows)) < 0)
			break;
	if (r < 0) {
		rados_remove(o->io, rows);
		return r;
	}
	t->rows_object = rows;
	r = pack(t, &val, &len);
	t->rows_object = NULL;
	/* the entry and the count in one guarded write: the limit holds under concurrent creators */
	if (r == 0) {
		r = -ECANCELED;
		for (int a = 0; r == -ECANCELED && a < CAT_ATTEMPTS; a++) {
			_cleanup_free_ char *cur = NULL;
			size_t cl;

			r = cat_change(o, sc, t->table_meta->table_name, NULL, 0, val, len, 1, max_tables);
			if (r == -ECANCELED && omap_get(o, oid, t->table_meta->table_name, &cur, &cl) == 0)
				r = -EEXIST;
		}
	}
	if (r < 0) {
		char aoid[96];

		auto_oid(rows, aoid, sizeof(aoid));
		rados_remove(o->io, aoid);
		rados_remove(o->io, rows);
	}
	return r;
}

int ots_cat_replace(struct ots *o, const struct ots_scope *sc, const Ots__StoredTable *old,
		    const Ots__StoredTable *t)
{
	_cleanup_free_ char *a = NULL, *b = NULL;
	char oid[160];
	size_t al, bl;
	int r;

	cat_oid(sc, oid, sizeof(oid));
	if ((r = pack(old, &a, &al)) < 0 || (r = pack(t, &b, &bl)) < 0)
		return r;
	return omap_swap(o, oid, t->table_meta->table_name, a, al, b, bl, true);
}

int ots_cat_delete(struct ots *o, const struct ots_scope *sc, const char *name)
{
	Ots__StoredTable *t = NULL;
	int r = -ECANCELED;

	/* the entry as read goes with the count, or the whole is read again */
	for (int a = 0; r == -ECANCELED && a < CAT_ATTEMPTS; a++) {
		_cleanup_free_ char *raw = NULL;
		size_t len;

		if (t)
			ots__stored_table__free_unpacked(t, NULL);
		t = NULL;
		if ((r = cat_read(o, sc, name, &raw, &len, &t)) < 0)
			break;
		r = cat_change(o, sc, name, raw, len, NULL, 0, -1, 0);
	}
	if (r == 0) {
		char aoid[96];
		int rr;

		auto_oid(t->rows_object, aoid, sizeof(aoid));
		rr = rados_remove(o->io, aoid);
		if (rr < 0 && rr != -ENOENT)
			log_warn("a deleted table's counters stay behind", "object=%s error=%s", aoid, strerror(-rr));
		rr = rados_remove(o->io, t->rows_object);
		if (rr < 0 && rr != -ENOENT)
			log_warn("a deleted table's rows stay behind", "object=%s error=%s", t->rows_object,
				 strerror(-rr));
	}
	if (t)
		ots__stored_table__free_unpacked(t, NULL);
	return r;
}

int ots_row_read(struct ots *o, const char *oid, const char *key, char **ret, size_t *ret_len)
{
	return omap_get(o, oid, key, ret, ret_len);
}

int ots_row_scan(struct ots *o, const char *oid, const char *start_after, bool keys_only, ots_scan_fn fn,
		 void *arg)
{
	_cleanup_free_ char *last = strdup(start_after);
	int r = 0;

	if (!last)
		return -ENOMEM;
	for (;;) {
		rados_read_op_t op = rados_create_read_op();
		rados_omap_iter_t it = NULL;
		unsigned char more = 0;
		int prval = 0, stop = 0;
		char *k, *v;
		size_t vl;

		if (!op)
			return -ENOMEM;
		if (keys_only)
			rados_read_op_omap_get_keys2(op, last, OMAP_PAGE, &it, &more, &prval);
		else
			rados_read_op_omap_get_vals2(op, last, "", OMAP_ROWS_PAGE, &it, &more, &prval);
		r = storage_read_op(o->io, op, oid, &prval);
		while (r == 0 && !stop && rados_omap_get_next(it, &k, &v, &vl) == 0 && k) {
			stop = fn(k, v, vl, arg);
			if (!stop) {
				char *nl = strdup(k);

				if (!nl) {
					r = -ENOMEM;
					break;
				}
				free(last);
				last = nl;
			}
		}
		if (it)
			rados_omap_get_end(it);
		rados_release_read_op(op);
		if (stop < 0)
			return stop;
		if (r < 0 || stop || !more)
			return r;
	}
}

int ots_row_read_keys(struct ots *o, const char *oid, char *const *keys, size_t n, ots_scan_fn fn, void *arg)
{
	for (size_t at = 0; at < n; at += OMAP_PAGE) {
		size_t m = n - at < OMAP_PAGE ? n - at : OMAP_PAGE;
		rados_read_op_t op = rados_create_read_op();
		rados_omap_iter_t it = NULL;
		int prval = 0, r, stop = 0;
		char *k, *v;
		size_t vl;

		if (!op)
			return -ENOMEM;
		rados_read_op_omap_get_vals_by_keys(op, (char const *const *)keys + at, m, &it, &prval);
		r = storage_read_op(o->io, op, oid, &prval);
		while (r == 0 && !stop && rados_omap_get_next(it, &k, &v, &vl) == 0 && k)
			stop = fn(k, v, vl, arg);
		if (it)
			rados_omap_get_end(it);
		rados_release_read_op(op);
		if (r < 0)
			return r;
		if (stop)
			return stop < 0 ? stop : 0;
	}
	return 0;
}


int ots_auto_create(struct ots *o, const char *rows_oid)
{
	char oid[96];

	auto_oid(rows_oid, oid, sizeof(oid));
	return storage_create_object(o->io, oid, false);
}

int ots_auto_next(struct ots *o, const char *rows_oid, const char *part, int64_t *ret)
{
	char oid[96];

	auto_oid(rows_oid, oid, sizeof(oid));
	for (int a = 0; a < AUTO_ATTEMPTS; a++) {
		_cleanup_free_ char *old = NULL;
		char nv[24];
		size_t ol = 0;
		long long v = 0;
		int r = omap_get(o, oid, part, &old, &ol);

		if (r < 0 && r != -ENOENT)
			return r;
		if (old) {
			char *end;

			errno = 0;
			v = strtoll(old, &end, 10);
			if (errno || *end || v < 0)
				return -EIO;
			if (v == INT64_MAX)
				return -ERANGE;
		}
		snprintf(nv, sizeof(nv), "%lld", v + 1);
		/* the object exists from the table's creation: gone means the table is */
		r = omap_swap(o, oid, part, old, ol, nv, strlen(nv), true);
		if (r == 0) {
			*ret = v + 1;
			return 0;
		}
		if (r != -ECANCELED)
			return r;
	}
	return -ECANCELED;
}

int ots_cat_index(struct ots *o, const struct ots_scope *sc, const Ots__StoredTable *base_old,
		  const Ots__StoredTable *base_new, const char *name, const Ots__StoredTable *index,
		  unsigned max_tables)
{
	_cleanup_free_ char *bo = NULL, *bn = NULL, *iv = NULL, *cur = NULL, *craw = NULL;
	char oid[160], cnt[24];
	size_t bol, bnl, ivl = 0, curl = 0, clen = 0;
	long n = 0;
	int r;

	cat_oid(sc, oid, sizeof(oid));
	if ((r = pack(base_old, &bo, &bol)) < 0 || (r = pack(base_new, &bn, &bnl)) < 0 ||
	    (index && (r = pack(index, &iv, &ivl)) < 0))
		return r;
	if ((r = cat_count(o, sc, oid, &craw, &clen, &n)) < 0)
		return r;
	r = omap_get(o, oid, name, &cur, &curl);
	if (r < 0 && r != -ENOENT)
		return r;
	if (index && r == 0)
		return -EEXIST;
	if (!index && r == -ENOENT)
		return -ENOENT;
	if (index && n >= (long)max_tables)
		return -EDQUOT;
	snprintf(cnt, sizeof(cnt), "%ld", index ? n + 1 : (n > 0 ? n - 1 : 0));
	{
		struct ots_omap_step st[3] = {
			{ .key = base_old->table_meta->table_name, .cmp = true, .old = bo, .old_len = bol,
			  .act = OTS_OMAP_SET, .val = bn, .val_len = bnl },
			{ .key = name, .cmp = true, .old = cur, .old_len = curl, .act = index ? OTS_OMAP_SET : OTS_OMAP_RM,
			  .val = iv, .val_len = ivl },
			{ .key = CAT_COUNT_KEY, .cmp = true, .old = craw, .old_len = clen, .act = OTS_OMAP_SET,
			  .val = cnt, .val_len = strlen(cnt) },
		};

		return ots_omap_apply(o, oid, st, 3, true);
	}
}

int ots_index_purge(struct ots *o, const char *rows_oid, const char *name)
{
	char prefix[OTS_PB_MAX_NAME + 4];
	size_t pl;
	int r;

	snprintf(prefix, sizeof(prefix), "\xffI%s.", name);
	pl = strlen(prefix);
	for (int round = 0; round < 1 << 20; round++) {
		rados_read_op_t op = rados_create_read_op();
		rados_omap_iter_t it = NULL;
		unsigned char more = 0;
		int prval = 0;
		char *k, *v, *keys[OMAP_PAGE];
		size_t vl, m = 0;

		if (!op)
			return -ENOMEM;
		rados_read_op_omap_get_keys2(op, prefix, OMAP_PAGE, &it, &more, &prval);
		r = storage_read_op(o->io, op, rows_oid, &prval);
		while (r == 0 && m < OMAP_PAGE && rados_omap_get_next(it, &k, &v, &vl) == 0 && k &&
		       strncmp(k, prefix, pl) == 0)
			if (!(keys[m++] = strdup(k)))
				r = -ENOMEM;
		if (it)
			rados_omap_get_end(it);
		rados_release_read_op(op);
		if (r == 0 && m) {
			rados_write_op_t w = rados_create_write_op();

			if (!w) {
				r = -ENOMEM;
			} else {
				rados_write_op_omap_rm_keys(w, (char const *const *)keys, m);
				r = rados_write_op_operate(w, o->io, rows_oid, NULL, 0);
				rados_release_write_op(w);
			}
		}
		for (size_t i = 0; i < m; i++)
			free(keys[i]);
		if (r < 0 || !m)
			return r == -ENOENT ? 0 : r;
	}
	return 0;
}
