/* util.h: small helpers every module uses: cleanup attributes, string equality,
 * checked allocation. Functions return 0 or a negative errno; free functions accept NULL. */
#ifndef ECS_UTIL_H
#define ECS_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline bool streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static inline bool strcaseeq(const char *a, const char *b)
{
	return a && b && strcasecmp(a, b) == 0;
}

static inline bool str_has_prefix(const char *s, const char *prefix)
{
	return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static inline bool str_has_suffix(const char *s, const char *suffix)
{
	size_t n = s ? strlen(s) : 0, m = strlen(suffix);

	return s && n >= m && strcmp(s + n - m, suffix) == 0;
}

static inline const char *strempty(const char *s)
{
	return s ? s : "";
}

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_close_ _cleanup_(closep)

/* Hand ownership of *p to the caller and leave NULL behind (for cleanup variables). */
#define TAKE_PTR(p)                           \
	({                                    \
		__typeof__(p) _tp_ = (p);     \
		(p) = NULL;                   \
		_tp_;                         \
	})

/* The value of a hex digit, or -1. */
static inline int ecs_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* asprintf that returns NULL on failure. */
char *ecs_strdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *ecs_strdup_vprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* Copy src into dst[size]; -ENAMETOOLONG (dst untouched) if it does not fit. */
int ecs_strlcpy(char *dst, const char *src, size_t size);

/* Free n strings and the array holding them; accepts NULL. */
void ecs_strv_free(char **v, size_t n);

/* Parse a whole decimal integer in [min, max]; -EINVAL on syntax, -ERANGE outside. */
int ecs_parse_int64(const char *s, long long min, long long max, long long *ret);

/* Parse "true"/"false" (also 1/0, yes/no, on/off), case-insensitive. */
int ecs_parse_bool(const char *s, bool *ret);

/* Read a whole file of at most max bytes (NUL-terminated); -EFBIG past the bound. */
int ecs_read_file(const char *path, size_t max, char **ret, size_t *ret_len);

/* Remove a file or a directory tree (symlinks are removed, never followed); 0 when the
 * path does not exist. */
int ecs_remove_tree(const char *path);

/* mkdir -p: path and every missing parent made with mode (0 when they exist). */
int ecs_mkdirs(const char *path, mode_t mode);

/* Write a file atomically: temp file, fsync, rename. */
int ecs_write_file_atomic(const char *path, const void *data, size_t len, int mode);
/* The end of an atomic replace of PATH by TMP, FD being TMP open for writing and R what the
 * writing met (0 or a negative errno): FD fsynced and closed, TMP renamed over PATH. FD is
 * closed in every case, and TMP removed on failure; returns 0 or the first negative errno. */
int ecs_replace_finish(int fd, const char *tmp, const char *path, int r);

#endif
