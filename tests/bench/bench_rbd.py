"""bench_rbd: disks on RBD (issue 12), each of ours beside its peer in the same run, runs
alternating so both see the same machine. One Ceph cluster of its own (tests/e2e/cephenv.py:
own fsid, ports, data dir under /tmp), one simulated host whose agent keeps disks in it
(tests/e2e/agentenv.py, `rbd_extra`), and for the boot figure a second host on local qcow2.

1. create: the agent's create path (PUT /v1/instances until the domain runs; the guest's
   boot excluded) for an instance whose system disk is an RBD clone of the image, beside a
   peer doing the same storage work and then a raw `virsh create` of the same domain XML:
   the clone of img@base and its growth to 1 GiB through librbd (python-rbd) on a cluster
   connection opened beforehand (as the agent's is), then `virsh create`. The peer is given
   its tap and config drive ready-made (untimed); the agent makes both. Target: agent <=
   1.2 x peer. The ratio to `virsh create` alone (no storage work) is shown too.
2. import: an image not yet in the pool, imported by the agent on its first disk (the
   create of a stopped instance on it: qemu-img map, the data extents written with librbd
   on the agent's own connection, snapshot, protect, rename, then the clone), beside `rbd
   import` of the same image as a raw file (converted beforehand, untimed: `rbd import`
   does not read qcow2). The image is in the agent's local cache before (GET
   /v1/images/ID), so only the RBD part is timed. In the same run a create on an image
   already in the pool (the clone alone) is timed; the import's own time is the first
   minus the second, run by run. Target: the import's speed >= 0.8 x rbd import's (figure:
   rbd import time / import time); the end-to-end create is shown beside it.
3. snapshot: a live snapshot of a 1 GiB data disk attached to a running guest, through the
   agent's API (PUT /v1/snapshots, synchronous: it answers when the snapshot is taken),
   beside `rbd snap create` of the same image. Target: < 1 s.
4. boot: from PUT /v1/instances to a successful SSH command, a guest on RBD beside one on
   local qcow2 (the same agent build, another simulated host). Target: <= 1.2 x. At most 3
   runs each (TCG is slow).

Figures are medians (min-max). Reported, not asserted: the exit status is 1 only when the
benchmark broke. Everything made (cluster, agents, domains, taps, files) goes in `finally`.

Usage: bench_rbd.py [RUNS [PARTS]]   (RUNS default 5; the boot figure takes min(RUNS, 3);
       PARTS a comma list of create,import,snapshot,boot: default all)"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))

from agentenv import AgentEnv  # noqa: E402
from agentlib import ApiError, random_id  # noqa: E402
from cephenv import POOL_RBD, CephCluster  # noqa: E402
from conftest import REPO  # noqa: E402
from peerdomain import peer_domain, peer_remove  # noqa: E402
from waiting import wait_for  # noqa: E402

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
PARTS = sys.argv[2].split(",") if len(sys.argv) > 2 else ["create", "import", "snapshot", "boot"]
BOOT_RUNS = max(1, min(RUNS, 3))
EXTRA = {"agent.reconcile_interval_s": 30}  # no sweep of the peer's taps while it runs


def ms(t: float) -> str:
    return f"{t * 1000:.0f} ms"


def secs(t: float) -> str:
    return f"{t:.1f} s"


def fig(ts: list, unit=ms) -> str:
    return f"{unit(statistics.median(ts))} ({unit(min(ts))}-{unit(max(ts))})"


def timed(fn, *args, **kw):
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return time.perf_counter() - t0, out


def remove_instance(env: AgentEnv, spec: dict):
    c = env.client
    c.post(f"/v1/instances/{spec['instance_id']}/stop", {"force": True})
    c.delete(f"/v1/instances/{spec['instance_id']}")


# ---------------------------------------------------------------- 1. create


def bench_create(env: AgentEnv, ceph: CephCluster) -> dict:
    # Warm up (the image imported into the pool, libvirt's capabilities, the secret) and keep
    # the XML as libvirt holds it.
    spec = env.spec()
    env.create(spec)
    iid, sys_disk = spec["instance_id"], spec["system_disk"]["disk_id"]
    xml = env.libvirt.virsh("dumpxml", f"ecs-{iid}").stdout
    src = f"{POOL_RBD}/disk-{sys_disk}"
    assert f"name='{src}'" in xml, "the system disk is not on RBD:\n" + xml
    inst_dir = env.agent.data_dir / "instances" / iid
    iso = env.workdir / "peer-config.iso"
    shutil.copy(inst_dir / "config.iso", iso)
    remove_instance(env, spec)

    import rados
    import rbd

    cluster = rados.Rados(conffile=str(ceph.conf), name="client.admin",
                          conf={"keyring": str(ceph.keyring()), "rbd_default_clone_format": "2"})
    cluster.connect(timeout=10)
    io = cluster.open_ioctx(POOL_RBD)
    try:
        return create_runs(env, ceph, io, rbd, xml, iid, src, inst_dir, iso)
    finally:
        io.close()
        cluster.shutdown()


def create_runs(env, ceph, io, rbd, xml, iid, src, inst_dir, iso) -> dict:
    agent_t, virsh_t, clone_t = [], [], []
    for i in range(RUNS):
        # Ours: the whole create.
        s = env.spec()
        t, d = timed(env.create, s)
        agent_t.append(t)
        assert d["domain_state"] == "running", d
        remove_instance(env, s)

        # The peer: the same XML with its own name, clone, tap and ISO.
        image = f"{POOL_RBD}/peer-create-{i}"
        name, tap, xp = peer_domain(env, xml, iid, inst_dir, iso, i, (f"name='{src}'", f"name='{image}'"))
        t0 = time.perf_counter()
        rbd.RBD().clone(io, "img-tiny", "base", io, f"peer-create-{i}")
        with rbd.Image(io, f"peer-create-{i}") as img:
            img.resize(1 << 30)
        t1 = time.perf_counter()
        env.libvirt.virsh("create", xp)
        clone_t.append(t1 - t0)
        virsh_t.append(time.perf_counter() - t1)
        peer_remove(env, name, tap)
        ceph.cli("rbd", "rm", "--no-progress", image)
    return {"agent": agent_t, "virsh": virsh_t, "clone": clone_t}


# ---------------------------------------------------------------- 2. import


def bench_import(env: AgentEnv, ceph: CephCluster, image_dir: Path) -> dict:
    c = env.client
    raw = env.workdir / "peer-image.raw"
    subprocess.run(["qemu-img", "convert", "-q", "-O", "raw", str(image_dir / "disk.qcow2"), str(raw)], check=True)
    agent_t, clone_t, rbd_t = [], [], []
    for i in range(RUNS):
        # Ours: an image the pool has not seen; in the agent's local cache first (untimed).
        image_id = f"bench-{env.tag}-{i}"
        (env.workdir / "images" / image_id).symlink_to(image_dir)
        c.get(f"/v1/images/{image_id}")
        s = env.spec(image=image_id, start=False)
        t, d = timed(env.create, s)
        agent_t.append(t)
        assert not d.get("error"), d
        c.delete(f"/v1/instances/{s['instance_id']}")
        with contextlib.suppress(ApiError):  # only tidying: the cluster goes at the end
            c.call("DELETE", f"/v1/images/{image_id}", query={"purge": "true"})

        # Ours again on an image already in the pool: the clone alone.
        s = env.spec(start=False)
        t, d = timed(env.create, s)
        clone_t.append(t)
        c.delete(f"/v1/instances/{s['instance_id']}")

        # The peer: rbd import of the same image, raw.
        image = f"{POOL_RBD}/peer-import-{i}"
        t, _ = timed(ceph.cli, "rbd", "import", "--no-progress", raw, image, timeout=300)
        rbd_t.append(t)
        ceph.cli("rbd", "rm", "--no-progress", image)
    vsize = raw.stat().st_size
    raw.unlink()
    return {"agent": agent_t, "clone": clone_t, "rbd": rbd_t, "vsize": vsize}


# ---------------------------------------------------------------- 3. snapshot


def wait_ssh(env: AgentEnv, spec: dict, timeout: float = 240):
    """Poll the guest's port 22 every 0.2 s (a refused connection returns at once) and run
    `true` over SSH once it answers."""

    def answered():
        try:
            with socket.create_connection((env.ip_of(spec), 22), timeout=1):
                pass
            p = env.ssh(spec, "true", check=False, timeout=15)
        except (OSError, subprocess.TimeoutExpired) as e:
            return str(e)
        return 0 if p.returncode == 0 else p.stderr.strip() or f"ssh exited {p.returncode}"

    wait_for(answered, timeout, f"SSH to {env.ip_of(spec)}", 0.2, until=lambda r: r == 0,
             detail=lambda: env.explain(spec, ""))


def bench_snapshot(env: AgentEnv, ceph: CephCluster) -> dict:
    c = env.client
    vm = env.spec(hostname="bench-snap")
    env.create(vm)
    wait_ssh(env, vm)
    disk = random_id("d-")
    c.put(f"/v1/disks/{disk}", {"size_gib": 1})
    c.post(f"/v1/disks/{disk}/attach", {"instance_id": vm["instance_id"]})
    wait_for(lambda: env.ssh(vm, "ls /sys/block").stdout.split(), 60, "vdb in the guest",
             until=lambda devs: "vdb" in devs, detail=lambda: env.explain(vm, ""))
    # Some data on it, written by the guest.
    env.ssh(vm, "dd if=/dev/urandom of=/dev/vdb bs=1M count=16 conv=fsync 2>/dev/null", timeout=120)
    image = f"{POOL_RBD}/disk-{disk}"
    agent_t, rbd_t, snaps = [], [], []
    for i in range(RUNS):
        sid = random_id("s-")
        t, s = timed(c.put, f"/v1/snapshots/{sid}", {"disk_id": disk})
        assert s["status"] == "accomplished", s
        agent_t.append(t)
        snaps.append(sid)
        t, _ = timed(ceph.cli, "rbd", "snap", "create", f"{image}@peer-{i}")
        rbd_t.append(t)
    assert env.describe(vm)["domain_state"] == "running"
    names = [x["name"] for x in json.loads(ceph.cli("rbd", "snap", "ls", "--format", "json", image).stdout)]
    assert all(sid in names for sid in snaps), names
    for i in range(RUNS):
        ceph.cli("rbd", "snap", "rm", "--no-progress", f"{image}@peer-{i}")
    for sid in snaps:
        c.delete(f"/v1/snapshots/{sid}")
    remove_instance(env, vm)
    c.delete(f"/v1/disks/{disk}")
    return {"agent": agent_t, "rbd": rbd_t}


# ---------------------------------------------------------------- 4. boot


def boot_to_ssh(env: AgentEnv) -> float:
    s = env.spec()
    t0 = time.perf_counter()
    env.create(s)
    wait_ssh(env, s)
    t = time.perf_counter() - t0
    remove_instance(env, s)
    return t


def bench_boot(rbd_env: AgentEnv, qcow2_env: AgentEnv) -> dict:
    qcow2_env.client.get("/v1/images/tiny")  # the image in its cache, as on the RBD host
    rbd_t, qcow2_t = [], []
    for _ in range(BOOT_RUNS):
        rbd_t.append(boot_to_ssh(rbd_env))
        qcow2_t.append(boot_to_ssh(qcow2_env))
    return {"rbd": rbd_t, "qcow2": qcow2_t}


# ---------------------------------------------------------------- report


def yes(met: bool) -> str:
    return "yes" if met else "NO"


def row(what, ours, peer, ratio, target, met):
    print(f"  {what:<34} {ours:<26} {peer:<42} {ratio:>5}  {target:<8} {met}")


def report(cr, im, sn, bo):
    med = statistics.median
    print(f"bench_rbd: medians (min-max), runs alternating; {RUNS} runs each, boot {BOOT_RUNS} each;"
          f" parts {','.join(PARTS)}")
    print(f"  {'what':<34} {'ours':<26} {'peer':<42} {'ratio':>5}  {'target':<8} met")
    if cr:
        peer = [c + v for c, v in zip(cr["clone"], cr["virsh"])]
        r = med(cr["agent"]) / med(peer)
        row("create, system disk an RBD clone", fig(cr["agent"]), "clone+grow+virsh create " + fig(peer),
            f"{r:.2f}", "<= 1.20", yes(r <= 1.2))
        r2 = med(cr["agent"]) / med(cr["virsh"])
        row("  (peer: virsh create alone)", "", "virsh create " + fig(cr["virsh"]), f"{r2:.2f}", "", "")
        row("  (peer: clone + grow alone)", "", "librbd " + fig(cr["clone"]), "", "", "")
    if im:
        share = [a - c for a, c in zip(im["agent"], im["clone"])]
        r = med(im["rbd"]) / max(med(share), 1e-3)
        row(f"import, {im['vsize'] >> 20} MiB image (speed)", fig(share), "rbd import " + fig(im["rbd"]),
            f"{r:.2f}", ">= 0.80", yes(r >= 0.8))
        r2 = med(im["rbd"]) / med(im["agent"])
        row("  end to end: create on a new image", fig(im["agent"]), f"clone-only create {fig(im['clone'])}",
            f"{r2:.2f}", "", "")
    if sn or bo:
        report_rest(sn, bo)


def report_rest(sn, bo):
    med = statistics.median
    if sn:
        r = med(sn["agent"]) / med(sn["rbd"])
        row("live snapshot, 1 GiB data disk", fig(sn["agent"]), "rbd snap create " + fig(sn["rbd"]), f"{r:.2f}",
            "< 1 s", yes(med(sn["agent"]) < 1.0))
    if bo:
        r = med(bo["rbd"]) / med(bo["qcow2"])
        row("boot to SSH, RBD vs local qcow2", fig(bo["rbd"], secs), "qcow2 " + fig(bo["qcow2"], secs),
            f"{r:.2f}", "<= 1.20", yes(r <= 1.2))


def main():
    t_start = time.monotonic()
    image_dir = REPO / "build/images/tiny"
    subprocess.run([str(REPO / "images/build.sh"), str(image_dir)], check=True, capture_output=True)
    ceph = CephCluster()
    rbd_env = qcow2_env = None
    try:
        ceph.start()
        rbd_env = AgentEnv(image_dir, extra=EXTRA, ceph=ceph)
        rbd_env.start()
        cr = bench_create(rbd_env, ceph) if "create" in PARTS else None
        if "import" in PARTS:
            if not cr:  # the pool's img-tiny, for the clone-only creates
                s = rbd_env.spec(start=False)
                rbd_env.create(s)
                rbd_env.client.delete(f"/v1/instances/{s['instance_id']}")
            im = bench_import(rbd_env, ceph, image_dir)
        else:
            im = None
        sn = bench_snapshot(rbd_env, ceph) if "snapshot" in PARTS else None
        bo = None
        if "boot" in PARTS:
            qcow2_env = AgentEnv(image_dir, extra=EXTRA)
            qcow2_env.start()
            bo = bench_boot(rbd_env, qcow2_env)
        report(cr, im, sn, bo)
        print(f"bench_rbd: {time.monotonic() - t_start:.0f} s in all (Ceph bring-up included)")
        return 0
    finally:
        for env in (qcow2_env, rbd_env):
            if env is not None:
                env.close()
        ceph.destroy()


if __name__ == "__main__":
    sys.exit(main())
