#include "row.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "key.h"
#include "ots.h"

int ots_row_check_write(const struct ots_row *req, bool update, const char **ret_msg)
{
	if (req->n_cols > OTS_COLUMNS_PER_WRITE_MAX) {
		*ret_msg = "The number of attribute columns exceeds the limit of 1024.";
		return -EINVAL;
	}
	for (size_t i = 0; i < req->n_cols; i++) {
		const struct ots_cell *c = &req->cols[i];

		if (!ots_name_valid(c->name, c->name_len)) {
			*ret_msg = "Invalid column name.";
			return -EINVAL;
		}
		if (c->op == OTS_OP_DELETE_ALL || c->op == OTS_OP_DELETE_ONE) {
			if (!update || c->has_value || (c->op == OTS_OP_DELETE_ONE && !c->has_ts)) {
				*ret_msg = "A column delete must have no value; deleting one version needs its timestamp.";
				return -EINVAL;
			}
		} else if (!c->has_value || (c->op && !update)) {
			*ret_msg = "An attribute column has no value.";
			return -EINVAL;
		}
		if (c->has_value) {
			switch (c->v.type) {
			case OTS_VT_INTEGER:
			case OTS_VT_DOUBLE:
			case OTS_VT_BOOLEAN:
			case OTS_VT_STRING:
			case OTS_VT_BLOB:
				break;
			default:
				*ret_msg = "Invalid attribute column type.";
				return -EINVAL;
			}
			if (c->v.len > OTS_ATTR_VALUE_MAX) {
				*ret_msg = "The length of an attribute column exceeds the 2 MB limit.";
				return -EINVAL;
			}
		}
		if (c->has_ts && c->ts < 0) {
			*ret_msg = "A timestamp must not be negative.";
			return -EINVAL;
		}
	}
	if (req->delete_marker) {
		*ret_msg = "A write row must not carry the delete marker.";
		return -EINVAL;
	}
	return 0;
}

static int cell_cmp(const void *pa, const void *pb)
{
	const struct ots_cell *a = pa, *b = pb;
	size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
	int c = n ? memcmp(a->name, b->name, n) : 0;

	if (c)
		return c;
	if (a->name_len != b->name_len)
		return a->name_len < b->name_len ? -1 : 1;
	return a->ts > b->ts ? -1 : a->ts < b->ts;
}

static bool same_name(const struct ots_cell *a, const struct ots_cell *b)
{
	return a->name_len == b->name_len && memcmp(a->name, b->name, a->name_len) == 0;
}

static bool expired(const struct ots_cell *c, const struct ots_table_rules *rules)
{
	return rules->ttl_s > 0 && c->ts < rules->now_ms - (int64_t)rules->ttl_s * 1000;
}

/* Sort, drop duplicates of (name, ts) keeping the first, trim versions, drop expired. */
static void normalise(struct ots_row *r, const struct ots_table_rules *rules)
{
	size_t w = 0, versions = 0;

	/* stable for equal (name, ts): a later cell replaces an earlier one, so reverse first */
	for (size_t i = 0; i < r->n_cols / 2; i++) {
		struct ots_cell t = r->cols[i];

		r->cols[i] = r->cols[r->n_cols - 1 - i];
		r->cols[r->n_cols - 1 - i] = t;
	}
	for (size_t i = 1; i < r->n_cols; i++) /* insertion sort: stable, rows are small */
		for (size_t j = i; j > 0 && cell_cmp(&r->cols[j - 1], &r->cols[j]) > 0; j--) {
			struct ots_cell t = r->cols[j];

			r->cols[j] = r->cols[j - 1];
			r->cols[j - 1] = t;
		}
	for (size_t i = 0; i < r->n_cols; i++) {
		struct ots_cell *c = &r->cols[i];

		if (w && same_name(&r->cols[w - 1], c)) {
			if (r->cols[w - 1].ts == c->ts || versions >= (size_t)rules->max_versions)
				continue;
			versions++;
		} else {
			versions = 1;
		}
		if (expired(c, rules)) {
			continue;
		}
		r->cols[w++] = *c;
	}
	r->n_cols = w;
}

int ots_row_apply(const struct ots_row *old, const struct ots_row *req, bool update,
		  const struct ots_table_rules *rules, struct ots_row *out)
{
	size_t n_old = old && update ? old->n_cols : 0, n = 0;

	*out = (struct ots_row){ .pk = NULL, .n_pk = 0 };
	out->cols = calloc(n_old + req->n_cols + 1, sizeof(*out->cols));
	if (!out->cols)
		return -ENOMEM;
	for (size_t i = 0; i < n_old; i++)
		out->cols[n++] = old->cols[i];
	for (size_t i = 0; i < req->n_cols; i++) {
		struct ots_cell c = req->cols[i];

		if (c.op == OTS_OP_INCREMENT) {
			free(out->cols);
			out->cols = NULL;
			return -EOPNOTSUPP;
		}
		if (c.op == OTS_OP_DELETE_ALL || c.op == OTS_OP_DELETE_ONE) {
			size_t w = 0;

			for (size_t k = 0; k < n; k++)
				if (!same_name(&out->cols[k], &c) || (c.op == OTS_OP_DELETE_ONE && out->cols[k].ts != c.ts))
					out->cols[w++] = out->cols[k];
			n = w;
			continue;
		}
		if (!c.has_ts) {
			c.has_ts = true;
			c.ts = rules->now_ms;
		}
		c.op = OTS_OP_PUT;
		out->cols[n++] = c;
	}
	out->n_cols = n;
	normalise(out, rules);
	return 0;
}

static bool wanted(const struct ots_cell *c, const struct ots_read_spec *spec)
{
	if (!spec->n_columns)
		return true;
	for (size_t i = 0; i < spec->n_columns; i++)
		if (ots_name_eq(c, spec->columns[i]))
			return true;
	return false;
}

int ots_row_select(const struct ots_row *stored, const struct ots_read_spec *spec,
		   const struct ots_table_rules *rules, struct ots_row *out)
{
	size_t versions = 0;

	*out = (struct ots_row){ .pk = stored->pk, .n_pk = stored->n_pk };
	out->cols = calloc(stored->n_cols + 1, sizeof(*out->cols));
	if (!out->cols)
		return -ENOMEM;
	for (size_t i = 0; i < stored->n_cols; i++) {
		const struct ots_cell *c = &stored->cols[i];

		if (i == 0 || !same_name(&stored->cols[i - 1], c))
			versions = 0;
		if (!wanted(c, spec) || expired(c, rules))
			continue;
		if (spec->has_range && (c->ts < spec->start_ms || c->ts >= spec->end_ms))
			continue;
		if (spec->max_versions > 0 && versions >= (size_t)spec->max_versions)
			continue;
		versions++;
		out->cols[out->n_cols++] = *c;
	}
	return 0;
}
