"""Hosts that heal (issue 13).

Controller side, with stand-in hosts (tests/e2e/fakeagent.py; no guests, bridges or
iptables, no flock needed): a create that failed on one host and was moved by the scheduler
to another is named to the first host as "moved" (POST /agent/v1/instances/moved), so that
host's agent removes what it kept of it instead of starting it: the instance never runs on
two hosts."""

from __future__ import annotations

import time

import pytest

from fakeagent import FakeAgent, LoneController
from fakecontroller import agent_with_fake_controller
from waiting import wait_for


@pytest.fixture
def two_hosts(tmp_path):
    with LoneController(tmp_path) as ctl:
        api = ctl.account("alice")
        # heal-a sorts first: the scheduler's tie goes to it.
        with FakeAgent(ctl, "heal-a") as a, FakeAgent(ctl, "heal-b") as b:
            yield ctl, api, a, b


def moved(host, ids):
    status, body = host.host.raw("POST", "/agent/v1/instances/moved", {"instance_ids": ids})
    assert status == 200, (status, body)
    return body["moved"]


def instance(api, iid) -> dict:
    return api.call("DescribeInstances", InstanceIds=f'["{iid}"]')["Instances"]["Instance"][0]


def test_rescheduled_create_is_named_moved_to_the_first_host(two_hosts):
    ctl, api, a, b = two_hosts
    a.fail_creates = True
    iid = api.call("RunInstances", ImageId="tiny", InstanceType="ecs.t1.small")["InstanceIdSets"]["InstanceIdSet"][0]
    wait_for(lambda: instance(api, iid), 60, "Running on heal-b", 0.3,
             until=lambda i: i["Status"] == "Running" and i["HostId"] == "heal-b")
    # heal-a was asked first (and failed).
    assert any(c["method"] == "PUT" and c["path"] == f"/v1/instances/{iid}" for c in a.calls), a.calls
    # The first host learns the instance is another's now; the second keeps it.
    assert moved(a, [iid]) == [iid]
    assert moved(b, [iid]) == []
    # An id the controller does not know, or a deleted instance, is not "moved" (the agent's
    # own "wanted" check handles those).
    assert moved(a, ["i-doesnotexist0000000"]) == []
    api.call("DeleteInstance", InstanceId=iid, Force="true")
    # Once deleted on heal-b, it is no longer anyone's.
    wait_for(lambda: moved(a, [iid]), 60, "deleted", 0.3, until=lambda l: l == [])


def test_moved_refuses_bad_input(two_hosts):
    ctl, api, a, b = two_hosts
    for body in ({}, {"instance_ids": "i-x"}, {"instance_ids": [1]}):
        status, ans = a.host.raw("POST", "/agent/v1/instances/moved", body)
        assert status == 400, (status, ans)
    status, _ = a.host.raw("POST", "/agent/v1/instances/moved", {"instance_ids": []}, signed=False)
    assert status == 401


# ---- the agent's side: a real agent, libvirt and guest, disks on the test Ceph cluster
# (needs /tmp/ecs-guests.lock) ----

@pytest.fixture(scope="module")
def agent_env(tiny_image, ceph_cluster):
    with agent_with_fake_controller(tiny_image.dir, ceph_cluster, {"agent.reconcile_interval_s": "2"}) as env:
        yield env


def test_agent_removes_a_moved_instance_and_keeps_its_disks(agent_env):
    env = agent_env
    from agentlib import random_id

    spec = env.spec(hostname="moved", data_disks=[{"disk_id": random_id("d-"), "size_gib": 1}])
    iid = spec["instance_id"]
    disks = env.disk_names([spec["system_disk"]["disk_id"], spec["data_disks"][0]["disk_id"]])
    env.create(spec)
    env.wait_status(spec, "Running", 120)
    assert f"ecs-{iid}" in env.libvirt.domains() and len(env.taps()) == 1
    try:
        # The controller placed it on another host: domain, tap, config drive and documents go.
        env.controller.moved.add(iid)
        wait_for(env.host_state, 60, "the moved instance removed", 0.5,
                 until=lambda s: s["domains"] == [] and s["taps"] == [] and s["instances"] == [],
                 detail=lambda: env.agent.log_tail(20))
        status, _, _ = env.client.raw("GET", f"/v1/instances/{iid}")
        assert status == 404
        # Its disks are the new host's: still in the pool, untouched.
        assert set(disks) <= set(env.rbd_images()), env.rbd_images()
        # And later passes start nothing again (a few reconcile intervals).
        time.sleep(6)
        assert env.libvirt.domains() == []
    finally:
        for name in disks:
            env.ceph.cli("rbd", "rm", f"ecs-rbd/{name}", check=False)
