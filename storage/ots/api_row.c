/* api_row.c: GetRow, PutRow, UpdateRow, DeleteRow, and what reads share (keys, read specs,
 * selecting a stored row for an answer). Writes go through api_write.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api-internal.h"
#include "log.h"
#include "util.h"

int ots_pk_decode(struct ots_call *c, const struct ots_table *t, const ProtobufCBinaryData *buf,
		  enum ots_key_use use, struct ots_row *ret, char **ret_key)
{
	const char *msg = NULL;
	int r = ots_pb_decode_row(buf->data, buf->len, ret);

	if (r == -EBADMSG)
		return ots_invalid(c, "Checksum mismatch in the primary key.");
	if (r == -ENOMEM)
		return ots_fail_errno(c, r);
	if (r < 0)
		return ots_invalid(c, "Invalid PlainBuffer in the primary key.");
	if (ots_key_check(&t->schema, ret->pk, ret->n_pk, use, &msg) < 0) {
		ots_row_clear(ret);
		return ots_invalid(c, "%s", msg);
	}
	*ret_key = NULL;
	for (size_t i = 0; i < ret->n_pk; i++)
		if (ret->pk[i].v.type == OTS_VT_AUTO_INCREMENT)
			return 0; /* its key is known once the value is made (ots_pk_auto_fill) */
	if ((r = ots_key_encode(&t->schema, ret->pk, ret->n_pk, true, ret_key)) < 0) {
		ots_row_clear(ret);
		return ots_fail_errno(c, r);
	}
	return 0;
}

int ots_read_refuse_unbuilt(struct ots_call *c, bool token, const char *start_column, const char *end_column,
			    const char *transaction_id)
{
	if (token || start_column || end_column || transaction_id)
		return ots_fail(c, 400, "OTSUnsupportOperation",
				"Column paging by name, tokens and transactions are not supported yet.");
	return 0;
}

void ots_read_spec_clear(struct ots_read_spec *spec)
{
	ots_filter_free(spec->filter);
	spec->filter = NULL;
}

int ots_read_spec_make(struct ots_call *c, char **columns, size_t n_columns, const Ots__TimeRange *range,
		       bool has_max_versions, int32_t max_versions, const ProtobufCBinaryData *filter,
		       struct ots_read_spec *ret)
{
	const char *msg = NULL;
	int r;

	*ret = (struct ots_read_spec){ .columns = columns, .n_columns = n_columns };
	if (filter && (r = ots_filter_parse(filter->data, filter->len, true, &ret->filter, &msg)) < 0)
		return r == -EINVAL ? ots_invalid(c, "%s", msg) : ots_fail_errno(c, r);
	if (n_columns > OTS_COLUMNS_PER_WRITE_MAX)
		return ots_invalid(c, "The number of columns to get exceeds the limit of 1024.");
	if (has_max_versions) {
		if (max_versions <= 0)
			return ots_invalid(c, "max_versions must be positive.");
		ret->max_versions = max_versions;
	}
	if (range) {
		ret->has_range = true;
		if (range->has_specific_time) {
			if (range->specific_time < 0 || range->specific_time == INT64_MAX)
				return ots_invalid(c, "Invalid time range.");
			ret->start_ms = range->specific_time;
			ret->end_ms = range->specific_time + 1;
		} else if (range->has_start_time && range->has_end_time && range->start_time >= 0 &&
			   range->start_time < range->end_time) {
			ret->start_ms = range->start_time;
			ret->end_ms = range->end_time;
		} else {
			return ots_invalid(c, "Invalid time range.");
		}
	}
	if (!ret->has_range && !ret->max_versions)
		ret->max_versions = 1;
	return 0;
}

/* Keep the versions of limit columns after the first offset columns. */
static void page_columns(struct ots_row *sel, int32_t offset, int32_t limit)
{
	size_t n = 0, col = 0;

	for (size_t i = 0; i < sel->n_cols; i++) {
		if (i > 0 && (sel->cols[i].name_len != sel->cols[i - 1].name_len ||
			      memcmp(sel->cols[i].name, sel->cols[i - 1].name, sel->cols[i].name_len)))
			col++;
		if (col >= (size_t)offset && col - (size_t)offset < (size_t)limit)
			sel->cols[n++] = sel->cols[i];
	}
	sel->n_cols = n;
}

