"""scripts/cluster (docs/cluster.md): three simulated hosts on this machine, each a network
and mount namespace with its own libvirtd, ecs-agent, Ceph OSD and monitor, behind one
controller. Six instances from `ecsctl --profile cluster run --count 6` land two per host and
answer SSH; killing host2 leaves Ceph degraded (an OSD and a monitor down) while the disks of
the instances on the other hosts stay readable and writable; reviving it brings Ceph back to
HEALTH_OK; `down` leaves no namespace, link, iptables rule, domain, process or file.

Run under the guests' lock (real guests, bridges, iptables). The module's fixture calls
`scripts/cluster down` whatever happens. Figures (up, down, kill->degraded, revive->OK) are
printed to stderr (pytest -s shows them); nothing is asserted on time."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from agentenv import SSH_OPTS
from ecsapi import EcsClient
from waiting import wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="namespaces, bridges and iptables need root")

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "cluster"
ECSCTL = REPO / "build" / "bin" / "ecsctl"
PREFIX = "ecsct"  # not `make up`'s ecsbr0 nor the default cluster's ecsc-
NET = "10.231.9"
PORT = 8793
HOSTS = ["host1", "host2", "host3"]


def figure(name: str, seconds: float):
    print(f"[cluster figure] {name}: {seconds:.1f} s", file=sys.stderr)


class Cluster:
    def __init__(self):
        self.base = Path(tempfile.mkdtemp(prefix="ecsclu-", dir="/tmp"))
        self.base.chmod(0o755)  # QEMU (libvirt-qemu) opens the hosts' disks below it
        self.dir = self.base / "c"
        self.ecsctl_config = self.base / "ecsctl.config"
        self.env = dict(os.environ, ECS_CLUSTER_DIR=str(self.dir), ECS_CLUSTER_PREFIX=PREFIX, ECS_CLUSTER_NET=NET,
                        ECS_CLUSTER_PORT=str(PORT), ECSCTL_CONFIG=str(self.ecsctl_config))
        self.key = self.base / "id_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.key)], check=True)

    def script(self, *args, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        p = subprocess.run([str(SCRIPT), *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and p.returncode:
            raise AssertionError(f"scripts/cluster {' '.join(args)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}"
                                 f"\n{self.logs()}")
        return p

    def logs(self) -> str:
        out = []
        for f in sorted(self.dir.glob("log/*.log")) + sorted(self.dir.glob("hosts/*/agent.log")) + \
                sorted(self.dir.glob("hosts/*/ossd.log")) + sorted(self.dir.glob("hosts/*/otsd.log")):
            try:
                out.append(f"--- {f} ---\n" + "\n".join(f.read_text(errors="replace").splitlines()[-8:]))
            except OSError:
                pass
        return "\n".join(out)[-6000:]

    def ceph(self, *args, timeout: float = 40) -> subprocess.CompletedProcess:
        return subprocess.run(["ceph", "-c", str(self.dir / "ceph" / "ceph.conf"), "--connect-timeout", "10", *args],
                              capture_output=True, text=True, timeout=timeout)

    def rbd_ls(self, pool: str = "ecs-rbd") -> list[str]:
        p = subprocess.run(["rbd", "-c", str(self.dir / "ceph" / "ceph.conf"), "ls", pool], capture_output=True,
                           text=True, timeout=40)
        assert p.returncode == 0, p.stderr
        return p.stdout.split()

    def dumpxml(self, host: str, domain: str) -> str:
        return subprocess.run(["virsh", "-c", self.uri(host), "dumpxml", domain], capture_output=True, text=True,
                              timeout=30).stdout

    def health(self) -> str:
        try:
            return self.ceph("health").stdout.strip()
        except subprocess.TimeoutExpired:
            return "(no answer)"

    def ecsctl(self, *args, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([str(ECSCTL), "--profile", "cluster", *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout)

    def api(self) -> EcsClient:
        cp = configparser.ConfigParser()
        cp.read(self.ecsctl_config)
        p = cp["cluster"]
        return EcsClient(p["endpoint"].rstrip("/"), p["access_key_id"], p["access_key_secret"], timeout=60)

    def uri(self, host: str) -> str:
        return f"qemu:///system?socket={self.dir}/hosts/{host}/libvirt/run/libvirt-sock"

    def domains(self, host: str) -> list[str]:
        p = subprocess.run(["virsh", "-c", self.uri(host), "list", "--name"], capture_output=True, text=True,
                           timeout=30)
        return [n for n in p.stdout.split() if n]

    def ssh(self, host: str, ip: str, command: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", f"{PREFIX}-{host}", "ssh", *SSH_OPTS, "-i", str(self.key),
                               f"root@{ip}", command], capture_output=True, text=True, timeout=timeout)

    def leftovers(self) -> list[str]:
        """What of this cluster is still on the machine (empty: nothing)."""
        left = []
        ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        left += [f"netns {line.split()[0]}" for line in ns.splitlines() if line.startswith(PREFIX + "-")]
        links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
        left += [f"link {line.split(': ')[1]}" for line in links.splitlines() if line.split(": ")[1].startswith(PREFIX + "-")]
        rules = subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout
        left += [f"iptables {r}" for r in rules.splitlines() if PREFIX + "-" in r]
        for p in Path("/proc").iterdir():
            if p.name.isdigit():
                try:
                    cmd = (p / "cmdline").read_bytes()
                except OSError:
                    continue
                if str(self.base).encode() in cmd:
                    shown = cmd.replace(b"\0", b" ")[:120]
                    left.append(f"process {p.name}: {shown!r}")
        if self.dir.exists():
            left.append(f"folder {self.dir}")
        if self.ecsctl_config.exists() and "[cluster]" in self.ecsctl_config.read_text():
            left.append("ecsctl profile cluster")
        return left

    def pids(self) -> dict[str, list[int]]:
        """Every process of the cluster: each host's (its namespace's) and the controller."""
        out = {}
        for h in HOSTS:
            p = subprocess.run(["ip", "netns", "pids", f"{PREFIX}-{h}"], capture_output=True, text=True, timeout=10)
            out[h] = sorted(int(x) for x in p.stdout.split())
        out["controller"] = [int((self.dir / "controller.pid").read_text())]
        return out

    def close(self):
        """`down` whatever state the cluster is in; then nothing of it may be left."""
        p = self.script("down", timeout=180, check=False)
        left = self.leftovers()
        shutil.rmtree(self.base, ignore_errors=True)
        assert p.returncode == 0 and not left, f"after down (exit {p.returncode}): {left}\n{p.stdout}\n{p.stderr}"

    def up_for_module(self):
        """A module fixture's body (`yield from`): `up 3`, the cluster yielded, then `close` it
        whatever happened; both times printed as figures."""
        try:
            t0 = time.monotonic()
            self.script("up", "3", timeout=900)
            figure("up 3", time.monotonic() - t0)
            yield self
        finally:
            t0 = time.monotonic()
            self.close()
            figure("down (finalizer)", time.monotonic() - t0)


@pytest.fixture(scope="module")
def cluster():
    yield from Cluster().up_for_module()


@pytest.fixture(scope="module")
def instances(cluster):
    """Six instances: id -> (host, ip), each answering SSH."""
    api = cluster.api()
    api.call("ImportKeyPair", KeyPairName="k", PublicKeyBody=(cluster.key.with_suffix(".pub")).read_text())
    # The scheduler rightly skips a host whose storage it does not yet see as up (an OSD
    # still booting on a busy machine): the even spread is asserted once all three are.
    wait_for(lambda: {h["HostId"]: (h["State"], h["StorageState"]) for h in api.call("DescribeHosts")["Hosts"]["Host"]},
             180, "the three hosts up with their storage", 1,
             until=lambda hs: len(hs) == 3 and all(v == ("up", "ok") for v in hs.values()), detail=cluster.logs)
    p = cluster.ecsctl("run", "--image", "tiny", "--type", "ecs.t1.small", "--keypair", "k", "--count", "6",
                       "--wait", "--timeout", "600", timeout=660)
    assert p.returncode == 0, f"ecsctl run: {p.stdout}\n{p.stderr}\n{cluster.logs()}"
    body = api.call("DescribeInstances", PageSize=100)
    ips = {i["InstanceId"]: i["VpcAttributes"]["PrivateIpAddress"]["IpAddress"][0]
           for i in body["Instances"]["Instance"]}
    assert len(ips) == 6
    where = {}
    for h in HOSTS:
        for d in cluster.domains(h):
            where[d] = h
    out = {}
    for iid, ip in ips.items():
        doms = [d for d in where if iid in d]
        assert len(doms) == 1, f"{iid} runs on {doms} ({where})"
        out[iid] = (where[doms[0]], ip)
    t0 = time.monotonic()
    # Six TCG guests boot at once on a busy machine: one generous bound for all of them.
    waiting = dict(out)

    def still_waiting():
        for iid, (host, ip) in list(waiting.items()):
            if cluster.ssh(host, ip, "true", timeout=20).returncode == 0:
                del waiting[iid]
        return sorted(waiting)

    wait_for(still_waiting, 480, "SSH to the six instances", 3, until=lambda w: not w, detail=cluster.logs)
    figure("the six answering SSH after Running", time.monotonic() - t0)
    return out


def test_ceph_spread_over_hosts(cluster):
    assert cluster.health() == "HEALTH_OK"
    tree = cluster.ceph("osd", "tree").stdout
    for h in HOSTS:
        assert f"host {h}" in tree, tree
    detail = cluster.ceph("osd", "pool", "ls", "detail").stdout
    assert "'ecs-rbd' replicated size 3 min_size 2" in detail, detail
    rule = cluster.ceph("osd", "crush", "rule", "dump", "replicated_rule").stdout
    assert '"type": "host"' in rule, rule


def kept(before: dict[str, list[int]], after: dict[str, list[int]], but: int = 0) -> dict[str, list[int]]:
    """The processes of `before` (but `but`) that `after` no longer has. The agents run short
    commands now and then (ip, iptables), so `after` may hold more: they are not restarts."""
    return {k: sorted(set(v) - set(after.get(k, [])) - {but}) for k, v in before.items()
            if set(v) - set(after.get(k, [])) - {but}}


def test_up_again_starts_only_what_is_down(cluster):
    """A second `up 3` on a whole cluster starts nothing; with one daemon killed it starts
    that one only, as `make up` does."""
    before = cluster.pids()
    p = cluster.script("up", "3")
    assert "started: nothing" in p.stdout, p.stdout
    assert kept(before, cluster.pids()) == {}
    agent = int((cluster.dir / "hosts" / "host3" / "agent.pid").read_text())
    assert agent in before["host3"]
    os.kill(agent, 9)
    wait_for(lambda: not Path(f"/proc/{agent}").exists(), 10, "the killed agent gone", 0.1)
    p = cluster.script("up", "3")
    assert "started: host3/agent\n" in p.stdout, p.stdout
    after = cluster.pids()
    assert kept(before, after, but=agent) == {}
    assert int((cluster.dir / "hosts" / "host3" / "agent.pid").read_text()) in after["host3"]
    assert cluster.script("up", "2", check=False).returncode != 0


def test_two_instances_per_host_each_ssh(cluster, instances):
    per_host = {h: sorted(i for i, (hh, _) in instances.items() if hh == h) for h in HOSTS}
    assert all(len(v) == 2 for v in per_host.values()), (per_host, cluster.logs())
    for iid, (host, ip) in instances.items():
        assert cluster.ssh(host, ip, "echo hello").stdout.strip() == "hello", iid
    status = cluster.script("status").stdout
    assert all(iid in status for iid in instances), status


def test_disks_are_rbd_images_in_the_cluster(cluster, instances):
    """Each guest's disk lives in the replicated pool, not on its host."""
    images = cluster.rbd_ls()
    disks = [i for i in images if i.startswith("disk-")]
    assert len(disks) >= 6, images
    for iid, (host, _) in instances.items():
        xml = cluster.dumpxml(host, f"ecs-{iid}")
        assert "protocol='rbd'" in xml and "name='ecs-rbd/disk-" in xml, (iid, xml)


