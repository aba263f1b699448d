#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/stat.h>

char *ecs_strdup_vprintf(const char *fmt, va_list ap)
{
	char *s;

	return vasprintf(&s, fmt, ap) < 0 ? NULL : s;
}

char *ecs_strdup_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = ecs_strdup_vprintf(fmt, ap);
	va_end(ap);
	return s;
}

int ecs_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (n >= size)
		return -ENAMETOOLONG;
	memcpy(dst, src, n + 1);
	return 0;
}

int ecs_parse_int64(const char *s, long long min, long long max, long long *ret)
{
	char *end;
	long long v;

	if (!s || !*s)
		return -EINVAL;
	/* strtoll skips leading blanks and takes "+"; a wire value has neither. */
	if (!(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

int ecs_parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = { "true", "1", "yes", "on" };
	static const char *const no[] = { "false", "0", "no", "off" };

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcaseeq(s, yes[i])) {
			*ret = true;
			return 0;
		}
		if (strcaseeq(s, no[i])) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

int ecs_read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			/* Room for max + 1 bytes: one byte past the bound proves the file too big. */
			size_t ncap = cap ? cap * 2 : 4096;
			char *nb;

			if (ncap > max + 2)
				ncap = max + 2;
			nb = realloc(buf, ncap);
			if (!nb)
				return -ENOMEM;
			buf = nb;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max)
			return -EFBIG;
	}
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	if (ret_len)
		*ret_len = len;
	return 0;
}

int ecs_remove_tree(const char *path)
{
	struct dirent *e;
	struct stat st;
	DIR *d;
	int r = 0;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
	d = opendir(path);
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		_cleanup_free_ char *p = NULL;
		int q;

		if (streq(e->d_name, ".") || streq(e->d_name, ".."))
			continue;
		p = ecs_strdup_printf("%s/%s", path, e->d_name);
		q = p ? ecs_remove_tree(p) : -ENOMEM;
		if (q < 0 && r == 0)
			r = q;
	}
	closedir(d);
	if (rmdir(path) < 0 && errno != ENOENT && r == 0)
		r = -errno;
	return r;
}

int ecs_replace_finish(int fd, const char *tmp, const char *path, int r)
{
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

int ecs_write_file_atomic(const char *path, const void *data, size_t len, int mode)
{
	_cleanup_free_ char *tmp = ecs_strdup_printf("%s.tmp.%d", path, getpid());
	const char *p = data;
	int fd, r = 0;

	if (!tmp)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	while (len > 0 && r == 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno != EINTR)
				r = -errno;
			continue;
		}
		p += n;
		len -= (size_t)n;
	}
	return ecs_replace_finish(fd, tmp, path, r);
}

int ecs_mkdirs(const char *path, mode_t mode)
{
	_cleanup_free_ char *p = path && *path ? strdup(path) : NULL;

	if (!path || !*path)
		return -EINVAL;
	if (!p)
		return -ENOMEM;
	for (char *s = strchr(p + 1, '/');; s = strchr(s + 1, '/')) {
		if (s)
			*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -errno;
		if (!s)
			return 0;
		*s = '/';
	}
}

void ecs_strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}
