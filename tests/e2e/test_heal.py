"""Hosts that heal (issue 13; docs/cluster.md, "When a host dies").

- With stand-in hosts (tests/e2e/fakeagent.py; no guests, bridges or iptables): a create that
  failed on one host and was moved by the scheduler is named to the first host as "moved"
  (POST /agent/v1/instances/moved); a silent host with no OSD and no watch on its disks is
  fenced (its address blocklisted in the session's test Ceph cluster), its instance recovered
  on the other host with the same IP, a SystemFailure.Reboot event recorded (Executed), and
  the fence lifted once the revived host's answer names none.
- A real agent (libvirt, a guest, disks in the test Ceph cluster) removes an instance the
  controller says moved, and keeps its RBD disks.
- On scripts/cluster (test_cluster's Cluster and module fixture): host2, running two
  instances (one appending fsync'd numbers to its data disk and printing each acknowledged
  one over SSH), is killed: both run on other hosts with the same private IP and key, every
  acknowledged number is on the disk; revived, no instance runs twice in any host's libvirt
  and its fence is lifted. Figures (detection, fencing, recovery) go to stderr (-s).

The last two need /tmp/ecs-guests.lock."""

from __future__ import annotations

import time

import pytest

from ecsapi import ApiError
from fakeagent import FakeAgent, LoneController, healing_controller
from fakecontroller import agent_with_fake_controller
from test_cluster import cluster  # noqa: F401,F811  (the module fixture: `up 3`, `down`)
from waiting import wait_for


@pytest.fixture
def two_hosts(tmp_path):
    with LoneController(tmp_path) as ctl:
        api = ctl.account("alice")
        # heal-a sorts first: the scheduler's tie goes to it.
        with FakeAgent(ctl, "heal-a") as a, FakeAgent(ctl, "heal-b") as b:
            yield ctl, api, a, b


def moved(host, ids):
    status, body = host.host.raw("POST", "/agent/v1/instances/moved", {"instance_ids": ids})
    assert status == 200, (status, body)
    return body["moved"]


def instance(api, iid) -> dict:
    return api.call("DescribeInstances", InstanceIds=f'["{iid}"]')["Instances"]["Instance"][0]


def test_rescheduled_create_is_named_moved_to_the_first_host(two_hosts):
    ctl, api, a, b = two_hosts
    a.fail_creates = True
    iid = api.call("RunInstances", ImageId="tiny", InstanceType="ecs.t1.small")["InstanceIdSets"]["InstanceIdSet"][0]
    wait_for(lambda: instance(api, iid), 60, "Running on heal-b", 0.3,
             until=lambda i: i["Status"] == "Running" and i["HostId"] == "heal-b")
    # heal-a was asked first (and failed).
    assert any(c["method"] == "PUT" and c["path"] == f"/v1/instances/{iid}" for c in a.calls), a.calls
    # The first host learns the instance is another's now; the second keeps it.
    assert moved(a, [iid]) == [iid]
    assert moved(b, [iid]) == []
    # An id the controller does not know, or a deleted instance, is not "moved" (the agent's
    # own "wanted" check handles those).
    assert moved(a, ["i-doesnotexist0000000"]) == []
    api.call("DeleteInstance", InstanceId=iid, Force="true")
    # Once deleted on heal-b, it is no longer anyone's.
    wait_for(lambda: moved(a, [iid]), 60, "deleted", 0.3, until=lambda l: l == [])


def test_moved_refuses_bad_input(two_hosts):
    ctl, api, a, b = two_hosts
    for body in ({}, {"instance_ids": "i-x"}, {"instance_ids": [1]}):
        status, ans = a.host.raw("POST", "/agent/v1/instances/moved", body)
        assert status == 400, (status, ans)
    status, _ = a.host.raw("POST", "/agent/v1/instances/moved", {"instance_ids": []}, signed=False)
    assert status == 401



