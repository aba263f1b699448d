"""The agent killed with SIGKILL at each step of create, delete, snapshot and attach (test-only
fault points), then restarted: the host converges to the documents with no orphan domain,
disk, tap or file. Also: libvirtd restarted under a running agent (it reconnects and keeps
reporting to the controller), and a domain nobody knows is removed only when the
controller says it is not wanted."""

import contextlib
import os
import signal
import time

import pytest

from agentlib import ApiError, random_id
from fakecontroller import agent_with_fake_controller
from waiting import wait_for


@pytest.fixture(scope="module")
def env(tiny_image, ceph_cluster):
    with agent_with_fake_controller(tiny_image.dir, ceph_cluster) as env:
        yield env


def crash_at(env, point: str, call):
    """Restart the agent armed to die at point, run call (which must hit it), restart clean."""
    env.restart_agent(env={"ECS_AGENT_FAULT": point})
    with pytest.raises(Exception):
        call()
    rc = env.agent.wait_exit(30)
    assert rc == -9, f"the agent exited {rc}, not killed at {point}"
    env.agent.start()


def no_orphans(env, instance_ids=(), disk_ids=()):
    """The host holds exactly what these instances and disks need."""
    def ok(s):
        want_domains = sorted(f"ecs-{i}" for i in instance_ids)
        return (s["domains"] == want_domains and s["tmp"] == [] and
                sorted(s["instances"]) == sorted(instance_ids) and
                sorted(s["disks"]) == env.disk_names(disk_ids) and
                len(s["taps"]) == len(instance_ids) and s.get("rbd_snaps", []) == [])
    return ok


@pytest.mark.parametrize("point", ["create.after_store", "create.after_disks", "create.after_define"])
def test_kill_during_create_converges(env, point):
    spec = env.spec(hostname="crash-c")
    crash_at(env, point, lambda: env.create(spec))
    # The document was written before the crash: the reconciler finishes the create.
    d = env.wait_status(spec, "Running", 60)
    assert d["error"] == ""
    env.wait_converged(no_orphans(env, [spec["instance_id"]], [spec["system_disk"]["disk_id"]]), 30)
    # A repeated create (the controller retrying) is the same instance.
    assert env.create(spec)["status"] == "Running"
    env.client.delete(f"/v1/instances/{spec['instance_id']}")
    env.wait_converged(no_orphans(env), 30)


@pytest.mark.parametrize("point", ["delete.after_mark", "delete.after_domain"])
def test_kill_during_delete_converges(env, point):
    spec = env.spec(hostname="crash-d")
    env.create(spec)
    crash_at(env, point, lambda: env.client.delete(f"/v1/instances/{spec['instance_id']}"))
    # Marked for deletion before the crash: the reconciler finishes it.
    env.wait_converged(no_orphans(env), 60, "the delete to finish")
    with pytest.raises(ApiError) as e:
        env.describe(spec)
    assert e.value.status == 404


@pytest.mark.parametrize("point", ["snapshot.after_mark", "snapshot.after_take"])
def test_kill_during_snapshot_marks_it_failed(env, point):
    spec = env.spec(hostname="crash-s", start=False)
    env.create(spec)
    sid = random_id("s-")
    disk = spec["system_disk"]["disk_id"]
    crash_at(env, point, lambda: env.client.put(f"/v1/snapshots/{sid}", {"disk_id": disk}))
    wait_for(lambda: env.client.get(f"/v1/snapshots/{sid}")["status"], 30, f"{sid} failed",
             until=lambda st: st == "failed")
    assert env.files("snapshots") == []
    # No RBD snapshot is left of the one the crash cut short.
    assert env.host_state()["rbd_snaps"] == [], env.host_state()
    # The disk is intact and a new snapshot works.
    sid2 = random_id("s-")
    assert env.client.put(f"/v1/snapshots/{sid2}", {"disk_id": disk})["status"] == "accomplished"
    for s in (sid, sid2):
        env.client.delete(f"/v1/snapshots/{s}")
    env.client.delete(f"/v1/instances/{spec['instance_id']}")
    env.wait_converged(lambda s: no_orphans(env)(s) and s["snapshots"] == [], 30)


