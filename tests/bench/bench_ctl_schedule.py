"""bench_ctl_schedule: 1,000 instances scheduled across 100 hosts, from the first RunInstances
until DescribeInstanceStatus shows every one Running, beside the same 1,000 creates sent
straight to the agents (no controller: no scheduling, no database, no job queue) with as
many calls at a time as the controller's job workers make (16), in the same run.

The hosts are 100 ecs-agent processes on libvirt's test:///default driver (16 CPUs,
3072 MiB each; nothing boots), each in its own network namespace, with one ecs-controller
(fakehosts.py); the image cache of every host is warmed first. All of them share this
machine's CPUs, where on a real cloud each agent has its own: the peer shows how much of the
figure is the agents' own work (qemu-img, genisoimage, iptables-restore per create). ecs.t1.small (1 vCPU, 256 MiB) with the default ratios (CPU 16.0, RAM 1.5,
512 MiB reserved) leaves room for 15 on a host, 1,500 in all: the 1,000 fit, memory is the
binding limit, and the spread weigher should leave 10 on each host. Throttling is raised
for the run (one account sends all of it).

The controller's run: 10 RunInstances with Amount=100 at once. After it, each host's
instances are counted twice, from DescribeInstances' HostId and from the agent itself, and
checked against the host's room computed here from its heartbeat and the ratios.

Target (issue 4): 1,000 instances across 100 agents in < 10 s. Reported, not asserted; the
exit status is 1 only when the benchmark broke (an instance not Running in time, a call
refused, a host past its room).

Usage: bench_ctl_schedule.py [HOSTS [INSTANCES [CALLS]]]     (default 100 1000 10)"""

from __future__ import annotations

import concurrent.futures
import os
import secrets
import signal
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fakehosts import FakeCloud, HostSpec  # noqa: E402

HOSTS = int(sys.argv[1]) if len(sys.argv) > 1 else 100
INSTANCES = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
CALLS = int(sys.argv[3]) if len(sys.argv) > 3 else 10
PEER_CONCURRENCY = 16  # controller/main.c: ctl_jobs_start(c, 16)
TIMEOUT_S = 300
TYPE = ("ecs.t1.small", 1, 256)


def on_signal(signum, frame):
    raise SystemExit(f"bench_ctl_schedule: signal {signum}")


def peer_spec(i: int) -> dict:
    """The body the controller's agent_spec() sends for one instance."""
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    iid = "i-" + "".join(secrets.choice(alphabet) for _ in range(20))
    did = "d-" + "".join(secrets.choice(alphabet) for _ in range(20))
    return {"instance_id": iid, "hostname": f"iZ{iid[2:]}Z", "vcpus": TYPE[1], "memory_mib": TYPE[2],
            "image_id": "tiny", "start": True, "system_disk": {"disk_id": did, "size_gib": 1},
            "nics": [{"mac": "52:54:00:%02x:%02x:%02x" % (0x80 | (i >> 16) & 0x7f, (i >> 8) & 0xff, i & 0xff),
                      "ip": f"10.241.{(i + 2) // 256}.{(i + 2) % 256}", "prefix_len": 16, "gateway": "10.241.0.1",
                      "dns": ["10.241.0.1"]}]}


def peer(cloud: FakeCloud) -> tuple[float, int]:
    """The same creates straight to the agents, round robin, PEER_CONCURRENCY at a time, each
    until its agent says Running (the create's answer, else its GET, as ours waits for
    DescribeInstanceStatus); then remove them (not timed). Returns (seconds, how many ran)."""
    specs = [(cloud.hosts[i % len(cloud.hosts)], peer_spec(i)) for i in range(INSTANCES)]

    def create(hs):
        host, spec = hs
        path = f"/v1/instances/{spec['instance_id']}"
        status, body, _ = host.client().raw("PUT", path, spec)
        if status != 200:
            print(f"bench_ctl_schedule:   peer create refused: {status} {body}", file=sys.stderr)
            return None
        return path if body.get("status") != "Running" else ""

    def running(hp):
        host, path = hp
        deadline = time.monotonic() + TIMEOUT_S
        while host.client().get(path).get("status") != "Running":
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def delete(hs):
        host, spec = hs
        host.client().raw("DELETE", f"/v1/instances/{spec['instance_id']}")

    pool = concurrent.futures.ThreadPoolExecutor(PEER_CONCURRENCY, initializer=cloud.netns.enter)
    try:
        t0 = time.perf_counter()
        paths = list(pool.map(create, specs))
        late = [(h, p) for (h, _), p in zip(specs, paths) if p]
        ok = sum(1 for p in paths if p == "") + sum(pool.map(running, late))
        seconds = time.perf_counter() - t0
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    list(cloud.pool.map(delete, specs))
    return seconds, ok


