"""A controller on its own and stand-ins for its agents, for controller tests that need
hosts but no libvirt.

    ctl = LoneController(workdir, extra={"quota": {"security_groups": 10}}).start()
    api = ctl.account("alice")                     # an ecsapi.EcsClient
    host = FakeAgent(ctl, "h-1").start()           # registered by a signed heartbeat
                                                   # (max_instances=0: the scheduler never picks it)
    host.view()                                    # GET /agent/v1/security-groups as the host

A FakeAgent answers the controller's calls (docs/agent-api.md) on 127.0.0.1: it verifies each
request's host-key signature, records it, and makes instances exist at once (a create answers
Running or Stopped as the spec's `start` says), holds load balancers and public IPs when they
are put and lets go of them when deleted, and names what it holds (and `underlay_ip`, when set)
in its heartbeats. POST /v1/security/sync pulls the host's view from the controller and
answers its generation, or, as `sync_mode` says, answers 404 (an agent without the endpoint)
or answers late (`slow`)."""

from __future__ import annotations

import contextlib
import json
import secrets
import subprocess
import threading
import time
import urllib.parse
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from agentenv import free_port
from agentlib import AgentClient, SignedJsonHandler, StartClose, write_host_key
from cloudenv import ControllerPlace, make_account, start_controller, stop_controller
from ecsapi import EcsClient


class LoneController(StartClose, ControllerPlace):
    """ecs-controller on a free loopback port, its own data dir and host key."""

    def __init__(self, workdir: Path, extra: dict | None = None):
        self.dir = Path(workdir)
        self.port = free_port()
        self.key = secrets.token_hex(24)
        settings = {
            "controller": {"port": self.port, "data_dir": self.dir / "data", "host_key_file": self.dir / "host.key",
                           "log_level": "debug", "host_dead_after_s": 86400,
                           "throttle_rate": 100000, "throttle_burst": 100000},
        }
        for sec, kv in (extra or {}).items():
            settings.setdefault(sec, {}).update(kv)
        self.config = self.dir / "controller.ini"
        self.proc: subprocess.Popen | None = None
        self.dir.mkdir(parents=True, exist_ok=True)
        write_host_key(self.dir / "host.key", self.key)
        self.config.write_text("".join(f"[{sec}]\n" + "".join(f"{k} = {v}\n" for k, v in kv.items())
                                       for sec, kv in settings.items()))

    def start(self) -> "LoneController":
        self.proc = start_controller(self.config, self.log_path)
        return self

    def stop(self):
        stop_controller(self.proc)
        self.proc = None

    close = stop  # for StartClose

    def account(self, name: str) -> EcsClient:
        return make_account(self.config, self.endpoint, name)

    def agent_client(self, host_id: str) -> "HostClient":
        """Calls to the controller's /agent/v1/ as host_id would make them."""
        return HostClient(self.endpoint, self.key, host_id)


@contextlib.contextmanager
def lone_cloud(workdir: Path, host_id: str, extra: dict | None = None):
    """A started LoneController with one started FakeAgent; both stopped on exit."""
    with LoneController(workdir, extra) as ctl, FakeAgent(ctl, host_id) as host:
        yield ctl, host


def lone_cloud_fixtures(tmp_prefix: str, host_id: str, extra: dict | None = None):
    """Module-scoped fixtures over one lone_cloud, for a test module to take as
    `cloud_pair, ctl, host = lone_cloud_fixtures(...)`."""

    @pytest.fixture(scope="module")
    def cloud_pair(tmp_path_factory):
        with lone_cloud(tmp_path_factory.mktemp(tmp_prefix), host_id, extra) as pair:
            yield pair

    @pytest.fixture(scope="module")
    def ctl(cloud_pair):
        return cloud_pair[0]

    @pytest.fixture(scope="module")
    def host(cloud_pair):
        return cloud_pair[1]

    return cloud_pair, ctl, host


def healing_controller(workdir: Path, ceph_cluster) -> LoneController:
    """A controller whose hosts die after 3 s of silence and are fenced in the session's test
    Ceph cluster (heal.c). Stand-ins name an underlay address of a documentation range
    (FakeAgent.underlay_ip), so a fence blocklists nothing real."""
    return LoneController(workdir, extra={
        "controller": {"host_dead_after_s": 3},
        "ceph": {"conf": ceph_cluster.conf, "user": "ecs-controller",
                 "keyring": ceph_cluster.keyring("client.ecs-controller"), "interval_s": 1, "timeout_s": 5}})


class HostClient:
    """A host's signed calls to the controller (X-Ecs-Host-Id and the host key)."""

    def __init__(self, endpoint: str, key: str, host_id: str):
        self.client = AgentClient(endpoint, key, timeout=30)
        self.host_id = host_id

    def raw(self, method: str, path: str, body=None, *, signed: bool = True):
        status, parsed, _ = self.client.raw(method, path, body, headers={"X-Ecs-Host-Id": self.host_id}, signed=signed)
        return status, parsed

    def view(self) -> dict:
        status, body = self.raw("GET", "/agent/v1/security-groups")
        assert status == 200, (status, body)
        return body

    def heartbeat(self, api_url: str, instances: list | None = None, max_instances: int = 256,
                  state_seq: int | None = None, held: dict[str, list] | None = None,
                  underlay_ip: str | None = None) -> dict:
        facts = {"host_id": self.host_id, "api_url": api_url, "zone_id": "cn-local-a", "hypervisor": "qemu",
                 "vcpus": 64, "memory_mib": 65536, "disk_total_gib": 1000, "disk_free_gib": 1000,
                 "max_instances": max_instances, "images": ["tiny"], "instances": instances or [],
                 "sent_at": int(time.time())}
        if state_seq is not None:
            facts["state_seq"] = state_seq
        if held is not None:  # the load balancers and public IPs it holds
            facts.update(held)
        if underlay_ip:  # heal.c fences a host by this address
            facts["overlay"] = {"vni": 4242, "underlay_ip": underlay_ip}
        status, body = self.raw("POST", "/agent/v1/heartbeat", facts)
        assert status == 200, (status, body)
        return body


