/* ceph.h: what the controller knows of the storage cluster (docs/storage.md, "The
 * controller's view"). With a [ceph] section (conf, user, keyring) a background thread reads
 * the cluster's state through librados every interval_s ("status", "df" and "osd tree" as
 * JSON, each bounded by timeout_s) into an immutable snapshot; API threads and the
 * scheduler only read the latest snapshot and never wait for the cluster. OSDs belong to the
 * host whose CRUSH host bucket has the agent's host id as its name. Without [ceph] the
 * storage of every host is "none" and scheduling is as without Ceph. */
#ifndef CTL_CEPH_H
#define CTL_CEPH_H

#include <json-c/json.h>
#include <rados/librados.h>
#include <stdbool.h>
#include <stddef.h>

#include "ctl.h"

#define CTL_CEPH_MAX_OSDS 1024
#define CTL_CEPH_MAX_POOLS 64
#define CTL_CEPH_MAX_CHECKS 32

struct ctl_ceph_osd {
	int id;
	char host[64]; /* its CRUSH host bucket ("" outside any) */
	bool up, in;
};

struct ctl_ceph_pool {
	char name[128];
	long long stored, max_avail; /* bytes */
};

struct ctl_ceph_check {
	char name[64];	    /* OSD_DOWN */
	char severity[16];  /* HEALTH_WARN */
	char summary[256];
};

/* One reading of the cluster. Immutable once published. */
struct ctl_ceph_snap {
	long long taken_at; /* when it was read (0: never) */
	char error[256];    /* why the last reading failed ("" when it did not) */
	long long failed_at;
	char health[16];    /* HEALTH_OK, HEALTH_WARN, HEALTH_ERR */
	struct ctl_ceph_check checks[CTL_CEPH_MAX_CHECKS];
	size_t n_checks;
	struct ctl_ceph_pool pools[CTL_CEPH_MAX_POOLS];
	size_t n_pools;
	struct ctl_ceph_osd osds[CTL_CEPH_MAX_OSDS];
	size_t n_osds;
	int holders; /* ceph.c's: who still reads it */
};

enum ctl_storage {
	CTL_STORAGE_NONE,    /* no [ceph]: storage is not watched */
	CTL_STORAGE_OK,
	CTL_STORAGE_DOWN,    /* an OSD of the host is down, or its agent cannot reach the cluster */
	CTL_STORAGE_UNKNOWN, /* the controller has no fresh reading of the cluster */
};
const char *ctl_storage_name(enum ctl_storage s);

/* Parse the three JSON answers into snap (its readings; taken_at is the caller's): 0, or
 * -EBADMSG with a message in snap->error. Bounded by the CTL_CEPH_MAX_* sizes. */
int ctl_ceph_parse(const char *status_json, const char *df_json, const char *tree_json, struct ctl_ceph_snap *snap);

/* The storage state of host in snap at time now (a reading older than stale_after_s is
 * not fresh); agent_down: its agent reported that it cannot reach the cluster. why gets
 * the reason for DOWN/UNKNOWN ("osd.3 down"). snap NULL: no [ceph]. */
enum ctl_storage ctl_storage_of(const struct ctl_ceph_snap *snap, long long now, long long stale_after_s,
				const char *host, bool agent_down, char *why, size_t why_size);

/* The controller's watcher: made from [ceph] of the configuration (ctl_ceph_new leaves
 * c->ceph NULL without one); ctl_ceph_start/stop run the reading thread. */
int ctl_ceph_new(struct ctl *c);
int ctl_ceph_start(struct ctl *c);
void ctl_ceph_stop(struct ctl *c);
void ctl_ceph_free(struct ctl *c);

/* A client of its own to the cluster of [ceph] (its user, keyring, timeouts): 0, or < 0
 * with the reason in err. */
int ctl_ceph_connect(struct ctl *c, rados_t *ret, char *err, size_t err_size);

/* Publish snap as the latest reading (takes it; the tests' hook, and the thread's). */
void ctl_ceph_publish(struct ctl *c, struct ctl_ceph_snap *snap);
/* The latest reading, held until ctl_ceph_release; NULL without [ceph] or before the first. */
const struct ctl_ceph_snap *ctl_ceph_acquire(struct ctl *c);
void ctl_ceph_release(struct ctl *c, const struct ctl_ceph_snap *snap);

/* What a host's agent said of its storage in its heartbeat ("storage": {"reachable": false,
 * "message": "..."}); kept in memory, forgotten after stale_after_s. */
void ctl_ceph_agent_report(struct ctl *c, const char *host, bool reachable, const char *message);

/* The storage state of host now, as the scheduler and DescribeHosts see it. */
enum ctl_storage ctl_ceph_host_state(struct ctl *c, const struct ctl_ceph_snap *snap, const char *host, char *why,
				     size_t why_size);

#endif