int ots_row_encode_selected(const struct ots_row *stored, const struct ots_read_spec *spec,
			    const struct ots_table_rules *rules, struct ecs_buf *b, size_t max, bool *ret_empty)
{
	struct ots_row sel;
	int32_t offset, limit;
	int r;

	if (spec->filter) {
		struct ots_read_spec all = *spec;
		bool pass;

		all.columns = NULL;
		all.n_columns = 0;
		if ((r = ots_row_select(stored, &all, rules, &sel)) < 0)
			return r;
		pass = ots_filter_match(spec->filter, &sel);
		free(sel.cols);
		if (!pass) {
			*ret_empty = true;
			return 0;
		}
	}
	if ((r = ots_row_select(stored, spec, rules, &sel)) < 0)
		return r;
	if (spec->filter && ots_filter_paging(spec->filter, &offset, &limit))
		page_columns(&sel, offset, limit);
	*ret_empty = sel.n_cols == 0 && (spec->n_columns || stored->n_cols);
	if (!*ret_empty)
		r = ots_pb_put_row(b, &sel, max);
	free(sel.cols);
	return r;
}

/* ---- reads */

/* The row at key into *ret (header and row) or an empty buffer; error recorded in c. */
int ots_read_one(struct ots_call *c, const struct ots_table *t, const char *key, const struct ots_read_spec *spec,
		    struct ecs_buf *ret)
{
	_cleanup_free_ char *raw = NULL;
	size_t len;
	int r;

