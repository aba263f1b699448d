/* api_batch.c: BatchGetRow (at most 100 rows) and BatchWriteRow (at most 200 rows), each row
 * with its own result: one row failing fails no other. A table's written rows land in one
 * RADOS operation (api_write.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api-internal.h"
#include "util.h"

/* The answer to one row of a batch: storage for its message and its error. */
struct row_answer {
	Ots__RowInBatchGetRowResponse get;
	Ots__RowInBatchWriteRowResponse write;
	Ots__Error err;
	Ots__ConsumedCapacity cc;
	Ots__CapacityUnit cu;
	struct ecs_buf row;
	char code[40];
	char message[256];
};

static struct ots_call scratch(const struct ots_call *c)
{
	return (struct ots_call){ .o = c->o, .scope = c->scope, .now_ms = c->now_ms };
}

/* Record rc's error (or success) in a. */
static bool answer(struct row_answer *a, const struct ots_call *rc, int read, int write)
{
	ots_consumed(&a->cc, &a->cu, read, write);
	if (!rc->code)
		return true;
	a->err = (Ots__Error)OTS__ERROR__INIT;
	snprintf(a->code, sizeof(a->code), "%s", rc->code);
	snprintf(a->message, sizeof(a->message), "%s", rc->message);
	a->err.code = a->code;
	a->err.message = a->message;
	return false;
}

static void answers_free(struct row_answer *a, size_t n)
{
	for (size_t i = 0; a && i < n; i++)
		ecs_buf_free(&a[i].row);
	free(a);
}

/* A batch's limits: 1 to max rows in all, each table named once. */
static int refuse_row_count(struct ots_call *c, size_t total, int max)
{
	if (!total || total > (size_t)max)
		return ots_invalid(c, "The number of rows must be in range: [1, %d].", max);
	return 0;
}

static int refuse_repeated_table(struct ots_call *c, char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < i; k++)
			if (streq(names[i], names[k]))
				return ots_invalid(c, "The same table appears twice in the request.");
	return 0;
}

/* What a batch holds while it answers: per table its response (tr, elements of the
 * operation's type) and a pointer to it (trp); per row a pointer to its message (rows) and
 * its answer (ans); the tables' names. */
struct batch {
	size_t n_tables, total;
	char **names;
	void *tr;
	void **trp, **rows;
	struct row_answer *ans;
};

/* Allocate b for n_tables tables (responses of tr_size bytes) and total rows. */
static int batch_alloc(struct ots_call *c, struct batch *b, size_t n_tables, size_t tr_size, size_t total)
{
	*b = (struct batch){ .n_tables = n_tables, .total = total };
	b->names = calloc(n_tables, sizeof(*b->names));
	b->tr = calloc(n_tables, tr_size);
	b->trp = calloc(n_tables, sizeof(*b->trp));
	b->rows = calloc(total, sizeof(*b->rows));
	b->ans = calloc(total, sizeof(*b->ans));
	if (!b->names || !b->tr || !b->trp || !b->rows || !b->ans)
		return ots_fail_errno(c, -ENOMEM);
	return 0;
}

static void batch_free(struct batch *b)
{
	answers_free(b->ans, b->total);
	free(b->rows);
	free(b->trp);
	free(b->tr);
	free(b->names);
}

