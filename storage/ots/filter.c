#include "filter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ots.pb-c.h"

enum node_kind { N_SINGLE, N_NOT, N_AND, N_OR, N_PAGING };

struct ots_filter {
	enum node_kind kind;
	/* N_SINGLE */
	int cmp; /* Ots__ComparatorType */
	char name[OTS_PB_MAX_NAME + 1];
	size_t name_len;
	struct ots_value v;
	uint8_t *v_bytes; /* STRING/BLOB bytes (v.p) */
	bool filter_if_missing, latest_only;
	/* composites */
	struct ots_filter **subs;
	size_t n_subs;
	/* N_PAGING */
	int32_t offset, limit;
};

static uint64_t le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* A PlainBuffer value (type byte, then the value) into f->v. */
static int value_decode(struct ots_filter *f, const uint8_t *p, size_t len)
{
	uint64_t bits;

	if (len < 1)
		return -EINVAL;
	f->v.type = p[0];
	p++;
	len--;
	switch (f->v.type) {
	case OTS_VT_INTEGER:
	case OTS_VT_DOUBLE:
		if (len != 8)
			return -EINVAL;
		bits = le(p, 8);
		if (f->v.type == OTS_VT_INTEGER)
			f->v.i = (int64_t)bits;
		else
			memcpy(&f->v.d, &bits, sizeof(bits));
		return 0;
	case OTS_VT_BOOLEAN:
		if (len != 1)
			return -EINVAL;
		f->v.i = p[0] != 0;
		return 0;
	case OTS_VT_STRING:
	case OTS_VT_BLOB:
		if (len < 4 || le(p, 4) != len - 4)
			return -EINVAL;
		f->v.len = (uint32_t)(len - 4);
		f->v_bytes = malloc(f->v.len ? f->v.len : 1);
		if (!f->v_bytes)
			return -ENOMEM;
		memcpy(f->v_bytes, p + 4, f->v.len);
		f->v.p = f->v_bytes;
		return 0;
	default:
		return -EINVAL;
	}
}

static int parse(const Ots__Filter *m, bool paging, size_t *nodes, struct ots_filter **ret, const char **ret_msg);

static int parse_single(struct ots_filter *f, const ProtobufCBinaryData *b, const char **ret_msg)
{
	Ots__SingleColumnValueFilter *s = ots__single_column_value_filter__unpack(NULL, b->len, b->data);
	int r = -EINVAL;

	*ret_msg = "Invalid single column condition.";
	if (!s)
		return -EINVAL;
	f->kind = N_SINGLE;
	f->name_len = strlen(s->column_name);
	if (s->comparator < OTS__COMPARATOR_TYPE__CT_EQUAL || s->comparator > OTS__COMPARATOR_TYPE__CT_LESS_EQUAL) {
		*ret_msg = "Invalid comparator in a column condition.";
	} else if (f->name_len == 0 || f->name_len > OTS_PB_MAX_NAME) {
		*ret_msg = "Invalid column name in a column condition.";
	} else if ((r = value_decode(f, s->column_value.data, s->column_value.len)) == -EINVAL) {
		*ret_msg = "Invalid column value in a column condition.";
	} else if (r == 0) {
		f->cmp = s->comparator;
		memcpy(f->name, s->column_name, f->name_len + 1);
		f->filter_if_missing = s->filter_if_missing;
		f->latest_only = s->latest_version_only;
	}
	ots__single_column_value_filter__free_unpacked(s, NULL);
	return r;
}

static int parse_composite(struct ots_filter *f, const ProtobufCBinaryData *b, size_t *nodes, const char **ret_msg)
{
	Ots__CompositeColumnValueFilter *s = ots__composite_column_value_filter__unpack(NULL, b->len, b->data);
	int r = -EINVAL;

	*ret_msg = "Invalid composite column condition.";
	if (!s)
		return -EINVAL;
	switch (s->combinator) {
	case OTS__LOGICAL_OPERATOR__LO_NOT:
		f->kind = N_NOT;
		break;
	case OTS__LOGICAL_OPERATOR__LO_AND:
		f->kind = N_AND;
		break;
	case OTS__LOGICAL_OPERATOR__LO_OR:
		f->kind = N_OR;
		break;
	default:
		goto out;
	}
	if (s->n_sub_filters == 0 || (f->kind == N_NOT && s->n_sub_filters != 1)) {
		*ret_msg = "NOT takes exactly one condition, AND and OR at least one.";
		goto out;
	}
	if (s->n_sub_filters > OTS_FILTER_NODES_MAX) {
		*ret_msg = "A filter has more than 32 conditions.";
		goto out;
	}
	f->subs = calloc(s->n_sub_filters, sizeof(*f->subs));
	if (!f->subs) {
		r = -ENOMEM;
		goto out;
	}
	r = 0;
	for (size_t i = 0; i < s->n_sub_filters && r == 0; i++) {
		r = parse(s->sub_filters[i], false, nodes, &f->subs[i], ret_msg);
		if (r == 0)
			f->n_subs++;
	}
out:
	ots__composite_column_value_filter__free_unpacked(s, NULL);
	return r;
}

