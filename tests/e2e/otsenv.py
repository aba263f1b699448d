"""A table service for tests: the object service's test set-up (ossenv.py: an ecs-controller
for accounts and keys on its own port) running ecs-otsd instead of ecs-ossd, on the session's
test Ceph cluster as client.ecs-otsd; the npm `tablestore` SDK drives it."""

from __future__ import annotations

import json
import os
import subprocess

from conftest import REPO
from npmenv import npm_package
from ossenv import OssEnv

TABLESTORE = "5.6.5"
NPM_DIR = REPO / "build/npm-ots"


def install_tablestore():
    """npm `tablestore`, installed once into build/npm-ots."""
    return npm_package(NPM_DIR, "tablestore", TABLESTORE)


class OtsEnv(OssEnv):
    BIN = REPO / "build/bin/ecs-otsd"
    READY = 'msg="otsd ready"'

    def __init__(self, ceph, extra: str = ""):
        super().__init__(ceph)
        self.config = self.dir / "otsd.ini"
        self.config.write_text(
            f"[ots]\nport = {self.port}\ncontroller_url = http://127.0.0.1:{self.ctl_port}\n"
            f"host_key_file = {self.key_file}\nceph_conf = {ceph.conf}\n"
            f"keyring = {ceph.keyring('client.ecs-otsd')}\nkey_cache_s = 2\n{extra}")
        self.log_path = self.dir / "otsd.log"

    def __enter__(self) -> "OtsEnv":
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc):
        self.close()

    def node(self, script: str, **env) -> dict:
        """Run a Node script with the SDK; its JSON lines merged into one dict."""
        p = subprocess.run(["node", "-e", script], cwd=NPM_DIR, capture_output=True, text=True, timeout=600,
                           env=dict(os.environ, PORT=str(self.port), **env))
        assert p.returncode == 0, p.stderr[-4000:] + p.stdout[-4000:] + "\n" + self.log_tail()
        res = {}
        for line in p.stdout.splitlines():
            if line.strip():
                res.update(json.loads(line))
        return res
