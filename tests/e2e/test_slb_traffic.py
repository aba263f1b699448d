"""Load balancers and public IPs through the controller, on real traffic: three real guests
running the tiny image's HTTP responder (port 80 answers the guest's hostname) behind an SLB
made with the SLB API, a client in its own network namespace on the host's bridge
(test_sg_traffic.Client), and an "outside" address in that namespace the host routes to.
Every request is one TCP connection (HTTP/1.0), so each is a new flow the nat rules place.

Run it alone on the machine's guests: flock /tmp/ecs-guests.lock /usr/bin/python3 -m pytest …
The tests of this module run in order on one host."""

from __future__ import annotations

import ipaddress
import json
import secrets
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import run
from ecsapi import EcsClient
from slbenv import LOADGEN, SERVER
from test_sg_traffic import Client
from waiting import wait_for

INTERVAL, HEALTHY, UNHEALTHY = 2, 2, 2
WEIGHTS = (50, 30, 20)
REQUESTS = 3000


@pytest.fixture(scope="module")
def env(tiny_image):
    """A controller and one host (tests/e2e/cloudenv.py) with a public pool of its own."""
    from cloudenv import CloudEnv

    third = secrets.randbelow(200) + 20
    forwarding = Path("/proc/sys/net/ipv4/ip_forward").read_text()  # the agent turns it on
    e = CloudEnv(tiny_image.dir)
    e.pool = ipaddress.ip_network(f"198.19.{third}.0/28")
    e.outside = f"198.19.{third}.200"  # an address beyond the host, in the client's namespace
    # The file ends in [network]; the re-sync runs often so a test would see it.
    e.config.write_text(e.config.read_text() + f"public_ip_pool = {e.pool}\n[slb]\nsync_interval_s = 5\n")
    try:
        e.start()
        yield e
    finally:
        e.close()  # the agent's chains too, nat ones included (agentenv.remove_netfilter)
        Path("/proc/sys/net/ipv4/ip_forward").write_text(forwarding)


@pytest.fixture(scope="module")
def api(env):
    return env.account_with_key("slbt")


@pytest.fixture(scope="module")
def slb(env, api):
    return EcsClient(env.endpoint, api.ak, api.secret, version="2014-05-15")


def http_name(ip: str, timeout: float = 3) -> str | None:
    """The first word a guest's HTTP responder answers, from the host (no FORWARD on the way)."""
    try:
        with socket.create_connection((ip, 80), timeout=timeout) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
    except OSError:
        return None
    body = data.partition(b"\r\n\r\n")[2].split()
    return body[0].decode() if body else None


@pytest.fixture(scope="module")
def vms(env, api):
    """Three guests in a group that lets tcp 80 in, booted together, serving HTTP."""
    sg = api.call("CreateSecurityGroup", SecurityGroupName="web")["SecurityGroupId"]
    for port in ("22/22", "80/80"):
        api.call("AuthorizeSecurityGroup", SecurityGroupId=sg, IpProtocol="tcp", PortRange=port,
                 SourceCidrIp="0.0.0.0/0")
    ids = api.call("RunInstances", ImageId="tiny", InstanceType="ecs.t1.small", KeyPairName="e2e", Amount=3,
                   SecurityGroupId=sg)["InstanceIdSets"]["InstanceIdSet"]
    out = []
    for iid in ids:
        inst = env.wait_status(api, iid, "Running", timeout=240)
        ip = inst["VpcAttributes"]["PrivateIpAddress"]["IpAddress"][0]
        spec = {"instance_id": iid, "nics": [{"ip": ip}]}
        env.host.wait_ssh(spec)
        env.wait_for(lambda: http_name(ip), 60, f"{iid}'s HTTP responder")
        out.append({"id": iid, "ip": ip, "spec": spec, "name": http_name(ip)})
    assert len({v["name"] for v in out}) == 3, out
    return out


@pytest.fixture(scope="module")
def client(env):
    """On the bridge, with the outside address and an on-link route to the public pool; the
    host routes the outside address to it."""
    c = Client(env.host.bridge, env.host.net)
    try:
        dev = c.sh("ip -o link show | grep -o 'vcp[0-9a-f]*'").stdout.split()[0]
        c.sh(f"ip addr add {env.outside}/32 dev {dev} && ip route add {env.pool} dev {dev}")
        run(["ip", "route", "add", f"{env.outside}/32", "via", c.ip, "dev", env.host.bridge])
        yield c
    finally:
        run(["ip", "route", "del", f"{env.outside}/32"], check=False)
        c.close()


