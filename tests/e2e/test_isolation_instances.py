"""Tenant isolation of CreateInstance / RunInstances' data disks (issue 11, defect 1): a
`DataDisk.N.SnapshotId` must name a snapshot of the caller's, as CreateDisk already
requires. Another account's snapshot and an unknown one answer InvalidSnapshotId.NotFound
and change nothing: no instance, no disk, no call to the agent, the quota as it was. A data
disk with a SnapshotId and no Size takes the snapshot's size, as ECS does.

Two accounts on one ecs-controller with a fake agent (tests/e2e/fakeagent.py): disks and
snapshots are "made" by the agent at once, nothing boots."""

import json
import time

import pytest

from cloudenv import CloudEnv
from fakeagent import lone_cloud_fixtures

wait_for = CloudEnv.wait_for

SNAP_DISK_GIB = 3


cloud_pair, ctl, host = lone_cloud_fixtures("isoctl", "h-iso", {"quota": {"instances": 1}})


@pytest.fixture(scope="module")
def victim(ctl, host):
    return ctl.account("victim")


@pytest.fixture(scope="module")
def attacker(ctl, host):
    return ctl.account("attacker")


def snapshot_of_new_disk(api) -> str:
    """A disk of SNAP_DISK_GIB and an accomplished snapshot of it; the snapshot's id."""
    disk = api.call("CreateDisk", ZoneId="cn-local-a", Size=SNAP_DISK_GIB)["DiskId"]
    wait_for(lambda: api.call("DescribeDisks", DiskIds=json.dumps([disk]))["Disks"]["Disk"][0]["Status"] ==
             "Available", 30, "the disk")
    snap = api.call("CreateSnapshot", DiskId=disk)["SnapshotId"]
    wait_for(lambda: api.call("DescribeSnapshots", SnapshotIds=json.dumps([snap]))["Snapshots"]["Snapshot"][0][
        "Status"] == "accomplished", 30, "the snapshot")
    return snap


@pytest.fixture(scope="module")
def victim_snapshot(victim):
    return snapshot_of_new_disk(victim)


def state(api) -> tuple:
    """What an account holds: instances, disks, snapshots (ids)."""
    inst = api.call("DescribeInstances", PageSize=100)["Instances"]["Instance"]
    disks = api.call("DescribeDisks", PageSize=100)["Disks"]["Disk"]
    snaps = api.call("DescribeSnapshots", PageSize=100)["Snapshots"]["Snapshot"]
    return (sorted(i["InstanceId"] for i in inst), sorted((d["DiskId"], d["Size"]) for d in disks),
            sorted(s["SnapshotId"] for s in snaps))


def instance_puts(host) -> list:
    with host.lock:
        return [c for c in host.calls if c["method"] == "PUT" and c["path"].startswith("/v1/instances/")]


def refused(api, action, params, status, code):
    got_status, body = api.raw(action, params)
    assert (got_status, body.get("Code")) == (status, code), body
    assert set(body) >= {"RequestId", "HostId", "Code", "Message"}, body


def run_params(action, **disk):
    p = {"ImageId": "tiny", "InstanceType": "ecs.t1.small"}
    if action == "RunInstances":
        p["Amount"] = 1
    p.update({f"DataDisk.1.{k}": v for k, v in disk.items()})
    return p


def unknown_snapshot_id(like: str) -> str:
    """A well-formed snapshot id that names nothing."""
    return "s-" + "a" * (len(like) - 2)


@pytest.mark.parametrize("action", ["CreateInstance", "RunInstances"])
@pytest.mark.parametrize("whose", ["another account's", "unknown"])
@pytest.mark.parametrize("size", [None, 10])
def test_foreign_or_unknown_snapshot_refused(ctl, host, victim, attacker, victim_snapshot, action, whose, size):
    snap = victim_snapshot if whose == "another account's" else unknown_snapshot_id(victim_snapshot)
    disk = {"SnapshotId": snap}
    if size:
        disk["Size"] = size
    before = (state(attacker), state(victim), len(instance_puts(host)))
    refused(attacker, action, run_params(action, **disk), 404, "InvalidSnapshotId.NotFound")
    # Nothing booked, nothing sent to the agent, not even later.
    time.sleep(0.5)
    assert (state(attacker), state(victim), len(instance_puts(host))) == before


def test_quota_unchanged_after_refusals(ctl, host, attacker, victim_snapshot):
    """The refusals above took nothing of the quota (1 instance): one instance still fits,
    and only one."""
    refused(attacker, "RunInstances", run_params("RunInstances", SnapshotId=victim_snapshot), 404,
            "InvalidSnapshotId.NotFound")
    iid = attacker.call("RunInstances", ImageId="tiny", InstanceType="ecs.t1.small")["InstanceIdSets"][
        "InstanceIdSet"][0]
    assert state(attacker)[0] == [iid]
    refused(attacker, "RunInstances", run_params("RunInstances"), 400, "QuotaExceeded")


def test_own_snapshot_without_size_takes_its_size(ctl, host, victim, victim_snapshot):
    iid = victim.call("RunInstances", **run_params("RunInstances", SnapshotId=victim_snapshot))[
        "InstanceIdSets"]["InstanceIdSet"][0]
    disks = victim.call("DescribeDisks", InstanceId=iid)["Disks"]["Disk"]
    data = [d for d in disks if d["Type"] == "data"]
    assert len(data) == 1, disks
    assert data[0]["Size"] == SNAP_DISK_GIB and data[0]["SourceSnapshotId"] == victim_snapshot, data
    # The agent is told the same: the disk comes from the snapshot, at its size.
    put = wait_for(lambda: [c for c in instance_puts(host) if c["path"] == f"/v1/instances/{iid}"], 30,
                   "the create call to the agent")[0]
    spec = json.loads(put["body"])
    assert [(d["snapshot_id"], d["size_gib"]) for d in spec["data_disks"]] == [(victim_snapshot, SNAP_DISK_GIB)]


def test_own_snapshot_size_bounds(ctl, host, victim, victim_snapshot):
    """A size below the snapshot's is refused (the data would not fit); above it is fine."""
    before = state(victim)
    refused(victim, "CreateInstance", run_params("CreateInstance", SnapshotId=victim_snapshot,
                                                 Size=SNAP_DISK_GIB - 1),
            400, "InvalidDataDiskSize.ValueNotSupported")
    assert state(victim) == before
