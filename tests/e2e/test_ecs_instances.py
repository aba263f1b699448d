"""Instances through the controller on a real guest, as a user of ECS sees them: RunInstances
with a key pair, Running only once the agent says so, SSH in; stop, start, reboot; a data
disk created, attached live, seen in the guest, detached, deleted; a snapshot of the system
disk, an image from it, a second instance from that image that has the file; delete.
The tests of this module run in order."""

import json
import subprocess
import time

import pytest

from ecsapi import ApiError

MARK = "made-before-the-snapshot"


@pytest.fixture(scope="module")
def api(cloud):
    return cloud.account_with_key("carol")


def ssh_spec(inst):
    return {"instance_id": inst["InstanceId"],
            "nics": [{"ip": inst["VpcAttributes"]["PrivateIpAddress"]["IpAddress"][0]}]}


@pytest.fixture(scope="module")
def vm(cloud, api):
    r = api.call("RunInstances", ImageId="tiny", InstanceType="ecs.t1.small", KeyPairName="e2e", HostName="ecs-e2e-1",
                 InstanceName="first")
    iid = r["InstanceIdSets"]["InstanceIdSet"][0]
    inst = cloud.wait_status(api, iid, "Running")
    spec = ssh_spec(inst)
    cloud.host.wait_ssh(spec)
    return {"id": iid, "spec": spec}


def test_run_ssh(cloud, api, vm):
    assert cloud.host.ssh(vm["spec"], "hostname").stdout.strip() == "ecs-e2e-1"
    i = cloud.instance(api, vm["id"])
    assert i["KeyPairName"] == "e2e" and i["OperationLocks"]["LockReason"] == []
    st = api.call("DescribeInstanceStatus")["InstanceStatuses"]["InstanceStatus"]
    assert {"InstanceId": vm["id"], "Status": "Running"} in st


def test_console_and_user_data(cloud, api, vm):
    import base64

    out = api.call("GetInstanceConsoleOutput", InstanceId=vm["id"])
    assert "ecs-tiny" in base64.b64decode(out["ConsoleOutput"]).decode(errors="replace")
    assert api.call("DescribeUserData", InstanceId=vm["id"])["UserData"] == ""


def test_stop_start_reboot(cloud, api, vm):
    api.call("StopInstance", InstanceId=vm["id"])
    assert cloud.instance(api, vm["id"])["Status"] in ("Stopping", "Stopped")
    cloud.wait_status(api, vm["id"], "Stopped")
    with pytest.raises(ApiError) as e:
        api.call("RebootInstance", InstanceId=vm["id"])
    assert e.value.code == "IncorrectInstanceStatus"
    api.call("StartInstance", InstanceId=vm["id"])
    cloud.wait_status(api, vm["id"], "Running")
    cloud.host.wait_ssh(vm["spec"])
    boot = cloud.host.ssh(vm["spec"], "cat /proc/sys/kernel/random/boot_id").stdout
    api.call("RebootInstance", InstanceId=vm["id"], ForceStop="true")
    cloud.wait_status(api, vm["id"], "Running")
    cloud.wait_for(lambda: cloud.host.ssh(vm["spec"], "cat /proc/sys/kernel/random/boot_id", check=False).stdout
                   not in ("", boot), 120, "a new boot")


def test_data_disk_live(cloud, api, vm):
    did = api.call("CreateDisk", ZoneId="cn-local-a", Size=1, DiskName="data1")["DiskId"]
    cloud.wait_for(lambda: api.call("DescribeDisks", DiskIds=json.dumps([did]))["Disks"]["Disk"][0]["Status"] ==
                   "Available", 60, "the disk")
    api.call("AttachDisk", DiskId=did, InstanceId=vm["id"])
    d = cloud.wait_for(lambda: [x for x in api.call("DescribeDisks", InstanceId=vm["id"])["Disks"]["Disk"]
                                if x["DiskId"] == did and x["Status"] == "In_use"], 60, "the attach")[0]
    assert d["Device"] == "/dev/vdb" and d["Type"] == "data"
    cloud.wait_for(lambda: "vdb" in cloud.host.ssh(vm["spec"], "ls /sys/block").stdout, 30, "vdb in the guest")
    with pytest.raises(ApiError) as e:
        api.call("DeleteDisk", DiskId=did)
    assert e.value.code == "IncorrectDiskStatus"
    api.call("DetachDisk", DiskId=did, InstanceId=vm["id"])
    cloud.wait_for(lambda: api.call("DescribeDisks", DiskIds=json.dumps([did]))["Disks"]["Disk"][0]["Status"] ==
                   "Available", 60, "the detach")
    api.call("DeleteDisk", DiskId=did)
    cloud.wait_for(lambda: api.call("DescribeDisks", DiskIds=json.dumps([did]))["TotalCount"] == 0, 60, "the delete")


def test_snapshot_image_second_instance(cloud, api, vm):
    cloud.host.ssh(vm["spec"], f"echo {MARK} > /root/mark && sync")
    sys_disk = api.call("DescribeDisks", InstanceId=vm["id"], DiskType="system")["Disks"]["Disk"][0]["DiskId"]
    sid = api.call("CreateSnapshot", DiskId=sys_disk, SnapshotName="before")["SnapshotId"]
    snap = cloud.wait_for(lambda: [s for s in api.call("DescribeSnapshots", DiskId=sys_disk)["Snapshots"]["Snapshot"]
                                   if s["SnapshotId"] == sid and s["Status"] == "accomplished"], 60, "the snapshot")[0]
    assert snap["Progress"] == "100%" and snap["SourceDiskType"] == "system"
    img = api.call("CreateImage", SnapshotId=sid, ImageName="with-mark")["ImageId"]
    cloud.wait_for(lambda: api.call("DescribeImages", ImageId=img)["TotalCount"] == 1, 90, "the image")
    assert api.call("DescribeImages", ImageOwnerAlias="self")["Images"]["Image"][0]["ImageId"] == img
    with pytest.raises(ApiError) as e:
        api.call("DeleteSnapshot", SnapshotId=sid)
    assert e.value.code == "SnapshotCreatedImage"
    r = api.call("RunInstances", ImageId=img, InstanceType="ecs.t1.small", KeyPairName="e2e", HostName="from-image")
    second = r["InstanceIdSets"]["InstanceIdSet"][0]
    inst = cloud.wait_status(api, second, "Running")
    spec = ssh_spec(inst)
    cloud.host.wait_ssh(spec)
    assert cloud.host.ssh(spec, "cat /root/mark").stdout.strip() == MARK
    assert cloud.host.ssh(spec, "hostname").stdout.strip() == "from-image"
    api.call("DeleteInstance", InstanceId=second, Force="true")
    cloud.wait_for(lambda: not cloud.instance(api, second), 60, "the second instance to go")


def test_delete_running_needs_force(cloud, api, vm):
    with pytest.raises(ApiError) as e:
        api.call("DeleteInstance", InstanceId=vm["id"])
    assert e.value.code == "IncorrectInstanceStatus"
    api.call("DeleteInstance", InstanceId=vm["id"], Force="true")
    cloud.wait_for(lambda: not cloud.instance(api, vm["id"]), 60, "the delete")
    cloud.wait_for(lambda: cloud.host.host_state()["domains"] == [] and cloud.host.host_state()["taps"] == [], 30,
                   "the host to be clean")
