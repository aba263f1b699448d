"""The console's object storage pages' server side (controller/console_oss.h): the controller
presigns each call with the session's own key and makes it to a real ecs-ossd on the tests'
Ceph, so ecs-ossd's own ownership checks apply; a second account sees and touches nothing of
the first's. No guest is booted."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import pytest
import requests

from consoleenv import signed_in
from ossenv import running


@pytest.fixture(scope="module")
def env(ceph_cluster):
    yield from running(ceph_cluster, controller_uses_it=True)


@pytest.fixture(scope="module")
def console(env):
    return f"http://127.0.0.1:{env.ctl_port}"


def oss(s, op, **form):
    h = {"Origin": s.origin, "X-Ecs-Csrf-Token": s.csrf}
    return s.http.post(f"{s.endpoint}/console/oss/call", data=dict(form, Op=op), headers=h, timeout=60)


def upload(s, bucket, key, data: bytes):
    h = {"Origin": s.origin, "X-Ecs-Csrf-Token": s.csrf, "Content-Type": "application/octet-stream"}
    return s.http.post(f"{s.endpoint}/console/oss/upload", params={"Bucket": bucket, "Key": key}, data=data,
                       headers=h, timeout=60)


def names(r, tag, field):
    assert r.status_code == 200, r.text
    return [e.findtext(field) for e in ET.fromstring(r.content).iter(tag)]


def test_buckets_objects_and_a_second_account(env, console):
    alice, bob = env.account("con-alice"), env.account("con-bob")
    a, b = signed_in(console, alice), signed_in(console, bob)
    assert oss(a, "PutBucket", Bucket="con-alice-b").status_code == 200
    assert "con-alice-b" in names(oss(a, "ListBuckets"), "Bucket", "Name")
    body = os.urandom(5000)
    for key in ("top.bin", "dir/one.txt", "dir/two.txt"):
        assert upload(a, "con-alice-b", key, body).status_code == 200
    # Browse by prefix and delimiter: the folder is a common prefix.
    r = oss(a, "ListObjects", Bucket="con-alice-b", Delimiter="/")
    assert names(r, "Contents", "Key") == ["top.bin"]
    assert names(r, "CommonPrefixes", "Prefix") == ["dir/"]
    assert names(oss(a, "ListObjects", Bucket="con-alice-b", Prefix="dir/", Delimiter="/"), "Contents",
                 "Key") == ["dir/one.txt", "dir/two.txt"]
    r = oss(a, "GetObject", Bucket="con-alice-b", Key="dir/one.txt")
    assert r.status_code == 200 and r.content == body
    assert r.headers["Content-Disposition"] == "attachment; filename*=UTF-8''one.txt"
    # A presigned link works without any session, for that object only.
    h = {"Origin": a.origin, "X-Ecs-Csrf-Token": a.csrf}
    link = a.http.post(f"{console}/console/oss/presign", data={"Bucket": "con-alice-b", "Key": "top.bin"},
                       headers=h, timeout=30).json()["Url"]
    assert link.startswith(env.endpoint + "/con-alice-b/top.bin?") and alice.secret not in link
    assert requests.get(link, timeout=30).content == body
    # The second account: sees none of it, touches none of it (ecs-ossd's own answers).
    assert "con-alice-b" not in names(oss(b, "ListBuckets"), "Bucket", "Name")
    assert oss(b, "ListObjects", Bucket="con-alice-b").status_code == 403
    assert oss(b, "GetObject", Bucket="con-alice-b", Key="top.bin").status_code == 403
    assert oss(b, "DeleteObject", Bucket="con-alice-b", Key="top.bin").status_code == 403
    assert upload(b, "con-alice-b", "evil", b"x").status_code == 403
    assert oss(b, "DeleteBucket", Bucket="con-alice-b").status_code == 403
    # bob's link to alice's object is signed with bob's key: ecs-ossd refuses it.
    hb = {"Origin": b.origin, "X-Ecs-Csrf-Token": b.csrf}
    bob_link = b.http.post(f"{console}/console/oss/presign", data={"Bucket": "con-alice-b", "Key": "top.bin"},
                           headers=hb, timeout=30).json()["Url"]
    assert bob.ak in bob_link and requests.get(bob_link, timeout=30).status_code == 403
    assert oss(a, "GetObject", Bucket="con-alice-b", Key="top.bin").content == body
    # Bad input gets the console's own codes; without CSRF or a session nothing happens.
    for form, code in (({"Bucket": "Bad_Name"}, "InvalidBucketName"),):
        r = oss(a, "ListObjects", **form)
        assert r.status_code == 400 and r.json()["Code"] == code, r.text
    r = oss(a, "Frobnicate")
    assert r.status_code == 400 and r.json()["Code"] == "InvalidParameter"
    r = oss(a, "GetObject", Bucket="con-alice-b", Key="/abs")
    assert r.status_code == 400 and r.json()["Code"] == "InvalidObjectName"
    r = a.http.post(f"{console}/console/oss/call", data={"Op": "ListBuckets"}, headers={"Origin": a.origin},
                    timeout=30)
    assert r.status_code == 403 and r.json()["Code"] == "InvalidCsrfToken"
    r = requests.post(f"{console}/console/oss/call", data={"Op": "ListBuckets"}, timeout=30)
    assert r.status_code == 401 and r.json()["Code"] == "SessionExpired"
    # The upload limit is the API's body limit, refused before ecs-ossd sees it.
    r = upload(a, "con-alice-b", "big", b"\0" * (1024 * 1024 + 1))
    assert r.status_code == 413, r.status_code
    assert names(oss(a, "ListObjects", Bucket="con-alice-b"), "Contents", "Key") == ["dir/one.txt", "dir/two.txt",
                                                                                     "top.bin"]
    for key in ("top.bin", "dir/one.txt", "dir/two.txt"):
        assert oss(a, "DeleteObject", Bucket="con-alice-b", Key=key).status_code == 204
    assert oss(a, "DeleteBucket", Bucket="con-alice-b").status_code == 204
    assert "con-alice-b" not in names(oss(a, "ListBuckets"), "Bucket", "Name")


def test_without_an_object_store(tmp_path):
    from fakeagent import LoneController

    with LoneController(tmp_path) as lone:
        s = signed_in(lone.endpoint, lone.account("dora"))
        r = oss(s, "ListBuckets")
        assert r.status_code == 403 and r.json()["Code"] == "OperationDenied.OSSUnavailable", r.text


def test_storage_pages_in_the_browser(env, console):
    """tests/e2e/console/storage_test.js in Debian's chromium: buckets listed, made and
    deleted; a bucket browsed by folder; a file uploaded, downloaded, linked and deleted;
    a second account sees none of it. Screenshots into docs/console/, page times printed."""
    import json
    import subprocess

    from test_console import CHROMIUM, NODE_DIR, REPO, SHOTS

    if not (NODE_DIR / "node_modules/playwright-core").exists():
        subprocess.run(["make", "-s", "console-test-deps"], cwd=REPO, check=True, timeout=600)
    alice, bob = env.account("web-alice"), env.account("web-bob")
    seeded = "docs/readme.txt", "seeded by the test\n"
    assert alice.request("PUT", "web-alice-files").status_code == 200
    assert alice.request("PUT", "web-alice-files", seeded[0], data=seeded[1].encode()).status_code == 200
    SHOTS.mkdir(parents=True, exist_ok=True)
    p = subprocess.run(["node", str(REPO / "tests/e2e/console/storage_test.js")], capture_output=True, text=True,
                       timeout=600, env=dict(os.environ, ENDPOINT=console, AK1=alice.ak, SK1=alice.secret,
                                             AK2=bob.ak, SK2=bob.secret, BUCKET="web-alice-files",
                                             SEEDED_KEY=seeded[0], SEEDED_BODY=seeded[1], SHOTS=str(SHOTS),
                                             CHROMIUM=CHROMIUM, NODE_PATH=str(NODE_DIR / "node_modules")))
    assert p.returncode == 0, p.stderr[-4000:] + p.stdout[-2000:]
    res = json.loads(p.stdout.strip().splitlines()[-1])
    assert res["ok"]
    print(f"\npage times (ms, navigation to data shown): {res['timings']}")
    # What the browser did, as ecs-ossd holds it.
    listing = ET.fromstring(alice.request("GET", "web-alice-files").content)
    assert [k.findtext("Key") for k in listing.iter("Contents")] == [seeded[0]]
    assert alice.request("GET", "web-made-here").status_code == 404
