"""Fixtures for end-to-end tests that boot real guests under libvirt.

    libvirt      (session) a connection URI to qemu:///system; starts virtlogd
                 and libvirtd when none answer, and stops exactly those at the end;
                 opens /dev/kvm to group kvm meanwhile, as udev would (see
                 _kvm_open_to_qemu_user: without it every libvirt call re-probes QEMU)
    tiny_image   (session) the "tiny" guest image (images/build.sh), as an Image;
                 $ECS_IMAGE_DIR overrides build/images/tiny
    test_net     a private bridge with a random free 10.x.y.0/24 on the host side
    make_guest   a GuestFactory: make_guest(net, image, ...) -> a started Guest
                 with an overlay disk, an SSH key and a NoCloud config drive;
                 removed at the end of the test, even when it fails
    module_net, module_make_guest
                 the same, shared by the tests of one module (boot once)
    _host_ip_forward_kept
                 (session, autouse) puts net.ipv4.ip_forward back as the run found it

Every name carries a per-run random suffix (bridge ecsbr<hex>, tap eimg<hex>,
domain ecsimg-<hex>), outside the prefixes a running agent owns (ecs-i-…, ecst…), and
teardown removes only what these fixtures made.
When a test fails, the tail of each live guest's serial console is added to
its report. Traffic goes only to the guests on the test bridge.
"""

from __future__ import annotations

import contextlib
import grp
import ipaddress
import json
import os
import random
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
from waiting import pid_exited, wait_for

REPO = Path(__file__).resolve().parents[2]
URI = "qemu:///system"
SSH_TIMEOUT = 120  # seconds from domain start to the first SSH command

# Guests alive now, for the console tails added to failed reports.
_LIVE_GUESTS: list["Guest"] = []


def run(cmd, *, check=True, timeout=60, input=None):
    """Run a command (list of str/Path) and return the CompletedProcess."""
    cmd = [str(c) for c in cmd]
    p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip() or p.stdout.strip()}")
    return p


def domain_type() -> str:
    """'kvm' only with hardware virtualisation (vmx/svm); else 'qemu' (TCG).

    /dev/kvm alone is not enough: on these hosts it is PVM, which boots no
    stock kernel, while libvirt still advertises kvm.
    """
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "qemu"
    has = any(w in ("vmx", "svm") for line in flags.splitlines() if line.startswith("flags") for w in line.split())
    return "kvm" if has and os.path.exists("/dev/kvm") else "qemu"


def _unix_listening(path: str) -> bool:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(2)
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


# ---------------------------------------------------------------- libvirt


def _virsh_ok() -> bool:
    try:
        return run(["virsh", "-c", URI, "version"], check=False, timeout=15).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def _stop_pidfile(pidfile: Path):
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if not pid_exited(pid, 10, pidfile.name):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@contextlib.contextmanager
def _kvm_open_to_qemu_user():
    """Make /dev/kvm root:kvm 0660, as udev would, for as long as the block runs.

    Hosts without udev leave it root-only (0600). libvirt then finds KVM
    "enabled when probing but not available now" for its qemu user and throws
    its capabilities cache away on every call, re-probing QEMU for seconds each
    time (a define takes a minute). Guests still run as TCG: domain_type()
    decides, not libvirt.
    """
    kvm = Path("/dev/kvm")
    try:
        gid = grp.getgrnam("kvm").gr_gid
        st = kvm.stat()
    except (KeyError, OSError):
        yield
        return
    if os.geteuid() != 0 or (st.st_gid == gid and st.st_mode & 0o060 == 0o060):
        yield
        return
    os.chown(kvm, -1, gid)
    kvm.chmod((st.st_mode & 0o7777) | 0o060)
    try:
        yield
    finally:
        os.chown(kvm, -1, st.st_gid)
        kvm.chmod(st.st_mode & 0o7777)


@pytest.fixture(scope="session", autouse=True)
def _host_ip_forward_kept():
    """An agent in the root namespace turns net.ipv4.ip_forward on for its load balancers and
    public IPs (agent/slb.c), as it should on a host; the test run puts the machine's own
    value back at its end, whichever tests started agents."""
    knob = Path("/proc/sys/net/ipv4/ip_forward")
    before = knob.read_text()
    yield
    with contextlib.suppress(OSError):
        if knob.read_text() != before:
            knob.write_text(before)


