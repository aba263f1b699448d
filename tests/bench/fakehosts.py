"""Fake hosts for controller benchmarks and tests: one ecs-controller and N ecs-agent
processes on libvirt's test driver (domains live in the driver's memory; nothing boots),
each in a private network namespace, so their bridges, taps, iptables chains and ports
touch nothing of the machine's.

    with FakeCloud(workdir) as cloud:           # the controller's namespace, no hosts yet
        cloud.add_hosts([HostSpec(...), ...])    # agents; returns once the controller has them
        ecs = cloud.client()                     # tests/e2e/ecsapi.EcsClient for the account
        cloud.run(ecs.call, "DescribeRegions")   # calls go through a thread inside the namespace

Namespaces: the controller and the callers share one (the hub); every host has its own, as
a machine would, joined to the hub by a veth pair (host i: 10.200.0.0/16's i-th /30, .1 on
the hub side, .2 on the host's). One namespace for all the hosts would make each agent's
link dumps and iptables tables hold every other host's taps and rules: with 100 hosts the
kernel work grows with the total and swamps what is measured. Each namespace is held by a
`sleep` started under `unshare --net`; processes join with `nsenter --net`, Python threads
with setns(2) (cloud.pool, cloud.run). Every process is started from the calling thread
with PR_SET_PDEATHSIG, so none outlives the test even when it is killed; close() stops them
(SIGTERM, then SIGKILL), drops the namespaces (their links and rules go with them) and
removes the work folder.

A host's capacity is what its agent reports from libvirt's node info: test:///default
gives 16 CPUs and 3072 MiB; a HostSpec with cpus/memory_mib gets its own test-driver node
file (test:///PATH) with those numbers instead. The image "tiny" the hosts carry is a
stand-in (an empty qcow2 and two placeholder files with their sha256s): nothing boots."""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import hashlib
import ipaddress
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from agentlib import AgentClient, StartClose, write_host_key  # noqa: E402
from ecsapi import EcsClient  # noqa: E402
from waiting import wait_for, wait_log_line  # noqa: E402

CONTROLLER_BIN = Path(os.environ.get("ECS_CONTROLLER_BIN", REPO / "build/bin/ecs-controller"))
AGENT_BIN = Path(os.environ.get("ECS_AGENT_BIN", REPO / "build/bin/ecs-agent"))
CONTROLLER_PORT = 8773  # in private namespaces every port is free
AGENT_PORT = 8774
LINKS = ipaddress.ip_network("10.200.0.0/16")  # host i: the i-th /30

_CLONE_NEWNET = 0x40000000
_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    """preexec_fn: SIGKILL when the thread that started us ends (the test, killed or not)."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class Netns:
    """A private network namespace with lo up, held by a sleeping process."""

    def __init__(self):
        self.holder = subprocess.Popen(
            ["unshare", "--net", "--", "sh", "-c", "ip link set lo up && echo up && exec sleep 2147483647"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, preexec_fn=_die_with_parent)
        line = self.holder.stdout.readline().strip()
        if line != b"up":
            self.close()
            raise RuntimeError("cannot make a network namespace (unshare --net)")
        self.path = f"/proc/{self.holder.pid}/ns/net"
        self.fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)

    def argv(self, argv: list) -> list[str]:
        return ["nsenter", f"--net={self.path}", "--", *map(str, argv)]

    def ip_batch(self, commands: list[str]):
        """Run `ip` commands (one a line) inside the namespace."""
        subprocess.run(self.argv(["ip", "-batch", "-"]), input="\n".join(commands) + "\n", text=True,
                       capture_output=True, check=True, timeout=60)

    def enter(self):
        """Move the calling thread (only it) into the namespace."""
        if _libc.setns(self.fd, _CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, f"setns: {os.strerror(e)}")

    def close(self):
        if getattr(self, "fd", None) is not None:
            os.close(self.fd)
            self.fd = None
        if self.holder.poll() is None:
            self.holder.kill()
        self.holder.wait()
        if self.holder.stdout:
            self.holder.stdout.close()


def make_image(folder: Path):
    """A stand-in "tiny" image: what the agent verifies and copies, nothing that boots."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(folder / "disk.qcow2"), "1G"], check=True)
    (folder / "vmlinuz").write_bytes(b"not a kernel: libvirt's test driver boots nothing\n")
    (folder / "initrd.img").write_bytes(b"not an initrd\n")
    sums = {f: hashlib.sha256((folder / f).read_bytes()).hexdigest() for f in ("disk.qcow2", "vmlinuz", "initrd.img")}
    manifest = {"name": "tiny", "os": "linux", "os_name": "Debian tiny (busybox)", "arch": "x86_64",
                "boot": "direct-kernel", "disk": "disk.qcow2", "kernel": "vmlinuz", "initrd": "initrd.img",
                "cmdline": "console=ttyS0", "min_disk_gib": 1, "sha256": sums}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def node_xml(cpus: int, memory_mib: int) -> str:
    """A libvirt test-driver node file: virNodeGetInfo answers these numbers."""
    return (f"<node>\n  <cpu>\n    <mhz>2000</mhz>\n    <model>x86_64</model>\n    <nodes>1</nodes>\n"
            f"    <sockets>1</sockets>\n    <cores>{cpus}</cores>\n    <threads>1</threads>\n"
            f"    <active>{cpus}</active>\n    <max>{cpus}</max>\n  </cpu>\n"
            f"  <memory>{memory_mib * 1024}</memory>\n</node>\n")


