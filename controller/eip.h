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

#include "ctl.h"

int ctl_eip_allocate(struct ctl_call *call, struct json_object *out); /* AllocatePublicIpAddress */
int ctl_eip_release(struct ctl_call *call, struct json_object *out);  /* ReleasePublicIpAddress */

#endif
