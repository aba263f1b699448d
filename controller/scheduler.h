/* scheduler.h: where a new instance runs.
 *
 * Filters: the host is up (a heartbeat within host_dead_after_s), in the zone asked for (if
 * any), can boot the image (a system image must be on the host; an account's images come
 * from the blob store, so any host), and has room: vCPUs ≤ host vCPUs × cpu_ratio,
 * memory ≤ (host memory − reserved) × ram_ratio, disk ≤ host disk × disk_ratio, and fewer
 * instances than its max. Room counts every instance booked there (any status but deleted).
 * A member of a deployment set goes where the set's rule allows (deployset.h: a host without
 * another member, a zone under its cap); a new member finds none: -EXFULL; a member placed
 * again (instance_id) under CancelMembershipAndStart takes the best other host and leaves its
 * set.
 * Not a drained host (DrainHost). Its storage is not down (ceph.h: none of its OSDs is down and its agent reaches the
 * cluster; an unknown state, a stale reading, does not filter; each host skipped so is logged
 * with the reason). Weigher: the most free memory (spread), or the least that fits (stack).
 *
 * ctl_schedule_lb places a load balancer (or a public IP) by count, not by room.
 *
 * Call it inside an IMMEDIATE transaction that also books the instance on the host chosen:
 * then no two placements can both take the last room on a host. */
#ifndef CTL_SCHEDULER_H
#define CTL_SCHEDULER_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

#include "ctl.h"

struct ctl_sched_request {
	const char *zone_id; /* NULL: any zone */
	int vcpus, memory_mib, disk_gib;
	const char *image_id;
	bool system_image;
	const char *const *exclude; /* hosts already tried */
	size_t n_exclude;
	const char *deployment_set_id; /* a new member of this set, or NULL */
	const char *instance_id;       /* an instance placed again (its own set's rule), or NULL */
};

/* 0 and the host in ret_host; -ENOSPC when no host fits; -EXFULL when hosts fit but none
 * keeps the deployment set's rule. */
int ctl_schedule(struct ctl *c, sqlite3 *db, const struct ctl_sched_request *rq, char ret_host[64]);

/* Where a load balancer goes: the alive host (of zone, if not NULL) holding the fewest
 * LBs and public IPs, and its zone; -ENOSPC when no host is alive there. */
int ctl_schedule_lb(struct ctl *c, sqlite3 *db, const char *zone, char host[64], char zone_out[64]);

#endif
