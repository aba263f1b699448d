"""Load balancers and public IPs on real traffic (issue 5): a real ecs-agent in its own network
namespace with three backends, a client and an "internet" namespace around it (tests/e2e/
slbenv.py). Every request is one TCP connection (HTTP/1.0, no keep-alive), so each one is a
new flow that the nat rules place.

The tests of this module run in order on one host and each leaves the backends serving."""

from __future__ import annotations

import json
import time

import pytest

from agentlib import random_id
from slbenv import CLIENT_IP, GATEWAY, SUBNET, UPLINK_PEER, SlbHost
from waiting import wait_for

VIP = f"{SUBNET}.250"
PUBLIC_IP = "198.18.0.50"
INTERVAL, UNHEALTHY, HEALTHY = 1, 3, 2
LB = random_id("lb-")


def lb_body(host: SlbHost, weights=(50, 30, 20), scheduler="wrr", lb_status="active", hc_type="http", **listener):
    return {
        "address": VIP,
        "status": lb_status,
        "listeners": [{"protocol": "tcp", "port": 80, "backend_port": 8080, "scheduler": scheduler,
                       "health_check": {"type": hc_type, "uri": "/", "interval_s": INTERVAL, "timeout_s": 1,
                                        "healthy_threshold": HEALTHY, "unhealthy_threshold": UNHEALTHY},
                       **listener}],
        "backends": [{"server_id": b.server_id, "ip": b.ip, "weight": w} for b, w in zip(host.backends, weights)],
    }


def health(host: SlbHost) -> dict[str, str]:
    lb = host.call("GET", f"/v1/load-balancers/{LB}")
    return {h["server_id"]: h["status"] for h in lb["health"]}


def wait_health(host: SlbHost, server_id: str, status: str, timeout: float = 30) -> float:
    """Seconds until the agent reports server_id in status. The bound is generous: how soon
    is measured by tests/bench/bench_slb_failover.py, beside HAProxy's checks."""
    t0 = time.monotonic()
    wait_for(lambda: health(host), timeout, f"{server_id} {status}", 0.05,
             until=lambda h: h.get(server_id) == status, detail=lambda: host.log_tail(20))
    return time.monotonic() - t0


def spread(counts: dict[str, int]) -> dict[str, float]:
    total = sum(counts.values())
    return {k: 100.0 * v / total for k, v in sorted(counts.items())}


@pytest.fixture(scope="module")
def host():
    with SlbHost() as h:
        yield h


def test_validation(host):
    bad = [
        ({**lb_body(host), "color": "red"}, 400, "color"),
        ({**lb_body(host), "address": "10.77.0.256"}, 400, "address"),
        ({**lb_body(host), "listeners": [{"protocol": "sctp", "port": 80}]}, 400, "protocol"),
        ({**lb_body(host), "listeners": [{"protocol": "tcp", "port": 0}]}, 400, "listeners[0].port"),
        ({**lb_body(host), "listeners": [{"protocol": "tcp", "port": 80}, {"protocol": "tcp", "port": 80}]}, 400,
         "tcp/80"),
        ({**lb_body(host), "listeners": [{"protocol": "tcp", "port": 80, "health_check": {"interval_s": 51}}]}, 400,
         "listeners[0].health_check.interval_s"),
        ({**lb_body(host), "backends": [{"server_id": "i-x", "ip": "10.77.0.5", "weight": 101}]}, 400,
         "backends[0].weight"),
        ({**lb_body(host), "backends": [{"server_id": "i-x", "ip": "10.77.0.5", "extra": 1}]}, 400, "extra"),
        ({**lb_body(host), "address": GATEWAY}, 409, GATEWAY),
    ]
    for body, status, word in bad:
        got, answer = host.api("PUT", f"/v1/load-balancers/{LB}", body)
        assert got == status and word in answer["message"], (body, got, answer)
    assert host.api("PUT", "/v1/load-balancers/lb-nope", lb_body(host))[0] == 400
    assert host.api("GET", f"/v1/load-balancers/{LB}")[0] == 404
    assert host.api("POST", f"/v1/load-balancers/{LB}", {})[0] == 405
    assert host.call("GET", "/v1/load-balancers") == {"load_balancers": []}


def test_wrr_spread(host):
    lb = host.call("PUT", f"/v1/load-balancers/{LB}", lb_body(host))
    assert lb["address"] == VIP and lb["listeners"][0]["health_check"]["http_codes"] == ["http_2xx", "http_3xx"]
    assert {h["status"] for h in lb["health"]} == {"normal"}
    assert f"{VIP}/32" in host.bridge_addrs()
    # Idempotent: the same body again answers the same.
    assert host.call("PUT", f"/v1/load-balancers/{LB}", lb_body(host))["listeners"] == lb["listeners"]
    # Another LB cannot take the address.
    status, answer = host.api("PUT", f"/v1/load-balancers/{random_id('lb-')}", lb_body(host))
    assert status == 409, answer

    counts = host.requests(VIP, 80, 3000)
    share = spread(counts)
    print(f"wrr 50/30/20 over 3000 requests: {share}")
    assert not [k for k in counts if k.startswith("error")], counts
    for b, want in zip(("b1", "b2", "b3"), (50, 30, 20)):
        assert abs(share.get(b, 0) - want) <= 5, share
    # The backends see the host's bridge address (full-NAT), not the client's.
    assert host.client.run(["curl", "-s", "-m", "3", f"http://{VIP}/"]).stdout.split()[1] == GATEWAY
    # And so does a client on the host itself.
    assert host.ns.run(["curl", "-s", "-m", "3", f"http://{VIP}/"]).stdout.split()[0] in ("b1", "b2", "b3")


