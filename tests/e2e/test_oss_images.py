"""Images and the object store (issue 14, item 5; issue 11, defect 2): ImportImage from an OSS
object and ExportImage into a bucket, through a controller, a real agent on RBD and an
ecs-ossd on the same test Ceph cluster, all three on one host key ([oss] endpoint names the
gateway to the controller).

The caller's own AccessKey decides: another account's private object, or a bucket not the
caller's, is refused with the API's error and nothing is made; the agent reads and writes
only through URLs the controller presigned with that key. A qcow2 is kept as it is, a raw
disk becomes qcow2; a qcow2 naming a backing file, a disk over 2 TiB, an object over
[oss] import_max_mib, and an object gone before the agent reads it each end with a clear
error (CreateFailed and ErrorMessage, or the API's error), never a retry loop. Exports are
compared by MD5 with what was imported. The tests run in order."""

import hashlib
import os
import shutil
import subprocess

import pytest

from agentenv import free_port
from cloudenv import CTL_BIN, CloudEnv
from ecsapi import EcsClient
from ossenv import OssAccount, OssEnv

ALL = "Creating,Available,CreateFailed"
MAX_MIB = 64


@pytest.fixture(scope="module")
def env(tiny_image, ceph_cluster):
    port = free_port()
    cloud = CloudEnv(tiny_image.dir, ctl_extra=f"[oss]\nendpoint = http://127.0.0.1:{port}\n"
                                                f"import_max_mib = {MAX_MIB}", ceph=ceph_cluster)
    gw = OssEnv(ceph_cluster)
    gw.port = port
    gw.config.write_text(
        f"[oss]\nport = {port}\ncontroller_url = {cloud.endpoint}\nhost_key_file = {cloud.key_file}\n"
        f"ceph_conf = {ceph_cluster.conf}\nkeyring = {ceph_cluster.keyring('client.ecs-ossd')}\nkey_cache_s = 2\n")
    gw.ctl_config = cloud.config
    cloud.gw, cloud.tiny = gw, tiny_image
    try:
        cloud.start()
        gw.start_ossd()
        yield cloud
    finally:
        gw.stop_ossd()
        shutil.rmtree(gw.dir, ignore_errors=True)
        cloud.close()


class Who:
    """One account, as the ECS API (api) and OSS (oss) see it."""

    def __init__(self, env, name):
        out = subprocess.run([str(CTL_BIN), "-c", str(env.config), "account", "create", name], capture_output=True,
                             text=True, check=True).stdout
        kv = dict(line.split(": ", 1) for line in out.strip().splitlines())
        self.api = EcsClient(env.endpoint, kv["AccessKeyId"], kv["AccessKeySecret"])
        self.oss = OssAccount(env.gw, name, kv["AccessKeyId"], kv["AccessKeySecret"], kv["AccountId"])
        self.bucket = f"{name}-images"


@pytest.fixture(autouse=True)
def logs_on_failure(request, env):
    """A failing test's report carries the controller's and the gateway's log tails (a 503
    from ImportImage says only that the probe of the object failed; the logs say why)."""
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        rep.sections.append(("controller log (tail)", env.log_tail(60)))
        rep.sections.append(("ecs-ossd log (tail)", env.gw.log_tail(60)))


@pytest.fixture(scope="module")
def alice(env):
    w = Who(env, "alice")
    assert w.oss.request("PUT", w.bucket).status_code == 200
    return w


@pytest.fixture(scope="module")
def bob(env):
    w = Who(env, "bob")
    assert w.oss.request("PUT", w.bucket).status_code == 200
    return w


def put(who, key, data: bytes):
    r = who.oss.request("PUT", who.bucket, key, data=data)
    assert r.status_code == 200, r.text


def image(api, iid) -> dict:
    out = api.call("DescribeImages", ImageId=iid, Status=ALL)["Images"]["Image"]
    return out[0] if out else {}


def settle(env, api, iid, timeout=240) -> dict:
    return env.wait_for(lambda: image(api, iid), timeout, f"image {iid} to settle",
                        until=lambda i: i.get("Status") in ("Available", "CreateFailed"), detail=env.log_tail)


