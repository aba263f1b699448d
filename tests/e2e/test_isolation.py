"""Two tenants on one controller (issue 11): nothing one account sends reaches the other's
resources or shares, and a signed request cannot be replayed or re-aimed.

- Signatures: a V3 SignedHeaders list is parsed exactly and must cover host, action,
  version, date, nonce and payload hash, so a captured request does not come back with a
  fresh date and nonce; a nonce is kept until its own timestamp leaves the window (a request
  dated ahead is not accepted twice); one account filling its nonce share throttles only
  itself.
- Isolation: account B names each of account A's resources, in every parameter of every
  action that takes an id or a name, and gets ECS's not-found code; A's resources are
  described before and after and compared.

Runs one controller with stand-in hosts (tests/e2e/fakeagent.py); no guests. The nonce
window test moves the controller's clock with libfaketime (Debian's faketime)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from ecsapi import EcsClient, enc, sign_v1
from fakeagent import FakeAgent, LoneController

FAKETIME_LIB = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1")


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def post(endpoint: str, data: bytes, headers: dict, query: str = "") -> tuple[int, dict]:
    req = urllib.request.Request(f"{endpoint}/{'?' + query if query else ''}", data=data, method="POST",
                                 headers=headers)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def v1_request(api: EcsClient, action: str, stamp: float, nonce: str, **params) -> bytes:
    """A signed form body, to send (and send again) as it is."""
    p = api.common(action)
    p.update({k: str(v) for k, v in params.items()})
    p.update({"Timestamp": iso(stamp), "SignatureNonce": nonce})
    p["Signature"] = sign_v1("POST", p, api.secret)
    return urllib.parse.urlencode(p, quote_via=urllib.parse.quote).encode()


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def v3_send(api: EcsClient, action: str, params: dict, signed: list[str], *, after_sign: dict | None = None):
    """An ACS3 request signing only the headers named in signed (in that order, as given),
    with after_sign's headers changed once the signature is made."""
    host = urllib.parse.urlsplit(api.endpoint).netloc
    headers = {"host": host, "x-acs-action": action, "x-acs-version": api.version, "x-acs-date": iso(time.time()),
               "x-acs-signature-nonce": uuid.uuid4().hex,
               "x-acs-content-sha256": hashlib.sha256(b"").hexdigest()}
    query = {k: str(v) for k, v in params.items()}
    canon_q = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(query.items()))
    canon = "\n".join(["POST", "/", canon_q, "".join(f"{n}:{headers.get(n, '')}\n" for n in signed),
                       ";".join(signed), headers["x-acs-content-sha256"]])
    sts = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canon.encode()).hexdigest()
    sig = hmac.new(api.secret.encode(), sts.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = f"ACS3-HMAC-SHA256 Credential={api.ak},SignedHeaders={';'.join(signed)},Signature={sig}"
    headers.update(after_sign or {})
    return post(api.endpoint, b"", headers, urllib.parse.urlencode(query, quote_via=urllib.parse.quote))


# ---------------------------------------------------------------- the shared controller


@pytest.fixture(scope="module")
def ctl(tmp_path_factory):
    c = LoneController(tmp_path_factory.mktemp("isoctl"))
    try:
        yield c.start()
    finally:
        c.stop()


@pytest.fixture(scope="module")
def host(ctl):
    h = FakeAgent(ctl, "h-iso").start()
    try:
        yield h
    finally:
        h.close()


@pytest.fixture(scope="module")
def a(ctl):
    return ctl.account("tenant-a")


@pytest.fixture(scope="module")
def b(ctl):
    return ctl.account("tenant-b")


# ---------------------------------------------------------------- signatures


ALL_SIGNED = ["host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce", "x-acs-version"]


def test_v3_full_signed_headers_accepted(a):
    status, body = v3_send(a, "DescribeRegions", {}, ALL_SIGNED)
    assert status == 200, body


@pytest.mark.parametrize("signed", [
    # Lookalikes of the date and nonce: the real ones are left unsigned.
    ["host", "x-acs-action", "x-acs-content-sha256", "x-acs-date-x", "x-acs-signature-nonce-x", "x-acs-version"],
    [n for n in ALL_SIGNED if n != "host"],
    [n for n in ALL_SIGNED if n != "x-acs-action"],
    [n for n in ALL_SIGNED if n != "x-acs-version"],
    [n for n in ALL_SIGNED if n != "x-acs-content-sha256"],
    list(reversed(ALL_SIGNED)),
    ALL_SIGNED + ["x-acs-version"],
    ALL_SIGNED[:2] + [""] + ALL_SIGNED[2:],
], ids=["lookalike", "no-host", "no-action", "no-version", "no-payload-hash", "unsorted", "duplicate", "empty"])
def test_v3_signed_headers_exact(a, signed):
    """A captured request replayed with a fresh date and nonce (the headers it left
    unsigned) is refused, every time."""
    for _ in range(2):
        status, body = v3_send(a, "DescribeRegions", {}, signed,
                               after_sign={"x-acs-date": iso(time.time()), "x-acs-signature-nonce": uuid.uuid4().hex})
        assert (status, body["Code"]) == (400, "IncompleteSignature"), body


def test_v3_unsigned_action_cannot_be_reaimed(a, host):
    """Signed for DescribeRegions without the action: sent as CreateSecurityGroup it is
    refused and makes nothing."""
    before = a.call("DescribeSecurityGroups", PageSize=50)["TotalCount"]
    signed = [n for n in ALL_SIGNED if n != "x-acs-action"]
    status, body = v3_send(a, "DescribeRegions", {}, signed, after_sign={"x-acs-action": "CreateSecurityGroup"})
    assert status == 400, body
    assert a.call("DescribeSecurityGroups", PageSize=50)["TotalCount"] == before


# ---------------------------------------------------------------- nonces


def test_nonce_replay_refused(a):
    data = v1_request(a, "DescribeRegions", time.time(), uuid.uuid4().hex)
    assert post(a.endpoint, data, FORM)[0] == 200
    status, body = post(a.endpoint, data, FORM)
    assert (status, body["Code"]) == (400, "SignatureNonceUsed"), body


def test_future_dated_nonce_kept_until_its_timestamp_leaves(tmp_path, monkeypatch):
    """A request dated 14 minutes ahead, replayed 15 minutes after it arrived (its stamp
    still inside the window) is a replay; 15 minutes after its stamp it is too old."""
    clock = tmp_path / "faketime"
    clock.write_text("+0\n")
    monkeypatch.setenv("LD_PRELOAD", str(FAKETIME_LIB))
    monkeypatch.setenv("FAKETIME_TIMESTAMP_FILE", str(clock))
    monkeypatch.setenv("FAKETIME_NO_CACHE", "1")
    monkeypatch.setenv("FAKETIME_DONT_FAKE_MONOTONIC", "1")
    c = LoneController(tmp_path / "ctl")
    c.start()
    try:
        monkeypatch.delenv("LD_PRELOAD")
        api = c.account("dated")
        now = time.time()
        data = v1_request(api, "DescribeRegions", now + 14 * 60, uuid.uuid4().hex)
        assert post(api.endpoint, data, FORM)[0] == 200
        assert post(api.endpoint, data, FORM)[1]["Code"] == "SignatureNonceUsed"
        # The controller's clock 15 min 10 s on: the stamp is 4 min 50 s behind it.
        clock.write_text(f"+{int(time.time() - now) + 910}\n")
        status, body = post(api.endpoint, data, FORM)
        assert (status, body["Code"]) == (400, "SignatureNonceUsed"), body
        # And a fresh request still works on the moved clock.
        fresh = v1_request(api, "DescribeRegions", time.time() + 910, uuid.uuid4().hex)
        assert post(api.endpoint, fresh, FORM)[0] == 200
        # 15 min past the stamp itself: too old, whatever the nonce table holds.
        clock.write_text(f"+{int(time.time() - now) + 14 * 60 + 910}\n")
        status, body = post(api.endpoint, data, FORM)
        assert (status, body["Code"]) == (400, "InvalidTimeStamp.Expired"), body
    finally:
        c.stop()


def test_full_nonce_share_throttles_only_its_account(tmp_path):
    c = LoneController(tmp_path / "ctl", extra={"controller": {"nonces_per_account": 16}})
    c.start()
    try:
        greedy, quiet = c.account("greedy"), c.account("quiet")
        for _ in range(16):
            assert greedy.raw("DescribeRegions")[0] == 200
        status, body = greedy.raw("DescribeRegions")
        assert (status, body["Code"]) == (400, "Throttling"), body
        for _ in range(3):
            status, body = quiet.raw("DescribeRegions")
            assert status == 200, body
    finally:
        c.stop()
