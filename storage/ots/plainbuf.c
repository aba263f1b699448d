#include "plainbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum {
	TAG_ROW_PK = 0x1,
	TAG_ROW_DATA = 0x2,
	TAG_CELL = 0x3,
	TAG_CELL_NAME = 0x4,
	TAG_CELL_VALUE = 0x5,
	TAG_CELL_TYPE = 0x6,
	TAG_CELL_TIMESTAMP = 0x7,
	TAG_DELETE_ROW_MARKER = 0x8,
	TAG_ROW_CHECKSUM = 0x9,
	TAG_CELL_CHECKSUM = 0xA,
};

static uint8_t crc_table[256];

static void __attribute__((constructor)) crc_table_init(void)
{
	for (unsigned i = 0; i < 256; i++) {
		uint8_t c = (uint8_t)i;

		for (int k = 0; k < 8; k++)
			c = (uint8_t)(c & 0x80 ? (c << 1) ^ 0x07 : c << 1);
		crc_table[i] = c;
	}
}

uint8_t ots_crc8(uint8_t crc, const void *p, size_t len)
{
	const uint8_t *s = p;

	for (size_t i = 0; i < len; i++)
		crc = crc_table[crc ^ s[i]];
	return crc;
}

static uint8_t crc_byte(uint8_t crc, uint8_t b)
{
	return crc_table[crc ^ b];
}

static uint8_t crc_u32(uint8_t crc, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		crc = crc_byte(crc, (uint8_t)(v >> (8 * i)));
	return crc;
}

static uint8_t crc_u64(uint8_t crc, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		crc = crc_byte(crc, (uint8_t)(v >> (8 * i)));
	return crc;
}

void ots_row_clear(struct ots_row *r)
{
	free(r->pk);
	free(r->cols);
	*r = (struct ots_row){ 0 };
}

void ots_rows_free(struct ots_row *rows, size_t n)
{
	for (size_t i = 0; rows && i < n; i++)
		ots_row_clear(&rows[i]);
	free(rows);
}

/* ---- decoding */

struct in {
	const uint8_t *p, *end;
	int tag; /* the tag last read; -1 at the end */
};

static int get(struct in *s, void *out, size_t n)
{
	if ((size_t)(s->end - s->p) < n)
		return -EINVAL;
	memcpy(out, s->p, n);
	s->p += n;
	return 0;
}

static int get_u32(struct in *s, uint32_t *v)
{
	uint8_t b[4];

	if (get(s, b, 4) < 0)
		return -EINVAL;
	*v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
	return 0;
}

static int get_u64(struct in *s, uint64_t *v)
{
	uint32_t lo, hi;

	if (get_u32(s, &lo) < 0 || get_u32(s, &hi) < 0)
		return -EINVAL;
	*v = (uint64_t)hi << 32 | lo;
	return 0;
}

static void next_tag(struct in *s)
{
	s->tag = s->p < s->end ? *s->p++ : -1;
}

/* TAG_CELL_VALUE was read: the value, its checksum folded into *crc. */
static int get_value(struct in *s, struct ots_value *v, uint8_t *crc)
{
	uint32_t total, n;
	uint64_t u;
	const uint8_t *start;
	uint8_t t;

	if (get_u32(s, &total) < 0 || total < 1 || total > (size_t)(s->end - s->p))
		return -EINVAL;
	start = s->p;
	if (get(s, &t, 1) < 0)
		return -EINVAL;
	*v = (struct ots_value){ .type = t };
	*crc = crc_byte(*crc, t);
	switch (t) {
	case OTS_VT_INTEGER:
	case OTS_VT_DOUBLE:
		if (get_u64(s, &u) < 0)
			return -EINVAL;
		*crc = crc_u64(*crc, u);
		if (t == OTS_VT_INTEGER)
			v->i = (int64_t)u;
		else
			memcpy(&v->d, &u, sizeof(v->d));
		break;
	case OTS_VT_BOOLEAN:
		if (get(s, &t, 1) < 0 || t > 1)
			return -EINVAL;
		v->i = t;
		*crc = crc_byte(*crc, t);
		break;
	case OTS_VT_STRING:
	case OTS_VT_BLOB:
		if (get_u32(s, &n) < 0 || n > (size_t)(s->end - s->p))
			return -EINVAL;
		v->p = s->p;
		v->len = n;
		s->p += n;
		*crc = ots_crc8(crc_u32(*crc, n), v->p, n);
		break;
	case OTS_VT_INF_MIN:
	case OTS_VT_INF_MAX:
	case OTS_VT_AUTO_INCREMENT:
		break;
	default:
		return -EINVAL;
	}
	if ((size_t)(s->p - start) != total)
		return -EINVAL;
	next_tag(s);
	return 0;
}

