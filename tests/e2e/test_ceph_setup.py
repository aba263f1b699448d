"""scripts/ceph.sh on a real cluster of the tests' own (cephenv.py): health, pools, users and
their capabilities enforced by the OSDs and the monitor, private keyrings, an idempotent
second bring-up, data kept across stop and start, growing the OSD, bad parameters refused.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
import rados

from cephenv import POOL_CTL, POOL_OSS, POOL_OTS, POOL_RBD, POOLS, SCRIPT, USERS, CephCluster, script_env

GIB = 1 << 30


def pool_detail(c: CephCluster) -> dict:
    return {p["pool_name"]: p for p in json.loads(c.ceph("osd", "pool", "ls", "detail", "-f", "json"))}


def caps(c: CephCluster, user: str) -> dict:
    return json.loads(c.ceph("auth", "get", user, "-f", "json"))[0]["caps"]


def read_object(c: CephCluster, user: str, pool: str, name: str) -> bytes:
    r = c.rados_connect(user)
    try:
        with r.open_ioctx(pool) as io:
            return io.read(name)
    finally:
        r.shutdown()


def test_health_ok(ceph_cluster):
    health = json.loads(ceph_cluster.ceph("health", "detail", "-f", "json"))
    assert health["status"] == "HEALTH_OK", health
    status = json.loads(ceph_cluster.ceph("status", "-f", "json"))
    assert status["fsid"] == ceph_cluster.fsid
    assert status["monmap"]["num_mons"] == 1
    assert status["osdmap"]["num_osds"] == 1 and status["osdmap"]["num_up_osds"] == 1
    assert status["mgrmap"]["available"]
    pgs = status["pgmap"]
    assert pgs["pgs_by_state"] == [{"state_name": "active+clean", "count": pgs["num_pgs"]}]


def test_monitor_proposes_every_tenth_of_a_second(ceph_cluster):
    """Each RBD snapshot waits for an OSD map change: the monitor runs with a 0.1 s proposal
    interval, not Ceph's 1 s (docs/storage.md, "Figures")."""
    shown = ceph_cluster.ceph("config", "show", "mon.a", "paxos_propose_interval").strip()
    assert float(shown) == 0.1, shown


def test_cluster_is_its_own(ceph_cluster):
    """The tests' cluster listens on its own ports, never the ones `make up` uses."""
    mons = json.loads(ceph_cluster.ceph("mon", "dump", "-f", "json"))["mons"]
    addrs = [a["addr"] for a in mons[0]["public_addrs"]["addrvec"]]
    assert addrs == [f"127.0.0.1:{ceph_cluster.mon_port}", f"127.0.0.1:{ceph_cluster.mon_v1_port}"]
    assert not {ceph_cluster.mon_port, ceph_cluster.mon_v1_port} & {3300, 6789}
    conf = ceph_cluster.conf.read_text()
    for key in ("auth_cluster_required", "auth_service_required", "auth_client_required"):
        assert f"{key} = cephx" in conf


def test_pools(ceph_cluster):
    pools = pool_detail(ceph_cluster)
    for name in POOLS:
        assert name in pools, sorted(pools)
        assert (pools[name]["size"], pools[name]["min_size"]) == (1, 1), name
    assert "rbd" in pools[POOL_RBD]["application_metadata"]
    for name in (POOL_OSS, POOL_OTS, POOL_CTL):
        assert "ecs" in pools[name]["application_metadata"], name


def test_osd_on_a_sparse_bluestore_file(ceph_cluster):
    meta = json.loads(ceph_cluster.ceph("osd", "metadata", "0", "-f", "json"))
    assert meta["osd_objectstore"] == "bluestore"
    block = ceph_cluster.data_dir / "osd" / "ceph-0" / "block"
    st = block.stat()
    assert stat.S_ISREG(st.st_mode)
    assert st.st_size >= 4 * GIB
    assert st.st_blocks * 512 < st.st_size // 4, "the OSD file is not sparse"


