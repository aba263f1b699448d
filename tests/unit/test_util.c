/* Tests for lib/id.c, lib/timeutil.c, lib/buf.c and lib/util.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit.h"
#include "buf.h"
#include "id.h"
#include "timeutil.h"
#include "util.h"

static void test_resource_ids(void **state)
{
	static const char *const want[_ECS_ID_KIND_MAX] = { "i-", "d-", "s-", "m-", "sg-", "lb-", "sp-", "kp-", "ds-" };
	char a[ECS_ID_MAX], b[ECS_ID_MAX];

	(void)state;
	for (int k = 0; k < _ECS_ID_KIND_MAX; k++) {
		assert_int_equal(ecs_id_new((enum ecs_id_kind)k, a), 0);
		assert_true(str_has_prefix(a, want[k]));
		assert_int_equal(strlen(a), strlen(want[k]) + ECS_ID_RANDOM_LEN);
		assert_true(ecs_id_valid((enum ecs_id_kind)k, a));
		assert_int_equal(ecs_id_new((enum ecs_id_kind)k, b), 0);
		assert_string_not_equal(a, b);
	}
	assert_int_equal(ecs_id_new(_ECS_ID_KIND_MAX, a), -EINVAL);
	assert_false(ecs_id_valid(ECS_ID_INSTANCE, "i-short"));
	assert_false(ecs_id_valid(ECS_ID_INSTANCE, "d-aaaaaaaaaaaaaaaaaaaa"));
	assert_false(ecs_id_valid(ECS_ID_INSTANCE, "i-AAAAAAAAAAAAAAAAAAAA"));
	assert_false(ecs_id_valid(ECS_ID_INSTANCE, "i-aaaaaaaaaaaaaaaaaaa1"));
	assert_true(ecs_id_valid(ECS_ID_INSTANCE, "i-aaaaaaaaaaaaaaaaaaa7"));
	assert_false(ecs_id_valid(ECS_ID_INSTANCE, NULL));
}

static void test_request_ids(void **state)
{
	char a[ECS_REQUEST_ID_LEN + 1], b[ECS_REQUEST_ID_LEN + 1];

	(void)state;
	assert_int_equal(ecs_request_id_new(a), 0);
	assert_int_equal(ecs_request_id_new(b), 0);
	assert_int_equal(strlen(a), 36);
	assert_string_not_equal(a, b);
	assert_int_equal(a[8], '-');
	assert_int_equal(a[14], '4');
	assert_non_null(strchr("89AB", a[19]));
	for (int i = 0; i < 36; i++)
		assert_non_null(strchr("0123456789ABCDEF-", a[i]));
}

static void test_time(void **state)
{
	char buf[ECS_ISO8601_LEN + 1];
	time_t t;

	(void)state;
	ecs_time_format(1456231584, buf);
	assert_string_equal(buf, "2016-02-23T12:46:24Z");
	assert_int_equal(ecs_time_parse("2016-02-23T12:46:24Z", &t), 0);
	assert_int_equal(t, 1456231584);
	assert_int_equal(ecs_time_parse("2016-02-23T12:46Z", &t), 0);
	assert_int_equal(t, 1456231560);
	assert_int_equal(ecs_time_parse("2016-02-23 12:46:24", &t), -EINVAL);
	assert_int_equal(ecs_time_parse("2016-13-23T12:46:24Z", &t), -EINVAL);
	assert_int_equal(ecs_time_parse("2016-02-23T12:46:24Zjunk", &t), -EINVAL);
	assert_true(ecs_now_mono_ms() > 0);
}

static void test_parse_helpers(void **state)
{
	long long v;
	bool b;

	(void)state;
	assert_int_equal(ecs_parse_int64("42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(ecs_parse_int64("-1", -1, 100, &v), 0);
	assert_int_equal(ecs_parse_int64("101", 0, 100, &v), -ERANGE);
	assert_int_equal(ecs_parse_int64("99999999999999999999", 0, 100, &v), -ERANGE);
	assert_int_equal(ecs_parse_int64(" 4", 0, 100, &v), -EINVAL);
	assert_int_equal(ecs_parse_int64("+4", 0, 100, &v), -EINVAL);
	assert_int_equal(ecs_parse_int64("4x", 0, 100, &v), -EINVAL);
	assert_int_equal(ecs_parse_int64("", 0, 100, &v), -EINVAL);
	assert_int_equal(ecs_parse_bool("TRUE", &b), 0);
	assert_true(b);
	assert_int_equal(ecs_parse_bool("off", &b), 0);
	assert_false(b);
	assert_int_equal(ecs_parse_bool("2", &b), -EINVAL);
}

static void test_files(void **state)
{
	char path[64], inner[80], tmp[96];
	_cleanup_free_ char *data = NULL;
	char *big = NULL;
	size_t len;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/ecs-test-util-%d", getpid());
	assert_int_equal(ecs_write_file_atomic(path, "hello\n", 6, 0600), 0);
	assert_int_equal(ecs_read_file(path, 6, &data, &len), 0);
	assert_string_equal(data, "hello\n");
	assert_int_equal(len, 6);
	assert_int_equal(ecs_read_file(path, 5, &big, &len), -EFBIG);
	assert_null(big);
	unlink(path);
	assert_int_equal(ecs_read_file(path, 5, &big, &len), -ENOENT);
	assert_int_equal(ecs_write_file_atomic("/nonexistent/dir/x", "a", 1, 0600), -ENOENT);
	/* A rename over a folder that is not empty fails, and the temp file does not stay. */
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(inner, sizeof(inner), "%s/f", path);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, getpid());
	assert_int_equal(ecs_write_file_atomic(inner, "b", 1, 0600), 0);
	assert_int_equal(ecs_write_file_atomic(path, "a", 1, 0600), -EISDIR);
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(ecs_remove_tree(path), 0);
}

