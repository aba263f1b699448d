"""A table service for tests: the object service's test set-up (ossenv.py: an ecs-controller
for accounts and keys on its own port) running ecs-otsd instead of ecs-ossd, on the session's
test Ceph cluster as client.ecs-otsd; the npm `tablestore` SDK drives it."""

from __future__ import annotations

from conftest import REPO
from npmenv import npm_package, run_node_merged
from ossenv import OssEnv

TABLESTORE = "5.6.5"
NPM_DIR = REPO / "build/npm-ots"


def install_tablestore():
    """npm `tablestore`, installed once into build/npm-ots."""
    return npm_package(NPM_DIR, "tablestore", TABLESTORE)


class OtsEnv(OssEnv):
    BIN = REPO / "build/bin/ecs-otsd"
    SECTION = "ots"
    READY = 'msg="otsd ready"'

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
        return run_node_merged(NPM_DIR, script, dict(env, PORT=str(self.port)), 600, self.log_tail)