class FakeAgent(StartClose):
    """A host that answers the controller's calls at once and records them."""

    def __init__(self, ctl: LoneController, host_id: str, max_instances: int = 256):
        self.ctl, self.host_id, self.max_instances = ctl, host_id, max_instances
        self.host = ctl.agent_client(host_id)
        self.calls: list[dict] = []  # {method, path, body, signed}
        self.instances: dict[str, str] = {}  # instance id -> status
        self.lbs: dict[str, dict] = {}  # load balancer id -> the body of its last put
        self.eips: dict[str, dict] = {}  # public IP -> the body of its last put
        self.underlay_ip: str | None = None  # named in heartbeats when set
        self.fail_creates = False  # True: every create is answered 500 (the scheduler moves it on)
        self.state_seq = 1  # as the agent's (agent/agent.h): stepped by each instance action's answer
        self.sync_mode = "pull"  # pull | 404 | slow (a nudge is answered once release is set, or after 30 s)
        self.release = threading.Event()
        self.release.set()
        self.lock = threading.Lock()
        outer = self

        class Handler(SignedJsonHandler):
            key = ctl.key
            host_id = outer.host_id

            def _handle(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                signed = self.signed(body)
                path = urllib.parse.urlsplit(self.path).path
                with outer.lock:
                    outer.calls.append({"method": self.command, "path": path, "body": body.decode(), "signed": signed,
                                        "at": time.monotonic()})
                if not signed:
                    return self.reply_json(401, {"code": "Unauthorized", "message": "bad signature"})
                parts = path.strip("/").split("/")
                if path == "/v1/security/sync" and self.command == "POST":
                    if outer.sync_mode == "404":
                        return self.reply_json(404, {"code": "NotFound", "message": "no such resource"})
                    if outer.sync_mode == "slow":
                        outer.release.wait(30)
                    return self.reply_json(200, {"generation": outer.host.view()["generation"]})
                if len(parts) >= 3 and parts[:2] == ["v1", "instances"]:
                    iid = parts[2]
                    if self.command == "PUT" and len(parts) == 3 and outer.fail_creates:
                        return self.reply_json(500, {"code": "InternalError", "message": "create failed here"})
                    if self.command == "PUT" and len(parts) == 3:
                        spec = json.loads(body or b"{}")
                        status = "Running" if spec.get("start", True) else "Stopped"
                    elif self.command == "DELETE" and len(parts) == 3:
                        with outer.lock:
                            outer.instances.pop(iid, None)
                        return self.reply_json(200, {})
                    elif len(parts) == 4 and parts[3] in ("start", "reboot"):
                        status = "Running"
                    elif len(parts) == 4 and parts[3] == "stop":
                        status = "Stopped"
                    else:
                        return self.reply_json(200, {"instance_id": iid})
                    with outer.lock:
                        outer.instances[iid] = status
                        outer.state_seq += 1
                        seq = outer.state_seq
                    return self.reply_json(200, {"instance_id": iid, "status": status, "state_seq": seq})
                if parts[:2] == ["v1", "load-balancers"]:
                    return self.held(outer.lbs, "load_balancers", "load_balancer_id", parts[2:], body)
                if parts[:2] == ["v1", "public-ips"]:
                    return self.held(outer.eips, "public_ips", "public_ip", parts[2:], body)
                if len(parts) == 3 and parts[:2] in (["v1", "disks"], ["v1", "snapshots"]) and \
                        self.command in ("PUT", "DELETE"):
                    # Disks and snapshots are made (and removed) at once.
                    return self.reply_json(200, {"status": "accomplished"} if parts[1] == "snapshots" else {})
                return self.reply_json(404, {"code": "NotFound", "message": "no such resource"})

            def held(self, what: dict, key: str, id_key: str, rest: list[str], body: bytes):
                """Load balancers and public IPs are held (put) and let go (delete) at once."""
                with outer.lock:
                    if not rest and self.command == "GET":
                        return self.reply_json(200, {key: [{id_key: i} for i in what]})
                    if len(rest) == 1 and self.command == "PUT":
                        what[rest[0]] = json.loads(body or b"{}")
                        return self.reply_json(200, {})
                    if len(rest) == 1 and self.command == "DELETE" and what.pop(rest[0], None) is not None:
                        return self.reply_json(200, {})
                    if len(rest) == 1 and self.command == "GET" and rest[0] in what:
                        return self.reply_json(200, what[rest[0]])
                return self.reply_json(404, {"code": "NotFound", "message": "no such resource"})

            do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "FakeAgent":
        self.thread.start()
        self.heartbeat()
        return self

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def heartbeat(self, instances: dict[str, str] | None = None, state_seq: int | None = None) -> dict:
        """What the host runs (or `instances`, as a stale listing would say), with the state_seq
        read before listing it (the current one unless given)."""
        with self.lock:
            seq = self.state_seq if state_seq is None else state_seq
            insts = [{"instance_id": i, "status": s} for i, s in (instances or self.instances).items()]
            held = {"load_balancers": sorted(self.lbs), "public_ips": sorted(self.eips)}
        return self.host.heartbeat(self.url, insts, self.max_instances, seq, held, self.underlay_ip)

    def view(self) -> dict:
        return self.host.view()

    def nudges(self, since: float = 0.0) -> list[dict]:
        with self.lock:
            return [c for c in self.calls if c["path"] == "/v1/security/sync" and c["at"] >= since]
