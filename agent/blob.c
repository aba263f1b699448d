#include "blob.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

struct agent_blob {
	char *dir;
};

int agent_blob_open_dir(const char *dir, struct agent_blob **ret)
{
	struct agent_blob *b;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->dir = strdup(dir);
	if (!b->dir) {
		free(b);
		return -ENOMEM;
	}
	*ret = b;
	return 0;
}

void agent_blob_close(struct agent_blob *b)
{
	if (!b)
		return;
	free(b->dir);
	free(b);
}

bool agent_blob_key_valid(const char *key)
{
	size_t seg = 0, n = strlen(key);

	if (n == 0 || n > 255 || key[0] == '/' || key[n - 1] == '/')
		return false;
	for (const char *p = key; *p; p++) {
		if (*p == '/') {
			if (seg == 0)
				return false;
			seg = 0;
			continue;
		}
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-", *p))
			return false;
		/* No "." or ".." segment. */
		if (*p == '.' && seg == 0 && (p[1] == '/' || p[1] == '\0' || (p[1] == '.' && (p[2] == '/' || p[2] == '\0'))))
			return false;
		seg++;
	}
	return true;
}

static int mkdir_parents(const char *path)
{
	_cleanup_free_ char *p = strdup(path);

	if (!p)
		return -ENOMEM;
	for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	return 0;
}

int agent_copy_file(const char *src, const char *dst)
{
	_cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);

	if (in < 0)
		return -errno;
	return agent_copy_fd(in, dst);
}

int agent_copy_fd(int in, const char *dst)
{
	_cleanup_free_ char *tmp = ecs_strdup_printf("%s.tmp", dst);
	int out, r = 0;
	struct stat st;

	if (!tmp)
		return -ENOMEM;
	if (fstat(in, &st) < 0)
		return -errno;
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		return -errno;
	for (off_t left = st.st_size; left > 0 && r == 0;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);

		if (n < 0) {
			if (errno != EINTR)
				r = -errno;
			continue;
		}
		if (n == 0)
			break; /* the source shrank */
		left -= n;
	}
	return ecs_replace_finish(out, tmp, dst, r);
}

static char *blob_path(struct agent_blob *b, const char *key)
{
	return agent_blob_key_valid(key) ? ecs_strdup_printf("%s/%s", b->dir, key) : NULL;
}

int agent_blob_put_file(struct agent_blob *b, const char *key, const char *path)
{
	_cleanup_free_ char *dst = blob_path(b, key);
	int r;

	if (!dst)
		return -EINVAL;
	r = mkdir_parents(dst);
	if (r == 0)
		r = agent_copy_file(path, dst);
	if (r < 0)
		log_error("blob put failed", "key=%s error=%s", key, strerror(-r));
	return r;
}

int agent_blob_get_file(struct agent_blob *b, const char *key, const char *path)
{
	_cleanup_free_ char *src = blob_path(b, key);

	if (!src)
		return -EINVAL;
	if (access(src, F_OK) < 0)
		return -ENOENT;
	return agent_copy_file(src, path);
}

int agent_blob_exists(struct agent_blob *b, const char *key, bool *ret)
{
	_cleanup_free_ char *p = blob_path(b, key);

	if (!p)
		return -EINVAL;
	*ret = access(p, F_OK) == 0;
	return 0;
}

int agent_blob_delete(struct agent_blob *b, const char *key)
{
	_cleanup_free_ char *p = blob_path(b, key);

	if (!p)
		return -EINVAL;
	if (unlink(p) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int agent_blob_delete_prefix(struct agent_blob *b, const char *prefix)
{
	_cleanup_free_ char *p = blob_path(b, prefix);
	int r;

	if (!p)
		return -EINVAL;
	r = ecs_remove_tree(p);
	if (r < 0 && r != -ENOENT) {
		log_error("blob delete failed", "prefix=%s error=%s", prefix, strerror(-r));
		return r;
	}
	return 0;
}