def import_oss(api, bucket, key):
    return api.raw("ImportImage", {"DiskDeviceMapping.1.OSSBucket": bucket, "DiskDeviceMapping.1.OSSObject": key})


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_import_qcow2_from_own_object(env, alice):
    disk = (env.tiny.dir / env.tiny.manifest["disk"]).read_bytes()
    put(alice, "os/tiny.qcow2", disk)
    st, body = import_oss(alice.api, alice.bucket, "os/tiny.qcow2")
    assert st == 200, body
    img = settle(env, alice.api, body["ImageId"])
    assert img["Status"] == "Available" and img["Size"] == 1, img
    # The qcow2 is cached as it was uploaded, and the image is in the pool (the host runs on RBD).
    cached = env.host.agent.data_dir / "images" / body["ImageId"] / "disk.qcow2"
    assert md5(cached.read_bytes()) == md5(disk)
    assert f"img-{body['ImageId']}" in env.host.rbd_images()
    env.qcow2_image, env.qcow2_md5 = body["ImageId"], md5(disk)


def test_import_raw_becomes_qcow2(env, alice):
    raw = os.urandom(3 << 20) + bytes(1 << 20)
    put(alice, "raw/disk.img", raw)
    st, body = import_oss(alice.api, alice.bucket, "raw/disk.img")
    assert st == 200, body
    img = settle(env, alice.api, body["ImageId"])
    assert img["Status"] == "Available", img
    cached = env.host.agent.data_dir / "images" / body["ImageId"] / "disk.qcow2"
    assert cached.read_bytes()[:4] == b"QFI\xfb"
    env.raw_image, env.raw_md5 = body["ImageId"], md5(raw)


def test_another_accounts_private_object_is_refused(env, alice, bob):
    before = bob.api.call("DescribeImages", ImageOwnerAlias="self", Status=ALL)["Images"]["Image"]
    st, body = import_oss(bob.api, alice.bucket, "os/tiny.qcow2")
    assert st == 403 and body["Code"] == "Forbidden.OSSObject", body
    # Bob's own key signed nothing he may read: no image, no job.
    assert bob.api.call("DescribeImages", ImageOwnerAlias="self", Status=ALL)["Images"]["Image"] == before
    # Once Alice makes the object public-read, Bob may import it.
    r = alice.oss.request("PUT", alice.bucket, "raw/disk.img", query={"acl": ""},
                          headers={"x-oss-object-acl": "public-read"})
    assert r.status_code == 200, r.text
    st, body = import_oss(bob.api, alice.bucket, "raw/disk.img")
    assert st == 200, body
    assert settle(env, bob.api, body["ImageId"])["Status"] == "Available"
    # ... and Alice cannot see Bob's image.
    assert image(alice.api, body["ImageId"]) == {}


def test_missing_object_bucket_and_bad_names(env, alice):
    cases = [
        ((alice.bucket, "no/such.qcow2"), 404, "InvalidOSSObject.NotFound"),
        (("no-such-bucket-x", "a.qcow2"), 404, "InvalidOSSBucket.NotFound"),
        (("Bad_Bucket", "a.qcow2"), 400, "InvalidOSSBucket.Malformed"),
        ((alice.bucket, "/abs"), 400, "InvalidOSSObject.Malformed"),
    ]
    for (bucket, key), status, code in cases:
        st, body = import_oss(alice.api, bucket, key)
        assert (st, body.get("Code")) == (status, code), (bucket, key, body)
    st, body = alice.api.raw("ImportImage", {"DiskDeviceMapping.1.OSSBucket": alice.bucket})
    assert st == 400 and body["Code"] == "MissingParameter", body


def test_size_limit(env, alice):
    put(alice, "big.img", bytes((MAX_MIB << 20) + 1))
    st, body = import_oss(alice.api, alice.bucket, "big.img")
    assert st == 400 and body["Code"] == "InvalidOSSObject.SizeExceeded", body
    put(alice, "empty.img", b"")
    st, body = import_oss(alice.api, alice.bucket, "empty.img")
    assert st == 400 and body["Code"] == "InvalidOSSObject.Empty", body


def qcow2(tmp_path, name, size, backing=None) -> bytes:
    path = tmp_path / name
    argv = ["qemu-img", "create", "-q", "-f", "qcow2"]
    if backing:
        argv += ["-F", "raw", "-b", backing]
    subprocess.run(argv + [str(path), size], check=True)
    return path.read_bytes()


