#include "known_hosts.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* A word for a line: not empty, no blanks or control characters. */
static bool word_ok(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

/* The next blank-separated word of *p, NUL-terminated in place; NULL at the end. */
static char *next_word(char **p)
{
	char *s = *p, *w;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s)
		return NULL;
	w = s;
	while (*s && *s != ' ' && *s != '\t')
		s++;
	if (*s)
		*s++ = '\0';
	*p = s;
	return w;
}

int ecsctl_known_hosts_check(const char *path, const char *host, const char *type, const char *key_b64,
			     enum ecsctl_hostkey *ret)
{
	_cleanup_free_ char *text = NULL;
	char *line, *next;
	bool seen = false;
	int r;

	if (!word_ok(host) || !word_ok(type) || !word_ok(key_b64))
		return -EINVAL;
	r = ecs_read_file(path, ECSCTL_KNOWN_HOSTS_MAX, &text, NULL);
	if (r == -ENOENT) {
		*ret = ECSCTL_HOSTKEY_NEW;
		return 0;
	}
	if (r < 0)
		return r;
	for (line = text; line; line = next) {
		char *h, *t, *k, *p;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		p = line;
		h = next_word(&p);
		if (!h || h[0] == '#')
			continue;
		t = next_word(&p);
		k = next_word(&p);
		if (!streq(h, host))
			continue;
		if (k && k[strlen(k) - 1] == '\r')
			k[strlen(k) - 1] = '\0';
		if (streq(t, type) && streq(k, key_b64)) {
			*ret = ECSCTL_HOSTKEY_KNOWN;
			return 0;
		}
		seen = true;
	}
	*ret = seen ? ECSCTL_HOSTKEY_CHANGED : ECSCTL_HOSTKEY_NEW;
	return 0;
}

int ecsctl_known_hosts_add(const char *path, const char *host, const char *type, const char *key_b64)
{
	_cleanup_free_ char *line = NULL;
	_cleanup_close_ int fd = -1;
	size_t len;

	if (!word_ok(host) || !word_ok(type) || !word_ok(key_b64))
		return -EINVAL;
	line = ecs_strdup_printf("%s %s %s\n", host, type, key_b64);
	if (!line)
		return -ENOMEM;
	len = strlen(line);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	/* One write of a short line with O_APPEND: two ecsctl at once cannot interleave it. */
	if (write(fd, line, len) != (ssize_t)len)
		return -EIO;
	if (fsync(fd) < 0)
		return -errno;
	return 0;
}
