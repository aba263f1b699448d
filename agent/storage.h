/* storage.h: where a disk's bytes live, one interface over two backends ([storage] backend):
 *   qcow2  files <data_dir>/disks/<disk-id>.qcow2, a system disk an overlay on the cached
 *          image (disk.h, qemu-img); for hosts without Ceph
 *   rbd    RBD images in the Ceph pool (storage_rbd.h): a system disk a copy-on-write clone
 *          of the image's protected snapshot img-<id>@base, a data disk a plain image
 * a->rbd is NULL for qcow2. Every call is idempotent: a disk appears only whole. */
#ifndef AGENT_STORAGE_H
#define AGENT_STORAGE_H

#include <stdbool.h>

struct agent;
struct agent_domain_disk;
struct json_object;

int agent_storage_open(struct agent *a);
/* The qcow2 backend's file of a disk. Caller frees. */
char *agent_storage_disk_file(struct agent *a, const char *disk_id);
void agent_storage_close(struct agent *a);

int agent_storage_disk_exists(struct agent *a, const char *disk_id, bool *ret);
/* 0 also when absent. */
int agent_storage_disk_remove(struct agent *a, const char *disk_id);
/* Snapshots inside RADOS (rbd only; -EOPNOTSUPP for qcow2): disk-<disk-id>@<snapshot-id>,
 * taken live (crash-consistent: librbd has the image's lock holder, QEMU, take it). A
 * deleted disk with snapshots left is kept as snaps-<disk-id> until the last one goes. */
int agent_storage_snapshot_take(struct agent *a, const char *disk_id, const char *snap_id, unsigned long long *size);
int agent_storage_snapshot_remove(struct agent *a, const char *disk_id, const char *snap_id);
int agent_storage_snapshot_exists(struct agent *a, const char *disk_id, const char *snap_id, bool *ret);
/* A disk that is a copy-on-write clone of the snapshot, grown to size. */
int agent_storage_disk_from_snapshot(struct agent *a, const char *disk_id, const char *src_disk_id,
				     const char *snap_id, unsigned long long size);
/* The disk's content back to the snapshot's (no guest may hold it); redo after a crash. */
int agent_storage_disk_rollback(struct agent *a, const char *disk_id, const char *snap_id);
int agent_storage_disk_empty(struct agent *a, const char *disk_id, unsigned long long size);
/* Put a cached image where disks are made from it now (RBD: imported into the pool, as its
 * first disk would); nothing to do on qcow2 files. */
int agent_storage_image_prepare(struct agent *a, const char *image_id);
/* A system disk on image_id (cached here), grown to size. */
int agent_storage_disk_on_image(struct agent *a, const char *disk_id, const char *image_id, unsigned long long size);
/* A disk with the content of src (a snapshot file); base: the image file it came from, or
 * NULL. Replaces the disk when it exists (rollback): all or nothing. */
int agent_storage_disk_from_file(struct agent *a, const char *disk_id, const char *src, const char *base,
				 unsigned long long size);
/* Grow a disk no running guest holds. */
int agent_storage_disk_grow(struct agent *a, const char *disk_id, unsigned long long size);
int agent_storage_disk_size(struct agent *a, const char *disk_id, unsigned long long *ret);
/* A name qemu-img reads the disk by (a path, or an rbd: URI). Caller frees. */
char *agent_storage_disk_uri(struct agent *a, const char *disk_id);
/* Fill the source part of a domain disk; *ret_buf holds its strings (caller frees). */
int agent_storage_domain_disk(struct agent *a, const char *disk_id, struct agent_domain_disk *d, char **ret_buf);
/* With disks on RBD: add "storage": {reachable, message} to the heartbeat's facts from a
 * bounded read in the pool (the controller gives no new instances to a host that cannot
 * reach its storage). Nothing for qcow2. */
void agent_storage_report(struct agent *a, struct json_object *facts);
/* The reconciler's pass over the backend: orphans a crash left in the pool go
 * (agent_rbd_sweep); on qcow2, a libvirt ceph secret of an earlier RBD run goes. */
void agent_storage_reconcile(struct agent *a);
/* An image's RBD copy (img-<id>, snapshot base protected) made inside the cluster as a
 * clone of the disk's RBD snapshot: no host reads its bytes; 0 also when it exists. */
int agent_storage_image_from_snapshot(struct agent *a, const char *image_id, const char *disk_id,
				      const char *snap_id);
/* Drop an image's RBD copy (DeleteImage purge); 0 also when absent; -EBUSY while disks
 * are clones of it. */
int agent_storage_image_remove(struct agent *a, const char *image_id);

#endif
