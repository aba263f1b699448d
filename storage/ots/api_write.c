/* api_write.c: the writes of PutRow, UpdateRow, DeleteRow and BatchWriteRow. The rows of one
 * table are read in one omap read, each checked against its row-existence condition and
 * merged (row.h), and written in one RADOS operation guarded by omap_cmp on every row read:
 * all of them land or, when another writer changed one, none does and the whole is redone. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api-internal.h"
#include "log.h"
#include "util.h"

#define WRITE_ATTEMPTS 32

/* The row-existence expectation, then the column condition on the row's live cells. */
static int condition_check(struct ots_call *c, const struct ots_write *w, const struct ots_table *t,
			   const struct ots_row *old, bool exists)
{
	const Ots__Condition *cond = w->cond;
	bool pass = true;

	if ((cond->row_existence == OTS__ROW_EXISTENCE_EXPECTATION__REE_EXPECT_EXIST && !exists) ||
	    (cond->row_existence == OTS__ROW_EXISTENCE_EXPECTATION__REE_EXPECT_NOT_EXIST && exists))
		return ots_fail(c, 403, "OTSConditionCheckFail", "Condition check failed.");
	if (w->filter) {
		struct ots_read_spec all = { 0 };
		struct ots_row live = { 0 };

		if (exists && ots_row_select(old, &all, &t->rules, &live) < 0)
			return ots_fail_errno(c, -ENOMEM);
		pass = ots_filter_match(w->filter, exists ? &live : NULL);
		free(live.cols);
	}
	if (!pass)
		return ots_fail(c, 403, "OTSConditionCheckFail", "Condition check failed.");
	return 0;
}

/* Decode and check the row; w->ready when it may be written. Inside a transaction it must
 * be of its partition key; outside, its partition's lock is read with it. */
static void prepare(const struct ots_table *t, struct ots_write *w, const struct ots_txn *x)
{
	struct ots_call *c = &w->rc;
	const char *msg = NULL;
	_cleanup_free_ char *part = NULL;

	if (ots_pk_decode(c, t, w->data, w->kind == OTS_W_PUT ? OTS_KEY_PUT : OTS_KEY_ROW, &w->req, &w->key) < 0)
		return;
	if (x && ots_txn_check_row(c, t, x, &w->req) < 0)
		return;
	if (!w->key && ots_pk_auto_fill(c, t, &w->req, &w->key) < 0)
		return;
	if (x ? !(w->skey = ots_txn_staged_key(x, w->key))
	      : (ots_key_encode(&t->schema, w->req.pk, 1, true, &part) < 0 || !(w->lock_key = ots_txn_lock_key(part)))) {
		ots_fail_errno(c, -ENOMEM);
		return;
	}
	if (w->kind != OTS_W_DELETE && ots_row_check_write(&w->req, w->kind == OTS_W_UPDATE, &msg) < 0)
		ots_invalid(c, "%s", msg);
	else if (w->kind == OTS_W_DELETE && w->req.n_cols)
		ots_invalid(c, "A row to delete must have no attribute columns.");
	else if (w->cond->has_column_condition &&
		 ots_filter_parse(w->cond->column_condition.data, w->cond->column_condition.len, false, &w->filter,
				  &msg) < 0)
		ots_invalid(c, "%s", msg);
	else
		w->ready = true;
}

int ots_pk_auto_fill(struct ots_call *c, const struct ots_table *t, struct ots_row *row, char **ret_key)
{
	_cleanup_free_ char *part = NULL;
	int r;

	if ((r = ots_key_encode(&t->schema, row->pk, 1, true, &part)) < 0)
		return ots_fail_errno(c, r);
	for (size_t i = 1; i < row->n_pk; i++) {
		struct ots_value *v = &row->pk[i].v;

		if (v->type != OTS_VT_AUTO_INCREMENT)
			continue;
		r = ots_auto_next(c->o, t->t->rows_object, part, &v->i);
		if (r == -ERANGE)
			return ots_fail(c, 400, "OTSDataOutOfRange", "The auto-increment column has no value left.");
		if (r < 0)
			return ots_fail_errno(c, r);
		v->type = OTS_VT_INTEGER;
	}
	if ((r = ots_key_encode(&t->schema, row->pk, row->n_pk, true, ret_key)) < 0)
		return ots_fail_errno(c, r);
	return 0;
}

/* Whether a partition's lock (as read) belongs to a live transaction. */
static bool lock_held(const char *v, int64_t now_ms)
{
	char rand[OTS_TXN_RAND_HEX + 1];
	int64_t expiry;
	long rows, bytes;

	return !ots_txn_lock_parse(v, rand, &expiry, &rows, &bytes) || now_ms <= expiry;
}

