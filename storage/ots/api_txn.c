/* api_txn.c: StartLocalTransaction, CommitTransaction, AbortTransaction, and the checks every
 * request carrying a transaction_id goes through (txn.h says where a transaction lives). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api-internal.h"
#include "crypto.h"
#include "log.h"
#include "util.h"

#define TXN_ATTEMPTS 32

char *ots_txn_lock_key(const char *part)
{
	char *k = NULL;

	return asprintf(&k, "\xffL%s", part) < 0 ? NULL : k;
}

char *ots_txn_staged_key(const struct ots_txn *x, const char *key)
{
	char *k = NULL;

	return asprintf(&k, "\xffS%s.%s", x->rand, key) < 0 ? NULL : k;
}

static char *record_key(const char *rand)
{
	char *k = NULL;

	return asprintf(&k, "\xffX%s", rand) < 0 ? NULL : k;
}

char *ots_txn_lock_format(const char *rand, int64_t expiry_ms, long rows, long bytes)
{
	char *v = NULL;

	return asprintf(&v, "%s %" PRId64 " %ld %ld", rand, expiry_ms, rows, bytes) < 0 ? NULL : v;
}

bool ots_txn_lock_parse(const char *v, char rand[OTS_TXN_RAND_HEX + 1], int64_t *expiry_ms, long *rows, long *bytes)
{
	char r[OTS_TXN_RAND_HEX + 2];
	long long e;
	int used = 0;

	if (sscanf(v, "%33s %lld %ld %ld%n", r, &e, rows, bytes, &used) != 4 || v[used] ||
	    strlen(r) != OTS_TXN_RAND_HEX)
		return false;
	memcpy(rand, r, OTS_TXN_RAND_HEX + 1);
	*expiry_ms = e;
	return true;
}

void ots_txn_clear(struct ots_txn *x)
{
	free(x->part);
	free(x->lock_key);
	free(x->lock);
	x->part = x->lock_key = x->lock = NULL;
}

static int no_session(struct ots_call *c)
{
	return ots_fail(c, 404, "OTSSessionNotExist", "Session does not exist.");
}

static int timed_out(struct ots_call *c)
{
	return ots_fail(c, 400, "OTSSessionTimeout", "Session timed out.");
}

/* Whether the lock as stored is this transaction's and alive: fills x's counts. */
static int lock_check(struct ots_call *c, struct ots_txn *x, const char *v)
{
	char rand[OTS_TXN_RAND_HEX + 1];
	int64_t expiry;

	if (!v || !ots_txn_lock_parse(v, rand, &expiry, &x->n_rows, &x->n_bytes) || !streq(rand, x->rand) ||
	    c->now_ms > expiry)
		return timed_out(c);
	return 0;
}

int ots_txn_reload(struct ots_call *c, struct ots_txn *x)
{
	_cleanup_free_ char *v = NULL;
	size_t len;
	int r = ots_omap_get(c->o, x->rows_oid, x->lock_key, &v, &len);

	if (r < 0 && r != -ENOENT)
		return ots_fail_errno(c, r);
	if ((r = lock_check(c, x, r == 0 ? v : NULL)) < 0)
		return r;
	free(x->lock);
	x->lock = v;
	x->lock_len = len;
	v = NULL;
	return 0;
}

