#include "disk.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "json.h"
#include "util.h"

#define QEMU_IMG_TIMEOUT_MS (30 * 60 * 1000)

static int run(const char *const *argv)
{
	return ecs_cmd_run_ok(argv, &(struct ecs_cmd_opts){ .timeout_ms = QEMU_IMG_TIMEOUT_MS }, NULL);
}

/* Make the file at tmp (by argv) then rename it to path. */
static int make_then_rename(const char *const *argv, const char *tmp, const char *path)
{
	int r;

	unlink(tmp);
	r = run(argv);
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

int agent_disk_create_overlay(const char *path, const char *backing, unsigned long long size)
{
	_cleanup_free_ char *tmp = ecs_strdup_printf("%s.tmp", path);
	char sz[32];

	if (!tmp)
		return -ENOMEM;
	snprintf(sz, sizeof(sz), "%llu", size);
	const char *argv[] = { "qemu-img", "create", "-q", "-f", "qcow2", "-b", backing, "-F", "qcow2", tmp, sz, NULL };
	return make_then_rename(argv, tmp, path);
}

int agent_disk_create_empty(const char *path, unsigned long long size)
{
	_cleanup_free_ char *tmp = ecs_strdup_printf("%s.tmp", path);
	char sz[32];

	if (!tmp)
		return -ENOMEM;
	snprintf(sz, sizeof(sz), "%llu", size);
	const char *argv[] = { "qemu-img", "create", "-q", "-f", "qcow2", tmp, sz, NULL };
	return make_then_rename(argv, tmp, path);
}

int agent_disk_create_from(const char *path, const char *src, const char *base, unsigned long long size)
{
	_cleanup_free_ char *tmp = ecs_strdup_printf("%s.tmp", path);
	unsigned long long have = 0;
	int r;

	if (!tmp)
		return -ENOMEM;
	unlink(tmp);
	if (base) {
		/* -B: write only the clusters that differ from base, with base as backing. */
		const char *argv[] = { "qemu-img", "convert", "-q", "-O", "qcow2", "-B", base, "-F", "qcow2", src, tmp, NULL };
		r = run(argv);
	} else {
		const char *argv[] = { "qemu-img", "convert", "-q", "-O", "qcow2", src, tmp, NULL };
		r = run(argv);
	}
	if (r == 0)
		r = agent_disk_virtual_size(tmp, &have);
	if (r == 0 && size > have)
		r = agent_disk_grow(tmp, size);
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

int agent_disk_flatten(const char *src, const char *dst)
{
	_cleanup_free_ char *tmp = ecs_strdup_printf("%s.tmp", dst);

	if (!tmp)
		return -ENOMEM;
	/* -U: read while a guest holds the image open (the caller made sure it is consistent). */
	const char *argv[] = { "qemu-img", "convert", "-q", "-U", "-O", "qcow2", src, tmp, NULL };
	return make_then_rename(argv, tmp, dst);
}

int agent_disk_grow(const char *path, unsigned long long size)
{
	unsigned long long have = 0;
	char sz[32];
	int r = agent_disk_virtual_size(path, &have);

	if (r < 0)
		return r;
	if (size < have)
		return -EINVAL;
	if (size == have)
		return 0;
	snprintf(sz, sizeof(sz), "%llu", size);
	const char *argv[] = { "qemu-img", "resize", "-q", "-f", "qcow2", path, sz, NULL };
	return run(argv);
}

int agent_disk_virtual_size(const char *path, unsigned long long *ret)
{
	const char *argv[] = { "qemu-img", "info", "-U", "--output=json", path, NULL };
	struct ecs_cmd_result res;
	struct json_object *o = NULL, *v;
	const char *err;
	int r;

	r = ecs_cmd_run_ok(argv, &(struct ecs_cmd_opts){ .timeout_ms = 60000, .max_output = 1 << 20 }, &res);
	if (r < 0)
		return r;
	r = ecs_json_parse(res.out, res.out_len, &o, &err);
	ecs_cmd_result_clear(&res);
	if (r < 0)
		return -EIO;
	if (!json_object_object_get_ex(o, "virtual-size", &v) || !json_object_is_type(v, json_type_int)) {
		json_object_put(o);
		return -EIO;
	}
	*ret = (unsigned long long)json_object_get_int64(v);
	json_object_put(o);
	return 0;
}
