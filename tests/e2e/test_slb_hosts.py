"""Load balancers leave a drained or a dead host (issue 13 item 6; docs/slb.md, "Failover").

With stand-in hosts (tests/e2e/fakeagent.py: they hold a load balancer when it is put, let go
of it when it is deleted, and name what they hold in their heartbeats); no guests:
- DrainHost of an LB's host moves the LB to the other host: the put there carries the same
  address, listener and backend; the drained host lets go of it at its next heartbeat; a new
  LB avoids the drained host;
- a dead host (silent, then fenced in the session's test Ceph cluster) holding an LB, and the
  LB's backend instance or not: the LB moves to the other host only once the host is fenced
  (a host holding only LBs is fenced too), its backend still a member; a backend of the dead
  host is recovered on the other host with the same IP.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3

import pytest

from ecsapi import ApiError, EcsClient
from fakeagent import FakeAgent, LoneController, healing_controller
from waiting import wait_for

# Nothing moves in the controller's first host_dead_after_s (every host looks dead then).
ADMIN = {"admin_accounts": "ops", "host_dead_after_s": 3}


def slb_client(api: EcsClient) -> EcsClient:
    return EcsClient(api.endpoint, api.ak, api.secret, timeout=60, version="2014-05-15")


def lb_with_backend(ecs: EcsClient, iid: str) -> tuple[str, str]:
    slb = slb_client(ecs)
    made = slb.call("CreateLoadBalancer", AddressType="intranet", LoadBalancerName="web")
    lb = made["LoadBalancerId"]
    slb.call("CreateLoadBalancerTCPListener", LoadBalancerId=lb, ListenerPort=80, BackendServerPort=8080,
             Bandwidth=-1)
    slb.call("AddBackendServers", LoadBalancerId=lb, BackendServers=json.dumps([{"ServerId": iid, "Weight": "100"}]))
    slb.call("StartLoadBalancerListener", LoadBalancerId=lb, ListenerPort=80)
    return lb, made["Address"]


def db(ctl):
    """The controller's database, read-only (where an LB is placed is not the API's)."""
    return contextlib.closing(sqlite3.connect(f"file:{ctl.dir / 'data' / 'controller.db'}?mode=ro", uri=True))


def lb_host(ctl, lb: str) -> str:
    with db(ctl) as db_:
        return db_.execute("SELECT host_id FROM load_balancers WHERE lb_id = ?", (lb,)).fetchone()[0]


def held(host: FakeAgent, lb: str) -> dict | None:
    with host.lock:
        return host.lbs.get(lb)


def assert_whole(put: dict, address: str, iid: str, ip: str):
    """The put a host got: the LB's address, its listener and its backend."""
    assert put["address"] == address, put
    assert [(x["protocol"], x["port"]) for x in put["listeners"]] == [("tcp", 80)], put
    assert [(b["server_id"], b["ip"]) for b in put["backends"]] == [(iid, ip)], put


def run_one(api: EcsClient, host: str) -> tuple[str, str]:
    iid = api.call("RunInstances", ImageId="tiny", InstanceType="ecs.t1.small")["InstanceIdSets"]["InstanceIdSet"][0]
    i = wait_for(lambda: api.call("DescribeInstances", InstanceIds=f'["{iid}"]')["Instances"]["Instance"][0], 30,
                 f"the instance Running on {host}", 0.3, until=lambda i: i["Status"] == "Running")
    assert i["HostId"] == host, i
    return iid, i["VpcAttributes"]["PrivateIpAddress"]["IpAddress"][0]