def test_dead_host_fenced_recovered_and_let_back(tmp_path, ceph_cluster):
    """Detection, the fence, recovery, the event and the way back, with stand-in hosts and the
    session's test Ceph cluster (no guests: no flock). heal-a reports an underlay address of
    a documentation range (192.0.2.77): the fence blocklists nothing real. heal-a has no OSD,
    so the watches on its instances' disk images are the witness: it has none (no disks
    in RBD here): once silent it is dead."""
    addr = "192.0.2.77:0/0"
    ctl = healing_controller(tmp_path, ceph_cluster)

    def blocklist():
        return ceph_cluster.ceph("osd", "blocklist", "ls")

    try:
        with ctl:
            api, other = ctl.account("alice"), ctl.account("mallory")
            with FakeAgent(ctl, "heal-a") as a, FakeAgent(ctl, "heal-b") as b:
                a.underlay_ip, b.underlay_ip = "192.0.2.77", "192.0.2.78"
                a.heartbeat()
                b.heartbeat()
                iid = api.call("RunInstances", ImageId="tiny", InstanceType="ecs.t1.small")["InstanceIdSets"][
                    "InstanceIdSet"][0]
                wait_for(lambda: instance(api, iid), 30, "Running on heal-a", 0.3,
                         until=lambda i: i["Status"] == "Running" and i["HostId"] == "heal-a")
                ip = instance(api, iid)["VpcAttributes"]["PrivateIpAddress"]["IpAddress"][0]

                # heal-a falls silent; heal-b beats on.
                def b_beats():
                    b.heartbeat()
                    return instance(api, iid)

                i = wait_for(b_beats, 60, "recovered on heal-b", 0.5,
                             until=lambda i: i["Status"] == "Running" and i["HostId"] == "heal-b",
                             detail=lambda: ctl.log_tail(30) if hasattr(ctl, "log_tail") else "")
                assert i["VpcAttributes"]["PrivateIpAddress"]["IpAddress"][0] == ip
                assert any(c["method"] == "PUT" and c["path"] == f"/v1/instances/{iid}" for c in b.calls)
                assert addr in blocklist()
                # Executing until the heal pass sees it Running, then Executed (the default
                # answer holds only finished events, as ECS's).
                ev = wait_for(lambda: api.call("DescribeInstanceHistoryEvents", InstanceId=iid)[
                    "InstanceSystemEventSet"]["InstanceSystemEventType"], 10, "the event Executed", 0.3)
                assert [(e["EventType"]["Name"], e["EventCycleStatus"]["Name"]) for e in ev] == [
                    ("SystemFailure.Reboot", "Executed")], ev
                assert ev[0]["EventPublishTime"] <= ev[0]["EventFinishTime"]
                # Another account sees none of it.
                assert other.call("DescribeInstanceHistoryEvents", InstanceId=iid)["TotalCount"] == 0
                with pytest.raises(ApiError) as e:
                    api.call("DescribeInstanceHistoryEvents", EventCycleStatus="Sleeping")
                assert e.value.status == 400

                # heal-a comes back still holding the instance: it is told it moved; once its
                # answer names none, the fence is lifted.
                with a.lock:
                    a.instances[iid] = "Running"
                a.heartbeat()
                assert moved(a, [iid]) == [iid]
                with a.lock:
                    del a.instances[iid]
                assert moved(a, []) == []

                def both_beat():
                    a.heartbeat()
                    b.heartbeat()
                    return blocklist()

                wait_for(both_beat, 30, "heal-a's fence lifted", 0.5, until=lambda out: addr not in out)
    finally:
        unfence(ceph_cluster, addr)


def unfence(ceph_cluster, addr):
    """The fence removed whatever happened (the cluster is the session's)."""
    import contextlib

    with contextlib.suppress(Exception):
        ceph_cluster.ceph("osd", "blocklist", "rm", addr)


# ---- the agent's side: a real agent, libvirt and guest, disks on the test Ceph cluster
# (needs /tmp/ecs-guests.lock) ----

@pytest.fixture(scope="module")
def agent_env(tiny_image, ceph_cluster):
    with agent_with_fake_controller(tiny_image.dir, ceph_cluster, {"agent.reconcile_interval_s": "2"}) as env:
        yield env


