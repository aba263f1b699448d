"""bench_slb_failover: how soon a load balancer's health checks see a backend stop and come
back, the agent's beside HAProxy's, in the same run, on one simulated host
(tests/e2e/slbenv.py: a real ecs-agent in its own network namespace, backends in theirs).

Both check the same backend server the same way: HTTP GET / on port 8080, every 1 s, a 1 s
timeout, abnormal after 3 failures in a row, normal after 2 successes. HAProxy runs in the
client's namespace on the same bridge, its state read from its stats socket; the agent's is
read from its API (GET /v1/load-balancers/ID, as DescribeHealthStatus does). Each round stops
the backend's server, times both to "down", starts it again and times both to "up"; the
figures are medians over the rounds. The e2e tests only check that failover happens
(tests/e2e/test_slb_netns.py, test_slb_traffic.py); how soon is measured here.

Target (docs/slb.md, "Health checks"): abnormal within interval x unhealthy_threshold plus one
interval (4 s here), like HAProxy. Reported, not asserted; the exit status is 1 only when the
benchmark broke.

Usage: bench_slb_failover.py [ROUNDS]     (default 5)"""

from __future__ import annotations

import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))

from slbenv import SUBNET, SlbHost  # noqa: E402
from waiting import wait_for  # noqa: E402

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
INTERVAL, TIMEOUT, UNHEALTHY, HEALTHY = 1, 1, 3, 2
VIP = f"{SUBNET}.250"
LB = "lb-benchfailoverbenchfa"
POLL_S = 0.05


def haproxy_config(ip: str, sock: Path) -> str:
    return f"""global
    stats socket {sock} mode 600 level admin
defaults
    mode http
    timeout connect {TIMEOUT}s
    timeout client 5s
    timeout server 5s
    timeout check {TIMEOUT}s
backend web
    option httpchk GET /
    server b1 {ip}:8080 check inter {INTERVAL}s fall {UNHEALTHY} rise {HEALTHY}
"""


def haproxy_status(sock: Path) -> str:
    """b1's status column of `show stat`: UP, DOWN, or a transition such as "UP 1/3"."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(2)
        s.connect(str(sock))
        s.sendall(b"show stat\n")
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    lines = out.decode().splitlines()
    head = lines[0].lstrip("# ").split(",")
    for line in lines[1:]:
        row = dict(zip(head, line.split(",")))
        if row.get("svname") == "b1":
            return row["status"]
    raise RuntimeError(f"no b1 in HAProxy's stats: {out[:500]!r}")


def agent_status(host: SlbHost, server_id: str) -> str:
    lb = host.call("GET", f"/v1/load-balancers/{LB}")
    return {h["server_id"]: h["status"] for h in lb["health"]}[server_id]


def time_both(host: SlbHost, sock: Path, server_id: str, agent_want: str, haproxy_want: str) -> tuple[float, float]:
    """Seconds from now until the agent, and HAProxy, report the wanted state."""
    t0 = time.monotonic()
    seen: dict[str, float] = {}

    def poll():
        now = time.monotonic() - t0
        if "agent" not in seen and agent_status(host, server_id) == agent_want:
            seen["agent"] = now
        if "haproxy" not in seen and haproxy_status(sock) == haproxy_want:
            seen["haproxy"] = now
        return len(seen) == 2

    wait_for(poll, 60, f"the agent {agent_want} and HAProxy {haproxy_want}", POLL_S)
    return seen["agent"], seen["haproxy"]


def main() -> int:
    if not shutil.which("haproxy"):
        print("bench_slb_failover: haproxy is missing (scripts/install-deps.sh installs it)")
        return 1
    with SlbHost(n_backends=1) as host:
        backend = host.backends[0]
        sock = host.workdir / "haproxy.sock"
        cfg = host.workdir / "haproxy.cfg"
        cfg.write_text(haproxy_config(backend.ip, sock))
        proxy = host.client.popen(["haproxy", "-db", "-f", cfg], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            host.call("PUT", f"/v1/load-balancers/{LB}", {
                "address": VIP,
                "listeners": [{"protocol": "tcp", "port": 80, "backend_port": 8080,
                               "health_check": {"type": "http", "uri": "/", "interval_s": INTERVAL,
                                                "timeout_s": TIMEOUT, "healthy_threshold": HEALTHY,
                                                "unhealthy_threshold": UNHEALTHY}}],
                "backends": [{"server_id": backend.server_id, "ip": backend.ip, "weight": 100}]})
            wait_for(lambda: sock.exists() and haproxy_status(sock) == "UP", 30, "HAProxy up with b1 UP", 0.2)
            down, up = [], []
            for _ in range(ROUNDS):
                backend.stop()
                down.append(time_both(host, sock, backend.server_id, "abnormal", "DOWN"))
                backend.start()
                up.append(time_both(host, sock, backend.server_id, "normal", "UP"))
            host.call("DELETE", f"/v1/load-balancers/{LB}")
        finally:
            proxy.terminate()
            proxy.wait(10)

    def med(pairs, i):
        return statistics.median(p[i] for p in pairs)

    def runs(pairs, i):
        return ", ".join(f"{p[i]:.2f}" for p in pairs)

    bound = INTERVAL * UNHEALTHY + INTERVAL
    print(f"bench_slb_failover: a stopped backend seen abnormal after {med(down, 0):.2f} s by the agent, "
          f"DOWN after {med(down, 1):.2f} s by HAProxy (target <= {bound} s; HTTP checks every {INTERVAL} s, "
          f"fall {UNHEALTHY}); medians of {ROUNDS} rounds (agent {runs(down, 0)}; HAProxy {runs(down, 1)})")
    print(f"bench_slb_failover: back normal after {med(up, 0):.2f} s by the agent, UP after {med(up, 1):.2f} s "
          f"by HAProxy (rise {HEALTHY}); medians of {ROUNDS} rounds (agent {runs(up, 0)}; HAProxy {runs(up, 1)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