static int parse(const Ots__Filter *m, bool paging, size_t *nodes, struct ots_filter **ret, const char **ret_msg)
{
	struct ots_filter *f;
	int r = -EINVAL;

	*ret = NULL;
	if (++*nodes > OTS_FILTER_NODES_MAX) {
		*ret_msg = "A filter has more than 32 conditions.";
		return -EINVAL;
	}
	if (!(f = calloc(1, sizeof(*f))))
		return -ENOMEM;
	switch (m->type) {
	case OTS__FILTER_TYPE__FT_SINGLE_COLUMN_VALUE:
		r = parse_single(f, &m->filter, ret_msg);
		break;
	case OTS__FILTER_TYPE__FT_COMPOSITE_COLUMN_VALUE:
		r = parse_composite(f, &m->filter, nodes, ret_msg);
		break;
	case OTS__FILTER_TYPE__FT_COLUMN_PAGINATION: {
		Ots__ColumnPaginationFilter *pg =
			paging ? ots__column_pagination_filter__unpack(NULL, m->filter.len, m->filter.data) : NULL;

		*ret_msg = paging ? "Invalid column pagination filter."
				  : "A column pagination filter is only for a read, alone.";
		if (pg && pg->offset >= 0 && pg->limit > 0) {
			f->kind = N_PAGING;
			f->offset = pg->offset;
			f->limit = pg->limit;
			r = 0;
		}
		if (pg)
			ots__column_pagination_filter__free_unpacked(pg, NULL);
		break;
	}
	default:
		*ret_msg = "Invalid filter type.";
	}
	if (r < 0) {
		ots_filter_free(f);
		return r;
	}
	*ret = f;
	return 0;
}

int ots_filter_parse(const uint8_t *p, size_t len, bool paging, struct ots_filter **ret, const char **ret_msg)
{
	Ots__Filter *m = ots__filter__unpack(NULL, len, p);
	size_t nodes = 0;
	int r;

	*ret = NULL;
	if (!m) {
		*ret_msg = "Failed to parse the filter.";
		return -EINVAL;
	}
	r = parse(m, paging, &nodes, ret, ret_msg);
	ots__filter__free_unpacked(m, NULL);
	return r;
}

void ots_filter_free(struct ots_filter *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n_subs; i++)
		ots_filter_free(f->subs[i]);
	free(f->subs);
	free(f->v_bytes);
	free(f);
}

static bool compare(const struct ots_filter *f, const struct ots_value *v)
{
	int c;

	if (v->type != f->v.type)
		return f->cmp == OTS__COMPARATOR_TYPE__CT_NOT_EQUAL;
	c = ots_value_cmp(v, &f->v);
	switch (f->cmp) {
	case OTS__COMPARATOR_TYPE__CT_EQUAL:
		return c == 0;
	case OTS__COMPARATOR_TYPE__CT_NOT_EQUAL:
		return c != 0;
	case OTS__COMPARATOR_TYPE__CT_GREATER_THAN:
		return c > 0;
	case OTS__COMPARATOR_TYPE__CT_GREATER_EQUAL:
		return c >= 0;
	case OTS__COMPARATOR_TYPE__CT_LESS_THAN:
		return c < 0;
	default:
		return c <= 0;
	}
}

static bool single_match(const struct ots_filter *f, const struct ots_row *row)
{
	bool seen = false;

	for (size_t i = 0; row && i < row->n_cols; i++) {
		const struct ots_cell *c = &row->cols[i];

		if (c->name_len != f->name_len || memcmp(c->name, f->name, f->name_len) || !c->has_value)
			continue;
		if (compare(f, &c->v))
			return true;
		if (f->latest_only)
			return false; /* the newest version is the first */
		seen = true;
	}
	return !seen && !f->filter_if_missing;
}

bool ots_filter_match(const struct ots_filter *f, const struct ots_row *row)
{
	switch (f->kind) {
	case N_SINGLE:
		return single_match(f, row);
	case N_NOT:
		return !ots_filter_match(f->subs[0], row);
	case N_AND:
		for (size_t i = 0; i < f->n_subs; i++)
			if (!ots_filter_match(f->subs[i], row))
				return false;
		return true;
	case N_OR:
		for (size_t i = 0; i < f->n_subs; i++)
			if (ots_filter_match(f->subs[i], row))
				return true;
		return false;
	default:
		return true;
	}
}

bool ots_filter_paging(const struct ots_filter *f, int32_t *ret_offset, int32_t *ret_limit)
{
	if (f->kind != N_PAGING)
		return false;
	*ret_offset = f->offset;
	*ret_limit = f->limit;
	return true;
}