def test_agent_removes_a_moved_instance_and_keeps_its_disks(agent_env):
    env = agent_env
    from agentlib import random_id

    spec = env.spec(hostname="moved", data_disks=[{"disk_id": random_id("d-"), "size_gib": 1}])
    iid = spec["instance_id"]
    disks = env.disk_names([spec["system_disk"]["disk_id"], spec["data_disks"][0]["disk_id"]])
    env.create(spec)
    env.wait_status(spec, "Running", 120)
    assert f"ecs-{iid}" in env.libvirt.domains() and len(env.taps()) == 1
    try:
        # The controller placed it on another host: domain, tap, config drive and documents go.
        env.controller.moved.add(iid)
        wait_for(env.host_state, 60, "the moved instance removed", 0.5,
                 until=lambda s: s["domains"] == [] and s["taps"] == [] and s["instances"] == [],
                 detail=lambda: env.agent.log_tail(20))
        status, _, _ = env.client.raw("GET", f"/v1/instances/{iid}")
        assert status == 404
        # Its disks are the new host's: still in the pool, untouched.
        assert set(disks) <= set(env.rbd_images()), env.rbd_images()
        # And later passes start nothing again (a few reconcile intervals).
        time.sleep(6)
        assert env.libvirt.domains() == []
    finally:
        for name in disks:
            env.ceph.cli("rbd", "rm", f"ecs-rbd/{name}", check=False)


# ---- a host dies on scripts/cluster (needs /tmp/ecs-guests.lock; shares test_cluster's
# Cluster and its module fixture: `up 3` here, `down` whatever happens) ----

def _controller_log_time(cluster, msg: str, host: str, since: float) -> float | None:
    """The wall-clock time (epoch s) of the controller's first log line msg about host at or
    after since (a busy machine may delay a heartbeat before: a down host that holds its
    storage)."""
    import datetime

    for line in (cluster.dir / "log" / "controller.log").read_text(errors="replace").splitlines():
        if f'msg="{msg}' in line and f"host={host}" in line:
            ts = line.split()[0].split("=", 1)[1]
            at = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                tzinfo=datetime.timezone.utc).timestamp()
            if at >= since:
                return at
    return None


