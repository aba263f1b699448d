/* api_index.c: global secondary indexes. An index is a catalogue entry of its own (a table
 * whose StoredTable names its base in index_of) whose rows live in the base table's rows
 * object under "\xffI<index>." + the index key, so a write of the base rows and of their
 * index rows is one RADOS operation (api_write.c adds the steps made here). The index key
 * is the index's columns, then the base key columns not among them; its attributes are the
 * index's defined columns. Indexes are updated synchronously, whatever the mode asked. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api-internal.h"
#include "log.h"
#include "util.h"

#define INDEX_ATTEMPTS 32

/* An index's key columns: names and key types, from the base table's meta. */
struct ix_pk {
	size_t n;
	const char *name[OTS_PK_MAX];
	Ots__PrimaryKeyType type[OTS_PK_MAX];
	int base_at[OTS_PK_MAX]; /* the base key column it is, or -1 for a defined column */
};

static int base_pk_at(const Ots__TableMeta *m, const char *name)
{
	for (size_t i = 0; i < m->n_primary_key; i++)
		if (streq(m->primary_key[i]->name, name))
			return (int)i;
	return -1;
}

static const Ots__DefinedColumnSchema *defined(const Ots__TableMeta *m, const char *name)
{
	for (size_t i = 0; i < m->n_defined_column; i++)
		if (streq(m->defined_column[i]->name, name))
			return m->defined_column[i];
	return NULL;
}

/* The DefinedColumnType numbers of the SDKs: INTEGER 1, STRING 4, BLOB 7 may be keys. */
static int dct_key_type(int32_t t, Ots__PrimaryKeyType *ret)
{
	if (t == 1)
		*ret = OTS__PRIMARY_KEY_TYPE__PKT_INTEGER;
	else if (t == 4)
		*ret = OTS__PRIMARY_KEY_TYPE__PKT_STRING;
	else if (t == 7)
		*ret = OTS__PRIMARY_KEY_TYPE__PKT_BINARY;
	else
		return -EINVAL;
	return 0;
}

static int ix_pk_make(const Ots__TableMeta *m, const Ots__IndexMeta *im, struct ix_pk *ret, const char **msg)
{
	*ret = (struct ix_pk){ 0 };
	for (size_t i = 0; i < im->n_primary_key + m->n_primary_key; i++) {
		bool own = i < im->n_primary_key;
		const char *name = own ? im->primary_key[i] : m->primary_key[i - im->n_primary_key]->name;
		int at = base_pk_at(m, name);
		bool dup = false;

		for (size_t k = 0; k < ret->n; k++)
			dup = dup || streq(ret->name[k], name);
		if (dup && own) {
			*msg = "Duplicated primary key name in the index.";
			return -EINVAL;
		}
		if (dup)
			continue;
		if (ret->n == OTS_PK_MAX) {
			*msg = "An index has at most 4 primary key columns, the base table's included.";
			return -EINVAL;
		}
		ret->name[ret->n] = name;
		ret->base_at[ret->n] = at;
		if (at >= 0) {
			ret->type[ret->n] = m->primary_key[at]->type;
		} else {
			const Ots__DefinedColumnSchema *d = defined(m, name);

			if (!d || dct_key_type(d->type, &ret->type[ret->n]) < 0) {
				*msg = "An index primary key column must be a primary key or an INTEGER, STRING or "
				       "BINARY defined column of the table.";
				return -EINVAL;
			}
		}
		ret->n++;
	}
	return 0;
}

int ots_index_meta_check(struct ots_call *c, const Ots__TableMeta *m, const Ots__TableOptions *opts,
			 const Ots__IndexMeta *im)
{
	struct ix_pk pk;
	const char *msg = NULL;

	if (!im->name || !ots_name_valid(im->name, strlen(im->name)))
		return ots_invalid(c, "Invalid index name: '%.64s'.", im->name ? im->name : "");
	if (im->index_type != OTS__INDEX_TYPE__IT_GLOBAL_INDEX)
		return ots_fail(c, 400, "OTSUnsupportOperation", "Only global indexes are supported.");
	if (im->n_primary_key < 1)
		return ots_invalid(c, "An index needs at least one primary key column.");
	if (ix_pk_make(m, im, &pk, &msg) < 0)
		return ots_invalid(c, "%s", msg);
	for (size_t i = 0; i < im->n_defined_column; i++) {
		const char *d = im->defined_column[i];

		if (!defined(m, d))
			return ots_invalid(c, "Index defined column '%.64s' is not a defined column of the table.", d);
		for (size_t k = 0; k < pk.n; k++)
			if (streq(pk.name[k], d))
				return ots_invalid(c, "Index defined column '%.64s' is in its primary key.", d);
		for (size_t k = 0; k < i; k++)
			if (streq(im->defined_column[k], d))
				return ots_invalid(c, "Duplicated index defined column '%.64s'.", d);
	}
	if (opts->max_versions != 1 || opts->time_to_live != -1)
		return ots_invalid(c, "A table with an index must have max_versions 1 and time_to_live -1.");
	return 0;
}