@pytest.fixture(scope="session")
def libvirt(tmp_path_factory):
    """The libvirt URI; libvirtd (and virtlogd) are started if not running."""
    with _kvm_open_to_qemu_user():
        if _virsh_ok():
            yield URI
            return
        if os.geteuid() != 0:
            pytest.skip("libvirtd is not running and only root may start it")
        d = tmp_path_factory.mktemp("libvirt")
        started: list[Path] = []
        try:
            # Domain start fails with "virtlogd-sock: No such file" without it.
            if not _unix_listening("/run/libvirt/virtlogd-sock"):
                pid = d / "virtlogd.pid"
                run(["virtlogd", "-d", "-p", pid])
                started.append(pid)
            pid = d / "libvirtd.pid"
            run(["libvirtd", "-d", "-p", pid])
            started.append(pid)
            wait_for(_virsh_ok, 60, "libvirtd to answer on qemu:///system", 0.3)
            yield URI
        finally:
            for pid in reversed(started):
                _stop_pidfile(pid)


# ---------------------------------------------------------------- image


@dataclass
class Image:
    dir: Path
    manifest: dict

    def path(self, key: str) -> Path:
        return self.dir / self.manifest[key]

    @property
    def disk(self) -> Path:
        return self.path("disk")

    @property
    def kernel(self) -> Path:
        return self.path("kernel")

    @property
    def initrd(self) -> Path:
        return self.path("initrd")

    @property
    def cmdline(self) -> str:
        return self.manifest["cmdline"]


@pytest.fixture(scope="session")
def tiny_image() -> Image:
    """The tiny image: $ECS_IMAGE_DIR as it is (built if missing), or
    build/images/tiny brought up to date (images/build.sh returns in about 2 s
    when nothing changed)."""
    given = os.environ.get("ECS_IMAGE_DIR")
    d = Path(given or REPO / "build/images/tiny").resolve()
    if not given or not (d / "manifest.json").exists():
        env = dict(os.environ)
        env.setdefault("ECS_CACHE_DIR", str(REPO / "build/cache"))
        subprocess.run([str(REPO / "images/build.sh"), str(d)], env=env, check=True, timeout=900)
    return Image(d, json.loads((d / "manifest.json").read_text()))


# ---------------------------------------------------------------- network


def _used_networks() -> list:
    nets = []
    out = run(["ip", "-4", "-o", "addr", "show"]).stdout + run(["ip", "-4", "route", "show", "table", "all"]).stdout
    for word in out.split():
        if "/" in word and word[0].isdigit():
            try:
                nets.append(ipaddress.ip_network(word, strict=False))
            except ValueError:
                pass
    return nets


@dataclass
class TestNet:
    """A host bridge on a private /24: the host is .1, guests get .10 and up."""

    __test__ = False  # not a test class, despite the name
    bridge: str
    network: ipaddress.IPv4Network
    _next: int = 10

    @property
    def host_ip(self) -> str:
        return str(self.network.network_address + 1)

    @property
    def prefixlen(self) -> int:
        return self.network.prefixlen

    def allocate_ip(self) -> str:
        ip = str(self.network.network_address + self._next)
        self._next += 1
        return ip


@contextlib.contextmanager
def bridge_net():
    """A fresh bridge ecsbr<hex> with 10.x.y.1/24 on the host; removed on exit."""
    name = f"ecsbr{secrets.token_hex(3)}"
    used = _used_networks()
    for _ in range(100):
        net = ipaddress.ip_network(f"10.{random.randint(64, 254)}.{random.randint(0, 255)}.0/24")
        if not any(net.overlaps(u) for u in used if u.prefixlen > 0):
            break
    else:
        raise RuntimeError("no free 10.x.y.0/24 for the test bridge")
    run(["ip", "link", "add", name, "type", "bridge", "stp_state", "0", "forward_delay", "0"])
    try:
        # No IPv6 chatter (router solicitations, DAD) on the test bridge.
        v6 = Path(f"/proc/sys/net/ipv6/conf/{name}/disable_ipv6")
        if v6.exists():
            v6.write_text("1")
        run(["ip", "addr", "add", f"{net.network_address + 1}/{net.prefixlen}", "dev", name])
        run(["ip", "link", "set", name, "up"])
        yield TestNet(name, net)
    finally:
        run(["ip", "link", "del", name], check=False)


@pytest.fixture
def test_net():
    """A private bridge for one test."""
    with bridge_net() as net:
        yield net


@pytest.fixture(scope="module")
def module_net():
    """A private bridge shared by the tests of a module."""
    with bridge_net() as net:
        yield net


# ---------------------------------------------------------------- guests


def _yaml_str(s: str) -> str:
    return json.dumps(s)  # a JSON string is a valid double-quoted YAML scalar


