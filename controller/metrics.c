#include "metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"
#include "util.h"

static const struct ecs_prom_names names = { .prefix = "ecs_api", .op_label = "action", .code_label = "code" };

int ctl_metrics_new(struct ecs_prom **ret)
{
	return ecs_prom_new(&names, ret);
}

void ctl_metrics_request(struct ecs_prom *m, const char *action, const char *code, long long ms)
{
	const struct ctl_action *act = action ? ctl_action_find(action, NULL) : NULL;

	/* The table's own string: no client can grow the series. */
	ecs_prom_request(m, act ? act->name : "unknown", code, ms, 0, 0);
}

/* One gauge family from a query of (label, value) rows. */
static int put_gauge(FILE *f, sqlite3 *db, const char *name, const char *help, const char *label, const char *sql,
		     long long arg)
{
	sqlite3_stmt *st = ctl_db_prepare(db, sql);
	int rc;

	if (!st)
		return -EIO;
	if (sqlite3_bind_parameter_count(st) > 0)
		sqlite3_bind_int64(st, 1, arg);
	fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		fprintf(f, "%s{%s=\"", name, label);
		ecs_prom_put_label(f, (const char *)sqlite3_column_text(st, 0));
		fprintf(f, "\"} %lld\n", (long long)sqlite3_column_int64(st, 1));
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static int put_store(FILE *f, struct ctl *c)
{
	sqlite3 *db = ctl_db_get(c->store);
	int r = -EIO;

	if (!db)
		return -EIO;
	/* Both states always appear, so a dead cloud reads 0 up rather than no series. */
	if (put_gauge(f, db, "ecs_hosts", "Hosts by state: up (a heartbeat within host_dead_after_s) or down.",
		      "state",
		      "SELECT 'up', count(*) FROM hosts WHERE last_seen >= ?1 UNION ALL"
		      " SELECT 'down', count(*) FROM hosts WHERE last_seen < ?1",
		      (long long)time(NULL) - c->cfg.host_dead_after_s) == 0 &&
	    put_gauge(f, db, "ecs_instances", "Instances (not deleted) by status.", "status",
		      "SELECT status, count(*) FROM instances WHERE deleted = 0 GROUP BY status", 0) == 0 &&
	    put_gauge(f, db, "ecs_jobs_queued", "Jobs waiting or running, by kind.", "kind",
		      "SELECT kind, count(*) FROM jobs GROUP BY kind", 0) == 0 &&
	    put_gauge(f, db, "ecs_jobs_retrying", "Queued jobs that failed at least once, by kind.", "kind",
		      "SELECT kind, count(*) FROM jobs WHERE attempts > 0 GROUP BY kind", 0) == 0)
		r = 0;
	ctl_db_put(c->store, db);
	return r;
}

char *ctl_metrics_render(struct ctl *c, size_t console_sessions)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int r;

	if (!f)
		return NULL;
	ecs_prom_render(f, c->metrics);
	r = put_store(f, c);
	fprintf(f, "# HELP ecs_console_sessions Web console sessions signed in and not idle.\n"
		   "# TYPE ecs_console_sessions gauge\necs_console_sessions %zu\n",
		console_sessions);
	if (fclose(f) != 0 || r < 0) {
		free(text);
		return NULL;
	}
	return text;
}
