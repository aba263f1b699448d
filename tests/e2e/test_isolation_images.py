"""Images across accounts, through the controller and a real agent (issue 11, defects 2 and 3).

ImportImage reads only folders the operator allows ([images] import_dirs), resolved beneath
them: another account's image in the agent's cache or blob store, a folder outside, a
symbolic link leading out and a missing path all end alike (CreateFailed; the agent answers
one error for all). OSSBucket/OSSObject is refused while there is no object store.
DeleteImage is refused while an instance, its disk or a disk made from a snapshot of it
still needs the image, and changes nothing then; once allowed, the image's cache and blob
files leave the host and nothing can bring the data back. The tests run in order."""

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from accounts import account_fixtures
from agentenv import started
from cloudenv import CloudEnv
from ecsapi import ApiError

ALL = "Creating,Available,CreateFailed"


@pytest.fixture(scope="module")
def env(tiny_image, tmp_path_factory):
    root = tmp_path_factory.mktemp("imports")
    allowed, outside = root / "allowed", root / "outside"
    for d in (root, allowed, outside):
        d.mkdir(exist_ok=True)
        d.chmod(0o755)
    cloud = CloudEnv(tiny_image.dir, agent_extra={"images.import_dirs": str(allowed)})
    cloud.allowed, cloud.outside, cloud.tiny = allowed, outside, tiny_image
    yield from started(cloud)


alice, bob = account_fixtures("env", "alice", "bob")


def copy_image(env, dst: Path) -> Path:
    """A copy of the tiny image (its manifest and files) at dst."""
    dst.mkdir(parents=True)
    dst.chmod(0o755)
    for name in ["manifest.json", *(env.tiny.manifest[k] for k in ("disk", "kernel", "initrd"))]:
        shutil.copyfile(env.tiny.dir / name, dst / name)
    return dst


def image(api, iid) -> dict:
    out = api.call("DescribeImages", ImageId=iid, Status=ALL)["Images"]["Image"]
    return out[0] if out else {}


def settled(env, api, iid, timeout=90) -> str:
    return env.wait_for(lambda: image(api, iid).get("Status") in ("Available", "CreateFailed") and
                        image(api, iid)["Status"], timeout, f"image {iid} to settle")


def import_path(api, path) -> str:
    return api.call("ImportImage", ImageName=f"imp-{time.monotonic_ns()}",
                    **{"DiskDeviceMapping.1.ImportPath": str(path)})["ImageId"]


def cache_dir(env, iid) -> Path:
    return env.host.agent.data_dir / "images" / iid


def blob_dir(env, iid) -> Path:
    return env.host.workdir / "blobs" / "images" / iid


def cached_ids(env) -> set:
    return set(env.host.client.get("/v1/images")["images"])


def test_an_allowed_folder_imports(env, alice):
    src = copy_image(env, env.allowed / "good")
    iid = import_path(alice, src)
    assert settled(env, alice, iid) == "Available"
    assert (cache_dir(env, iid) / "manifest.json").exists() and (blob_dir(env, iid) / "manifest.json").exists()
    env.alice_image = iid


def test_another_accounts_image_cannot_be_imported(env, alice, bob):
    victim = env.alice_image
    before = cached_ids(env)
    for path in (cache_dir(env, victim), blob_dir(env, victim)):
        iid = import_path(bob, path)
        assert settled(env, bob, iid) == "CreateFailed", path
    assert not [i for i in bob.call("DescribeImages", ImageOwnerAlias="self")["Images"]["Image"]]
    # Nothing was copied into the cache for bob.
    assert cached_ids(env) == before


def test_outside_symlinks_and_missing_end_alike(env, bob):
    outside = copy_image(env, env.outside / "img")
    os.symlink(outside, env.allowed / "escape")
    mixed = copy_image(env, env.allowed / "mixed")
    disk = env.tiny.manifest["disk"]
    (mixed / disk).unlink()
    os.symlink(outside / disk, mixed / disk)
    for path in (outside, env.allowed / "escape", mixed, env.allowed / "missing", Path("/nonexistent/img")):
        iid = import_path(bob, path)
        assert settled(env, bob, iid) == "CreateFailed", path
    # ".." never passes.
    st, body = bob.raw("ImportImage", {"DiskDeviceMapping.1.ImportPath": f"{env.allowed}/../outside/img"})
    assert st == 400 and body["Code"] == "InvalidParameter", body
    # The agent's answer is one for missing and forbidden: it tells nothing about outside.
    answers = []
    for path in (outside, "/nonexistent/img", env.allowed / "escape", env.allowed / "missing"):
        st, body, _ = env.host.client.raw("PUT", "/v1/images/probe-img", {"source_dir": str(path)})
        answers.append((st, body["code"], body["message"]))
    assert len(set(answers)) == 1 and answers[0][:2] == (404, "InvalidImportPath.NotFound"), answers
    assert "probe-img" not in cached_ids(env)


