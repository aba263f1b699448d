/* image_oss.c: images from and to the object store (ImportImage with OSSBucket + OSSObject,
 * ExportImage). The controller hands over a URL it presigned with the caller's own AccessKey
 * for a few minutes (docs/agent-api.md): the agent reads or writes nothing else, and
 * ecs-ossd enforces what that account may do. */
#include "image_oss.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "cmd.h"
#include "crypto.h"
#include "image.h"
#include "json.h"
#include "log.h"
#include "storage.h"
#include "util.h"

#define GIB (1ULL << 30)
#define QEMU_IMG_TIMEOUT_MS (30 * 60 * 1000)

struct sink {
	int fd;
	unsigned long long n, max;
	bool too_big, failed;
};

static size_t on_data(char *p, size_t size, size_t nmemb, void *userdata)
{
	struct sink *s = userdata;
	size_t len = size * nmemb;

	if (s->n + len > s->max) {
		s->too_big = true;
		return 0;
	}
	for (size_t done = 0; done < len;) {
		ssize_t w = write(s->fd, p + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			s->failed = true;
			return 0;
		}
		done += (size_t)w;
	}
	s->n += len;
	return len;
}

static CURL *easy(const char *url)
{
	CURL *h = curl_easy_init();

	if (!h)
		return NULL;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	/* No bound on the whole transfer (images are large); a stalled one ends after 60 s. */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
	return h;
}

/* What an answer's status means for the image. */
static int status_error(long status)
{
	switch (status) {
	case 200:
		return 0;
	case 404:
		return -ENOENT;
	case 401:
	case 403:
		return -EACCES;
	case 400:
	case 411:
	case 413:
		return -EFBIG; /* ecs-ossd's EntityTooLarge (a single PUT over 5 GiB) */
	default:
		return -EIO;
	}
}

int agent_oss_fetch(const char *url, const char *path, unsigned long long max)
{
	struct sink s = { .max = max };
	long status = 0;
	CURLcode res;
	CURL *h;
	int r;

	s.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s.fd < 0)
		return -errno;
	h = easy(url);
	if (!h) {
		close(s.fd);
		return -ENOMEM;
	}
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	res = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	if (s.too_big)
		r = status == 200 ? -EFBIG : status_error(status);
	else if (s.failed)
		r = -EIO;
	else if (res != CURLE_OK)
		r = -EIO;
	else
		r = status_error(status);
	if (r == 0 && fsync(s.fd) < 0)
		r = -errno;
	close(s.fd);
	if (r < 0)
		log_warn("oss: fetch failed", "status=%ld curl=\"%s\" error=%s", status, curl_easy_strerror(res),
			 strerror(-r));
	return r;
}

int agent_oss_upload(const char *url, const char *path)
{
	FILE *f = fopen(path, "rbe");
	struct curl_slist *hdrs = NULL;
	long status = 0;
	struct stat st;
	CURLcode res;
	CURL *h;
	int r;

	if (!f)
		return -errno;
	if (fstat(fileno(f), &st) < 0 || !(h = easy(url))) {
		r = -errno ? -errno : -ENOMEM;
		fclose(f);
		return r;
	}
	/* The URL is signed for no Content-Type (and curl would add Expect: 100-continue). */
	hdrs = curl_slist_append(hdrs, "Content-Type:");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READDATA, f);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)st.st_size);
	res = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	fclose(f);
	r = res != CURLE_OK ? -EIO : status_error(status);
	if (r < 0)
		log_warn("oss: upload failed", "status=%ld curl=\"%s\" error=%s", status, curl_easy_strerror(res),
			 strerror(-r));
	return r;
}

