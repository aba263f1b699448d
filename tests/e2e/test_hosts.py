"""DescribeHosts and storage-aware scheduling (issue 12, item 4) against the session's test
Ceph cluster (fixture ceph_cluster), a controller of its own reading it as
client.ecs-controller, and two stand-in hosts (tests/e2e/fakeagent.py):

- the host named as the OSD's CRUSH host bucket (docs/storage.md, "The controller's view")
  owns osd.0; the other ("zz-compute") has no OSD;
- DescribeHosts is for the accounts of [controller] admin_accounts only: another account gets
  403 Forbidden; it pages as the other Describe* actions;
- with osd.0 marked down (noup set, so it stays down; the daemon keeps running) its host shows
  storage "down" and RunInstances places nothing there; a host whose agent reports that it
  cannot reach the cluster takes nothing either; unset, both take instances again.

No guests, bridges or iptables: no flock needed."""

from __future__ import annotations

import contextlib
import json
import os
import time

import pytest

from ecsapi import ApiError
from fakeagent import FakeAgent, LoneController
from test_ecsctl import Ctl
from waiting import wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the test Ceph cluster needs root")

OTHER = "zz-compute"  # sorts after any CRUSH host name here, so ties go to the OSD's host


def crush_host(ceph_cluster) -> str:
    """The CRUSH host bucket holding osd.0."""
    tree = json.loads(ceph_cluster.ceph("osd", "tree", "--format", "json"))
    hosts = [n["name"] for n in tree["nodes"] if n["type"] == "host" and 0 in n.get("children", [])]
    assert len(hosts) == 1, tree
    return hosts[0]


@pytest.fixture
def cloud(tmp_path, ceph_cluster):
    ctl = LoneController(tmp_path, extra={
        "controller": {"admin_accounts": "ops"},
        "ceph": {"conf": ceph_cluster.conf, "user": "ecs-controller",
                 "keyring": ceph_cluster.keyring("client.ecs-controller"), "interval_s": 1, "timeout_s": 5},
    })
    with ctl:
        admin, tenant = ctl.account("ops"), ctl.account("alice")
        with FakeAgent(ctl, crush_host(ceph_cluster)) as h1, FakeAgent(ctl, OTHER) as h2:
            yield ctl, admin, tenant, h1, h2


@contextlib.contextmanager
def ecsctl(ctl, api):
    c = Ctl(ctl.endpoint, api.ak, api.secret)
    try:
        yield c
    finally:
        c.close()


def hosts(admin, **params) -> dict:
    return {h["HostId"]: h for h in admin.call("DescribeHosts", PageSize=100, **params)["Hosts"]["Host"]}


def storage_of(admin, host: str) -> str:
    return hosts(admin)[host]["StorageState"]


def run(api, n: int) -> list[str]:
    ids = api.call("RunInstances", ImageId="tiny", InstanceType="ecs.t1.small", Amount=n)["InstanceIdSets"][
        "InstanceIdSet"]
    placed = {i["InstanceId"]: i["HostId"] for i in api.call("DescribeInstances", PageSize=100)["Instances"]["Instance"]}
    return [placed[i] for i in ids]


@contextlib.contextmanager
def osd_down(ceph_cluster):
    """osd.0 marked down and kept down (noup); restored, also on failure."""
    ceph_cluster.ceph("osd", "set", "noup")
    try:
        ceph_cluster.ceph("osd", "down", "0")
        yield
    finally:
        ceph_cluster.ceph("osd", "unset", "noup")
        wait_for(lambda: json.loads(ceph_cluster.ceph("osd", "tree", "--format", "json")), 120, "osd.0 up again", 0.5,
                 until=lambda t: any(n["id"] == 0 and n.get("status") == "up" for n in t["nodes"]))
        wait_for(lambda: json.loads(ceph_cluster.ceph("health", "--format", "json"))["status"], 120, "HEALTH_OK", 0.5,
                 until=lambda s: s == "HEALTH_OK")


def heartbeat(ctl, agent, storage: dict | None):
    facts = {"host_id": agent.host_id, "api_url": agent.url, "zone_id": "cn-local-a", "hypervisor": "qemu",
             "vcpus": 64, "memory_mib": 65536, "disk_total_gib": 1000, "max_instances": 256, "images": ["tiny"],
             "instances": [], "sent_at": int(time.time())}
    if storage is not None:
        facts["storage"] = storage
    return ctl.agent_client(agent.host_id).raw("POST", "/agent/v1/heartbeat", facts)


