/* sysctl.c: kernel settings under /proc/sys (see sysctl.h). */
#include "sysctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* "/proc/sys/KEY"; every component of KEY non-empty and neither "." nor "..". */
static int key_path(const char *key, char *out, size_t size)
{
	if (!key || !*key)
		return -EINVAL;
	for (const char *c = key; *c;) {
		size_t n = strcspn(c, "/");

		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return -EINVAL;
		c += n;
		if (*c == '/' && !*++c)
			return -EINVAL; /* a trailing '/' */
	}
	if ((size_t)snprintf(out, size, "/proc/sys/%s", key) >= size)
		return -ENAMETOOLONG;
	return 0;
}

int ecs_sysctl_read(const char *key, char *buf, size_t size)
{
	char path[512], v[ECS_SYSCTL_VALUE_MAX + 1];
	_cleanup_close_ int fd = -1;
	ssize_t n;
	int r = key_path(key, path, sizeof(path));

	if (r < 0)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do
		n = read(fd, v, sizeof(v) - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	v[n] = '\0';
	if (n > 0 && v[n - 1] == '\n')
		v[--n] = '\0';
	return ecs_strlcpy(buf, v, size);
}

int ecs_sysctl_write(const char *key, const char *value)
{
	char path[512], v[ECS_SYSCTL_VALUE_MAX + 2];
	_cleanup_close_ int fd = -1;
	ssize_t n;
	size_t len;
	int r = key_path(key, path, sizeof(path));

	if (r < 0)
		return r;
	if (!value || strlen(value) > ECS_SYSCTL_VALUE_MAX)
		return -EINVAL;
	len = (size_t)snprintf(v, sizeof(v), "%s\n", value);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do
		n = write(fd, v, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int ecs_sysctl_ensure(const char *key, const char *value, bool *ret_changed)
{
	char now[ECS_SYSCTL_VALUE_MAX + 1];
	bool changed = false;
	int r = 0;

	if (ecs_sysctl_read(key, now, sizeof(now)) < 0 || !streq(now, strempty(value))) {
		r = ecs_sysctl_write(key, value);
		changed = r == 0;
	}
	if (r == 0 && ret_changed)
		*ret_changed = changed;
	return r;
}