/* The newest cell of a column in a stored row (cells sorted by name, newest first). */
static const struct ots_cell *newest(const struct ots_row *row, const char *name)
{
	for (size_t i = 0; i < row->n_cols; i++)
		if (ots_name_eq(&row->cols[i], name) && row->cols[i].has_value)
			return &row->cols[i];
	return NULL;
}

static uint8_t vt_of(Ots__PrimaryKeyType t)
{
	return t == OTS__PRIMARY_KEY_TYPE__PKT_INTEGER ? OTS_VT_INTEGER
	       : t == OTS__PRIMARY_KEY_TYPE__PKT_STRING ? OTS_VT_STRING
							 : OTS_VT_BLOB;
}

/* The index row of a stored row: key (NULL when the row lacks an index key column) and
 * value. -EINVAL with *msg when a column has a type the index key cannot take. */
static int ix_row(const Ots__TableMeta *m, const Ots__IndexMeta *im, const struct ots_row *row, char **ret_key,
		  char **ret_val, size_t *ret_len, const char **msg)
{
	struct ots_cell pk[OTS_PK_MAX], *cols = NULL;
	struct ots_schema s = { 0 };
	struct ix_pk ip;
	struct ecs_buf b = { 0 };
	struct ots_row ir = { 0 };
	int r;

	*ret_key = *ret_val = NULL;
	if ((r = ix_pk_make(m, im, &ip, msg)) < 0)
		return r;
	s.n = ip.n;
	snprintf(s.prefix, sizeof(s.prefix), "\xffI%s.", im->name);
	for (size_t i = 0; i < ip.n; i++) {
		const struct ots_cell *cell = ip.base_at[i] >= 0 ? &row->pk[ip.base_at[i]] : newest(row, ip.name[i]);

		if (!cell)
			return 0;
		snprintf(s.col[i].name, sizeof(s.col[i].name), "%s", ip.name[i]);
		s.col[i].type = vt_of(ip.type[i]);
		pk[i] = *cell;
		pk[i].has_ts = false;
		pk[i].op = 0;
	}
	if (ots_key_check(&s, pk, ip.n, OTS_KEY_ROW, msg) < 0)
		return -EINVAL;
	if (row->n_cols && !(cols = calloc(row->n_cols, sizeof(*cols))))
		return -ENOMEM;
	for (size_t i = 0; i < row->n_cols; i++)
		for (size_t k = 0; k < im->n_defined_column; k++)
			if (ots_name_eq(&row->cols[i], im->defined_column[k]))
				cols[ir.n_cols++] = row->cols[i];
	ir.pk = pk;
	ir.n_pk = ip.n;
	ir.cols = cols;
	r = ots_key_encode(&s, pk, ip.n, true, ret_key);
	if (r == 0 && (r = ots_pb_put_header(&b, SIZE_MAX)) == 0)
		r = ots_pb_put_row(&b, &ir, SIZE_MAX);
	free(cols);
	if (r < 0) {
		free(*ret_key);
		*ret_key = NULL;
		ecs_buf_free(&b);
		return r;
	}
	*ret_len = b.len;
	*ret_val = ecs_buf_steal(&b);
	return 0;
}