def test_unsafe_or_oversized_disks_fail_with_their_error(env, alice, tmp_path):
    put(alice, "backing.qcow2", qcow2(tmp_path, "b.qcow2", "1M", backing="/etc/hostname"))
    put(alice, "huge.qcow2", qcow2(tmp_path, "h.qcow2", "3T"))
    for key, code in (("backing.qcow2", "InvalidImage.BackingFile"), ("huge.qcow2", "InvalidImage.SizeExceeded")):
        st, body = import_oss(alice.api, alice.bucket, key)
        assert st == 200, body
        img = settle(env, alice.api, body["ImageId"])
        assert img["Status"] == "CreateFailed" and img["ErrorMessage"].startswith(code), img


def test_object_gone_before_the_agent_reads_it(env, alice):
    put(alice, "gone.img", os.urandom(1 << 20))
    env.host.agent.stop()
    try:
        st, body = import_oss(alice.api, alice.bucket, "gone.img")
        assert st == 200, body
        assert alice.oss.request("DELETE", alice.bucket, "gone.img").status_code == 204
    finally:
        env.host.agent.start()
    iid = body["ImageId"]
    img = settle(env, alice.api, iid)
    assert img["Status"] == "CreateFailed" and img["ErrorMessage"].startswith("InvalidOSSObject.NotFound"), img
    # One attempt reached the agent: a 404 is final, not retried.
    log = env.host.agent.log_path.read_text(errors="replace")
    assert log.count(f'image import from oss failed" image={iid}') == 1, log[-2000:]


def wait_object(env, who, key) -> bytes:
    def get():
        r = who.oss.request("GET", who.bucket, key)
        return r.content if r.status_code == 200 else None
    return env.wait_for(get, 240, f"object {key}", until=lambda v: v is not None, detail=env.log_tail)


def test_export_qcow2_and_raw(env, alice):
    st, body = alice.api.raw("ExportImage", {"ImageId": env.qcow2_image, "OSSBucket": alice.bucket,
                                             "OSSPrefix": "exports/", "ImageFormat": "qcow2"})
    assert st == 200 and body["TaskId"].startswith("t-"), body
    assert md5(wait_object(env, alice, f"exports/{env.qcow2_image}.qcow2")) == env.qcow2_md5
    st, body = alice.api.raw("ExportImage", {"ImageId": env.raw_image, "OSSBucket": alice.bucket})
    assert st == 200, body
    assert md5(wait_object(env, alice, f"{env.raw_image}.raw")) == env.raw_md5


def test_export_checks_image_and_bucket_owners(env, alice, bob):
    cases = [
        (bob, {"ImageId": env.qcow2_image, "OSSBucket": bob.bucket}, 404, "InvalidImageId.NotFound"),
        (alice, {"ImageId": env.qcow2_image, "OSSBucket": bob.bucket}, 403, "Forbidden.OSSBucket"),
        (alice, {"ImageId": env.qcow2_image, "OSSBucket": "no-such-bucket-x"}, 404, "InvalidOSSBucket.NotFound"),
        (alice, {"ImageId": env.qcow2_image, "OSSBucket": alice.bucket, "ImageFormat": "vmdk"}, 400, None),
        (alice, {"ImageId": env.qcow2_image, "OSSBucket": alice.bucket, "OSSPrefix": "../x"}, 400,
         "InvalidOSSPrefix.Malformed"),
    ]
    for who, params, status, code in cases:
        st, body = who.api.raw("ExportImage", params)
        assert st == status and (code is None or body["Code"] == code), (params, body)
    listing = bob.oss.request("GET", bob.bucket)
    assert listing.status_code == 200 and "<Key>" not in listing.text, listing.text


def test_instance_from_an_imported_image(env, alice):
    """An image from OSS makes disks like any other: the system disk is a clone of its RBD image."""
    inst = alice.api.call("CreateInstance", ImageId=env.raw_image, InstanceType="ecs.t1.small")["InstanceId"]
    env.wait_status(alice.api, inst, "Stopped")
    disk = alice.api.call("DescribeDisks", InstanceId=inst, DiskType="system")["Disks"]["Disk"][0]
    assert disk["ImageId"] == env.raw_image, disk
    assert env.host.disk_names([disk["DiskId"]])[0] in env.host.rbd_images()
    info = env.host.ceph.cli("rbd", "info", "--format", "json", f"ecs-rbd/disk-{disk['DiskId']}").stdout
    assert f"img-{env.raw_image}" in info, info
    alice.api.call("DeleteInstance", InstanceId=inst, Force="true")
