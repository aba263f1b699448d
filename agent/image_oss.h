/* image_oss.h: images from and to the object store through URLs the controller presigned
 * with the caller's AccessKey (ImportImage with OSSBucket + OSSObject, ExportImage). */
#ifndef AGENT_IMAGE_OSS_H
#define AGENT_IMAGE_OSS_H

#include <stdbool.h>

struct agent;

/* The largest virtual size an imported disk may have (2 TiB). */
#define AGENT_IMAGE_MAX_VIRTUAL (2048ULL << 30)

/* GET url into path (0600), at most max bytes. -ENOENT on 404, -EACCES on 401/403, -EFBIG
 * over max, -EIO on any other failure. */
int agent_oss_fetch(const char *url, const char *path, unsigned long long max);
/* PUT the file at path to url. -ENOENT on 404 (no such bucket), -EACCES on 403, -EFBIG when
 * the object store refuses the size, -EIO otherwise. */
int agent_oss_upload(const char *url, const char *path);
/* Whether the file starts with qcow2's magic. */
bool agent_disk_is_qcow2(const char *path);

/* Fetch the object at url (at most max_bytes) and cache it as image id: a qcow2 as it is,
 * once checked (no backing or external data file, not corrupt), anything else as a raw disk
 * converted to qcow2; at most AGENT_IMAGE_MAX_VIRTUAL. The manifest names no kernel (the
 * guest boots from its disk). Published to the blob store, and imported into the pool on RBD.
 * Errors as agent_oss_fetch; -EPERM for a qcow2 naming another file; -E2BIG over the
 * virtual size; -EINVAL for an empty object or a corrupt qcow2. Idempotent. */
int agent_image_import_oss(struct agent *a, const char *id, const char *url, unsigned long long max_bytes);
/* PUT the image's disk to url, as raw bytes or as qcow2. */
int agent_image_export_oss(struct agent *a, const char *id, const char *url, bool raw);

#endif