int ots_index_changes(struct ots_call *c, const struct ots_table *t, const char *old, size_t old_len,
		      const char *nv, size_t nv_len, struct ots_ix *ret)
{
	const Ots__TableMeta *m = t->t->table_meta;
	struct ots_row o = { 0 }, n = { 0 };
	int r = 0;

	if ((old && ots_pb_decode_row(old, old_len, &o) < 0) || (nv && ots_pb_decode_row(nv, nv_len, &n) < 0)) {
		r = ots_fail_errno(c, -EIO);
		goto out;
	}
	for (size_t i = 0; i < m->n_index_meta && r == 0; i++) {
		char *ok = NULL, *ov = NULL, *nk = NULL, *nval = NULL;
		size_t ol = 0, nl = 0;
		const char *msg = NULL;

		/* an old row the index cannot key (written before the index) has no index row */
		if (old && (r = ix_row(m, m->index_meta[i], &o, &ok, &ov, &ol, &msg)) == -EINVAL)
			r = 0;
		if (r == 0 && nv)
			r = ix_row(m, m->index_meta[i], &n, &nk, &nval, &nl, &msg);
		free(ov);
		if (r == -EINVAL)
			r = ots_invalid(c, "%s", msg ? msg : "Bad index key value.");
		else if (r < 0)
			r = ots_fail_errno(c, r);
		if (r == 0 && ok && (!nk || !streq(ok, nk)))
			ret->step[ret->n++] = (struct ots_ix_step){ .key = ok, .val = NULL };
		else
			free(ok);
		if (r == 0 && nk)
			ret->step[ret->n++] = (struct ots_ix_step){ .key = nk, .val = nval, .len = nl };
		else {
			free(nk);
			free(nval);
		}
	}
out:
	ots_row_clear(&o);
	ots_row_clear(&n);
	return r;
}

void ots_ix_clear(struct ots_ix *x)
{
	for (size_t i = 0; i < x->n; i++) {
		free(x->step[i].key);
		free(x->step[i].val);
	}
	x->n = 0;
}

/* Appends a string and a separator. */
static int put(struct ecs_buf *b, const char *str, char sep)
{
	int r = ecs_buf_append(b, str, strlen(str), SIZE_MAX);

	return r ? r : ecs_buf_append(b, &sep, 1, SIZE_MAX);
}

char *ots_index_epoch(const Ots__TableMeta *m)
{
	struct ecs_buf b = { 0 };
	int r = 0;

	for (size_t i = 0; i < m->n_index_meta && r == 0; i++) {
		const Ots__IndexMeta *im = m->index_meta[i];

		r = put(&b, im->name, '(');
		for (size_t k = 0; k < im->n_primary_key && r == 0; k++)
			r = put(&b, im->primary_key[k], ' ');
		r = r ? r : put(&b, "", '|');
		for (size_t k = 0; k < im->n_defined_column && r == 0; k++)
			r = put(&b, im->defined_column[k], ' ');
		r = r ? r : put(&b, "", ')');
	}
	if (r < 0) {
		ecs_buf_free(&b);
		return NULL;
	}
	return ecs_buf_steal(&b);
}

/* After the catalogue changed: the rows object's index set key, so writes that followed
 * the old set are refused and redone with the new one (crash before it: the first write
 * that reads the catalogue again sets it). */
static int epoch_set(struct ots *o, const char *oid, const Ots__TableMeta *m)
{
	_cleanup_free_ char *e = ots_index_epoch(m);
	struct ots_omap_step st = { .key = OTS_INDEX_EPOCH_KEY, .act = OTS_OMAP_SET, .val = e, .val_len = e ? strlen(e) : 0 };

	return e ? ots_omap_apply(o, oid, &st, 1, true) : -ENOMEM;
}

/* ---- CreateIndex, DropIndex */

/* Add (im) or remove (drop) one index of base: the base entry, the index's entry and the
 * table count in one catalogue write, redone when the base changed meanwhile. */
