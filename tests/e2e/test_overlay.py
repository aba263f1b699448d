"""Hosts joined by the VXLAN overlay (docs/architecture.md, "Network"), and a load balancer
that outlives its host (docs/slb.md, "Failover").

Real ecs-agents on libvirt's test driver and a real ecs-controller, each in its own network
namespace; the hosts reach each other through the hub (tests/bench/fakehosts.py), which is
their underlay. The test driver boots nothing, so a "guest" here is a namespace on a host's
bridge holding an instance's address (a veth where the guest's tap would be). Checked: each
agent's flood list follows the hosts the controller sees alive; a guest reaches a guest on
another host, and its gateway is its own host; an instance is given its host's gateway and
an address past the hosts' gateways; an LB on one host serves a backend on another; when the
LB's host dies its VIP moves to another host and serves again, and the dead host lets go of
it when it comes back."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from ecsapi import EcsClient  # noqa: E402
from fakehosts import LINKS, FakeCloud, FakeHost, HostSpec, Netns  # noqa: E402
from waiting import wait_for, wait_log_line  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces for the fake hosts need root")

VNI = 4242
GATEWAYS = 8  # the controller's [network] host_gateways
DEAD_AFTER_S = 4
BRIDGE, VXLAN = "ecsbr0", "ecsvx0"


def underlay_ip(index: int) -> str:
    """Host index's address on its link to the hub (fakehosts: the index-th /30, .2)."""
    return str(LINKS.network_address + 4 * index + 2)


def spec(index: int, host_id: str, **kw) -> HostSpec:
    return HostSpec(host_id, heartbeat_interval_s=1,
                    network={"vxlan_vni": VNI, "underlay_ip": underlay_ip(index),
                             "gateway_cidrs": f"10.240.0.{index + 1}/16"}, **kw)


def host_gateway(h: FakeHost) -> str:
    return f"10.240.0.{h.index + 1}"