/* The row after the write, from what was read (w->old): w->nv, or NULL to remove it. */
static int plan(const struct ots_table *t, struct ots_write *w)
{
	struct ots_call *c = &w->rc;
	struct ots_row old = { 0 }, nr;
	struct ecs_buf b = { 0 };
	bool exists = w->old != NULL;
	int r;

	w->write = false;
	if (exists && ots_pb_decode_row(w->old, w->old_len, &old) < 0) {
		log_error("a stored row does not decode", "object=%s", t->t->rows_object);
		return ots_fail_errno(c, -EIO);
	}
	if (w->lock && lock_held(w->lock, c->now_ms)) {
		r = ots_fail(c, 409, "OTSRowOperationConflict", "Data is being modified by the other request.");
		goto out;
	}
	if ((r = condition_check(c, w, t, &old, exists)) < 0)
		goto out;
	if (w->kind == OTS_W_DELETE) {
		w->write = exists;
		goto out;
	}
	r = ots_row_apply(exists ? &old : NULL, &w->req, w->kind == OTS_W_UPDATE, &t->rules, &nr);
	if (r == -EOPNOTSUPP) {
		r = ots_fail(c, 400, "OTSUnsupportOperation", "Increments are not supported yet.");
		goto out;
	}
	if (r < 0) {
		r = ots_fail_errno(c, r);
		goto out;
	}
	nr.pk = w->req.pk;
	nr.n_pk = w->req.n_pk;
	/* an update that leaves no attribute removes the row */
	if (w->kind == OTS_W_PUT || nr.n_cols) {
		r = ots_pb_put_header(&b, OTS_ROW_MAX);
		if (r == 0)
			r = ots_pb_put_row(&b, &nr, OTS_ROW_MAX);
	}
	free(nr.cols);
	if (r == -EFBIG)
		r = ots_invalid(c, "The row size exceeds the limit of 4 MB.");
	else if (r < 0)
		r = ots_fail_errno(c, r);
	if (r < 0) {
		ecs_buf_free(&b);
		goto out;
	}
	w->nv_len = b.len;
	w->nv = b.len ? ecs_buf_steal(&b) : NULL;
	w->write = exists || w->nv;
out:
	ots_row_clear(&old);
	return r;
}

struct found {
	struct ots_write *w;
	size_t n;
	int error;
};

static int found_fn(const char *key, const char *val, size_t len, void *arg)
{
	struct found *f = arg;

	for (size_t i = 0; i < f->n; i++) {
		struct ots_write *w = &f->w[i];

		char **dst = NULL;
		size_t *dlen = NULL;

		if (!w->ready)
			continue;
		if (streq(w->key, key) && !w->old) {
			dst = &w->old;
			dlen = &w->old_len;
		} else if (w->lock_key && streq(w->lock_key, key) && !w->lock) {
			dst = &w->lock;
			dlen = &w->lock_len;
		} else if (w->skey && streq(w->skey, key) && !w->sold) {
			dst = &w->sold;
			dlen = &w->sold_len;
		}
		if (dst) {
			if (!(*dst = malloc(len + 1)))
				return -ENOMEM;
			memcpy(*dst, val, len);
			(*dst)[len] = '\0';
			*dlen = len;
		}
	}
	return 0;
}

/* Inside a transaction a row reads as the transaction left it ('P' + row, 'D' deleted). */
static int staged_view(struct ots_write *w)
{
	if (!w->sold)
		return 0;
	free(w->old);
	w->old = NULL;
	w->old_len = 0;
	if (w->sold_len < 1 || w->sold[0] != 'P')
		return 0;
	if (!(w->old = malloc(w->sold_len)))
		return -ENOMEM;
	memcpy(w->old, w->sold + 1, w->sold_len - 1);
	w->old_len = w->sold_len - 1;
	return 0;
}

/* A write's steps inside transaction x: the rows staged ('P' + row or 'D') under their
 * staged keys, the lock moved on with the transaction's new counts, within its limits. */
static int txn_steps(struct ots_call *c, struct ots_txn *x, struct ots_write *w, size_t n, struct ots_omap_step *st,
		     size_t *m, char **ret_lock)
{
	long rows = x->n_rows, bytes = x->n_bytes;
	char rand[OTS_TXN_RAND_HEX + 1];
	int64_t expiry;
	long r0, b0;

	for (size_t i = 0; i < n; i++) {
		char *v;

		if (!w[i].ready || w[i].rc.code || !w[i].write)
			continue;
		if (!(v = malloc(w[i].nv_len + 1)))
			return ots_fail_errno(c, -ENOMEM);
		v[0] = w[i].nv ? 'P' : 'D';
		if (w[i].nv)
			memcpy(v + 1, w[i].nv, w[i].nv_len);
		free(w[i].nv);
		w[i].nv = v;
		w[i].nv_len = w[i].nv_len + 1;
		rows += w[i].sold ? 0 : 1;
		bytes += (long)w[i].nv_len - (long)w[i].sold_len;
		st[(*m)++] = (struct ots_omap_step){ .key = w[i].skey, .cmp = true, .old = w[i].sold,
						     .old_len = w[i].sold_len, .act = OTS_OMAP_SET, .val = w[i].nv,
						     .val_len = w[i].nv_len };
	}
	if (rows > OTS_TXN_ROWS_MAX || bytes > (long)OTS_TXN_BYTES_MAX)
		return ots_invalid(c, "A transaction writes at most %d rows and 4 MB.", OTS_TXN_ROWS_MAX);
	if (!ots_txn_lock_parse(x->lock, rand, &expiry, &r0, &b0) ||
	    !(*ret_lock = ots_txn_lock_format(x->rand, expiry, rows, bytes)))
		return ots_fail_errno(c, -ENOMEM);
	st[(*m)++] = (struct ots_omap_step){ .key = x->lock_key, .cmp = true, .old = x->lock, .old_len = x->lock_len,
					     .act = OTS_OMAP_SET, .val = *ret_lock, .val_len = strlen(*ret_lock) };
	return 0;
}