def test_kill_during_rbd_rollback_is_finished_before_use(env, ceph_cluster):
    """A rollback inside RADOS cut short by a crash is done again, whole, before the disk is
    used (here: grown)."""
    import rbd

    did, sid = random_id("d-"), random_id("s-")
    env.client.put(f"/v1/disks/{did}", {"size_gib": 1})
    env.client.put(f"/v1/snapshots/{sid}", {"disk_id": did})
    mark = b"written-after-the-snapshot"
    cluster = ceph_cluster.rados_connect("client.admin")
    try:
        io = cluster.open_ioctx("ecs-rbd")
        with rbd.Image(io, f"disk-{did}") as img:
            img.write(mark, 0)
        crash_at(env, "reset.after_mark", lambda: env.client.post(f"/v1/disks/{did}/reset", {"snapshot_id": sid}))
        env.client.post(f"/v1/disks/{did}/resize", {"size_gib": 2})
        with rbd.Image(io, f"disk-{did}", read_only=True) as img:
            assert img.read(0, len(mark)) == bytes(len(mark)) and img.size() == 2 << 30
        io.close()
    finally:
        cluster.shutdown()
    env.client.delete(f"/v1/snapshots/{sid}")
    env.client.delete(f"/v1/disks/{did}")
    env.wait_converged(no_orphans(env), 30)


def test_kill_during_attach_converges(env):
    spec = env.spec(hostname="crash-a")
    env.create(spec)
    did = random_id("d-")
    env.client.put(f"/v1/disks/{did}", {"size_gib": 1})
    crash_at(env, "attach.after_mark",
             lambda: env.client.post(f"/v1/disks/{did}/attach", {"instance_id": spec["instance_id"]}))
    # Recorded as attached: the reconciler makes libvirt agree.
    dom = f"ecs-{spec['instance_id']}"

    wait_for(lambda: "<target dev='vdb'" in env.libvirt.virsh("dumpxml", dom, check=False).stdout, 30,
             f"vdb in {dom}'s XML", detail=lambda: env.agent.log_tail(30))
    assert env.client.get(f"/v1/disks/{did}")["device"] == "vdb"
    env.client.delete(f"/v1/instances/{spec['instance_id']}")
    # Not deleted with the instance (attach's default): detached, kept.
    assert env.client.get(f"/v1/disks/{did}")["status"] == "Available"
    env.client.delete(f"/v1/disks/{did}")
    env.wait_converged(no_orphans(env), 30)


def test_libvirtd_restart_under_a_running_agent(env):
    spec = env.spec(hostname="lv-restart")
    env.create(spec)
    env.wait_ssh(spec)
    env.libvirt.stop_libvirtd()
    # The agent notices and answers "unavailable" rather than hanging or lying.
    wait_for(lambda: env.client.get("/v1/host")["libvirt_connected"], 30, "libvirt_connected false",
             until=lambda c: c is False)
    env.libvirt.start_libvirtd()
    wait_for(lambda: env.client.get("/v1/host")["libvirt_connected"], 30, "libvirt_connected true",
             until=lambda c: c is True, detail=lambda: env.agent.log_tail(20))
    # The guest lived on; the agent sees it running and keeps reporting it.
    assert env.describe(spec)["status"] == "Running"
    seen = env.controller.heartbeat_count()

    def reported_running():
        hb = env.controller.last_heartbeat()
        return env.controller.heartbeat_count() > seen and any(
            i["instance_id"] == spec["instance_id"] and i["status"] == "Running" for i in hb["instances"])

    wait_for(reported_running, 30, "a heartbeat reporting the instance Running")
    assert env.controller.rejected == 0
    # And it still drives libvirt.
    env.client.post(f"/v1/instances/{spec['instance_id']}/stop", {"force": True})
    assert env.describe(spec)["domain_state"] == "shutoff"
    env.client.delete(f"/v1/instances/{spec['instance_id']}")


def test_lifecycle_events_reach_the_controller_at_once(env):
    """With the periodic heartbeat an hour away, only the stop's libvirt event can send the
    heartbeat that reports it (no timing: the bound is generous)."""
    env.restart_agent(env={"ECS_AGENT_HEARTBEAT_INTERVAL_S": "3600"})
    spec = env.spec(hostname="events")
    try:
        env.create(spec)
        seen = env.controller.heartbeat_count()
        env.client.post(f"/v1/instances/{spec['instance_id']}/stop", {"force": True})
        wait_for(lambda: env.controller.heartbeats[seen:], 30, "a heartbeat reporting the stop",
                 until=lambda hbs: any(i["instance_id"] == spec["instance_id"] and i["status"] == "Stopped"
                                       for hb in hbs for i in hb["instances"]))
    finally:
        with contextlib.suppress(ApiError):
            env.client.delete(f"/v1/instances/{spec['instance_id']}")
        env.restart_agent()


