/* image.h: the host's image cache. An image is a folder <data_dir>/images/<id>/ with a
 * manifest.json (see images/README.md) and the files it names, each checked against the
 * manifest's sha256 before the image is used. Images are immutable once cached: disks are
 * qcow2 overlays on their disk.qcow2.
 *
 * agent_image_ensure finds an image in the cache, else in the blob store
 * (images/<id>/...), else in the local image source folder (where `make up` installs the
 * tiny image), and caches it. Image documents (kind "image") record what is cached. */
#ifndef AGENT_IMAGE_H
#define AGENT_IMAGE_H

#include <json-c/json.h>
#include <stdbool.h>

struct agent;

bool agent_image_id_valid(const char *id);

/* Make sure image_id is cached; *ret_manifest (optional) gets a new reference. */
int agent_image_ensure(struct agent *a, const char *image_id, struct json_object **ret_manifest);
/* Import from a folder of the agent's own holding manifest.json (verify, copy into the
 * cache, publish to the blob store). Idempotent: an image already cached is left as it is. */
int agent_image_import_dir(struct agent *a, const char *image_id, const char *dir);
/* The same from a folder a caller names (ImportImage): only inside an operator's import
 * folder ([images] import_dirs), resolved beneath it (no "..", no symbolic link leading out,
 * no other file system), never one holding or inside the agent's data or blob store; files
 * are read without following links. -ENOENT for a path missing and for one not allowed
 * alike; -EINVAL for a folder that is not an image; -EBADMSG for a file not matching its
 * sha256. */
int agent_image_import_path(struct agent *a, const char *image_id, const char *path);
/* Absolute path of one of the image's files ("disk", "kernel", "initrd"); NULL if the
 * manifest lacks it. The image must be cached. Caller frees. */
char *agent_image_file(struct agent *a, const char *image_id, const char *what);
/* Remove from the cache (and every file of it from the blob store with purge); -EBUSY while
 * a disk here uses it. 0 also when it was not here. */
int agent_image_delete(struct agent *a, const char *image_id, bool purge);
/* Make an image from a standalone qcow2 (a snapshot) with the boot files of another image;
 * qcow2 NULL: its disk is img-<id> in the RBD pool already (manifest "storage": "rbd", no
 * disk file anywhere). */
int agent_image_create_from_disk(struct agent *a, const char *image_id, const char *name, const char *qcow2,
				 const char *boot_image_id);
/* Documents of the cached images (new reference). */
int agent_image_list(struct agent *a, struct json_object **ret);

#endif
