"""A host cut off, its QEMU alive: the fence holds (issue 13 item 2; docs/cluster.md, "When
a host dies").

On scripts/cluster (test_cluster's Cluster and module fixture), with one guest booted and
booted once more by the recovery:
- the guest, on host2, runs a loop writing "old N" into 64 blocks of its data disk (each
  fsync'd) and telling its serial console (the host's console.log) "part-ok N" or
  "part-fail N";
- host2's agent is stopped (SIGSTOP: it cannot destroy the domain) and its link cut (its
  heartbeats and Ceph traffic stop), its QEMU still running;
- the controller fences host2 (its address blocklisted) and the instance runs on another host
  with the same private IP; the new guest overwrites the 64 blocks with "new N";
- the link comes back with the old QEMU still alive and its loop still trying: no write of it
  lands (the new guest reads only "new" in the 64 blocks) and no "part-ok" is told after the
  cut (each write fails or stays blocked);
- the agent resumes: the old domain goes, the fence is lifted, the instance runs once in all
  the hosts' libvirt, Ceph is back to HEALTH_OK.

Needs /tmp/ecs-guests.lock (real guests, links, iptables)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from test_cluster import HOSTS, PREFIX, cluster, figure  # noqa: F401,F811  (the module fixture)
from waiting import wait_for

BLOCK0, BLOCKS = 4096, 64  # the blocks both writers use, past anything a file system would
# The old guest's writer: a subshell ignoring the SIGHUP of the session's end (the image's
# busybox has no nohup). Each write is fsync'd; its outcome goes to the serial console.
OLD_WRITER = ("(trap '' HUP; i=1; while :; do if echo old $i | dd of=/dev/vdb bs=512 seek=$(({b0} + i % {n})) count=1"
              " conv=fsync 2>/dev/null; then echo part-ok $i >/dev/ttyS0; else echo part-fail $i >/dev/ttyS0; fi;"
              " i=$((i+1)); sleep 1; done) </dev/null >/dev/null 2>&1 &").format(b0=BLOCK0, n=BLOCKS)
NEW_WRITER = ("i=0; while [ $i -lt {n} ]; do echo new $i | dd of=/dev/vdb bs=512 seek=$(({b0} + i)) count=1"
              " conv=fsync 2>/dev/null || exit 1; i=$((i+1)); done").format(b0=BLOCK0, n=BLOCKS)
READ_BLOCKS = f"dd if=/dev/vdb bs=512 skip={BLOCK0} count={BLOCKS} 2>/dev/null | tr -s '\\000' '\\n'"


def describe(api, iid) -> dict:
    return api.call("DescribeInstances", InstanceIds=f'["{iid}"]')["Instances"]["Instance"][0]


def console_lines(cluster, host: str, iid: str) -> list[str]:
    """The part-ok/part-fail lines of the instance's serial console on host (virtlogd's file)."""
    logs = list((cluster.dir / "hosts" / host / "agent").rglob(f"{iid}/console.log"))
    assert len(logs) == 1, logs
    text = logs[0].read_text(errors="replace")
    return re.findall(r"part-(?:ok|fail) \d+", text)


def qemus(iid: str) -> set[int]:
    """The pids of the QEMUs running the instance's domain, in any host."""
    out = set()
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            cmd = (p / "cmdline").read_bytes()
            state = (p / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if f"guest=ecs-{iid}".encode() in cmd and state != "Z":
            out.add(int(p.name))
    return out


def link(host: str, up: bool):
    """host's link on the fabric (the root namespace's end of its veth), down or up."""
    veth = f"{PREFIX}-{host[4:]}"
    subprocess.run(["ip", "link", "set", veth, "up" if up else "down"], check=True, timeout=20)


def test_partitioned_host_cannot_write_once_its_instance_runs_elsewhere(cluster):
    api = cluster.api()
    api.call("ImportKeyPair", KeyPairName="pk", PublicKeyBody=cluster.key.with_suffix(".pub").read_text())
    victim = "host2"  # host1 runs Ceph's manager, whose loss would only blur the test
    others = [h for h in HOSTS if h != victim]
    wait_for(lambda: {h["HostId"]: (h["State"], h["StorageState"]) for h in api.call("DescribeHosts")["Hosts"]["Host"]},
             180, "the three hosts up with their storage", 1,
             until=lambda hs: len(hs) == 3 and all(v == ("up", "ok") for v in hs.values()), detail=cluster.logs)
    # The other two drained while the instance is placed: it lands on the victim.
    for h in others:
        api.call("DrainHost", HostId=h)
    try:
        iid = api.call("RunInstances", ImageId="tiny", InstanceType="ecs.t1.small", KeyPairName="pk",
                       **{"DataDisk.1.Size": 1, "DataDisk.1.Category": "cloud_essd"})["InstanceIdSets"][
            "InstanceIdSet"][0]
        d = wait_for(lambda: describe(api, iid), 600, "the instance Running", 2,
                     until=lambda x: x["Status"] == "Running", detail=cluster.logs)
    finally:
        for h in others:
            api.call("UndrainHost", HostId=h)
    assert d["HostId"] == victim, d
    ip = d["VpcAttributes"]["PrivateIpAddress"]["IpAddress"][0]
    wait_for(lambda: cluster.ssh(victim, ip, "true", timeout=20).returncode, 480, "SSH to the guest", 3,
             until=lambda rc: rc == 0, detail=cluster.logs)
    assert cluster.ssh(victim, ip, OLD_WRITER).returncode == 0
    wait_for(lambda: console_lines(cluster, victim, iid), 60, "the old writer's first writes", 0.5,
             until=lambda ls: sum(x.startswith("part-ok") for x in ls) >= 3)
    (old_qemu,) = qemus(iid)

    victim_ip = f"{cluster.env['ECS_CLUSTER_NET']}.{int(victim[4:]) + 1}"
    agent = int((cluster.dir / "hosts" / victim / "agent.pid").read_text())
    os.kill(agent, signal.SIGSTOP)
    try:
        # The cut: no heartbeat, no Ceph traffic; the guest and its QEMU keep running.
        link(victim, up=False)
        t0 = time.monotonic()
        told_at_cut = console_lines(cluster, victim, iid)
        moved = wait_for(lambda: describe(api, iid), 300, "the instance Running on another host", 2,
                         until=lambda x: x["Status"] == "Running" and x["HostId"] not in ("", victim),
                         detail=cluster.logs)
        figure("cut -> Running elsewhere", time.monotonic() - t0)
        new_host = moved["HostId"]
        assert moved["VpcAttributes"]["PrivateIpAddress"]["IpAddress"][0] == ip
        assert f"{victim_ip}:0/0" in cluster.ceph("osd", "blocklist", "ls").stdout
        assert old_qemu in qemus(iid), "the old QEMU did not survive the cut"
        # The old guest's writes acknowledged before the cut are on the disk the new one reads.
        wait_for(lambda: cluster.ssh(new_host, ip, "true", timeout=20).returncode, 480, "SSH to the new guest", 3,
                 until=lambda rc: rc == 0, detail=cluster.logs)
        before = cluster.ssh(new_host, ip, READ_BLOCKS).stdout
        assert [x for x in before.split("\n") if x.startswith("old ")], before
        p = cluster.ssh(new_host, ip, NEW_WRITER, timeout=60)
        assert p.returncode == 0, (p.stdout, p.stderr)

        # The partition heals with the old QEMU alive and its writer still trying.
        link(victim, up=True)
        healed_at = len(console_lines(cluster, victim, iid))
        subprocess.run(["ip", "netns", "exec", f"{PREFIX}-{victim}", "ping", "-c", "3", "-W", "2",
                        f"{cluster.env['ECS_CLUSTER_NET']}.1"], check=True, capture_output=True, timeout=30)
        # Its QEMU reaches the OSDs again and learns it is blocklisted: a writer blocked on the
        # cut fails then, and every later one too. Given 30 s (fifteen of its write attempts).
        time.sleep(30)
        after = console_lines(cluster, victim, iid)
        assert old_qemu in qemus(iid), "the old QEMU did not survive the heal"
        # Every write it was told of landed before the new guest started; none after.
        acked = [int(x.split()[1]) for x in after if x.startswith("part-ok")]
        assert f"old {max(acked)}" in before.split("\n"), (after[len(told_at_cut) - 3:], before)
        print(f"[cluster figure] the old writer after the heal: {len(after) - healed_at} outcomes told,"
              f" first {after[healed_at:][:3]}; at the cut: {told_at_cut[-2:]}", file=sys.stderr)
        content = cluster.ssh(new_host, ip, READ_BLOCKS).stdout.split("\n")
        lines = [x for x in content if x.strip()]
        assert lines == [f"new {i}" for i in range(BLOCKS)], lines
    finally:
        link(victim, up=True)
        os.kill(agent, signal.SIGCONT)

    # The agent resumes: the old domain goes before anything else, then the fence is lifted.
    t0 = time.monotonic()
    wait_for(lambda: qemus(iid), 120, "the old QEMU gone", 1, until=lambda ps: old_qemu not in ps, detail=cluster.logs)
    wait_for(lambda: cluster.ceph("osd", "blocklist", "ls").stdout, 180, "the host's fence lifted", 2,
             until=lambda out: f"{victim_ip}:0/0" not in out, detail=cluster.logs)
    figure("resume -> unfenced", time.monotonic() - t0)
    cluster.script("revive", victim, timeout=300)  # whatever of it died while cut off
    assert [h for h in HOSTS if f"ecs-{iid}" in cluster.domains(h)] == [new_host]
    defined = subprocess.run(["virsh", "-c", cluster.uri(victim), "list", "--all", "--name"], capture_output=True,
                             text=True, timeout=30).stdout.split()
    assert f"ecs-{iid}" not in defined, defined
    assert [x.strip() for x in cluster.ssh(new_host, ip, READ_BLOCKS).stdout.split("\n") if x.strip()] == [
        f"new {i}" for i in range(BLOCKS)]
    wait_for(cluster.health, 300, "HEALTH_OK", 3, until=lambda h: h == "HEALTH_OK",
             detail=lambda: cluster.ceph("health", "detail").stdout)
    api.call("DeleteInstance", InstanceId=iid, Force="true")
