/* Tests for lib/cmd.c: real commands (exit status, stdin, capture, timeout, bounds,
 * descriptor hygiene) and the dry-run recorder against a golden file. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit.h"
#include "cmd.h"
#include "golden.h"
#include "timeutil.h"
#include "util.h"

static void test_run_and_capture(void **state)
{
	const char *argv[] = { "sh", "-c", "echo out; echo err >&2; exit 3", NULL };
	struct ecs_cmd_result r;

	(void)state;
	assert_int_equal(ecs_cmd_run(argv, NULL, &r), 0);
	assert_int_equal(r.status, 3);
	assert_string_equal(r.out, "out\n");
	assert_string_equal(r.err, "err\n");
	ecs_cmd_result_clear(&r);
	assert_int_equal(ecs_cmd_run_ok(argv, NULL, &r), -EIO);
}

static void test_no_shell(void **state)
{
	/* Arguments reach the program as they are: no globbing, no expansion. */
	const char *argv[] = { "echo", "$HOME", "*", "a b", NULL };
	struct ecs_cmd_result r;

	(void)state;
	assert_int_equal(ecs_cmd_run_ok(argv, NULL, &r), 0);
	assert_string_equal(r.out, "$HOME * a b\n");
	ecs_cmd_result_clear(&r);
}

static void test_stdin(void **state)
{
	const char *argv[] = { "cat", NULL };
	struct ecs_cmd_opts o = { .stdin_text = "line1\nline2\n" };
	struct ecs_cmd_result r;
	_cleanup_free_ char *big = malloc(1 << 20);

	(void)state;
	assert_int_equal(ecs_cmd_run(argv, &o, &r), 0);
	assert_string_equal(r.out, "line1\nline2\n");
	ecs_cmd_result_clear(&r);

	/* More than a pipe buffer in both directions at once must not deadlock. */
	memset(big, 'x', 1 << 20);
	o.stdin_text = big;
	o.stdin_len = 1 << 20;
	assert_int_equal(ecs_cmd_run(argv, &o, &r), 0);
	assert_int_equal(r.out_len, 1 << 20);
	ecs_cmd_result_clear(&r);

	/* A command that ignores its stdin and exits does not kill us with SIGPIPE. */
	const char *tru[] = { "true", NULL };
	assert_int_equal(ecs_cmd_run(tru, &o, &r), 0);
	assert_int_equal(r.status, 0);
	ecs_cmd_result_clear(&r);
}

static void test_not_found(void **state)
{
	const char *argv[] = { "no-such-program-ecs", NULL };
	struct ecs_cmd_result r;

	(void)state;
	assert_int_equal(ecs_cmd_run(argv, NULL, &r), -ENOENT);
}

static void test_timeout_kills_group(void **state)
{
	/* The shell starts a child; both must die at the timeout. */
	const char *argv[] = { "sh", "-c", "sleep 30 & sleep 30; echo never", NULL };
	struct ecs_cmd_opts o = { .timeout_ms = 300 };
	struct ecs_cmd_result r;
	int64_t t0 = ecs_now_mono_ms();

	(void)state;
	assert_int_equal(ecs_cmd_run(argv, &o, &r), -ETIMEDOUT);
	assert_true(ecs_now_mono_ms() - t0 < 5000);
}

static void test_output_bound(void **state)
{
	const char *argv[] = { "head", "-c", "100000", "/dev/zero", NULL };
	struct ecs_cmd_opts o = { .max_output = 1000 };
	struct ecs_cmd_result r;

	(void)state;
	assert_int_equal(ecs_cmd_run(argv, &o, &r), -EFBIG);
}

