"""The controller's own guarantees, on a cloud of its own (fast policy tick, short transition
timeout): throttling and quotas with ECS's codes; a controller killed (SIGKILL) right after
accepting work finishes it after a restart, once; a job that cannot reach its host ends in a
visible OperationLocks reason; an auto-snapshot policy whose time point is the current hour
takes its snapshot, once per disk and hour."""

import concurrent.futures
import json
import signal
import time

import pytest

from agentenv import started
from cloudenv import CloudEnv
from ecsapi import ApiError


@pytest.fixture(scope="module")
def env(tiny_image, ceph_cluster):
    yield from started(CloudEnv(tiny_image.dir, ceph=ceph_cluster, ctl_extra="transition_timeout_s = 15\nthrottle_rate = 20\n"
                                "throttle_burst = 20\n[policy]\ntick_s = 1\n[quota]\ninstances = 3\nvcpus = 3\n"))


@pytest.fixture(scope="module")
def api(env):
    return env.account("dave")


def test_throttling(env, api):
    def code(_=None):
        return api.raw("DescribeRegions")[1].get("Code")

    time.sleep(1.5)  # a full bucket (20, refilled at 20 a second)
    first = [code() for _ in range(15)]
    assert "Throttling" not in first, first  # the burst passes
    # Faster than 20 a second however slow the machine: 8 callers at once (each call would
    # have to take 0.4 s to stay under the rate).
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(code, range(200)))
    assert "Throttling" in codes, codes
    time.sleep(1.5)
    assert api.raw("DescribeRegions")[0] == 200  # and it refills


def test_quota(env, api):
    time.sleep(1.5)
    status, body = api.raw("RunInstances", {"ImageId": "tiny", "InstanceType": "ecs.t1.small", "Amount": "4"})
    assert (status, body["Code"]) == (400, "QuotaExceeded"), body
    assert api.call("DescribeInstances")["TotalCount"] == 0  # all or nothing


def test_controller_killed_after_accepting(env, api):
    time.sleep(1.5)
    iid = api.call("CreateInstance", ImageId="tiny", InstanceType="ecs.t1.small")["InstanceId"]
    env.proc.send_signal(signal.SIGKILL)  # before its job can have finished, most likely
    env.proc.wait()
    env.start_controller()
    env.wait_status(api, iid, "Stopped", 60)
    # Once: one instance, one domain on the host.
    assert api.call("DescribeInstances")["TotalCount"] == 1
    assert env.host.libvirt.domains() == [f"ecs-{iid}"]
    # And the restarted controller still answers the agent and drives it.
    api.call("StartInstance", InstanceId=iid)
    env.wait_status(api, iid, "Running", 90)
    api.call("DeleteInstance", InstanceId=iid, Force="true")
    env.wait_for(lambda: api.call("DescribeInstances")["TotalCount"] == 0, 60, "the delete")


def test_stuck_transition_shows_its_reason(env, api):
    time.sleep(1.5)
    iid = api.call("CreateInstance", ImageId="tiny", InstanceType="ecs.t1.small")["InstanceId"]
    env.wait_status(api, iid, "Stopped", 60)
    env.host.agent.stop()  # the host goes silent
    try:
        api.call("StartInstance", InstanceId=iid)
        i = env.wait_for(lambda: (lambda x: x if x["OperationLocks"]["LockReason"] else None)(env.instance(api, iid)),
                         60, "a lock reason")
        lock = i["OperationLocks"]["LockReason"][0]
        assert lock["LockReason"] == "failed" and "start" in lock["LockMsg"], lock
    finally:
        env.host.agent.start()
    api.call("DeleteInstance", InstanceId=iid, Force="true") if env.instance(api, iid)["Status"] in (
        "Stopped", "Running") else None


def test_auto_snapshot_policy_at_the_current_hour(env, api):
    time.sleep(1.5)
    disk = api.call("CreateDisk", ZoneId="cn-local-a", Size=1)["DiskId"]
    env.wait_for(lambda: api.call("DescribeDisks", DiskIds=json.dumps([disk]))["Disks"]["Disk"][0]["Status"] ==
                 "Available", 60, "the disk")
    # The policy's clock is UTC+8 (ECS's default).
    now = time.gmtime(time.time() + 8 * 3600)
    pid = api.call("CreateAutoSnapshotPolicy", timePoints=json.dumps([str(now.tm_hour)]),
                   repeatWeekdays=json.dumps([str(d) for d in range(1, 8)]), retentionDays=1,
                   autoSnapshotPolicyName="hourly")["AutoSnapshotPolicyId"]
    api.call("ApplyAutoSnapshotPolicy", autoSnapshotPolicyId=pid, diskIds=json.dumps([disk]))

    def taken():
        s = api.call("DescribeSnapshots", DiskId=disk)["Snapshots"]["Snapshot"]
        return s if s and all(x["Status"] == "accomplished" for x in s) else None

    snaps = env.wait_for(taken, 30, "the policy's snapshot")
    assert len(snaps) == 1 and snaps[0]["SnapshotType"] == "auto" and snaps[0]["AutoSnapshotPolicyId"] == pid
    time.sleep(3)  # more ticks in the same hour take nothing more
    assert len(api.call("DescribeSnapshots", DiskId=disk)["Snapshots"]["Snapshot"]) == 1
    pol = api.call("DescribeAutoSnapshotPolicyEx", AutoSnapshotPolicyId=pid)["AutoSnapshotPolicies"][
        "AutoSnapshotPolicy"][0]
    assert pol["DiskNums"] == 1 and pol["RetentionDays"] == 1
    api.call("CancelAutoSnapshotPolicy", diskIds=json.dumps([disk]))
    api.call("DeleteSnapshot", SnapshotId=snaps[0]["SnapshotId"])
    api.call("DeleteAutoSnapshotPolicy", autoSnapshotPolicyId=pid)
    env.wait_for(lambda: api.call("DescribeSnapshots", DiskId=disk)["TotalCount"] == 0, 30, "the snapshot to go")
    api.call("DeleteDisk", DiskId=disk)
