"""The scheduler under 100 parallel RunInstances (issue 4: "safe under 100 parallel
RunInstances (no host booked twice past its capacity)"), against real ecs-agent processes on
libvirt's test driver, each host in its own network namespace (tests/bench/fakehosts.py).

Each host's room is computed here, from the capacity its heartbeat reported (set per host
with a test-driver node file) and the ratios in the controller's config, by the rule of
scheduler.h: vCPUs <= host vCPUs x cpu_ratio, memory <= (host memory - reserved) x
ram_ratio, fewer instances than max_instances. Instances are counted per host twice: from
DescribeInstances' HostId and from each agent's own list."""

from __future__ import annotations

import os
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from fakehosts import FakeCloud, HostSpec  # noqa: E402
from waiting import wait_for  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces for the fake hosts need root")

SMALL = ("ecs.t1.small", 1, 256)  # the default catalogue's: 1 vCPU, 256 MiB
PARALLEL = 100
# Disk never binds (the hosts' disk is the machine's): only CPU, memory and count do.
RATIOS = {"cpu_ratio": 2.0, "ram_ratio": 1.0, "disk_ratio": 100, "reserved_host_memory_mib": 512}


@pytest.fixture
def cloud():
    with FakeCloud(controller={"scheduler": RATIOS}, threads=PARALLEL) as c:
        yield c


def run_parallel(cloud: FakeCloud, n: int = PARALLEL) -> list[tuple[int, dict]]:
    """n RunInstances (Amount=1) released together from n threads."""
    ecs = cloud.client()
    start = threading.Barrier(n, timeout=60)

    def one():
        start.wait()
        return ecs.raw("RunInstances", {"ImageId": "tiny", "InstanceType": SMALL[0], "Amount": 1})

    futures = [cloud.pool.submit(one) for _ in range(n)]
    return [f.result() for f in futures]


def placements(cloud: FakeCloud) -> tuple[Counter, dict[str, str]]:
    insts = cloud.instances(cloud.client())
    return Counter(i["HostId"] for i in insts), {i["InstanceId"]: i["HostId"] for i in insts}


def wait_running(cloud: FakeCloud, ids: list[str], timeout: float = 60):
    ecs = cloud.client()
    wait_for(lambda: Counter(cloud.statuses(ecs).get(i) for i in ids), timeout, f"{len(ids)} instances Running", 0.3,
             until=lambda by_status: set(by_status) <= {"Running"})


def room_of(c) -> int:
    return int(min(c.vcpus // SMALL[1], c.memory_mib // SMALL[2], c.max_instances))


def test_parallel_runs_never_book_a_host_past_its_room(cloud):
    # Room for 15 in all, each host held back by another limit.
    cloud.add_hosts([
        HostSpec("h-cpu", cpus=3, memory_mib=512 + 32 * 256),          # 3 x 2.0 = 6 vCPUs
        HostSpec("h-mem", cpus=16, memory_mib=512 + 5 * 256),          # 5 x 256 MiB
        HostSpec("h-count", cpus=16, memory_mib=512 + 32 * 256, max_instances=4),
    ])
    cap = cloud.capacity()
    room = {h: room_of(c) for h, c in cap.items()}
    assert room == {"h-cpu": 6, "h-mem": 5, "h-count": 4}, cap

    answers = run_parallel(cloud)

    ok = [b["InstanceIdSets"]["InstanceIdSet"][0] for s, b in answers if s == 200]
    refused = [(s, b.get("Code")) for s, b in answers if s != 200]
    by_api, where = placements(cloud)
    assert set(where) == set(ok)
    for host, c in cap.items():
        n = by_api[host]
        assert c.fits(n * SMALL[1], n * SMALL[2], n, n), f"{host} holds {n}, room {c}"
    # Every host full by its own limit: each filter held, and no room was lost; the rest
    # were told there is no stock.
    assert dict(by_api) == room
    assert len(ok) == sum(room.values())
    assert set(refused) == {(403, "OperationDenied.NoStock")}, Counter(refused)

    # The agents hold exactly what the controller booked on them.
    wait_running(cloud, ok)
    by_agent = cloud.agent_instances()
    assert {h: sorted(ids) for h, ids in by_agent.items()} == \
        {h: sorted(i for i, w in where.items() if w == h) for h in room}

    # Full is full: one more is refused.
    s, b = cloud.run(cloud.client().raw, "RunInstances", {"ImageId": "tiny", "InstanceType": SMALL[0]})
    assert (s, b.get("Code")) == (403, "OperationDenied.NoStock")


def test_parallel_runs_all_placed_and_spread_by_free_memory(cloud):
    # Room for 136 in all; unequal memory, so spreading is not just taking turns.
    mib = {"h-a": 40 * 256, "h-b": 40 * 256, "h-c": 32 * 256, "h-d": 24 * 256}
    cloud.add_hosts([HostSpec(h, cpus=64, memory_mib=512 + m) for h, m in mib.items()])
    cap = cloud.capacity()

    answers = run_parallel(cloud)

    assert [s for s, _ in answers] == [200] * PARALLEL, Counter((s, b.get("Code")) for s, b in answers)
    ok = [b["InstanceIdSets"]["InstanceIdSet"][0] for _, b in answers]
    by_api, where = placements(cloud)
    assert set(where) == set(ok) and sum(by_api.values()) == PARALLEL
    free = {h: cap[h].memory_mib - by_api[h] * SMALL[2] for h in cap}
    for host, c in cap.items():
        n = by_api[host]
        assert c.fits(n * SMALL[1], n * SMALL[2], n, n), f"{host} holds {n}, room {c}"
    # The spread weigher takes the most free memory each time, so the hosts end within one
    # instance's memory of each other: 9,216 MiB left over 4 hosts is 2,304 MiB each.
    assert max(free.values()) - min(free.values()) <= SMALL[2], (dict(by_api), free)
    assert dict(by_api) == {"h-a": 31, "h-b": 31, "h-c": 23, "h-d": 15}

    wait_running(cloud, ok)
    by_agent = cloud.agent_instances()
    assert {h: len(ids) for h, ids in by_agent.items()} == dict(by_api)
