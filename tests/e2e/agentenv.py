"""One simulated host for agent tests: a private libvirtd (hostsim), its own bridge on a
free 10.x.y.0/24, its own tap, chain and metadata settings, an ecs-agent, and helpers to
make instance specs and reach guests. close() removes everything it made: domains, taps,
the bridge, iptables chains, files."""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from agentlib import AgentClient, AgentProcess, ApiError, random_id
from conftest import REPO, _used_networks, run
from waiting import wait_for
from hostsim import PrivateLibvirt

SSH_OPTS = ["-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=4"]


def free_subnet() -> ipaddress.IPv4Network:
    used = _used_networks()
    for _ in range(200):
        net = ipaddress.ip_network(f"10.{secrets.randbelow(190) + 64}.{secrets.randbelow(256)}.0/24")
        if not any(net.overlaps(u) for u in used if u.prefixlen > 0):
            return net
    raise RuntimeError("no free 10.x.y.0/24")


def started(env):
    """For a fixture: `yield from started(SomeEnv(...))` starts env, yields it, and closes it
    afterwards, also when the start failed half-way."""
    try:
        env.start()
        yield env
    finally:
        env.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def remove_netfilter(prefix: str):
    """Remove every chain named PREFIX-* of the filter and nat tables (security groups, the
    metadata guard, load balancers and public IPs), every rule jumping to one, and every
    ipset named PREFIX-*; nothing else."""
    own = f"{prefix}-"
    for table in ("filter", "nat"):
        rules = run(["iptables-save", "-t", table], check=False).stdout.splitlines()
        chains = [line[1:].split()[0] for line in rules if line.startswith(":") and line[1:].startswith(own)]
        for r in rules:
            parts = r.split()
            if r.startswith("-A ") and not parts[1].startswith(own) and "-j" in parts \
                    and parts[parts.index("-j") + 1].startswith(own):
                run(["iptables", "-w", "-t", table, "-D", *parts[1:]], check=False)
        for c in chains:
            run(["iptables", "-w", "-t", table, "-F", c], check=False)
        for c in chains:
            run(["iptables", "-w", "-t", table, "-X", c], check=False)
    for name in run(["ipset", "list", "-n"], check=False).stdout.split():
        if name.startswith(own):
            run(["ipset", "destroy", name], check=False)


def rbd_extra(ceph) -> dict:
    """Agent settings for disks on RBD in the tests' Ceph cluster (cephenv.CephCluster)."""
    return {"storage.backend": "rbd", "ceph.conf": str(ceph.conf), "ceph.user": "ecs-agent",
            "ceph.keyring": str(ceph.keyring("client.ecs-agent")), "ceph.pool": "ecs-rbd"}


def rbd_images(ceph, pool: str = "ecs-rbd") -> list:
    """Every RBD image in the pool, as the cluster's admin sees it."""
    return sorted(ceph.cli("rbd", "ls", pool).stdout.split())