static void test_buf_bound(void **state)
{
	struct ecs_buf b = { 0 };
	_cleanup_free_ char *s = NULL;

	(void)state;
	assert_int_equal(ecs_buf_append(&b, "abc", 3, 5), 0);
	assert_int_equal(ecs_buf_append(&b, "de", 2, 5), 0);
	assert_string_equal(b.data, "abcde");
	/* Past the bound: refused, nothing appended. */
	assert_int_equal(ecs_buf_append(&b, "f", 1, 5), -EFBIG);
	assert_int_equal(b.len, 5);
	assert_int_equal(ecs_buf_append(&b, "x", (size_t)-1, 5), -EFBIG);
	s = ecs_buf_steal(&b);
	assert_string_equal(s, "abcde");
	assert_null(b.data);
	ecs_buf_free(&b);
	free(s);
	s = ecs_buf_steal(&b); /* empty: "" */
	assert_string_equal(s, "");
}

static void test_remove_tree(void **state)
{
	char root[64], path[128];
	FILE *f;

	(void)state;
	snprintf(root, sizeof(root), "/tmp/ecs-test-tree-%d", getpid());
	assert_int_equal(mkdir(root, 0755), 0);
	snprintf(path, sizeof(path), "%s/a", root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/a/f", root);
	f = fopen(path, "w");
	fputs("x", f);
	fclose(f);
	/* A symlink to outside is removed, its target untouched. */
	snprintf(path, sizeof(path), "%s/link", root);
	assert_int_equal(symlink("/etc/hostname", path), 0);
	assert_int_equal(ecs_remove_tree(root), 0);
	assert_int_equal(access(root, F_OK), -1);
	assert_int_equal(access("/etc/hostname", F_OK), 0);
	assert_int_equal(ecs_remove_tree(root), 0); /* absent: fine */
}

static void test_mkdirs(void **state)
{
	char root[64], path[128];
	struct stat st;

	(void)state;
	snprintf(root, sizeof(root), "/tmp/ecs-test-mkdirs-%d", getpid());
	snprintf(path, sizeof(path), "%s/a/b/c", root);
	assert_int_equal(ecs_mkdirs(path, 0750), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(ecs_mkdirs(path, 0750), 0); /* there already: fine */
	snprintf(path, sizeof(path), "%s/a/b/c/", root);
	assert_int_equal(ecs_mkdirs(path, 0750), 0); /* a trailing '/' */
	/* A file in the way. */
	snprintf(path, sizeof(path), "%s/f", root);
	assert_int_equal(ecs_write_file_atomic(path, "x", 1, 0600), 0);
	snprintf(path, sizeof(path), "%s/f/g", root);
	assert_int_equal(ecs_mkdirs(path, 0750), -ENOTDIR);
	assert_int_equal(ecs_mkdirs("", 0750), -EINVAL);
	assert_int_equal(ecs_mkdirs(NULL, 0750), -EINVAL);
	assert_int_equal(ecs_remove_tree(root), 0);
}

UNIT_MAIN("util", NULL, NULL, NULL, NULL,
	  cmocka_unit_test(test_resource_ids), cmocka_unit_test(test_request_ids),
	  cmocka_unit_test(test_time),	     cmocka_unit_test(test_parse_helpers),
	  cmocka_unit_test(test_files),	     cmocka_unit_test(test_buf_bound),
	  cmocka_unit_test(test_remove_tree),     cmocka_unit_test(test_mkdirs))
