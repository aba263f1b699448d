"""The web console in a real browser: Debian's chromium, headless, driven by playwright-core
from npm (tests/e2e/console/console_test.js, run with node) against the `cloud` fixture (a
controller and one host with real guests: one guest is booted here).

The script signs in, makes a key pair (its private key downloaded once), a security group
with a rule, and an instance (key pair, group, data disk, user data) that it watches reach
Running on the list without a reload; opens the instance's page and waits for a CPU graph
with real points; stops (a cancelled confirmation first) and deletes it; signs in as a
second account that sees none of the first's resources; lets a page of another origin post a
form to the console in the signed-in browser; signs out. It fails on any error in the
browser's console, writes screenshots of each page at laptop (1366x768) and phone (390x844)
widths into docs/console/, and prints each page's time from navigation to its data shown
(reported here, not asserted)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from conftest import REPO
from ecsapi import EcsClient
from consoleenv import signed_in, ws_open, ws_read_frame, ws_send_frame

NODE_DIR = REPO / "build/console-test"
SCRIPT = REPO / "tests/e2e/console/console_test.js"
SHOTS = REPO / "docs/console"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def node_modules():
    if not (NODE_DIR / "node_modules/playwright-core").exists():
        subprocess.run(["make", "-s", "console-test-deps"], cwd=REPO, check=True, timeout=600)
    return NODE_DIR / "node_modules"


class EvilSite:
    """A page of another origin (its own loopback port) whose form posts itself to the console."""

    def __init__(self, target: str):
        page = (f'<!doctype html><title>elsewhere</title><form id="f" method="POST" action="{target}">'
                '<input name="SecurityGroupName" value="evil-group"></form>'
                '<script>document.getElementById("f").submit()</script>').encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def run_browser(endpoint: str, a, b, evil_url: str, node_modules, context, on_vnc) -> dict:
    """The script's steps by name. At its step "vnc" (the guest running, before the browser
    opens its VNC console) it waits for a line on its stdin: on_vnc(instance id) runs first."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, ENDPOINT=endpoint, AK1=a.ak, SK1=a.secret, AK2=b.ak, SK2=b.secret, EVIL=evil_url,
               SHOTS=str(SHOTS), CHROMIUM=CHROMIUM, NODE_PATH=str(node_modules))
    res, raw = {}, []
    with tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen(["node", str(SCRIPT)], stdout=subprocess.PIPE, stderr=err, stdin=subprocess.PIPE,
                             text=True, env=env)
        timer = threading.Timer(1200, p.kill)  # bounded, as subprocess.run's timeout was
        timer.start()
        try:
            for line in p.stdout:
                raw.append(line)
                if not line.startswith("{"):
                    continue
                o = json.loads(line)
                print(json.dumps(o, ensure_ascii=False))
                res[o.get("step", "result")] = o
                if o.get("step") == "vnc":
                    try:
                        on_vnc(o["instance"])
                    finally:
                        p.stdin.write("go\n")
                        p.stdin.flush()
            rc = p.wait()
        finally:
            timer.cancel()
            if p.poll() is None:
                p.kill()
                p.wait()
        err.seek(0)
        assert rc == 0, err.read()[-4000:] + "".join(raw)[-4000:] + "\n" + context()
    return res


def vnc_token(api, iid: str) -> tuple[str, str]:
    url = api.call("DescribeInstanceVncUrl", InstanceId=iid)["VncUrl"]
    assert url.startswith("ws://") and "/console/vnc?token=" in url, url
    return url, url.split("token=", 1)[1]


def make_lb(cloud, a, iid: str) -> str:
    """A load balancer with a started TCP listener and the browser's guest behind it (for the
    console's load balancer pages)."""
    slb = EcsClient(cloud.endpoint, a.ak, a.secret, version="2014-05-15")
    lb = slb.call("CreateLoadBalancer", LoadBalancerName="console-lb", AddressType="intranet")["LoadBalancerId"]
    slb.call("CreateLoadBalancerTCPListener", LoadBalancerId=lb, ListenerPort=80, BackendServerPort=80, Bandwidth=-1)
    slb.call("AddBackendServers", LoadBalancerId=lb, BackendServers=json.dumps([{"ServerId": iid, "Weight": "100"}]))
    slb.call("StartLoadBalancerListener", LoadBalancerId=lb, ListenerPort=80)
    return lb


