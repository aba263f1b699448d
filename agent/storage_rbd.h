/* storage_rbd.h: the RBD side of storage.h, through librbd/librados (no `rbd` CLI).
 *
 * Names in the pool ([ceph] pool, ecs-rbd by default):
 *   img-<image-id>            an image, imported once; its snapshot "base" protected
 *   disk-<disk-id>            a disk: a clone of img-<id>@base (system disk) or a plain image
 *   <name>.tmp                being made; renamed into place when whole, so a crash leaves a
 *                             temporary that the next attempt removes, never half a disk
 * QEMU reaches the disks through libvirt (network disks) with a libvirt secret of usage type
 * "ceph" holding the agent's cephx key, defined by agent_rbd_secret_ensure. */
#ifndef AGENT_STORAGE_RBD_H
#define AGENT_STORAGE_RBD_H

#include <libvirt/libvirt.h>
#include <stdbool.h>
#include <stddef.h>

struct agent_rbd;

/* conf: ceph.conf; user: without "client."; keyring; pool. */
int agent_rbd_open(const char *conf, const char *user, const char *keyring, const char *pool, struct agent_rbd **ret);
void agent_rbd_close(struct agent_rbd *r);

/* This agent's host id: temporaries it makes are tagged "<host-id> <pid>" (image metadata
 * ecs.maker), so a later run knows which ones a crash left behind. */
void agent_rbd_set_host(struct agent_rbd *r, const char *host_id);
/* Orphans in the pool: temporaries (*.tmp) and images made from a snapshot but never
 * published (agent_rbd_image_published) whose maker is a gone process of this host, snaps-<disk>
 * images with no snapshot left, and trashed images nothing needs; the count removed. Never
 * a disk-<id>: a disk's document is written before its image is made, so a crash leaves a
 * disk the reconciler finishes, not an orphan. Safe beside other hosts: they only ever lose
 * what no one can use. hold(ctx, img-<id>, true/false), when set, locks and unlocks the
 * image around the check of one unpublished image and its removal. */
typedef void (*agent_rbd_hold_fn)(void *ctx, const char *name, bool hold);
int agent_rbd_sweep(struct agent_rbd *r, agent_rbd_hold_fn hold, void *ctx);
const char *agent_rbd_pool(const struct agent_rbd *r);
const char *agent_rbd_user(const struct agent_rbd *r);
/* The monitors as "ip:port" (msgr v1) separated by ','. */
const char *agent_rbd_hosts(const struct agent_rbd *r);

/* Whether the pool answers a small read within timeout_ms; msg says why not. */
int agent_rbd_check(struct agent_rbd *r, int timeout_ms, char *msg, size_t msg_size);
int agent_rbd_exists(struct agent_rbd *r, const char *name, bool *ret);
/* Remove name and every snapshot of it (unprotecting them); 0 also when absent; -EBUSY
 * while clones of it exist. */
int agent_rbd_remove(struct agent_rbd *r, const char *name);
/* Remove name, or, when a removed snapshot of it still has clones (clone format 2), move
 * it to the pool's trash; 0 also when absent. */
int agent_rbd_retire(struct agent_rbd *r, const char *name);
/* Remove from the trash what the agent moved there and nothing needs any more; the count. */
int agent_rbd_trash_sweep(struct agent_rbd *r);
/* Snapshots of an image (disk snapshots, named by snapshot id). create: 0 also when it
 * exists, *size the image's size (NULL: not wanted); remove: 0 also when absent (with
 * clones left it waits in the trash namespace). */
int agent_rbd_snap_create(struct agent_rbd *r, const char *name, const char *snap, unsigned long long *size);
int agent_rbd_snap_exists(struct agent_rbd *r, const char *name, const char *snap, bool *ret);
int agent_rbd_snap_remove(struct agent_rbd *r, const char *name, const char *snap);
int agent_rbd_snap_rollback(struct agent_rbd *r, const char *name, const char *snap);
/* How many (user) snapshots name has. */
int agent_rbd_snap_count(struct agent_rbd *r, const char *name, int *ret);
int agent_rbd_rename(struct agent_rbd *r, const char *from, const char *to);
int agent_rbd_create(struct agent_rbd *r, const char *name, unsigned long long size);
/* An image made from a snapshot inside the cluster: a clone of parent@snap as name with its
 * own snapshot keep, protected (disks are clones of it), marked pending until
 * agent_rbd_image_published; 0 also when name exists already (then tagged as this process's). */
int agent_rbd_clone_image(struct agent_rbd *r, const char *parent, const char *snap, const char *name,
			  const char *keep);
/* Image image_id's RBD copy (img-<id>, made from a snapshot by agent_rbd_clone_image) has
 * its manifest published now: no longer pending (the sweep leaves it alone). */
int agent_rbd_image_published(struct agent_rbd *r, const char *image_id);
/* A copy-on-write clone of parent@snap named name, grown to size (made as name.tmp). */
int agent_rbd_clone(struct agent_rbd *r, const char *parent, const char *snap, const char *name,
		    unsigned long long size);
int agent_rbd_size(struct agent_rbd *r, const char *name, unsigned long long *ret);
/* Grow (never shrink). */
int agent_rbd_grow(struct agent_rbd *r, const char *name, unsigned long long size);
/* Write the content of file (any format qemu-img reads) into a new image name (through
 * name.tmp), grown to size when larger; with snap, snapshot and protect it as snap. */
int agent_rbd_import(struct agent_rbd *r, const char *file, const char *name, unsigned long long size,
		     const char *snap);
/* qemu-img's name of the image: "rbd:POOL/NAME:id=USER:conf=…:keyring=…". Caller frees. */
char *agent_rbd_qemu_uri(const struct agent_rbd *r, const char *name);
/* The UUID (37 bytes) of the libvirt secret holding the key, defined if missing. */
int agent_rbd_secret_ensure(struct agent_rbd *r, virConnectPtr conn, char uuid[VIR_UUID_STRING_BUFLEN]);
/* Remove the secret (when the agent no longer uses RBD); 0 also when absent. */
int agent_rbd_secret_remove(virConnectPtr conn, const char *user);

#endif
