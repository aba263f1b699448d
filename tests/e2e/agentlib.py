"""Talk to ecs-agent as the controller does: JSON over HTTP, signed with the host key
(lib/hostauth.h: ECS2-HMAC-SHA256 over the receiver's host id ("" for the controller), method,
path, canonical query, date, nonce and the body's SHA-256). Also runs an agent for a test: config, host key, start, wait, stop."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from waiting import wait_log_line

REPO = Path(__file__).resolve().parents[2]
AGENT_BIN = REPO / "build/bin/ecs-agent"


def rfc3986(s: str) -> str:
    return urllib.parse.quote(s, safe="-_.~")


SCHEME = "ECS2-HMAC-SHA256"


def sign(key: str, host: str, method: str, path: str, query: dict | None, date: int, nonce: str, body: bytes) -> str:
    """host: the receiver's host id, "" for the controller."""
    canon = "&".join(f"{rfc3986(k)}={rfc3986(str(v))}" for k, v in sorted((query or {}).items()))
    sts = "\n".join(
        [SCHEME, host, method, path, canon, str(date), nonce, hashlib.sha256(body).hexdigest()]
    )
    return hmac.new(key.encode(), sts.encode(), hashlib.sha256).hexdigest()


class SignedJsonHandler(BaseHTTPRequestHandler):
    """A quiet request handler for stand-ins of the project's services (a fake controller, a
    fake agent): checks a request's host-key signature as lib/hostauth.c does, answers JSON.
    A subclass sets `key`, and `host_id` when it stands in for an agent (requests are
    signed for one host; "" is the controller)."""

    key = ""
    host_id = ""

    def log_message(self, *a):
        pass

    def signed(self, body: bytes) -> bool:
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        auth = self.headers.get("Authorization", "")
        date, nonce = self.headers.get("X-Ecs-Date", ""), self.headers.get("X-Ecs-Nonce", "")
        if not auth.startswith(SCHEME + " ") or not date.isdigit():
            return False
        want = sign(self.key, self.host_id, self.command, u.path, q, int(date), nonce, body)
        return hmac.compare_digest(want, auth.split(" ", 1)[1]) and abs(int(date) - time.time()) < 300

    def reply_json(self, status: int, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class ApiError(Exception):
    def __init__(self, status: int, body: dict):
        super().__init__(f"{status} {body.get('code')}: {body.get('message')}")
        self.status = status
        self.code = body.get("code")
        self.body = body


@dataclass
class AgentClient:
    base: str  # http://127.0.0.1:PORT
    key: str
    timeout: float = 180
    host_id: str = ""  # the agent's [agent] host_id; "" when talking to the controller

    def raw(self, method: str, path: str, body=None, query: dict | None = None, *, headers: dict | None = None,
            signed: bool = True, date: int | None = None, nonce: str | None = None):
        """Send a request; returns (status, parsed body or text, headers)."""
        data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        qs = ("?" + urllib.parse.urlencode(query)) if query else ""
        h = {"Content-Type": "application/json"} if data else {}
        if signed:
            date = int(time.time()) if date is None else date
            nonce = nonce or secrets.token_hex(16)
            h.update({"X-Ecs-Date": str(date), "X-Ecs-Nonce": nonce,
                      "Authorization": f"{SCHEME} " + sign(self.key, self.host_id, method, path, query, date, nonce,
                                                                   data)})
        h.update(headers or {})
        req = urllib.request.Request(self.base + path + qs, data=data if method not in ("GET", "DELETE") or data else None,
                                     method=method, headers=h)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(req, timeout=self.timeout) as r:
                text = r.read()
                status, hdrs = r.status, dict(r.headers)
        except urllib.error.HTTPError as e:
            text, status, hdrs = e.read(), e.code, dict(e.headers)
        try:
            parsed = json.loads(text) if text else {}
        except ValueError:
            parsed = text.decode(errors="replace")
        return status, parsed, hdrs

    def call(self, method: str, path: str, body=None, query: dict | None = None):
        status, parsed, _ = self.raw(method, path, body, query)
        if status != 200:
            raise ApiError(status, parsed if isinstance(parsed, dict) else {"message": parsed})
        return parsed

    # Convenience.
    def get(self, path, **q):
        return self.call("GET", path, query=q or None)

    def put(self, path, body):
        return self.call("PUT", path, body)

    def post(self, path, body=None):
        return self.call("POST", path, body or {})

    def delete(self, path):
        return self.call("DELETE", path)


def write_host_key(path: Path, key: str):
    """The shared host key file as the daemons want it: the key and a newline, mode 0600."""
    path.write_text(key + "\n")
    path.chmod(0o600)


class StartClose:
    """`with X(...) as x`: x.start(), and x.close() on the way out, also when the start
    failed half-way (close undoes whatever start got to)."""

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()


def random_id(prefix: str) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(20))


