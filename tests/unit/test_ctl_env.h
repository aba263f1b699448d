/* test_ctl_env.h: a controller state for the tests of its action modules: a fresh SQLite
 * file in a temporary folder, the default configuration, and two accounts, alice and bob;
 * actions called directly as either account, and SQL on the same database. Header-only
 * (each test is one binary); include it after cmocka.h. */
#ifndef TEST_CTL_ENV_H
#define TEST_CTL_ENV_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "config.h"
#include "ctl.h"
#include "json.h"
#include "store.h"
#include "util.h"

struct env {
	char dir[64];
	struct ctl c;
	struct ecs_config *raw;
	struct ctl_account alice, bob;
};

/* A new state under /tmp/<name>.XXXXXX. */
static inline struct env *env_new(const char *name)
{
	struct env *e = calloc(1, sizeof(*e));
	_cleanup_free_ char *err = NULL, *path = NULL;

	assert_non_null(e);
	snprintf(e->dir, sizeof(e->dir), "/tmp/%s.XXXXXX", name);
	assert_non_null(mkdtemp(e->dir));
	assert_int_equal(ctl_config_load(NULL, &e->c.cfg, &e->raw, &err), 0);
	path = ecs_strdup_printf("%s/controller.db", e->dir);
	assert_int_equal(ctl_store_open(path, &e->c.store), 0);
	assert_int_equal(ctl_account_create(&e->c, "alice", &e->alice), 0);
	assert_int_equal(ctl_account_create(&e->c, "bob", &e->bob), 0);
	return e;
}

static inline void env_free(struct env *e)
{
	ctl_store_close(e->c.store);
	ecs_config_free(e->raw);
	ecs_remove_tree(e->dir);
	free(e);
}

/* ---- calling actions ---- */

struct answer {
	int rc, status;
	char code[96];
	struct json_object *out;
};

/* Call fn as account with the parameters given as name, value, …, NULL. */
static inline struct answer act(struct env *e, ctl_action_fn fn, const struct ctl_account *account, ...)
{
	struct ecs_kvlist params = ECS_KVLIST_INIT;
	struct ctl_call call = { .c = &e->c, .action = "Test", .request_id = "R", .account = account,
				 .params = &params, .region_id = e->c.cfg.region_id };
	struct answer a = { 0 };
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

static inline void expect_error(struct answer a, int status, const char *code)
{
	if (a.status != status || !streq(a.code, code))
		fail_msg("expected %d %s, got %d %s", status, code, a.status, a.code);
	json_object_put(a.out);
}

static inline void expect_ok(struct answer a)
{
	if (a.rc != 0)
		fail_msg("expected success, got %d %s", a.status, a.code);
	json_object_put(a.out);
}

/* ---- the database ---- */

static inline void sql(struct env *e, const char *fmt, ...)
{
	_cleanup_free_ char *q = NULL;
	sqlite3 *db = ctl_db_get(e->c.store);
	va_list ap;

	va_start(ap, fmt);
	assert_true(vasprintf(&q, fmt, ap) >= 0);
	va_end(ap);
	assert_int_equal(ctl_db_exec(db, q), 0);
	ctl_db_put(e->c.store, db);
}

/* The first column of the first row, as text (caller frees; NULL when no row). */
static inline char *sql_text(struct env *e, const char *fmt, ...)
{
	_cleanup_free_ char *q = NULL;
	sqlite3 *db = ctl_db_get(e->c.store);
	sqlite3_stmt *st;
	char *v = NULL;
	va_list ap;

	va_start(ap, fmt);
	assert_true(vasprintf(&q, fmt, ap) >= 0);
	va_end(ap);
	st = ctl_db_prepare(db, q);
	assert_non_null(st);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = strdup(sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "");
	sqlite3_finalize(st);
	ctl_db_put(e->c.store, db);
	return v;
}

#endif