@dataclass
class Guest:
    """One libvirt domain booted from an image with a NoCloud config drive."""

    name: str
    workdir: Path
    ip: str
    mac: str
    tap: str
    hostname: str
    instance_id: str
    key: Path
    uri: str = URI
    started_at: float = 0.0
    boot_to_ssh: float | None = None

    @property
    def console_log(self) -> Path:
        return self.workdir / "console.log"

    def console(self) -> str:
        try:
            return self.console_log.read_text(errors="replace")
        except OSError:
            return ""

    def console_tail(self, lines: int = 40) -> str:
        return "\n".join(self.console().splitlines()[-lines:])

    @property
    def qemu_log(self) -> Path:
        """libvirt's log of this domain's QEMU (command line, QEMU's errors)."""
        return Path("/var/log/libvirt/qemu") / f"{self.name}.log"

    def explain(self, msg: str) -> str:
        """msg with the console tail appended, for assertion messages."""
        return f"{msg}\n--- serial console of {self.name} (tail) ---\n{self.console_tail()}"

    def virsh(self, *args, check=True, timeout=60):
        return run(["virsh", "-c", self.uri, *args], check=check, timeout=timeout)

    def state(self) -> str:
        p = self.virsh("domstate", self.name, check=False)
        return p.stdout.strip() if p.returncode == 0 else "undefined"

    def ssh_argv(self, command: str, *, key: Path | None = None, connect_timeout: int = 5) -> list:
        return [
            "ssh", "-F", "/dev/null", "-i", str(key or self.key),
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR",
            "-o", f"ConnectTimeout={connect_timeout}",
            f"root@{self.ip}", command,
        ]  # fmt: skip

    def ssh(self, command: str, *, check=True, timeout=30, key: Path | None = None) -> subprocess.CompletedProcess:
        """Run command in the guest as root over OpenSSH (with this guest's key, or key)."""
        p = subprocess.run(self.ssh_argv(command, key=key), capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(self.explain(f"ssh {command!r} exited {p.returncode}: {p.stderr.strip()}"))
        return p

    def ssh_password(self, command: str, password: str, *, timeout=30) -> subprocess.CompletedProcess:
        """Run command as root logging in with a password (OpenSSH reads it from SSH_ASKPASS)."""
        askpass = self.workdir / "askpass"
        askpass.write_text(f"#!/bin/sh\nprintf '%s\\n' {shlex.quote(password)}\n")
        askpass.chmod(0o700)
        env = dict(os.environ, SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
        argv = [
            "ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password,keyboard-interactive",
            "-o", "NumberOfPasswordPrompts=1", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5",
            f"root@{self.ip}", command,
        ]  # fmt: skip
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)

    def wait_console(self, text: str, timeout: float = 60, after: int = 0):
        """Wait for text on the serial console (past offset `after`)."""
        wait_for(lambda: text in self.console()[after:], timeout, f"{text!r} on {self.name}'s console", 0.2,
                 detail=lambda: self.explain(f"domain {self.state()!r}"))

    def wait_ssh(self, timeout: float = SSH_TIMEOUT) -> float:
        """Wait until an SSH command succeeds; return seconds since start. A domain that stops
        running meanwhile fails at once (its state is read every 5 s)."""
        next_state_check = 0.0

        def try_ssh():
            nonlocal next_state_check
            if time.monotonic() >= next_state_check:
                st = self.state()
                if st not in ("running", "in shutdown"):
                    raise AssertionError(self.explain(f"domain is {st!r} while waiting for SSH"))
                next_state_check = time.monotonic() + 5
            try:
                with socket.create_connection((self.ip, 22), timeout=1):
                    pass
            except OSError as e:
                return f"port 22: {e}"
            try:
                p = subprocess.run(self.ssh_argv("true"), capture_output=True, text=True, timeout=15)
            except subprocess.TimeoutExpired:
                return "ssh timed out"
            return 0 if p.returncode == 0 else p.stderr.strip() or f"ssh exited {p.returncode}"

        wait_for(try_ssh, timeout, f"SSH on {self.ip}", 0.3, until=lambda r: r == 0,
                 detail=lambda: self.explain(f"domain {self.state()!r}"))
        return time.monotonic() - self.started_at

    def http_get(self, path: str = "/", port: int = 80, timeout: float = 5) -> str:
        """GET from the guest directly: proxies from the environment are ignored."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"http://{self.ip}:{port}{path}", timeout=timeout) as r:
            return r.read().decode()

    def destroy(self):
        """Remove the domain, its tap and its files. Safe to call twice."""
        if self.state() != "undefined":  # the name is ours: a per-run random suffix
            self.virsh("destroy", self.name, check=False)
            self.virsh("undefine", self.name, check=False)
        # libvirt deletes the tap with the domain; make sure (it is ours by name).
        if Path(f"/sys/class/net/{self.tap}").exists():
            run(["ip", "link", "del", self.tap], check=False)
        with contextlib.suppress(OSError):
            self.qemu_log.unlink()
        if self in _LIVE_GUESTS:
            _LIVE_GUESTS.remove(self)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _seed_iso(workdir: Path, meta: str, network: str, user_data: str | None) -> Path:
    seed = workdir / "seed"
    seed.mkdir()
    (seed / "meta-data").write_text(meta)
    (seed / "network-config").write_text(network)
    files = ["meta-data", "network-config"]
    if user_data is not None:
        (seed / "user-data").write_text(user_data)
        files.append("user-data")
    iso = workdir / "seed.iso"
    run(["genisoimage", "-quiet", "-output", iso, "-volid", "cidata", "-joliet", "-rock",
         *[seed / f for f in files]])  # fmt: skip
    return iso


def _domain_xml(g: Guest, image: Image, net: TestNet, disk: Path, iso: Path, memory_mib: int) -> str:
    dom = ET.Element("domain", type=domain_type())
    ET.SubElement(dom, "name").text = g.name
    ET.SubElement(dom, "memory", unit="MiB").text = str(memory_mib)
    ET.SubElement(dom, "vcpu").text = "1"
    os_ = ET.SubElement(dom, "os")
    ET.SubElement(os_, "type", arch="x86_64", machine="pc").text = "hvm"
    ET.SubElement(os_, "kernel").text = str(image.kernel)
    ET.SubElement(os_, "initrd").text = str(image.initrd)
    ET.SubElement(os_, "cmdline").text = image.cmdline
    # ACPI lets "virsh shutdown/reboot" press the power button (acpid in the guest).
    ET.SubElement(ET.SubElement(dom, "features"), "acpi")
    # No <cpu>: TCG's default model (qemu64) is fine and kvm picks its own.
    ET.SubElement(dom, "on_poweroff").text = "destroy"
    ET.SubElement(dom, "on_reboot").text = "restart"
    ET.SubElement(dom, "on_crash").text = "destroy"
    dev = ET.SubElement(dom, "devices")
    d = ET.SubElement(dev, "disk", type="file", device="disk")
    ET.SubElement(d, "driver", name="qemu", type="qcow2")
    ET.SubElement(d, "source", file=str(disk))
    ET.SubElement(d, "target", dev="vda", bus="virtio")
    c = ET.SubElement(dev, "disk", type="file", device="cdrom")
    ET.SubElement(c, "driver", name="qemu", type="raw")
    ET.SubElement(c, "source", file=str(iso))
    ET.SubElement(c, "target", dev="hdc", bus="ide")
    ET.SubElement(c, "readonly")
    i = ET.SubElement(dev, "interface", type="bridge")
    ET.SubElement(i, "source", bridge=net.bridge)
    ET.SubElement(i, "target", dev=g.tap)
    ET.SubElement(i, "mac", address=g.mac)
    ET.SubElement(i, "model", type="virtio")
    s = ET.SubElement(dev, "serial", type="file")
    ET.SubElement(s, "source", path=str(g.console_log))
    ET.SubElement(s, "target", port="0")
    cons = ET.SubElement(dev, "console", type="file")
    ET.SubElement(cons, "source", path=str(g.console_log))
    ET.SubElement(cons, "target", type="serial", port="0")
    # Entropy for the guest's first-boot SSH host key.
    rng = ET.SubElement(dev, "rng", model="virtio")
    ET.SubElement(rng, "backend", model="random").text = "/dev/urandom"
    ET.SubElement(dev, "memballoon", model="none")
    return ET.tostring(dom, encoding="unicode")


class GuestFactory:
    """make(net, image, user_data=None, hostname=None) -> a defined, started Guest.

    The caller waits for it (guest.wait_ssh()). close() destroys and undefines
    every guest made.
    """

    def __init__(self, uri: str):
        self.uri = uri
        self.made: list[Guest] = []
        # libvirt chowns a backing file to its qemu user and leaves it so:
        # the owners of the images used, given back at close().
        self.owners: dict[Path, tuple[int, int]] = {}

    def __call__(self, net: TestNet, image: Image, *, user_data: str | None = None, hostname: str | None = None,
                 memory_mib: int = 256, disk_size: str = "1G") -> Guest:  # fmt: skip
        hexid = secrets.token_hex(3)
        # libvirt-qemu must reach the files: a world-searchable dir (pytest's is 0700).
        workdir = Path(tempfile.mkdtemp(prefix=f"ecs-e2e-{hexid}-"))
        workdir.chmod(0o755)
        g = Guest(
            name=f"ecsimg-{hexid}",
            workdir=workdir,
            ip=net.allocate_ip(),
            mac="52:54:00:%02x:%02x:%02x" % tuple(secrets.token_bytes(3)),
            tap=f"eimg{hexid}",
            hostname=hostname or f"tiny-{hexid}",
            instance_id=f"i-e2e{hexid}",
            key=workdir / "id_ed25519",
            uri=self.uri,
        )
        self.made.append(g)
        _LIVE_GUESTS.append(g)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ecs-e2e", "-f", g.key])
        pub = (workdir / "id_ed25519.pub").read_text().strip()
        meta = (
            f"instance-id: {g.instance_id}\n"
            f"local-hostname: {g.hostname}\n"
            f"public-keys:\n  - {_yaml_str(pub)}\n"
        )
        network = (
            "version: 2\n"
            "ethernets:\n"
            "  nic0:\n"
            "    match:\n"
            f'      macaddress: "{g.mac}"\n'
            f"    addresses: [{g.ip}/{net.prefixlen}]\n"
            f"    gateway4: {net.host_ip}\n"
            "    nameservers:\n"
            f"      addresses: [{net.host_ip}]\n"
        )
        iso = _seed_iso(workdir, meta, network, user_data)
        disk = workdir / "disk.qcow2"
        base = image.disk.resolve()
        if base not in self.owners:
            st = base.stat()
            self.owners[base] = (st.st_uid, st.st_gid)
        run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", disk, disk_size])
        xml = workdir / "domain.xml"
        xml.write_text(_domain_xml(g, image, net, disk, iso, memory_mib))
        g.virsh("define", xml)
        g.started_at = time.monotonic()
        g.virsh("start", g.name)
        return g

    def close(self):
        for g in self.made:
            g.destroy()
        self.made.clear()
        for path, (uid, gid) in self.owners.items():
            with contextlib.suppress(OSError):
                os.chown(path, uid, gid)


@pytest.fixture
def make_guest(libvirt):
    """A GuestFactory whose guests live for one test."""
    f = GuestFactory(libvirt)
    try:
        yield f
    finally:
        f.close()


@pytest.fixture(scope="module")
def module_make_guest(libvirt):
    """A GuestFactory whose guests are shared by the tests of a module."""
    f = GuestFactory(libvirt)
    try:
        yield f
    finally:
        f.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, add the console tail of every live guest to the report."""
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call":
        item.rep_call = rep  # for fixtures that add their own logs to a failure
    if rep.failed:
        for g in list(_LIVE_GUESTS):
            rep.sections.append((f"serial console {g.name} (tail)", g.console_tail(60)))
            with contextlib.suppress(OSError):
                qemu = g.qemu_log.read_text(errors="replace").splitlines()[-15:]
                rep.sections.append((f"qemu log {g.name} (tail)", "\n".join(qemu)))


# ---------------------------------------------------------------- agents


@pytest.fixture(scope="module")
def agent_env(tiny_image, ceph_cluster):
    """One simulated host with an ecs-agent (tests/e2e/agentenv.py), shared by a module; its
    disks are RBD images in the session's Ceph cluster."""
    from agentenv import AgentEnv, started

    yield from started(AgentEnv(tiny_image.dir, ceph=ceph_cluster))


@pytest.fixture(scope="module")
def qcow2_agent_env(tiny_image):
    """The same with disks as local qcow2 files (hosts without Ceph)."""
    from agentenv import AgentEnv, started

    yield from started(AgentEnv(tiny_image.dir))


@pytest.fixture
def fresh_agent_env(tiny_image, ceph_cluster):
    """A simulated host for one test (for tests that crash or restart things)."""
    from agentenv import AgentEnv, started

    yield from started(AgentEnv(tiny_image.dir, ceph=ceph_cluster))


@pytest.fixture(scope="module")
def cloud(tiny_image, ceph_cluster):
    """A controller with one simulated host, shared by a module (tests/e2e/cloudenv.py); its
    disks are RBD images in the session's Ceph cluster."""
    from agentenv import started
    from cloudenv import CloudEnv

    yield from started(CloudEnv(tiny_image.dir, ceph=ceph_cluster))


# ---------------------------------------------------------------- ceph


@pytest.fixture(scope="session")
def ceph_cluster():
    """The tests' own Ceph cluster (tests/e2e/cephenv.py), made on first use, once a session."""
    from cephenv import CephCluster

    cluster = CephCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()