/* TAG_CELL was read. */
static int get_cell(struct in *s, bool pk, struct ots_cell *c, uint8_t *row_crc)
{
	uint8_t crc = 0, want;
	uint64_t ts;
	int r;

	*c = (struct ots_cell){ 0 };
	next_tag(s);
	if (s->tag != TAG_CELL_NAME || get_u32(s, &c->name_len) < 0 || c->name_len > OTS_PB_MAX_NAME ||
	    c->name_len > (size_t)(s->end - s->p))
		return -EINVAL;
	c->name = (const char *)s->p;
	s->p += c->name_len;
	crc = ots_crc8(crc, c->name, c->name_len);
	next_tag(s);
	if (s->tag == TAG_CELL_VALUE) {
		if ((r = get_value(s, &c->v, &crc)) < 0)
			return r;
		c->has_value = true;
	} else if (pk) {
		return -EINVAL;
	}
	/* The SDKs write the type before or after the timestamp; the checksum takes the
	 * timestamp first. */
	for (int i = 0; i < 2 && !pk; i++) {
		if (s->tag == TAG_CELL_TYPE && !c->op) {
			if (get(s, &c->op, 1) < 0 || (c->op != OTS_OP_DELETE_ALL && c->op != OTS_OP_DELETE_ONE &&
						       c->op != OTS_OP_INCREMENT))
				return -EINVAL;
			next_tag(s);
		} else if (s->tag == TAG_CELL_TIMESTAMP && !c->has_ts) {
			if (get_u64(s, &ts) < 0)
				return -EINVAL;
			c->has_ts = true;
			c->ts = (int64_t)ts;
			next_tag(s);
		}
	}
	if (c->has_ts)
		crc = crc_u64(crc, (uint64_t)c->ts);
	if (c->op)
		crc = crc_byte(crc, c->op);
	if (s->tag != TAG_CELL_CHECKSUM || get(s, &want, 1) < 0)
		return -EINVAL;
	if (want != crc)
		return -EBADMSG;
	*row_crc = crc_byte(*row_crc, crc);
	next_tag(s);
	return 0;
}

static int push(struct ots_cell **v, size_t *n, size_t *cap, size_t total)
{
	if (total >= OTS_PB_MAX_CELLS)
		return -EINVAL;
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 4;
		struct ots_cell *nv = reallocarray(*v, nc, sizeof(**v));

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = nc;
	}
	return 0;
}

/* The first tag of the row was read; on return the tag after its checksum is. */
static int get_row(struct in *s, struct ots_row *row)
{
	size_t cap_pk = 0, cap_cols = 0;
	uint8_t crc = 0, want;
	int r;

	*row = (struct ots_row){ 0 };
	if (s->tag != TAG_ROW_PK)
		return -EINVAL;
	next_tag(s);
	while (s->tag == TAG_CELL) {
		if ((r = push(&row->pk, &row->n_pk, &cap_pk, row->n_pk)) < 0 ||
		    (r = get_cell(s, true, &row->pk[row->n_pk], &crc)) < 0)
			goto fail;
		row->n_pk++;
	}
	if (s->tag == TAG_ROW_DATA) {
		next_tag(s);
		while (s->tag == TAG_CELL) {
			if ((r = push(&row->cols, &row->n_cols, &cap_cols, row->n_pk + row->n_cols)) < 0 ||
			    (r = get_cell(s, false, &row->cols[row->n_cols], &crc)) < 0)
				goto fail;
			row->n_cols++;
		}
	}
	if (s->tag == TAG_DELETE_ROW_MARKER) {
		row->delete_marker = true;
		next_tag(s);
	}
	crc = crc_byte(crc, row->delete_marker ? 1 : 0);
	r = -EINVAL;
	if (s->tag != TAG_ROW_CHECKSUM || get(s, &want, 1) < 0)
		goto fail;
	r = -EBADMSG;
	if (want != crc)
		goto fail;
	next_tag(s);
	return 0;
fail:
	ots_row_clear(row);
	return r;
}

