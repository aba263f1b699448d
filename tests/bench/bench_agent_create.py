"""bench_agent_create: the agent's create path (the API call until the domain runs; the
guest's boot excluded) beside a raw `virsh create` of the same domain XML, on one simulated
host, alternating runs so both see the same machine; then 20 concurrent creates.

The agent's path does all its work: the overlay disk, the config drive ISO, the tap, the
metadata guard, define and start. The peer does the same storage work, timed (`qemu-img
create` of the overlay, as the agent runs it), then `virsh create`; it is given its tap and
the ISO ready-made. Target: agent ≤ 1.3 × peer; the ratio to `virsh create` alone is
printed too.
"""

import json
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))

from agentenv import AgentEnv  # noqa: E402
from conftest import REPO  # noqa: E402
from peerdomain import peer_domain, peer_remove  # noqa: E402

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 8
CONCURRENT = int(sys.argv[2]) if len(sys.argv) > 2 else 20


def main():
    image = REPO / "build/images/tiny"
    subprocess.run([str(REPO / "images/build.sh"), str(image)], check=True, capture_output=True)
    env = AgentEnv(image, extra={"agent.reconcile_interval_s": 30})
    try:
        env.start()
        c = env.client
        # Warm up (image cache, libvirt's capabilities) and keep the XML as libvirt holds it.
        spec = env.spec(start=True)
        env.create(spec)
        xml = env.libvirt.virsh("dumpxml", f"ecs-{spec['instance_id']}").stdout
        inst_dir = env.agent.data_dir / "instances" / spec["instance_id"]
        iso = env.workdir / "peer-config.iso"
        shutil.copy(inst_dir / "config.iso", iso)
        disk = env.agent.data_dir / "disks" / f"{spec['system_disk']['disk_id']}.qcow2"
        base = subprocess.run(["qemu-img", "info", "-U", "--output=json", str(disk)], capture_output=True,
                              text=True, check=True).stdout
        backing = json.loads(base)["full-backing-filename"]
        c.delete(f"/v1/instances/{spec['instance_id']}")

        agent_t, virsh_t, disk_t = [], [], []
        for i in range(RUNS):
            # The agent: the whole create.
            s = env.spec()
            t0 = time.perf_counter()
            d = env.create(s)
            agent_t.append(time.perf_counter() - t0)
            assert d["domain_state"] == "running", d
            c.post(f"/v1/instances/{s['instance_id']}/stop", {"force": True})
            c.delete(f"/v1/instances/{s['instance_id']}")

            # The peer: the same XML with its own name, overlay, tap and ISO, ready-made.
            pdisk = env.workdir / f"peer-{i}.qcow2"
            t_disk = time.perf_counter()
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", backing, "-F", "qcow2", str(pdisk),
                            "1G"], check=True)
            disk_t.append(time.perf_counter() - t_disk)
            name, tap, xp = peer_domain(env, xml, spec["instance_id"], inst_dir, iso, i, (str(disk), str(pdisk)))
            t0 = time.perf_counter()
            env.libvirt.virsh("create", xp)
            virsh_t.append(time.perf_counter() - t0)
            peer_remove(env, name, tap)
            pdisk.unlink()

        peer_t = [d + v for d, v in zip(disk_t, virsh_t)]
        a, v, p = statistics.median(agent_t), statistics.median(virsh_t), statistics.median(peer_t)
        print(f"bench_agent_create: agent create {a * 1000:.0f} ms median (min {min(agent_t) * 1000:.0f}, "
              f"max {max(agent_t) * 1000:.0f}), peer (qemu-img create + virsh create) {p * 1000:.0f} ms median "
              f"(min {min(peer_t) * 1000:.0f}, max {max(peer_t) * 1000:.0f}), ratio {a / p:.2f} "
              f"(target <= 1.30); virsh create alone {v * 1000:.0f} ms, ratio {a / v:.2f}; {RUNS} runs each")

        # Concurrent creates on one host.
        specs = [env.spec(memory_mib=128) for _ in range(CONCURRENT)]
        results = [None] * CONCURRENT

        def one(i):
            try:
                results[i] = env.create(specs[i])["domain_state"]
            except Exception as e:  # noqa: BLE001 - reported below
                results[i] = f"error: {e}"

        t0 = time.perf_counter()
        threads = [threading.Thread(target=one, args=(i,)) for i in range(CONCURRENT)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        total = time.perf_counter() - t0
        ok = sum(1 for r in results if r == "running")
        print(f"bench_agent_create: {CONCURRENT} concurrent creates: {ok}/{CONCURRENT} running in {total:.1f} s")
        for s in specs:
            c.post(f"/v1/instances/{s['instance_id']}/stop", {"force": True})
            c.delete(f"/v1/instances/{s['instance_id']}")
        bad = [r for r in results if r != "running"]
        if bad:
            print("failures:", bad[:3])
        return 0 if ok == CONCURRENT and a / p <= 1.3 else 1
    finally:
        env.close()


if __name__ == "__main__":
    sys.exit(main())
