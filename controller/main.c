/* ecs-controller: the ECS API, accounts, the desired state, scheduling and the agents.
 *
 *   ecs-controller [-c CONFIG] [serve]
 *   ecs-controller [-c CONFIG] account create NAME     prints the AccessKeyId and secret
 *   ecs-controller [-c CONFIG] account ls|list                 names, keys, resource counts
 *   ecs-controller [-c CONFIG] account delete NAME     refused while it owns resources
 *   ecs-controller [-c CONFIG] metrics-token           the bearer token of /metrics */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "account.h"
#include "ceph.h"
#include "config.h"
#include "console.h"
#include "ctl.h"
#include "daemon.h"
#include "ha.h"
#include "heal.h"
#include "migrate.h"
#include "hostauth.h"
#include "http_client.h"
#include "http_server.h"
#include "disk.h"
#include "image.h"
#include "instance.h"
#include "snapshot.h"
#include "jobs.h"
#include "log.h"
#include "metrics.h"
#include "nonce.h"
#include "policy.h"
#include "api_server.h"
#include "rpc.h"
#include "sgsync.h"
#include "slbsync.h"
#include "store.h"
#include "util.h"

static struct ctl ctl;

/* The system image every host carries (make up installs it). */
static int ensure_system_image(struct ctl *c)
{
	sqlite3 *db = ctl_db_get(c->store);
	sqlite3_stmt *st = db ? ctl_db_prepare(db, "INSERT OR IGNORE INTO images (image_id, account_id, name, description,"
						   " size_gib, os_name, os_type, architecture, status, source_snapshot_id,"
						   " owner_alias, created_at) VALUES (?1, NULL, ?1, 'Debian with a busybox"
						   " userland', 1, 'Debian tiny (busybox)', 'linux', 'x86_64', 'Available', '',"
						   " 'system', ?2)")
			      : NULL;
	int r = -EIO;

	if (st) {
		sqlite3_bind_text(st, 1, c->cfg.default_image, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, time(NULL));
		r = ctl_db_step_done(st);
	}
	sqlite3_finalize(st);
	ctl_db_put(c->store, db);
	return r;
}

/* Whether this copy of the state belongs to a change journal (ha.c's ha_state). */
static bool ha_journaled(struct ctl *c)
{
	_cleanup_db_ struct ctl_db_conn conn = ctl_db_take(c->store);
	_cleanup_stmt_ sqlite3_stmt *st =
		conn.db ? ctl_db_prepare(conn.db, "SELECT 1 FROM sqlite_master WHERE name = 'ha_state'") : NULL;

	return !st || sqlite3_step(st) == SQLITE_ROW;
}

static void usage(void)
{
	printf("usage: ecs-controller [-c CONFIG] [serve]\n"
	       "       ecs-controller [-c CONFIG] account create NAME\n"
	       "       ecs-controller [-c CONFIG] account ls\n"
	       "       ecs-controller [-c CONFIG] account delete NAME\n"
	       "       ecs-controller [-c CONFIG] metrics-token\n"
	       "See docs/ecs-api.md and docs/configuration.md.\n");
}

static int open_state(struct ctl *c)
{
	_cleanup_free_ char *db = ecs_strdup_printf("%s/controller.db", c->cfg.data_dir);
	int r;

	r = ecs_mkdirs(c->cfg.data_dir, 0755);
	if (r < 0) {
		fprintf(stderr, "ecs-controller: cannot make %s: %s\n", c->cfg.data_dir, strerror(-r));
		return r;
	}
	chmod(c->cfg.data_dir, 0700); /* secrets live in the database */
	r = db ? ctl_store_open(db, &c->store) : -ENOMEM;
	if (r < 0)
		fprintf(stderr, "ecs-controller: cannot open %s\n", db ? db : "the database");
	return r;
}

static int account_delete(struct ctl *c, const char *name)
{
	enum ctl_account_resource kind;
	long long n = 0;
	int r = ctl_account_delete(c, name, &kind, &n);

	if (r == -ENOENT) {
		fprintf(stderr, "ecs-controller: no account named %s\n", name);
		return 1;
	}
	if (r == -EBUSY) {
		fprintf(stderr, "ecs-controller: account %s still owns %lld %s; delete them first\n", name, n,
			ctl_account_resource_name(kind));
		return 1;
	}
	if (r < 0) {
		fprintf(stderr, "ecs-controller: cannot delete the account: %s\n", strerror(-r));
		return 1;
	}
	printf("deleted account %s\n", name);
	return 0;
}

