"""Live migration and drain (issue 13 item 4; docs/cluster.md, "Live migration and drain").

On scripts/cluster (test_cluster's Cluster and module fixture), with ONE guest booted:
- the guest runs a counter in memory (a shell loop writing /tmp/counter every second);
  `ecsctl host drain SRC` moves it live to another host: the same id, IP and MAC, the counter
  goes on from where it was (no reboot: the same boot id, a longer uptime), an SSH session
  opened before the move still streams after it, and SSH works afresh; the source keeps no
  domain (defined or running), no tap and no iptables rule of it; the controller records the
  move (HostId, a SystemMaintenance.Migrate event, Executed) and the instance stays Running
  through the source's later heartbeats;
- a ping from the source host's namespace every 20 ms across each move gives the downtime
  (the longest gap between two replies): the drain, then two MigrateInstance moves, three
  figures printed to stderr (-s) with libvirt's own downtime; nothing asserted on time;
- while drained, `ecsctl host ls` says so and a new instance lands elsewhere (where the
  scheduler would otherwise put it); stopped on the drained host, it is moved by its
  records (cold, stays Stopped); `undrain` lets the host take instances again;
- the actions are an administrator's: another account gets 403 Forbidden; unknown ids 404.

Needs /tmp/ecs-guests.lock (real guests)."""

from __future__ import annotations

import re
import subprocess
import threading
import time

import pytest

from agentenv import SSH_OPTS
from ecsapi import ApiError, EcsClient
from test_cluster import HOSTS, PREFIX, REPO, cluster, figure  # noqa: F401,F811  (the module fixture)
from waiting import wait_for

# Written whole (a rename), so a reader never sees it empty.
# A subshell ignoring the SIGHUP of the session's end (the image's busybox has no nohup).
COUNTER = ("(trap '' HUP; i=0; while :; do i=$((i+1)); echo $i > /tmp/counter.t; mv /tmp/counter.t /tmp/counter;"
           " sleep 1; done) </dev/null >/dev/null 2>&1 &")


def ns(host: str) -> list[str]:
    return ["ip", "netns", "exec", f"{PREFIX}-{host}"]


def describe(api, iid) -> dict:
    return api.call("DescribeInstances", InstanceIds=f'["{iid}"]')["Instances"]["Instance"][0]


def events(api, iid) -> list[dict]:
    return api.call("DescribeInstanceHistoryEvents", InstanceId=iid,
                    **{"InstanceEventCycleStatus.1": "Executing", "InstanceEventCycleStatus.2": "Executed",
                       "InstanceEventCycleStatus.3": "Failed", "InstanceEventCycleStatus.4": "Scheduled"},
                    )["InstanceSystemEventSet"]["InstanceSystemEventType"]


def guest_state(cluster, host, ip) -> tuple[int, str, float]:
    p = cluster.ssh(host, ip, "while [ ! -s /tmp/counter ]; do sleep 0.1; done; cat /tmp/counter;"
                              " cat /proc/sys/kernel/random/boot_id; cut -d' ' -f1 /proc/uptime")
    assert p.returncode == 0, (p.stdout, p.stderr)
    counter, boot, up = p.stdout.split()
    return int(counter), boot, float(up)


