/* image.h: ECS images: CreateImage (from a snapshot of a system disk, or from an
 * instance, whose system disk is snapshotted first), DescribeImages, DeleteImage,
 * ImportImage (DiskDeviceMapping.1.ImportPath: a folder with manifest.json inside the hosts'
 * import folders, which the agent enforces; or OSSBucket + OSSObject, an object of ecs-ossd
 * the caller may read: image_oss.c), ExportImage (into a bucket of the caller's).
 * Images are published to the blob store by the agent that makes them, so every host can
 * boot them. DeleteImage is refused while anything not deleted needs the image, then a job
 * removes it from every host's cache and from the blob store.
 * Statuses: Creating, Available, CreateFailed. */
#ifndef CTL_IMAGE_H
#define CTL_IMAGE_H

#include <json-c/json.h>
#include <stddef.h>

#include "ctl.h"
#include "jobs.h"

int ctl_image_create(struct ctl_call *call, struct json_object *out);
int ctl_image_describe(struct ctl_call *call, struct json_object *out);
int ctl_image_delete(struct ctl_call *call, struct json_object *out);
int ctl_image_import(struct ctl_call *call, struct json_object *out);
int ctl_image_export(struct ctl_call *call, struct json_object *out);

/* ---- between image.c and image_oss.c ---- */
struct ctl_job;
/* Insert the account's new image (Creating) and its create job with job_args. */
int ctl_image_insert(struct ctl_call *call, const char *id, const char *name, const char *desc, const char *snap,
		     long long size, struct json_object *job_args);
/* A host whose last heartbeat is recent, prefer first when it is one. */
int ctl_any_alive_host(struct ctl *c, const char *prefer, char ret[64]);
/* ImportImage's OSS form: the caller may read bucket/object (checked now, with their key). */
int ctl_image_import_oss(struct ctl_call *call, const char *id, const char *name, const char *desc, const char *bucket,
			 const char *object);
/* The agent's body for an import job from OSS: a fresh URL presigned with the account's key.
 * -ENOENT when that key no longer exists. */
int ctl_image_oss_body(struct ctl *c, struct ctl_job *job, struct json_object *body);
enum ctl_job_result ctl_image_export_job(struct ctl *c, struct ctl_job *job, char *why, size_t why_size);
/* OSS's bucket name rule (3-63 of a-z, 0-9, '-'), and an object name's (1-1023 bytes, no
 * control character, not starting with '/' or '\\'). */
bool ctl_oss_bucket_name_ok(const char *b);
bool ctl_oss_object_name_ok(const char *o);
/* A URL of [oss] endpoint for method on bucket/key (bucket "": the service; key NULL: the bucket; sub: a signed
 * sub-resource such as "acl"), OSS V1 presigned with ak/secret for 15 minutes. */
char *ctl_oss_presign(const struct ctl *c, const char *ak, const char *secret, const char *method, const char *bucket,
		      const char *key, const char *sub);

void ctl_image_register_jobs(void);

#endif