int ots_txn_open(struct ots_call *c, const char *id, const struct ots_table *t, struct ots_txn *x)
{
	_cleanup_free_ char *rkey = NULL, *rec = NULL;
	char want[2 * OTS_ACCOUNT_MAX + 8];
	size_t len, wl;
	int r;

	*x = (struct ots_txn){ 0 };
	if (!id || strlen(id) != OTS_TXN_ID_LEN || strspn(id, "0123456789abcdef") != OTS_TXN_ID_LEN)
		return no_session(c);
	snprintf(x->rows_oid, sizeof(x->rows_oid), "ots.rows.%.16s", id);
	memcpy(x->rand, id + 16, OTS_TXN_RAND_HEX + 1);
	if (t && !streq(t->t->rows_object, x->rows_oid))
		return no_session(c);
	if (!(rkey = record_key(x->rand)))
		return ots_fail_errno(c, -ENOMEM);
	r = ots_omap_get(c->o, x->rows_oid, rkey, &rec, &len);
	if (r == -ENOENT)
		return no_session(c);
	if (r < 0)
		return ots_fail_errno(c, r);
	/* the caller's own: account and instance, then the partition key */
	wl = (size_t)snprintf(want, sizeof(want), "%s\n%s\n", c->scope.account, c->scope.instance);
	if (len < wl || memcmp(rec, want, wl) != 0)
		return no_session(c);
	if (!(x->part = strdup(rec + wl)) || !(x->lock_key = ots_txn_lock_key(x->part)))
		return ots_fail_errno(c, -ENOMEM);
	for (int a = 0; a < TXN_ATTEMPTS; a++) {
		_cleanup_free_ char *nv = NULL;
		struct ots_omap_step st;

		if ((r = ots_txn_reload(c, x)) < 0)
			return r;
		nv = ots_txn_lock_format(x->rand, c->now_ms + (int64_t)c->o->txn_idle_s * 1000, x->n_rows, x->n_bytes);
		if (!nv)
			return ots_fail_errno(c, -ENOMEM);
		st = (struct ots_omap_step){ .key = x->lock_key, .cmp = true, .old = x->lock, .old_len = x->lock_len,
					     .act = OTS_OMAP_SET, .val = nv, .val_len = strlen(nv) };
		r = ots_omap_apply(c->o, x->rows_oid, &st, 1, true);
		if (r == 0) {
			free(x->lock);
			x->lock_len = strlen(nv);
			x->lock = nv;
			nv = NULL;
			return 0;
		}
		if (r == -ENOENT)
			return no_session(c);
		if (r != -ECANCELED)
			return ots_fail_errno(c, r);
	}
	return ots_fail_errno(c, -ECANCELED);
}

int ots_txn_check_row(struct ots_call *c, const struct ots_table *t, const struct ots_txn *x, const struct ots_row *row)
{
	_cleanup_free_ char *part = NULL;
	int r = ots_key_encode(&t->schema, row->pk, 1, true, &part);

	if (r < 0)
		return ots_fail_errno(c, r);
	if (!streq(part, x->part))
		return ots_fail(c, 400, "OTSDataOutOfRange", "Data out of scope of transaction.");
	return 0;
}

/* ---- the staged rows of a transaction */

static int staged_fn(const char *key, const char *val, size_t len, void *arg)
{
	struct ots_staged *s = arg;
	char **k, **v;
	size_t *l;

	if (strncmp(key, s->prefix, s->prefix_len) != 0)
		return 1;
	if (s->n >= OTS_TXN_ROWS_MAX)
		return -EFBIG;
	k = reallocarray(s->keys, s->n + 1, sizeof(*k));
	if (k)
		s->keys = k;
	v = reallocarray(s->vals, s->n + 1, sizeof(*v));
	if (v)
		s->vals = v;
	l = reallocarray(s->lens, s->n + 1, sizeof(*l));
	if (l)
		s->lens = l;
	if (!k || !v || !l || !(s->keys[s->n] = strdup(key)))
		return -ENOMEM;
	if (!(s->vals[s->n] = malloc(len ? len : 1))) {
		free(s->keys[s->n]);
		return -ENOMEM;
	}
	memcpy(s->vals[s->n], val, len);
	s->lens[s->n++] = len;
	return 0;
}

void ots_staged_free(struct ots_staged *s)
{
	ecs_strv_free(s->keys, s->n);
	ecs_strv_free(s->vals, s->n);
	free(s->lens);
	*s = (struct ots_staged){ 0 };
}

static int staged_read(struct ots *o, const char *oid, const char *rand, struct ots_staged *ret)
{
	*ret = (struct ots_staged){ 0 };
	snprintf(ret->prefix, sizeof(ret->prefix), "\xffS%s.", rand);
	ret->prefix_len = strlen(ret->prefix);
	return ots_row_scan(o, oid, ret->prefix, false, staged_fn, ret);
}

int ots_txn_staged(struct ots_call *c, const struct ots_txn *x, struct ots_staged *ret)
{
	int r = staged_read(c->o, x->rows_oid, x->rand, ret);

	return r < 0 ? ots_fail_errno(c, r) : 0;
}

/* Ends transaction x: its lock, record and staged rows go in one operation guarded by the
 * lock; commit moves the staged rows into place first. */
