/* api_range.c: GetRange. Forward, it walks the omap from the start key and stops at the end
 * key, the limit, 5,000 rows or 4 MB, answering the next row's key as
 * next_start_primary_key. Backward (omap reads only forward), it walks the keys alone from
 * the end bound up to the start key keeping the last limit + 1, then reads those rows and
 * answers them newest first. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api-internal.h"
#include "log.h"
#include "util.h"

struct range {
	struct ots_call *c;
	const struct ots_table *t;
	const struct ots_read_spec *spec;
	const char *stop;   /* forward: keys < stop; backward: keys <= stop */
	const char *lo;     /* forward: keys >= lo */
	bool backward;
	size_t limit;
	struct ecs_buf rows; /* the answer's rows, after a header */
	size_t n_rows;
	size_t scanned; /* rows looked at, answered or filtered out */
	struct ecs_buf next; /* next_start_primary_key */
	/* backward: the last limit + 1 keys seen, a ring */
	char **ring;
	size_t ring_n, ring_at;
	int error;
	/* inside a transaction: its staged rows, merged in key order (at: the next one) */
	const struct ots_staged *st;
	size_t st_at;
};

/* The staged row of key, if any: *ret_val NULL for one deleted in the transaction. */
static bool staged_find(const struct range *g, const char *key, const char **ret_val, size_t *ret_len)
{
	for (size_t i = 0; g->st && i < g->st->n; i++)
		if (streq(g->st->keys[i] + g->st->prefix_len, key)) {
			bool put = g->st->lens[i] > 0 && g->st->vals[i][0] == 'P';

			*ret_val = put ? g->st->vals[i] + 1 : NULL;
			*ret_len = put ? g->st->lens[i] - 1 : 0;
			return true;
		}
	return false;
}

/* next_start_primary_key: the key of a stored row. */
static int set_next(struct range *g, const struct ots_row *stored)
{
	struct ots_row pk = { .pk = stored->pk, .n_pk = stored->n_pk };
	int r;

	ecs_buf_free(&g->next);
	if ((r = ots_pb_put_header(&g->next, SIZE_MAX)) < 0 || (r = ots_pb_put_row(&g->next, &pk, SIZE_MAX)) < 0)
		return r;
	return 1;
}

/* Add one stored row to the answer, or make it the next start when the answer is full (or
 * next says so): 1 to stop, 0 to go on, negative on error. A filter may leave rows out, so
 * at most OTS_RANGE_ROWS_MAX rows are looked at whatever the answer holds. */
static int take(struct range *g, const char *val, size_t len, bool next)
{
	struct ots_row stored;
	bool empty;
	int r;

	if ((r = ots_pb_decode_row(val, len, &stored)) < 0) {
		log_error("a stored row does not decode", "object=%s", g->t->t->rows_object);
		return -EIO;
	}
	if (next || g->n_rows >= g->limit || g->scanned++ >= OTS_RANGE_ROWS_MAX ||
	    g->rows.len >= OTS_RANGE_BYTES_MAX) {
		r = set_next(g, &stored);
		goto out;
	}
	r = ots_row_encode_selected(&stored, g->spec, &g->t->rules, &g->rows, SIZE_MAX, &empty);
	if (r == 0 && !empty)
		g->n_rows++;
out:
	ots_row_clear(&stored);
	return r;
}

static int staged_merge(struct range *g, const char *key);

static int forward_fn(const char *key, const char *val, size_t len, void *arg)
{
	struct range *g = arg;
	const char *sv;
	size_t sl;
	int r;

	if (strcmp(key, g->stop) >= 0)
		return 1;
	if ((r = staged_merge(g, key)) != 0)
		return r;
	if (staged_find(g, key, &sv, &sl))
		return sv ? take(g, sv, sl, false) : 0;
	return take(g, val, len, false);
}

static int ring_push(struct range *g, const char *key)
{
	size_t cap = g->limit + 1;
	char *k;

	if (!(k = strdup(key)))
		return -ENOMEM;
	if (g->ring_n < cap) {
		g->ring[g->ring_n++] = k;
	} else {
		free(g->ring[g->ring_at]);
		g->ring[g->ring_at] = k;
		g->ring_at = (g->ring_at + 1) % cap;
	}
	return 0;
}

/* A transaction's staged rows in order between the bounds and before key (NULL: up to the
 * stop bound): forward, into the answer; backward, into the ring. Deleted ones are left out. */
