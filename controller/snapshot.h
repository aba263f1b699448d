/* snapshot.h: ECS snapshots of disks: CreateSnapshot, DeleteSnapshot, DescribeSnapshots,
 * taken by the disk's host agent (a job), kept in the blob store so any host can use them.
 * Statuses: progressing → accomplished | failed. */
#ifndef CTL_SNAPSHOT_H
#define CTL_SNAPSHOT_H

#include <json-c/json.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

#include "ctl.h"

int ctl_snapshot_create(struct ctl_call *call, struct json_object *out);
int ctl_snapshot_delete(struct ctl_call *call, struct json_object *out);
int ctl_snapshot_describe(struct ctl_call *call, struct json_object *out);

/* For the auto-snapshot runner (policy.c): take a snapshot of disk_id for account_id
 * named name, marked as made by policy_id. 0 with the new id; -ENOENT when the disk is
 * gone; -EBUSY when a snapshot of the disk is still progressing (the time point is then
 * skipped, as ECS does). */
int ctl_snapshot_take(struct ctl *c, const char *account_id, const char *disk_id, const char *name,
		      const char *policy_id, char ret_snapshot_id[32]);
/* Delete a snapshot (the runner's retention). 0 also when already gone. */
int ctl_snapshot_remove(struct ctl *c, const char *account_id, const char *snapshot_id);

/* The size (GiB) of the disk the caller's snapshot snapshot_id was taken of, read in db
 * (the caller's transaction): the one check of a SnapshotId a disk is made from (CreateDisk,
 * CreateInstance/RunInstances' DataDisk.N.SnapshotId). InvalidSnapshotId.NotFound on the
 * call when it does not exist, is not accomplished, or is another account's (which
 * answers as a missing one). */
int ctl_snapshot_size(struct ctl_call *call, sqlite3 *db, const char *snapshot_id, long long *ret_size);

void ctl_snapshot_register_jobs(void);

#endif