def ours(cloud: FakeCloud) -> dict:
    ecs = cloud.client()
    per_call = INSTANCES // CALLS

    def run(n):
        status, body = ecs.raw("RunInstances", {"ImageId": "tiny", "InstanceType": TYPE[0], "Amount": n})
        return status, body, time.perf_counter()

    amounts = [per_call] * CALLS
    amounts[-1] += INSTANCES - per_call * CALLS
    t0 = time.perf_counter()
    futures = [cloud.pool.submit(run, n) for n in amounts]
    answers = [f.result() for f in futures]
    booked = max(a[2] for a in answers) - t0
    refused = [(s, b) for s, b, _ in answers if s != 200]
    ids = [i for s, b, _ in answers if s == 200 for i in b["InstanceIdSets"]["InstanceIdSet"]]
    running, polls, last, marks = 0, 0, {}, {}
    deadline = time.monotonic() + TIMEOUT_S
    while ids and time.monotonic() < deadline:
        last = cloud.statuses(ecs)
        polls += 1
        running = sum(1 for i in ids if last.get(i) == "Running")
        for q in (0.5, 0.9, 0.99):
            if running >= q * len(ids):
                marks.setdefault(q, time.perf_counter() - t0)
        if running == len(ids):
            break
        time.sleep(0.1)
    total = time.perf_counter() - t0
    return {"ecs": ecs, "ids": ids, "refused": refused, "booked_s": booked, "total_s": total, "running": running,
            "polls": polls, "statuses": Counter(last.get(i, "?") for i in ids), "marks": marks}


def check_room(cloud: FakeCloud, ecs) -> tuple[list[str], Counter, Counter]:
    """Hosts past their room, by DescribeInstances' HostId and by the agents' own lists."""
    cap = cloud.capacity()
    insts = cloud.instances(ecs)
    by_api = Counter(i["HostId"] for i in insts)
    by_agent = Counter({h: len(ids) for h, ids in cloud.agent_instances().items()})
    problems = []
    for host, c in cap.items():
        for source, counts in (("DescribeInstances", by_api), ("agent", by_agent)):
            n = counts.get(host, 0)
            if not c.fits(n * TYPE[1], n * TYPE[2], n * 1, n):
                problems.append(f"{host}: {n} instances by {source}, room {c}")
    unknown = set(by_api) - set(cap)
    problems += [f"instances on an unknown host {h!r}" for h in unknown]
    problems += [f"{h}: {by_api.get(h, 0)} by DescribeInstances, {by_agent.get(h, 0)} by its agent"
                 for h in cap if by_api.get(h, 0) != by_agent.get(h, 0)]
    return problems, by_api, by_agent


def main() -> int:
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    t_setup = time.perf_counter()
    with FakeCloud(threads=max(100, CALLS)) as cloud:
        try:
            return measure(cloud, t_setup)
        except Exception:
            print(f"bench_ctl_schedule: broke; the controller's last lines:\n{cloud.controller_tail()}",
                  file=sys.stderr)
            raise


def measure(cloud: FakeCloud, t_setup: float) -> int:
    cloud.add_hosts([HostSpec(f"h{i:03d}") for i in range(HOSTS)], timeout=120)
    cap = cloud.capacity()
    room = sum(int(min(c.vcpus // TYPE[1], c.memory_mib // TYPE[2], c.max_instances)) for c in cap.values())
    print(f"bench_ctl_schedule: {HOSTS} agents up in {time.perf_counter() - t_setup:.1f} s; room for {room} "
          f"{TYPE[0]} in all ({min(cap.values(), key=lambda c: c.memory_mib).memory_mib:.0f} MiB bookable a host)",
          flush=True)

    peer_s, peer_ok = peer(cloud)
    print(f"bench_ctl_schedule: peer: {peer_ok}/{INSTANCES} creates straight to the agents in {peer_s:.2f} s "
          f"({PEER_CONCURRENCY} at a time)", flush=True)

    r = ours(cloud)
    problems, by_api, by_agent = check_room(cloud, r["ecs"])
    spread = sorted(by_api.values())
    print(f"bench_ctl_schedule: ours: {len(r['ids'])} booked by {CALLS} RunInstances in {r['booked_s']:.2f} s; "
          f"{r['running']} Running after {r['total_s']:.2f} s (50% at {r['marks'].get(0.5, 0):.1f} s, "
          f"90% at {r['marks'].get(0.9, 0):.1f} s, 99% at {r['marks'].get(0.99, 0):.1f} s; {r['polls']} status "
          f"polls); per host "
          f"min {spread[0] if spread else 0} median {statistics.median(spread) if spread else 0:.0f} "
          f"max {spread[-1] if spread else 0}; hosts past their room: {len(problems)}", flush=True)
    for p in problems[:10]:
        print(f"bench_ctl_schedule:   {p}")
    for s, b in r["refused"][:3]:
        print(f"bench_ctl_schedule:   RunInstances refused: {s} {b}")
    if r["running"] < len(r["ids"]):
        print(f"bench_ctl_schedule:   not Running: {dict(r['statuses'])}")
    met = r["running"] == INSTANCES and r["total_s"] < 10
    print(f"bench_ctl_schedule: {INSTANCES} instances across {HOSTS} agents Running in {r['total_s']:.2f} s "
          f"(booked in {r['booked_s']:.2f} s) through the controller; the same creates straight to the agents "
          f"{peer_s:.2f} s; ratio {r['total_s'] / peer_s:.2f} ({os.cpu_count()} CPUs; target < 10 s: "
          f"{'met' if met else 'NOT met'})")
    broke = problems or r["refused"] or r["running"] < INSTANCES or peer_ok < INSTANCES or by_agent.total() < INSTANCES
    return 1 if broke else 0


if __name__ == "__main__":
    sys.exit(main())