def test_failover(host):
    load = host.background_load(VIP, 80)
    time.sleep(1)
    stopped = time.time()
    host.backends[0].stop()
    took = wait_health(host, "i-backend1", "abnormal")
    abnormal_at = time.time()
    time.sleep(1.5)
    results = load.finish()
    print(f"failover: abnormal {took:.2f} s after the server stopped (interval x threshold "
          f"{INTERVAL * UNHEALTHY} s; measured beside HAProxy by bench_slb_failover.py)")
    after = [r for t, r in results if t >= abnormal_at]
    assert after and not [r for r in after if r.startswith("error") or r == "b1"], after[:20]
    failed = [t for t, r in results if r.startswith("error")]
    print(f"failover: {len(failed)} of {len(results)} requests failed, all within "
          f"{(max(failed) - stopped) if failed else 0:.2f} s of the stop")

    counts = host.requests(VIP, 80, 300)
    assert "b1" not in counts and sum(v for k, v in counts.items() if k.startswith("error")) == 0, counts

    host.backends[0].start()
    took = wait_health(host, "i-backend1", "normal")
    print(f"failover: back to normal {took:.2f} s after the server started")
    counts = host.requests(VIP, 80, 600)
    assert counts.get("b1", 0) > 150 and not [k for k in counts if k.startswith("error")], counts


def test_weight_zero(host):
    host.call("PUT", f"/v1/load-balancers/{LB}", lb_body(host, weights=(50, 0, 50)))
    counts = host.requests(VIP, 80, 600)
    print(f"weights 50/0/50: {counts}")
    assert "b2" not in counts and not [k for k in counts if k.startswith("error")], counts
    assert abs(spread(counts)["b1"] - 50) <= 8, counts


def test_rr(host):
    host.call("PUT", f"/v1/load-balancers/{LB}", lb_body(host, weights=(100, 10, 1), scheduler="rr"))
    counts = host.requests(VIP, 80, 300)
    print(f"rr: {counts}")
    assert sorted(counts) == ["b1", "b2", "b3"] and all(95 <= v <= 105 for v in counts.values()), counts


def test_all_down_then_one_back(host):
    host.call("PUT", f"/v1/load-balancers/{LB}", lb_body(host, hc_type="tcp"))
    for b in host.backends:
        b.stop()
    for b in host.backends:
        wait_health(host, b.server_id, "abnormal")
    # Every weighted backend abnormal: the rules keep all of them (no listener drops everything).
    dnat = [l for l in host.nat_rules() if "--to-destination" in l and f"{SUBNET}.1" in l and ":8080" in l]
    assert len(dnat) == 3, dnat
    host.backends[1].start()
    wait_health(host, "i-backend2", "normal")
    counts = host.requests(VIP, 80, 200)
    assert counts == {"b2": 200}, counts
    for b in (host.backends[0], host.backends[2]):
        b.start()
    for b in host.backends:
        wait_health(host, b.server_id, "normal")


def test_stopped_and_inactive(host):
    host.call("PUT", f"/v1/load-balancers/{LB}", lb_body(host, lb_status="inactive"))
    assert set(health(host).values()) == {"unavailable"}
    counts = host.requests(VIP, 80, 20)
    assert set(counts) == {"error:ConnectionRefusedError"}, counts
    host.call("PUT", f"/v1/load-balancers/{LB}", lb_body(host, status="stopped"))
    assert set(health(host).values()) == {"unavailable"}
    host.call("PUT", f"/v1/load-balancers/{LB}", lb_body(host))
    assert host.requests(VIP, 80, 30).keys() <= {"b1", "b2", "b3"}


