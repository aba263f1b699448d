/* ctl_env.h: a controller state for the controller's unit tests: the default configuration
 * and a SQLite store in a temporary directory, removed again by ctl_test_env_close; and
 * calling an action on it as an account (ctl_test_act) with the answer's checks.
 * Header-only, as golden.h: each test is one binary. */
#ifndef ECS_TEST_CTL_ENV_H
#define ECS_TEST_CTL_ENV_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "account.h"
#include "config.h"
#include "ctl.h"
#include "kv.h"
#include "log.h"
#include "store.h"
#include "util.h"

struct ctl_test_env {
	char dir[64];
	struct ctl c;
	struct ecs_config *raw;
	sqlite3 *db; /* a connection of the pool, held for the test's own SQL */
};

/* name: the test's, for the directory /tmp/NAME.XXXXXX. */
/* A group setup: the controller logs only its errors while the group runs. */
static inline int ctl_test_quiet_logs(void **state)
{
	(void)state;
	ecs_log_set_level(ECS_LOG_ERROR);
	return 0;
}

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

/* A cmocka teardown for a test state whose first member is its struct ctl_test_env and
 * that holds nothing else to free. */
static inline int ctl_test_env_teardown(void **state)
{
	ctl_test_env_close(*state);
	free(*state);
	return 0;
}

/* A test's state with two accounts, alice and bob (tenants that do not trust each other),
 * on a fresh controller state; freed by ctl_test_env_teardown. */
struct ctl_test_tenants {
	struct ctl_test_env t; /* first: ctl_test_env_teardown frees the whole */
	struct ctl_account alice, bob;
};

static inline struct ctl_test_tenants *ctl_test_tenants_open(const char *name)
{
	struct ctl_test_tenants *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	ctl_test_env_open(&e->t, name);
	assert_int_equal(ctl_account_create(&e->t.c, "alice", &e->alice), 0);
	assert_int_equal(ctl_account_create(&e->t.c, "bob", &e->bob), 0);
	return e;
}

/* ---- the database ---- */

/* Run the SQL made from fmt on the test's connection. */
static inline __attribute__((format(printf, 2, 3))) void ctl_test_sql(struct ctl_test_env *e, const char *fmt, ...)
{
	_cleanup_free_ char *q = NULL;
	va_list ap;

	va_start(ap, fmt);
	assert_true(vasprintf(&q, fmt, ap) >= 0);
	va_end(ap);
	assert_int_equal(ctl_db_exec(e->db, q), 0);
}

/* The first column of the first row, as text (caller frees; NULL when no row). */
static inline __attribute__((format(printf, 2, 3))) char *ctl_test_sql_text(struct ctl_test_env *e, const char *fmt,
									       ...)
{
	_cleanup_free_ char *q = NULL;
	sqlite3_stmt *st;
	char *v = NULL;
	va_list ap;

	va_start(ap, fmt);
	assert_true(vasprintf(&q, fmt, ap) >= 0);
	va_end(ap);
	st = ctl_db_prepare(e->db, q);
	assert_non_null(st);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = strdup(sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "");
	sqlite3_finalize(st);
	return v;
}

/* ---- calling actions ---- */

struct ctl_test_answer {
	int rc, status;
	char code[96];
	struct json_object *out;
};

/* Call fn as account with the parameters given as name, value, …, NULL. */
static inline struct ctl_test_answer ctl_test_act(struct ctl_test_env *e, ctl_action_fn fn,
						  const struct ctl_account *account, ...)
{
	struct ecs_kvlist params = ECS_KVLIST_INIT;
	struct ctl_call call = { .c = &e->c, .action = "Test", .request_id = "R", .account = account,
				 .params = &params, .region_id = e->c.cfg.region_id };
	struct ctl_test_answer a = { 0 };
	const char *k;
	va_list ap;

	va_start(ap, account);
	while ((k = va_arg(ap, const char *)))
		assert_int_equal(ecs_kvlist_add(&params, k, va_arg(ap, const char *)), 0);
	va_end(ap);
	a.out = json_object_new_object();
	a.rc = fn(&call, a.out);
	a.status = call.status;
	snprintf(a.code, sizeof(a.code), "%s", call.code);
	/* A failure is always recorded on the call, and a success never. */
	assert_true((a.rc < 0) == (a.status != 0));
	ecs_kvlist_clear(&params);
	return a;
}

static inline void ctl_test_expect_error(struct ctl_test_answer a, int status, const char *code)
{
	if (a.status != status || !streq(a.code, code))
		fail_msg("expected %d %s, got %d %s", status, code, a.status, a.code);
	json_object_put(a.out);
}

static inline void ctl_test_expect_ok(struct ctl_test_answer a)
{
	if (a.rc != 0)
		fail_msg("expected success, got %d %s", a.status, a.code);
	json_object_put(a.out);
}

#endif
