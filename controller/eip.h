/* eip.h: instances' public IPs (ECS API 2014-05-26: AllocatePublicIpAddress,
 * ReleasePublicIpAddress; docs/slb-api.md, "Public IPs").
 *
 * A public IP comes from [network] public_ip_pool, one an instance (Running or Stopped, of
 * the caller's account), at most [quota] public_ips an account. It is carried out by the
 * agent of the instance's host as 1:1 NAT to the instance's private address (slbsync.h);
 * DescribeInstances shows it in PublicIpAddress.IpAddress[]. Released (or the instance
 * deleted), it leaves DescribeInstances at once and the pool once its agent let go of it. */
#ifndef CTL_EIP_H
#define CTL_EIP_H

#include <json-c/json.h>
#include <sqlite3.h>

#include "ctl.h"

int ctl_eip_allocate(struct ctl_call *call, struct json_object *out); /* AllocatePublicIpAddress */
int ctl_eip_release(struct ctl_call *call, struct json_object *out);  /* ReleasePublicIpAddress */

/* In the caller's transaction, when an instance is placed on another host (heal's recovery,
 * a failed create moved on, ctl_instance_place_elsewhere): its public IP follows it to host,
 * a job carrying it there; the old host's agent drops it at its next re-sync (slbsync.h),
 * as it no longer holds it. The caller wakes the workers after its commit. */
int ctl_eip_follow(sqlite3 *db, const char *instance_id, const char *host);

#endif