int ots_op_batch_get_row(struct ots_call *c)
{
	Ots__BatchGetRowRequest *q = ots__batch_get_row_request__unpack(NULL, c->body_len, c->body);
	Ots__BatchGetRowResponse resp = OTS__BATCH_GET_ROW_RESPONSE__INIT;
	Ots__TableInBatchGetRowResponse *tr;
	Ots__RowInBatchGetRowResponse **rows;
	struct batch b = { 0 };
	size_t total = 0, at = 0;
	int r = -EINVAL;

	if (!q)
		return ots_invalid(c, "Failed to parse the request.");
	for (size_t i = 0; i < q->n_tables; i++) {
		const Ots__TableInBatchGetRowRequest *t = q->tables[i];

		total += t->n_primary_key;
		if ((r = ots_read_refuse_unbuilt(c, t->n_token, t->start_column, t->end_column, NULL)) < 0)
			goto out;
	}
	if ((r = refuse_row_count(c, total, OTS_BATCH_GET_MAX)) < 0)
		goto out;
	if ((r = batch_alloc(c, &b, q->n_tables, sizeof(*tr), total)) < 0)
		goto out;
	tr = b.tr;
	rows = (Ots__RowInBatchGetRowResponse **)b.rows;
	for (size_t i = 0; i < q->n_tables; i++)
		b.names[i] = q->tables[i]->table_name;
	if ((r = refuse_repeated_table(c, b.names, q->n_tables)) < 0)
		goto out;
	for (size_t i = 0; i < q->n_tables; i++) {
		const Ots__TableInBatchGetRowRequest *tq = q->tables[i];
		struct ots_call tc = scratch(c);
		struct ots_read_spec spec = { 0 };
		struct ots_table t = { 0 };
		bool open = ots_table_open(&tc, tq->table_name, &t) == 0 &&
			    ots_read_spec_make(&tc, tq->columns_to_get, tq->n_columns_to_get, tq->time_range,
					       tq->has_max_versions, tq->max_versions, tq->has_filter ? &tq->filter : NULL,
					       &spec) == 0;

		tr[i] = (Ots__TableInBatchGetRowResponse)OTS__TABLE_IN_BATCH_GET_ROW_RESPONSE__INIT;
		tr[i].table_name = tq->table_name;
		tr[i].rows = rows + at;
		tr[i].n_rows = tq->n_primary_key;
		b.trp[i] = &tr[i];
		for (size_t k = 0; k < tq->n_primary_key; k++, at++) {
			struct row_answer *a = &b.ans[at];
			struct ots_call rc = open ? scratch(c) : tc;
			struct ots_row pk = { 0 };
			_cleanup_free_ char *key = NULL;

			if (open && ots_pk_decode(&rc, &t, &tq->primary_key[k], OTS_KEY_ROW, &pk, &key) == 0) {
				ots_read_one(&rc, &t, key, &spec, &a->row);
				ots_row_clear(&pk);
			}
			a->get = (Ots__RowInBatchGetRowResponse)OTS__ROW_IN_BATCH_GET_ROW_RESPONSE__INIT;
			a->get.is_ok = answer(a, &rc, 1, 0);
			a->get.error = a->get.is_ok ? NULL : &a->err;
			a->get.consumed = &a->cc;
			a->get.has_row = a->get.is_ok;
			a->get.row.data = (uint8_t *)(a->row.data ? a->row.data : "");
			a->get.row.len = a->row.len;
			rows[at] = &a->get;
		}
		ots_read_spec_clear(&spec);
		ots_table_close(&t);
	}
	resp.tables = (Ots__TableInBatchGetRowResponse **)b.trp;
	resp.n_tables = q->n_tables;
	r = ots_reply(c, &resp.base);
out:
	batch_free(&b);
	ots__batch_get_row_request__free_unpacked(q, NULL);
	return r;
}

/* Two rows of one table with the same key: the request is refused. */
static int duplicate_rows(struct ots_call *c, const struct ots_table *t, const Ots__TableInBatchWriteRowRequest *tq)
{
	char **keys = calloc(tq->n_rows, sizeof(*keys));
	size_t n = 0;
	int r = 0;

	if (!keys)
		return ots_fail_errno(c, -ENOMEM);
	for (; n < tq->n_rows && r == 0; n++) {
		struct ots_row row = { 0 };

		r = ots_pk_decode(c, t, &tq->rows[n]->row_change,
				  tq->rows[n]->type == OTS__OPERATION_TYPE__OT_PUT ? OTS_KEY_PUT : OTS_KEY_ROW, &row, &keys[n]);
		ots_row_clear(&row);
		for (size_t k = 0; r == 0 && keys[n] && k < n; k++)
			if (keys[k] && streq(keys[k], keys[n]))
				r = ots_invalid(c, "The same row appears twice in the request.");
	}
	ecs_strv_free(keys, n);
	return r;
}

