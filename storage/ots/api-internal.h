/* api-internal.h: what the operation files (api_table.c, api_row.c, api_range.c) share with
 * api.c: the call being answered and how to fail it. */
#ifndef OTS_API_INTERNAL_H
#define OTS_API_INTERNAL_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "filter.h"
#include "key.h"
#include "ots.h"
#include "ots.pb-c.h"
#include "row.h"
#include "store.h"
#include "txn.h"

struct ots_call {
	struct ots *o;
	struct ots_scope scope;
	const uint8_t *body;
	size_t body_len;
	int64_t now_ms;
	/* the answer: a packed message, or an error */
	uint8_t *out;
	size_t out_len;
	int status;
	const char *code;
	char message[256];
};

/* Record an error answer; returns -EINVAL so callers can `return ots_fail(...)`. */
int ots_fail(struct ots_call *c, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* An errno from the store as its answer (ENOENT: table gone, ECANCELED: conflict, …). */
int ots_fail_errno(struct ots_call *c, int r);
#define ots_invalid(c, ...) ots_fail(c, 400, "OTSParameterInvalid", __VA_ARGS__)

/* Pack msg as the answer. */
int ots_reply(struct ots_call *c, const ProtobufCMessage *msg);

/* A table of the caller's instance, with its key schema and rules. */
struct ots_table {
	Ots__StoredTable *t;
	struct ots_schema schema;
	struct ots_table_rules rules;
};

int ots_table_open(struct ots_call *c, const char *name, struct ots_table *ret);
void ots_table_close(struct ots_table *t);

/* A PlainBuffer primary key of the table's schema (a row key or a range bound), decoded
 * into ret (pointing into buf) and encoded into *ret_key (caller frees). */
int ots_pk_decode(struct ots_call *c, const struct ots_table *t, const ProtobufCBinaryData *buf,
		  enum ots_key_use use, struct ots_row *ret, char **ret_key);
/* (With OTS_KEY_PUT and a PK_AUTO_INCR in the key, *ret_key is left NULL.) */
/* Makes the value of a PutRow key's PK_AUTO_INCR (the next of its partition key's counter in
 * RADOS) and encodes the key into *ret_key. */
int ots_pk_auto_fill(struct ots_call *c, const struct ots_table *t, struct ots_row *row, char **ret_key);
/* Refuse what a read may ask that is not built yet (column paging by name, tokens,
 * transactions). */
int ots_read_refuse_unbuilt(struct ots_call *c, bool token, const char *start_column, const char *end_column,
			    const char *transaction_id);
/* The read spec of a GetRow / BatchGetRow / GetRange request (filter: NULL when it has none);
 * ots_read_spec_clear afterwards, also after a failure. */
int ots_read_spec_make(struct ots_call *c, char **columns, size_t n_columns, const Ots__TimeRange *range,
		       bool has_max_versions, int32_t max_versions, const ProtobufCBinaryData *filter,
		       struct ots_read_spec *ret);
void ots_read_spec_clear(struct ots_read_spec *spec);
/* A row selected for an answer, appended (without header) to b. */
int ots_row_encode_selected(const struct ots_row *stored, const struct ots_read_spec *spec,
			    const struct ots_table_rules *rules, struct ecs_buf *b, size_t max, bool *ret_empty);

/* The row at key (rows object of t) selected by spec into *ret as header and row, or left
 * empty when there is none; error recorded in c. */
int ots_read_one(struct ots_call *c, const struct ots_table *t, const char *key, const struct ots_read_spec *spec,
		 struct ecs_buf *ret);

enum ots_write_kind { OTS_W_PUT, OTS_W_UPDATE, OTS_W_DELETE };

/* One row of a write (api_write.c): the request's parts in, the row's own result out. */
struct ots_write {
	enum ots_write_kind kind;
	const ProtobufCBinaryData *data; /* the row (PlainBuffer) */
	const Ots__Condition *cond;
	const Ots__ReturnContent *ret;
	struct ots_filter *filter; /* its column condition, parsed */
	char *lock_key, *lock;	   /* outside a transaction: its partition's lock, as read */
	size_t lock_len;
	char *skey, *sold;	   /* inside one: its staged key and value, as read */
	size_t sold_len;
	struct ots_call rc;   /* this row's error, if rc.code */
	struct ecs_buf pk_row; /* its key, for return_type RT_PK */
	/* the work */
	struct ots_row req;
	char *key, *old, *nv;
	size_t old_len, nv_len;
	bool ready, write;
};

/* Write n rows of a table (inside transaction x, or NULL) in one guarded RADOS operation, re-read and redone when another
 * writer got there first. Each row's error is its own (w[i].rc); the return is negative
 * only for the whole (the table's object failing), recorded in c. Call ots_write_clear
 * on each afterwards. */
int ots_write_rows(struct ots_call *c, const struct ots_table *t, struct ots_write *w, size_t n, struct ots_txn *x);
void ots_write_clear(struct ots_write *w);

/* The transaction of id, checked (the caller's, of table t when given, not over) and its
 * idle expiry moved on; errors recorded in c (OTSSessionNotExist, OTSSessionTimeout). */
int ots_txn_open(struct ots_call *c, const char *id, const struct ots_table *t, struct ots_txn *ret);
/* The rows transaction x staged (ots_staged_free afterwards). */
int ots_txn_staged(struct ots_call *c, const struct ots_txn *x, struct ots_staged *ret);
/* Read the lock again after a concurrent request of the same transaction moved it. */
int ots_txn_reload(struct ots_call *c, struct ots_txn *x);
/* Whether a row key belongs to the transaction's partition; refuses it otherwise. */
int ots_txn_check_row(struct ots_call *c, const struct ots_table *t, const struct ots_txn *x, const struct ots_row *row);
/* A stored row (raw) selected by spec into *ret as header and row, empty when nothing is left. */
int ots_read_raw(struct ots_call *c, const struct ots_table *t, const char *raw, size_t len,
		 const struct ots_read_spec *spec, struct ecs_buf *ret);

typedef int (*ots_op_fn)(struct ots_call *c);
int ots_op_create_table(struct ots_call *c);
int ots_op_list_table(struct ots_call *c);
int ots_op_describe_table(struct ots_call *c);
int ots_op_update_table(struct ots_call *c);
int ots_op_delete_table(struct ots_call *c);
int ots_op_get_row(struct ots_call *c);
int ots_op_put_row(struct ots_call *c);
int ots_op_update_row(struct ots_call *c);
int ots_op_delete_row(struct ots_call *c);
int ots_op_batch_get_row(struct ots_call *c);
int ots_op_batch_write_row(struct ots_call *c);
int ots_op_get_range(struct ots_call *c);
int ots_op_start_local_transaction(struct ots_call *c);
int ots_op_commit_transaction(struct ots_call *c);
int ots_op_abort_transaction(struct ots_call *c);

/* A capacity unit message filled with read/write (static storage of the caller). */
void ots_consumed(Ots__ConsumedCapacity *cc, Ots__CapacityUnit *cu, int read, int write);

#endif
