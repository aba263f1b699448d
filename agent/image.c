#include "image.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "blob.h"
#include "crypto.h"
#include "json.h"
#include "log.h"
#include "storage_rbd.h"
#include "store.h"
#include "util.h"

#define MANIFEST_MAX (64 * 1024)
static const char *const image_files[] = { "disk", "kernel", "initrd" };

bool agent_image_id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n > 128 || id[0] == '.' || id[0] == '-')
		return false;
	for (; *id; id++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-", *id))
			return false;
	return true;
}

/* A file name in a manifest: one plain path segment. */
static bool file_name_ok(const char *f)
{
	return f && *f && !strchr(f, '/') && !streq(f, ".") && !streq(f, "..") && strlen(f) <= 128;
}

static int read_manifest(const char *path, struct json_object **ret)
{
	_cleanup_free_ char *text = NULL;
	struct json_object *m;
	const char *err;
	size_t len;
	int r;

	r = ecs_read_file(path, MANIFEST_MAX, &text, &len);
	if (r < 0)
		return r;
	r = ecs_json_parse(text, len, &m, &err);
	if (r < 0)
		return r;
	if (!json_object_is_type(m, json_type_object)) {
		json_object_put(m);
		return -EINVAL;
	}
	*ret = m;
	return 0;
}

