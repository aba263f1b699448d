"""bench_ctl_ha: the controller with its state journaled in RADOS ([ha] enabled, an active
controller and a standby) beside the single-host controller without it (local SQLite,
synchronous=FULL), in the same run, on a Ceph test cluster of its own (tests/e2e/cephenv.py:
one OSD on a file, size 1; a cluster of 3 hosts adds the replication round trips).

  writes   CreateSecurityGroup from 16 concurrent clients for SECONDS: calls/s and the p50 /
           p99 latency of one call (each answered only once its change is in the journal)
  reads    DescribeSecurityGroups from 16 concurrent clients: calls/s (reads are local)
  failover kill -9 of the active controller, 3 times: seconds until the standby logs that it
           is active (lease_ms 2000)

Targets (issue 18): writes >= 0.5x the single-host controller, p99 < 30 ms at size 3, reads
>= 0.95x, failover <= 10 s. Reported, not asserted; the clients are Python threads on the
same machine (they sign every call), so absolute figures are the clients' as much as the
controllers'.

Usage: /usr/bin/python3 tests/bench/bench_ctl_ha.py [SECONDS]     (default 10)"""

from __future__ import annotations

import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from agentenv import free_port  # noqa: E402
from agentlib import write_host_key  # noqa: E402
from cephenv import CephCluster  # noqa: E402
from cloudenv import make_account, start_controller, stop_controller  # noqa: E402
from ecsapi import EcsClient  # noqa: E402
from waiting import wait_log_line  # noqa: E402

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 10
CLIENTS = 16


def config(d: Path, key: Path, ceph: CephCluster | None, journal: str) -> tuple[Path, str]:
    port = free_port()
    d.mkdir(parents=True)
    text = (f"[controller]\nport = {port}\ndata_dir = {d / 'data'}\nhost_key_file = {key}\n"
            f"throttle_rate = 1000000\nthrottle_burst = 10000000\n[quota]\nsecurity_groups = 1000000\n")
    if ceph:
        text += (f"[ceph]\nconf = {ceph.conf}\nuser = ecs-controller\n"
                 f"keyring = {ceph.keyring('client.ecs-controller')}\n"
                 f"[ha]\nenabled = true\nname = {journal}\nlease_ms = 2000\nendpoint = http://127.0.0.1:{port}\n")
    (d / "controller.ini").write_text(text)
    return d / "controller.ini", f"http://127.0.0.1:{port}"


def load(endpoint: str, keys: EcsClient, write: bool) -> tuple[float, list]:
    """CLIENTS threads calling for SECONDS: (calls/s, latencies in ms)."""
    lat: list = []
    errors = []
    stop = time.monotonic() + SECONDS
    lock = threading.Lock()

    def worker(n):
        api = EcsClient(endpoint, keys.ak, keys.secret, timeout=30)
        mine = []
        i = 0
        while time.monotonic() < stop:
            t = time.monotonic()
            if write:
                status, body = api.raw("CreateSecurityGroup", {"RegionId": "cn-local",
                                                               "SecurityGroupName": f"b{n}-{i}"})
            else:
                status, body = api.raw("DescribeSecurityGroups", {"RegionId": "cn-local", "PageSize": 10})
            mine.append((time.monotonic() - t) * 1000)
            if status != 200:
                errors.append(body)
            i += 1
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(CLIENTS)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"bench_ctl_ha: {len(errors)} calls failed, the first: {errors[0]}")
    return len(lat) / (time.monotonic() - t0), lat


def p(lat: list, q: float) -> float:
    return statistics.quantiles(lat, n=100)[int(q) - 1] if len(lat) >= 2 else float("nan")


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench_ctl_ha: SIGTERM"))
    base = Path(tempfile.mkdtemp(prefix="bench-ha-"))
    key = base / "cluster.key"
    write_host_key(key, secrets.token_hex(32))
    ceph = CephCluster()
    procs = []
    active: dict = {}
    try:
        ceph.start()
        journal = f"bench-{uuid.uuid4().hex[:8]}"
        single_cfg, single_ep = config(base / "single", key, None, journal)
        a_cfg, a_ep = config(base / "a", key, ceph, journal)
        b_cfg, b_ep = config(base / "b", key, ceph, journal)
        single_keys = make_account(single_cfg, single_ep, "bench")
        ha_keys = make_account(a_cfg, a_ep, "bench")
        procs.append(start_controller(single_cfg, base / "single.log"))
        procs.append(start_controller(a_cfg, base / "a.log"))
        procs.append(start_controller(b_cfg, base / "b.log"))
        wait_log_line(base / "b.log", "controller ha: standby", 30, "the standby")
        rows = []
        for name, ep, keys in (("single-host", single_ep, single_keys), ("ha active", a_ep, ha_keys)):
            wr, wl = load(ep, keys, True)
            rd, _ = load(ep, keys, False)
            rows.append((name, wr, p(wl, 50), p(wl, 99), rd))
        print(f"{'controller':<12} {'writes/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'reads/s':>8}   "
              f"({CLIENTS} clients, {SECONDS:.0f} s each)")
        for name, wr, p50, p99, rd in rows:
            print(f"{name:<12} {wr:9.0f} {p50:7.1f} {p99:7.1f} {rd:8.0f}")
        print(f"ratio ha/single: writes {rows[1][1] / rows[0][1]:.2f}x (target >= 0.5), "
              f"reads {rows[1][4] / rows[0][4]:.2f}x (target >= 0.95)")

        # Failover: kill -9 whichever is active; the other takes over; restart the killed one.
        cfgs = {a_ep: (a_cfg, base / "a.log"), b_ep: (b_cfg, base / "b.log")}
        active.update({a_ep: procs[1], b_ep: procs[2]})
        procs[1:] = []
        cur, other = a_ep, b_ep
        times = []
        for _ in range(3):
            log = cfgs[other][1]
            offset = log.stat().st_size
            active[cur].send_signal(signal.SIGKILL)
            active[cur].wait()
            t = time.monotonic()
            wait_log_line(log, "controller ha: active", 60, "the takeover", offset=offset)
            times.append(time.monotonic() - t)
            active[cur] = None
            active[cur] = start_controller(cfgs[cur][0], cfgs[cur][1])  # a standby again
            cur, other = other, cur
        print("failover after kill -9 (lease 2000 ms): " + ", ".join(f"{x:.1f} s" for x in times)
              + " (target <= 10 s)")
    finally:
        for pr in procs + list(active.values()):
            stop_controller(pr)
        ceph.destroy()
        subprocess.run(["rm", "-rf", str(base)], check=False)


if __name__ == "__main__":
    main()