static int finish(struct ots_call *c, struct ots_txn *x, bool commit)
{
	_cleanup_free_ char *rkey = record_key(x->rand);
	_cleanup_free_ struct ots_omap_step *st = NULL;
	struct ots_staged s;
	size_t n = 0;
	int r;

	if (!rkey)
		return -ENOMEM;
	if ((r = staged_read(c->o, x->rows_oid, x->rand, &s)) < 0) {
		ots_staged_free(&s);
		return r;
	}
	if (!(st = calloc(2 + 2 * s.n, sizeof(*st)))) {
		ots_staged_free(&s);
		return -ENOMEM;
	}
	st[n++] = (struct ots_omap_step){ .key = x->lock_key, .cmp = true, .old = x->lock, .old_len = x->lock_len,
					  .act = OTS_OMAP_RM };
	st[n++] = (struct ots_omap_step){ .key = rkey, .act = OTS_OMAP_RM };
	for (size_t i = 0; i < s.n; i++) {
		const char *row = s.keys[i] + s.prefix_len;
		bool put = s.lens[i] > 0 && s.vals[i][0] == 'P';

		st[n++] = (struct ots_omap_step){ .key = s.keys[i], .act = OTS_OMAP_RM };
		if (commit)
			st[n++] = (struct ots_omap_step){ .key = row, .act = put ? OTS_OMAP_SET : OTS_OMAP_RM,
							  .val = put ? s.vals[i] + 1 : NULL,
							  .val_len = put ? s.lens[i] - 1 : 0 };
	}
	r = ots_omap_apply(c->o, x->rows_oid, st, n, true);
	ots_staged_free(&s);
	return r;
}

/* What an expired transaction left behind, removed by the one taking its partition. */
static void purge(struct ots *o, const char *oid, const char *rand)
{
	_cleanup_free_ struct ots_omap_step *st = NULL;
	struct ots_staged s;
	int r = staged_read(o, oid, rand, &s);

	if (r == 0 && s.n && (st = calloc(s.n, sizeof(*st)))) {
		for (size_t i = 0; i < s.n; i++)
			st[i] = (struct ots_omap_step){ .key = s.keys[i], .act = OTS_OMAP_RM };
		r = ots_omap_apply(o, oid, st, s.n, true);
	}
	if (r < 0)
		log_warn("an expired transaction's rows stay behind", "object=%s error=%s", oid, strerror(-r));
	ots_staged_free(&s);
}

/* ---- operations */

/* The partition key of a StartLocalTransaction: the first key column alone. */
static int part_decode(struct ots_call *c, const struct ots_table *t, const ProtobufCBinaryData *b, char **ret)
{
	struct ots_schema s1 = t->schema;
	struct ots_row row = { 0 };
	const char *msg = NULL;
	int r = ots_pb_decode_row(b->data, b->len, &row);

	s1.n = 1;
	if (r == -ENOMEM)
		return ots_fail_errno(c, r);
	if (r < 0)
		return ots_invalid(c, "Invalid PlainBuffer in the partition key.");
	if (ots_key_check(&s1, row.pk, row.n_pk, OTS_KEY_ROW, &msg) < 0)
		r = ots_invalid(c, "%s", msg);
	else if ((r = ots_key_encode(&s1, row.pk, 1, true, ret)) < 0)
		r = ots_fail_errno(c, r);
	ots_row_clear(&row);
	return r;
}