def test_kill_host2_degraded_disks_still_work(cluster, instances):
    t0 = time.monotonic()
    cluster.script("kill", "host2")
    assert not cluster.domains("host2")
    health = wait_for(cluster.health, 120, "ceph health to show host2's OSD down", 1,
                      until=lambda h: h.startswith("HEALTH_WARN") and "osds down" in h)
    figure("kill host2 -> ceph degraded", time.monotonic() - t0)
    assert "mon" in cluster.ceph("health", "detail").stdout
    assert health != "HEALTH_OK"
    for iid, (host, ip) in instances.items():
        if host == "host2":
            continue
        p = cluster.ssh(host, ip, f"echo {iid} > /root/after-kill && sync && cat /root/after-kill"
                                  " && dd if=/dev/vda of=/dev/null bs=1M count=16 2>/dev/null && echo read-ok")
        assert p.returncode == 0 and p.stdout.split() == [iid, "read-ok"], (iid, p.stdout, p.stderr)
    status = cluster.script("status").stdout
    assert "host2" in status


def test_revive_host2_health_ok(cluster, instances):
    t0 = time.monotonic()
    cluster.script("revive", "host2", timeout=300)
    wait_for(cluster.health, 300, "ceph health back to HEALTH_OK", 2, until=lambda h: h == "HEALTH_OK",
             detail=lambda: cluster.ceph("health", "detail").stdout)
    figure("revive host2 -> HEALTH_OK", time.monotonic() - t0)


def test_down_leaves_nothing(cluster):
    t0 = time.monotonic()
    cluster.script("down", timeout=180)
    figure("down", time.monotonic() - t0)
    assert cluster.leftovers() == []