static int staged_merge(struct range *g, const char *key)
{
	int r = 0;

	for (; r == 0 && g->st && g->st_at < g->st->n; g->st_at++) {
		const char *k = g->st->keys[g->st_at] + g->st->prefix_len, *v = g->st->vals[g->st_at];
		int lo = strcmp(k, g->lo), hi = strcmp(k, g->stop);
		size_t len = g->st->lens[g->st_at];

		if (lo < 0 || (g->backward && lo == 0))
			continue;
		if (hi > 0 || (!g->backward && hi == 0) || (key && strcmp(k, key) >= 0))
			break;
		if (len > 0 && v[0] == 'P')
			r = g->backward ? ring_push(g, k) : take(g, v + 1, len - 1, false);
	}
	return r;
}

static int backward_keys_fn(const char *key, const char *val, size_t len, void *arg)
{
	struct range *g = arg;
	const char *sv;
	size_t sl;
	int r;

	(void)val;
	(void)len;
	if (strcmp(key, g->stop) > 0)
		return 1;
	if ((r = staged_merge(g, key)) < 0)
		return r;
	if (staged_find(g, key, &sv, &sl) && !sv)
		return 0; /* deleted in the transaction */
	return ring_push(g, key);
}

struct window {
	char **vals;
	size_t *lens;
	char *const *keys;
	size_t n, at;
};

static int window_fn(const char *key, const char *val, size_t len, void *arg)
{
	struct window *w = arg;

	while (w->at < w->n && strcmp(w->keys[w->at], key) < 0)
		w->at++;
	if (w->at < w->n && strcmp(w->keys[w->at], key) == 0) {
		if (!(w->vals[w->at] = malloc(len ? len : 1)))
			return -ENOMEM;
		memcpy(w->vals[w->at], val, len);
		w->lens[w->at] = len;
	}
	return 0;
}

/* Rows of the window read this many at a time, newest first, so an answer that fills early
 * reads little and memory stays bounded. */
#define WINDOW_CHUNK 32

static void window_clear(struct window *w)
{
	for (size_t i = 0; i < w->n; i++) {
		free(w->vals[i]);
		w->vals[i] = NULL;
	}
	w->at = 0;
}

