"""A one-host cloud for controller tests: an AgentEnv (private libvirtd, bridge, agent) plus
an ecs-controller on its own port and data dir whose address pool is the host's subnet.
Accounts are made with `ecs-controller account create`."""

from __future__ import annotations

import contextlib
import subprocess
import time
from pathlib import Path

from agentenv import AgentEnv, free_port
from agentlib import write_host_key
from conftest import REPO
from ecsapi import EcsClient
from waiting import WaitTimeout, wait_for, wait_log_line

CTL_BIN = REPO / "build/bin/ecs-controller"


def start_controller(config: Path, log_path: Path, timeout: float = 20) -> subprocess.Popen:
    """Start `ecs-controller -c config`, its output appended to log_path, and return once it
    logged "controller ready" (only lines from this start count: a restart appends)."""
    offset = log_path.stat().st_size if log_path.exists() else 0
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([str(CTL_BIN), "-c", str(config)], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    try:
        wait_log_line(log_path, 'msg="controller ready"', timeout, "ecs-controller ready", proc=proc, offset=offset)
    except WaitTimeout:
        proc.kill()
        proc.wait()
        raise
    return proc


def stop_controller(proc: subprocess.Popen | None):
    """SIGTERM, then SIGKILL after 20 s."""
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def make_account(config: Path, endpoint: str, name: str) -> EcsClient:
    """`ecs-controller account create name`, as a client of endpoint."""
    out = subprocess.run([str(CTL_BIN), "-c", str(config), "account", "create", name], capture_output=True,
                         text=True, check=True).stdout
    kv = dict(line.split(": ", 1) for line in out.strip().splitlines())
    return EcsClient(endpoint, kv["AccessKeyId"], kv["AccessKeySecret"])


class ControllerPlace:
    """Where a controller listens (127.0.0.1:self.port) and logs (in self.dir)."""

    port: int
    dir: Path

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.dir / "controller.log"


class CloudEnv(ControllerPlace):
    def __init__(self, image_dir: Path, ctl_extra: str = "", agent_extra: dict | None = None, ceph=None):
        # With ceph (cephenv.CephCluster), the host's disks are RBD images in it.
        self.host = AgentEnv(image_dir, extra=agent_extra, ceph=ceph)
        self.port = free_port()
        self.dir = self.host.workdir / "controller"
        self.dir.mkdir()
        self.key_file = self.host.workdir / "cluster.key"
        write_host_key(self.key_file, self.host.agent.key)
        self.config = self.dir / "controller.ini"
        self.config.write_text(
            f"[controller]\nport = {self.port}\ndata_dir = {self.dir / 'data'}\nhost_key_file = {self.key_file}\n"
            f"log_level = debug\nhost_dead_after_s = 30\n{ctl_extra}\n[network]\nip_pool = {self.host.net}\n")
        self.proc: subprocess.Popen | None = None
        self.ready_at = 0.0  # when the controller last said it was ready
        self.host.agent.controller_url = f"http://127.0.0.1:{self.port}"
        self.host.agent.extra["agent.heartbeat_interval_s"] = 2

    def log_tail(self, n: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        return ""

    def start_controller(self):
        self.proc = start_controller(self.config, self.log_path)
        self.ready_at = time.time()

    def stop_controller(self):
        stop_controller(self.proc)
        self.proc = None

    def start(self) -> "CloudEnv":
        self.start_controller()
        self.host.start()
        # The host is schedulable once its first heartbeat is in.
        wait_for(lambda: "/agent/v1/heartbeat" in self.log_path.read_text(errors="replace"), 30,
                 "a heartbeat from the agent", 0.2, detail=self.host.agent.log_tail)
        return self

    def account(self, name: str) -> EcsClient:
        return make_account(self.config, self.endpoint, name)

    def account_with_key(self, name: str) -> EcsClient:
        """A new account holding the host's test key as key pair "e2e" (to ssh into guests)."""
        a = self.account(name)
        a.call("ImportKeyPair", KeyPairName="e2e", PublicKeyBody=self.host.pubkey)
        return a

    def close(self):
        self.stop_controller()
        self.host.close()

    # ---- waiting on the API ----

    wait_for = staticmethod(wait_for)  # waiting.wait_for, as cloud.wait_for / env.wait_for

    def instance(self, api: EcsClient, iid: str) -> dict:
        import json

        out = api.call("DescribeInstances", InstanceIds=json.dumps([iid]))["Instances"]["Instance"]
        return out[0] if out else {}

    def wait_status(self, api: EcsClient, iid: str, status: str, timeout: float = 90) -> dict:
        return wait_for(lambda: self.instance(api, iid), timeout, f"{iid} {status}",
                        until=lambda i: i.get("Status") == status, detail=lambda: self.log_tail(20))
