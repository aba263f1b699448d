"""Deployment sets (issue 13, item 5): CreateDeploymentSet, DescribeDeploymentSets,
ModifyDeploymentSetAttribute, DeleteDeploymentSet and DeploymentSetId on RunInstances /
CreateInstance, strategy Availability (each member on its own host).

On a controller with three stand-in hosts (tests/e2e/fakeagent.py): a set of 3 lands on 3
distinct hosts; a 4th member is refused with QuotaExceed.DeploymentSetInstanceQuotaFull and
nothing is left behind (no instance, disk or host call); a second account can neither use,
see, change nor delete the first's set; a set with members is not deleted
(DependencyViolation.NotEmpty); the limits (150 sets per account, 100 ids per describe,
names, strategies); a member whose create failed is placed again on a host that keeps the
rule (the scheduler's path heal.c takes too); ecsctl deployset create|ls|rm and
ecsctl run --deployment-set. No guests, bridges or iptables: no flock needed."""

from __future__ import annotations

import json
import time

import pytest

from ecsapi import ApiError
from fakeagent import FakeAgent, LoneController
from test_ecsctl import Ctl
from waiting import wait_for

HOSTS = ("ds-h1", "ds-h2", "ds-h3")
SMALL = {"ImageId": "tiny", "InstanceType": "ecs.t1.small"}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    with LoneController(tmp_path_factory.mktemp("deployset")) as ctl, \
            FakeAgent(ctl, HOSTS[0]) as h1, FakeAgent(ctl, HOSTS[1]) as h2, FakeAgent(ctl, HOSTS[2]) as h3:
        yield ctl, (h1, h2, h3)


_accounts = iter(range(1000))


@pytest.fixture
def api(cloud):
    return cloud[0].account(f"ds{next(_accounts)}")


@pytest.fixture
def other(cloud):
    return cloud[0].account(f"dsother{next(_accounts)}")


def fails(api, action, code, status=None, **params):
    with pytest.raises(ApiError) as e:
        api.call(action, **params)
    assert e.value.code == code, e.value.body
    if status:
        assert e.value.status == status, e.value.body
    return e.value


def new_set(api, **params) -> str:
    return api.call("CreateDeploymentSet", **params)["DeploymentSetId"]


def describe_set(api, ds) -> dict:
    body = api.call("DescribeDeploymentSets", DeploymentSetIds=json.dumps([ds]))
    assert body["TotalCount"] == 1, body
    return body["DeploymentSets"]["DeploymentSet"][0]


def instances(api) -> list[dict]:
    return api.call("DescribeInstances", PageSize=100)["Instances"]["Instance"]


def run(api, ds, amount=1) -> list[str]:
    return api.call("RunInstances", **SMALL, Amount=amount, DeploymentSetId=ds)["InstanceIdSets"]["InstanceIdSet"]


def creates(hosts) -> int:
    return sum(1 for h in hosts for c in h.calls if c["method"] == "PUT" and c["path"].startswith("/v1/instances/"))


def test_set_of_three_on_three_hosts_fourth_refused(cloud, api):
    _, hosts = cloud
    ds = new_set(api, DeploymentSetName="web", Description="three web servers")
    ids = run(api, ds, 3)
    by_id = wait_for(lambda: {i["InstanceId"]: i for i in instances(api)}, 30, "3 members Running", 0.1,
                     until=lambda m: all(m[i]["Status"] == "Running" for i in ids))
    assert sorted(by_id[i]["HostId"] for i in ids) == sorted(HOSTS)
    assert all(by_id[i]["DeploymentSetId"] == ds for i in ids)

    got = describe_set(api, ds)
    assert got["DeploymentSetId"] == ds and got["DeploymentSetName"] == "web"
    assert got["DeploymentSetDescription"] == "three web servers"
    assert got["Strategy"] == "Availability" and got["Domain"] == "Default" and got["Granularity"] == "Host"
    assert got["InstanceAmount"] == 3 and sorted(got["InstanceIds"]["InstanceId"]) == sorted(ids)
    assert got["CreationTime"].endswith("Z")
    assert got["Capacities"]["Capacity"] == [{"ZoneId": "cn-local-a", "UsedAmount": 3, "AvailableAmount": 0}]

    # A 4th member: no host left without one. Refused, and nothing is booked or sent.
    disks_before = api.call("DescribeDisks", PageSize=100)["TotalCount"]
    calls_before = creates(hosts)
    for action in ("RunInstances", "CreateInstance"):
        e = fails(api, action, "QuotaExceed.DeploymentSetInstanceQuotaFull", 403, **SMALL, DeploymentSetId=ds)
        assert ds in e.body["Message"]
    assert sorted(i["InstanceId"] for i in instances(api)) == sorted(ids)
    assert api.call("DescribeDisks", PageSize=100)["TotalCount"] == disks_before
    assert creates(hosts) == calls_before
    assert describe_set(api, ds)["InstanceAmount"] == 3

    # All of an Amount or none: 4 at once into a new set books none.
    ds2 = new_set(api)
    fails(api, "RunInstances", "QuotaExceed.DeploymentSetInstanceQuotaFull", 403, **SMALL, Amount=4, DeploymentSetId=ds2)
    assert len(instances(api)) == 3 and describe_set(api, ds2)["InstanceAmount"] == 0
    assert creates(hosts) == calls_before
    # Outside the set, the same cloud still has room.
    api.call("CreateInstance", **SMALL)


