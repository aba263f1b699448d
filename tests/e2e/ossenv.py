"""An object service for tests: an ecs-controller (accounts and keys only, no host) and an
ecs-ossd on their own ports, the ossd on the session's test Ceph cluster as client.ecs-ossd.
A V1 signer for raw requests (OSS's documented algorithm, written from the spec, so the
tests check our server against it and against ali-oss)."""

from __future__ import annotations

import base64
import contextlib
import email.utils
import hashlib
import hmac
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

import pytest
import requests

from accounts import account_fixtures
from agentenv import free_port
from agentlib import write_host_key
from cloudenv import CTL_BIN, start_controller, stop_controller
from conftest import REPO
from waiting import WaitTimeout, wait_log_line

OSSD_BIN = REPO / "build/bin/ecs-ossd"

SIGNED = {"acl", "uploads", "location", "bucketInfo", "objectMeta", "delete", "append", "position", "uploadId",
          "partNumber", "continuation-token", "response-content-type", "response-content-language",
          "response-expires", "response-cache-control", "response-content-disposition",
          "response-content-encoding", "tagging", "versionId"}


class OssAccount:
    def __init__(self, env: "OssEnv", name: str, ak: str, secret: str, account_id: str):
        self.env, self.name, self.ak, self.secret, self.account_id = env, name, ak, secret, account_id

    def string_to_sign(self, method, bucket, key, headers, query, date):
        lower = {k.lower(): str(v).strip() for k, v in headers.items()}
        lines = [method, lower.get("content-md5", ""), lower.get("content-type", ""), date]
        lines += [f"{k}:{lower[k]}" for k in sorted(lower) if k.startswith("x-oss-")]
        res = "/" + (f"{bucket}/" + (key or "") if bucket else "")
        sub = sorted((k, v) for k, v in (query or {}).items() if k in SIGNED)
        if sub:
            res += "?" + "&".join(k if v in (None, "") else f"{k}={v}" for k, v in sub)
        return "\n".join(lines + [res])

    def sign(self, sts: str) -> str:
        return base64.b64encode(hmac.new(self.secret.encode(), sts.encode(), hashlib.sha1).digest()).decode()

    def request(self, method, bucket=None, key=None, *, headers=None, query=None, data=None, anonymous=False,
                secret=None, stream=False, date=None):
        headers = dict(headers or {})
        if data is not None and "Content-Type" not in headers and method in ("PUT", "POST"):
            headers["Content-Type"] = "application/octet-stream"
        path = "/" + (bucket + "/" if bucket else "") + urllib.parse.quote(key or "", safe="/")
        if not anonymous:
            date = date or email.utils.formatdate(usegmt=True)
            headers["x-oss-date"] = date
            sts = self.string_to_sign(method, bucket, key, headers, query, date)
            sig = (OssAccount(self.env, "", self.ak, secret, "") if secret else self).sign(sts)
            headers["Authorization"] = f"OSS {self.ak}:{sig}"
        return requests.request(method, self.env.endpoint + path, params=_params(query), headers=headers, data=data,
                                timeout=60, stream=stream)

    def presign(self, method, bucket, key, expires_in=300, query=None) -> str:
        exp = str(int(time.time()) + expires_in)
        sts = self.string_to_sign(method, bucket, key, {}, query, exp)
        q = dict(query or {}, OSSAccessKeyId=self.ak, Expires=exp, Signature=self.sign(sts))
        return f"{self.env.endpoint}/{bucket}/{urllib.parse.quote(key, safe='/')}?" + urllib.parse.urlencode(q)


def _params(query):
    if not query:
        return None
    # requests drops None values; a bare sub-resource is sent as "?acl".
    return "&".join(urllib.parse.quote(k, safe="-_.~") if v in (None, "") else
                    f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(str(v), safe='-_.~')}"
                    for k, v in query.items())


class OssEnv:
    BIN = OSSD_BIN  # the gateway this environment runs, its config section, the log line it is ready at
    SECTION = "oss"
    READY = 'msg="ossd ready"'

    def __init__(self, ceph, extra: str = "", controller_uses_it: bool = False):
        self.ceph = ceph
        self.dir = Path(tempfile.mkdtemp(prefix="ecs-oss-"))
        self.key_file = self.dir / "host.key"
        write_host_key(self.key_file, secrets.token_hex(24))
        self.ctl_port = free_port()
        self.port = free_port()
        self.ctl_config = self.dir / "controller.ini"
        self.ctl_config.write_text(f"[controller]\nport = {self.ctl_port}\ndata_dir = {self.dir / 'ctl'}\n"
                                   f"host_key_file = {self.key_file}\n" +
                                   # the controller's own store (ImportImage, the console's pages)
                                   (f"[{self.SECTION}]\nendpoint = http://127.0.0.1:{self.port}\n"
                                    if controller_uses_it else ""))
        gw = self.BIN.name[len("ecs-"):]  # ossd, otsd
        self.config = self.dir / f"{gw}.ini"
        self.config.write_text(
            f"[{self.SECTION}]\nport = {self.port}\ncontroller_url = http://127.0.0.1:{self.ctl_port}\n"
            f"host_key_file = {self.key_file}\nceph_conf = {ceph.conf}\n"
            f"keyring = {ceph.keyring(f'client.{self.BIN.name}')}\nkey_cache_s = 2\n{extra}")
        self.log_path = self.dir / f"{gw}.log"
        self.ctl_log = self.dir / "controller.log"
        self.ctl = None
        self.proc = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "OssEnv":
        self.ctl = start_controller(self.ctl_config, self.ctl_log)
        self.start_ossd()
        return self

    def start_ossd(self):
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([str(self.BIN), "-c", str(self.config)], stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            wait_log_line(self.log_path, self.READY, 30, f"{self.BIN.name} ready", proc=self.proc, offset=offset)
        except WaitTimeout:
            self.proc.kill()
            self.proc.wait()
            raise

    def stop_ossd(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log_tail(self, n: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        return ""

    def account(self, name: str) -> OssAccount:
        out = subprocess.run([str(CTL_BIN), "-c", str(self.ctl_config), "account", "create", name],
                             capture_output=True, text=True, check=True).stdout
        kv = dict(line.split(": ", 1) for line in out.strip().splitlines())
        return OssAccount(self, name, kv["AccessKeyId"], kv["AccessKeySecret"], kv["AccountId"])

    def close(self):
        self.stop_ossd()
        stop_controller(self.ctl)
        self.ctl = None
        shutil.rmtree(self.dir, ignore_errors=True)


def running(ceph, extra: str = "", controller_uses_it: bool = False):
    """An OssEnv started for a fixture to yield from, closed afterwards whatever happened."""
    env = OssEnv(ceph, extra, controller_uses_it)
    try:
        env.start()
        yield env
    finally:
        env.close()


@pytest.fixture(scope="module")
def oss(ceph_cluster):
    """A module's object service, default configuration (a module may define its own)."""
    yield from running(ceph_cluster)


alice, bob = account_fixtures("oss", "alice", "bob")