class AgentEnv:
    def __init__(self, image_dir: Path, controller_url: str = "", extra: dict | None = None, ceph=None):
        tag = secrets.token_hex(2)
        # With a Ceph cluster, disks are RBD images in it; else qcow2 files.
        self.ceph = ceph
        if ceph is not None:
            extra = {**rbd_extra(ceph), **(extra or {})}
        self.tag = tag
        self.workdir = Path(tempfile.mkdtemp(prefix=f"ecs-agent-{tag}-"))
        self.workdir.chmod(0o755)
        self.net = free_subnet()
        self.gw = str(self.net.network_address + 1)
        self._next_ip = 10
        self.bridge = f"ecsbr{tag}"
        self.tap_prefix = f"et{tag}"
        self.chain_prefix = f"ECSE{tag.upper()}"
        self.libvirt = PrivateLibvirt(self.workdir / "libvirt")
        # The agent finds images in <data_dir>/../images, as under `make up`.
        (self.workdir / "images").mkdir()
        os.symlink(image_dir, self.workdir / "images" / "tiny")
        # The folder images may be imported from ([images] import_dirs).
        self.import_dir = self.workdir / "import"
        self.import_dir.mkdir()
        self.agent = AgentProcess(
            self.workdir, bridge=self.bridge, gateway=f"{self.gw}/{self.net.prefixlen}",
            metadata_ip=self.gw, metadata_port=free_port(), chain_prefix=self.chain_prefix,
            tap_prefix=self.tap_prefix, controller_url=controller_url,
            extra={"agent.libvirt_uri": "", "images.import_dirs": str(self.import_dir), **(extra or {})})
        self.key_path = self.workdir / "id_ed25519"
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ecs-e2e", "-f", self.key_path])
        self.pubkey = (self.workdir / "id_ed25519.pub").read_text().strip()

    # ---- lifecycle ----

    def start(self) -> "AgentEnv":
        self.rbd_before = set(rbd_images(self.ceph)) if self.ceph is not None else set()
        self.libvirt.start()
        self.agent.extra["agent.libvirt_uri"] = self.libvirt.uri
        self.agent.start()
        return self

    @property
    def client(self) -> AgentClient:
        return self.agent.client()

    def restart_agent(self, env: dict | None = None):
        self.agent.stop()
        self.agent.start(env=env)

    def close(self):
        with contextlib.suppress(Exception):
            self.agent.stop()
        with contextlib.suppress(Exception):
            self.libvirt.close()
        for link in run(["ip", "-o", "link", "show"], check=False).stdout.splitlines():
            name = link.split(":")[1].strip().split("@")[0]
            if name.startswith(self.tap_prefix) or name == self.bridge:
                run(["ip", "link", "del", name], check=False)
        self.remove_chains()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def remove_chains(self):
        """The agent's chains (PREFIX-META, PREFIX-FWD, PREFIX-I-tap, PREFIX-PRE, ...), the jumps
        to them and its ipsets: whatever a run left, even after a failure."""
        remove_netfilter(self.chain_prefix)

    # ---- specs ----

    def allocate_ip(self) -> str:
        ip = str(self.net.network_address + self._next_ip)
        self._next_ip += 1
        return ip

    def spec(self, *, hostname: str | None = None, user_data: str | None = None, data_disks=(), image="tiny",
             start=True, memory_mib=256, password_hash: str | None = None) -> dict:
        iid = random_id("i-")
        ip = self.allocate_ip()
        s = {
            "instance_id": iid,
            "hostname": hostname or f"vm-{iid[2:8]}",
            "vcpus": 1, "memory_mib": memory_mib, "image_id": image,
            "system_disk": {"disk_id": random_id("d-"), "size_gib": 1},
            "nics": [{"mac": "52:54:00:%02x:%02x:%02x" % tuple(secrets.token_bytes(3)), "ip": ip,
                      "prefix_len": self.net.prefixlen, "gateway": self.gw, "dns": [self.gw]}],
            "public_keys": [self.pubkey],
            "start": start,
        }
        if data_disks:
            s["data_disks"] = list(data_disks)
        if user_data is not None:
            s["user_data"] = base64.b64encode(user_data.encode()).decode()
        if password_hash:
            s["password_hash"] = password_hash
        return s

    def create(self, spec: dict) -> dict:
        return self.client.put(f"/v1/instances/{spec['instance_id']}", spec)

    # ---- guests ----

    @staticmethod
    def ip_of(spec: dict) -> str:
        return spec["nics"][0]["ip"]

    def ssh(self, spec: dict, command: str, *, check=True, timeout=30) -> subprocess.CompletedProcess:
        p = subprocess.run(["ssh", *SSH_OPTS, "-i", str(self.key_path), f"root@{self.ip_of(spec)}", command],
                           capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(self.explain(spec, f"ssh {command!r} exited {p.returncode}: {p.stderr.strip()}"))
        return p

    def ssh_password(self, spec: dict, command: str, password: str, timeout: float = 30):
        """Log in with a password (OpenSSH reads it from SSH_ASKPASS)."""
        askpass = self.workdir / "askpass"
        askpass.write_text(f"#!/bin/sh\nprintf '%s\\n' '{password}'\n")
        askpass.chmod(0o700)
        env = dict(os.environ, SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
        argv = ["ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password,keyboard-interactive",
                "-o", "NumberOfPasswordPrompts=1", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5",
                f"root@{self.ip_of(spec)}", command]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                              stdin=subprocess.DEVNULL)

    def wait_ssh(self, spec: dict, timeout: float = 150) -> float:
        """Wait until an SSH command succeeds; return the seconds it took."""
        t0 = time.monotonic()

        def try_ssh():
            try:
                with socket.create_connection((self.ip_of(spec), 22), timeout=2):
                    pass
                p = self.ssh(spec, "true", check=False, timeout=15)
                return 0 if p.returncode == 0 else p.stderr.strip() or f"ssh exited {p.returncode}"
            except (OSError, subprocess.TimeoutExpired) as e:
                return str(e)

        wait_for(try_ssh, timeout, f"SSH to {self.ip_of(spec)}", until=lambda r: r == 0,
                 detail=lambda: self.explain(spec, ""))
        return time.monotonic() - t0

    def console(self, spec: dict) -> str:
        try:
            out = self.client.get(f"/v1/instances/{spec['instance_id']}/console")
            return base64.b64decode(out["console_output"]).decode(errors="replace")
        except Exception as e:  # noqa: BLE001 - only for diagnostics
            return f"(no console: {e})"

    def wait_console(self, spec: dict, text: str, timeout: float = 60, after: int = 0):
        wait_for(lambda: text in self.console(spec)[after:], timeout, f"{text!r} on the console",
                 detail=lambda: self.explain(spec, ""))

    def explain(self, spec: dict, msg: str) -> str:
        tail = "\n".join(self.console(spec).splitlines()[-30:])
        return f"{msg}\n--- console tail ---\n{tail}\n--- agent log tail ---\n{self.agent.log_tail(30)}"

    def describe(self, spec_or_id) -> dict:
        iid = spec_or_id if isinstance(spec_or_id, str) else spec_or_id["instance_id"]
        return self.client.get(f"/v1/instances/{iid}")

    def wait_status(self, spec, status: str, timeout: float = 60) -> dict:
        """Wait for the agent to report the instance in `status`; return its description."""

        def described():
            d = self.describe(spec)
            return {k: d.get(k) for k in ("status", "domain_state", "error")}, d

        return wait_for(described, timeout, f"status {status!r}", 0.3, until=lambda r: r[0]["status"] == status)[1]

    # ---- what is on the host ----

    def taps(self) -> list[str]:
        out = run(["ip", "-o", "link", "show"]).stdout
        return sorted(l.split(":")[1].strip().split("@")[0] for l in out.splitlines()
                      if l.split(":")[1].strip().startswith(self.tap_prefix))

    def files(self, sub: str) -> list[str]:
        d = self.agent.data_dir / sub
        return sorted(p.name for p in d.iterdir()) if d.exists() else []

    def host_state(self) -> dict:
        """Everything this agent could leave behind."""
        s = {"domains": sorted(self.libvirt.domains()), "taps": self.taps(), "disks": self.files("disks"),
             "instances": self.files("instances"), "snapshots": self.files("snapshots"),
             "tmp": self.files("tmp")}
        if self.ceph is not None:
            # The pool is shared by the session's agents (one after the other): what was
            # there before this one started is not its own.
            new = [n for n in rbd_images(self.ceph) if n not in self.rbd_before]
            names = [n for n in new if n.startswith("disk-")]
            # Temporaries of any kind (disk-*.tmp, img-*.tmp, ...) are orphans once settled.
            s["tmp"] += [n for n in new if "." in n]
            s["disks"] = [n for n in names if "." not in n]
            # Snapshots in RADOS of this agent's disks (and of deleted disks kept for theirs).
            s["rbd_snaps"] = sorted(
                f"{n}@{snap['name']}" for n in new if "." not in n and n.startswith(("disk-", "snaps-"))
                for snap in json.loads(self.ceph.cli("rbd", "snap", "ls", "--format", "json", f"ecs-rbd/{n}",
                                                     check=False).stdout or "[]"))
        return s

    def rbd_images(self, trash: bool = False) -> list:
        """The pool's images (with trash: also those in its trash), as the admin sees them."""
        names = rbd_images(self.ceph)
        if trash:
            out = json.loads(self.ceph.cli("rbd", "trash", "ls", "--format", "json", "ecs-rbd").stdout)
            names += [e["name"] for e in out]
        return names

    def disk_names(self, disk_ids) -> list:
        """What the backend holds for these disks (files or RBD images)."""
        if self.ceph is not None:
            return sorted(f"disk-{d}" for d in disk_ids)
        return sorted(f"{d}.qcow2" for d in disk_ids)

    def wait_converged(self, predicate, timeout: float = 60, what: str = "convergence"):
        """Wait until predicate(host_state()) holds; return that state."""
        return wait_for(self.host_state, timeout, what, until=predicate, detail=lambda: self.agent.log_tail(40))
