/* tmpdir.h: a folder of the test binary's own under /tmp (`dir`), made by the group's
 * setup and removed by its teardown, and one file name in it (`path`). Define TMPDIR_TAG
 * ("ecsctl-kh": /tmp/ecsctl-kh-XXXXXX) and TMPDIR_FILE ("known_hosts") before including.
 * Header-only: each test is one binary. */
#ifndef ECS_TEST_TMPDIR_H
#define ECS_TEST_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>

#include "util.h"

static char dir[64];
static char path[128];

static int tmpdir_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/" TMPDIR_TAG "-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/" TMPDIR_FILE, dir);
	return 0;
}

static int tmpdir_teardown(void **state)
{
	(void)state;
	ecs_remove_tree(dir);
	return 0;
}

#endif
