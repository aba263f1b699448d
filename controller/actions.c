/* actions.c: every API action the controller answers, by name. */
#include <stddef.h>

#include "ctl.h"
#include "disk.h"
#include "image.h"
#include "instance.h"
#include "keypair.h"
#include "policy.h"
#include "region.h"
#include "snapshot.h"
#include "util.h"

#define ECS(name, fn, mut) { name, fn, CTL_API_VERSION, mut }

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
	ECS("DescribeInstanceAttribute", ctl_instance_describe_attribute, false),
	ECS("ModifyInstanceAttribute", ctl_instance_modify, true),
	ECS("DescribeUserData", ctl_instance_user_data, false),
	ECS("GetInstanceConsoleOutput", ctl_instance_console, false),
	ECS("ReplaceSystemDisk", ctl_instance_replace_system_disk, true),
	ECS("DescribeInstanceMonitorData", ctl_instance_monitor_data, false),
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
};

const struct ctl_action *ctl_action_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(actions); i++)
		if (streq(actions[i].name, name))
			return &actions[i];
	return NULL;
}
