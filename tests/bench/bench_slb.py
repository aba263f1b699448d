"""bench_slb: TCP throughput through a load balancer's VIP beside the same client talking to the
backend directly, in the same run, on one simulated host (tests/e2e/slbenv.py: a real
ecs-agent in its own network namespace; backend and client namespaces on its bridge).

The VIP path is the agent's rules: DNAT in P-PRE to the listener chain, the statistic match,
full-NAT (SNAT to the bridge address) in P-POST, conntrack both ways, the bridge twice. The
peer is iperf3 from the client to the backend's own address over the same bridge. The LB
has one backend: iperf3's control and data connections must reach the same server. Runs
alternate (direct, VIP, …) so both see the same machine; medians are printed.

Also: new connections per second through the VIP beside direct (one short HTTP/1.0 request
each, from one Python client: a figure for the per-connection cost of the nat chains).

Target (issue 5): VIP throughput >= 0.90 x direct. Reported, not asserted; the exit status
is 1 only when the benchmark broke.

Usage: bench_slb.py [SECONDS_PER_RUN [RUNS]]     (default 5 5)"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))

from slbenv import SUBNET, SlbHost  # noqa: E402

SECONDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
VIP = f"{SUBNET}.250"
LB = "lb-benchbenchbenchbench"


def iperf(host: SlbHost, target: str) -> float:
    p = host.client.run(["iperf3", "-c", target, "-p", "5201", "-t", SECONDS, "-J"], timeout=SECONDS + 60)
    return json.loads(p.stdout)["end"]["sum_received"]["bits_per_second"] / 1e9


def conn_rate(host: SlbHost, target: str, port: int, count: int = 1000) -> float:
    t0 = time.perf_counter()
    counts = host.requests(target, port, count)
    took = time.perf_counter() - t0
    errors = sum(v for k, v in counts.items() if k.startswith("error"))
    if errors:
        raise RuntimeError(f"{errors} of {count} requests to {target}:{port} failed: {counts}")
    return count / took


def main() -> int:
    if not shutil.which("iperf3"):
        print("bench_slb: iperf3 is missing (scripts/install-deps.sh installs it)")
        return 1
    with SlbHost(n_backends=1) as host:
        backend = host.backends[0]
        server = backend.ns.popen(["iperf3", "-s", "-p", "5201"], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            host.call("PUT", f"/v1/load-balancers/{LB}", {
                "address": VIP,
                "listeners": [{"protocol": "tcp", "port": 5201, "backend_port": 5201,
                               "health_check": {"enabled": False}},
                              {"protocol": "tcp", "port": 80, "backend_port": 8080}],
                "backends": [{"server_id": backend.server_id, "ip": backend.ip, "weight": 100}]})
            time.sleep(0.5)
            direct, vip = [], []
            for _ in range(RUNS):
                direct.append(iperf(host, backend.ip))
                vip.append(iperf(host, VIP))
            d, v = statistics.median(direct), statistics.median(vip)
            print(f"bench_slb: TCP throughput client->VIP {v:.2f} Gbit/s, client->backend directly "
                  f"{d:.2f} Gbit/s, ratio {v / d:.2f} (target >= 0.90); medians of {RUNS} runs of "
                  f"{SECONDS} s each (VIP {', '.join(f'{x:.2f}' for x in vip)}; "
                  f"direct {', '.join(f'{x:.2f}' for x in direct)})")
            cd = conn_rate(host, backend.ip, 8080)
            cv = conn_rate(host, VIP, 80)
            print(f"bench_slb: new connections client->VIP {cv:.0f}/s, client->backend directly {cd:.0f}/s, "
                  f"ratio {cv / cd:.2f} (one Python client, HTTP/1.0, 1000 each)")
            host.call("DELETE", f"/v1/load-balancers/{LB}")
        finally:
            server.terminate()
            server.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