def test_users_have_exactly_their_caps(ceph_cluster):
    assert caps(ceph_cluster, "client.ecs-agent") == {
        "mon": "profile rbd", "osd": f"profile rbd pool={POOL_RBD}", "mgr": f"profile rbd pool={POOL_RBD}"}
    assert caps(ceph_cluster, "client.ecs-ossd") == {"mon": "allow r", "osd": f"allow rwx pool={POOL_OSS}"}
    assert caps(ceph_cluster, "client.ecs-otsd") == {"mon": "allow r", "osd": f"allow rwx pool={POOL_OTS}"}
    # The controller reads the disk pool (whose images a dead host's clients still watch:
    # its proof of death, docs/cluster.md) and writes none of it.
    assert caps(ceph_cluster, "client.ecs-controller") == {
        "mon": 'allow r, allow command "osd blocklist"',
        "osd": f"allow rwx pool={POOL_CTL}, profile rbd-read-only pool={POOL_RBD}"}


def test_keyrings_are_private_and_hold_one_key(ceph_cluster):
    keys = ceph_cluster.data_dir / "keys"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    assert stat.S_IMODE(ceph_cluster.data_dir.stat().st_mode) == 0o700
    admin_key = ceph_cluster.ceph("auth", "print-key", "client.admin").strip()
    for user in (*USERS, "client.admin"):
        path = ceph_cluster.keyring(user)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        text = path.read_text()
        assert text.count("key =") == 1 and text.startswith(f"[{user}]"), text
        if user != "client.admin":
            assert admin_key not in text
            assert ceph_cluster.ceph("auth", "print-key", user).strip() in text


@pytest.fixture(scope="module")
def objects(ceph_cluster):
    """One object in each pool, written by client.admin: what the users try to read."""
    r = ceph_cluster.rados_connect("client.admin")
    try:
        for pool in POOLS:
            with r.open_ioctx(pool) as io:
                io.write_full("probe", pool.encode())
        yield
    finally:
        r.shutdown()


# (user, pool, what it may do: "rw", "r" or ""). The agent's rbd profile covers its pool only.
ACCESS = [
    ("client.ecs-ossd", POOL_OSS, "rw"), ("client.ecs-ossd", POOL_RBD, ""),
    ("client.ecs-ossd", POOL_OTS, ""), ("client.ecs-otsd", POOL_OTS, "rw"),
    ("client.ecs-otsd", POOL_OSS, ""), ("client.ecs-agent", POOL_RBD, "rw"),
    ("client.ecs-agent", POOL_OSS, ""), ("client.ecs-agent", POOL_CTL, ""),
    ("client.ecs-controller", POOL_CTL, "rw"), ("client.ecs-controller", POOL_RBD, "r"),
    ("client.ecs-controller", POOL_OSS, ""),
]


@pytest.mark.parametrize("user,pool,allowed", ACCESS)
def test_caps_enforced(ceph_cluster, objects, user, pool, allowed):
    r = ceph_cluster.rados_connect(user)
    try:
        with r.open_ioctx(pool) as io:
            if "w" in allowed:
                io.write_full(f"w-{user}", b"data")
                assert io.read(f"w-{user}") == b"data"
                io.remove_object(f"w-{user}")
            else:
                with pytest.raises(rados.PermissionError):
                    io.write_full(f"w-{user}", b"data")
            if "r" in allowed:
                assert io.read("probe") == pool.encode()
            else:
                with pytest.raises(rados.PermissionError):
                    io.read("probe")
    finally:
        r.shutdown()


def test_cli_denies_what_caps_do_not_grant(ceph_cluster, objects):
    """The same through the rados and rbd commands a person would type."""
    c = ceph_cluster
    p = c.cli("rados", "-p", POOL_RBD, "put", "x", "/etc/hostname", user="client.ecs-ossd", check=False)
    assert p.returncode != 0 and "Operation not permitted" in p.stderr, p.stderr
    p = c.cli("rados", "-p", POOL_OSS, "get", "probe", "-", user="client.ecs-agent", check=False)
    assert p.returncode != 0 and "Operation not permitted" in p.stderr, p.stderr
    # The agent works RBD images in its pool, and nowhere else.
    img = f"t-{uuid.uuid4().hex[:8]}"
    c.cli("rbd", "create", "--size", "16M", f"{POOL_RBD}/{img}", user="client.ecs-agent")
    assert img in c.cli("rbd", "ls", POOL_RBD, user="client.ecs-agent").stdout.split()
    c.cli("rbd", "rm", f"{POOL_RBD}/{img}", user="client.ecs-agent")
    p = c.cli("rbd", "create", "--size", "16M", f"{POOL_OSS}/{img}", user="client.ecs-agent", check=False)
    assert p.returncode != 0
    # No user of ours administers the cluster.
    for user in USERS:
        p = c.cli("ceph", "auth", "ls", user=user, check=False)
        assert p.returncode != 0 and "EACCES" in p.stderr, (user, p.stderr)
        p = c.cli("ceph", "osd", "pool", "create", "stray", "8", user=user, check=False)
        assert p.returncode != 0 and "EACCES" in p.stderr, (user, p.stderr)
    assert "stray" not in pool_detail(c)