def sh(ns: Netns, command: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(ns.argv(["sh", "-c", command]), capture_output=True, text=True, check=check,
                          timeout=timeout)


def flood_list(h: FakeHost) -> set[str]:
    """The destinations of the all-zeros FDB entries of the host's VXLAN device."""
    out = sh(h.netns, f"bridge -j fdb show dev {VXLAN}").stdout
    return {e["dst"] for e in json.loads(out or "[]") if e.get("mac") == "00:00:00:00:00:00" and "dst" in e}


class Guest:
    """A namespace on host h's bridge holding ip/16, routed through gateway, MTU of the overlay."""

    def __init__(self, h: FakeHost, name: str, ip: str, gateway: str):
        self.ns, self.ip, self.host = Netns(), ip, h
        sh(h.netns, f"ip link add {name} type veth peer name eth0 netns {self.ns.holder.pid} && "
                    f"ip link set {name} master {BRIDGE} up")
        sh(self.ns, f"ip link set eth0 mtu 1450 && ip addr add {ip}/16 dev eth0 && ip link set eth0 up && "
                    f"ip route add default via {gateway}")
        self.server: subprocess.Popen | None = None
        self.folder: Path | None = None

    def ping(self, ip: str) -> bool:
        return sh(self.ns, f"busybox ping -c 1 -W 1 {ip}", check=False).returncode == 0

    def serve(self, port: int, word: str):
        """An HTTP server answering word on every path."""
        folder = Path(f"/tmp/ecs-overlay-{os.getpid()}-{port}-{word}")
        folder.mkdir(exist_ok=True)
        self.folder = folder
        (folder / "index.html").write_text(word + "\n")
        self.server = subprocess.Popen(self.ns.argv(["/usr/bin/python3", "-m", "http.server", "-b", self.ip,
                                                     "-d", folder, str(port)]),
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def get(self, ip: str, port: int) -> str | None:
        p = sh(self.ns, f"curl -s -m 2 http://{ip}:{port}/", check=False)
        return p.stdout.strip() if p.returncode == 0 else None

    def close(self):
        if self.server:
            self.server.kill()
            self.server.wait()
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)
        self.ns.close()


@pytest.fixture
def cloud():
    # No periodic re-sync: what the agents hold is compared at each heartbeat.
    settings = {"controller": {"host_dead_after_s": DEAD_AFTER_S}, "network": {"host_gateways": GATEWAYS},
                "slb": {"sync_interval_s": 3600}}
    with FakeCloud(controller=settings, threads=8) as c:
        c.guests = []
        try:
            yield c
        finally:
            for g in c.guests:
                g.close()


def guest(cloud: FakeCloud, h: FakeHost, ip: str) -> Guest:
    g = Guest(h, f"g{len(cloud.guests)}", ip, host_gateway(h))
    cloud.guests.append(g)
    return g


def kill_host(cloud: FakeCloud, h: FakeHost):
    """As a machine that lost power: its agent gone and its link to everyone down."""
    h.stop()
    cloud.netns.ip_batch([f"link set {h.veth} down"])


def revive_host(cloud: FakeCloud, h: FakeHost):
    cloud.netns.ip_batch([f"link set {h.veth} up"])
    h.netns.ip_batch([f"route replace {LINKS} via {h.hub_ip}"])
    offset = h.log.stat().st_size
    h.start()
    wait_log_line(h.log, 'msg="agent ready"', 30, f"{h.spec.host_id}'s agent ready", proc=h.proc, offset=offset)


def test_flood_lists_follow_alive_hosts_and_guests_reach_across(cloud):
    a, b, c = cloud.add_hosts([spec(i, f"ovl-{n}") for i, n in enumerate("abc")])
    ips = {h.spec.host_id: underlay_ip(h.index) for h in (a, b, c)}
    for h in (a, b, c):
        want = set(ips.values()) - {ips[h.spec.host_id]}
        wait_for(lambda: flood_list(h), 15, f"{h.spec.host_id}'s flood list {want}", until=lambda fl: fl == want)
    rows = cloud.host_rows()
    assert {h: (r["vni"], r["underlay_ip"], r["gateway"]) for h, r in rows.items()} == {
        h.spec.host_id: (VNI, ips[h.spec.host_id], host_gateway(h)) for h in (a, b, c)}

    # Guests on two hosts: one L2 segment through the overlay; each routes through its own host.
    ga, gb = guest(cloud, a, "10.240.200.1"), guest(cloud, b, "10.240.200.2")
    assert wait_for(lambda: ga.ping(gb.ip), 15, "a guest on ovl-a reaching one on ovl-b")
    assert gb.ping(ga.ip)
    for g in (ga, gb):
        assert g.ping(host_gateway(g.host))
        mac = json.loads(sh(g.host.netns, f"ip -j link show {BRIDGE}").stdout)[0]["address"]
        neigh = sh(g.ns, f"ip neigh show {host_gateway(g.host)} dev eth0").stdout
        assert mac in neigh, (g.host.spec.host_id, neigh, mac)

    # A host that dies leaves the others' flood lists; back, it is in them again.
    kill_host(cloud, c)
    for h in (a, b):
        wait_for(lambda: flood_list(h) == {ips[x.spec.host_id] for x in (a, b) if x is not h},
                 DEAD_AFTER_S + 10, f"{h.spec.host_id} forgetting ovl-c")
    revive_host(cloud, c)
    for h in (a, b):
        wait_for(lambda: ips["ovl-c"] in flood_list(h), 15, f"{h.spec.host_id} learning ovl-c again")


def test_instances_get_their_hosts_gateway(cloud):
    hosts = cloud.add_hosts([spec(i, f"ovl-{n}") for i, n in enumerate("ab")])
    ecs = cloud.client()
    ids = cloud.run(ecs.call, "RunInstances", ImageId="tiny", InstanceType="ecs.t1.small",
                    Amount=4)["InstanceIdSets"]["InstanceIdSet"]
    by_host = {h.spec.host_id: h for h in hosts}
    wait_for(lambda: all(i["Status"] == "Running" for i in cloud.instances(ecs)), 60, "the instances running")
    seen = set()
    for inst in cloud.instances(ecs):
        h = by_host[inst["HostId"]]
        seen.add(h.spec.host_id)
        doc = cloud.run(h.client().get, f"/v1/instances/{inst['InstanceId']}")
        nic = doc["nics"][0]
        assert nic["gateway"] == host_gateway(h), (inst["InstanceId"], nic)
        # Leases start past the hosts' gateways.
        assert ipaddress.ip_address(nic["ip"]) > ipaddress.ip_address(f"10.240.0.{GATEWAYS}"), nic
    assert seen == set(by_host), "the scheduler spread four instances over both hosts"
    assert len(ids) == 4


def test_lb_serves_a_backend_on_another_host_and_survives_its_host(cloud):
    # ovl-a cannot take instances (too little memory): it gets the LB, the backend goes elsewhere.
    a, b, c = cloud.add_hosts([spec(0, "ovl-a", cpus=1, memory_mib=560), spec(1, "ovl-b"), spec(2, "ovl-c")])
    ecs = cloud.client()
    slb = EcsClient(ecs.endpoint, ecs.ak, ecs.secret, timeout=60, version="2014-05-15")
    iid = cloud.run(ecs.call, "RunInstances", ImageId="tiny", InstanceType="ecs.t1.small",
                    Amount=1)["InstanceIdSets"]["InstanceIdSet"][0]
    inst = wait_for(lambda: [i for i in cloud.instances(ecs) if i["Status"] == "Running"], 60, "the backend")[0]
    backend_host = {h.spec.host_id: h for h in (a, b, c)}[inst["HostId"]]
    assert backend_host is not a
    ip = inst["VpcAttributes"]["PrivateIpAddress"]["IpAddress"][0]
    sg = inst["SecurityGroupIds"]["SecurityGroupId"][0]
    cloud.run(ecs.call, "AuthorizeSecurityGroup", SecurityGroupId=sg, IpProtocol="tcp", PortRange="8080/8080",
              SourceCidrIp="0.0.0.0/0")
    backend = guest(cloud, backend_host, ip)
    backend.serve(8080, "backend")
    client_host = c if backend_host is b else b
    client = guest(cloud, client_host, "10.240.200.9")
    wait_for(lambda: client.get(ip, 8080) == "backend", 20, "the backend from the client directly")

    made = cloud.run(slb.call, "CreateLoadBalancer", AddressType="intranet", LoadBalancerName="web")
    lb, vip = made["LoadBalancerId"], made["Address"]
    with contextlib.closing(cloud.db()) as db:
        assert db.execute("SELECT host_id FROM load_balancers WHERE lb_id = ?", (lb,)).fetchone()[0] == "ovl-a"
    cloud.run(slb.call, "CreateLoadBalancerTCPListener", LoadBalancerId=lb, ListenerPort=80, BackendServerPort=8080,
              Bandwidth=-1, Scheduler="wrr", HealthCheckType="tcp", HealthCheckInterval=1, HealthyThreshold=2,
              UnhealthyThreshold=2, HealthCheckConnectTimeout=1)
    cloud.run(slb.call, "AddBackendServers", LoadBalancerId=lb,
              BackendServers=json.dumps([{"ServerId": iid, "Weight": "100"}]))
    cloud.run(slb.call, "StartLoadBalancerListener", LoadBalancerId=lb, ListenerPort=80)
    # The VIP on ovl-a, the backend on another host: through the overlay both ways.
    wait_for(lambda: client.get(vip, 80) == "backend", 30, "the backend through the VIP on ovl-a")

    kill_host(cloud, a)
    t0 = time.monotonic()
    wait_for(lambda: client.get(vip, 80) == "backend", DEAD_AFTER_S + 30, "the VIP served again after ovl-a died",
             0.5)
    took = time.monotonic() - t0
    with contextlib.closing(cloud.db()) as db:
        moved_to = db.execute("SELECT host_id FROM load_balancers WHERE lb_id = ?", (lb,)).fetchone()[0]
    assert moved_to in ("ovl-b", "ovl-c"), moved_to
    print(f"\nVIP served again {took:.1f} s after its host died (host_dead_after_s = {DEAD_AFTER_S})")
    assert sum(client.get(vip, 80) == "backend" for _ in range(10)) == 10

    # Back from the dead, ovl-a's agent re-applies what it stored; the controller's re-sync
    # at its first heartbeat removes it, and the VIP keeps answering from its new host.
    revive_host(cloud, a)
    wait_for(lambda: not cloud.run(a.client().get, "/v1/load-balancers")["load_balancers"], 30,
             "ovl-a letting go of the moved LB")
    assert sum(client.get(vip, 80) == "backend" for _ in range(10)) == 10
    assert vip not in sh(a.netns, f"ip -4 addr show dev {BRIDGE}").stdout



def test_heartbeat_says_what_the_agent_holds(cloud):
    """An LB the agent lost comes back, and one it should not hold goes, within a heartbeat
    or two (the facts list what the agent holds; the periodic re-sync is an hour here)."""
    (a,) = cloud.add_hosts([spec(0, "ovl-a")])
    ecs = cloud.client()
    slb = EcsClient(ecs.endpoint, ecs.ak, ecs.secret, timeout=60, version="2014-05-15")
    lb = cloud.run(slb.call, "CreateLoadBalancer", AddressType="intranet", LoadBalancerName="kept")["LoadBalancerId"]
    agent = a.client()

    def held() -> list[str]:
        return [x["load_balancer_id"] for x in cloud.run(agent.get, "/v1/load-balancers")["load_balancers"]]

    wait_for(held, 10, "the LB on its host", until=lambda h: h == [lb])
    cloud.run(agent.delete, f"/v1/load-balancers/{lb}")  # behind the controller's back
    assert held() == []
    t0 = time.monotonic()
    wait_for(held, 10, "the lost LB sent again", 0.2, until=lambda h: h == [lb])
    back = time.monotonic() - t0
    stray = "lb-" + "s" * 20
    cloud.run(agent.put, f"/v1/load-balancers/{stray}", {"address": "10.240.0.250", "status": "active",
                                                          "listeners": [], "backends": []})
    t0 = time.monotonic()
    wait_for(held, 10, "the stray LB removed", 0.2, until=lambda h: h == [lb])
    print(f"\nlost LB back on its host in {back:.1f} s, stray removed in {time.monotonic() - t0:.1f} s "
          f"(heartbeats every 1 s)")

def test_heartbeat_overlay_fields(tmp_path):
    """The controller's side alone: what a heartbeat may say of the overlay, and which
    peers it answers (the same VNI, alive, not the host itself)."""
    from fakeagent import LoneController

    ctl = LoneController(tmp_path, extra={"network": {"host_gateways": 4}}).start()
    try:
        def beat(host: str, overlay=None, cidrs=None):
            facts = {"host_id": host, "api_url": "http://127.0.0.1:9", "zone_id": "cn-local-a", "instances": [],
                     "vcpus": 4, "memory_mib": 4096, "max_instances": 8}
            if overlay is not None:
                facts["overlay"] = overlay
            if cidrs is not None:
                facts["gateway_cidrs"] = cidrs
            return ctl.agent_client(host).raw("POST", "/agent/v1/heartbeat", facts)

        for bad in ({"vni": 0, "underlay_ip": "192.0.2.1"}, {"vni": 1 << 24, "underlay_ip": "192.0.2.1"},
                    {"vni": 7, "underlay_ip": "192.0.2.300"}, {"vni": 7}, {"underlay_ip": "192.0.2.1"},
                    {"vni": "7", "underlay_ip": "192.0.2.1"}, "vxlan"):
            status, body = beat("h1", bad)
            assert (status, body["code"]) == (400, "InvalidParameter"), (bad, status, body)
        status, body = beat("h1", cidrs="10.240.0.1/16")
        assert (status, body["code"]) == (400, "InvalidParameter"), body
        assert "h1" not in ctl_hosts(ctl), "a refused heartbeat records nothing"

        assert beat("h1", {"vni": 7, "underlay_ip": "192.0.2.1"}, ["10.240.0.1/16"])[1]["overlay_peers"] == []
        assert beat("h2", {"vni": 7, "underlay_ip": "192.0.2.2"}, ["10.240.0.2/16"])[1]["overlay_peers"] == [
            "192.0.2.1"]
        assert beat("h3", {"vni": 8, "underlay_ip": "192.0.2.3"})[1]["overlay_peers"] == []
        assert "overlay_peers" not in beat("h4")[1], "no overlay, no peers"
        # A bridge address outside the pool's gateways is not a gateway: .9 is an instance's.
        beat("h5", cidrs=["10.240.0.9/16", "not a cidr", "10.240.0.4/16"])
        beat("h6", cidrs=["10.240.0.9/16"])
        assert beat("h1", {"vni": 7, "underlay_ip": "192.0.2.1"})[1]["overlay_peers"] == ["192.0.2.2"]
        hosts = ctl_hosts(ctl)
        assert {h: hosts[h] for h in ("h1", "h2", "h3", "h4", "h5", "h6")} == {
            "h1": ("", "192.0.2.1", 7), "h2": ("10.240.0.2", "192.0.2.2", 7), "h3": ("", "192.0.2.3", 8),
            "h4": ("", "", 0), "h5": ("10.240.0.4", "", 0), "h6": ("", "", 0)}
    finally:
        ctl.stop()


def ctl_hosts(ctl) -> dict[str, tuple]:
    import sqlite3

    with contextlib.closing(sqlite3.connect(f"file:{ctl.dir / 'data' / 'controller.db'}?mode=ro", uri=True)) as db:
        return {r[0]: tuple(r[1:]) for r in db.execute("SELECT host_id, gateway, underlay_ip, vni FROM hosts")}