def test_delete_refused_while_members_remain(cloud, api):
    ds = new_set(api)
    iid = api.call("CreateInstance", **SMALL, DeploymentSetId=ds)["InstanceId"]
    fails(api, "DeleteDeploymentSet", "DependencyViolation.NotEmpty", 403, DeploymentSetId=ds)
    wait_for(lambda: {i["InstanceId"]: i["Status"] for i in instances(api)}.get(iid), 30, f"{iid} Stopped", 0.1,
             until=lambda s: s == "Stopped")
    api.call("DeleteInstance", InstanceId=iid)
    # A member leaves its set once its host removed it (it held the host until then).
    wait_for(lambda: describe_set(api, ds)["InstanceAmount"], 30, f"{iid} out of {ds}", 0.1, until=lambda n: n == 0)
    api.call("DeleteDeploymentSet", DeploymentSetId=ds)
    assert api.call("DescribeDeploymentSets", DeploymentSetIds=json.dumps([ds]))["TotalCount"] == 0
    fails(api, "DeleteDeploymentSet", "InvalidDeploymentSetId.NotFound", 404, DeploymentSetId=ds)
    fails(api, "CreateInstance", "InvalidDeploymentSetId.NotFound", 404, **SMALL, DeploymentSetId=ds)


def test_another_account_cannot_use_see_change_or_delete(cloud, api, other):
    ds = new_set(api, DeploymentSetName="mine")
    run(api, ds)
    fails(other, "RunInstances", "InvalidDeploymentSetId.NotFound", 404, **SMALL, DeploymentSetId=ds)
    fails(other, "CreateInstance", "InvalidDeploymentSetId.NotFound", 404, **SMALL, DeploymentSetId=ds)
    assert instances(other) == []
    assert other.call("DescribeDeploymentSets", DeploymentSetIds=json.dumps([ds]))["TotalCount"] == 0
    assert other.call("DescribeDeploymentSets")["TotalCount"] == 0
    fails(other, "ModifyDeploymentSetAttribute", "InvalidDeploymentSetId.NotFound", 404, DeploymentSetId=ds,
          DeploymentSetName="theirs")
    fails(other, "DeleteDeploymentSet", "InvalidDeploymentSetId.NotFound", 404, DeploymentSetId=ds)
    got = describe_set(api, ds)
    assert got["DeploymentSetName"] == "mine" and got["InstanceAmount"] == 1
    # The owner may rename it.
    api.call("ModifyDeploymentSetAttribute", DeploymentSetId=ds, DeploymentSetName="renamed", Description="new text")
    got = describe_set(api, ds)
    assert (got["DeploymentSetName"], got["DeploymentSetDescription"]) == ("renamed", "new text")