def health(slb, lb) -> dict[str, str]:
    rows = slb.call("DescribeHealthStatus", LoadBalancerId=lb)["BackendServers"]["BackendServer"]
    return {r["ServerId"]: r["ServerHealthStatus"] for r in rows}


@pytest.fixture(scope="module")
def lb(env, slb, vms):
    """An intranet SLB: TCP 80 -> 80, wrr 50/30/20, TCP checks every 2 s, thresholds 2/2."""
    made = slb.call("CreateLoadBalancer", AddressType="intranet", LoadBalancerName="web")
    lb_id = made["LoadBalancerId"]
    slb.call("CreateLoadBalancerTCPListener", LoadBalancerId=lb_id, ListenerPort=80, BackendServerPort=80,
             Bandwidth=-1, Scheduler="wrr", HealthCheckType="tcp", HealthCheckInterval=INTERVAL,
             HealthyThreshold=HEALTHY, UnhealthyThreshold=UNHEALTHY, HealthCheckConnectTimeout=1)
    slb.call("AddBackendServers", LoadBalancerId=lb_id,
             BackendServers=json.dumps([{"ServerId": v["id"], "Weight": str(w)} for v, w in zip(vms, WEIGHTS)]))
    slb.call("StartLoadBalancerListener", LoadBalancerId=lb_id, ListenerPort=80)
    env.wait_for(lambda: set(health(slb, lb_id).values()) == {"normal"} and len(health(slb, lb_id)) == 3, 60,
                 "every backend normal")
    yield {"id": lb_id, "vip": made["Address"]}
    slb.call("DeleteLoadBalancer", LoadBalancerId=lb_id)
    env.wait_for(lambda: env.host.client.raw("GET", f"/v1/load-balancers/{lb_id}")[0] == 404, 30, "the LB gone")


def requests(client: Client, ip: str, count: int) -> dict[str, int]:
    """count requests from the client, one connection each: {answer: n}."""
    out = run(["ip", "netns", "exec", client.ns, "/usr/bin/python3", "-c", LOADGEN, ip, "80", str(count), "-", "-"],
              timeout=900)
    return json.loads(out.stdout)