def test_dead_host_instances_restart_elsewhere_and_never_twice(cluster):
    import subprocess

    from agentenv import SSH_OPTS
    from test_cluster import HOSTS, PREFIX, figure

    api = cluster.api()
    api.call("ImportKeyPair", KeyPairName="hk", PublicKeyBody=cluster.key.with_suffix(".pub").read_text())
    ids = api.call("RunInstances", ImageId="tiny", InstanceType="ecs.t1.small", KeyPairName="hk", Amount=5,
                   **{"DataDisk.1.Size": 1, "DataDisk.1.Category": "cloud_essd"})["InstanceIdSets"]["InstanceIdSet"]

    def described():
        return {i["InstanceId"]: i for i in api.call("DescribeInstances", PageSize=100)["Instances"]["Instance"]}

    wait_for(described, 600, "five instances Running", 3,
             until=lambda d: all(d.get(i, {}).get("Status") == "Running" for i in ids), detail=cluster.logs)
    d = described()
    where = {i: (d[i]["HostId"], d[i]["VpcAttributes"]["PrivateIpAddress"]["IpAddress"][0]) for i in ids}
    per_host = {h: [i for i in ids if where[i][0] == h] for h in HOSTS}
    # Spread, ties to the first name: host1 and host2 get two each. host2 dies (host1 runs
    # Ceph's manager, whose loss would only blur the figures).
    victim = "host2"
    assert len(per_host[victim]) == 2, per_host
    writer, other = per_host[victim]
    # Their disks take the exclusive lock: two QEMUs can never write one image together.
    disks = api.call("DescribeDisks", InstanceId=writer)["Disks"]["Disk"]
    data = next(x["DiskId"] for x in disks if x["Type"] == "data")
    info = subprocess.run(["rbd", "-c", str(cluster.dir / "ceph" / "ceph.conf"), "info", f"ecs-rbd/disk-{data}"],
                          capture_output=True, text=True, timeout=40).stdout
    assert "exclusive-lock" in info, info
    for i in (writer, other):
        wait_for(lambda: cluster.ssh(victim, where[i][1], "true", timeout=20).returncode, 480, f"SSH to {i}", 3,
                 until=lambda rc: rc == 0, detail=cluster.logs)

    # The writer: a number per 512-byte block of the data disk, each fsync'd, then printed.
    loop = ("i=1; while [ $i -le 1000000 ]; do echo $i | dd of=/dev/vdb bs=512 seek=$i count=1 conv=fsync"
            " 2>/dev/null && echo $i; i=$((i+1)); done")
    proc = subprocess.Popen(["ip", "netns", "exec", f"{PREFIX}-{victim}", "ssh", *SSH_OPTS, "-i", str(cluster.key),
                             f"root@{where[writer][1]}", loop], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    import threading

    acked = []

    def read():
        for line in proc.stdout:
            if line.strip().isdigit():
                acked.append(int(line))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_for(lambda: len(acked), 120, "the writer's first numbers", 0.5, until=lambda n: n >= 30)
        kill_at = time.time()
        t0 = time.monotonic()
        cluster.script("kill", victim)
        # Every number the guest acknowledged before the kill: its SSH died with the host.
        reader.join(60)
        assert not reader.is_alive(), "the writer's SSH outlived its host"
    finally:
        proc.kill()
        proc.wait(10)

    moved = wait_for(described, 300, "both instances Running on other hosts", 2,
                     until=lambda d: all(d[i]["Status"] == "Running" and d[i]["HostId"] not in ("", victim)
                                         for i in (writer, other)), detail=cluster.logs)
    running_s = time.monotonic() - t0
    down_at = _controller_log_time(cluster, "host down", victim, kill_at)
    dead_at = _controller_log_time(cluster, "host dead: fenced", victim, kill_at)
    assert down_at and dead_at, cluster.logs()
    figure("kill -> host down (detection)", down_at - kill_at)
    figure("kill -> fenced (confirmed dead by Ceph, blocklisted)", dead_at - kill_at)
    figure("kill -> both Running elsewhere", running_s)
    for i in (writer, other):
        new_host, ip = moved[i]["HostId"], moved[i]["VpcAttributes"]["PrivateIpAddress"]["IpAddress"][0]
        assert ip == where[i][1]
        wait_for(lambda: cluster.ssh(new_host, ip, "true", timeout=20).returncode, 300, f"SSH to {i} on {new_host}",
                 3, until=lambda rc: rc == 0, detail=cluster.logs)
        figure(f"kill -> SSH ({i})", time.monotonic() - t0)
    # The fence: the dead host's address is blocklisted in the cluster.
    victim_ip = f"{cluster.env['ECS_CLUSTER_NET']}.{int(victim[4:]) + 1}"
    assert f"{victim_ip}:0/0" in cluster.ceph("osd", "blocklist", "ls").stdout
    # No acknowledged write lost: each number is in its block of the data disk.
    top = max(acked)
    out = cluster.ssh(moved[writer]["HostId"], where[writer][1],
                      f"dd if=/dev/vdb bs=512 count={top + 1} 2>/dev/null | tr -s '\\000' '\\n'", timeout=60).stdout
    found = {int(x) for x in out.split() if x.isdigit()}
    assert set(acked) <= found, sorted(set(acked) - found)[:20]
    # The events, by API and by ecsctl.
    ev = api.call("DescribeInstanceHistoryEvents", InstanceId=writer)["InstanceSystemEventSet"][
        "InstanceSystemEventType"]
    assert [e["EventType"]["Name"] for e in ev] == ["SystemFailure.Reboot"], ev
    assert ev[0]["EventCycleStatus"]["Name"] == "Executed" and ev[0]["EventFinishTime"], ev
    p = cluster.ecsctl("events", writer)
    assert p.returncode == 0 and "SystemFailure.Reboot" in p.stdout, (p.stdout, p.stderr)

    # Revived: what moved away is removed from it before it starts anything; then its fence
    # is lifted. No instance runs twice, in any host's libvirt.
    t0 = time.monotonic()
    cluster.script("revive", victim, timeout=300)
    wait_for(lambda: cluster.ceph("osd", "blocklist", "ls").stdout, 180, "the revived host's fence lifted", 2,
             until=lambda out: f"{victim_ip}:0/0" not in out, detail=cluster.logs)
    figure("revive -> unfenced", time.monotonic() - t0)
    for i in ids:
        hosts = [h for h in HOSTS if f"ecs-{i}" in cluster.domains(h)]
        assert len(hosts) == 1, (i, hosts)
    defined = subprocess.run(["virsh", "-c", cluster.uri(victim), "list", "--all", "--name"], capture_output=True,
                             text=True, timeout=30).stdout.split()
    assert not {f"ecs-{writer}", f"ecs-{other}"} & set(defined), defined
    # Ceph recovers with the host back.
    wait_for(cluster.health, 300, "HEALTH_OK", 3, until=lambda h: h == "HEALTH_OK",
             detail=lambda: cluster.ceph("health", "detail").stdout)