def test_public_ip(host):
    b1, b2 = host.backends[0], host.backends[1]
    # An address of an LB, or a private address mapped already, is refused.
    assert host.api("PUT", f"/v1/public-ips/{VIP}", {"private_ip": b1.ip})[0] == 409
    assert host.api("PUT", f"/v1/public-ips/{PUBLIC_IP}", {"private_ip": b1.ip, "x": 1})[0] == 400
    assert host.call("PUT", f"/v1/public-ips/{PUBLIC_IP}", {"private_ip": b1.ip}) == {
        "public_ip": PUBLIC_IP, "private_ip": b1.ip}
    assert host.api("PUT", "/v1/public-ips/198.18.0.51", {"private_ip": b1.ip})[0] == 409
    assert host.call("GET", "/v1/public-ips") == {"public_ips": [{"public_ip": PUBLIC_IP, "private_ip": b1.ip}]}
    assert f"{PUBLIC_IP}/32" in host.bridge_addrs()

    # From beyond the uplink: the backend answers and sees the real client.
    out = host.internet.run(["curl", "-s", "-m", "3", f"http://{PUBLIC_IP}:8080/"]).stdout.split()
    assert out == ["b1", UPLINK_PEER], out
    # From the bridge's own subnet (hairpin): it answers too.
    out = host.client.run(["curl", "-s", "-m", "3", f"http://{PUBLIC_IP}:8080/"]).stdout.split()
    assert out[0] == "b1", out
    # The backend's own traffic out is seen from the public IP...
    listener = host.internet.popen(["/usr/bin/python3", "-c",
                                    "import socket; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, "
                                    "socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', 9000)); s.listen(); "
                                    "print('listening', flush=True); s.settimeout(10); c, a = s.accept(); print(a[0])"],
                                   stdout=__import__("subprocess").PIPE, text=True)
    assert listener.stdout.readline().strip() == "listening"
    b1.ns.run(["/usr/bin/python3", "-c",
               f"import socket; socket.create_connection(('{UPLINK_PEER}', 9000), timeout=5).close()"])
    seen, _ = listener.communicate(timeout=15)
    assert seen.strip() == PUBLIC_IP, seen
    # ... but not by its neighbours on the bridge.
    out = b1.ns.run(["curl", "-s", "-m", "3", f"http://{b2.ip}:8080/"]).stdout.split()
    assert out == ["b2", b1.ip], out


UDP_PROBE = """
import socket, sys, json
counts = {}
for _ in range(int(sys.argv[3])):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    try:
        s.sendto(b"ping", (sys.argv[1], int(sys.argv[2])))
        name = s.recv(100).decode().split()[0]
    except OSError as e:
        name = "error:" + type(e).__name__
    counts[name] = counts.get(name, 0) + 1
    s.close()
print(json.dumps(counts))
"""


def test_udp_rr(host):
    body = lb_body(host)
    body["listeners"].append({"protocol": "udp", "port": 53, "backend_port": 5353, "scheduler": "rr",
                              "health_check": {"interval_s": 1, "timeout_s": 1}})
    host.call("PUT", f"/v1/load-balancers/{LB}", body)
    assert any("-p udp -m udp --dport 53" in l for l in host.nat_rules())
    counts = json.loads(host.client.run(["/usr/bin/python3", "-c", UDP_PROBE, VIP, 53, 60]).stdout)
    print(f"udp rr: {counts}")
    assert counts == {"b1": 20, "b2": 20, "b3": 20}, counts
    # Checked by UDP probes: an answer (or silence) from the port is health.
    time.sleep(2.5)
    lb = host.call("GET", f"/v1/load-balancers/{LB}")
    assert {h["status"] for h in lb["health"] if h["protocol"] == "udp"} == {"normal"}, lb["health"]


def test_restart_keeps_rules(host):
    before = sorted(host.nat_rules())
    load = host.background_load(VIP, 80)
    time.sleep(1)
    host.restart_agent()
    time.sleep(1.5)
    results = load.finish()
    failed = [r for _, r in results if r.startswith("error")]
    print(f"restart: {len(results)} requests across the agent restart, {len(failed)} failed")
    assert results and not failed, failed[:10]
    assert sorted(host.nat_rules()) == before
    assert set(health(host).values()) == {"normal"}


def test_converges_stray_changes(host):
    before = sorted(host.nat_rules())
    host.ns.run(["iptables", "-w", "-t", "nat", "-F", "ECS-POST"])
    host.ns.run(["iptables", "-w", "-t", "nat", "-A", "PREROUTING", "-j", "ECS-PRE"])
    host.ns.run(["ip", "addr", "del", f"{VIP}/32", "dev", "slbbr0"])
    wait_for(lambda: (sorted(host.nat_rules()), f"{VIP}/32" in host.bridge_addrs()),
             host.reconcile_interval_s * 2 + 5, "the rules and the VIP restored", 0.3,
             until=lambda got: got == (before, True))


def test_delete_removes_everything(host):
    assert host.call("DELETE", f"/v1/load-balancers/{LB}") == {}
    assert host.call("DELETE", f"/v1/public-ips/{PUBLIC_IP}") == {}
    assert host.call("DELETE", f"/v1/load-balancers/{LB}") == {}  # idempotent
    assert host.call("DELETE", f"/v1/public-ips/{PUBLIC_IP}") == {}
    assert host.nat_rules() == []
    addrs = host.bridge_addrs()
    assert f"{VIP}/32" not in addrs and f"{PUBLIC_IP}/32" not in addrs, addrs
    assert host.call("GET", "/v1/load-balancers") == {"load_balancers": []}
    assert host.call("GET", "/v1/public-ips") == {"public_ips": []}
    counts = host.requests(VIP, 80, 5)
    assert not [k for k in counts if not k.startswith("error")], counts
    # Nothing comes back after a restart either.
    host.restart_agent()
    assert host.nat_rules() == []
    assert CLIENT_IP  # the client stayed on the bridge throughout