def test_describe_hosts_shows_health_pools_and_osds(cloud, ceph_cluster):
    ctl, admin, tenant, h1, h2 = cloud
    ceph = wait_for(lambda: admin.call("DescribeHosts")["Ceph"], 30, "a reading of the cluster", 0.3,
                    until=lambda c: c["Health"] != "")
    assert ceph["Storage"] == "ceph" and ceph["Health"] == "HEALTH_OK", ceph
    assert ceph["Checks"]["Check"] == [] and ceph["Error"] == "" and 0 <= ceph["SnapshotAgeSeconds"] <= 30, ceph
    pools = {p["Name"]: p for p in ceph["Pools"]["Pool"]}
    assert {"ecs-rbd", "ecs-oss", "ecs-ots", "ecs-ctl"} <= set(pools), pools
    assert all(p["MaxAvail"] > 0 and p["Stored"] >= 0 for p in pools.values()), pools

    hs = hosts(admin)
    assert set(hs) == {h1.host_id, OTHER}, hs
    osd_host = hs[h1.host_id]
    assert osd_host["Osds"]["Osd"] == [{"OsdId": 0, "Name": "osd.0", "Status": "up", "Up": True, "In": True}], osd_host
    assert (osd_host["StorageState"], osd_host["State"], osd_host["Address"]) == ("ok", "up", "127.0.0.1"), osd_host
    assert osd_host["Cpu"] == 64 and osd_host["Memory"] == 65536 and osd_host["InstanceCount"] == 0, osd_host
    assert hs[OTHER]["Osds"]["Osd"] == [] and hs[OTHER]["StorageState"] == "ok", hs[OTHER]

    # Used capacity follows the instances booked.
    run(tenant, 2)
    hs = hosts(admin)
    assert sum(h["InstanceCount"] for h in hs.values()) == 2, hs
    assert sum(h["UsedCpu"] for h in hs.values()) == 2 and sum(h["UsedMemory"] for h in hs.values()) == 512, hs

    # Paging as the other Describe* actions; HostId picks one.
    p1 = admin.call("DescribeHosts", PageSize=1, PageNumber=1)
    p2 = admin.call("DescribeHosts", PageSize=1, PageNumber=2)
    assert (p1["TotalCount"], p1["PageSize"], p1["PageNumber"], p2["PageNumber"]) == (2, 1, 1, 2), (p1, p2)
    assert [h["HostId"] for h in p1["Hosts"]["Host"] + p2["Hosts"]["Host"]] == sorted([h1.host_id, OTHER])
    assert list(hosts(admin, HostId=OTHER)) == [OTHER]
    status, body = admin.raw("DescribeHosts", {"PageSize": 101})
    assert status == 400 and body["Code"].startswith("Invalid"), body

    # ecsctl host ls / show: the same, as a table and as JSON.
    with ecsctl(ctl, admin) as cli:
        out = cli("host", "ls", "-o", "table")
        assert "ceph: HEALTH_OK" in out and "ecs-rbd" in out, out
        row = next(line for line in out.splitlines() if line.startswith(h1.host_id + " "))
        assert "osd.0 up/in" in row and " ok " in row, out
        js = cli.json("host", "ls")
        assert js["TotalCount"] == 2 and js["Ceph"]["Health"] == "HEALTH_OK", js
        assert [h["HostId"] for h in js["Hosts"]["Host"]] == sorted([h1.host_id, OTHER]), js
        assert cli.json("host", "show", OTHER)["HostId"] == OTHER
        assert cli("host", "ls", "-o", "text").split() == sorted([h1.host_id, OTHER])
        p = cli.run("host", "show", "no-such-host", check=False)
        assert p.returncode != 0 and "no host no-such-host" in p.stderr, p


def test_describe_hosts_is_for_admins_only(cloud):
    ctl, admin, tenant, h1, h2 = cloud
    status, body = tenant.raw("DescribeHosts", {})
    assert (status, body["Code"]) == (403, "Forbidden"), body
    assert set(body) >= {"RequestId", "HostId", "Code", "Message"}, body
    status, body = tenant.raw("DescribeHosts", {"HostId": h1.host_id})
    assert (status, body["Code"]) == (403, "Forbidden"), body
    assert "Hosts" not in body
    with ecsctl(ctl, tenant) as cli:
        p = cli.run("host", "ls", check=False)
        assert p.returncode != 0 and "Forbidden" in p.stderr and h1.host_id not in p.stdout, p


