/* key.h: a table's primary key: the schema check every request's key goes through, and the
 * encoding of a key into an omap key whose byte order is the key's order (integers signed,
 * strings and binaries of any bytes, shorter first), so a range of rows is a range of omap
 * keys. Each column encodes as:
 *   INTEGER      16 lower-case hex digits of the value with its sign bit flipped
 *   STRING/BLOB  its bytes, 0x00 -> 01 02, 0x01 -> 01 03, 0xfe -> fe 01, 0xff -> fe 02,
 *                then 01 01 (so no encoding is a prefix of another and 0xff never occurs)
 * A row's omap key is its columns' encodings and OTS_KEY_END. A bound with INF_MIN at a
 * column stops before that column; INF_MAX appends 0xff there. */
#ifndef OTS_KEY_H
#define OTS_KEY_H

#include <stdbool.h>
#include <stddef.h>

#include "plainbuf.h"

#define OTS_PK_MAX 4
#define OTS_PK_VALUE_MAX 1024 /* bytes of one STRING or BINARY key column */
#define OTS_KEY_END '.'

struct ots_schema {
	size_t n;
	struct {
		char name[OTS_PB_MAX_NAME + 1];
		uint8_t type; /* OTS_VT_INTEGER, OTS_VT_STRING, OTS_VT_BLOB */
		bool auto_incr; /* an INTEGER column, not the first, whose PutRow value the server makes */
	} col[OTS_PK_MAX];
};

enum ots_key_use {
	OTS_KEY_ROW,   /* a row's key: every column, typed as the schema says */
	OTS_KEY_BOUND, /* a range bound: INF_MIN and INF_MAX allowed */
	OTS_KEY_PUT,   /* a PutRow's key: as a row's, with PK_AUTO_INCR at the auto-increment column */
};

/* 0, or -EINVAL with a message for the caller's error in *ret_msg (static). */
int ots_key_check(const struct ots_schema *s, const struct ots_cell *pk, size_t n, enum ots_key_use use,
		  const char **ret_msg);
/* The omap key (NUL-terminated, caller frees). A row key ends with OTS_KEY_END; a bound
 * also when it has no INF (with_end says whether to add it then). */
int ots_key_encode(const struct ots_schema *s, const struct ots_cell *pk, size_t n, bool with_end, char **ret);
/* Whether a name is a table or column name: [A-Za-z_][A-Za-z0-9_]{0,254}. */
bool ots_name_valid(const char *name, size_t len);

#endif