class Load:
    """Requests from the client without pause until finished: [(start time, answer)]."""

    def __init__(self, env, client: Client, ip: str):
        tag = secrets.token_hex(3)
        self.stop_file = env.host.workdir / f"stop-{tag}"
        self.out = env.host.workdir / f"load-{tag}.json"
        self.proc = client.popen(["/usr/bin/python3", "-c", LOADGEN, ip, "80", "0", str(self.stop_file),
                                  str(self.out)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)

    def finish(self) -> list[tuple[float, str]]:
        self.stop_file.write_text("stop")
        _, err = self.proc.communicate(timeout=60)
        assert self.proc.returncode == 0, err.decode(errors="replace")
        return [(t, r) for t, r in json.loads(self.out.read_text())]


def share(counts: dict[str, int]) -> dict[str, float]:
    total = sum(counts.values())
    return {k: round(100.0 * v / total, 1) for k, v in sorted(counts.items())}


def test_wrr_spread_follows_the_weights(client, vms, lb):
    counts = requests(client, lb["vip"], REQUESTS)
    got = share(counts)
    want = {v["name"]: w for v, w in zip(vms, WEIGHTS)}
    print(f"\nwrr {'/'.join(map(str, WEIGHTS))} over {REQUESTS} requests to {lb['vip']}: {got}")
    assert not [k for k in counts if k.startswith("error")], counts
    for name, w in want.items():
        assert abs(got.get(name, 0) - w) <= 5, (got, want)


def wait_health(slb, lb_id, iid, status, timeout=60) -> float:
    """Seconds until DescribeHealthStatus says iid is in status. The bound is generous: how
    soon is measured by tests/bench/bench_slb_failover.py, beside HAProxy's checks."""
    t0 = time.monotonic()
    wait_for(lambda: health(slb, lb_id), timeout, f"{iid} {status}", 0.1, until=lambda h: h.get(iid) == status)
    return time.monotonic() - t0


def test_a_stopped_backend_leaves_and_comes_back(env, slb, client, vms, lb):
    down = vms[0]
    load = Load(env, client, lb["vip"])
    try:
        time.sleep(1)
        env.host.ssh(down["spec"], "/etc/init.d/httpd stop")
        took = wait_health(slb, lb["id"], down["id"], "abnormal")
        abnormal_at = time.time()
        assert health(slb, lb["id"])[vms[1]["id"]] == "normal"
        time.sleep(3)
        env.host.ssh(down["spec"], "/etc/init.d/httpd start")
        back = wait_health(slb, lb["id"], down["id"], "normal")
        normal_at = time.time()
        time.sleep(3)
    finally:
        results = load.finish()
    print(f"\nfailover: {down['name']} abnormal {took:.1f} s after its responder stopped "
          f"(interval x threshold = {INTERVAL * UNHEALTHY} s), normal {back:.1f} s after it started again; "
          f"{len(results)} requests")
    while_down = [r for t, r in results if abnormal_at <= t < normal_at - INTERVAL * HEALTHY]
    assert while_down and not [r for r in while_down if r.startswith("error") or r == down["name"]], while_down
    assert down["name"] in [r for t, r in results if t >= normal_at], "no traffic to the backend once normal"


def test_health_states_follow_the_listener(env, slb, lb, vms):
    assert set(health(slb, lb["id"]).values()) == {"normal"}
    slb.call("StopLoadBalancerListener", LoadBalancerId=lb["id"], ListenerPort=80)
    env.wait_for(lambda: set(health(slb, lb["id"]).values()) == {"unavailable"}, 20, "unavailable while stopped")
    slb.call("StartLoadBalancerListener", LoadBalancerId=lb["id"], ListenerPort=80)
    env.wait_for(lambda: set(health(slb, lb["id"]).values()) == {"normal"}, 30, "normal again")


def test_public_ip_both_ways(env, api, client, vms):
    vm = vms[1]
    ip = api.call("AllocatePublicIpAddress", InstanceId=vm["id"])["IpAddress"]
    assert ipaddress.ip_address(ip) in env.pool
    assert env.instance(api, vm["id"])["PublicIpAddress"]["IpAddress"] == [ip]
    # In: the client reaches the guest at its public IP.
    env.wait_for(lambda: client.sh(f"curl -s -m 3 http://{ip}/ || true").stdout.split()[:1] == [vm["name"]], 30,
                 "the guest through its public IP")
    # Out: the guest's connection beyond the host comes from its public IP.
    server = client.popen(["/usr/bin/python3", "-c", SERVER, "outside"], stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def seen():
            # nc, not wget: the tiny image's busybox wget crashes (SIGSEGV).
            p = env.host.ssh(vm["spec"], f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {env.outside} 8080",
                             check=False, timeout=30)
            return p.stdout.strip().splitlines()[-1].split() if p.stdout.strip() else None

        got = env.wait_for(seen, 30, "the outside server reached from the guest")
        print(f"\nthe guest {vm['ip']} seen from outside as {got[1]} (its public IP {ip})")
        assert got == ["outside", ip], got
    finally:
        server.kill()
        server.wait()
    api.call("ReleasePublicIpAddress", PublicIpAddress=ip, InstanceId=vm["id"])
    env.wait_for(lambda: env.host.client.raw("GET", f"/v1/public-ips/{ip}")[0] == 404, 30, "the public IP released")
    assert client.sh(f"curl -s -m 2 http://{ip}/ || echo unreachable").stdout.strip() == "unreachable"


class Uplink:
    """A namespace routed to the host over a veth pair of its own, not on the bridge: where
    traffic from beyond the host (an uplink) comes from."""

    def __init__(self, env):
        tag = secrets.token_hex(2)
        base = ipaddress.ip_address(env.outside) + 24  # .224/30 of the test's block
        self.ns, self.host_ip, self.ip = f"ecsu{tag}", str(base + 1), str(base + 2)
        run(["ip", "netns", "add", self.ns])
        try:
            run(["ip", "link", "add", f"vu{tag}", "type", "veth", "peer", "name", f"vup{tag}"])
            run(["ip", "link", "set", f"vup{tag}", "netns", self.ns])
            run(["ip", "addr", "add", f"{self.host_ip}/30", "dev", f"vu{tag}"])
            run(["ip", "link", "set", f"vu{tag}", "up"])
            self.sh(f"ip link set lo up && ip addr add {self.ip}/30 dev vup{tag} && ip link set vup{tag} up && "
                    f"ip route add default via {self.host_ip}")
        except Exception:
            self.close()
            raise

    def sh(self, command: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return run(["ip", "netns", "exec", self.ns, "sh", "-c", command], timeout=timeout)

    def get(self, ip: str) -> list[str]:
        return self.sh(f"curl -s -m 3 http://{ip}/ || true").stdout.split()[:1]

    def close(self):
        run(["ip", "netns", "del", self.ns], check=False)  # the veth pair goes with it


def test_from_an_uplink(env, api, slb, vms):
    """Routed in from beyond the host (not over the bridge): an internet LB's VIP and a public
    IP reach the guests, through their security groups' ingress chains."""
    up = Uplink(env)
    made = slb.call("CreateLoadBalancer", AddressType="internet", LoadBalancerName="edge")
    lb_id, vip = made["LoadBalancerId"], made["Address"]
    eip = None
    try:
        assert ipaddress.ip_address(vip) in env.pool
        slb.call("CreateLoadBalancerTCPListener", LoadBalancerId=lb_id, ListenerPort=80, BackendServerPort=80,
                 Bandwidth=-1, Scheduler="rr", HealthCheckType="tcp", HealthCheckInterval=1)
        slb.call("AddBackendServers", LoadBalancerId=lb_id,
                 BackendServers=json.dumps([{"ServerId": v["id"], "Weight": "100"} for v in vms[:2]]))
        slb.call("StartLoadBalancerListener", LoadBalancerId=lb_id, ListenerPort=80)
        env.wait_for(lambda: up.get(vip), 30, "the internet LB from the uplink")
        got = {up.get(vip)[0] for _ in range(10)}
        assert got == {vms[0]["name"], vms[1]["name"]}, got
        eip = api.call("AllocatePublicIpAddress", InstanceId=vms[1]["id"])["IpAddress"]
        env.wait_for(lambda: up.get(eip) == [vms[1]["name"]], 30, "the guest's public IP from the uplink")
        # The guest's group still decides for traffic from outside: without its tcp 80 rule
        # the public IP is shut, and open again with it.
        sg = env.instance(api, vms[1]["id"])["SecurityGroupIds"]["SecurityGroupId"][0]
        rule = dict(SecurityGroupId=sg, IpProtocol="tcp", PortRange="80/80", SourceCidrIp="0.0.0.0/0")
        api.call("RevokeSecurityGroup", **rule)
        try:
            env.wait_for(lambda: not up.get(eip), 30, "the public IP shut by the group")
        finally:
            api.call("AuthorizeSecurityGroup", **rule)
        env.wait_for(lambda: up.get(eip) == [vms[1]["name"]], 30, "the public IP open again")
    finally:
        if eip:
            api.call("ReleasePublicIpAddress", PublicIpAddress=eip, InstanceId=vms[1]["id"])
        slb.call("DeleteLoadBalancer", LoadBalancerId=lb_id)
        up.close()
    env.wait_for(lambda: env.host.client.raw("GET", f"/v1/load-balancers/{lb_id}")[0] == 404, 30, "the LB gone")


def test_deleted_instances_leave(env, api, slb, client, vms, lb):
    gone = vms[2]
    ip = api.call("AllocatePublicIpAddress", InstanceId=gone["id"])["IpAddress"]
    env.wait_for(lambda: env.host.client.raw("GET", f"/v1/public-ips/{ip}")[0] == 200, 30, "the public IP on the host")
    api.call("DeleteInstance", InstanceId=gone["id"], Force="true")
    # It leaves the LB (in the API and on the agent) and gives its public IP back.
    env.wait_for(lambda: [s["ServerId"] for s in slb.call("DescribeLoadBalancerAttribute", LoadBalancerId=lb["id"])[
        "BackendServers"]["BackendServer"]] == sorted(v["id"] for v in vms[:2]), 60, "the instance out of the LB")
    env.wait_for(lambda: sorted(b["server_id"] for b in env.host.client.get(f"/v1/load-balancers/{lb['id']}")[
        "backends"]) == sorted(v["id"] for v in vms[:2]), 30, "out of the agent's LB")
    env.wait_for(lambda: env.host.client.raw("GET", f"/v1/public-ips/{ip}")[0] == 404, 30, "its public IP gone")
    counts = requests(client, lb["vip"], 200)
    assert set(counts) <= {vms[0]["name"], vms[1]["name"]}, counts