def test_host_with_storage_down_takes_no_instances(cloud, ceph_cluster):
    ctl, admin, tenant, h1, h2 = cloud
    wait_for(lambda: storage_of(admin, h1.host_id), 30, "storage ok", 0.3, until=lambda s: s == "ok")
    # Both hosts take instances while storage is fine (spread: one each).
    assert sorted(run(tenant, 2)) == sorted([h1.host_id, OTHER])

    with osd_down(ceph_cluster):
        h = wait_for(lambda: hosts(admin)[h1.host_id], 60, "storage down", 0.3,
                     until=lambda h: h["StorageState"] == "down")
        assert h["StorageReason"] == "osd.0 down" and h["Osds"]["Osd"][0]["Up"] is False, h
        ceph = admin.call("DescribeHosts")["Ceph"]
        assert ceph["Health"] in ("HEALTH_WARN", "HEALTH_ERR"), ceph
        assert "OSD_DOWN" in {c["Name"] for c in ceph["Checks"]["Check"]}, ceph
        assert hosts(admin)[OTHER]["StorageState"] == "ok"
        # The host with the OSD down is filtered: everything goes to the other.
        assert run(tenant, 3) == [OTHER] * 3
        assert "storage down: osd.0 down" in ctl.log_path.read_text()
        with ecsctl(ctl, admin) as cli:
            out = cli("host", "ls", "-o", "table")
            row = next(line for line in out.splitlines() if line.startswith(h1.host_id + " "))
            assert "osd.0 down/in" in row and " down " in row, out
            assert "OSD_DOWN: 1 osds down" in out, out

    wait_for(lambda: storage_of(admin, h1.host_id), 60, "storage ok again", 0.3, until=lambda s: s == "ok")
    # Spread: the OSD's host has 1 instance, the other 4: the next goes to the OSD's host.
    assert run(tenant, 1) == [h1.host_id]


def test_host_whose_agent_cannot_reach_storage_takes_no_instances(cloud):
    ctl, admin, tenant, h1, h2 = cloud
    wait_for(lambda: storage_of(admin, h1.host_id), 30, "storage ok", 0.3, until=lambda s: s == "ok")
    assert heartbeat(ctl, h2, {"reachable": False, "message": "rados_connect: timed out"})[0] == 200
    h = hosts(admin)[OTHER]
    assert h["StorageState"] == "down" and "cannot reach" in h["StorageReason"], h
    assert "rados_connect: timed out" in h["StorageReason"], h
    assert run(tenant, 2) == [h1.host_id] * 2

    # Both down: no host, ECS's NoStock.
    with pytest.raises(ApiError) as e:
        assert heartbeat(ctl, h1, {"reachable": False})[0] == 200
        run(tenant, 1)
    assert (e.value.status, e.value.code) == (403, "OperationDenied.NoStock")

    # Reachable again, or no report at all (an agent that does not watch storage): both
    # take instances again.
    assert heartbeat(ctl, h1, {"reachable": True})[0] == 200
    assert heartbeat(ctl, h2, None)[0] == 200
    assert (storage_of(admin, h1.host_id), storage_of(admin, OTHER)) == ("ok", "ok")
    # Spread: the OSD's host holds 2, the other none.
    assert run(tenant, 2) == [OTHER] * 2
    # A malformed report is the agent API's 400.
    status, body = heartbeat(ctl, h2, {"reachable": "no"})
    assert (status, body["code"]) == (400, "InvalidParameter"), body


def test_without_ceph_storage_is_none(tmp_path):
    ctl = LoneController(tmp_path, extra={"controller": {"admin_accounts": "ops"}})
    with ctl:
        admin, tenant = ctl.account("ops"), ctl.account("alice")
        with FakeAgent(ctl, "h-1") as h:
            ans = admin.call("DescribeHosts")
            assert ans["Ceph"]["Storage"] == "none" and ans["Ceph"]["Health"] == "", ans
            host = ans["Hosts"]["Host"][0]
            assert (host["StorageState"], host["Osds"]["Osd"]) == ("none", []), host
            # The agent's report is ignored without [ceph]: scheduling is as without Ceph.
            assert heartbeat(ctl, h, {"reachable": False})[0] == 200
            assert run(tenant, 1) == ["h-1"]
