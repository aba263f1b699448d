"""A heartbeat that began before an action ended must not undo it (a defect seen in CI: `ecsctl
start --wait` saw Running, then a heartbeat listed before the start reported Stopped, the
controller took it, and the next RebootInstance got IncorrectInstanceStatus).

The agent orders what it says about instances with a state_seq (agent/agent.h): an action's
answer carries the value after it, a heartbeat the value read before it listed the instances.
Here a stand-in host (tests/e2e/fakeagent.py) sends the stale heartbeat on purpose.
No guests, bridges or iptables: no flock needed."""

from __future__ import annotations

import json

import pytest

from fakeagent import lone_cloud
from waiting import wait_for


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    with lone_cloud(tmp_path_factory.mktemp("hborder"), "h-order") as pair:
        yield pair


def status(api, iid: str) -> str:
    return api.call("DescribeInstances", InstanceIds=json.dumps([iid]))["Instances"]["Instance"][0]["Status"]


def settle(api, iid: str, want: str):
    wait_for(lambda: status(api, iid), 30, f"{iid} {want}", 0.1, until=lambda s: s == want)


def stale_listing_after(api, host, iid: str, action: str, settled: str, stale: str):
    """`action` ends with the instance `settled`; then a heartbeat listed before it (saying
    `stale`) arrives. The controller keeps what the action's answer said."""
    listed_at = host.state_seq  # a heartbeat starts listing here ...
    api.call(action, InstanceId=iid)
    settle(api, iid, settled)
    assert host.state_seq > listed_at
    host.heartbeat({iid: stale}, state_seq=listed_at)  # ... and arrives only now
    assert status(api, iid) == settled


def test_stale_heartbeat_does_not_undo_a_start(cloud):
    ctl, host = cloud
    api = ctl.account("order")
    iid = api.call("CreateInstance", ImageId="tiny", InstanceType="ecs.t1.small")["InstanceId"]
    settle(api, iid, "Stopped")
    stale_listing_after(api, host, iid, "StartInstance", "Running", "Stopped")
    api.call("RebootInstance", InstanceId=iid)  # refused with IncorrectInstanceStatus before the fix
    settle(api, iid, "Running")

    # A heartbeat listed after the last answer is the agent's word (a guest that powered off).
    host.heartbeat({iid: "Stopped"})
    assert status(api, iid) == "Stopped"


def test_stale_heartbeat_does_not_undo_a_stop(cloud):
    ctl, host = cloud
    api = ctl.account("order2")
    iid = api.call("RunInstances", ImageId="tiny", InstanceType="ecs.t1.small")["InstanceIdSets"]["InstanceIdSet"][0]
    settle(api, iid, "Running")
    stale_listing_after(api, host, iid, "StopInstance", "Stopped", "Running")
    api.call("StartInstance", InstanceId=iid)  # a Running one would be refused
    settle(api, iid, "Running")


def test_heartbeat_without_state_seq_is_taken_as_before(cloud):
    """An agent from before state_seq: its listing is the agent's word."""
    ctl, host = cloud
    api = ctl.account("order3")
    iid = api.call("RunInstances", ImageId="tiny", InstanceType="ecs.t1.small")["InstanceIdSets"]["InstanceIdSet"][0]
    settle(api, iid, "Running")
    facts_instances = [{"instance_id": iid, "status": "Stopped"}]
    host.host.heartbeat(host.url, facts_instances, host.max_instances)
    assert status(api, iid) == "Stopped"