static int account_cmd(struct ctl *c, int argc, char **argv)
{
	struct ctl_account a;
	int r;

	if (argc == 1 && (streq(argv[0], "ls") || streq(argv[0], "list")))
		return ctl_account_list(c) < 0 ? 1 : 0;
	if (argc == 2 && streq(argv[0], "delete"))
		return account_delete(c, argv[1]);
	if (argc != 2 || !streq(argv[0], "create")) {
		usage();
		return 2;
	}
	r = ctl_account_create(c, argv[1], &a);
	if (r == -EEXIST) {
		fprintf(stderr, "ecs-controller: an account named %s exists\n", argv[1]);
		return 1;
	}
	if (r == -EINVAL) {
		fprintf(stderr, "ecs-controller: an account name is 1-64 of [A-Za-z0-9._-]\n");
		return 2;
	}
	if (r < 0) {
		fprintf(stderr, "ecs-controller: cannot create the account: %s\n", strerror(-r));
		return 1;
	}
	printf("AccountId: %s\nAccessKeyId: %s\nAccessKeySecret: %s\n", a.account_id, a.access_key_id,
	       a.access_key_secret);
	return 0;
}

/* The bearer token Prometheus sends for /metrics (metrics.h), derived from the host key. */
static int metrics_token(struct ctl *c)
{
	_cleanup_free_ char *key = NULL;
	char token[ECS_PROM_TOKEN_LEN + 1];

	if (ecs_daemon_host_key("ecs-controller", c->cfg.host_key_file, &key) < 0 || ecs_prom_token(key, token) < 0)
		return 1;
	printf("%s\n", token);
	return 0;
}

/* Serve from the next whole second: a stamp has one-second steps, and the run before
 * this one may have accepted requests dated this very second (its nonces are gone). */
static void start_clean_second(struct ctl *c)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	c->started_at = now.tv_sec + 1;
	struct timespec rest = { 0, 1000000000L - now.tv_nsec };
	while (nanosleep(&rest, &rest) < 0 && errno == EINTR)
		;
}

/* What only the active controller runs: the system image, jobs, security-group nudges,
 * policies, healing. At start without [ha]; with it, when this controller becomes active. */
static pthread_mutex_t active_lock = PTHREAD_MUTEX_INITIALIZER;
static int active_started; /* 1: started, -1: stopping (never start) */

static int start_active(struct ctl *c)
{
	int r = -1;

	pthread_mutex_lock(&active_lock);
	if (active_started)
		goto out;
	if (ensure_system_image(c) < 0 || ctl_jobs_start(c, 16) < 0)
		goto out;
	/* Security-group nudges (sgsync.c): background threads, never on the API's path. */
	if (ctl_sgsync_start(c) < 0)
		goto out;
	/* Auto-snapshot policies (policy.c): the runner thread, beside the job workers. */
	if (ctl_policy_start(c) < 0)
		goto out;
	/* Dead hosts: detected, fenced, their instances recovered (heal.c). */
	if (ctl_heal_start(c) < 0)
		goto out;
	/* Drained hosts' instances and MigrateInstance, moved one at a time (migrate.c). */
	if (ctl_migrate_start(c) < 0)
		goto out;
	active_started = 1;
	r = 0;
out:
	pthread_mutex_unlock(&active_lock);
	return r;
}

static void promote(struct ctl *c)
{
	if (start_active(c) < 0)
		log_error("controller ha: cannot start the active controller's work", NULL);
}

