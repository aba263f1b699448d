/* nstest.h: for the unit tests that drive the real kernel in namespaces of their own
 * (test_nf_apply, test_agent_metadata, test_agent_net, test_sysctl): move into a private
 * network namespace, run a command and take its output, and start a "guest", a child in a
 * network namespace of its own. Header-only: each test is one binary. */
#ifndef ECS_TEST_NSTEST_H
#define ECS_TEST_NSTEST_H

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "cmd.h"
#include "util.h"

/* Move this process (test: its name, for the message) into a network namespace of its
 * own, which dies with it: 0, or -1 having said why. Never the host's network: a test that
 * cannot have its own namespace refuses to run (it needs root: CAP_SYS_ADMIN). */
static inline int nstest_private_netns(const char *test)
{
	if (unshare(CLONE_NEWNET) == 0)
		return 0;
	fprintf(stderr, "%s: unshare(CLONE_NEWNET): %s; these tests need root (CAP_SYS_ADMIN) and refuse to touch "
			"the host's network\n",
		test, strerror(errno));
	return -1;
}

/* Run argv (30 s at most); its status, and its stdout in *ret_out when wanted. */
static inline int nstest_run(const char *const *argv, char **ret_out)
{
	struct ecs_cmd_result r;
	int status;

	assert_int_equal(ecs_cmd_run(argv, &(struct ecs_cmd_opts){ .timeout_ms = 30000 }, &r), 0);
	status = r.status;
	if (ret_out)
		*ret_out = TAKE_PTR(r.out);
	ecs_cmd_result_clear(&r);
	return status;
}

/* A child in a new network namespace of its own, set up by setup (when given; it _exits
 * on failure), that waits to be killed (and dies with this process). Returns once the
 * child is ready. */
static inline pid_t nstest_guest_spawn(void (*setup)(void))
{
	int p[2];
	char c;
	pid_t pid;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (unshare(CLONE_NEWNET) < 0)
			_exit(1);
		if (setup)
			setup();
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	return pid;
}

#endif