def test_parameters_and_limits(cloud, api):
    fails(api, "CreateDeploymentSet", "InvalidParameter", 400, Strategy="LowLatency")
    fails(api, "CreateDeploymentSet", "InvalidParameter", 400, Granularity="Rack")
    fails(api, "CreateDeploymentSet", "InvalidParameter", 400, OnUnableToRedeployFailedInstance="Whatever")
    fails(api, "CreateDeploymentSet", "InvalidDeploymentSetName.Malformed", 400, DeploymentSetName="1starts-with-digit")
    fails(api, "CreateDeploymentSet", "InvalidDeploymentSetName.Malformed", 400, DeploymentSetName="http://x")
    fails(api, "CreateDeploymentSet", "InvalidDescription.Malformed", 400, Description="https://x")
    fails(api, "DeleteDeploymentSet", "MissingParameter", 400)
    fails(api, "DescribeDeploymentSets", "InvalidDeploymentSetIds.TooManyInput", 403,
          DeploymentSetIds=json.dumps([f"ds-{i}" for i in range(101)]))
    fails(api, "DescribeDeploymentSets", "InvalidParameter", 400, PageSize=51)
    fails(api, "CreateInstance", "InvalidDeploymentSetId.NotFound", 404, **SMALL, DeploymentSetId="ds-nosuchset")

    # 150 sets per account; the 151st is refused and another account is not affected.
    made = [new_set(api, DeploymentSetName=f"s{i:03d}",
                    OnUnableToRedeployFailedInstance="KeepStopped" if i % 2 else "CancelMembershipAndStart")
            for i in range(150)]
    fails(api, "CreateDeploymentSet", "QuotaExceed.DeploymentSet", 403)
    page = api.call("DescribeDeploymentSets", PageSize=50, PageNumber=3)
    assert page["TotalCount"] == 150 and len(page["DeploymentSets"]["DeploymentSet"]) == 50
    named = api.call("DescribeDeploymentSets", DeploymentSetName="s007")["DeploymentSets"]["DeploymentSet"]
    assert [s["DeploymentSetId"] for s in named] == [made[7]]
    assert named[0]["OnUnableToRedeployFailedInstance"] == "KeepStopped"
    listed = api.call("DescribeDeploymentSets", DeploymentSetIds=json.dumps(made[:100]), PageSize=50)
    assert listed["TotalCount"] == 100
    api.call("DeleteDeploymentSet", DeploymentSetId=made[0])
    new_set(api)
    fails(api, "CreateDeploymentSet", "QuotaExceed.DeploymentSet", 403)


def test_failed_create_is_placed_again_on_a_host_that_keeps_the_rule(tmp_path):
    """A member whose create failed on its host goes to another host through
    ctl_instance_place_elsewhere, the scheduler call heal.c's recovery makes: the host with the
    most free memory holds the set's other member, so only the rule sends it elsewhere."""
    with LoneController(tmp_path) as ctl, FakeAgent(ctl, "ha") as ha, FakeAgent(ctl, "hb") as hb, \
            FakeAgent(ctl, "hc") as hc:
        # hc is small: the spread weigher would rather use ha.
        facts = {"host_id": "hc", "api_url": hc.url, "zone_id": "cn-local-a", "hypervisor": "qemu", "vcpus": 64,
                 "memory_mib": 8192, "disk_total_gib": 1000, "disk_free_gib": 1000, "max_instances": 256,
                 "images": ["tiny"], "instances": [], "sent_at": int(time.time()), "state_seq": 1}
        assert hc.host.raw("POST", "/agent/v1/heartbeat", facts)[0] == 200
        api = ctl.account("keeper")
        ds = new_set(api)
        first = run(api, ds)[0]
        hb.fail_creates = True
        second = run(api, ds)[0]

        def hosts_now():
            return {i["InstanceId"]: (i["HostId"], i["Status"]) for i in instances(api)}

        placed = wait_for(hosts_now, 60, "the second member Running", 0.2,
                          until=lambda h: h.get(second, ("", ""))[1] == "Running")
        assert placed[first][0] == "ha"
        assert placed[second][0] == "hc", placed  # tried on hb (failed), then the rule's host
        assert any(c["method"] == "PUT" and c["path"] == f"/v1/instances/{second}" for c in hb.calls)
        assert describe_set(api, ds)["InstanceAmount"] == 2
        assert not ha.calls or all(second not in c["path"] for c in ha.calls)


