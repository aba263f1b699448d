/* policy.h: automatic snapshot policies: CreateAutoSnapshotPolicy,
 * DescribeAutoSnapshotPolicyEx, ModifyAutoSnapshotPolicyEx, ApplyAutoSnapshotPolicy,
 * CancelAutoSnapshotPolicy, DeleteAutoSnapshotPolicy, and the runner that carries them out.
 *
 * A policy has time points (hours 0-23) and repeat weekdays (1 = Monday … 7 = Sunday) in
 * its time zone ([policy] utc_offset_h; ECS's is UTC+8), and a retention: -1 (forever) or
 * 1-65536 days. A disk has at most one policy (disks.policy_id): applying another replaces
 * it, as in ECS. Parameter names are matched case-insensitively (timePoints, TimePoints).
 *
 * The runner is one thread (ctl_policy_start) that runs ctl_policy_tick every [policy]
 * tick_s with the controller's clock (ctl_now). One tick:
 *   - for each disk whose policy holds the current hour and weekday, takes one snapshot
 *     named "auto2.0_YYYYMMDD_<policy id>" (ECS's auto snapshot name). Each (disk, hour
 *     slot) is booked in policy_runs before the snapshot is asked for, so neither a second
 *     tick in the hour nor a restart takes it twice; a booking a crash left behind is
 *     settled from the snapshots table at the next tick;
 *   - skips the time point while the disk's previous snapshot still progresses (ECS): the
 *     slot is recorded as skipped, not retried later in the hour;
 *   - deletes the policy's snapshots older than its retention, except those an image or a
 *     disk was made from (ECS keeps them).
 * Work per tick is bounded; what is left is done at the next tick. */
#ifndef CTL_POLICY_H
#define CTL_POLICY_H

#include <json-c/json.h>

#include "ctl.h"

#define CTL_POLICY_MAX 100 /* per account (ECS: per region) */

int ctl_policy_create(struct ctl_call *call, struct json_object *out);	 /* CreateAutoSnapshotPolicy */
int ctl_policy_describe(struct ctl_call *call, struct json_object *out); /* DescribeAutoSnapshotPolicyEx */
int ctl_policy_modify(struct ctl_call *call, struct json_object *out);	 /* ModifyAutoSnapshotPolicyEx */
int ctl_policy_apply(struct ctl_call *call, struct json_object *out);	 /* ApplyAutoSnapshotPolicy */
int ctl_policy_cancel(struct ctl_call *call, struct json_object *out);	 /* CancelAutoSnapshotPolicy */
int ctl_policy_delete(struct ctl_call *call, struct json_object *out);	 /* DeleteAutoSnapshotPolicy */

/* One tick of the runner at time now (seconds since the epoch, UTC). 0, or the first
 * error (the store has logged it); the rest of the tick is still done. */
int ctl_policy_tick(struct ctl *c, long long now);

/* The runner thread: a first tick at once, then one every [policy] tick_s. */
int ctl_policy_start(struct ctl *c);
void ctl_policy_stop(struct ctl *c);

/* Tests: the snapshot calls the runner makes, in place of ctl_snapshot_take and
 * ctl_snapshot_remove (snapshot.h); NULL puts the real one back. */
typedef int (*ctl_policy_take_fn)(struct ctl *c, const char *account_id, const char *disk_id, const char *name,
				  const char *policy_id, char ret_snapshot_id[32]);
typedef int (*ctl_policy_remove_fn)(struct ctl *c, const char *account_id, const char *snapshot_id);
void ctl_policy_set_snapshot_fns(ctl_policy_take_fn take, ctl_policy_remove_fn remove);

#endif
