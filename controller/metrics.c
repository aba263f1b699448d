#include "metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "store.h"
#include "util.h"

/* Upper bounds of the latency buckets, in seconds (+Inf is the count). */
static const double bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60 };
#define N_BOUNDS (sizeof(bounds) / sizeof(bounds[0]))

struct series {
	const char *action; /* the table's own string, or "unknown" */
	char code[96];
	unsigned long long n;
	struct series *next;
};

struct hist {
	const char *action;
	unsigned long long bucket[N_BOUNDS];
	unsigned long long count;
	double sum;
	struct hist *next;
};

struct ctl_metrics {
	pthread_mutex_t lock;
	struct series *series;
	size_t n_series;
	unsigned long long dropped;
	struct hist *hists;
};

int ctl_metrics_new(struct ctl_metrics **ret)
{
	struct ctl_metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	*ret = m;
	return 0;
}

void ctl_metrics_free(struct ctl_metrics *m)
{
	if (!m)
		return;
	for (struct series *s = m->series, *n; s; s = n) {
		n = s->next;
		free(s);
	}
	for (struct hist *h = m->hists, *n; h; h = n) {
		n = h->next;
		free(h);
	}
	pthread_mutex_destroy(&m->lock);
	free(m);
}

void ctl_metrics_request(struct ctl_metrics *m, const char *action, const char *code, long long ms)
{
	const struct ctl_action *act = action ? ctl_action_find(action, NULL) : NULL;
	const char *name = act ? act->name : "unknown";
	double s = ms < 0 ? 0 : (double)ms / 1000.0;
	struct series *se;
	struct hist *h;

	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	for (se = m->series; se && !(se->action == name && streq(se->code, code)); se = se->next)
		;
	if (!se && m->n_series < CTL_METRICS_MAX_SERIES && (se = calloc(1, sizeof(*se)))) {
		se->action = name;
		snprintf(se->code, sizeof(se->code), "%s", code);
		se->next = m->series;
		m->series = se;
		m->n_series++;
	}
	if (se)
		se->n++;
	else
		m->dropped++;
	for (h = m->hists; h && h->action != name; h = h->next)
		;
	if (!h && (h = calloc(1, sizeof(*h)))) {
		h->action = name;
		h->next = m->hists;
		m->hists = h;
	}
	if (h) {
		for (size_t i = 0; i < N_BOUNDS; i++)
			if (s <= bounds[i])
				h->bucket[i]++;
		h->count++;
		h->sum += s;
	}
	pthread_mutex_unlock(&m->lock);
}

int ctl_metrics_token(const char *host_key, char out[65])
{
	static const char label[] = "ecs-metrics";
	uint8_t mac[ECS_SHA256_LEN];

	if (!host_key || ecs_hmac_sha256(host_key, strlen(host_key), label, sizeof(label) - 1, mac) < 0)
		return -EINVAL;
	ecs_hex_encode(mac, sizeof(mac), out);
	return 0;
}

/* A label value as the format wants it: \\, \" and \n escaped. */
static void put_label(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*v, f);
	}
}

static void put_requests(FILE *f, struct ctl_metrics *m)
{
	fputs("# HELP ecs_api_requests_total API requests answered, by action and the API's Code (OK: success).\n"
	      "# TYPE ecs_api_requests_total counter\n", f);
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	for (struct series *s = m->series; s; s = s->next) {
		fprintf(f, "ecs_api_requests_total{action=\"%s\",code=\"", s->action);
		put_label(f, s->code);
		fprintf(f, "\"} %llu\n", s->n);
	}
	fprintf(f, "# HELP ecs_api_requests_unlabelled_total Requests counted after the series limit.\n"
		   "# TYPE ecs_api_requests_unlabelled_total counter\necs_api_requests_unlabelled_total %llu\n",
		m->dropped);
	fputs("# HELP ecs_api_request_duration_seconds Time from a request's arrival to its answer, by action.\n"
	      "# TYPE ecs_api_request_duration_seconds histogram\n", f);
	for (struct hist *h = m->hists; h; h = h->next) {
		for (size_t i = 0; i < N_BOUNDS; i++)
			fprintf(f, "ecs_api_request_duration_seconds_bucket{action=\"%s\",le=\"%g\"} %llu\n", h->action,
				bounds[i], h->bucket[i]);
		fprintf(f, "ecs_api_request_duration_seconds_bucket{action=\"%s\",le=\"+Inf\"} %llu\n", h->action,
			h->count);
		fprintf(f, "ecs_api_request_duration_seconds_sum{action=\"%s\"} %.6f\n", h->action, h->sum);
		fprintf(f, "ecs_api_request_duration_seconds_count{action=\"%s\"} %llu\n", h->action, h->count);
	}
	pthread_mutex_unlock(&m->lock);
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
		put_label(f, (const char *)sqlite3_column_text(st, 0));
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
	put_requests(f, c->metrics);
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