static int get_header(struct in *s, const void *buf, size_t len)
{
	uint32_t h;

	*s = (struct in){ .p = buf, .end = (const uint8_t *)buf + len };
	if (get_u32(s, &h) < 0 || h != OTS_PB_HEADER)
		return -EINVAL;
	next_tag(s);
	return 0;
}

int ots_pb_decode_row(const void *buf, size_t len, struct ots_row *ret)
{
	struct in s;
	int r;

	if ((r = get_header(&s, buf, len)) < 0 || (r = get_row(&s, ret)) < 0)
		return r;
	/* The Node SDK sizes some buffers too large and sends the zeros after the row. */
	while (s.tag == 0)
		next_tag(&s);
	if (s.tag != -1) {
		ots_row_clear(ret);
		return -EINVAL;
	}
	return 0;
}

int ots_pb_decode_rows(const void *buf, size_t len, struct ots_row **ret_rows, size_t *ret_n)
{
	struct ots_row *rows = NULL;
	size_t n = 0, cap = 0;
	struct in s;
	int r;

	if ((r = get_header(&s, buf, len)) < 0)
		return r;
	while (s.tag != -1) {
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct ots_row *nr = reallocarray(rows, nc, sizeof(*rows));

			if (!nr) {
				r = -ENOMEM;
				goto fail;
			}
			rows = nr;
			cap = nc;
		}
		if ((r = get_row(&s, &rows[n])) < 0)
			goto fail;
		n++;
	}
	*ret_rows = rows;
	*ret_n = n;
	return 0;
fail:
	ots_rows_free(rows, n);
	return r;
}

/* ---- encoding */

static int put(struct ecs_buf *b, const void *p, size_t n, size_t max)
{
	return ecs_buf_append(b, p, n, max);
}

static int put_u8(struct ecs_buf *b, uint8_t v, size_t max)
{
	return put(b, &v, 1, max);
}

