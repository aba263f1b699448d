"""`ecsctl oss` against a real ecs-ossd on the test Ceph cluster (issue 14, item 5): mb, rb, ls
(buckets, and objects by prefix across pages), cp both ways (one PUT, and a multipart upload
above --part-size, read back by ranges), rm, presign (GET and PUT URLs that plain HTTP
clients use); signed with the profile's AccessKey pair in OSS V1. Another account's private
object is refused with OSS's own code; a non-empty bucket stays. Needs only Ceph."""

import hashlib
import os
import subprocess

import pytest
import requests

from conftest import REPO
from ossenv import alice, bob, oss  # noqa: F401 (fixtures)

ECSCTL = REPO / "build/bin/ecsctl"


def ecsctl(who, *args, check=True):
    env = {"PATH": os.environ["PATH"], "HOME": str(who.env.dir), "ECSCTL_ACCESS_KEY_ID": who.ak,
           "ECSCTL_ACCESS_KEY_SECRET": who.secret, "ECSCTL_OSS_ENDPOINT": who.env.endpoint}
    p = subprocess.run([str(ECSCTL), "oss", *map(str, args)], capture_output=True, text=True, env=env, timeout=120)
    if check:
        assert p.returncode == 0, (args, p.stdout, p.stderr)
    return p


def md5(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_mb_ls_and_cp_one_put(alice, tmp_path):
    ecsctl(alice, "mb", "ctl-alice")
    assert "ctl-alice" in ecsctl(alice, "ls").stdout.split()
    src = tmp_path / "small.bin"
    src.write_bytes(os.urandom(300_000))
    ecsctl(alice, "cp", src, "oss://ctl-alice/dir/")
    listing = ecsctl(alice, "ls", "oss://ctl-alice/dir/").stdout.split()
    assert listing == ["300000", "dir/small.bin"], listing
    out = tmp_path / "back.bin"
    ecsctl(alice, "cp", "oss://ctl-alice/dir/small.bin", out)
    assert md5(out) == md5(src)


def test_multipart_upload_and_ranged_download(alice, tmp_path):
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom((3 << 20) + 12345))
    ecsctl(alice, "cp", "--part-size", 1, src, "oss://ctl-alice/big.bin")
    head = alice.request("HEAD", "ctl-alice", "big.bin")
    # The multipart ETag as OSS forms it: MD5 of the parts' MD5s, "-" and the number of parts.
    assert head.status_code == 200 and head.headers["ETag"].strip('"').endswith("-4"), head.headers
    out = tmp_path / "big.out"
    ecsctl(alice, "cp", "--part-size", 1, "oss://ctl-alice/big.bin", out)
    assert md5(out) == md5(src)
    assert not (tmp_path / "big.out.ecsctl-tmp").exists()
    # Nothing left half-made.
    uploads = alice.request("GET", "ctl-alice", query={"uploads": ""})
    assert "<UploadId>" not in uploads.text, uploads.text


def test_ls_pages_and_prefix(alice, tmp_path):
    f = tmp_path / "one"
    f.write_bytes(b"x")
    for i in range(3):
        ecsctl(alice, "cp", f, f"oss://ctl-alice/p/{i} &<odd>.txt")
    lines = ecsctl(alice, "ls", "oss://ctl-alice/p/").stdout.splitlines()
    assert [ln.split(None, 1)[1] for ln in lines] == [f"p/{i} &<odd>.txt" for i in range(3)], lines


def test_presign_get_and_put(alice, tmp_path):
    url = ecsctl(alice, "presign", "--expires", 300, "oss://ctl-alice/dir/small.bin").stdout.strip()
    r = requests.get(url, timeout=30)
    assert r.status_code == 200 and len(r.content) == 300000
    put = ecsctl(alice, "presign", "--http-method", "PUT", "oss://ctl-alice/up.txt").stdout.strip()
    assert requests.put(put, data=b"hello", timeout=30).status_code == 200
    assert alice.request("GET", "ctl-alice", "up.txt").content == b"hello"
    # A tampered signature is refused.
    assert requests.get(url.replace("Signature=", "Signature=A"), timeout=30).status_code == 403


def test_another_account_and_errors(alice, bob, tmp_path):
    p = ecsctl(bob, "cp", "oss://ctl-alice/dir/small.bin", tmp_path / "stolen", check=False)
    assert p.returncode == 1 and "AccessDenied" in p.stderr, p.stderr
    assert not (tmp_path / "stolen").exists() and not (tmp_path / "stolen.ecsctl-tmp").exists()
    assert "ctl-alice" not in ecsctl(bob, "ls").stdout.split()
    p = ecsctl(bob, "rm", "oss://ctl-alice/dir/small.bin", check=False)
    assert p.returncode == 1 and "AccessDenied" in p.stderr, p.stderr
    p = ecsctl(alice, "rb", "ctl-alice", check=False)
    assert p.returncode == 1 and "BucketNotEmpty" in p.stderr, p.stderr
    p = ecsctl(alice, "cp", "oss://ctl-alice/no-such", tmp_path / "x", check=False)
    assert p.returncode == 1 and "NoSuchKey" in p.stderr, p.stderr
    p = ecsctl(alice, "cp", tmp_path / "x", tmp_path / "y", check=False)
    assert p.returncode == 2, p.stderr


def test_rm_and_rb(alice):
    keys = [ln.split(None, 1)[1] for ln in ecsctl(alice, "ls", "oss://ctl-alice").stdout.splitlines()]
    ecsctl(alice, "rm", *[f"oss://ctl-alice/{k}" for k in keys])
    assert ecsctl(alice, "ls", "oss://ctl-alice").stdout == ""
    ecsctl(alice, "rb", "ctl-alice")
    assert "ctl-alice" not in ecsctl(alice, "ls").stdout.split()


@pytest.fixture(autouse=True)
def _bin():
    assert ECSCTL.exists()