static int backward(struct range *g, const char *start_after)
{
	size_t cap = g->limit + 1, n;
	_cleanup_free_ char **keys = NULL;
	char *vals[WINDOW_CHUNK] = { 0 };
	size_t lens[WINDOW_CHUNK];
	struct window w = { .vals = vals, .lens = lens };
	int r = 0;

	if (!(g->ring = calloc(cap, sizeof(*g->ring))))
		return -ENOMEM;
	if ((r = ots_row_scan(g->c->o, g->t->t->rows_object, start_after, true, backward_keys_fn, g)) < 0 ||
	    (r = staged_merge(g, NULL)) < 0)
		return r;
	n = g->ring_n;
	if (!n)
		return 0;
	/* the ring in key order */
	if (!(keys = calloc(n, sizeof(*keys))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		keys[i] = g->ring[(g->ring_at + i) % n];
	/* newest first; the row before a full window is the next start */
	for (size_t end = n; end > 0 && r == 0;) {
		size_t m = end < WINDOW_CHUNK ? end : WINDOW_CHUNK;

		end -= m;
		w.keys = keys + end;
		w.n = m;
		r = ots_row_read_keys(g->c->o, g->t->t->rows_object, w.keys, m, window_fn, &w);
		for (size_t i = 0; r == 0 && g->st && i < m; i++) {
			const char *sv;
			size_t sl;

			if (!staged_find(g, w.keys[i], &sv, &sl) || !sv)
				continue;
			free(vals[i]);
			if (!(vals[i] = malloc(sl ? sl : 1)))
				r = -ENOMEM;
			else
				memcpy(vals[i], sv, sl);
			lens[i] = sl;
		}
		for (size_t i = m; r == 0 && i-- > 0;)
			if (vals[i]) /* else deleted since the walk */
				/* a full window's first row is the next start even when filters left
				 * the answer short */
				r = take(g, vals[i], lens[i], n == cap && end == 0 && i == 0);
		window_clear(&w);
	}
	return r > 0 ? 0 : r;
}

int ots_op_get_range(struct ots_call *c)
{
	Ots__GetRangeRequest *q = ots__get_range_request__unpack(NULL, c->body_len, c->body);
	Ots__GetRangeResponse resp = OTS__GET_RANGE_RESPONSE__INIT;
	Ots__ConsumedCapacity cc;
	Ots__CapacityUnit cu;
	struct ots_table t = { 0 };
	struct ots_read_spec spec = { 0 };
	struct ots_row start = { 0 }, end = { 0 };
	_cleanup_free_ char *sk = NULL, *ek = NULL, *lo = NULL, *hi = NULL;
	struct range g = { .c = c };
	struct ots_txn x = { 0 };
	struct ots_staged staged = { 0 };
	int r;

	if (!q)
		return ots_invalid(c, "Failed to parse the request.");
	if ((r = ots_read_refuse_unbuilt(c, q->has_token, q->start_column, q->end_column, NULL)) < 0)
		goto out;
	if (q->has_limit && q->limit <= 0) {
		r = ots_invalid(c, "The limit must be positive.");
		goto out;
	}
	if ((r = ots_table_open(c, q->table_name, &t)) < 0 ||
	    (r = ots_read_spec_make(c, q->columns_to_get, q->n_columns_to_get, q->time_range, q->has_max_versions,
				    q->max_versions, q->has_filter ? &q->filter : NULL, &spec)) < 0 ||
	    (r = ots_pk_decode(c, &t, &q->inclusive_start_primary_key, OTS_KEY_BOUND, &start, &sk)) < 0 ||
	    (r = ots_pk_decode(c, &t, &q->exclusive_end_primary_key, OTS_KEY_BOUND, &end, &ek)) < 0)
		goto out;
	/* inside a transaction: both bounds in its partition, its own writes merged in */
	if (q->transaction_id &&
	    ((r = ots_txn_open(c, q->transaction_id, &t, &x)) < 0 || (r = ots_txn_check_row(c, &t, &x, &start)) < 0 ||
	     (r = ots_txn_check_row(c, &t, &x, &end)) < 0 || (r = ots_txn_staged(c, &x, &staged)) < 0))
		goto out;
	if (q->transaction_id)
		g.st = &staged;
	g.backward = q->direction == OTS__DIRECTION__DIR_BACKWARD;
	g.t = &t;
	g.spec = &spec;
	g.limit = q->has_limit && (size_t)q->limit < OTS_RANGE_ROWS_MAX ? (size_t)q->limit : OTS_RANGE_ROWS_MAX;
	/* sk, ek carry the row end marker; the bounds without it (see key.h) */
	if ((r = ots_key_encode(&t.schema, start.pk, start.n_pk, false, &lo)) < 0 ||
	    (r = ots_key_encode(&t.schema, end.pk, end.n_pk, false, &hi)) < 0) {
		r = ots_fail_errno(c, r);
		goto out;
	}
	if (g.backward ? strcmp(lo, hi) <= 0 : strcmp(lo, hi) >= 0) {
		r = ots_invalid(c, g.backward ? "The start primary key must be greater than the end primary key."
					      : "The start primary key must be less than the end primary key.");
		goto out;
	}
	if ((r = ots_pb_put_header(&g.rows, SIZE_MAX)) < 0) {
		r = ots_fail_errno(c, r);
		goto out;
	}
	if (g.backward) {
		g.stop = sk;
		g.lo = ek;
		r = backward(&g, ek);
	} else {
		g.stop = hi;
		g.lo = lo;
		r = ots_row_scan(c->o, t.t->rows_object, lo, false, forward_fn, &g);
		if (r >= 0 && !g.next.len)
			r = staged_merge(&g, NULL);
		if (r > 0)
			r = 0;
	}
	if (r == -ENOENT)
		r = 0; /* the rows object goes with its table only */
	if (r < 0) {
		r = ots_fail_errno(c, r);
		goto out;
	}
	ots_consumed(&cc, &cu, (int)(g.n_rows ? g.n_rows : 1), 0);
	resp.consumed = &cc;
	resp.rows.data = (uint8_t *)(g.n_rows ? g.rows.data : "");
	resp.rows.len = g.n_rows ? g.rows.len : 0;
	if (g.next.len) {
		resp.has_next_start_primary_key = 1;
		resp.next_start_primary_key.data = (uint8_t *)g.next.data;
		resp.next_start_primary_key.len = g.next.len;
	}
	r = ots_reply(c, &resp.base);
out:
	for (size_t i = 0; g.ring && i < g.ring_n; i++)
		free(g.ring[i]);
	free(g.ring);
	ecs_buf_free(&g.rows);
	ecs_buf_free(&g.next);
	ots_row_clear(&start);
	ots_row_clear(&end);
	ots_read_spec_clear(&spec);
	ots_staged_free(&staged);
	ots_txn_clear(&x);
	ots_table_close(&t);
	ots__get_range_request__free_unpacked(q, NULL);
	return r;
}