static int put_u32(struct ecs_buf *b, uint32_t v, size_t max)
{
	uint8_t x[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	return put(b, x, 4, max);
}

static int put_u64(struct ecs_buf *b, uint64_t v, size_t max)
{
	int r = put_u32(b, (uint32_t)v, max);

	return r < 0 ? r : put_u32(b, (uint32_t)(v >> 32), max);
}

int ots_pb_put_header(struct ecs_buf *b, size_t max)
{
	return put_u32(b, OTS_PB_HEADER, max);
}

static int put_value(struct ecs_buf *b, const struct ots_value *v, uint8_t *crc, size_t max)
{
	uint64_t u;
	int r;

	*crc = crc_byte(*crc, v->type);
	switch (v->type) {
	case OTS_VT_INTEGER:
	case OTS_VT_DOUBLE:
		if (v->type == OTS_VT_INTEGER)
			u = (uint64_t)v->i;
		else
			memcpy(&u, &v->d, sizeof(u));
		*crc = crc_u64(*crc, u);
		if ((r = put_u32(b, 9, max)) < 0 || (r = put_u8(b, v->type, max)) < 0)
			return r;
		return put_u64(b, u, max);
	case OTS_VT_BOOLEAN:
		*crc = crc_byte(*crc, v->i ? 1 : 0);
		if ((r = put_u32(b, 2, max)) < 0 || (r = put_u8(b, v->type, max)) < 0)
			return r;
		return put_u8(b, v->i ? 1 : 0, max);
	case OTS_VT_STRING:
	case OTS_VT_BLOB:
		*crc = ots_crc8(crc_u32(*crc, v->len), v->p, v->len);
		if ((r = put_u32(b, 5 + v->len, max)) < 0 || (r = put_u8(b, v->type, max)) < 0 ||
		    (r = put_u32(b, v->len, max)) < 0)
			return r;
		return put(b, v->p, v->len, max);
	case OTS_VT_INF_MIN:
	case OTS_VT_INF_MAX:
	case OTS_VT_AUTO_INCREMENT:
		if ((r = put_u32(b, 1, max)) < 0)
			return r;
		return put_u8(b, v->type, max);
	default:
		return -EINVAL;
	}
}

static int put_cell(struct ecs_buf *b, const struct ots_cell *c, uint8_t *row_crc, size_t max)
{
	uint8_t crc = ots_crc8(0, c->name, c->name_len);
	int r;

	if ((r = put_u8(b, TAG_CELL, max)) < 0 || (r = put_u8(b, TAG_CELL_NAME, max)) < 0 ||
	    (r = put_u32(b, c->name_len, max)) < 0 || (r = put(b, c->name, c->name_len, max)) < 0)
		return r;
	if (c->has_value && ((r = put_u8(b, TAG_CELL_VALUE, max)) < 0 || (r = put_value(b, &c->v, &crc, max)) < 0))
		return r;
	if (c->op && ((r = put_u8(b, TAG_CELL_TYPE, max)) < 0 || (r = put_u8(b, c->op, max)) < 0))
		return r;
	if (c->has_ts) {
		if ((r = put_u8(b, TAG_CELL_TIMESTAMP, max)) < 0 || (r = put_u64(b, (uint64_t)c->ts, max)) < 0)
			return r;
		crc = crc_u64(crc, (uint64_t)c->ts);
	}
	if (c->op)
		crc = crc_byte(crc, c->op);
	*row_crc = crc_byte(*row_crc, crc);
	if ((r = put_u8(b, TAG_CELL_CHECKSUM, max)) < 0)
		return r;
	return put_u8(b, crc, max);
}

int ots_pb_put_row(struct ecs_buf *b, const struct ots_row *row, size_t max)
{
	uint8_t crc = 0;
	int r;

	if ((r = put_u8(b, TAG_ROW_PK, max)) < 0)
		return r;
	for (size_t i = 0; i < row->n_pk; i++)
		if ((r = put_cell(b, &row->pk[i], &crc, max)) < 0)
			return r;
	if (row->n_cols) {
		if ((r = put_u8(b, TAG_ROW_DATA, max)) < 0)
			return r;
		for (size_t i = 0; i < row->n_cols; i++)
			if ((r = put_cell(b, &row->cols[i], &crc, max)) < 0)
				return r;
	}
	if (row->delete_marker && (r = put_u8(b, TAG_DELETE_ROW_MARKER, max)) < 0)
		return r;
	crc = crc_byte(crc, row->delete_marker ? 1 : 0);
	if ((r = put_u8(b, TAG_ROW_CHECKSUM, max)) < 0)
		return r;
	return put_u8(b, crc, max);
}

int ots_value_cmp(const struct ots_value *a, const struct ots_value *b)
{
	int c;

	switch (a->type) {
	case OTS_VT_INTEGER:
	case OTS_VT_BOOLEAN:
		return a->i < b->i ? -1 : a->i > b->i;
	case OTS_VT_DOUBLE:
		return a->d < b->d ? -1 : a->d > b->d;
	default:
		c = a->len && b->len ? memcmp(a->p, b->p, a->len < b->len ? a->len : b->len) : 0;
		return c ? c : (a->len < b->len ? -1 : a->len > b->len);
	}
}

bool ots_name_eq(const struct ots_cell *c, const char *name)
{
	size_t n = strlen(name);

	return c->name_len == n && memcmp(c->name, name, n) == 0;
}