def test_controller_may_blocklist(ceph_cluster):
    c = ceph_cluster
    addr = "127.0.0.9:0/4242"
    c.cli("ceph", "osd", "blocklist", "add", addr, "60", user="client.ecs-controller")
    try:
        assert addr in c.ceph("osd", "blocklist", "ls")
    finally:
        c.cli("ceph", "osd", "blocklist", "rm", addr, user="client.ecs-controller")
    assert addr not in c.ceph("osd", "blocklist", "ls")
    # The agent's `profile rbd` grants it too: librbd blocklists a dead client to break its
    # exclusive lock on an image. The storage services may not.
    for user in ("client.ecs-ossd", "client.ecs-otsd"):
        p = c.cli("ceph", "osd", "blocklist", "add", addr, "60", user=user, check=False)
        assert p.returncode != 0 and "EACCES" in p.stderr, (user, p.stderr)


def test_second_up_is_a_noop(ceph_cluster):
    c = ceph_cluster
    pids = c.daemon_pids()
    assert sorted(pids) == ["mgr.x", "mon.a", "osd.0"]
    epoch = json.loads(c.ceph("osd", "dump", "-f", "json"))["epoch"]
    auth = c.ceph("auth", "ls")
    p = c.start()
    assert p.stdout.strip() == f"ceph: cluster {c.fsid} already running", p.stdout
    assert c.daemon_pids() == pids
    assert json.loads(c.ceph("osd", "dump", "-f", "json"))["epoch"] == epoch
    assert c.ceph("auth", "ls") == auth


def test_up_restores_changed_caps(ceph_cluster):
    c = ceph_cluster
    c.ceph("auth", "caps", "client.ecs-ossd", "mon", "allow r", "osd", "allow rwx")
    assert "reset the caps of client.ecs-ossd" in c.start().stdout
    assert caps(c, "client.ecs-ossd") == {"mon": "allow r", "osd": f"allow rwx pool={POOL_OSS}"}


def test_stop_and_start_keep_data(ceph_cluster):
    c = ceph_cluster
    r = c.rados_connect("client.ecs-ossd")
    try:
        with r.open_ioctx(POOL_OSS) as io:
            io.write_full("kept", b"survives a restart")
    finally:
        r.shutdown()
    out = c.stop().stdout
    for d in ("osd.0", "mgr.x", "mon.a"):
        assert f"stopped {d}" in out
    assert c.daemon_pids() == {}
    assert c.stray_pids() == []
    assert "nothing of the cluster" in c.stop().stdout

    p = c.start()
    assert "started mon.a" in p.stdout and "started osd.0" in p.stdout
    assert read_object(c, "client.ecs-ossd", POOL_OSS, "kept") == b"survives a restart"
    assert json.loads(c.ceph("health", "-f", "json"))["status"] == "HEALTH_OK"


def test_up_grows_the_osd(ceph_cluster):
    c = ceph_cluster
    c.osd_size = "5G"
    p = c.start()
    assert "grew osd.0 from 4096 MiB to 5120 MiB" in p.stdout, p.stdout
    assert (c.data_dir / "osd" / "ceph-0" / "block").stat().st_size == 5 * GIB
    total = json.loads(c.ceph("osd", "df", "-f", "json"))["summary"]["total_kb"]
    assert total == 5 * GIB // 1024, total
    assert read_object(c, "client.ecs-ossd", POOL_OSS, "kept") == b"survives a restart"
    # Smaller than the file: kept as it is (BlueStore cannot shrink), said so.
    c.osd_size = "4G"
    p = c.start()
    assert "cannot shrink" in p.stderr and "grew" not in p.stdout
    c.osd_size = "5G"


@pytest.fixture
def short_tmp():
    """A temporary dir with a short path (pytest's are too long for a run dir's sockets)."""
    d = Path(tempfile.mkdtemp(prefix="ecsceph-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_run_dir_too_long_refused(tmp_path):
    p = run_script("--run-dir", "/tmp/" + "r" * 60, "--data-dir", str(tmp_path / "d"), "up")
    assert p.returncode == 2 and "--run-dir is too long" in p.stderr, p.stderr
    assert not (tmp_path / "d").exists()


def run_script(*args) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), "--config", "/dev/null", *args], capture_output=True, text=True,
                          timeout=60, env=script_env())