static int start(struct ots_call *c, const struct ots_table *t, const char *part, char *ret_id)
{
	_cleanup_free_ char *lkey = ots_txn_lock_key(part), *rkey = NULL, *rec = NULL, *lock = NULL;
	char rand[OTS_TXN_RAND_HEX + 1];
	uint8_t rnd[OTS_TXN_RAND_HEX / 2];
	int r;

	if (!lkey || (r = ecs_random_bytes(rnd, sizeof(rnd))) < 0)
		return ots_fail_errno(c, -ENOMEM);
	ecs_hex_encode(rnd, sizeof(rnd), rand);
	rand[OTS_TXN_RAND_HEX] = '\0';
	if (!(rkey = record_key(rand)) ||
	    asprintf(&rec, "%s\n%s\n%s", c->scope.account, c->scope.instance, part) < 0 ||
	    !(lock = ots_txn_lock_format(rand, c->now_ms + (int64_t)c->o->txn_idle_s * 1000, 0, 0)))
		return ots_fail_errno(c, -ENOMEM);
	for (int a = 0; a < TXN_ATTEMPTS; a++) {
		_cleanup_free_ char *old = NULL, *okey = NULL;
		char orand[OTS_TXN_RAND_HEX + 1] = "";
		struct ots_omap_step st[3];
		int64_t expiry = 0;
		long rows, bytes;
		size_t ol = 0, n = 0;

		r = ots_omap_get(c->o, t->t->rows_object, lkey, &old, &ol);
		if (r < 0 && r != -ENOENT)
			return ots_fail_errno(c, r);
		if (old && ots_txn_lock_parse(old, orand, &expiry, &rows, &bytes) && c->now_ms <= expiry)
			return ots_fail(c, 409, "OTSRowOperationConflict",
					"Data is being modified by the other request.");
		st[n++] = (struct ots_omap_step){ .key = lkey, .cmp = true, .old = old, .old_len = ol,
						  .act = OTS_OMAP_SET, .val = lock, .val_len = strlen(lock) };
		st[n++] = (struct ots_omap_step){ .key = rkey, .act = OTS_OMAP_SET, .val = rec, .val_len = strlen(rec) };
		if (orand[0] && (okey = record_key(orand)))
			st[n++] = (struct ots_omap_step){ .key = okey, .act = OTS_OMAP_RM };
		r = ots_omap_apply(c->o, t->t->rows_object, st, n, true);
		if (r == -ECANCELED)
			continue;
		if (r < 0)
			return ots_fail_errno(c, r);
		if (orand[0])
			purge(c->o, t->t->rows_object, orand);
		snprintf(ret_id, OTS_TXN_ID_LEN + 1, "%s%s", t->t->rows_object + strlen("ots.rows."), rand);
		return 0;
	}
	return ots_fail_errno(c, -ECANCELED);
}

int ots_op_start_local_transaction(struct ots_call *c)
{
	Ots__StartLocalTransactionRequest *q = ots__start_local_transaction_request__unpack(NULL, c->body_len, c->body);
	Ots__StartLocalTransactionResponse resp = OTS__START_LOCAL_TRANSACTION_RESPONSE__INIT;
	struct ots_table t = { 0 };
	_cleanup_free_ char *part = NULL;
	char id[OTS_TXN_ID_LEN + 1];
	int r;

	if (!q)
		return ots_invalid(c, "Failed to parse the request.");
	if ((r = ots_table_open(c, q->table_name, &t)) == 0 && (r = part_decode(c, &t, &q->key, &part)) == 0 &&
	    (r = start(c, &t, part, id)) == 0) {
		resp.transaction_id = id;
		r = ots_reply(c, &resp.base);
	}
	ots_table_close(&t);
	ots__start_local_transaction_request__free_unpacked(q, NULL);
	return r;
}

static int end(struct ots_call *c, const char *id, bool commit)
{
	struct ots_txn x;
	int r = -ECANCELED;

	for (int a = 0; a < TXN_ATTEMPTS && r == -ECANCELED; a++) {
		if ((r = ots_txn_open(c, id, NULL, &x)) < 0) {
			ots_txn_clear(&x);
			return r;
		}
		r = finish(c, &x, commit);
		ots_txn_clear(&x);
	}
	if (r == -ENOENT)
		return no_session(c);
	return r < 0 ? ots_fail_errno(c, r) : 0;
}

int ots_op_commit_transaction(struct ots_call *c)
{
	Ots__CommitTransactionRequest *q = ots__commit_transaction_request__unpack(NULL, c->body_len, c->body);
	Ots__CommitTransactionResponse resp = OTS__COMMIT_TRANSACTION_RESPONSE__INIT;
	int r;

	if (!q)
		return ots_invalid(c, "Failed to parse the request.");
	if ((r = end(c, q->transaction_id, true)) == 0)
		r = ots_reply(c, &resp.base);
	ots__commit_transaction_request__free_unpacked(q, NULL);
	return r;
}

int ots_op_abort_transaction(struct ots_call *c)
{
	Ots__AbortTransactionRequest *q = ots__abort_transaction_request__unpack(NULL, c->body_len, c->body);
	Ots__AbortTransactionResponse resp = OTS__ABORT_TRANSACTION_RESPONSE__INIT;
	int r;

	if (!q)
		return ots_invalid(c, "Failed to parse the request.");
	resp.transaction_id = q->transaction_id;
	if ((r = end(c, q->transaction_id, false)) == 0)
		r = ots_reply(c, &resp.base);
	ots__abort_transaction_request__free_unpacked(q, NULL);
	return r;
}
