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
#include "log.h"
#include "oss.h"
#include "storage_gateway.h"
#include "store.h"
#include "util.h"

static const struct ecs_config_option options[] = {
	STORAGE_GATEWAY_OPTIONS("oss", "8775", "client.ecs-ossd", "ecs-oss"),
	{ "oss", "region", ECS_CONFIG_STRING, "cn-local", 0, 0, "GetBucketLocation answers oss-REGION" },
	{ "oss", "max_buckets", ECS_CONFIG_INT, "100", 1, 100000, "buckets an account may own" },
	{ "oss", "gc_delay_s", ECS_CONFIG_INT, "60", 0, 86400, "a replaced version's bytes live this long" },
	{ "oss", "gc_interval_s", ECS_CONFIG_INT, "30", 1, 3600, "how often the GC queue is swept" },
	{ "oss", "gc_pending_s", ECS_CONFIG_INT, "21600", 1, 604800, "a PUT may take this long; a cut one is collected after" },
};

static void usage(void)
{
	printf("usage: ecs-ossd [-c CONFIG]\nSee docs/oss-api.md and docs/configuration.md.\n");
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
	struct storage_gateway g = { .prog = "ecs-ossd", .section = "oss" };
	struct ecs_http_server *srv = NULL;
	struct storage_api_config ac;
	char hostname[256] = "";
	struct gc_args ga;
	int r, ret = 1;

	r = storage_gateway_open(&g, options, ARRAY_SIZE(options), argc, argv, usage);
	if (r >= 0)
		return r;
	gethostname(hostname, sizeof(hostname) - 1);
	o.host_name = hostname;
	o.region = ecs_config_str(g.cfg, "oss", "region");
	o.gc_delay_s = (unsigned)ecs_config_int(g.cfg, "oss", "gc_delay_s");
	o.gc_pending_s = (unsigned)ecs_config_int(g.cfg, "oss", "gc_pending_s");
	o.max_buckets = (unsigned)ecs_config_int(g.cfg, "oss", "max_buckets");
	o.keys = g.keys;
	o.cluster = g.cluster;
	o.io = g.io;
	pthread_mutex_init(&o.gc_mu, NULL);
	pthread_cond_init(&o.gc_cv, NULL);
	if (oss_store_init(&o) < 0)
		goto out;
	ga = (struct gc_args){ .o = &o, .interval_s = (unsigned)ecs_config_int(g.cfg, "oss", "gc_interval_s") };
	if (pthread_create(&o.gc_thread, NULL, gc_loop, &ga) != 0)
		goto out;
	storage_gateway_api_config(&g, &ac);
	if (oss_api_start(&o, &ac, &srv) < 0)
		goto stop_gc;
	storage_gateway_serve(&g, &ac, srv);
	ret = 0;
stop_gc:
	pthread_mutex_lock(&o.gc_mu);
	o.stop = true;
	pthread_cond_signal(&o.gc_cv);
	pthread_mutex_unlock(&o.gc_mu);
	pthread_join(o.gc_thread, NULL);
out:
	storage_gateway_close(&g);
	return ret;
}
