"""Disks and snapshots on a real guest: a data disk attached live shows up in the guest and
keeps its data across detach and attach; a disk grows live; a snapshot taken while the
guest runs, a file written after it, a roll back: the file is gone; an image made from the
snapshot boots a new instance that has the file from before the snapshot.
The tests of this module run in order."""

import json
import time

import pytest

from agentlib import ApiError, random_id
from waiting import wait_for

MARK = "ecs-disk-mark-7b1e"


@pytest.fixture(scope="module")
def vm(agent_env):
    spec = agent_env.spec(hostname="disks-1")
    agent_env.create(spec)
    agent_env.wait_ssh(spec)
    return spec


@pytest.fixture(scope="module")
def data_disk(agent_env):
    return random_id("d-")


def block_devices(env, vm):
    return env.ssh(vm, "ls /sys/block").stdout.split()


def wait_devices(env, vm, until, what: str):
    wait_for(lambda: block_devices(env, vm), 30, what, until=until, detail=lambda: env.explain(vm, ""))


def test_data_disk_attached_live_shows_up(agent_env, vm, data_disk):
    c = agent_env.client
    d = c.put(f"/v1/disks/{data_disk}", {"size_gib": 1})
    assert d["status"] == "Available" and d["instance_id"] == ""
    assert "vdb" not in block_devices(agent_env, vm)
    d = c.post(f"/v1/disks/{data_disk}/attach", {"instance_id": vm["instance_id"]})
    assert d["status"] == "In_use" and d["device"] == "vdb"
    wait_devices(agent_env, vm, lambda devs: "vdb" in devs, "vdb in the guest")
    # The disk's id is its serial: the guest finds it by id.
    serial = agent_env.ssh(vm, "cat /sys/block/vdb/serial").stdout.strip()
    assert serial == data_disk[2:]
    # Attaching again is the same attachment.
    assert c.post(f"/v1/disks/{data_disk}/attach", {"instance_id": vm["instance_id"]})["device"] == "vdb"


def test_data_survives_detach_and_attach(agent_env, vm, data_disk):
    c = agent_env.client
    agent_env.ssh(vm, f"echo {MARK} | dd of=/dev/vdb bs=512 count=1 conv=fsync 2>/dev/null")
    c.post(f"/v1/disks/{data_disk}/detach")
    wait_devices(agent_env, vm, lambda devs: "vdb" not in devs, "vdb gone from the guest")
    assert c.get(f"/v1/disks/{data_disk}")["status"] == "Available"
    c.post(f"/v1/disks/{data_disk}/attach", {"instance_id": vm["instance_id"]})
    wait_devices(agent_env, vm, lambda devs: "vdb" in devs, "vdb back in the guest")
    assert agent_env.ssh(vm, "dd if=/dev/vdb bs=512 count=1 2>/dev/null | head -n 1").stdout.strip() == MARK


