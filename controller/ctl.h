/* ctl.h: the controller's shared state and the shape of one API call.
 *
 * An action is a function that reads its parameters from the call (params.h), does its
 * work, and adds its answer's fields to `out` (RequestId is added for it). On failure it
 * returns ctl_fail(...), which records ECS's HTTP status, Code and Message. */
#ifndef CTL_CTL_H
#define CTL_CTL_H

#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <time.h>

#include "ctl_config.h"
#include "kv.h"

#define CTL_VERSION "0.1.0"
#define CTL_API_VERSION "2014-05-26"
#define CTL_SLB_API_VERSION "2014-05-15"

struct ctl_store;
struct ecs_http_server;
struct ecs_http_client;
struct ecs_nonce_set;
struct ecs_nonce_cache;
struct ctl_throttle;
struct ctl_ceph;
struct ecs_prom;
struct ctl_console;

struct ctl {
	struct ctl_config cfg;
	char *host_key;
	struct ctl_store *store;
	struct ecs_http_server *api;
	struct ecs_http_client *agents;	    /* calls to agents, signed with the host key */
	struct ecs_http_client *nudges;	    /* the same, short timeouts: nudges nobody waits for */
	struct ecs_nonce_set *sig_nonces;   /* SignatureNonce, 15 min */
	/* The first second this run serves. Nonces live only in memory, so a request dated
	 * before it may have been served by an earlier run: refused as expired. */
	time_t started_at;
	struct ecs_nonce_cache *host_nonces; /* agents' calls to us */
	struct ctl_throttle *throttle;
	pthread_mutex_t sched_lock;	    /* one placement decision at a time */
	struct ctl_ceph *ceph;		    /* the storage cluster watched (ceph.h); NULL: none */
	struct ecs_prom *metrics;	    /* request counters for /metrics (metrics.h); NULL: none */
	struct ctl_console *console;	    /* the web console's sessions (console.h) */
	volatile sig_atomic_t stopping;
	/* Test hooks: the clock the auto-snapshot runner uses (0: real time). */
	long long fake_now;
};

struct ctl_account {
	char account_id[64];
	char name[64];
	char access_key_id[64];
	char access_key_secret[128];
	long long quota_instances, quota_vcpus, quota_disks, quota_snapshots;
};

struct ctl_call {
	struct ctl *c;
	const char *action;
	const char *request_id;
	const struct ctl_account *account;
	const struct ecs_kvlist *params; /* query and form body, decoded, in order */
	const char *region_id;
	long long started_ms; /* monotonic: the request's latency in the metrics */
	/* The failure, once one is recorded. */
	int status;
	char code[96];
	char message[1024];
};

/* Record the failure (the first one wins) and return the negative errno of the recorded
 * failure's status: -EINVAL (4xx), -EACCES (403), -ENOENT (404), -EEXIST (409), -EAGAIN
 * (429, 503), -EIO (other 5xx). errno is left as the caller had it, so "%m" in fmt and a
 * caller's later -errno still mean the caller's failure. */
int ctl_fail(struct ctl_call *call, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

typedef int (*ctl_action_fn)(struct ctl_call *call, struct json_object *out);

struct ctl_action {
	const char *name;
	ctl_action_fn fn;
	const char *version; /* CTL_API_VERSION or CTL_SLB_API_VERSION */
	bool mutating;	     /* honours ClientToken */
};

/* The table of every action (actions.c): the action `name` of API `version` (NULL: of any
 * version). The version names the namespace: an ECS action under the SLB version is not
 * found, and the other way round. */
const struct ctl_action *ctl_action_find(const char *name, const char *version);

/* The time now, or the test clock. */
long long ctl_now(struct ctl *c);

#endif
