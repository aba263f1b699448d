/* plainbuf.h: Tablestore's PlainBuffer, the row format inside the protobuf messages: a
 * 0x75 header (4 bytes, little endian), then rows of tagged cells, each cell and each row
 * closed by a CRC-8 (polynomial 0x07) the decoder checks. Decoding points into the input
 * (no copies): a decoded row lives as long as the bytes it came from. Every count and
 * length is bounded; anything malformed is -EINVAL, a checksum that does not match
 * -EBADMSG. */
#ifndef OTS_PLAINBUF_H
#define OTS_PLAINBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define OTS_PB_HEADER 0x75u
#define OTS_PB_MAX_CELLS 4096 /* per row, primary key and attributes together */
#define OTS_PB_MAX_NAME 255

enum ots_vtype {
	OTS_VT_INTEGER = 0x0,
	OTS_VT_DOUBLE = 0x1,
	OTS_VT_BOOLEAN = 0x2,
	OTS_VT_STRING = 0x3,
	OTS_VT_NULL = 0x6,
	OTS_VT_BLOB = 0x7,
	OTS_VT_INF_MIN = 0x9,
	OTS_VT_INF_MAX = 0xa,
	OTS_VT_AUTO_INCREMENT = 0xb,
};

/* What an update does to a cell (TAG_CELL_TYPE); a plain put has none. */
enum ots_cell_op {
	OTS_OP_PUT = 0,
	OTS_OP_DELETE_ALL = 0x1,
	OTS_OP_DELETE_ONE = 0x3,
	OTS_OP_INCREMENT = 0x4,
};

struct ots_value {
	uint8_t type;	    /* enum ots_vtype */
	int64_t i;	    /* INTEGER; BOOLEAN as 0/1 */
	double d;	    /* DOUBLE */
	const uint8_t *p;   /* STRING, BLOB */
	uint32_t len;
};

struct ots_cell {
	const char *name; /* not NUL-terminated */
	uint32_t name_len;
	bool has_value;
	struct ots_value v;
	bool has_ts;
	int64_t ts; /* milliseconds */
	uint8_t op; /* enum ots_cell_op */
};

struct ots_row {
	struct ots_cell *pk;
	size_t n_pk;
	struct ots_cell *cols;
	size_t n_cols;
	bool delete_marker;
};

void ots_row_clear(struct ots_row *r);

uint8_t ots_crc8(uint8_t crc, const void *p, size_t len);

/* One row after the header, the whole input (zero bytes after the row are ignored: the
 * Node SDK sends them). */
int ots_pb_decode_row(const void *buf, size_t len, struct ots_row *ret);
/* Rows after one header, until the input ends; *ret_rows is an array of n rows. */
int ots_pb_decode_rows(const void *buf, size_t len, struct ots_row **ret_rows, size_t *ret_n);
void ots_rows_free(struct ots_row *rows, size_t n);

/* Encoding into a buffer of at most max bytes (-EFBIG beyond). */
int ots_pb_put_header(struct ecs_buf *b, size_t max);
int ots_pb_put_row(struct ecs_buf *b, const struct ots_row *r, size_t max);

/* Byte order of two values of one type (strings and blobs by bytes, shorter first). */
int ots_value_cmp(const struct ots_value *a, const struct ots_value *b);
bool ots_name_eq(const struct ots_cell *c, const char *name);

#endif
