/* oss.h: the state an ecs-ossd shares between its modules: the RADOS pool, the key cache,
 * the settings. One per process, made in main.c. */
#ifndef OSS_OSS_H
#define OSS_OSS_H

#include <pthread.h>
#include <rados/librados.h>

struct ecs_prom;
#include <stdbool.h>

struct storage_keys;
struct ecs_http_client;

struct oss {
	rados_t cluster;
	rados_ioctx_t io;
	struct storage_keys *keys;
	struct ecs_prom *metrics;	  /* /metrics: the server counts requests here */
	const char *metrics_token; /* and asks for this bearer token */
	const char *region;	  /* "cn-local": GetBucketLocation answers oss-<region> */
	const char *host_name;	  /* HostId in errors */
	unsigned gc_delay_s;	  /* a replaced version's stripes live this long (readers in flight) */
	unsigned gc_pending_s;	  /* a PUT in flight is queued this far ahead (a cut one is collected then) */
	unsigned max_buckets;	  /* per account */
	/* the GC thread */
	pthread_t gc_thread;
	pthread_mutex_t gc_mu;
	pthread_cond_t gc_cv;
	bool stop;
};

#endif
