/* ecs-ossd: the object service's gateway (OSS REST API over RADOS). Stateless: any host
 * may run one. See docs/oss-api.md and docs/architecture.md. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "config.h"
#include "daemon.h"
#include "keys.h"
#include "log.h"
#include "oss.h"
#include "store.h"
#include "util.h"

static const struct ecs_config_option options[] = {
	{ "oss", "listen_address", ECS_CONFIG_STRING, "127.0.0.1", 0, 0, "API address" },
	{ "oss", "port", ECS_CONFIG_INT, "8775", 0, 65535, "API port (0: any, tests)" },
	{ "oss", "max_connections", ECS_CONFIG_INT, "512", 1, 65536, "connections served at once" },
	{ "oss", "region", ECS_CONFIG_STRING, "cn-local", 0, 0, "GetBucketLocation answers oss-REGION" },
	{ "oss", "controller_url", ECS_CONFIG_STRING, "http://127.0.0.1:8773", 0, 0, "where keys are asked" },
	{ "oss", "host_key_file", ECS_CONFIG_STRING, "/etc/ecs/host.key", 0, 0, "signs calls to the controller" },
	{ "oss", "key_cache_s", ECS_CONFIG_INT, "30", 0, 3600, "how long a key is kept" },
	{ "oss", "max_buckets", ECS_CONFIG_INT, "100", 1, 100000, "buckets an account may own" },
	{ "oss", "gc_delay_s", ECS_CONFIG_INT, "60", 0, 86400, "a replaced version's bytes live this long" },
	{ "oss", "gc_interval_s", ECS_CONFIG_INT, "30", 1, 3600, "how often the GC queue is swept" },
	{ "oss", "ceph_conf", ECS_CONFIG_STRING, "/var/lib/ecs/ceph/ceph.conf", 0, 0, "the cluster's ceph.conf" },
	{ "oss", "ceph_user", ECS_CONFIG_STRING, "client.ecs-ossd", 0, 0, "the cephx user" },
	{ "oss", "keyring", ECS_CONFIG_STRING, "", 0, 0, "its keyring (empty: keys/ceph.USER.keyring beside ceph_conf)" },
	{ "oss", "pool", ECS_CONFIG_STRING, "ecs-oss", 0, 0, "the RADOS pool" },
	{ "oss", "log_level", ECS_CONFIG_STRING, "info", 0, 0, "debug, info, warn, error" },
};

static void usage(void)
{
	printf("usage: ecs-ossd [-c CONFIG]\nSee docs/oss-api.md and docs/configuration.md.\n");
}

static int rados_open(struct oss *o, const struct ecs_config *cfg)
{
	const char *conf = ecs_config_str(cfg, "oss", "ceph_conf"), *user = ecs_config_str(cfg, "oss", "ceph_user");
	const char *keyring = ecs_config_str(cfg, "oss", "keyring");
	_cleanup_free_ char *dir = strdup(conf), *kr = NULL;
	char *slash;
	int r;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	kr = *keyring ? strdup(keyring) : ecs_strdup_printf("%s/keys/ceph.%s.keyring", slash ? dir : ".", user);
	if (!kr)
		return -ENOMEM;
	if ((r = rados_create2(&o->cluster, "ceph", user, 0)) < 0 || (r = rados_conf_read_file(o->cluster, conf)) < 0 ||
	    (r = rados_conf_set(o->cluster, "keyring", kr)) < 0 || (r = rados_connect(o->cluster)) < 0) {
		log_error("cannot connect to the cluster", "conf=%s user=%s error=%s", conf, user, strerror(-r));
		return r;
	}
	r = rados_ioctx_create(o->cluster, ecs_config_str(cfg, "oss", "pool"), &o->io);
	if (r < 0)
		log_error("cannot open the pool", "pool=%s error=%s", ecs_config_str(cfg, "oss", "pool"), strerror(-r));
	return r;
}

struct gc_args {
	struct oss *o;
	unsigned interval_s;
};

static void *gc_loop(void *arg)
{
	struct gc_args *a = arg;
	struct oss *o = a->o;

	pthread_mutex_lock(&o->gc_mu);
	while (!o->stop) {
		struct timespec ts;
		int n;

		pthread_mutex_unlock(&o->gc_mu);
		n = oss_gc_run(o, time(NULL));
		if (n > 0)
			log_info("gc removed versions", "count=%d", n);
		else if (n < 0)
			log_warn("gc pass failed", "error=%s", strerror(-n));
		pthread_mutex_lock(&o->gc_mu);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += a->interval_s;
		while (!o->stop && pthread_cond_timedwait(&o->gc_cv, &o->gc_mu, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&o->gc_mu);
	return NULL;
}

int main(int argc, char **argv)
{
	static struct oss o;
	struct ecs_config *cfg = NULL;
	struct ecs_http_server *srv = NULL;
	_cleanup_free_ char *err = NULL, *host_key = NULL;
	char hostname[256] = "";
	const char *config = NULL;
	struct gc_args ga;
	sigset_t sigs;
	int sig, r, ret = 1;

	r = ecs_daemon_args(argc, argv, false, usage, &config);
	if (r >= 0)
		return r;
	r = ecs_config_load(options, ARRAY_SIZE(options), config, &cfg, &err);
	if (r < 0) {
		fprintf(stderr, "ecs-ossd: %s\n", err ? err : strerror(-r));
		return 2;
	}
	ecs_daemon_log_setup("ossd", ecs_config_str(cfg, "oss", "log_level"));
	if (ecs_daemon_host_key("ecs-ossd", ecs_config_str(cfg, "oss", "host_key_file"), &host_key) < 0) {
		ecs_config_free(cfg);
		return 2;
	}
	ecs_daemon_block_signals(&sigs);
	gethostname(hostname, sizeof(hostname) - 1);
	o.host_name = hostname;
	o.region = ecs_config_str(cfg, "oss", "region");
	o.gc_delay_s = (unsigned)ecs_config_int(cfg, "oss", "gc_delay_s");
	o.max_buckets = (unsigned)ecs_config_int(cfg, "oss", "max_buckets");
	pthread_mutex_init(&o.gc_mu, NULL);
	pthread_cond_init(&o.gc_cv, NULL);
	if (oss_keys_new(ecs_config_str(cfg, "oss", "controller_url"), host_key,
			 (unsigned)ecs_config_int(cfg, "oss", "key_cache_s"), &o.keys) < 0 ||
	    rados_open(&o, cfg) < 0 || oss_store_init(&o) < 0)
		goto out;
	ga = (struct gc_args){ .o = &o, .interval_s = (unsigned)ecs_config_int(cfg, "oss", "gc_interval_s") };
	if (pthread_create(&o.gc_thread, NULL, gc_loop, &ga) != 0)
		goto out;
	{
		struct oss_api_config ac = {
			.address = ecs_config_str(cfg, "oss", "listen_address"),
			.port = (uint16_t)ecs_config_int(cfg, "oss", "port"),
			.max_connections = (unsigned)ecs_config_int(cfg, "oss", "max_connections"),
		};

		if (oss_api_start(&o, &ac, &srv) < 0)
			goto stop_gc;
		log_info("ossd ready", "api=%s:%u pool=%s", ac.address, ecs_http_server_port(srv),
			 ecs_config_str(cfg, "oss", "pool"));
	}
	while (sigwait(&sigs, &sig) != 0 || (sig != SIGTERM && sig != SIGINT))
		;
	log_info("ossd stopping", "signal=%d", sig);
	ecs_http_server_stop(srv);
	ret = 0;
stop_gc:
	pthread_mutex_lock(&o.gc_mu);
	o.stop = true;
	pthread_cond_signal(&o.gc_cv);
	pthread_mutex_unlock(&o.gc_mu);
	pthread_join(o.gc_thread, NULL);
out:
	if (o.io)
		rados_ioctx_destroy(o.io);
	if (o.cluster)
		rados_shutdown(o.cluster);
	oss_keys_free(o.keys);
	ecs_config_free(cfg);
	return ret;
}