static const char *manifest_str(struct json_object *m, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(m, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static bool rbd_only(struct json_object *m)
{
	const char *s = manifest_str(m, "storage");

	return s && streq(s, "rbd");
}

/* Check the manifest names its disk, and that every named file is there with its sha256. */
static int verify_dir(const char *dir, struct json_object *m)
{
	struct json_object *sums;

	/* An image made inside RBD (from a snapshot there) has no disk file: its disk is
	 * img-<id> in the pool. */
	if (rbd_only(m) ? manifest_str(m, "disk") != NULL : !file_name_ok(manifest_str(m, "disk")))
		return -EINVAL;
	if (!json_object_object_get_ex(m, "sha256", &sums) || !json_object_is_type(sums, json_type_object))
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(image_files); i++) {
		const char *f = manifest_str(m, image_files[i]), *want;
		_cleanup_free_ char *p = NULL;
		char got[2 * ECS_SHA256_LEN + 1];
		struct json_object *w;
		int r;

		if (!f)
			continue;
		if (!file_name_ok(f))
			return -EINVAL;
		if (!json_object_object_get_ex(sums, f, &w) || !(want = json_object_get_string(w)))
			return -EINVAL;
		p = ecs_strdup_printf("%s/%s", dir, f);
		if (!p)
			return -ENOMEM;
		r = ecs_sha256_file(p, got);
		if (r < 0)
			return r;
		if (!streq(got, want)) {
			log_error("image file does not match its sha256", "file=%s want=%s got=%s", p, want, got);
			return -EBADMSG;
		}
	}
	return 0;
}

static bool cached(struct agent *a, const char *id)
{
	struct json_object *doc;

	if (agent_store_get(a->store, "image", id, &doc) < 0)
		return false;
	json_object_put(doc);
	return true;
}

/* Copy dir's manifest files into the cache as image id (verify first and after). */
static int install_from_dir(struct agent *a, const char *id, const char *dir, struct json_object *m)
{
	_cleanup_free_ char *tmp = ecs_strdup_printf("%s/%s.tmp", a->images_dir, id);
	_cleanup_free_ char *dst = ecs_strdup_printf("%s/%s", a->images_dir, id);
	struct json_object *doc = NULL;
	int r;

	if (!tmp || !dst)
		return -ENOMEM;
	r = verify_dir(dir, m);
	if (r < 0)
		return r;
	ecs_remove_tree(tmp);
	if (mkdir(tmp, 0755) < 0)
		return -errno;
	for (size_t i = 0; i < ARRAY_SIZE(image_files) + 1; i++) {
		const char *f = i < ARRAY_SIZE(image_files) ? manifest_str(m, image_files[i]) : "manifest.json";
		_cleanup_free_ char *s = NULL, *d = NULL;

		if (!f)
			continue;
		s = ecs_strdup_printf("%s/%s", dir, f);
		d = ecs_strdup_printf("%s/%s", tmp, f);
		if (!s || !d) {
			r = -ENOMEM;
			goto fail;
		}
		r = agent_copy_file(s, d);
		if (r < 0)
			goto fail;
	}
	r = verify_dir(tmp, m);
	if (r < 0)
		goto fail;
	ecs_remove_tree(dst);
	if (rename(tmp, dst) < 0) {
		r = -errno;
		goto fail;
	}
	doc = json_object_new_object();
	ecs_jb_str(doc, "image_id", id);
	ecs_jb_int(doc, "cached_at", time(NULL));
	json_object_object_add(doc, "manifest", json_object_get(m));
	r = agent_store_put(a->store, "image", id, doc);
	json_object_put(doc);
	if (r == 0)
		log_info("image cached", "image=%s from=%s", id, dir);
	return r;
fail:
	ecs_remove_tree(tmp);
	return r;
}

/* Publish a cached image to the blob store so other hosts can fetch it. */
static int publish(struct agent *a, const char *id, struct json_object *m)
{
	for (size_t i = 0; i < ARRAY_SIZE(image_files) + 1; i++) {
		const char *f = i < ARRAY_SIZE(image_files) ? manifest_str(m, image_files[i]) : "manifest.json";
		_cleanup_free_ char *key = NULL, *src = NULL;
		bool have = false;
		int r;

		if (!f)
			continue;
		key = ecs_strdup_printf("images/%s/%s", id, f);
		src = ecs_strdup_printf("%s/%s/%s", a->images_dir, id, f);
		if (!key || !src)
			return -ENOMEM;
		/* manifest.json last: its presence means the whole image is there. */
		if (agent_blob_exists(a->blob, key, &have) == 0 && have && i < ARRAY_SIZE(image_files))
			continue;
		r = agent_blob_put_file(a->blob, key, src);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Fetch images/<id>/ from the blob store into a temp folder and install it. */
static int fetch_from_blob(struct agent *a, const char *id)
{
	_cleanup_free_ char *key = ecs_strdup_printf("images/%s/manifest.json", id);
	_cleanup_free_ char *dir = ecs_strdup_printf("%s/image-%s", a->tmp_dir, id);
	_cleanup_free_ char *mpath = NULL;
	struct json_object *m = NULL;
	int r;

	if (!key || !dir)
		return -ENOMEM;
	ecs_remove_tree(dir);
	if (mkdir(dir, 0755) < 0)
		return -errno;
	mpath = ecs_strdup_printf("%s/manifest.json", dir);
	r = agent_blob_get_file(a->blob, key, mpath);
	if (r < 0)
		goto out;
	r = read_manifest(mpath, &m);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < ARRAY_SIZE(image_files); i++) {
		const char *f = manifest_str(m, image_files[i]);
		_cleanup_free_ char *k = NULL, *p = NULL;

		if (!f)
			continue;
		if (!file_name_ok(f)) {
			r = -EINVAL;
			goto out;
		}
		k = ecs_strdup_printf("images/%s/%s", id, f);
		p = ecs_strdup_printf("%s/%s", dir, f);
		r = agent_blob_get_file(a->blob, k, p);
		if (r < 0)
			goto out;
	}
	r = install_from_dir(a, id, dir, m);
out:
	json_object_put(m);
	ecs_remove_tree(dir);
	return r;
}

int agent_image_import_dir(struct agent *a, const char *id, const char *dir)
{
	_cleanup_free_ char *mpath = ecs_strdup_printf("%s/manifest.json", dir);
	struct json_object *m = NULL;
	int r;

	if (!agent_image_id_valid(id))
		return -EINVAL;
	if (!mpath)
		return -ENOMEM;
	agent_image_lock(a, id);
	if (cached(a, id)) {
		r = 0;
		goto out;
	}
	r = read_manifest(mpath, &m);
	if (r == 0)
		r = install_from_dir(a, id, dir, m);
	if (r == 0)
		r = publish(a, id, m);
out:
	agent_image_unlock(a, id);
	json_object_put(m);
	if (r < 0)
		log_error("image import failed", "image=%s dir=%s error=%s", id, dir, strerror(-r));
	return r;
}

/* ---- imports from the operator's folders ([images] import_dirs) ---- */

static bool path_within(const char *p, const char *dir)
{
	size_t n = strlen(dir);

	return streq(dir, "/") || (strncmp(p, dir, n) == 0 && (p[n] == '/' || p[n] == '\0'));
}

/* An import folder must neither hold nor lie in the agent's own data (its image cache, the
 * blob store, disks): else any account could import another's image from there. */
static bool apart_from_agent_data(struct agent *a, const char *dir)
{
	_cleanup_free_ char *blob_cfg = *a->cfg.blob_dir ? NULL : ecs_strdup_printf("%s/blobs", a->cfg.data_dir);
	const char *own[] = { a->cfg.data_dir, *a->cfg.blob_dir ? a->cfg.blob_dir : blob_cfg };
	char real[PATH_MAX], mine[PATH_MAX];

	if (!realpath(dir, real))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(own); i++) {
		if (!own[i] || !realpath(own[i], mine))
			return false; /* when unsure, refuse */
		if (path_within(real, mine) || path_within(mine, real)) {
			log_error("[images] import_dirs entry overlaps the agent's own data: not used", "dir=%s data=%s",
				  dir, own[i]);
			return false;
		}
	}
	return true;
}

static int openat_beneath(int dirfd, const char *path, int flags, unsigned long long resolve)
{
	struct open_how how = { .flags = (unsigned long long)flags | O_CLOEXEC, .resolve = resolve };
	long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

/* Open path as a folder inside one of the import folders, resolved beneath it: no "..", no
 * symbolic link leading out, no magic link. Every refusal is -ENOENT, whether the path
 * exists or not, so an answer tells nothing about folders outside. */
static int open_import_dir(struct agent *a, const char *path, int *ret_fd)
{
	const char *list = a->cfg.import_dirs;
	char *d;

	if (!agent_config_path_plain(path))
		return -ENOENT;
	while ((d = agent_config_next_dir(&list))) {
		_cleanup_free_ char *dir = d;
		_cleanup_close_ int root = -1;
		size_t n = strlen(dir);
		const char *rel;
		int fd;

		if (!path_within(path, dir) || !apart_from_agent_data(a, dir))
			continue;
		rel = streq(dir, "/") ? path + 1 : path + n;
		rel += *rel == '/';
		root = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (root < 0)
			continue;
		fd = openat_beneath(root, *rel ? rel : ".", O_PATH | O_DIRECTORY,
				    RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV);
		if (fd >= 0) {
			*ret_fd = fd;
			return 0;
		}
	}
	return -ENOENT;
}

/* Copy the regular file name of the folder dirfd (no link followed) to dst; at most max bytes
 * when max > 0. */
static int stage_file(int dirfd, const char *name, const char *dst, off_t max)
{
	_cleanup_close_ int fd = openat_beneath(dirfd, name, O_RDONLY | O_NOCTTY | O_NONBLOCK,
						RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return -ENOENT;
	if (max > 0 && st.st_size > max)
		return -EINVAL;
	return agent_copy_fd(fd, dst);
}

int agent_image_import_path(struct agent *a, const char *id, const char *path)
{
	_cleanup_free_ char *stage = ecs_strdup_printf("%s/import-%s", a->tmp_dir, id), *mpath = NULL;
	_cleanup_close_ int dirfd = -1;
	struct json_object *m = NULL;
	int r;

	if (!agent_image_id_valid(id))
		return -EINVAL;
	if (!stage)
		return -ENOMEM;
	agent_image_lock(a, id);
	if (cached(a, id)) {
		r = 0;
		goto out;
	}
	r = open_import_dir(a, path, &dirfd);
	if (r < 0)
		goto out;
	/* What is read is copied aside first, so nothing changes under the checks after. */
	ecs_remove_tree(stage);
	if (mkdir(stage, 0700) < 0) {
		r = -errno;
		goto out;
	}
	mpath = ecs_strdup_printf("%s/manifest.json", stage);
	r = mpath ? stage_file(dirfd, "manifest.json", mpath, MANIFEST_MAX) : -ENOMEM;
	if (r == 0)
		r = read_manifest(mpath, &m) < 0 ? -EINVAL : 0;
	/* A folder brings its disk as a file; "storage": "rbd" is the agent's own mark. */
	if (r == 0 && manifest_str(m, "storage"))
		r = -EINVAL;
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(image_files); i++) {
		const char *f = manifest_str(m, image_files[i]);
		_cleanup_free_ char *dst = NULL;

		if (!f)
			continue;
		if (!file_name_ok(f)) {
			r = -EINVAL;
			break;
		}
		dst = ecs_strdup_printf("%s/%s", stage, f);
		r = dst ? stage_file(dirfd, f, dst, 0) : -ENOMEM;
	}
	if (r == 0)
		r = install_from_dir(a, id, stage, m);
	if (r == 0)
		r = publish(a, id, m);
out:
	agent_image_unlock(a, id);
	ecs_remove_tree(stage);
	json_object_put(m);
	if (r < 0)
		log_warn("image import refused", "image=%s path=\"%s\" error=%s", id, path, strerror(-r));
	return r;
}

int agent_image_ensure(struct agent *a, const char *id, struct json_object **ret_manifest)
{
	struct json_object *doc = NULL, *m;
	int r;

	if (!agent_image_id_valid(id))
		return -EINVAL;
	if (!cached(a, id)) {
		agent_image_lock(a, id);
		r = cached(a, id) ? 0 : fetch_from_blob(a, id);
		agent_image_unlock(a, id);
		if (r == -ENOENT) {
			_cleanup_free_ char *src = ecs_strdup_printf("%s/%s", a->image_source_dir, id);

			if (!src)
				return -ENOMEM;
			r = access(src, F_OK) == 0 ? agent_image_import_dir(a, id, src) : -ENOENT;
		}
		if (r < 0)
			return r;
	}
	if (!ret_manifest)
		return 0;
	r = agent_store_get(a->store, "image", id, &doc);
	if (r < 0)
		return r;
	if (!json_object_object_get_ex(doc, "manifest", &m)) {
		json_object_put(doc);
		return -EIO;
	}
	*ret_manifest = json_object_get(m);
	json_object_put(doc);
	return 0;
}

char *agent_image_file(struct agent *a, const char *id, const char *what)
{
	struct json_object *m = NULL;
	const char *f;
	char *p = NULL;

	if (agent_image_ensure(a, id, &m) < 0)
		return NULL;
	f = manifest_str(m, what);
	if (file_name_ok(f))
		p = ecs_strdup_printf("%s/%s/%s", a->images_dir, id, f);
	json_object_put(m);
	return p;
}

int agent_image_list(struct agent *a, struct json_object **ret)
{
	return agent_store_list(a->store, "image", ret);
}

static bool image_in_use(struct agent *a, const char *id)
{
	struct json_object *disks = NULL;
	bool used = false;

	if (agent_store_list(a->store, "disk", &disks) < 0)
		return true; /* when unsure, keep it */
	json_object_object_foreach(disks, k, d)
	{
		struct json_object *v;

		(void)k;
		if (json_object_object_get_ex(d, "base_image", &v) && streq(json_object_get_string(v), id))
			used = true;
	}
	json_object_put(disks);
	return used;
}

int agent_image_delete(struct agent *a, const char *id, bool purge)
{
	_cleanup_free_ char *dir = ecs_strdup_printf("%s/%s", a->images_dir, id);
	_cleanup_free_ char *key = ecs_strdup_printf("images/%s", id);
	int r = 0;

	if (!agent_image_id_valid(id))
		return -EINVAL;
	if (!dir || !key)
		return -ENOMEM;
	agent_image_lock(a, id);
	if (image_in_use(a, id)) {
		r = -EBUSY;
		goto out;
	}
	/* The blob store's copy first (manifest.json included, so no host fetches a half
	 * image), then the cache; each step is idempotent, so a repeated call finishes it. */
	if (purge)
		r = agent_blob_delete_prefix(a->blob, key);
	if (r == 0) {
		r = agent_store_delete(a->store, "image", id);
		if (r == -ENOENT)
			r = 0;
	}
	if (r == 0) {
		r = ecs_remove_tree(dir);
		if (r == -ENOENT)
			r = 0;
	}
	if (r == 0)
		log_info("image deleted", "image=%s purge=%s", id, purge ? "yes" : "no");
out:
	agent_image_unlock(a, id);
	return r;
}

int agent_image_create_from_disk(struct agent *a, const char *id, const char *name, const char *qcow2,
				 const char *boot_image_id)
{
	_cleanup_free_ char *dir = ecs_strdup_printf("%s/newimage-%s", a->tmp_dir, id);
	struct json_object *bm = NULL, *m = NULL, *sums = NULL;
	int r;

	if (!agent_image_id_valid(id) || !dir)
		return -EINVAL;
	/* On RBD the image's clone is made (agent_storage_image_from_snapshot); its manifest not
	 * yet: a crash here leaves the clone pending, for the sweep. */
	if (!qcow2)
		agent_fault_point(a, "image.after_clone");
	r = agent_image_ensure(a, boot_image_id, &bm);
	if (r < 0)
		return r;
	ecs_remove_tree(dir);
	if (mkdir(dir, 0755) < 0) {
		r = -errno;
		goto out;
	}
	/* The new image boots like the one the disk came from, with the disk's content. */
	m = json_object_new_object();
	sums = json_object_new_object();
	json_object_object_foreach(bm, key, val)
	{
		if (!streq(key, "sha256"))
			json_object_object_add(m, key, json_object_get(val));
	}
	ecs_jb_str(m, "name", name ? name : id);
	ecs_jb_str(m, "source_image", boot_image_id);
	json_object_object_del(m, "storage");
	json_object_object_del(m, "disk");
	if (qcow2)
		ecs_jb_str(m, "disk", "disk.qcow2");
	else
		ecs_jb_str(m, "storage", "rbd");
	for (size_t i = 0; i < ARRAY_SIZE(image_files); i++) {
		const char *f = !streq(image_files[i], "disk") ? manifest_str(bm, image_files[i]) : qcow2 ? "disk.qcow2" : NULL;
		_cleanup_free_ char *src = NULL, *dst = NULL;
		char sum[2 * ECS_SHA256_LEN + 1];

		if (!f)
			continue;
		src = streq(image_files[i], "disk") ? strdup(qcow2) : agent_image_file(a, boot_image_id, image_files[i]);
		dst = ecs_strdup_printf("%s/%s", dir, f);
		if (!src || !dst) {
			r = -ENOMEM;
			goto out;
		}
		r = agent_copy_file(src, dst);
		if (r == 0)
			r = ecs_sha256_file(dst, sum);
		if (r < 0)
			goto out;
		ecs_jb_str(sums, f, sum);
	}
	json_object_object_add(m, "sha256", json_object_get(sums));
	{
		_cleanup_free_ char *mp = ecs_strdup_printf("%s/manifest.json", dir);
		size_t len;
		const char *text = json_object_to_json_string_ext(m, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);

		len = strlen(text);
		r = mp ? ecs_write_file_atomic(mp, text, len, 0644) : -ENOMEM;
		if (r < 0)
			goto out;
	}
	r = agent_image_import_dir(a, id, dir);
	if (r == 0 && !qcow2 && a->rbd)
		r = agent_rbd_image_published(a->rbd, id);
out:
	json_object_put(sums);
	json_object_put(m);
	json_object_put(bm);
	ecs_remove_tree(dir);
	return r;
}