def test_oss_import_is_refused_until_there_is_an_object_store(env, bob):
    st, body = bob.raw("ImportImage", {"DiskDeviceMapping.1.OSSBucket": "bucket",
                                       "DiskDeviceMapping.1.OSSObject": "images/disk.qcow2"})
    assert st == 403 and body["Code"] == "OperationDenied.OSSUnavailable", body
    st, body = bob.raw("ImportImage", {"DiskDeviceMapping.1.OSSBucket": "bucket"})
    assert st == 400 and body["Code"] == "MissingParameter" and "OSSObject" in body["Message"], body


def instance_gone(env, api, iid):
    env.wait_for(lambda: not env.instance(api, iid), 90, f"{iid} to go")


def test_delete_refused_while_used(env, alice, bob):
    iid = env.alice_image
    inst = alice.call("CreateInstance", ImageId=iid, InstanceType="ecs.t1.small")["InstanceId"]
    env.wait_status(alice, inst, "Stopped")
    sys_disk = alice.call("DescribeDisks", InstanceId=inst, DiskType="system")["Disks"]["Disk"][0]["DiskId"]

    def refused():
        for force in ("false", "true"):
            st, body = alice.raw("DeleteImage", {"ImageId": iid, "Force": force})
            assert st == 403 and body["Code"] == "ImageUsingByInstance", body
        assert image(alice, iid)["Status"] == "Available"
        assert (cache_dir(env, iid) / "manifest.json").exists() and (blob_dir(env, iid) / "manifest.json").exists()

    refused()
    # Another account cannot even see it.
    st, body = bob.raw("DeleteImage", {"ImageId": iid})
    assert st == 404 and body["Code"] == "InvalidImageId.NotFound", body
    # A disk made from a snapshot of the instance's disk is an overlay on the image too.
    sid = alice.call("CreateSnapshot", DiskId=sys_disk, SnapshotName="of-imported")["SnapshotId"]
    env.wait_for(lambda: [s for s in alice.call("DescribeSnapshots", DiskId=sys_disk)["Snapshots"]["Snapshot"]
                          if s["SnapshotId"] == sid and s["Status"] == "accomplished"], 90, "the snapshot")
    did = alice.call("CreateDisk", SnapshotId=sid, ZoneId="cn-local-a")["DiskId"]
    env.wait_for(lambda: alice.call("DescribeDisks", DiskIds=json.dumps([did]))["Disks"]["Disk"][0]["Status"] ==
                 "Available", 60, "the disk")
    alice.call("DeleteInstance", InstanceId=inst)
    instance_gone(env, alice, inst)
    refused()
    alice.call("DeleteDisk", DiskId=did)
    env.wait_for(lambda: alice.call("DescribeDisks", DiskIds=json.dumps([did]))["TotalCount"] == 0, 60, "the disk")


def test_delete_removes_the_files_from_the_host(env, alice, bob):
    iid = env.alice_image
    cache, blob = cache_dir(env, iid), blob_dir(env, iid)
    alice.call("DeleteImage", ImageId=iid)
    assert not image(alice, iid)
    env.wait_for(lambda: not cache.exists() and not blob.exists(), 60, "the image's files to leave the host")
    assert iid not in cached_ids(env)
    st, body, _ = env.host.client.raw("GET", f"/v1/images/{iid}")
    assert st == 404, body
    # Nothing brings it back: not by id, not by its former folders.
    st, body = alice.raw("CreateInstance", {"ImageId": iid, "InstanceType": "ecs.t1.small"})
    assert st == 404 and body["Code"] == "InvalidImageId.NotFound", body
    for api in (alice, bob):
        for path in (cache, blob):
            again = import_path(api, path)
            assert settled(env, api, again) == "CreateFailed", (api, path)
    # A second delete finds nothing.
    st, body = alice.raw("DeleteImage", {"ImageId": iid})
    assert st == 404 and body["Code"] == "InvalidImageId.NotFound", body
