/* agent.h: the agent's shared state, wired by main.c, used by every module. */
#ifndef AGENT_AGENT_H
#define AGENT_AGENT_H

#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>

#include "agent_config.h"
#include "prom.h"

#define AGENT_LOCK_STRIPES 64
#define AGENT_VERSION "0.1.0"

struct agent_store;
struct agent_virt;
struct agent_net;
struct agent_blob;
struct agent_rbd;
struct agent_metrics;
struct agent_metadata;
struct agent_secgroups;
struct agent_slb;
struct ecs_http_server;
struct ecs_http_client;
struct ecs_nonce_cache;

struct agent {
	struct agent_config cfg;
	char *host_key;
	char metrics_token[ECS_PROM_TOKEN_LEN + 1]; /* GET /metrics asks for it (lib/prom.h) */
	const char *domain_type; /* "kvm" or "qemu" */
	char *images_dir, *disks_dir, *instances_dir, *snapshots_dir, *tmp_dir;
	char *image_source_dir; /* where `make up` installs images: <data_dir>/../images */

	struct agent_store *store;
	struct agent_virt *virt;
	struct agent_net *net;
	struct agent_blob *blob;
	struct agent_rbd *rbd; /* disks on RBD (storage.h); NULL: qcow2 files */
	struct agent_metrics *metrics;
	struct agent_metadata *metadata;
	struct ecs_http_server *api;
	struct ecs_nonce_cache *nonces;
	struct ecs_http_client *controller;
	struct agent_secgroups *secgroups;
	struct agent_slb *slb;
	/* The overlay device's MTU, given to guests (0: no overlay). */
	unsigned overlay_mtu;

	/* Operations on one resource are serialised by the stripe its id hashes to. */
	pthread_mutex_t stripes[AGENT_LOCK_STRIPES];
	/* Images have stripes of their own: an instance's or a disk's operation takes its
	 * image's lock while holding its own, and two ids of one stripe would deadlock. */
	pthread_mutex_t image_stripes[AGENT_LOCK_STRIPES];
	/* Short critical sections over disk/instance documents (attachment bookkeeping). */
	pthread_mutex_t docs_lock;
	/* Wakes the reconciler early (libvirt events, reconnects). */
	pthread_mutex_t wake_lock;
	pthread_cond_t wake;
	bool wake_pending;
	volatile sig_atomic_t stopping;
	/* Orders what the agent says about instances: an action's answer carries the value after
	 * it, a heartbeat the value read before it listed them, so the controller can tell a
	 * heartbeat that began before an action ended (and so reports the old state). Starts at
	 * the wall clock in ns, so it keeps growing across restarts. */
	_Atomic long long state_seq;
};

void agent_lock(struct agent *a, const char *id);
void agent_unlock(struct agent *a, const char *id);
/* For image ids only: may be taken while holding agent_lock, never the other way round. */
void agent_image_lock(struct agent *a, const char *image_id);
void agent_image_unlock(struct agent *a, const char *image_id);
/* The instance-state order above: read it, or step it once an action is done. */
long long agent_state_seq_now(struct agent *a);
long long agent_state_seq_next(struct agent *a);
/* Ask the reconciler to run now. */
void agent_kick(struct agent *a);

/* Test-only fault points: with [test] fault_points on and ECS_AGENT_FAULT=NAME in the
 * environment, the agent dies (SIGKILL on itself) when it reaches point NAME. */
void agent_fault_point(struct agent *a, const char *name);

#endif