static int index_change(struct ots_call *c, const char *base, const Ots__IndexMeta *im, const char *drop)
{
	int r = -ECANCELED;

	for (int a = 0; r == -ECANCELED && a < INDEX_ATTEMPTS; a++) {
		struct ots_table t;
		Ots__StoredTable nt, it = OTS__STORED_TABLE__INIT;
		Ots__TableMeta meta, imeta = OTS__TABLE_META__INIT;
		Ots__PrimaryKeySchema pks[OTS_PK_MAX], *pkp[OTS_PK_MAX];
		_cleanup_free_ Ots__IndexMeta **ims = NULL;
		_cleanup_free_ Ots__DefinedColumnSchema **dcs = NULL;
		const char *name = im ? im->name : drop, *msg = NULL;
		struct ix_pk ip;
		size_t n = 0;
		bool found = false;

		if ((r = ots_table_open(c, base, &t)) < 0)
			return r;
		meta = *t.t->table_meta;
		if (t.t->index_of) {
			r = ots_invalid(c, "'%.64s' is an index, not a table.", base);
			goto next;
		}
		if (!(ims = calloc(meta.n_index_meta + 1, sizeof(*ims))) ||
		    (im && !(dcs = calloc(im->n_defined_column + 1, sizeof(*dcs))))) {
			r = ots_fail_errno(c, -ENOMEM);
			goto next;
		}
		for (size_t i = 0; i < meta.n_index_meta; i++) {
			if (streq(meta.index_meta[i]->name, name))
				found = true;
			else
				ims[n++] = meta.index_meta[i];
		}
		if (im && n >= OTS_INDEXES_MAX) {
			r = ots_fail(c, 403, "OTSQuotaExhausted", "A table has at most %d indexes.", OTS_INDEXES_MAX);
			goto next;
		}
		if (im && found) {
			r = ots_fail(c, 409, "OTSObjectAlreadyExist", "Requested index already exists.");
			goto next;
		}
		if (!im && !found) {
			r = ots_fail(c, 404, "OTSObjectNotExist", "Requested index does not exist.");
			goto next;
		}
		if (im && ((r = ots_index_meta_check(c, &meta, t.t->table_options, im)) < 0))
			goto next;
		if (im) {
			ims[n++] = (Ots__IndexMeta *)im;
			(void)ix_pk_make(&meta, im, &ip, &msg);
			for (size_t i = 0; i < ip.n; i++) {
				pks[i] = (Ots__PrimaryKeySchema)OTS__PRIMARY_KEY_SCHEMA__INIT;
				pks[i].name = (char *)ip.name[i];
				pks[i].type = ip.type[i];
				pkp[i] = &pks[i];
			}
			for (size_t i = 0; i < im->n_defined_column; i++)
				dcs[i] = (Ots__DefinedColumnSchema *)defined(&meta, im->defined_column[i]);
			imeta.table_name = im->name;
			imeta.n_primary_key = ip.n;
			imeta.primary_key = pkp;
			imeta.n_defined_column = im->n_defined_column;
			imeta.defined_column = dcs;
			it.table_meta = &imeta;
			it.table_options = t.t->table_options;
			it.reserved = t.t->reserved;
			it.rows_object = t.t->rows_object;
			it.created_s = c->now_ms / 1000;
			it.index_of = (char *)base;
		}
		meta.n_index_meta = n;
		meta.index_meta = ims;
		nt = *t.t;
		nt.table_meta = &meta;
		r = ots_cat_index(c->o, &c->scope, t.t, &nt, name, im ? &it : NULL, c->o->max_tables);
		if (r == -EEXIST)
			r = ots_fail(c, 409, "OTSObjectAlreadyExist", "A table or index '%.64s' already exists.", name);
		else if (r == -EDQUOT)
			r = ots_fail(c, 403, "OTSQuotaExhausted", "Number of tables exceeded the quota of %u.",
				     c->o->max_tables);
		else if (r == 0 && (r = epoch_set(c->o, t.t->rows_object, &meta)) < 0)
			r = ots_fail_errno(c, r);
		else if (r == 0 && !im && (r = ots_index_purge(c->o, t.t->rows_object, name)) < 0) {
			log_warn("a dropped index's rows stay behind", "object=%s index=%s error=%s",
				 t.t->rows_object, name, strerror(-r));
			r = 0;
		}
		else if (r < 0 && r != -ECANCELED)
			r = ots_fail_errno(c, r);
	next:
		ots_table_close(&t);
	}
	if (r == -ECANCELED)
		r = ots_fail_errno(c, r);
	return r;
}

int ots_index_add(struct ots_call *c, const char *base, const Ots__IndexMeta *im)
{
	return index_change(c, base, im, NULL);
}

/* ---- include_base_data: the index rows of the rows already there */

struct backfill {
	struct ots_call *c;
	const Ots__TableMeta *m;
	const Ots__IndexMeta *im;
	const char *oid;
	size_t rows;
};

/* One row's index row, set in one operation with a compare of the row as read: a row a
 * writer changed meanwhile is read again (that writer already knew the index, or this
 * sees its write). */