@pytest.mark.parametrize("args,message", [
    ([], "no command given"),
    (["up", "down"], "one command only"),
    (["--bogus", "1", "up"], "unknown option --bogus"),
    (["--osd-size", "3G", "up"], "--osd-size must be at least 4G"),
    (["--osd-size", "12x", "up"], "--osd-size must be bytes or a number with K, M, G or T"),
    (["--osd-size", "G", "up"], "--osd-size must be bytes"),
    (["--mon-port", "70000", "up"], "--mon-port must be 1-65535"),
    (["--mon-port", "0", "up"], "--mon-port must be 1-65535"),
    (["--mon-port", "13000", "--mon-v1-port", "13000", "up"], "must differ"),
    (["--fsid", "not-a-uuid", "up"], "--fsid must be a lower-case UUID"),
    (["--address", "300.1.1.1", "up"], "--address must be an IPv4 address"),
    (["--replicas", "4", "up"], "--replicas must be 1, 2 or 3"),
    (["--data-dir", "relative/dir", "up"], "--data-dir must be an absolute path"),
    (["--config", "/nonexistent/ceph.ini", "up"], "cannot be read"),
])
def test_bad_parameters_refused(short_tmp, args, message):
    base = short_tmp / "c"
    p = run_script("--data-dir", str(base / "data"), "--run-dir", str(base / "run"), "--log-dir",
                   str(base / "log"), "--mon-port", "13001", "--mon-v1-port", "13002", *args)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert message in p.stderr, p.stderr
    assert not base.exists(), "a refused run made files"


def test_env_and_config_file_resolve(tmp_path):
    """ECS_CEPH_<KEY> beats the [ceph] section of the config file; an option beats both."""
    ini = tmp_path / "ceph.ini"
    ini.write_text("[other]\nosd_size = 9G\n[ceph]\n# a comment\nosd_size = \"3G\"\nreplicas = 7\n")
    env = script_env()

    def run(*args, **extra):
        return subprocess.run([str(SCRIPT), "--config", str(ini), "--data-dir", str(tmp_path / "d"), *args, "up"],
                              capture_output=True, text=True, timeout=60, env={**env, **extra})

    err = run().stderr
    assert "--osd-size must be at least 4G" in err and "not '3G'" in err, err
    assert "not '2G'" in run(ECS_CEPH_OSD_SIZE="2G").stderr
    assert "not '1G'" in run("--osd-size", "1G", ECS_CEPH_OSD_SIZE="2G").stderr
    assert "--replicas must be 1, 2 or 3, not '7'" in run("--osd-size", "4G").stderr
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("option,value,key", [
    ("--fsid", str(uuid.uuid4()), "fsid"),
    ("--mon-port", "13003", "mon_port"),
])
def test_identity_of_a_made_cluster_is_kept(ceph_cluster, option, value, key):
    """A data dir's cluster keeps its fsid and ports: a run given others refuses, touching nothing."""
    c = ceph_cluster
    args = c.args()
    i = args.index(option)
    args[i + 1] = value
    before = c.conf.read_text()
    p = subprocess.run([str(SCRIPT), *args, "up"], capture_output=True, text=True, timeout=60, env=script_env())
    assert p.returncode == 2
    assert f"holds a cluster made with {key}" in p.stderr, p.stderr
    assert c.conf.read_text() == before
    assert sorted(c.daemon_pids()) == ["mgr.x", "mon.a", "osd.0"]


def test_destroy_leaves_nothing():
    """A second cluster beside the session's: made, then destroyed without a trace."""
    c = CephCluster()
    try:
        c.start()
        pids = list(c.daemon_pids().values())
        assert len(pids) == 3
        assert json.loads(c.ceph("health", "-f", "json"))["status"] == "HEALTH_OK"
        c.script("destroy")
        assert not c.data_dir.exists() and not c.run_dir.exists() and not c.log_dir.exists()
        assert list(c.base.iterdir()) == []
        assert c.stray_pids() == []
        assert all(not os.path.exists(f"/proc/{pid}") for pid in pids)
    finally:
        c.destroy()