@dataclass
class HostSpec:
    host_id: str
    cpus: int | None = None  # None: test:///default (16 CPUs, 3072 MiB)
    memory_mib: int | None = None
    max_instances: int = 256
    zone: str = "cn-local-a"
    heartbeat_interval_s: int = 5
    network: dict | None = None  # extra [network] keys of agent.ini (the overlay, gateways)


@dataclass
class Capacity:
    """What the scheduler may book on a host (scheduler.h), from its heartbeat and the ratios."""
    vcpus: float
    memory_mib: float
    disk_gib: float
    max_instances: int

    def fits(self, vcpus: int, memory_mib: int, disk_gib: int, n: int) -> bool:
        return (vcpus <= self.vcpus and memory_mib <= self.memory_mib and disk_gib <= self.disk_gib
                and n <= self.max_instances)


class FakeHost:
    def __init__(self, cloud: "FakeCloud", index: int, spec: HostSpec):
        self.spec, self.index, self.cloud = spec, index, cloud
        self.dir = cloud.workdir / "hosts" / spec.host_id
        if index >= LINKS.num_addresses // 4:
            raise ValueError(f"at most {LINKS.num_addresses // 4} hosts")
        base = LINKS.network_address + 4 * index
        self.hub_ip, self.ip = str(base + 1), str(base + 2)
        self.veth = f"vh{index}"
        self.log = self.dir / "agent.log"
        self.proc: subprocess.Popen | None = None
        self.netns: Netns | None = None
        (self.dir / "images").mkdir(parents=True)
        os.symlink(cloud.image_dir, self.dir / "images" / "tiny")
        uri = "test:///default"
        if spec.cpus or spec.memory_mib:
            (self.dir / "node.xml").write_text(node_xml(spec.cpus or 16, spec.memory_mib or 3072))
            uri = f"test://{self.dir / 'node.xml'}"
        # Its own namespace: the default bridge, tap and chain names are its own too.
        (self.dir / "agent.ini").write_text(f"""[agent]
host_id = {spec.host_id}
zone = {spec.zone}
data_dir = {self.dir / 'agent'}
libvirt_uri = {uri}
domain_type = qemu
listen_address = {self.ip}
port = {AGENT_PORT}
host_key_file = {cloud.host_key_file}
controller_url = http://{self.hub_ip}:{CONTROLLER_PORT}
heartbeat_interval_s = {spec.heartbeat_interval_s}
reconcile_interval_s = 3600
metrics_interval_s = 3600
max_instances = {spec.max_instances}
""" + (("[network]\n" + "".join(f"{k} = {v}\n" for k, v in spec.network.items())) if spec.network else ""))

    def start(self):
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.netns.argv([AGENT_BIN, "-c", self.dir / "agent.ini"]),
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         preexec_fn=_die_with_parent)

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"ecs-agent {self.spec.host_id} exited {self.proc.returncode}:\n{self.log_tail()}")
        return self.log.exists() and 'msg="agent ready"' in self.log.read_text(errors="replace")

    def stop(self):
        _stop([self.proc])

    def client(self) -> AgentClient:
        """The agent's own API, signed with the host key (call it from a hub thread)."""
        return AgentClient(f"http://{self.ip}:{AGENT_PORT}", self.cloud.host_key, timeout=60,
                           host_id=self.spec.host_id)

    def log_tail(self, n: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        return ""


def _stop(procs: list[subprocess.Popen], timeout: float = 15):
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


class FakeCloud(StartClose):
    """A controller and fake hosts, each in a private network namespace; close() undoes all."""

    def __init__(self, workdir: Path | None = None, controller: dict | None = None, threads: int = 100):
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="ecs-fakecloud-"))
        self.hosts: list[FakeHost] = []
        self.controller_proc: subprocess.Popen | None = None
        self.netns: Netns | None = None
        self.pool: concurrent.futures.ThreadPoolExecutor | None = None
        self.settings = {
            # Every address of the hub: 127.0.0.1 for callers, each host's link for its agent.
            "controller": {"listen_address": "0.0.0.0", "port": CONTROLLER_PORT, "data_dir": self.workdir / "ctl",
                           "host_key_file": self.workdir / "host.key", "log_level": "info",
                           # Tests and benchmarks send far more than a user would.
                           "throttle_rate": 1000000, "throttle_burst": 10000000},
            "quota": {"instances": 1000000, "vcpus": 10000000, "disks": 10000000},
        }
        for sec, kv in (controller or {}).items():
            self.settings.setdefault(sec, {}).update(kv)
        self.threads = threads

    # ---- lifecycle ----

    @property
    def host_key_file(self) -> Path:
        return self.workdir / "host.key"

    def start(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o755)
        self.host_key = hashlib.sha256(os.urandom(32)).hexdigest()
        write_host_key(self.host_key_file, self.host_key)
        self.image_dir = self.workdir / "image"
        make_image(self.image_dir)
        self.ini = self.workdir / "controller.ini"
        self.ini.write_text("".join(f"[{sec}]\n" + "".join(f"{k} = {v}\n" for k, v in kv.items())
                                    for sec, kv in self.settings.items()))
        out = subprocess.run([CONTROLLER_BIN, "-c", self.ini, "account", "create", "bench"], capture_output=True,
                             text=True, check=True, timeout=30).stdout
        fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
        self.account_id, self.ak, self.secret = fields["AccountId"], fields["AccessKeyId"], fields["AccessKeySecret"]
        self.netns = Netns()
        subprocess.run(self.netns.argv(["sysctl", "-qw", "net.ipv4.ip_forward=1"]), check=True, timeout=30)
        self.pool = concurrent.futures.ThreadPoolExecutor(self.threads, initializer=self.netns.enter)
        self.controller_log = self.workdir / "controller.log"
        with open(self.controller_log, "ab") as log:
            self.controller_proc = subprocess.Popen(self.netns.argv([CONTROLLER_BIN, "-c", self.ini, "serve"]),
                                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                                    preexec_fn=_die_with_parent)
        wait_log_line(self.controller_log, 'msg="controller ready"', 20, "the controller to start",
                      proc=self.controller_proc)

    def close(self):
        # Calls still under way fail fast once the processes are gone: do not wait for them.
        if self.pool:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None
        procs = [h.proc for h in self.hosts if h.proc]
        _stop(procs)
        if self.controller_proc:
            _stop([self.controller_proc])
        for h in self.hosts:
            if h.netns:
                h.netns.close()
                h.netns = None
        if self.netns:
            self.netns.close()
            self.netns = None
        shutil.rmtree(self.workdir, ignore_errors=True)

    def controller_tail(self, n: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.controller_log.read_text(errors="replace").splitlines()[-n:])
        return ""

    def add_hosts(self, specs: list[HostSpec], timeout: float = 60) -> list[FakeHost]:
        """Start an agent per spec; return when every one is ready, has sent a heartbeat
        and has the image cached."""
        new = [FakeHost(self, len(self.hosts) + i, s) for i, s in enumerate(specs)]
        self.hosts += new
        for h in new:
            h.netns = Netns()
        # The links: made in the hub, one end moved into the host's namespace.
        self.netns.ip_batch([c for h in new for c in (
            f"link add {h.veth} type veth peer name eth0 netns {h.netns.holder.pid}",
            f"addr add {h.hub_ip}/30 dev {h.veth}", f"link set {h.veth} up")])
        for h in new:
            # Hosts reach each other through the hub (an overlay's underlay).
            h.netns.ip_batch([f"addr add {h.ip}/30 dev eth0", "link set eth0 up",
                              f"route add {LINKS} via {h.hub_ip}"])
            h.start()
        pending = list(new)

        def all_ready():
            pending[:] = [h for h in pending if not h.ready()]
            return not pending

        wait_for(all_ready, timeout, f"{len(new)} agents to be ready", 0.05, detail=self.controller_tail)
        want = {h.spec.host_id for h in new}
        wait_for(lambda: set(self.host_rows()), timeout, "the controller to hear every host", 0.05,
                 until=lambda heard: want <= heard, detail=self.controller_tail)
        # Cache the image on each host before anything is measured. Needed too: a first
        # create that must cache the image deadlocks when its instance id falls in the
        # image id's lock stripe (agent/image.c takes agent_lock(image) under
        # agent_lock(instance)); GET /v1/images/tiny caches it holding no instance lock.
        list(self.pool.map(lambda h: h.client().get("/v1/images/tiny"), new))
        return new

    # ---- calls ----

    def client(self) -> EcsClient:
        return EcsClient(f"http://127.0.0.1:{CONTROLLER_PORT}", self.ak, self.secret, timeout=120)

    def run(self, fn, *args, **kwargs):
        """Call fn inside the namespace (on a pool thread) and return its result."""
        return self.pool.submit(fn, *args, **kwargs).result()

    # ---- what the controller holds ----

    def db(self) -> sqlite3.Connection:
        db = sqlite3.connect(f"file:{self.workdir / 'ctl' / 'controller.db'}?mode=ro", uri=True, timeout=30)
        db.row_factory = sqlite3.Row
        return db

    def host_rows(self) -> dict[str, sqlite3.Row]:
        try:
            with contextlib.closing(self.db()) as db:
                return {r["host_id"]: r for r in db.execute("SELECT * FROM hosts")}
        except sqlite3.OperationalError:  # not made yet
            return {}

    def capacity(self) -> dict[str, Capacity]:
        """Each host's room, computed here from its heartbeat and the configured ratios (the
        rule of scheduler.h), not read from the scheduler."""
        s = self.settings.get("scheduler", {})
        cpu_ratio, ram_ratio = float(s.get("cpu_ratio", 16.0)), float(s.get("ram_ratio", 1.5))
        disk_ratio, reserved = float(s.get("disk_ratio", 1.0)), int(s.get("reserved_host_memory_mib", 512))
        return {h: Capacity(r["vcpus"] * cpu_ratio, (r["memory_mib"] - reserved) * ram_ratio,
                            r["disk_gib"] * disk_ratio, r["max_instances"])
                for h, r in self.host_rows().items()}

    def instances(self, ecs: EcsClient) -> list[dict]:
        """Every instance of the account, through DescribeInstances (pages of 100)."""
        out, page = [], 1
        while True:
            body = self.run(ecs.call, "DescribeInstances", PageSize=100, PageNumber=page)
            out += body["Instances"]["Instance"]
            if page * 100 >= body["TotalCount"]:
                return out
            page += 1

    def statuses(self, ecs: EcsClient) -> dict[str, str]:
        """InstanceId -> Status through DescribeInstanceStatus (pages of 100)."""
        out, page = {}, 1
        while True:
            body = self.run(ecs.call, "DescribeInstanceStatus", PageSize=100, PageNumber=page)
            out.update({s["InstanceId"]: s["Status"] for s in body["InstanceStatuses"]["InstanceStatus"]})
            if page * 100 >= body["TotalCount"]:
                return out
            page += 1

    def agent_instances(self) -> dict[str, list[str]]:
        """host_id -> the instance ids its agent holds, asked of each agent."""
        def one(h: FakeHost):
            return h.spec.host_id, [i["instance_id"] for i in h.client().get("/v1/instances")["instances"]]

        return dict(self.pool.map(one, self.hosts))
