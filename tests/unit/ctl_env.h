/* ctl_env.h: a controller state for the controller's unit tests: the default configuration
 * and a SQLite store in a temporary directory, removed again by ctl_test_env_close.
 * Header-only, as golden.h: each test is one binary. */
#ifndef ECS_TEST_CTL_ENV_H
#define ECS_TEST_CTL_ENV_H

#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "ctl.h"
#include "store.h"
#include "util.h"

struct ctl_test_env {
	char dir[64];
	struct ctl c;
	struct ecs_config *raw;
	sqlite3 *db; /* a connection of the pool, held for the test's own SQL */
};

/* name: the test's, for the directory /tmp/NAME.XXXXXX. */
static inline void ctl_test_env_open(struct ctl_test_env *e, const char *name)
{
	_cleanup_free_ char *err = NULL, *path = NULL;

	snprintf(e->dir, sizeof(e->dir), "/tmp/%s.XXXXXX", name);
	assert_non_null(mkdtemp(e->dir));
	assert_int_equal(ctl_config_load(NULL, &e->c.cfg, &e->raw, &err), 0);
	path = ecs_strdup_printf("%s/controller.db", e->dir);
	assert_int_equal(ctl_store_open(path, &e->c.store), 0);
	e->db = ctl_db_get(e->c.store);
	assert_non_null(e->db);
}

static inline void ctl_test_env_close(struct ctl_test_env *e)
{
	ctl_db_put(e->c.store, e->db);
	ctl_store_close(e->c.store);
	ecs_config_free(e->raw);
	ecs_remove_tree(e->dir);
}

#endif