static void test_fds_closed_in_child(void **state)
{
	/* An inheritable descriptor of ours must not reach the command. */
	int fd = open("/dev/null", O_RDONLY); /* no O_CLOEXEC on purpose */
	const char *argv[] = { "ls", "/proc/self/fd", NULL };
	struct ecs_cmd_result r;
	char name[16];

	(void)state;
	assert_true(fd > 2);
	assert_int_equal(ecs_cmd_run_ok(argv, NULL, &r), 0);
	snprintf(name, sizeof(name), "\n%d\n", fd);
	/* ls itself opens one fd (3) for the directory; ours is higher. */
	if (fd > 3)
		assert_null(strstr(r.out, name));
	ecs_cmd_result_clear(&r);
	close(fd);
}

/* Another thread's descriptors must survive commands run meanwhile: a runner that closes
 * a number twice closes whatever that thread opened under it in between. */
static volatile int stop_opener;
static volatile int stolen;

static void *opener(void *arg)
{
	(void)arg;
	while (!stop_opener) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

		for (int i = 0; i < 50; i++)
			if (fcntl(fd, F_GETFD) < 0)
				stolen = 1;
		close(fd);
	}
	return NULL;
}

static void test_no_double_close_across_threads(void **state)
{
	const char *argv[] = { "true", NULL };
	pthread_t t;

	(void)state;
	stop_opener = 0;
	stolen = 0;
	pthread_create(&t, NULL, opener, NULL);
	for (int i = 0; i < 300 && !stolen; i++) {
		struct ecs_cmd_result r;

		assert_int_equal(ecs_cmd_run(argv, NULL, &r), 0);
		ecs_cmd_result_clear(&r);
	}
	stop_opener = 1;
	pthread_join(t, NULL);
	assert_false(stolen);
}

static void fake_output(const char *const *argv, const char *stdin_text, char **out, int *status, void *ud)
{
	(void)stdin_text;
	(*(int *)ud)++;
	if (streq(argv[0], "iptables-save")) {
		*out = strdup("*filter\n:ECS-X - [0:0]\nCOMMIT\n");
		*status = 0;
	}
}

static void test_dry_run_golden(void **state)
{
	const char *save[] = { "iptables-save", "-t", "filter", NULL };
	const char *restore[] = { "iptables-restore", "--noflush", NULL };
	const char *img[] = { "qemu-img", "create", "-f", "qcow2", "-b", "/var/lib/ecs/images/it's.qcow2", "-F",
			      "qcow2", "/var/lib/ecs/disks/d 1.qcow2", "20G", NULL };
	struct ecs_cmd_opts o = { .stdin_text = "*filter\n-A ECS-X -j ACCEPT\nCOMMIT" };
	struct ecs_cmd_result r;
	_cleanup_free_ char *rec = NULL;
	int calls = 0;

	(void)state;
	ecs_cmd_dry_run_start(fake_output, &calls);
	assert_int_equal(ecs_cmd_run_ok(save, NULL, &r), 0);
	assert_string_equal(r.out, "*filter\n:ECS-X - [0:0]\nCOMMIT\n");
	ecs_cmd_result_clear(&r);
	assert_int_equal(ecs_cmd_run_ok(restore, &o, NULL), 0);
	assert_int_equal(ecs_cmd_run_ok(img, NULL, NULL), 0);
	rec = ecs_cmd_dry_run_stop();
	assert_int_equal(calls, 3);
	assert_golden("cmd_dry_run.txt", rec);

	/* After stop, commands run for real again. */
	const char *tru[] = { "true", NULL };
	assert_int_equal(ecs_cmd_run_ok(tru, NULL, NULL), 0);
}

UNIT_MAIN("cmd", NULL, NULL, NULL, NULL,
	  cmocka_unit_test(test_run_and_capture), cmocka_unit_test(test_no_shell),
	  cmocka_unit_test(test_stdin),		cmocka_unit_test(test_not_found),
	  cmocka_unit_test(test_timeout_kills_group), cmocka_unit_test(test_output_bound),
	  cmocka_unit_test(test_fds_closed_in_child), cmocka_unit_test(test_dry_run_golden),
	  cmocka_unit_test(test_no_double_close_across_threads))
