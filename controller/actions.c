/* actions.c: every API action the controller answers, by name and API version: the ECS
 * actions under 2014-05-26, the SLB ones under 2014-05-15. */
#include <stddef.h>

#include "ctl.h"
#include "deployset.h"
#include "disk.h"
#include "eip.h"
#include "hosts.h"
#include "image.h"
#include "instance.h"
#include "keypair.h"
#include "migrate.h"
#include "policy.h"
#include "region.h"
#include "secgroup.h"
#include "slb.h"
#include "snapshot.h"
#include "util.h"
#include "vnc.h"

#define ECS(name, fn, mut) { name, fn, CTL_API_VERSION, mut }
#define SLB(name, fn, mut) { name, fn, CTL_SLB_API_VERSION, mut }

static const struct ctl_action actions[] = {
	ECS("DescribeRegions", ctl_region_describe_regions, false),
	ECS("DescribeZones", ctl_region_describe_zones, false),
	ECS("DescribeInstanceTypes", ctl_region_describe_instance_types, false),
	ECS("RunInstances", ctl_instance_run, true),
	ECS("CreateInstance", ctl_instance_create, true),
	ECS("StartInstance", ctl_instance_start, true),
	ECS("StopInstance", ctl_instance_stop, true),
	ECS("RebootInstance", ctl_instance_reboot, true),
	ECS("DeleteInstance", ctl_instance_delete, true),
	ECS("DescribeInstances", ctl_instance_describe, false),
	ECS("DescribeInstanceStatus", ctl_instance_describe_status, false),
	ECS("DescribeInstanceHistoryEvents", ctl_instance_history_events, false),
	ECS("DescribeInstanceAttribute", ctl_instance_describe_attribute, false),
	ECS("ModifyInstanceAttribute", ctl_instance_modify, true),
	ECS("DescribeUserData", ctl_instance_user_data, false),
	ECS("GetInstanceConsoleOutput", ctl_instance_console, false),
	ECS("ReplaceSystemDisk", ctl_instance_replace_system_disk, true),
	ECS("DescribeInstanceMonitorData", ctl_instance_monitor_data, false),
	ECS("DescribeInstanceVncUrl", ctl_vnc_describe_url, false),
	ECS("CreateDisk", ctl_disk_create, true),
	ECS("AttachDisk", ctl_disk_attach, true),
	ECS("DetachDisk", ctl_disk_detach, true),
	ECS("DeleteDisk", ctl_disk_delete, true),
	ECS("DescribeDisks", ctl_disk_describe, false),
	ECS("ResizeDisk", ctl_disk_resize, true),
	ECS("ResetDisk", ctl_disk_reset, true),
	ECS("ReInitDisk", ctl_disk_reinit, true),
	ECS("CreateSnapshot", ctl_snapshot_create, true),
	ECS("DeleteSnapshot", ctl_snapshot_delete, true),
	ECS("DescribeSnapshots", ctl_snapshot_describe, false),
	ECS("CreateImage", ctl_image_create, true),
	ECS("DescribeImages", ctl_image_describe, false),
	ECS("DeleteImage", ctl_image_delete, true),
	ECS("ImportImage", ctl_image_import, true),
	ECS("ExportImage", ctl_image_export, true),
	ECS("CreateKeyPair", ctl_keypair_create, true),
	ECS("ImportKeyPair", ctl_keypair_import, true),
	ECS("DescribeKeyPairs", ctl_keypair_describe, false),
	ECS("DeleteKeyPairs", ctl_keypair_delete, true),
	ECS("AttachKeyPair", ctl_keypair_attach, true),
	ECS("DetachKeyPair", ctl_keypair_detach, true),
	ECS("CreateAutoSnapshotPolicy", ctl_policy_create, true),
	ECS("DescribeAutoSnapshotPolicyEx", ctl_policy_describe, false),
	ECS("ModifyAutoSnapshotPolicyEx", ctl_policy_modify, true),
	ECS("ApplyAutoSnapshotPolicy", ctl_policy_apply, true),
	ECS("CancelAutoSnapshotPolicy", ctl_policy_cancel, true),
	ECS("DeleteAutoSnapshotPolicy", ctl_policy_delete, true),
	ECS("CreateSecurityGroup", ctl_sg_create, true),
	ECS("DeleteSecurityGroup", ctl_sg_delete, true),
	ECS("DescribeSecurityGroups", ctl_sg_describe, false),
	ECS("DescribeSecurityGroupAttribute", ctl_sg_describe_attribute, false),
	ECS("ModifySecurityGroupAttribute", ctl_sg_modify, true),
	ECS("AuthorizeSecurityGroup", ctl_sg_authorize, true),
	ECS("AuthorizeSecurityGroupEgress", ctl_sg_authorize_egress, true),
	ECS("RevokeSecurityGroup", ctl_sg_revoke, true),
	ECS("RevokeSecurityGroupEgress", ctl_sg_revoke_egress, true),
	ECS("JoinSecurityGroup", ctl_sg_join, true),
	ECS("LeaveSecurityGroup", ctl_sg_leave, true),
	ECS("AllocatePublicIpAddress", ctl_eip_allocate, true),
	ECS("ReleasePublicIpAddress", ctl_eip_release, true),
	ECS("CreateDeploymentSet", ctl_deployset_create, true),
	ECS("DescribeDeploymentSets", ctl_deployset_describe, false),
	ECS("ModifyDeploymentSetAttribute", ctl_deployset_modify, true),
	ECS("DeleteDeploymentSet", ctl_deployset_delete, true),
	/* Admin only ([controller] admin_accounts). */
	ECS("DescribeHosts", ctl_hosts_describe, false),
	ECS("DrainHost", ctl_hosts_drain, true),
	ECS("UndrainHost", ctl_hosts_undrain, true),
	ECS("MigrateInstance", ctl_migrate_instance, true),
	SLB("CreateLoadBalancer", ctl_slb_create, true),
	SLB("DeleteLoadBalancer", ctl_slb_delete, true),
	SLB("DescribeLoadBalancers", ctl_slb_describe, false),
	SLB("DescribeLoadBalancerAttribute", ctl_slb_describe_attribute, false),
	SLB("SetLoadBalancerStatus", ctl_slb_set_status, true),
	SLB("CreateLoadBalancerTCPListener", ctl_slb_listener_create_tcp, true),
	SLB("CreateLoadBalancerUDPListener", ctl_slb_listener_create_udp, true),
	SLB("SetLoadBalancerTCPListenerAttribute", ctl_slb_listener_set_tcp, true),
	SLB("SetLoadBalancerUDPListenerAttribute", ctl_slb_listener_set_udp, true),
	SLB("DescribeLoadBalancerTCPListenerAttribute", ctl_slb_listener_describe_tcp, false),
	SLB("DescribeLoadBalancerUDPListenerAttribute", ctl_slb_listener_describe_udp, false),
	SLB("StartLoadBalancerListener", ctl_slb_listener_start, true),
	SLB("StopLoadBalancerListener", ctl_slb_listener_stop, true),
	SLB("DeleteLoadBalancerListener", ctl_slb_listener_delete, true),
	SLB("AddBackendServers", ctl_slb_add_backends, true),
	SLB("RemoveBackendServers", ctl_slb_remove_backends, true),
	SLB("SetBackendServers", ctl_slb_set_backends, true),
	SLB("DescribeHealthStatus", ctl_slb_health, false),
};

const struct ctl_action *ctl_action_find(const char *name, const char *version)
{
	for (size_t i = 0; i < ARRAY_SIZE(actions); i++)
		if (streq(actions[i].name, name) && (!version || streq(actions[i].version, version)))
			return &actions[i];
	return NULL;
}