def test_ecsctl_verbs(cloud, api):
    c = Ctl(cloud[0].endpoint, api.ak, api.secret)
    try:
        ds = c("deployset", "create", "--name", "cli", "--description", "from ecsctl").strip()
        assert ds.startswith("ds-"), ds
        listed = c.json("deployset", "ls")["DeploymentSets"]["DeploymentSet"]
        assert [s["DeploymentSetId"] for s in listed] == [ds]
        c("run", "--image", "tiny", "--type", "ecs.t1.small", "--count", "2", "--deployment-set", ds)
        members = [i for i in instances(api) if i["DeploymentSetId"] == ds]
        assert len(members) == 2 and len({i["HostId"] for i in members}) == 2
        assert "MEMBERS" in c("deployset", "ls", "-o", "table") and c.json("deployset", "ls")["DeploymentSets"]["DeploymentSet"][0]["InstanceAmount"] == 2
        p = c.run("deployset", "rm", ds, check=False)
        assert p.returncode != 0 and "DependencyViolation.NotEmpty" in p.stderr + p.stdout
        assert "deployment-set" in c("help", "run")
        assert "deployset" in c("help")
    finally:
        c.close()


def test_heal_keeps_the_rule_and_the_public_ip_follows(tmp_path, ceph_cluster):
    """heal.c's recovery of a dead host (test_heal.py's stand-in setup: the session's test Ceph
    cluster, underlay addresses of a documentation range, so the fence blocklists nothing
    real): the set's member goes to the host without a member although the spread weigher
    prefers the other, and its public IP follows it (issue 13, item 6: a PUT of the address to
    the new host, DescribeInstances still shows it)."""
    under = {"dh-a": "192.0.2.81", "dh-b": "192.0.2.82", "dh-c": "192.0.2.83"}
    ctl = LoneController(tmp_path, extra={
        "controller": {"host_dead_after_s": 3},
        "ceph": {"conf": ceph_cluster.conf, "user": "ecs-controller",
                 "keyring": ceph_cluster.keyring("client.ecs-controller"), "interval_s": 1, "timeout_s": 5},
    })

    def beat(host):
        with host.lock:
            insts = [{"instance_id": i, "status": st} for i, st in host.instances.items()]
        facts = {"host_id": host.host_id, "api_url": host.url, "zone_id": "cn-local-a", "hypervisor": "qemu",
                 "vcpus": 64, "memory_mib": 8192 if host.host_id == "dh-c" else 65536, "disk_total_gib": 1000,
                 "max_instances": 256, "images": ["tiny"], "instances": insts,
                 "overlay": {"vni": 4243, "underlay_ip": under[host.host_id]}}
        status, body = host.host.raw("POST", "/agent/v1/heartbeat", facts)
        assert status == 200, (status, body)

    try:
        with ctl, FakeAgent(ctl, "dh-a") as a, FakeAgent(ctl, "dh-b") as b, FakeAgent(ctl, "dh-c") as c:
            api = ctl.account("healer")
            alive = [a, b, c]

            def beating(fn):
                def step():
                    for h in alive:
                        beat(h)
                    return fn()
                return step

            def placed():
                return {i["InstanceId"]: i for i in instances(api)}

            beating(lambda: None)()
            ds = new_set(api)
            first = run(api, ds)[0]
            second = run(api, ds)[0]
            now = wait_for(beating(placed), 30, "both members Running", 0.3,
                           until=lambda m: all(m.get(i, {}).get("Status") == "Running" for i in (first, second)))
            assert (now[first]["HostId"], now[second]["HostId"]) == ("dh-a", "dh-b")
            address = api.call("AllocatePublicIpAddress", InstanceId=first)["IpAddress"]

            def put_to(host):
                return [x for x in host.calls if x["method"] == "PUT" and x["path"] == f"/v1/public-ips/{address}"]

            wait_for(beating(lambda: put_to(a)), 30, "the public IP sent to dh-a", 0.3)

            alive.remove(a)  # dh-a falls silent
            now = wait_for(beating(placed), 60, "the member recovered", 0.5,
                           until=lambda m: m[first]["HostId"] != "dh-a" and m[first]["Status"] == "Running")
            assert now[first]["HostId"] == "dh-c", now[first]  # dh-b holds the other member
            assert now[first]["DeploymentSetId"] == ds
            assert now[first]["PublicIpAddress"]["IpAddress"] == [address]
            wait_for(beating(lambda: put_to(c)), 30, "the public IP sent to dh-c", 0.3)
            assert not put_to(b)
    finally:
        import contextlib

        for ip in under.values():
            with contextlib.suppress(Exception):
                ceph_cluster.ceph("osd", "blocklist", "rm", f"{ip}:0/0")
