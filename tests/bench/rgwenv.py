"""Ceph's own S3 gateway, radosgw (Debian package `radosgw`), on a test cluster of
tests/e2e/cephenv.py: its own cephx user, its pools made beforehand with few PGs (the test
cluster has one OSD), one S3 user, beast on a loopback port. The peer of bench_oss.py."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from cloudenv import stop_controller
from waiting import log_tail

USER = "client.bench-rgw"
# Made here rather than by radosgw, whose pools would take the monitor's default PG count.
POOLS = {".rgw.root": 8, "default.rgw.control": 8, "default.rgw.meta": 8, "default.rgw.log": 8,
         "default.rgw.buckets.index": 8, "default.rgw.buckets.data": 16, "default.rgw.buckets.non-ec": 8}


class RadosGw:
    def __init__(self, ceph, port: int):
        self.ceph, self.port = ceph, port
        self.dir = Path(tempfile.mkdtemp(prefix="ecs-rgw-", dir="/tmp"))
        self.log = self.dir / "radosgw.log"
        self.proc = None
        self.ak = "BENCH" + secrets.token_hex(8).upper()
        self.secret = secrets.token_hex(20)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _args(self) -> list:
        return ["-c", str(self.ceph.conf), "-n", USER, "--keyring", str(self.keyring)]

    def start(self) -> "RadosGw":
        for name, pgs in POOLS.items():
            self.ceph.ceph("osd", "pool", "create", name, pgs, pgs, "replicated")
            self.ceph.ceph("osd", "pool", "application", "enable", name, "rgw")
        self.keyring = self.dir / "keyring"
        key = self.ceph.ceph("auth", "get-or-create", USER, "mon", "allow rw", "osd", "allow rwx")
        self.keyring.write_text(key)
        self.keyring.chmod(0o600)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                ["radosgw", "-f", *self._args(), "--rgw_frontends", f"beast endpoint=127.0.0.1:{self.port}",
                 "--rgw_data", str(self.dir), "--log_file", str(self.log),
                 "--admin_socket", str(self.dir / "rgw.asok")],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(self.endpoint, timeout=2).status_code in (200, 403):
                    break
            except requests.ConnectionError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"radosgw did not answer on {self.endpoint}:\n{log_tail(self.log)}")
            time.sleep(0.5)
        out = subprocess.run(["radosgw-admin", *self._args(), "user", "create", "--uid", "bench",
                              "--display-name", "bench", "--access-key", self.ak, "--secret", self.secret],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError(f"radosgw-admin user create: {out.stderr.strip()}")
        json.loads(out.stdout)
        return self

    def close(self):
        stop_controller(self.proc)  # SIGTERM, then SIGKILL after 20 s
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)
