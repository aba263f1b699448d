/* snapshot.h: snapshots of disks. A snapshot is a standalone qcow2 (the disk's whole
 * content at one moment), kept in the blob store as snapshots/<id>.qcow2 with its document
 * as snapshots/<id>.json, so any host can make a disk or an image from it; this host keeps a
 * copy under <data_dir>/snapshots/.
 *
 * A running instance's disk is copied by a libvirt push-mode backup job (crash-consistent
 * at the moment the job starts, the guest keeps running); a stopped one by qemu-img.
 *
 * Document (kind "snapshot"): {"snapshot_id", "disk_id", "status": "progressing" |
 *   "accomplished" | "failed", "size_gib", "boot_image" (the image the disk's instance boots,
 *   for images made from it), "base_image" (an image the disk was an overlay on), "error",
 *   "created_at", "pid" (the agent that took it: a progressing snapshot of another pid was
 *   interrupted by a crash and is failed by the reconciler)} */
#ifndef AGENT_SNAPSHOT_H
#define AGENT_SNAPSHOT_H

#include <json-c/json.h>

#include "errors.h"
#include "snapshot_file.h"

struct agent;

int agent_snapshot_create(struct agent *a, struct json_object *body, struct json_object **ret, struct agent_err *err);
int agent_snapshot_delete(struct agent *a, const char *snapshot_id, struct agent_err *err);
int agent_snapshot_describe(struct agent *a, const char *snapshot_id, struct json_object **ret, struct agent_err *err);
int agent_snapshot_list(struct agent *a, struct json_object **ret);
/* Make an image from a snapshot: its content with the boot files of its boot image. */
int agent_snapshot_to_image(struct agent *a, const char *snapshot_id, const char *image_id, const char *name,
			    struct agent_err *err);
/* Mark snapshots interrupted by an earlier crash as failed and remove their partial files. */
int agent_snapshot_recover(struct agent *a);

#endif