/* One attempt: read, plan, write. -ECANCELED to go again. */
static int attempt(struct ots_call *c, const struct ots_table *t, struct ots_write *w, size_t n, struct ots_txn *x)
{
	_cleanup_free_ char **keys = calloc(2 * n, sizeof(char *)), *lock = NULL;
	_cleanup_free_ struct ots_omap_step *st = calloc(2 * n + 1, sizeof(*st));
	struct found f = { .w = w, .n = n };
	size_t m = 0;
	int r;

	if (!keys || !st)
		return ots_fail_errno(c, -ENOMEM);
	for (size_t i = 0; i < n; i++) {
		free(w[i].old);
		free(w[i].nv);
		free(w[i].lock);
		free(w[i].sold);
		w[i].old = w[i].nv = w[i].lock = w[i].sold = NULL;
		w[i].old_len = w[i].nv_len = w[i].lock_len = w[i].sold_len = 0;
		if (w[i].ready) {
			w[i].rc.code = NULL;
			keys[m++] = w[i].key;
			keys[m++] = x ? w[i].skey : w[i].lock_key;
		}
	}
	if (!m)
		return 0;
	r = ots_row_read_keys(c->o, t->t->rows_object, keys, m, found_fn, &f);
	if (r < 0)
		return ots_fail_errno(c, r);
	m = 0;
	for (size_t i = 0; i < n; i++) {
		if (!w[i].ready)
			continue;
		if (x && staged_view(&w[i]) < 0)
			return ots_fail_errno(c, -ENOMEM);
		if (plan(t, &w[i]) < 0 || !w[i].write || x)
			continue;
		st[m++] = (struct ots_omap_step){ .key = w[i].key, .cmp = true, .old = w[i].old, .old_len = w[i].old_len,
						  .act = w[i].nv ? OTS_OMAP_SET : OTS_OMAP_RM, .val = w[i].nv,
						  .val_len = w[i].nv_len };
		/* the partition not taken by a transaction meanwhile */
		st[m++] = (struct ots_omap_step){ .key = w[i].lock_key, .cmp = true, .old = w[i].lock,
						  .old_len = w[i].lock_len };
	}
	if (x && (r = txn_steps(c, x, w, n, st, &m, &lock)) < 0)
		return r;
	if (!m || (x && m == 1))
		return 0;
	r = ots_omap_apply(c->o, t->t->rows_object, st, m, true);
	if (r == -ECANCELED)
		return r;
	if (r < 0)
		return ots_fail_errno(c, r);
	if (x) {
		free(x->lock);
		x->lock = lock;
		x->lock_len = strlen(lock);
		lock = NULL;
	}
	return 0;
}

int ots_write_rows(struct ots_call *c, const struct ots_table *t, struct ots_write *w, size_t n, struct ots_txn *x)
{
	int r = 0;

	for (size_t i = 0; i < n; i++) {
		w[i].rc = (struct ots_call){ .o = c->o, .scope = c->scope, .now_ms = c->now_ms };
		prepare(t, &w[i], x);
	}
	for (int a = 0; a < WRITE_ATTEMPTS; a++) {
		if ((r = attempt(c, t, w, n, x)) != -ECANCELED)
			break;
		/* inside a transaction: another of its requests moved the lock on */
		if (x && (r = ots_txn_reload(c, x)) < 0)
			break;
		r = -ECANCELED;
	}
	if (r == -ECANCELED)
		r = ots_fail_errno(c, r);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		const Ots__ReturnContent *rc = w[i].ret;
		struct ots_row pk = { .pk = w[i].req.pk, .n_pk = w[i].req.n_pk };

		if (w[i].rc.code || !rc || !rc->has_return_type || rc->return_type != OTS__RETURN_TYPE__RT_PK)
			continue;
		if ((r = ots_pb_put_header(&w[i].pk_row, SIZE_MAX)) < 0 ||
		    (r = ots_pb_put_row(&w[i].pk_row, &pk, SIZE_MAX)) < 0)
			return ots_fail_errno(c, r);
	}
	return 0;
}

void ots_write_clear(struct ots_write *w)
{
	ots_row_clear(&w->req);
	free(w->key);
	free(w->old);
	free(w->nv);
	ecs_buf_free(&w->pk_row);
	ots_filter_free(w->filter);
	free(w->lock_key);
	free(w->lock);
	free(w->skey);
	free(w->sold);
	w->filter = NULL;
	w->lock_key = w->lock = w->skey = w->sold = NULL;
	w->key = w->old = w->nv = NULL;
}
