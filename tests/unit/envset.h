/* envset.h: set and unset a table of environment variables (the ECS_* overrides a test
 * gives a daemon's config). */
#ifndef TESTS_ENVSET_H
#define TESTS_ENVSET_H

#include <stddef.h>
#include <stdlib.h>

static inline void env_set(const char *const (*kv)[2], size_t n)
{
	for (size_t i = 0; i < n; i++)
		setenv(kv[i][0], kv[i][1], 1);
}

static inline void env_unset(const char *const (*kv)[2], size_t n)
{
	for (size_t i = 0; i < n; i++)
		unsetenv(kv[i][0]);
}

#endif