bool agent_disk_is_qcow2(const char *path)
{
	unsigned char magic[4] = { 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool yes;

	if (fd < 0)
		return false;
	yes = read(fd, magic, 4) == 4 && memcmp(magic, "QFI\xfb", 4) == 0;
	close(fd);
	return yes;
}

/* A qcow2 from outside: refused with a backing file or an external data file (either would
 * make qemu read a file of the host), when corrupt, or over max_virtual. */
static int check_qcow2(const char *path, unsigned long long max_virtual, unsigned long long *ret_virtual)
{
	const char *info[] = { "qemu-img", "info", "-f", "qcow2", "--output=json", path, NULL };
	const char *check[] = { "qemu-img", "check", "-q", "-f", "qcow2", path, NULL };
	struct ecs_cmd_opts o = { .timeout_ms = QEMU_IMG_TIMEOUT_MS, .max_output = 1 << 20 };
	struct ecs_cmd_result res = { 0 };
	struct json_object *j = NULL, *v, *fs;
	const char *err;
	int r;

	r = ecs_cmd_run(info, &o, &res);
	if (r == 0 && res.status != 0)
		r = -EINVAL;
	if (r == 0)
		r = ecs_json_parse(res.out, res.out_len, &j, &err) < 0 ? -EINVAL : 0;
	ecs_cmd_result_clear(&res);
	if (r < 0)
		return r;
	if (json_object_object_get_ex(j, "backing-filename", &v) || json_object_object_get_ex(j, "full-backing-filename", &v))
		r = -EPERM;
	else if (json_object_object_get_ex(j, "format-specific", &fs) && json_object_object_get_ex(fs, "data", &fs) &&
		 json_object_object_get_ex(fs, "data-file", &v))
		r = -EPERM;
	else if (!json_object_object_get_ex(j, "virtual-size", &v) || json_object_get_int64(v) <= 0)
		r = -EINVAL;
	else if ((unsigned long long)json_object_get_int64(v) > max_virtual)
		r = -E2BIG;
	else
		*ret_virtual = (unsigned long long)json_object_get_int64(v);
	json_object_put(j);
	if (r < 0)
		return r;
	r = ecs_cmd_run(check, &o, &res);
	if (r == 0 && res.status != 0)
		r = -EINVAL;
	ecs_cmd_result_clear(&res);
	return r;
}

static int write_manifest(const char *dir, const char *id, unsigned long long vsize, const char *sum)
{
	_cleanup_free_ char *mp = ecs_strdup_printf("%s/manifest.json", dir);
	struct json_object *m = json_object_new_object(), *sums = json_object_new_object();
	const char *text;
	int r;

	/* No kernel: the guest boots from its own disk, as an image imported into ECS does. */
	ecs_jb_str(m, "name", id);
	ecs_jb_str(m, "os", "linux");
	ecs_jb_str(m, "os_name", "Linux (imported)");
	ecs_jb_str(m, "arch", "x86_64");
	ecs_jb_str(m, "boot", "disk");
	ecs_jb_str(m, "disk", "disk.qcow2");
	ecs_jb_str(m, "source", "oss");
	ecs_jb_int(m, "min_disk_gib", (long long)((vsize + GIB - 1) / GIB));
	ecs_jb_str(sums, "disk.qcow2", sum);
	json_object_object_add(m, "sha256", sums);
	text = json_object_to_json_string_ext(m, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	r = mp ? ecs_write_file_atomic(mp, text, strlen(text), 0644) : -ENOMEM;
	json_object_put(m);
	return r;
}

/* The fetched object at src into dir as disk.qcow2 and its manifest: a qcow2 as it is (once
 * checked), anything else as raw bytes converted to qcow2. */
static int stage_disk(const char *src, const char *dir, const char *id, unsigned long long max_virtual)
{
	_cleanup_free_ char *disk = ecs_strdup_printf("%s/disk.qcow2", dir);
	char sum[2 * ECS_SHA256_LEN + 1];
	unsigned long long vsize = 0;
	struct stat st;
	int r;

	if (!disk)
		return -ENOMEM;
	if (agent_disk_is_qcow2(src)) {
		r = check_qcow2(src, max_virtual, &vsize);
		if (r == 0 && rename(src, disk) < 0)
			r = -errno;
	} else {
		const char *argv[] = { "qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", src, disk, NULL };

		if (stat(src, &st) < 0)
			return -errno;
		if (st.st_size == 0)
			return -EINVAL;
		if ((unsigned long long)st.st_size > max_virtual)
			return -E2BIG;
		vsize = (unsigned long long)st.st_size;
		r = ecs_cmd_run_ok(argv, &(struct ecs_cmd_opts){ .timeout_ms = QEMU_IMG_TIMEOUT_MS }, NULL);
	}
	if (r == 0)
		r = ecs_sha256_file(disk, sum);
	if (r == 0)
		r = write_manifest(dir, id, vsize, sum);
	return r;
}

int agent_image_import_oss(struct agent *a, const char *id, const char *url, unsigned long long max_bytes)
{
	_cleanup_free_ char *dir = ecs_strdup_printf("%s/oss-%s", a->tmp_dir, id);
	_cleanup_free_ char *obj = ecs_strdup_printf("%s/oss-%s.object", a->tmp_dir, id);
	struct json_object *m = NULL;
	int r;

	if (!agent_image_id_valid(id))
		return -EINVAL;
	if (!dir || !obj)
		return -ENOMEM;
	/* A repeated call (the controller's job retried) finds the image done. */
	if (agent_image_ensure(a, id, &m) == 0) {
		json_object_put(m);
		return agent_storage_image_prepare(a, id);
	}
	ecs_remove_tree(dir);
	if (mkdir(dir, 0700) < 0)
		return -errno;
	r = agent_oss_fetch(url, obj, max_bytes);
	if (r == 0)
		r = stage_disk(obj, dir, id, AGENT_IMAGE_MAX_VIRTUAL);
	if (r == 0)
		r = agent_image_import_dir(a, id, dir);
	if (r == 0)
		r = agent_storage_image_prepare(a, id);
	unlink(obj);
	ecs_remove_tree(dir);
	if (r < 0)
		log_warn("image import from oss failed", "image=%s error=%s", id, strerror(-r));
	else
		log_info("image imported from oss", "image=%s", id);
	return r;
}

int agent_image_export_oss(struct agent *a, const char *id, const char *url, bool raw)
{
	_cleanup_free_ char *disk = NULL, *tmp = ecs_strdup_printf("%s/export-%s", a->tmp_dir, id);
	const char *in, *out;
	int r;

	if (!agent_image_id_valid(id))
		return -EINVAL;
	r = agent_image_ensure(a, id, NULL);
	if (r < 0)
		return r;
	disk = agent_image_file(a, id, "disk");
	if (!disk || !tmp)
		return -ENOMEM;
	in = agent_disk_is_qcow2(disk) ? "qcow2" : "raw";
	out = raw ? "raw" : "qcow2";
	if (streq(in, out)) {
		r = agent_oss_upload(url, disk);
	} else {
		const char *argv[] = { "qemu-img", "convert", "-q", "-f", in, "-O", out, disk, tmp, NULL };

		r = ecs_cmd_run_ok(argv, &(struct ecs_cmd_opts){ .timeout_ms = QEMU_IMG_TIMEOUT_MS }, NULL);
		if (r == 0)
			r = agent_oss_upload(url, tmp);
		unlink(tmp);
	}
	if (r < 0)
		log_warn("image export to oss failed", "image=%s error=%s", id, strerror(-r));
	else
		log_info("image exported to oss", "image=%s format=%s", id, raw ? "raw" : "qcow2");
	return r;
}