def test_drained_host_lets_its_load_balancer_go(tmp_path):
    with LoneController(tmp_path, extra={"controller": ADMIN}) as ctl:
        ops, api = ctl.account("ops"), ctl.account("alice")
        # lb-a takes no instance (the backend goes to lb-b), but LBs: the fewest, ties to the name.
        with FakeAgent(ctl, "lb-a", max_instances=0) as a, FakeAgent(ctl, "lb-b") as b:
            iid, ip = run_one(api, "lb-b")
            a.heartbeat()  # both alive (host_dead_after_s is short) when the LB is placed
            b.heartbeat()
            lb, address = lb_with_backend(api, iid)
            assert lb_host(ctl, lb) == "lb-a"
            wait_for(lambda: held(a, lb), 30, "the LB put on lb-a", 0.2)

            # Only an administrator drains.
            with pytest.raises(ApiError) as e:
                api.call("DrainHost", HostId="lb-a")
            assert e.value.status == 403
            assert lb_host(ctl, lb) == "lb-a"
            ops.call("DrainHost", HostId="lb-a")

            def beat():
                a.heartbeat()
                b.heartbeat()
                return held(b, lb)

            put = wait_for(beat, 30, "the LB put on lb-b", 0.5, detail=lambda: lb_host(ctl, lb))
            assert lb_host(ctl, lb) == "lb-b"
            assert_whole(put, address, iid, ip)
            # The drained host lets go of it: its heartbeat names it, the controller deletes it.
            wait_for(beat, 30, "lb-a letting go", 0.5, until=lambda _: held(a, lb) is None)
            attr = slb_client(api).call("DescribeLoadBalancerAttribute", LoadBalancerId=lb)
            assert attr["Address"] == address and attr["ListenerPorts"]["ListenerPort"] == [80], attr
            assert [s["ServerId"] for s in attr["BackendServers"]["BackendServer"]] == [iid], attr

            # A new LB avoids the drained host though it holds fewer; undrained, it takes one.
            lb2 = slb_client(api).call("CreateLoadBalancer", AddressType="intranet")["LoadBalancerId"]
            assert lb_host(ctl, lb2) == "lb-b"
            ops.call("UndrainHost", HostId="lb-a")
            lb3 = slb_client(api).call("CreateLoadBalancer", AddressType="intranet")["LoadBalancerId"]
            assert lb_host(ctl, lb3) == "lb-a"
            # Undrained, nothing moves back by itself.
            beat()
            assert lb_host(ctl, lb) == lb_host(ctl, lb2) == "lb-b"


@pytest.mark.parametrize("backend_on", ["lb-a", "lb-b"])
def test_dead_host_load_balancer_moves_once_fenced(tmp_path, ceph_cluster, backend_on):
    """lb-a holds the LB (and its backend, or not: then it holds only the LB); it falls silent
    with an underlay address of a documentation range (192.0.2.79): the fence blocklists
    nothing real."""
    addr = "192.0.2.79:0/0"
    ctl = healing_controller(tmp_path, ceph_cluster)

    try:
        with ctl:
            api = ctl.account("alice")
            # lb-a sorts first: the scheduler's tie goes to it, unless it takes no instance.
            with FakeAgent(ctl, "lb-a", max_instances=256 if backend_on == "lb-a" else 0) as a, \
                    FakeAgent(ctl, "lb-b") as b:
                a.underlay_ip, b.underlay_ip = "192.0.2.79", "192.0.2.80"
                a.heartbeat()
                b.heartbeat()
                iid, ip = run_one(api, backend_on)
                a.heartbeat()
                b.heartbeat()
                lb, address = lb_with_backend(api, iid)
                assert lb_host(ctl, lb) == "lb-a"
                wait_for(lambda: held(a, lb), 30, "the LB put on lb-a", 0.2)

                # lb-a falls silent; lb-b beats on. The LB stays until lb-a is fenced.
                def b_beats():
                    b.heartbeat()
                    with db(ctl) as db_:
                        state = db_.execute("SELECT state FROM hosts WHERE host_id = 'lb-a'").fetchone()[0]
                    return state, lb_host(ctl, lb)

                seen = []

                def until_moved():
                    seen.append(b_beats())
                    return seen[-1]

                wait_for(until_moved, 60, "the LB on lb-b", 0.3, until=lambda s: s[1] == "lb-b")
                assert all(state == "dead" for state, host in seen if host == "lb-b"), seen
                assert not [s for s in seen if s[0] in ("up", "down", "holding") and s[1] == "lb-b"], seen
                assert addr in ceph_cluster.ceph("osd", "blocklist", "ls")
                put = wait_for(lambda: held(b, lb), 30, "the LB put on lb-b", 0.3)
                assert_whole(put, address, iid, ip)
                # Its backend runs on lb-b (recovered there, if it was lb-a's) with the same IP, and
                # is still a member.
                i = wait_for(lambda: api.call("DescribeInstances", InstanceIds=f'["{iid}"]')["Instances"][
                    "Instance"][0], 30, "the backend Running on lb-b", 0.3,
                    until=lambda i: i["HostId"] == "lb-b" and i["Status"] == "Running")
                assert i["VpcAttributes"]["PrivateIpAddress"]["IpAddress"][0] == ip
                attr = slb_client(api).call("DescribeLoadBalancerAttribute", LoadBalancerId=lb)
                assert [s["ServerId"] for s in attr["BackendServers"]["BackendServer"]] == [iid], attr
                assert attr["Address"] == address
    finally:
        with contextlib.suppress(Exception):
            ceph_cluster.ceph("osd", "blocklist", "rm", addr)