static int serve(struct ctl *c)
{
	struct ecs_http_client_config hc = {
		.connect_timeout_ms = 3000, .timeout_ms = 300000, .retries = 0, .max_response = 8 << 20,
		.user_agent = "ecs-controller/" CTL_VERSION,
	};
	/* A nudge waits for the agent to pull and apply, but never long: the heartbeat is the
	 * fallback. */
	struct ecs_http_client_config nc = {
		.connect_timeout_ms = 1000, .timeout_ms = 15000, .retries = 0, .max_response = 1 << 20,
		.user_agent = "ecs-controller/" CTL_VERSION,
	};
	sigset_t sigs;
	int sig, r;

	if (ecs_daemon_host_key("ecs-controller", c->cfg.host_key_file, &c->host_key) < 0)
		return 2;
	ecs_daemon_block_signals(&sigs);
	pthread_mutex_init(&c->sched_lock, NULL);
	if (ecs_http_client_new(&hc, &c->agents) < 0 ||
	    ecs_http_client_new(&nc, &c->nudges) < 0 ||
	    ecs_nonce_set_new((size_t)c->cfg.nonces_per_account, &c->sig_nonces) < 0 || ecs_nonce_cache_new(1u << 20, &c->host_nonces) < 0 ||
	    ctl_throttle_new(c->cfg.throttle_rate, c->cfg.throttle_burst, &c->throttle) < 0 || ctl_ceph_new(c) < 0 ||
	    ctl_metrics_new(&c->metrics) < 0 ||
	    ctl_console_new(c->cfg.console_idle_timeout_s, (size_t)c->cfg.console_max_sessions, &c->console) < 0)
		return 1;
	ctl_instance_register_jobs();
	ctl_disk_register_jobs();
	ctl_snapshot_register_jobs();
	ctl_image_register_jobs();
	ctl_slbsync_register_jobs();
	/* The storage cluster's state (ceph.c): read on its own thread, never on the API's. */
	r = ctl_ceph_start(c);
	if (r < 0)
		return 1;
	if (c->cfg.ha_enabled) {
		/* Jobs, heal and policies run on the active controller only (ha.h). */
		if (ctl_ha_start(c, promote) < 0)
			return 1;
	} else if (start_active(c) < 0) {
		return 1;
	}
	start_clean_second(c);
	r = ctl_rpc_start(c);
	if (r < 0) {
		log_error("cannot start the API", "address=%s port=%u", c->cfg.listen_address, c->cfg.port);
		return 1;
	}
	log_info("controller ready", "api=%s:%u region=%s", c->cfg.listen_address, ecs_http_server_port(c->api),
		 c->cfg.region_id);
	while (sigwait(&sigs, &sig) != 0 || (sig != SIGTERM && sig != SIGINT))
		;
	log_info("controller stopping", "signal=%d", sig);
	c->stopping = 1;
	ctl_rpc_stop(c);
	pthread_mutex_lock(&active_lock);
	if (active_started == 1) {
		ctl_migrate_stop();
		ctl_heal_stop(); /* it queues jobs too */
		ctl_policy_stop(c); /* it queues jobs: before the workers stop */
		ctl_jobs_stop(c);
		ctl_sgsync_stop(c);
	}
	active_started = -1;
	pthread_mutex_unlock(&active_lock);
	if (c->cfg.ha_enabled)
		ctl_ha_stop(c);
	ctl_ceph_free(c);
	ecs_http_client_free(c->agents);
	ecs_http_client_free(c->nudges);
	ecs_nonce_set_free(c->sig_nonces);
	ecs_nonce_cache_free(c->host_nonces);
	ctl_throttle_free(c->throttle);
	ctl_console_free(c->console);
	ecs_prom_free(c->metrics);
	log_info("controller stopped", NULL);
	return 0;
}

int main(int argc, char **argv)
{
	struct ecs_config *raw = NULL;
	_cleanup_free_ char *err = NULL;
	const char *config = NULL;
	int r;

	r = ecs_daemon_args(argc, argv, true, usage, &config);
	if (r >= 0)
		return r;
	r = ctl_config_load(config, &ctl.cfg, &raw, &err);
	if (r < 0) {
		fprintf(stderr, "ecs-controller: %s\n", err ? err : strerror(-r));
		return 2;
	}
	ecs_daemon_log_setup("controller", ctl.cfg.log_level);
	if (ctl.cfg.ha_enabled && (optind == argc || streq(argv[optind], "serve")) && ctl_ha_prepare(&ctl, argv) < 0)
		return 1;
	if (open_state(&ctl) < 0)
		return 1;
	if (ctl.cfg.ha_enabled && optind < argc && streq(argv[optind], "account") && ha_journaled(&ctl)) {
		fprintf(stderr, "ecs-controller: with [ha] enabled, accounts are made before the first start"
				" (a journaled copy is changed only through the active controller)\n");
		ctl_store_close(ctl.store);
		ecs_config_free(raw);
		return 1;
	}
	if (optind < argc && streq(argv[optind], "account"))
		r = account_cmd(&ctl, argc - optind - 1, argv + optind + 1);
	else if (optind + 1 == argc && streq(argv[optind], "metrics-token"))
		r = metrics_token(&ctl);
	else if (optind == argc || streq(argv[optind], "serve"))
		r = serve(&ctl);
	else {
		usage();
		r = 2;
	}
	ctl_store_close(ctl.store);
	ecs_config_free(raw);
	return r;
}
