/* buf.h: a growable byte buffer with a bound, for bodies and command output read from
 * outside. The data is always NUL-terminated (not counted in len). */
#ifndef ECS_BUF_H
#define ECS_BUF_H

#include <stddef.h>

struct ecs_buf {
	char *data;
	size_t len, cap;
};

/* Append n bytes; -EFBIG (nothing appended) when len would pass max, -ENOMEM. */
int ecs_buf_append(struct ecs_buf *b, const void *p, size_t n, size_t max);
/* Hand the data to the caller (never NULL on success: "" when empty) and reset b. */
char *ecs_buf_steal(struct ecs_buf *b);
void ecs_buf_free(struct ecs_buf *b);

#endif