def test_heartbeat_reports_whether_the_pool_answers(env, ceph_cluster):
    """Each heartbeat says whether the agent reaches its RBD pool: yes normally; no while the
    OSD is frozen (SIGSTOP, the check is bounded); yes again once it runs."""
    env.restart_agent(env={"ECS_AGENT_HEARTBEAT_INTERVAL_S": "1"})
    osd = ceph_cluster.daemon_pids()["osd.0"]

    def next_storage(until):
        seen = env.controller.heartbeat_count()
        return wait_for(lambda: [hb.get("storage") for hb in env.controller.heartbeats[seen:]], 30,
                        "a heartbeat with that storage state", until=lambda ss: any(until(s) for s in ss))

    try:
        next_storage(lambda s: s == {"reachable": True, "message": ""})
        os.kill(osd, signal.SIGSTOP)
        try:
            ss = next_storage(lambda s: s and s["reachable"] is False)
            bad = [s for s in ss if s and s["reachable"] is False][0]
            assert "ecs-rbd" in bad["message"], bad
        finally:
            os.kill(osd, signal.SIGCONT)
        next_storage(lambda s: s == {"reachable": True, "message": ""})
    finally:
        env.restart_agent()


def test_unknown_domain_removed_only_when_not_wanted(env):
    # A domain named like ours that no document knows (e.g. left by a lost agent state).
    iid = random_id("i-")
    xml = f"""<domain type='qemu'><name>ecs-{iid}</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os></domain>"""
    path = env.workdir / "stray.xml"
    path.write_text(xml)
    # The controller says it is wanted (before the define: its event starts a reconcile at
    # once): kept across reconcile passes.
    env.controller.wanted[iid] = True
    env.libvirt.virsh("define", path)
    time.sleep(12)
    assert f"ecs-{iid}" in env.libvirt.domains(), env.agent.log_tail(40)
    # Not wanted: removed.
    env.controller.wanted[iid] = False
    wait_for(lambda: f"ecs-{iid}" not in env.libvirt.domains(), 30, f"ecs-{iid} removed",
             detail=lambda: env.agent.log_tail(20))


def test_kill_between_image_clone_and_manifest_sweeps_the_clone(env):
    """An image made from a snapshot inside RADOS, the agent killed after the clone and before
    the image's manifest: the clone is nobody's (no host or controller knows the image). The
    restarted agent's sweep removes it; disks are never swept (their documents come first).
    A repeated request then makes the image whole, and it survives the next sweep."""
    spec = env.spec(hostname="crash-i", start=False)
    env.create(spec)
    disk, sid = spec["system_disk"]["disk_id"], random_id("s-")
    env.client.put(f"/v1/snapshots/{sid}", {"disk_id": disk})
    image = "crash-" + sid[2:12]
    make = lambda: env.client.put(f"/v1/images/{image}", {"snapshot_id": sid, "name": "crash"})  # noqa: E731
    env.restart_agent(env={"ECS_AGENT_FAULT": "image.after_clone"})
    with pytest.raises(Exception):
        make()
    assert env.agent.wait_exit(30) == -9
    assert f"img-{image}" in env.rbd_images(), "the fault point is after the clone"
    env.agent.start()
    wait_for(env.rbd_images, 30, f"img-{image} swept", until=lambda names: f"img-{image}" not in names,
             detail=lambda: env.agent.log_tail(20))
    assert f"disk-{disk}" in env.rbd_images()
    assert env.describe(spec)["status"] == "Stopped"
    # Repeated: whole this time, and no longer pending (a restart's sweep keeps it).
    assert make()["manifest"]["storage"] == "rbd"
    swept = env.agent.log_path.read_text(errors="replace").count("rbd: pool swept")
    env.restart_agent()
    wait_for(lambda: env.agent.log_path.read_text(errors="replace").count("rbd: pool swept"), 30,
             "the restarted agent's first sweep", until=lambda n: n > swept)
    assert f"img-{image}" in env.rbd_images(), env.agent.log_tail(20)
    env.client.call("DELETE", f"/v1/images/{image}", query={"purge": "true"})
    env.client.delete(f"/v1/snapshots/{sid}")
    env.client.delete(f"/v1/instances/{spec['instance_id']}")
    env.wait_converged(lambda s: no_orphans(env)(s) and f"img-{image}" not in env.rbd_images(), 30)