int ots_op_batch_write_row(struct ots_call *c)
{
	Ots__BatchWriteRowRequest *q = ots__batch_write_row_request__unpack(NULL, c->body_len, c->body);
	Ots__BatchWriteRowResponse resp = OTS__BATCH_WRITE_ROW_RESPONSE__INIT;
	Ots__TableInBatchWriteRowResponse *tr;
	Ots__RowInBatchWriteRowResponse **rows;
	struct ots_table *tables = NULL;
	struct ots_write *writes = NULL;
	struct ots_txn x = { 0 };
	struct batch b = { 0 };
	size_t total = 0, at = 0;
	int r = -EINVAL;

	if (!q)
		return ots_invalid(c, "Failed to parse the request.");
	if (q->transaction_id && q->n_tables != 1) {
		r = ots_invalid(c, "A transaction writes one table.");
		goto out;
	}
	for (size_t i = 0; i < q->n_tables; i++)
		total += q->tables[i]->n_rows;
	if ((r = refuse_row_count(c, total, OTS_BATCH_WRITE_MAX)) < 0)
		goto out;
	if ((r = batch_alloc(c, &b, q->n_tables, sizeof(*tr), total)) < 0)
		goto out;
	tr = b.tr;
	rows = (Ots__RowInBatchWriteRowResponse **)b.rows;
	if (!(tables = calloc(q->n_tables, sizeof(*tables)))) {
		r = ots_fail_errno(c, -ENOMEM);
		goto out;
	}
	for (size_t i = 0; i < q->n_tables; i++)
		b.names[i] = q->tables[i]->table_name;
	if ((r = refuse_repeated_table(c, b.names, q->n_tables)) < 0)
		goto out;
	/* The whole request is refused for a missing table or a repeated row, before any write. */
	for (size_t i = 0; i < q->n_tables; i++)
		if ((r = ots_table_open(c, b.names[i], &tables[i])) < 0 ||
		    (r = duplicate_rows(c, &tables[i], q->tables[i])) < 0)
			goto out;
	if (q->transaction_id && (r = ots_txn_open(c, q->transaction_id, &tables[0], &x)) < 0)
		goto out;
	if (!(writes = calloc(total, sizeof(*writes)))) {
		r = ots_fail_errno(c, -ENOMEM);
		goto out;
	}
	for (size_t i = 0; i < q->n_tables; i++) {
		const Ots__TableInBatchWriteRowRequest *tq = q->tables[i];
		struct ots_write *w = writes + at;

		tr[i] = (Ots__TableInBatchWriteRowResponse)OTS__TABLE_IN_BATCH_WRITE_ROW_RESPONSE__INIT;
		tr[i].table_name = tq->table_name;
		tr[i].rows = rows + at;
		tr[i].n_rows = tq->n_rows;
		b.trp[i] = &tr[i];
		for (size_t k = 0; k < tq->n_rows; k++) {
			const Ots__RowInBatchWriteRowRequest *rq = tq->rows[k];

			w[k] = (struct ots_write){
				.kind = rq->type == OTS__OPERATION_TYPE__OT_PUT	     ? OTS_W_PUT
					: rq->type == OTS__OPERATION_TYPE__OT_UPDATE ? OTS_W_UPDATE
										     : OTS_W_DELETE,
				.data = &rq->row_change,
				.cond = rq->condition,
				.ret = rq->return_content,
			};
		}
		/* one table's rows in one guarded RADOS operation */
		if ((r = ots_write_rows(c, &tables[i], w, tq->n_rows, q->transaction_id ? &x : NULL)) < 0)
			goto out;
		for (size_t k = 0; k < tq->n_rows; k++, at++) {
			struct row_answer *a = &b.ans[at];

			a->row = w[k].pk_row;
			w[k].pk_row = (struct ecs_buf){ 0 };
			a->write = (Ots__RowInBatchWriteRowResponse)OTS__ROW_IN_BATCH_WRITE_ROW_RESPONSE__INIT;
			a->write.is_ok = answer(a, &w[k].rc, 0, 1);
			a->write.error = a->write.is_ok ? NULL : &a->err;
			a->write.consumed = &a->cc;
			a->write.has_row = a->row.len > 0;
			a->write.row.data = (uint8_t *)a->row.data;
			a->write.row.len = a->row.len;
			rows[at] = &a->write;
		}
	}
	resp.tables = (Ots__TableInBatchWriteRowResponse **)b.trp;
	resp.n_tables = q->n_tables;
	r = ots_reply(c, &resp.base);
out:
	for (size_t i = 0; writes && i < total; i++)
		ots_write_clear(&writes[i]);
	free(writes);
	ots_txn_clear(&x);
	for (size_t i = 0; tables && i < q->n_tables; i++)
		ots_table_close(&tables[i]);
	free(tables);
	batch_free(&b);
	ots__batch_write_row_request__free_unpacked(q, NULL);
	return r;
}
