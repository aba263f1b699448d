/* golden.h: compare text against tests/unit/golden/NAME; ECS_REGENERATE_GOLDEN=1 rewrites the
 * file instead (then review the diff with git). Header-only: each test is one binary. */
#ifndef ECS_TEST_GOLDEN_H
#define ECS_TEST_GOLDEN_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#ifndef GOLDEN_DIR
#define GOLDEN_DIR "tests/unit/golden"
#endif

static inline void assert_golden(const char *name, const char *text)
{
	_cleanup_free_ char *path = ecs_strdup_printf("%s/%s", GOLDEN_DIR, name);
	_cleanup_free_ char *want = NULL;
	const char *regen = getenv("ECS_REGENERATE_GOLDEN");

	if (regen && streq(regen, "1")) {
		assert_int_equal(ecs_write_file_atomic(path, text, strlen(text), 0644), 0);
		return;
	}
	if (ecs_read_file(path, 16 * 1024 * 1024, &want, NULL) < 0)
		fail_msg("golden file %s missing (run with ECS_REGENERATE_GOLDEN=1)", path);
	if (strcmp(want, text) != 0) {
		fprintf(stderr, "--- %s (expected)\n%s--- got\n%s---\n", path, want, text);
		fail_msg("output differs from golden file %s (ECS_REGENERATE_GOLDEN=1 rewrites it)", path);
	}
}

#endif