def test_grow_live_and_refuse_shrink(agent_env, vm, data_disk):
    c = agent_env.client
    c.post(f"/v1/disks/{data_disk}/resize", {"size_gib": 2})
    wait_for(lambda: agent_env.ssh(vm, "cat /sys/block/vdb/size").stdout.strip(), 20, "vdb of 2 GiB in the guest",
             until=lambda sectors: sectors == str(2 * 1024**3 // 512))
    with pytest.raises(ApiError) as e:
        c.post(f"/v1/disks/{data_disk}/resize", {"size_gib": 1})
    assert e.value.status == 400
    assert c.get(f"/v1/disks/{data_disk}")["size_gib"] == 2


def test_attached_disk_cannot_be_deleted_or_attached_twice(agent_env, vm, data_disk):
    c = agent_env.client
    with pytest.raises(ApiError) as e:
        c.delete(f"/v1/disks/{data_disk}")
    assert e.value.status == 403 and e.value.code == "IncorrectDiskStatus"
    with pytest.raises(ApiError) as e:
        c.post(f"/v1/disks/{data_disk}/attach", {"instance_id": random_id("i-")})
    assert e.value.status == 404


@pytest.fixture(scope="module")
def snap(agent_env, vm):
    """A snapshot of the system disk taken live, with /root/before in it and /root/after not."""
    c = agent_env.client
    agent_env.ssh(vm, "echo before > /root/before && sync")
    sys_disk = agent_env.describe(vm)["disks"][0]["disk_id"]
    sid = random_id("s-")
    t0 = time.monotonic()
    s = c.put(f"/v1/snapshots/{sid}", {"disk_id": sys_disk})
    print(f"\nlive snapshot: {time.monotonic() - t0:.1f}s")
    assert s["status"] == "accomplished", s
    # An RBD snapshot of the disk's image: nothing copied out of RADOS.
    assert sid in rbd_snaps(agent_env, f"disk-{sys_disk}")
    assert agent_env.files("snapshots") == []
    agent_env.ssh(vm, "echo after > /root/after && sync")
    return {"id": sid, "disk": sys_disk}


def rbd_snaps(agent_env, image: str) -> list:
    out = agent_env.ceph.cli("rbd", "snap", "ls", "--format", "json", f"ecs-rbd/{image}").stdout
    return [s["name"] for s in json.loads(out)]


def rbd_info(agent_env, image: str) -> dict:
    return json.loads(agent_env.ceph.cli("rbd", "info", "--format", "json", f"ecs-rbd/{image}").stdout)


def test_snapshot_rollback(agent_env, vm, snap):
    c = agent_env.client
    assert agent_env.describe(vm)["status"] == "Running"  # the snapshot did not stop the guest
    # Roll back needs the instance stopped.
    with pytest.raises(ApiError) as e:
        c.post(f"/v1/disks/{snap['disk']}/reset", {"snapshot_id": snap["id"]})
    assert e.value.status == 403 and e.value.code == "IncorrectInstanceStatus"
    c.post(f"/v1/instances/{vm['instance_id']}/stop", {"timeout_s": 60})
    c.post(f"/v1/disks/{snap['disk']}/reset", {"snapshot_id": snap["id"]})
    c.post(f"/v1/instances/{vm['instance_id']}/start")
    agent_env.wait_ssh(vm)
    assert agent_env.ssh(vm, "cat /root/before").stdout == "before\n"
    assert agent_env.ssh(vm, "test -e /root/after", check=False).returncode != 0, "the file after the snapshot is back"


def test_image_from_snapshot_boots_with_the_file(agent_env, vm, snap):
    c = agent_env.client
    image = "img-" + snap["id"][2:12]
    out = c.put(f"/v1/images/{image}", {"snapshot_id": snap["id"], "name": "from-snapshot"})
    assert out["manifest"]["name"] == "from-snapshot"
    assert out["manifest"]["source_image"] == "tiny"
    # Made inside RADOS: a clone of the snapshot with its protected base; no host holds the
    # disk's bytes (no disk file in the cache, the blob store or the agent's tmp).
    assert out["manifest"]["storage"] == "rbd" and "disk" not in out["manifest"], out
    parent = rbd_info(agent_env, f"img-{image}")["parent"]
    assert (parent["image"], parent["snapshot"]) == (f"disk-{snap['disk']}", snap["id"]), parent
    assert "base" in rbd_snaps(agent_env, f"img-{image}")
    held = [p.name for d in (agent_env.agent.data_dir / "images" / image, agent_env.agent.workdir / "blobs" / "images"
                             / image) if d.exists() for p in d.iterdir()]
    assert "manifest.json" in held and not [n for n in held if "qcow2" in n or n.startswith("disk")], held
    assert agent_env.files("tmp") == []
    spec = agent_env.spec(hostname="from-snap", image=image)
    agent_env.create(spec)
    agent_env.wait_ssh(spec)
    assert agent_env.ssh(spec, "cat /root/before").stdout == "before\n"
    assert agent_env.ssh(spec, "test -e /root/after", check=False).returncode != 0
    assert agent_env.ssh(spec, "hostname").stdout.strip() == "from-snap"
    # The image is in use: it cannot go.
    with pytest.raises(ApiError) as e:
        c.delete(f"/v1/images/{image}")
    assert e.value.code == "ImageInUse"
    c.delete(f"/v1/instances/{spec['instance_id']}")
    c.call("DELETE", f"/v1/images/{image}", query={"purge": "true"})
    assert f"img-{image}" not in agent_env.rbd_images()


def test_disk_from_snapshot_and_delete(agent_env, vm, snap):
    c = agent_env.client
    did = random_id("d-")
    d = c.put(f"/v1/disks/{did}", {"size_gib": 1, "snapshot_id": snap["id"]})
    assert d["status"] == "Available"
    # A copy-on-write clone of the snapshot, inside RADOS.
    parent = rbd_info(agent_env, f"disk-{did}")["parent"]
    assert (parent["image"], parent["snapshot"]) == (f"disk-{snap['disk']}", snap["id"]), parent
    # The snapshot goes while its clone lives (it waits for it in RBD's trash namespace).
    c.delete(f"/v1/snapshots/{snap['id']}")
    assert snap["id"] not in rbd_snaps(agent_env, f"disk-{snap['disk']}")
    c.delete(f"/v1/disks/{did}")
    assert f"disk-{did}" not in agent_env.rbd_images()
    with pytest.raises(ApiError) as e:
        c.get(f"/v1/snapshots/{snap['id']}")
    assert e.value.status == 404


def test_snapshots_outlive_their_disk(agent_env):
    """A deleted disk's snapshot stays usable (its image is kept as snaps-<id>) until the
    last snapshot goes, which takes the image with it."""
    c = agent_env.client
    src, sid, did = random_id("d-"), random_id("s-"), random_id("d-")
    c.put(f"/v1/disks/{src}", {"size_gib": 1})
    c.put(f"/v1/snapshots/{sid}", {"disk_id": src})
    c.delete(f"/v1/disks/{src}")
    assert f"disk-{src}" not in agent_env.rbd_images() and sid in rbd_snaps(agent_env, f"snaps-{src}")
    c.put(f"/v1/disks/{did}", {"size_gib": 2, "snapshot_id": sid})
    assert rbd_info(agent_env, f"disk-{did}")["parent"]["image"] == f"snaps-{src}"
    c.delete(f"/v1/snapshots/{sid}")
    # Its clone still reads through it: the image waits in the trash; the sweep takes it
    # once the clone is gone.
    c.delete(f"/v1/disks/{did}")
    wait_for(lambda: [n for n in agent_env.rbd_images(trash=True) if src in n or did in n], 60,
             "the images gone from the pool and its trash", until=lambda left: left == [])


def test_delete_instance_keeps_a_data_disk_not_deleted_with_it(agent_env, vm, data_disk):
    c = agent_env.client
    c.delete(f"/v1/instances/{vm['instance_id']}")
    d = c.get(f"/v1/disks/{data_disk}")
    assert d["status"] == "Available" and d["instance_id"] == ""
    c.delete(f"/v1/disks/{data_disk}")
    state = agent_env.host_state()
    assert state["domains"] == [] and state["disks"] == [] and state["taps"] == [], state
