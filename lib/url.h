/* url.h: RFC 3986 percent-encoding as Alibaba Cloud signs it, and form/query parsing. */
#ifndef ECS_URL_H
#define ECS_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "kv.h"

/* Encode every byte but A-Za-z0-9 - _ . ~ as %XX (upper-case hex); space is %20.
 * Returns a new string or NULL on allocation failure. */
char *ecs_percent_encode(const char *s);
char *ecs_percent_encode_n(const char *s, size_t len);
/* The same keeping '/' (an object key in a URL's path). */
char *ecs_percent_encode_path(const char *s);

/* Decode %XX escapes (and '+' as space when plus_is_space). Rejects a malformed escape and
 * an encoded NUL with -EINVAL. */
int ecs_percent_decode(const char *s, size_t len, bool plus_is_space, char **ret);

/* Parse "a=1&b=2" (application/x-www-form-urlencoded, '+' is space) into l, appending.
 * At most max_pairs pairs; -E2BIG beyond, -EINVAL on a malformed escape. */
int ecs_form_parse(const char *s, size_t len, size_t max_pairs, struct ecs_kvlist *l);

/* Build "k=v&k=v" with both sides percent-encoded, in list order. */
char *ecs_form_build(const struct ecs_kvlist *l);

#endif
