"""The tests' own Ceph cluster: scripts/ceph.sh (the same bring-up as `make up`) run with a
fsid, monitor ports, data, run and log dirs of its own under a temporary dir, and a small
OSD file, so a test session never touches the cluster `make up` runs (/var/lib/ecs/ceph on
ports 3300/6789). destroy() stops it and removes every file, and kills by pid whatever
daemon still names its ceph.conf, so a bring-up cut short leaves nothing behind.

Clients must be Debian's /usr/bin/python3 (pyenv's python cannot import rados).
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "ceph.sh"
POOL_RBD = "ecs-rbd"
POOL_OSS = "ecs-oss"
POOL_OTS = "ecs-ots"
POOL_CTL = "ecs-ctl"
POOLS = (POOL_RBD, POOL_OSS, POOL_OTS, POOL_CTL)
USERS = ("client.ecs-agent", "client.ecs-ossd", "client.ecs-otsd", "client.ecs-controller")
DAEMONS = {"mon.a": "ceph-mon", "mgr.x": "ceph-mgr", "osd.0": "ceph-osd"}


def _free_port(taken: set) -> int:
    """A port free on 127.0.0.1, below the ephemeral range and not Ceph's defaults."""
    for _ in range(200):
        port = random.randint(10000, 30000)
        if port in taken:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        taken.add(port)
        return port
    raise RuntimeError("no free port for a monitor")


def script_env() -> dict:
    """The environment for scripts/ceph.sh without any ECS_CEPH_* of the caller's."""
    return {k: v for k, v in os.environ.items() if not k.startswith("ECS_CEPH_")}


class CephCluster:
    def __init__(self, osd_size: str = "4G"):
        # Under /tmp with a short name: admin sockets in the run dir need a short path.
        self.base = Path(tempfile.mkdtemp(prefix="ecs-ceph-", dir="/tmp"))
        self.data_dir = self.base / "data"
        self.run_dir = self.base / "run"
        self.log_dir = self.base / "log"
        self.conf = self.data_dir / "ceph.conf"
        self.fsid = str(uuid.uuid4())
        taken = {3300, 6789}
        self.mon_port = _free_port(taken)
        self.mon_v1_port = _free_port(taken)
        self.osd_size = osd_size

    # ------------------------------------------------------------ the script

    def args(self) -> list:
        """Every parameter of this cluster, as options of scripts/ceph.sh."""
        return ["--config", "/dev/null", "--data-dir", str(self.data_dir), "--run-dir", str(self.run_dir),
                "--log-dir", str(self.log_dir), "--fsid", self.fsid, "--mon-port", str(self.mon_port),
                "--mon-v1-port", str(self.mon_v1_port), "--osd-size", self.osd_size]

    def script(self, *cmd, check: bool = True, timeout: float = 240) -> subprocess.CompletedProcess:
        p = subprocess.run([str(SCRIPT), *self.args(), *cmd], capture_output=True, text=True,
                           timeout=timeout, env=script_env())
        if check and p.returncode != 0:
            raise RuntimeError(f"ceph.sh {' '.join(cmd)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}"
                               f"\n{self.log_tail()}")
        return p

    def start(self) -> subprocess.CompletedProcess:
        return self.script("up")

    def stop(self) -> subprocess.CompletedProcess:
        return self.script("down")

    def destroy(self):
        """Stop every daemon of this cluster and remove its files, whatever state it is in."""
        with contextlib.suppress(Exception):
            self.script("destroy", check=False, timeout=60)
        for pid in self.stray_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while self.stray_pids() and time.monotonic() < deadline:
            time.sleep(0.1)
        shutil.rmtree(self.base, ignore_errors=True)

    def stray_pids(self) -> list:
        """Pids of processes whose command line names this cluster's ceph.conf."""
        needle = str(self.conf).encode()
        pids = []
        for d in Path("/proc").iterdir():
            if not d.name.isdigit() or int(d.name) == os.getpid():
                continue
            with contextlib.suppress(OSError):
                if needle in (d / "cmdline").read_bytes().split(b"\0"):
                    pids.append(int(d.name))
        return pids

    def log_tail(self, lines: int = 15) -> str:
        out = []
        for f in sorted(self.log_dir.glob("*.log")) if self.log_dir.exists() else []:
            with contextlib.suppress(OSError):
                out.append(f"--- {f.name}\n" + "\n".join(f.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(out)

    # ------------------------------------------------------------ clients

    def keyring(self, user: str = "client.admin") -> Path:
        return self.data_dir / "keys" / f"ceph.{user}.keyring"

    def cli(self, tool: str, *args, user: str = "client.admin", check: bool = True,
            timeout: float = 60) -> subprocess.CompletedProcess:
        """Run ceph, rados or rbd as USER with its own keyring."""
        cmd = [tool, "-c", str(self.conf), "-n", user, "--keyring", str(self.keyring(user)), *map(str, args)]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()}")
        return p

    def ceph(self, *args, **kw) -> str:
        return self.cli("ceph", *args, **kw).stdout

    def rados_connect(self, user: str):
        """A connected rados.Rados as USER (the caller shuts it down)."""
        import rados

        r = rados.Rados(conffile=str(self.conf), name=user, conf={"keyring": str(self.keyring(user))})
        r.connect(timeout=10)
        return r

    def daemon_pids(self) -> dict:
        """{"mon.a": pid, ...} for each daemon whose pid file names a live process of its kind."""
        out = {}
        for name, comm in DAEMONS.items():
            with contextlib.suppress(OSError, ValueError):
                pid = int((self.run_dir / f"ceph-{name}.pid").read_text().strip())
                if Path(f"/proc/{pid}/comm").read_text().strip() == comm:
                    out[name] = pid
        return out