static int backfill_fn(const char *key, const char *val, size_t len, void *arg)
{
	struct backfill *bf = arg;
	_cleanup_free_ char *cur = NULL;

	if ((unsigned char)key[0] == 0xff)
		return 1; /* past the rows: transactions and indexes */
	for (int a = 0; a < INDEX_ATTEMPTS; a++) {
		_cleanup_free_ char *ik = NULL, *iv = NULL;
		struct ots_row row = { 0 };
		const char *msg = NULL;
		size_t il = 0;
		int r;

		if (ots_pb_decode_row(val, len, &row) < 0)
			return -EIO;
		r = ix_row(bf->m, bf->im, &row, &ik, &iv, &il, &msg);
		ots_row_clear(&row);
		if (r == -EINVAL || (r == 0 && !ik))
			return 0; /* no index row for it */
		if (r < 0)
			return r;
		{
			struct ots_omap_step st[2] = {
				{ .key = key, .cmp = true, .old = val, .old_len = len },
				{ .key = ik, .act = OTS_OMAP_SET, .val = iv, .val_len = il },
			};

			r = ots_omap_apply(bf->c->o, bf->oid, st, 2, true);
		}
		if (r == 0)
			bf->rows++;
		if (r != -ECANCELED)
			return r;
		free(cur);
		cur = NULL;
		if ((r = ots_row_read(bf->c->o, bf->oid, key, &cur, &len)) == -ENOENT)
			return 0;
		if (r < 0)
			return r;
		val = cur;
	}
	return -ECANCELED;
}

static int backfill(struct ots_call *c, const char *base, const char *index)
{
	struct ots_table t;
	int r;

	if ((r = ots_table_open(c, base, &t)) < 0)
		return r;
	for (size_t i = 0; i < t.t->table_meta->n_index_meta; i++) {
		struct backfill bf = { .c = c, .m = t.t->table_meta, .im = t.t->table_meta->index_meta[i],
				       .oid = t.t->rows_object };

		if (!streq(bf.im->name, index))
			continue;
		r = ots_row_scan(c->o, t.t->rows_object, "", false, backfill_fn, &bf);
		if (r < 0)
			r = ots_fail_errno(c, r);
		else
			log_info("index filled", "table=%s index=%s rows=%zu", base, index, bf.rows);
	}
	ots_table_close(&t);
	return r;
}

int ots_op_create_index(struct ots_call *c)
{
	Ots__CreateIndexRequest *q = ots__create_index_request__unpack(NULL, c->body_len, c->body);
	Ots__CreateIndexResponse resp = OTS__CREATE_INDEX_RESPONSE__INIT;
	int r;

	if (!q)
		return ots_invalid(c, "Failed to parse the request.");
	r = index_change(c, q->main_table_name, q->index_meta, NULL);
	if (r == 0 && q->has_include_base_data && q->include_base_data)
		r = backfill(c, q->main_table_name, q->index_meta->name);
	if (r == 0)
		r = ots_reply(c, &resp.base);
	ots__create_index_request__free_unpacked(q, NULL);
	return r;
}

int ots_op_drop_index(struct ots_call *c)
{
	Ots__DropIndexRequest *q = ots__drop_index_request__unpack(NULL, c->body_len, c->body);
	Ots__DropIndexResponse resp = OTS__DROP_INDEX_RESPONSE__INIT;
	int r;

	if (!q)
		return ots_invalid(c, "Failed to parse the request.");
	if (!ots_name_valid(q->index_name, strlen(q->index_name)))
		r = ots_invalid(c, "Invalid index name.");
	else if ((r = index_change(c, q->main_table_name, NULL, q->index_name)) == 0)
		r = ots_reply(c, &resp.base);
	ots__drop_index_request__free_unpacked(q, NULL);
	return r;
}

int ots_index_drop_all(struct ots_call *c, const char *base)
{
	struct ots_table t;
	int r;

	if ((r = ots_table_open(c, base, &t)) < 0)
		return r;
	if (t.t->index_of) {
		r = ots_invalid(c, "'%.64s' is an index: drop it with DropIndex.", base);
	} else {
		for (size_t i = t.t->table_meta->n_index_meta; i > 0 && r == 0; i--)
			r = index_change(c, base, NULL, t.t->table_meta->index_meta[i - 1]->name);
	}
	ots_table_close(&t);
	return r;
}
