/* Tests for agent/blob.c: the directory store's put and get, and agent_copy_file's atomic
 * replace (the image cache's copies), its temp file gone after a failure. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define TMPDIR_TAG "ecs-blob"
#define TMPDIR_FILE "src"
#include "tmpdir.h"
#include "unit.h"
#include "blob.h"

static char *in_dir(const char *name)
{
	char *p = ecs_strdup_printf("%s/%s", dir, name);

	assert_non_null(p);
	return p;
}

static void assert_file(const char *file, const char *want)
{
	_cleanup_free_ char *data = NULL;
	size_t len;

	assert_int_equal(ecs_read_file(file, 1 << 20, &data, &len), 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(data, want, len);
}

static void test_copy_replaces(void **state)
{
	_cleanup_free_ char *dst = in_dir("dst"), *tmp = in_dir("dst.tmp");

	(void)state;
	assert_int_equal(ecs_write_file_atomic(path, "the image\n", 10, 0644), 0);
	assert_int_equal(ecs_write_file_atomic(dst, "an older, longer image\n", 23, 0644), 0);
	assert_int_equal(agent_copy_file(path, dst), 0);
	assert_file(dst, "the image\n");
	assert_int_equal(access(tmp, F_OK), -1);
	/* An empty source makes an empty copy. */
	assert_int_equal(ecs_write_file_atomic(path, "", 0, 0644), 0);
	assert_int_equal(agent_copy_file(path, dst), 0);
	assert_file(dst, "");
}

static void test_copy_fails_clean(void **state)
{
	_cleanup_free_ char *missing = in_dir("missing"), *sub = in_dir("sub"), *sub_file = in_dir("sub/f"),
			    *tmp = in_dir("sub.tmp");

	(void)state;
	assert_int_equal(agent_copy_file(missing, path), -ENOENT);
	assert_int_equal(agent_copy_file(path, "/nonexistent/dir/x"), -ENOENT);
	/* The rename over a folder that is not empty fails: the temp file does not stay. */
	assert_int_equal(ecs_write_file_atomic(path, "x", 1, 0644), 0);
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(ecs_write_file_atomic(sub_file, "y", 1, 0644), 0);
	assert_int_equal(agent_copy_file(path, sub), -EISDIR);
	assert_int_equal(access(tmp, F_OK), -1);
	assert_file(sub_file, "y");
}

static void test_blob_put_get(void **state)
{
	_cleanup_free_ char *store = in_dir("store"), *out = in_dir("out");
	struct agent_blob *b = NULL;
	bool exists = true;

	(void)state;
	assert_int_equal(agent_blob_open_dir(store, &b), 0);
	assert_int_equal(ecs_write_file_atomic(path, "snapshot bytes", 14, 0644), 0);
	assert_int_equal(agent_blob_put_file(b, "snapshots/s-1", path), 0);
	assert_int_equal(agent_blob_exists(b, "snapshots/s-1", &exists), 0);
	assert_true(exists);
	assert_int_equal(agent_blob_get_file(b, "snapshots/s-1", out), 0);
	assert_file(out, "snapshot bytes");
	assert_int_equal(agent_blob_get_file(b, "snapshots/s-2", out), -ENOENT);
	assert_int_equal(agent_blob_put_file(b, "../escape", path), -EINVAL);
	assert_int_equal(agent_blob_delete_prefix(b, "snapshots"), 0);
	assert_int_equal(agent_blob_exists(b, "snapshots/s-1", &exists), 0);
	assert_false(exists);
	agent_blob_close(b);
}

UNIT_MAIN("agent_blob", NULL, NULL, tmpdir_setup, tmpdir_teardown,
	  cmocka_unit_test(test_copy_replaces),
	  cmocka_unit_test(test_copy_fails_clean),
	  cmocka_unit_test(test_blob_put_get))
