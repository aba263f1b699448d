/* disk.h: ECS disks: CreateDisk, AttachDisk, DetachDisk, DeleteDisk, DescribeDisks,
 * ResizeDisk, ResetDisk, ReInitDisk. A disk is a qcow2 file on one host (its host_id); a
 * detached disk is placed by the scheduler in the zone asked for. Attaching needs the
 * instance on the disk's host (moving a disk between hosts is not done yet: refused).
 * Statuses: Creating, Available, Attaching, In_use, Detaching, ReIniting. */
#ifndef CTL_DISK_H
#define CTL_DISK_H

#include <json-c/json.h>

#include "ctl.h"

int ctl_disk_create(struct ctl_call *call, struct json_object *out);
int ctl_disk_attach(struct ctl_call *call, struct json_object *out);
int ctl_disk_detach(struct ctl_call *call, struct json_object *out);
int ctl_disk_delete(struct ctl_call *call, struct json_object *out);
int ctl_disk_describe(struct ctl_call *call, struct json_object *out);
int ctl_disk_resize(struct ctl_call *call, struct json_object *out);
int ctl_disk_reset(struct ctl_call *call, struct json_object *out);
int ctl_disk_reinit(struct ctl_call *call, struct json_object *out);

void ctl_disk_register_jobs(void);

#endif
