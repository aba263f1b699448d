#include "buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ecs_buf_append(struct ecs_buf *b, const void *p, size_t n, size_t max)
{
	if (n > max || b->len > max - n)
		return -EFBIG;
	if (b->len + n + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 4096;
		char *nd;

		while (ncap < b->len + n + 1)
			ncap *= 2;
		nd = realloc(b->data, ncap);
		if (!nd)
			return -ENOMEM;
		b->data = nd;
		b->cap = ncap;
	}
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

char *ecs_buf_steal(struct ecs_buf *b)
{
	char *d = b->data ? b->data : strdup("");

	b->data = NULL;
	b->len = b->cap = 0;
	return d;
}

void ecs_buf_free(struct ecs_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
