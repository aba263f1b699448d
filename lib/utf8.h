/* utf8.h: UTF-8 decoding, one rule for every API that checks names and keys. */
#ifndef ECS_UTF8_H
#define ECS_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The code point at s and its length in bytes, or -1 when s does not start with a
 * well-formed UTF-8 sequence (RFC 3629: shortest form, no surrogates, <= U+10FFFF). A NUL
 * ends a sequence early (so a NUL-terminated string is never read past its end). */
int ecs_utf8_next(const unsigned char *s, uint32_t *ret_cp);

/* Whether len bytes at s (NULs allowed, no terminator needed) are all well-formed UTF-8. */
bool ecs_utf8_valid(const char *s, size_t len);

#endif
