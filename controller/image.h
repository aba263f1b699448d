/* image.h: ECS images: CreateImage (from a snapshot of a system disk, or from an
 * instance, whose system disk is snapshotted first), DescribeImages, DeleteImage,
 * ImportImage (DiskDeviceMapping.1.ImportPath: a folder with manifest.json inside the hosts'
 * import folders, which the agent enforces; the OSS form is refused until OSS exists).
 * Images are published to the blob store by the agent that makes them, so every host can
 * boot them. DeleteImage is refused while anything not deleted needs the image, then a job
 * removes it from every host's cache and from the blob store.
 * Statuses: Creating, Available, CreateFailed. */
#ifndef CTL_IMAGE_H
#define CTL_IMAGE_H

#include <json-c/json.h>

#include "ctl.h"

int ctl_image_create(struct ctl_call *call, struct json_object *out);
int ctl_image_describe(struct ctl_call *call, struct json_object *out);
int ctl_image_delete(struct ctl_call *call, struct json_object *out);
int ctl_image_import(struct ctl_call *call, struct json_object *out);

void ctl_image_register_jobs(void);

#endif
