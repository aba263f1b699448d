/* volume.h: disks as resources (ECS disks): bytes in the storage backend (storage.h: an RBD
 * image disk-<disk-id>, or a qcow2 file <data_dir>/disks/<disk-id>.qcow2)
 * and a document (kind "disk"):
 *   {"disk_id", "kind": "system"|"data", "size_gib", "instance_id" ("" when detached),
 *    "device" ("vda", "vdb", … or ""), "image_id" (a system disk's image), "snapshot_id"
 *    (made from), "base_image" (the image whose disk backs the file, if any),
 *    "delete_with_instance": bool, "ready": bool (the file is complete), "deleting": bool,
 *    "remake": bool (reinit: replace the file, then clear)}
 * A disk's file is made from its document (agent_volume_ensure_file), so the reconciler can
 * make it again after a crash. */
#ifndef AGENT_VOLUME_H
#define AGENT_VOLUME_H

#include <json-c/json.h>
#include <stdbool.h>

#include "errors.h"
#include "spec.h" /* AGENT_MAX_DISK_GIB */

struct agent;

/* Make the disk's file if it is missing; marks the document ready. */
int agent_volume_ensure_file(struct agent *a, const char *disk_id);
/* The disks attached to an instance, sorted by device (new reference; a JSON array). */
int agent_volume_of_instance(struct agent *a, const char *instance_id, struct json_object **ret);
/* Remove the file and the document. */
int agent_volume_destroy(struct agent *a, const char *disk_id);
/* A new disk document (not yet stored). */
struct json_object *agent_volume_doc(const char *disk_id, const char *kind, long long size_gib,
				     const char *instance_id, const char *device, const char *image_id,
				     const char *snapshot_id, bool delete_with_instance);

/* The API. */
int agent_volume_create(struct agent *a, struct json_object *body, struct json_object **ret, struct agent_err *err);
int agent_volume_attach(struct agent *a, const char *disk_id, const char *instance_id, bool delete_with_instance,
			struct json_object **ret, struct agent_err *err);
int agent_volume_detach(struct agent *a, const char *disk_id, struct agent_err *err);
int agent_volume_resize(struct agent *a, const char *disk_id, long long size_gib, struct agent_err *err);
int agent_volume_delete(struct agent *a, const char *disk_id, struct agent_err *err);
int agent_volume_describe(struct agent *a, const char *disk_id, struct json_object **ret, struct agent_err *err);
int agent_volume_list(struct agent *a, struct json_object **ret);
/* Roll the disk back to a snapshot (its instance stopped). */
int agent_volume_reset(struct agent *a, const char *disk_id, const char *snapshot_id, struct agent_err *err);

#endif
