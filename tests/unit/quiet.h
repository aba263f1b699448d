/* quiet.h: tests that go through many refusals silence the log meanwhile, and check a
 * refusal and its message. Header-only: each test is one binary. */
#ifndef ECS_TEST_QUIET_H
#define ECS_TEST_QUIET_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "util.h"

/* The log goes to /dev/null until loud_logs(). */
static inline FILE *quiet_logs(void)
{
	FILE *f = fopen("/dev/null", "we");

	assert_non_null(f);
	ecs_log_set_output(f);
	return f;
}

static inline void loud_logs(FILE *quiet)
{
	ecs_log_set_output(NULL);
	fclose(quiet);
}

/* Case name was refused (r is -EINVAL) with an error that says message. */
static inline void assert_refused(const char *name, int r, const char *error, const char *message)
{
	if (r != -EINVAL)
		fail_msg("case %s: accepted (%d)", name, r);
	if (!error || !strstr(error, message))
		fail_msg("case %s: message \"%s\" lacks \"%s\"", name, strempty(error), message);
}

#endif
