#include "jobs.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "log.h"
#include "store.h"
#include "util.h"

#define MAX_KINDS 16
#define MAX_WORKERS 32
#define MAX_BACKOFF_S 30

static struct {
	const char *kind;
	ctl_job_fn fn;
} handlers[MAX_KINDS];
static size_t n_handlers;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static pthread_t threads[MAX_WORKERS];
static int n_threads;
static bool stopping;
/* Resources a worker holds now: one job per resource at a time. */
static char busy[MAX_WORKERS][64];

void ctl_jobs_register(const char *kind, ctl_job_fn fn)
{
	if (n_handlers < MAX_KINDS)
		handlers[n_handlers++] = (typeof(handlers[0])){ kind, fn };
}

static ctl_job_fn handler_of(const char *kind)
{
	for (size_t i = 0; i < n_handlers; i++)
		if (streq(handlers[i].kind, kind))
			return handlers[i].fn;
	return NULL;
}

bool ctl_job_given_up(struct ctl *c, const struct ctl_job *job, int r, long status)
{
	return (r == 0 && status >= 400 && status < 500) || time(NULL) - job->created_at > c->cfg.transition_timeout_s;
}

int ctl_jobs_add(sqlite3 *db, const char *kind, const char *resource_id, const char *op, struct json_object *args)
{
	sqlite3_stmt *st = ctl_db_prepare(db, "INSERT INTO jobs (kind, resource_id, op, args, created_at)"
					      " VALUES (?1, ?2, ?3, ?4, ?5)");
	int r;

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, resource_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, op, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, args ? ecs_json_text(args, NULL) : "{}", -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, time(NULL));
	r = ctl_db_step_done(st);
	sqlite3_finalize(st);
	return r;
}

void ctl_jobs_kick(struct ctl *c)
{
	(void)c;
	pthread_mutex_lock(&lock);
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

static bool resource_busy(const char *id)
{
	for (int i = 0; i < n_threads; i++)
		if (streq(busy[i], id))
			return true;
	return false;
}

/* Take the oldest runnable job whose resource nobody holds and has no older job.
 * Called with `lock` held. */
static int claim(struct ctl *c, int me, struct ctl_job *job, char **ret_args)
{
	sqlite3 *db = ctl_db_get(c->store);
	sqlite3_stmt *st;
	int r = -ENOENT;

	if (!db)
		return -EIO;
	st = ctl_db_prepare(db, "SELECT j.job_id, j.kind, j.resource_id, j.op, j.args, j.attempts, j.created_at"
				" FROM jobs j WHERE j.next_at <= ?1 AND NOT EXISTS (SELECT 1 FROM jobs o WHERE"
				" o.resource_id = j.resource_id AND o.job_id < j.job_id) ORDER BY j.job_id LIMIT 64");
	if (st) {
		sqlite3_bind_int64(st, 1, time(NULL));
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *res = (const char *)sqlite3_column_text(st, 2);

			if (resource_busy(res))
				continue;
			job->job_id = sqlite3_column_int64(st, 0);
			job->kind = strdup((const char *)sqlite3_column_text(st, 1));
			job->resource_id = strdup(res);
			job->op = strdup((const char *)sqlite3_column_text(st, 3));
			*ret_args = strdup((const char *)sqlite3_column_text(st, 4));
			job->attempts = sqlite3_column_int(st, 5);
			job->created_at = sqlite3_column_int64(st, 6);
			snprintf(busy[me], sizeof(busy[me]), "%s", res);
			r = 0;
			break;
		}
		sqlite3_finalize(st);
	}
	ctl_db_put(c->store, db);
	return r;
}

static void finish(struct ctl *c, const struct ctl_job *job, enum ctl_job_result res, const char *why)
{
	sqlite3 *db = ctl_db_get(c->store);
	sqlite3_stmt *st;

	if (!db)
		return;
	if (res == CTL_JOB_RETRY) {
		int backoff = 1 << (job->attempts < 5 ? job->attempts : 5);

		st = ctl_db_prepare(db, "UPDATE jobs SET attempts = attempts + 1, next_at = ?2, last_error = ?3,"
					" args = ?4 WHERE job_id = ?1");
		if (st) {
			sqlite3_bind_int64(st, 1, job->job_id);
			sqlite3_bind_int64(st, 2, time(NULL) + (backoff > MAX_BACKOFF_S ? MAX_BACKOFF_S : backoff));
			sqlite3_bind_text(st, 3, why, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 4, ecs_json_text(job->args, NULL), -1, SQLITE_TRANSIENT);
		}
	} else {
		st = ctl_db_prepare(db, "DELETE FROM jobs WHERE job_id = ?1");
		if (st)
			sqlite3_bind_int64(st, 1, job->job_id);
	}
	if (st)
		ctl_db_step_done(st);
	sqlite3_finalize(st);
	ctl_db_put(c->store, db);
	if (res == CTL_JOB_FAILED)
		log_warn("job failed", "kind=%s resource=%s op=%s reason=\"%s\"", job->kind, job->resource_id, job->op,
			 why);
}

struct worker_arg {
	struct ctl *c;
	int me;
};

static void *worker(void *arg)
{
	struct worker_arg *wa = arg;
	struct ctl *c = wa->c;
	int me = wa->me;

	free(wa);
	pthread_mutex_lock(&lock);
	while (!stopping) {
		struct ctl_job job = { 0 };
		_cleanup_free_ char *args = NULL;
		struct json_object *jargs = NULL;
		enum ctl_job_result res;
		char why[512] = "";
		const char *perr;
		ctl_job_fn fn;

		if (claim(c, me, &job, &args) < 0) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1; /* also retries whose backoff has passed */
			pthread_cond_timedwait(&cond, &lock, &ts);
			continue;
		}
		pthread_mutex_unlock(&lock);
		if (!args || ecs_json_parse(args, strlen(args), &jargs, &perr) < 0)
			jargs = json_object_new_object();
		job.args = jargs;
		fn = handler_of(job.kind);
		res = fn ? fn(c, &job, why, sizeof(why)) : CTL_JOB_FAILED;
		if (!fn)
			snprintf(why, sizeof(why), "no handler for %s", job.kind);
		finish(c, &job, res, why);
		json_object_put(jargs);
		free((char *)job.kind);
		free((char *)job.resource_id);
		free((char *)job.op);
		pthread_mutex_lock(&lock);
		busy[me][0] = '\0';
		/* A finished job may unblock the next one of its resource. */
		pthread_cond_broadcast(&cond);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

int ctl_jobs_start(struct ctl *c, int workers)
{
	stopping = false;
	for (int i = 0; i < workers && i < MAX_WORKERS; i++) {
		struct worker_arg *wa = malloc(sizeof(*wa));

		if (!wa)
			return -ENOMEM;
		*wa = (struct worker_arg){ c, i };
		busy[i][0] = '\0';
		if (pthread_create(&threads[i], NULL, worker, wa) != 0) {
			free(wa);
			return -EAGAIN;
		}
		n_threads++;
	}
	return 0;
}

void ctl_jobs_stop(struct ctl *c)
{
	(void)c;
	pthread_mutex_lock(&lock);
	stopping = true;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	for (int i = 0; i < n_threads; i++)
		pthread_join(threads[i], NULL);
	n_threads = 0;
}

int ctl_jobs_pending(struct ctl *c)
{
	sqlite3 *db = ctl_db_get(c->store);
	sqlite3_stmt *st = db ? ctl_db_prepare(db, "SELECT count(*) FROM jobs") : NULL;
	int n = -1;

	if (st && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	ctl_db_put(c->store, db);
	return n;
}
