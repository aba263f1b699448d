"""A simulated host's libvirt: virtlogd and libvirtd in a private mount namespace in which
libvirt's state folders are this host's own (SANDBOX.md, "Several hosts on one machine").

The agent under test connects to qemu:///system?socket=<dir>/run/libvirt-sock; guests it
starts live in that namespace, so nothing touches a libvirtd that `make up` runs, and
libvirtd can be restarted by a test. close() destroys every domain in it and stops both
daemons."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

from waiting import log_tail, pid_exited, wait_for

LIBVIRT_DIRS = {  # mount point -> folder under the host's dir
    "/run/libvirt": "run",
    "/var/lib/libvirt": "lib",
    "/var/log/libvirt": "log",
    "/var/cache/libvirt": "cache",
    "/etc/libvirt/qemu": "etc-qemu",
}


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


class PrivateLibvirt:
    def __init__(self, root: Path):
        self.root = root
        self.proc: subprocess.Popen | None = None

    @property
    def socket(self) -> Path:
        return self.root / "run" / "libvirt-sock"

    @property
    def uri(self) -> str:
        return f"qemu:///system?socket={self.socket}"

    def virsh(self, *args, check=True, timeout=60):
        p = subprocess.run(["virsh", "-c", self.uri, *map(str, args)], capture_output=True, text=True,
                           timeout=timeout)
        if check and p.returncode:
            raise RuntimeError(f"virsh {' '.join(map(str, args))}: {p.stderr.strip()}")
        return p

    def _answers(self) -> bool:
        try:
            return self.virsh("version", check=False, timeout=10).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def start(self, timeout: float = 60) -> "PrivateLibvirt":
        for d in LIBVIRT_DIRS.values():
            (self.root / d).mkdir(parents=True, exist_ok=True)
        # libvirt's qemu user walks into its state folders.
        for p in [self.root, *[self.root / d for d in LIBVIRT_DIRS.values()]]:
            p.chmod(0o755)
        for mp in LIBVIRT_DIRS:
            Path(mp).mkdir(parents=True, exist_ok=True)
        binds = "\n".join(f"mount --bind {self.root / d} {mp}" for mp, d in LIBVIRT_DIRS.items())
        script = f"""set -e
mount --make-rprivate /
{binds}
virtlogd -d -p {self.root}/virtlogd.pid
exec libvirtd -p {self.root}/libvirtd.pid
"""
        log = open(self.root / "libvirtd.out", "ab")
        self.proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                                     stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        def answers():
            if self.proc.poll() is not None:
                raise RuntimeError(f"private libvirtd exited: {(self.root / 'libvirtd.out').read_text()[-2000:]}")
            return self.socket.exists() and self._answers()

        wait_for(answers, timeout, "the private libvirtd to answer", 0.2,
                 detail=lambda: log_tail(self.root / "libvirtd.out"))
        return self

    def libvirtd_pid(self) -> int | None:
        return _read_pid(self.root / "libvirtd.pid")

    def virtlogd_pid(self) -> int | None:
        return _read_pid(self.root / "virtlogd.pid")

    def stop_libvirtd(self, timeout: float = 30):
        """Stop libvirtd only (guests and virtlogd go on, as after a crash of libvirtd)."""
        pid = self.libvirtd_pid()
        if pid and _alive(pid):
            os.kill(pid, signal.SIGTERM)
            if not pid_exited(pid, timeout, "libvirtd"):
                os.kill(pid, signal.SIGKILL)
        if self.proc:
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
            self.proc = None

    def start_libvirtd(self, timeout: float = 60):
        """Start libvirtd again inside the same namespace (virtlogd keeps it alive)."""
        ns = self.virtlogd_pid()
        assert ns and _alive(ns), "virtlogd is gone: the namespace is lost"
        log = open(self.root / "libvirtd.out", "ab")
        self.proc = subprocess.Popen(["nsenter", "--mount", f"--target={ns}", "libvirtd", "-p",
                                      str(self.root / "libvirtd.pid")],
                                     stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        wait_for(self._answers, timeout, "the private libvirtd to come back", 0.2,
                 detail=lambda: log_tail(self.root / "libvirtd.out"))

    def domains(self) -> list[str]:
        p = self.virsh("list", "--all", "--name")
        return [n for n in p.stdout.split() if n]

    def close(self):
        if self.libvirtd_pid() and _alive(self.libvirtd_pid()):
            for name in self.virsh("list", "--all", "--name", check=False).stdout.split():
                self.virsh("destroy", name, check=False)
                self.virsh("undefine", name, "--nvram", check=False)
        self.stop_libvirtd()
        pid = self.virtlogd_pid()
        if pid and _alive(pid):
            os.kill(pid, signal.SIGTERM)
            pid_exited(pid, 10, "virtlogd")
        # qemu processes of this host that outlived libvirtd (a killed test) are in its namespace.
        for p in Path("/proc").iterdir():
            if not p.name.isdigit():
                continue
            try:
                cmd = (p / "cmdline").read_bytes()
            except OSError:
                continue
            if b"qemu-system" in cmd and str(self.root).encode() in cmd:
                try:
                    os.kill(int(p.name), signal.SIGKILL)
                except ProcessLookupError:
                    pass
        shutil.rmtree(self.root, ignore_errors=True)