class Pinger:
    """ping -D every 20 ms from a host's namespace; the longest gap between two replies."""

    def __init__(self, host: str, ip: str):
        self.proc = subprocess.Popen([*ns(host), "ping", "-D", "-n", "-i", "0.02", "-W", "1", ip],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.replies: list[float] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            if "bytes from" in line and line.startswith("["):
                self.replies.append(float(line[1:line.index("]")]))

    def stop(self) -> float:
        self.proc.terminate()
        self.proc.wait(10)
        self.reader.join(10)
        assert len(self.replies) > 10, self.replies
        return max(b - a for a, b in zip(self.replies, self.replies[1:]))


def taps_and_rules(host: str, tap: str) -> tuple[bool, bool, list[str]]:
    links = subprocess.run(["ip", "-n", f"{PREFIX}-{host}", "-o", "link", "show"], capture_output=True, text=True,
                           timeout=20).stdout
    rules = subprocess.run([*ns(host), "iptables-save"], capture_output=True, text=True, timeout=20).stdout
    return tap in links, tap in rules, [r for r in rules.splitlines() if tap in r]


def net_state(cluster, api, iid, ip) -> str:
    """Where each host's network thinks the guest is: for a failure's report."""
    out = [f"instance: {describe(api, iid)}"]
    for h in HOSTS:
        neigh = subprocess.run([*ns(h), "ip", "neigh", "show", ip], capture_output=True, text=True, timeout=20).stdout
        fdb = subprocess.run([*ns(h), "bridge", "fdb", "show"], capture_output=True, text=True, timeout=20).stdout
        mac = neigh.split(" lladdr ")[1].split()[0] if " lladdr " in neigh else ""
        state = subprocess.run(["virsh", "-c", cluster.uri(h), "list", "--all"], capture_output=True, text=True,
                               timeout=30).stdout
        out.append(f"--- {h}: neigh {neigh.strip()!r}\nfdb: " +
                   "\n".join(line for line in fdb.splitlines() if mac and mac in line) + f"\nvirsh: {state}")
    return "\n".join(out) + "\n" + cluster.logs()


def move_and_measure(cluster, api, iid, ip, src, how) -> tuple[str, float, dict]:
    """Move the instance off src (how() asks for it) with a ping running; its new host, the
    longest ping gap, the move's event."""
    before = {e["EventId"] for e in events(api, iid)}
    pinger = Pinger(src, ip)
    try:
        wait_for(lambda: len(pinger.replies), 30, "ping replies before the move", 0.1, until=lambda n: n >= 10,
                 detail=lambda: net_state(cluster, api, iid, ip))
        t0 = time.monotonic()
        how()
        moved = wait_for(lambda: describe(api, iid), 180, "the instance on another host", 0.5,
                         until=lambda d: d["HostId"] != src, detail=cluster.logs)
        ev = wait_for(lambda: [e for e in events(api, iid) if e["EventId"] not in before], 120,
                      "the migration's event done", 0.5,
                      until=lambda es: es and es[0]["EventCycleStatus"]["Name"] in ("Executed", "Failed"),
                      detail=cluster.logs)[0]
        took = time.monotonic() - t0
        time.sleep(2)  # replies after the switch
    finally:
        gap = pinger.stop()
    assert ev["EventType"]["Name"] == "SystemMaintenance.Migrate", ev
    assert ev["EventCycleStatus"]["Name"] == "Executed", (ev, cluster.logs())
    figure(f"migration {src} -> {moved['HostId']} (request to event Executed)", took)
    return moved["HostId"], gap, ev


def test_drain_migrates_a_running_guest_live(cluster):
    api = cluster.api()
    api.call("ImportKeyPair", KeyPairName="mk", PublicKeyBody=cluster.key.with_suffix(".pub").read_text())
    iid = api.call("RunInstances", ImageId="tiny", InstanceType="ecs.t1.small", KeyPairName="mk")[
        "InstanceIdSets"]["InstanceIdSet"][0]
    d = wait_for(lambda: describe(api, iid), 600, "the instance Running", 2, until=lambda x: x["Status"] == "Running",
                 detail=cluster.logs)
    src, ip = d["HostId"], d["VpcAttributes"]["PrivateIpAddress"]["IpAddress"][0]
    wait_for(lambda: cluster.ssh(src, ip, "true", timeout=20).returncode, 480, "SSH to the guest", 3,
             until=lambda rc: rc == 0, detail=cluster.logs)
    dom = f"ecs-{iid}"
    xml = cluster.dumpxml(src, dom)
    nic = xml[xml.index("<interface"):]
    tap = re.search(r"<target dev='([^']+)'", nic).group(1)
    mac = re.search(r"<mac address='([^']+)'", nic).group(1)
    assert taps_and_rules(src, tap)[0], tap
    assert cluster.ssh(src, ip, COUNTER).returncode == 0
    c0, boot0, up0 = wait_for(lambda: guest_state(cluster, src, ip), 30, "the counter running", 0.5,
                              until=lambda s: s[0] > 2)

    # An SSH session opened before the move, streaming the counter through it.
    stream = subprocess.Popen([*ns(src), "ssh", *SSH_OPTS, "-i", str(cluster.key), f"root@{ip}",
                               "while :; do cat /tmp/counter; sleep 1; done"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    seen: list[int] = []

    def read():
        for line in stream.stdout:
            if line.strip().isdigit():
                seen.append(int(line))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_for(lambda: len(seen), 60, "the session streaming", 0.2, until=lambda n: n >= 3)
        gaps = []

        def drain():
            p = cluster.ecsctl("host", "drain", src)
            assert p.returncode == 0, (p.stdout, p.stderr)

        dst, gap, ev = move_and_measure(cluster, api, iid, ip, src, drain)
        gaps.append((gap, ev["Reason"]))
        n_before = len(seen)
        wait_for(lambda: len(seen), 30, "the session still streaming after the move", 0.2,
                 until=lambda n: n >= n_before + 3)
        assert stream.poll() is None, "the SSH session died with the move"
    finally:
        stream.kill()
        stream.wait(10)
    assert seen == sorted(seen) and seen[-1] > c0, seen[-20:]
    assert "moved live" in ev["Reason"], ev

    # The same guest, afresh over SSH: the counter went on, no reboot.
    moved = describe(api, iid)
    assert moved["Status"] == "Running" and moved["VpcAttributes"]["PrivateIpAddress"]["IpAddress"][0] == ip
    c1, boot1, up1 = guest_state(cluster, dst, ip)
    assert boot1 == boot0 and up1 > up0 and c1 > c0, ((c0, boot0, up0), (c1, boot1, up1))
    assert dom in cluster.domains(dst)
    assert mac in cluster.dumpxml(dst, dom)
    # Nothing of it left on the source: no domain (running or defined), tap or rule.
    defined = subprocess.run(["virsh", "-c", cluster.uri(src), "list", "--all", "--name"], capture_output=True,
                             text=True, timeout=30).stdout.split()
    assert dom not in defined, defined
    has_tap, has_rule, rules = taps_and_rules(src, tap)
    assert not has_tap and not has_rule, rules
    assert taps_and_rules(dst, tap)[0]
    # Later heartbeats of the source (stale or not) change nothing.
    time.sleep(5)
    again = describe(api, iid)
    assert again["Status"] == "Running" and again["HostId"] == dst, again

    # Drained: shown, and a new instance goes elsewhere though src is the emptiest host.
    p = cluster.ecsctl("-o", "table", "host", "ls")
    assert p.returncode == 0, p.stderr
    row = next(line for line in p.stdout.splitlines() if line.startswith(src + " "))
    assert " yes " in row, p.stdout
    hosts = {h["HostId"]: h for h in api.call("DescribeHosts")["Hosts"]["Host"]}
    assert hosts[src]["Drained"] is True and hosts[dst]["Drained"] is False, hosts
    other = api.call("RunInstances", ImageId="tiny", InstanceType="ecs.t1.small", KeyPairName="mk")[
        "InstanceIdSets"]["InstanceIdSet"][0]
    o = wait_for(lambda: describe(api, other), 300, "the second instance Running", 1,
                 until=lambda x: x["HostId"] and x["Status"] == "Running", detail=cluster.logs)
    third = o["HostId"]
    assert third not in (src, dst), (o["HostId"], src, dst)
    # Stopped on a drained host: moved by its records, stays Stopped.
    api.call("StopInstance", InstanceId=other, ForceStop="true")
    wait_for(lambda: describe(api, other), 300, "the second instance Stopped", 1,
             until=lambda x: x["Status"] == "Stopped")
    before = {e["EventId"] for e in events(api, other)}
    p = cluster.ecsctl("host", "drain", third)
    assert p.returncode == 0, p.stderr
    # HostId turns when the move is placed; the source lets go of the domain in a later step.
    ev = wait_for(lambda: [e for e in events(api, other) if e["EventId"] not in before], 120,
                  "the stopped instance's move done", 1,
                  until=lambda es: es and es[0]["EventCycleStatus"]["Name"] in ("Executed", "Failed"),
                  detail=cluster.logs)[0]
    assert ev["EventCycleStatus"]["Name"] == "Executed", ev
    o = describe(api, other)
    assert o["HostId"] not in ("", third), o
    assert o["Status"] == "Stopped", o
    assert f"ecs-{other}" not in subprocess.run(["virsh", "-c", cluster.uri(third), "list", "--all", "--name"],
                                                capture_output=True, text=True, timeout=30).stdout
    api.call("DeleteInstance", InstanceId=other, Force="true")
    assert cluster.ecsctl("host", "undrain", third).returncode == 0

    # Undrained, src takes instances again: two more moves, each measured.
    p = cluster.ecsctl("host", "undrain", src)
    assert p.returncode == 0, p.stderr
    assert api.call("DescribeHosts", HostId=src)["Hosts"]["Host"][0]["Drained"] is False
    here = dst
    for _ in range(2):
        def migrate(h=here):
            out = cluster.ecsctl("host", "migrate", iid)
            assert out.returncode == 0, (out.stdout, out.stderr)
        new, gap, ev = move_and_measure(cluster, api, iid, ip, here, migrate)
        assert "moved live" in ev["Reason"], ev
        gaps.append((gap, ev["Reason"]))
        here = new
    c2, boot2, _ = guest_state(cluster, here, ip)
    assert boot2 == boot0 and c2 > c1
    for i, (gap, reason) in enumerate(gaps, 1):
        figure(f"migration downtime run {i}: longest ping gap (20 ms pings; {reason})", gap)
    api.call("DeleteInstance", InstanceId=iid, Force="true")


def test_migration_actions_are_an_administrators(cluster):
    api = cluster.api()
    keys = subprocess.run([str(REPO / "build" / "bin" / "ecs-controller"), "-c", str(cluster.dir / "controller.ini"),
                           "account", "create", "mallory"], capture_output=True, text=True, timeout=30).stdout
    ak = next(line.split(": ")[1] for line in keys.splitlines() if line.startswith("AccessKeyId"))
    sk = next(line.split(": ")[1] for line in keys.splitlines() if line.startswith("AccessKeySecret"))
    mallory = EcsClient(api.endpoint, ak, sk, timeout=60)
    for action, params in (("DrainHost", {"HostId": "host1"}), ("UndrainHost", {"HostId": "host1"}),
                           ("MigrateInstance", {"InstanceId": "i-doesnotexist00000000"})):
        with pytest.raises(ApiError) as e:
            mallory.call(action, **params)
        assert e.value.status == 403 and e.value.code == "Forbidden", (action, e.value)
    with pytest.raises(ApiError) as e:
        api.call("DrainHost", HostId="host9")
    assert e.value.code == "InvalidHostId.NotFound"
    with pytest.raises(ApiError) as e:
        api.call("DrainHost")
    assert e.value.code == "MissingParameter"
    with pytest.raises(ApiError) as e:
        api.call("MigrateInstance", InstanceId="i-doesnotexist00000000")
    assert e.value.status == 404 and e.value.code == "InvalidInstanceId.NotFound"
    assert all(not h["Drained"] for h in api.call("DescribeHosts")["Hosts"]["Host"])