@dataclass
class AgentProcess:
    """One ecs-agent with its own data dir, bridge, ports and chain prefix."""

    workdir: Path
    bridge: str
    gateway: str  # e.g. 10.91.3.1/24
    metadata_ip: str
    metadata_port: int
    chain_prefix: str
    tap_prefix: str
    controller_url: str = ""
    extra: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    port: int = 0
    host_id: str = ""  # as the agent logged it when ready
    key: str = field(default_factory=lambda: secrets.token_hex(24))

    @property
    def data_dir(self) -> Path:
        return self.workdir / "agent"

    @property
    def log_path(self) -> Path:
        return self.workdir / "agent.log"

    def write_config(self):
        write_host_key(self.workdir / "host.key", self.key)
        agent = {
            "data_dir": self.data_dir, "port": 0, "listen_address": "127.0.0.1",
            "host_key_file": self.workdir / "host.key", "controller_url": self.controller_url,
            "reconcile_interval_s": 5, "orphan_grace_s": 5, "stop_timeout_s": 30, "log_level": "debug",
            "metrics_interval_s": 3,
            "blob_dir": self.workdir / "blobs",
        }
        network = {
            "bridge": self.bridge, "gateway_cidrs": self.gateway, "tap_prefix": self.tap_prefix,
            "metadata_ip": self.metadata_ip, "metadata_port": self.metadata_port,
            "chain_prefix": self.chain_prefix,
        }
        test = {"fault_points": "true"}
        images, storage, ceph = {}, {}, {}
        for k, v in self.extra.items():
            sec, key = k.split(".", 1)
            {"agent": agent, "network": network, "test": test, "images": images, "storage": storage,
             "ceph": ceph}[sec][key] = v
        lines = []
        for name, sec in (("agent", agent), ("network", network), ("images", images), ("storage", storage),
                          ("ceph", ceph), ("test", test)):
            lines.append(f"[{name}]")
            lines += [f"{k} = {v}" for k, v in sec.items()]
        (self.workdir / "agent.ini").write_text("\n".join(lines) + "\n")

    def start(self, timeout: float = 30, env: dict | None = None) -> "AgentProcess":
        self.write_config()
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        e = dict(os.environ, **self.env, **(env or {}))
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([str(AGENT_BIN), "-c", str(self.workdir / "agent.ini")], stdout=log,
                                     stderr=subprocess.STDOUT, env=e, stdin=subprocess.DEVNULL)
        log.close()
        line = wait_log_line(self.log_path, 'msg="agent ready"', timeout, "ecs-agent ready", proc=self.proc,
                             offset=offset)
        self.port = int(line.split(" api=")[1].split()[0].rsplit(":", 1)[1])
        self.host_id = line.split(" host=")[1].split()[0]
        return self

    def client(self) -> AgentClient:
        return AgentClient(f"http://127.0.0.1:{self.port}", self.key, host_id=self.host_id)

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self, timeout: float = 30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def wait_exit(self, timeout: float = 60) -> int:
        """Wait for the agent to exit by itself (a fault point); return its status."""
        assert self.proc
        rc = self.proc.wait(timeout)
        self.proc = None
        return rc