def check_vnc_tokens(cloud, a, b, iid: str) -> None:
    """DescribeInstanceVncUrl's token while the browser's guest runs: good once, for its
    account; the WebSocket carries the guest's RFB banner."""
    _, tok = vnc_token(a, iid)
    st, rest, s = ws_open(cloud.endpoint, f"/console/vnc?token={tok}")
    assert st == 101, rest
    try:
        op, banner, rest = ws_read_frame(s, rest)
        assert op == 2 and banner.startswith(b"RFB 003."), banner
        ws_send_frame(s, banner[:12])  # the same version back: the server offers its security types
        op, sec, _ = ws_read_frame(s, rest)
        assert op == 2 and sec and sec[0] >= 1, sec
    finally:
        s.close()
    # Used: refused, with the same answer as a token never issued.
    st, body, _ = ws_open(cloud.endpoint, f"/console/vnc?token={tok}")
    assert st == 403 and json.loads(body)["Code"] == "InvalidVncToken", (st, body)
    st, body, _ = ws_open(cloud.endpoint, "/console/vnc?token=" + "0" * 64)
    assert st == 403 and json.loads(body)["Code"] == "InvalidVncToken", (st, body)
    st, body, _ = ws_open(cloud.endpoint, "/console/vnc")
    assert st == 403 and json.loads(body)["Code"] == "InvalidVncToken", (st, body)
    # Another account asks for the instance's address: it does not exist for them.
    st, body = b.raw("DescribeInstanceVncUrl", {"InstanceId": iid})
    assert st == 404 and body["Code"] == "InvalidInstanceId.NotFound", (st, body)
    # Another account's console session with the first account's token: refused (and the
    # token is spent by the try).
    bs = signed_in(cloud.endpoint, b)
    _, tok = vnc_token(a, iid)
    cookie = "; ".join(f"{c.name}={c.value}" for c in bs.http.cookies)
    st, body, _ = ws_open(cloud.endpoint, f"/console/vnc?token={tok}", cookie=cookie)
    assert st == 403 and json.loads(body)["Code"] == "InvalidVncToken", (st, body)
    st, body, _ = ws_open(cloud.endpoint, f"/console/vnc?token={tok}")
    assert st == 403, (st, body)
    # A page of another site: refused before the token is looked at.
    _, tok = vnc_token(a, iid)
    st, body, _ = ws_open(cloud.endpoint, f"/console/vnc?token={tok}", origin="http://evil.example")
    assert st == 403 and json.loads(body)["Code"] == "Forbidden.CrossSite", (st, body)
    # Not a WebSocket: refused.
    r = requests.get(f"{cloud.endpoint}/console/vnc?token={tok}", timeout=30)
    assert r.status_code == 400 and r.json()["Code"] == "InvalidParameter", r.text


def test_console_in_a_browser(cloud, node_modules):
    a = cloud.account("console-a-" + secrets.token_hex(3))
    b = cloud.account("console-b-" + secrets.token_hex(3))
    evil = EvilSite(f"{cloud.endpoint}/console/api/CreateSecurityGroup")
    made: list[str] = []
    try:
        res = run_browser(cloud.endpoint, a, b, evil.url, node_modules, cloud.log_tail,
                          lambda iid: (check_vnc_tokens(cloud, a, b, iid), made.append(make_lb(cloud, a, iid))))
    finally:
        evil.close()
    final = res["result"]
    assert final["errors"] == [], final["errors"]
    # Each page's time from navigation to its data shown (warm cache): reported, not asserted.
    print("\nconsole page times (ms, navigation to data shown):",
          ", ".join(f"{k} {v}" for k, v in final["timings"].items()))
    assert res["graph"]["points"] >= 2 and res["graph"]["circles"] >= res["graph"]["points"]
    # noVNC's canvas showed the guest's screen: a framebuffer of the guest's size, not of one
    # colour (the pixels are read from the canvas in the browser).
    vnc = res["vnc shown"]
    assert vnc["width"] >= 640 and vnc["height"] >= 400 and vnc["colours"] >= 2 and vnc["lit"] > 0, vnc
    assert res["key pair"]["file"] == "console-key.pem"
    assert "KeyPair.AlreadyExist" in res["error shown"]["text"] or ":" in res["error shown"]["text"]
    seen = res["second account"]["seen"]
    assert {k: seen[k] for k in ("instances", "keypairs", "sgs", "disks", "snapshots")} == {
        "instances": 0, "keypairs": 0, "sgs": 0, "disks": 0, "snapshots": 0}, seen
    assert "NotFound" in seen["instanceError"] and "InvalidSecurityGroupId.NotFound" in seen["sgError"], seen
    # The cross-site form was refused, and made nothing.
    body = res["cross-site post"]["body"]
    assert "Forbidden.CrossSite" in body or "SessionExpired" in body, body
    assert all(g["SecurityGroupName"] != "evil-group"
               for g in a.call("DescribeSecurityGroups")["SecurityGroups"]["SecurityGroup"])
    # What the browser made is what the API shows; the instance is gone.
    iid = res["running"]["instance"]
    assert a.call("DescribeInstances")["TotalCount"] == 0, iid
    assert (SHOTS / "vnc-laptop.png").stat().st_size > 1000
    # The load balancer's page showed its listener, its backend and the backend's health; the
    # page deleted it. The policy made on its page is listed by the API.
    lbp = res["load balancer"]
    assert lbp["listeners"] == ["80"] and lbp["backends"] == [iid] and lbp["health"][0] in (
        "normal", "abnormal", "unavailable"), lbp
    assert EcsClient(cloud.endpoint, a.ak, a.secret, version="2014-05-15").call(
        "DescribeLoadBalancers")["LoadBalancers"]["LoadBalancer"] == [], made
    pols = a.call("DescribeAutoSnapshotPolicyEx")["AutoSnapshotPolicies"]["AutoSnapshotPolicy"]
    assert [(p["AutoSnapshotPolicyName"], json.loads(p["TimePoints"]), p["RetentionDays"]) for p in pols] == [
        ("console-policy", ["3", "15"], 5)], pols
    assert {k: seen[k] for k in ("slbs", "policies")} == {"slbs": 0, "policies": 0}, seen
    for name in ("instances", "create", "instance", "keypairs", "sgs", "security-group", "disks", "snapshots",
                 "images", "slbs", "slb", "policies"):
        for size in ("laptop", "phone"):
            assert (SHOTS / f"{name}-{size}.png").stat().st_size > 1000, (name, size)