	*ret = (struct ecs_buf){ 0 };
	r = ots_row_read(c->o, t->t->rows_object, key, &raw, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return ots_fail_errno(c, r);
	return ots_read_raw(c, t, raw, len, spec, ret);
}

int ots_read_raw(struct ots_call *c, const struct ots_table *t, const char *raw, size_t len,
		 const struct ots_read_spec *spec, struct ecs_buf *ret)
{
	struct ots_row stored;
	struct ecs_buf b = { 0 };
	bool empty = true;
	int r;

	*ret = (struct ecs_buf){ 0 };
	if ((r = ots_pb_decode_row(raw, len, &stored)) < 0) {
		log_error("a stored row does not decode", "object=%s error=%s", t->t->rows_object, strerror(-r));
		return ots_fail_errno(c, -EIO);
	}
	r = ots_pb_put_header(&b, SIZE_MAX);
	if (r == 0)
		r = ots_row_encode_selected(&stored, spec, &t->rules, &b, SIZE_MAX, &empty);
	ots_row_clear(&stored);
	if (r < 0) {
		ecs_buf_free(&b);
		return ots_fail_errno(c, r);
	}
	if (empty)
		ecs_buf_free(&b);
	else
		*ret = b;
	return 0;
}

/* GetRow inside a transaction: the row as the transaction left it, else as committed. */
static int read_in_txn(struct ots_call *c, const struct ots_table *t, const char *id, const struct ots_row *pk,
		       const char *key, const struct ots_read_spec *spec, struct ecs_buf *ret)
{
	struct ots_txn x;
	_cleanup_free_ char *skey = NULL, *v = NULL;
	size_t len;
	int r;

	if ((r = ots_txn_open(c, id, t, &x)) < 0 || (r = ots_txn_check_row(c, t, &x, pk)) < 0)
		goto out;
	if (!(skey = ots_txn_staged_key(&x, key))) {
		r = ots_fail_errno(c, -ENOMEM);
		goto out;
	}
	r = ots_omap_get(c->o, t->t->rows_object, skey, &v, &len);
	if (r == -ENOENT)
		r = ots_read_one(c, t, key, spec, ret);
	else if (r < 0)
		r = ots_fail_errno(c, r);
	else if (len > 0 && v[0] == 'P')
		r = ots_read_raw(c, t, v + 1, len - 1, spec, ret);
out:
	ots_txn_clear(&x);
	return r;
}

int ots_op_get_row(struct ots_call *c)
{
	Ots__GetRowRequest *q = ots__get_row_request__unpack(NULL, c->body_len, c->body);
	Ots__GetRowResponse resp = OTS__GET_ROW_RESPONSE__INIT;
	Ots__ConsumedCapacity cc;
	Ots__CapacityUnit cu;
	struct ots_table t = { 0 };
	struct ots_read_spec spec = { 0 };
	struct ots_row pk = { 0 };
	struct ecs_buf row = { 0 };
	_cleanup_free_ char *key = NULL;
	int r;

	if (!q)
		return ots_invalid(c, "Failed to parse the request.");
	if ((r = ots_read_refuse_unbuilt(c, q->has_token, q->start_column, q->end_column, NULL)) < 0 ||
	    (r = ots_table_open(c, q->table_name, &t)) < 0 ||
	    (r = ots_read_spec_make(c, q->columns_to_get, q->n_columns_to_get, q->time_range, q->has_max_versions,
				    q->max_versions, q->has_filter ? &q->filter : NULL, &spec)) < 0 ||
	    (r = ots_pk_decode(c, &t, &q->primary_key, OTS_KEY_ROW, &pk, &key)) < 0)
		goto out;
	if (q->transaction_id)
		r = read_in_txn(c, &t, q->transaction_id, &pk, key, &spec, &row);
	else
		r = ots_read_one(c, &t, key, &spec, &row);
	if (r < 0)
		goto out;
	ots_consumed(&cc, &cu, 1, 0);
	resp.consumed = &cc;
	resp.row.data = (uint8_t *)row.data;
	resp.row.len = row.len;
	r = ots_reply(c, &resp.base);
out:
	ecs_buf_free(&row);
	ots_row_clear(&pk);
	ots_read_spec_clear(&spec);
	ots_table_close(&t);
	ots__get_row_request__free_unpacked(q, NULL);
	return r;
}

/* PutRow, UpdateRow and DeleteRow share their request's shape: table, row, condition,
 * return content, transaction. */
static int single_write(struct ots_call *c, enum ots_write_kind kind, const char *table, const ProtobufCBinaryData *row,
			const Ots__Condition *cond, const Ots__ReturnContent *rc, const char *txn,
			ProtobufCMessage *resp, Ots__ConsumedCapacity **ret_cc, ProtobufCBinaryData *ret_row,
			protobuf_c_boolean *ret_has_row)
{
	struct ots_write w = { .kind = kind, .data = row, .cond = cond, .ret = rc };
	Ots__ConsumedCapacity cc;
	Ots__CapacityUnit cu;
	struct ots_table t;
	struct ots_txn x = { 0 };
	int r;

	if ((r = ots_table_open(c, table, &t)) < 0)
		return r;
	if (!txn || (r = ots_txn_open(c, txn, &t, &x)) == 0)
		r = ots_write_rows(c, &t, &w, 1, txn ? &x : NULL);
	ots_txn_clear(&x);
	ots_table_close(&t);
	if (r < 0)
		goto out;
	if (w.rc.code) {
		r = ots_fail(c, w.rc.status, w.rc.code, "%s", w.rc.message);
		goto out;
	}
	ots_consumed(&cc, &cu, 0, 1);
	*ret_cc = &cc;
	if (w.pk_row.len) {
		ret_row->data = (uint8_t *)w.pk_row.data;
		ret_row->len = w.pk_row.len;
		*ret_has_row = 1;
	}
	r = ots_reply(c, resp);
out:
	ots_write_clear(&w);
	return r;
}

int ots_op_put_row(struct ots_call *c)
{
	Ots__PutRowRequest *q = ots__put_row_request__unpack(NULL, c->body_len, c->body);
	Ots__PutRowResponse resp = OTS__PUT_ROW_RESPONSE__INIT;
	int r;

	if (!q)
		return ots_invalid(c, "Failed to parse the request.");
	r = single_write(c, OTS_W_PUT, q->table_name, &q->row, q->condition, q->return_content, q->transaction_id,
			 &resp.base, &resp.consumed, &resp.row, &resp.has_row);
	ots__put_row_request__free_unpacked(q, NULL);
	return r;
}

int ots_op_update_row(struct ots_call *c)
{
	Ots__UpdateRowRequest *q = ots__update_row_request__unpack(NULL, c->body_len, c->body);
	Ots__UpdateRowResponse resp = OTS__UPDATE_ROW_RESPONSE__INIT;
	int r;

	if (!q)
		return ots_invalid(c, "Failed to parse the request.");
	r = single_write(c, OTS_W_UPDATE, q->table_name, &q->row_change, q->condition, q->return_content,
			 q->transaction_id, &resp.base, &resp.consumed, &resp.row, &resp.has_row);
	ots__update_row_request__free_unpacked(q, NULL);
	return r;
}

int ots_op_delete_row(struct ots_call *c)
{
	Ots__DeleteRowRequest *q = ots__delete_row_request__unpack(NULL, c->body_len, c->body);
	Ots__DeleteRowResponse resp = OTS__DELETE_ROW_RESPONSE__INIT;
	int r;

	if (!q)
		return ots_invalid(c, "Failed to parse the request.");
	r = single_write(c, OTS_W_DELETE, q->table_name, &q->primary_key, q->condition, q->return_content,
			 q->transaction_id, &resp.base, &resp.consumed, &resp.row, &resp.has_row);
	ots__delete_row_request__free_unpacked(q, NULL);
	return r;
}
