#include "key.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

bool ots_name_valid(const char *name, size_t len)
{
	if (len < 1 || len > OTS_PB_MAX_NAME)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';

		if (!alpha && (i == 0 || c < '0' || c > '9'))
			return false;
	}
	return true;
}

int ots_key_check(const struct ots_schema *s, const struct ots_cell *pk, size_t n, enum ots_key_use use,
		  const char **ret_msg)
{
	if (n != s->n) {
		*ret_msg = "The number of primary key columns must be the same as in the table's schema.";
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		const struct ots_value *v = &pk[i].v;

		if (!ots_name_eq(&pk[i], s->col[i].name)) {
			*ret_msg = "The primary key columns do not match the table's schema.";
			return -EINVAL;
		}
		if (use == OTS_KEY_BOUND && (v->type == OTS_VT_INF_MIN || v->type == OTS_VT_INF_MAX))
			continue;
		if (v->type == OTS_VT_AUTO_INCREMENT) {
			if (use != OTS_KEY_PUT || !s->col[i].auto_incr) {
				*ret_msg = "PK_AUTO_INCR is only for the auto-increment column of a row being put.";
				return -EINVAL;
			}
			continue;
		}
		if (v->type != s->col[i].type) {
			*ret_msg = "The type of a primary key column does not match the table's schema.";
			return -EINVAL;
		}
		if (v->type != OTS_VT_INTEGER && v->len > OTS_PK_VALUE_MAX) {
			*ret_msg = "The length of a primary key column exceeds the 1024-byte limit.";
			return -EINVAL;
		}
		if (v->type == OTS_VT_STRING && !ecs_utf8_valid((const char *)v->p, v->len)) {
			*ret_msg = "A STRING primary key column is not valid UTF-8.";
			return -EINVAL;
		}
	}
	return 0;
}

int ots_key_encode(const struct ots_schema *s, const struct ots_cell *pk, size_t n, bool with_end, char **ret)
{
	size_t cap = 2, len = 0;
	char *out, *p;

	for (size_t i = 0; i < n; i++)
		cap += pk[i].v.type == OTS_VT_INTEGER ? 16 : 2 * (size_t)pk[i].v.len + 3;
	out = p = malloc(cap);
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < n && i < s->n; i++) {
		const struct ots_value *v = &pk[i].v;

		if (v->type == OTS_VT_INF_MIN)
			goto bound;
		if (v->type == OTS_VT_INF_MAX) {
			*p++ = (char)0xff;
			goto bound;
		}
		if (v->type == OTS_VT_INTEGER) {
			static const char hex[] = "0123456789abcdef";
			uint64_t u = (uint64_t)v->i ^ 0x8000000000000000ull;

			for (int k = 15; k >= 0; k--)
				*p++ = hex[(u >> (4 * k)) & 0xf];
			continue;
		}
		for (uint32_t k = 0; k < v->len; k++) {
			uint8_t c = v->p[k];

			if (c <= 0x01) {
				*p++ = 0x01;
				*p++ = (char)(c + 2);
			} else if (c >= 0xfe) {
				*p++ = (char)0xfe;
				*p++ = (char)(c - 0xfd);
			} else {
				*p++ = (char)c;
			}
		}
		*p++ = 0x01;
		*p++ = 0x01;
	}
	if (with_end)
		*p++ = OTS_KEY_END;
bound:
	*p = '\0';
	len = (size_t)(p - out);
	(void)len;
	*ret = out;
	return 0;
}
