"""The storage gateways on `scripts/cluster up 3` (docs/cluster.md): every host runs ecs-ossd
and ecs-otsd at its fabric address, as a cephx user of its own. Pools are size 3, min_size 2.

- OSS: 1,000 objects PUT concurrently through host1's gateway while host3 is killed; every
  acknowledged PUT reads back with its MD5 through host2's; after revive Ceph is HEALTH_OK.
- OTS: 1,000 PutRow calls through host1's gateway while host3 is killed; every acknowledged
  row reads back through host2's.
- host2's ecs-ossd SIGKILLed during 100 concurrent PUTs (multi-stripe bodies): no object is
  half-written, the listing is exactly what reads back, every RADOS object no index entry
  references is in the GC queue, and GC then leaves none (host2's gateway is restarted with
  `gc_pending_s` 30 for it: a PUT cut mid-body is collected 30 s after it began, not 6 h. The
  other gateways keep 6 h: a PUT still running when its version falls due loses its stripes,
  and a PUT across a host kill takes up to ~25 s here).

Run under the guests' lock (namespaces, bridges, iptables); no guests are booted. Figures
(PUT rate across the kill, time to HEALTH_OK after revive) go to stderr; nothing is asserted
on time."""

from __future__ import annotations

import base64
import configparser
import concurrent.futures
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

from npmenv import run_node_merged
from ossenv import OssAccount
from otsenv import NPM_DIR, install_tablestore
from test_cluster import NET, Cluster, figure
from test_ots_api import PRELUDE
from waiting import wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="namespaces, bridges and iptables need root")

HOSTS = ("host1", "host2", "host3")


def gateway(host: str, port: int) -> str:
    return f"http://{NET}.{int(host[4:]) + 1}:{port}"


def rate(name: str, n: int, seconds: float):
    print(f"[cluster figure] {name}: {n} in {seconds:.1f} s = {n / max(seconds, 1e-9):.0f}/s", file=sys.stderr)


class Endpoint:
    """What OssAccount needs of an environment: the gateway it talks to."""

    def __init__(self, url: str):
        self.endpoint = url


@pytest.fixture(scope="module")
def cluster():
    c = Cluster()
    # The gateways' GC without delay (config overrides in the environment reach them through
    # scripts/cluster): the SIGKILL test waits for it.
    c.env.update(ECS_OSS_GC_DELAY_S="0", ECS_OSS_GC_INTERVAL_S="1")
    yield from c.up_for_module()


@pytest.fixture(scope="module")
def keys(cluster):
    cp = configparser.ConfigParser()
    cp.read(cluster.ecsctl_config)
    return cp["cluster"]["access_key_id"], cp["cluster"]["access_key_secret"]


def oss_on(keys, host: str) -> OssAccount:
    return OssAccount(Endpoint(gateway(host, 8775)), "cluster", keys[0], keys[1], "")


def whole(cluster: Cluster):
    """Every host running and Ceph HEALTH_OK (a failed test before may have left one killed)."""
    for h, pids in cluster.pids().items():
        if h != "controller" and not pids:
            cluster.script("revive", h, timeout=300)
    wait_for(cluster.health, 300, "HEALTH_OK", 1, until=lambda s: s.startswith("HEALTH_OK"), detail=cluster.logs)


def revive_timed(cluster: Cluster, host: str):
    t0 = time.monotonic()
    cluster.script("revive", host, timeout=300)
    wait_for(cluster.health, 300, "HEALTH_OK after revive", 1, until=lambda s: s.startswith("HEALTH_OK"),
             detail=cluster.logs)
    figure(f"revive {host} -> HEALTH_OK", time.monotonic() - t0)


def kill_after(cluster: Cluster, host: str, acked, count: int, done: threading.Event, out: dict):
    """A thread: once `count` writes are acknowledged, `scripts/cluster kill host` (bounded)."""

    def run():
        deadline = time.monotonic() + 300
        while len(acked) < count and not done.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)
        out["acked_before"] = len(acked)
        out["at"] = time.monotonic()
        out["result"] = cluster.script("kill", host, check=False)

    t = threading.Thread(target=run)
    t.start()
    return t


def writes_went_on(what: str, kill: dict, t0: float, acked: dict, failed: dict):
    """The kill ran; figures; and writes were acknowledged after it (size 3, min_size 2: one
    host of three down stops nothing once its OSD is marked down)."""
    t1 = time.monotonic()
    assert kill["result"].returncode == 0, kill["result"].stderr
    after = [k for k, t in acked.items() if t > kill["at"]]
    rate(f"{what} before the kill", kill["acked_before"], kill["at"] - t0)
    rate(f"{what} after the kill (host3 down)", len(after), t1 - kill["at"])
    print(f"[cluster figure] {what} acknowledged {len(acked)}, failed {len(failed)}: {list(failed.items())[:3]}",
          file=sys.stderr)
    assert len(after) >= 500, f"only {len(after)} {what} acknowledged after the kill; failed: {list(failed.items())[:5]}"


def test_endpoints_and_users(cluster):
    p = cluster.script("endpoints")
    lines = p.stdout.split("\n")[:-1]
    assert lines == [f"{h} oss {gateway(h, 8775)} ots {gateway(h, 8776)}" for h in HOSTS]
    auth = cluster.ceph("auth", "ls", "--format=json")
    assert auth.returncode == 0, auth.stderr
    caps = {e["entity"]: e["caps"] for e in json.loads(auth.stdout)["auth_dump"]}
    for h in HOSTS:
        assert caps[f"client.ecs-ossd-{h}"] == {"mon": "allow r", "osd": "allow rwx pool=ecs-oss"}
        assert caps[f"client.ecs-otsd-{h}"] == {"mon": "allow r", "osd": "allow rwx pool=ecs-ots"}
        keyring = cluster.dir / "hosts" / h / "keys" / f"ceph.client.ecs-ossd-{h}.keyring"
        assert keyring.stat().st_mode & 0o777 == 0o600
    detail = cluster.ceph("osd", "pool", "ls", "detail")
    for pool in ("ecs-oss", "ecs-ots"):
        line = next(x for x in detail.stdout.splitlines() if f"'{pool}'" in x)
        assert " size 3 min_size 2 " in line, line


def test_oss_puts_survive_a_host_kill(cluster, keys):
    whole(cluster)
    w, r = oss_on(keys, "host1"), oss_on(keys, "host2")
    assert w.request("PUT", "killtest").status_code == 200
    rnd = random.Random(14)
    bodies = {f"obj/{i:04d}": rnd.randbytes(rnd.randint(1, 64) * 1024) for i in range(1000)}
    acked, failed, slowest = {}, {}, [0.0]
    lock = threading.Lock()

    def put(key):
        body = bodies[key]
        md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
        started = time.monotonic()
        try:
            resp = w.request("PUT", "killtest", key, data=body, headers={"Content-MD5": md5})
            ok, why = resp.status_code == 200, f"{resp.status_code} {resp.text[:200]}"
        except Exception as e:  # a connection reset or timeout is not an acknowledgement
            ok, why = False, repr(e)
        with lock:
            if ok:
                acked[key] = time.monotonic()
                slowest[0] = max(slowest[0], acked[key] - started)
            else:
                failed[key] = why

    done, kill = threading.Event(), {}
    killer = kill_after(cluster, "host3", acked, 200, done, kill)
    t0 = time.monotonic()
    try:
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            list(pool.map(put, bodies))
    finally:
        done.set()
        killer.join()
    writes_went_on("OSS PUTs", kill, t0, acked, failed)
    figure("OSS: the slowest acknowledged PUT across the kill", slowest[0])

    def check(key):
        resp = r.request("GET", "killtest", key)
        return key, resp.status_code, hashlib.md5(resp.content).hexdigest()

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        got = list(pool.map(check, acked))
    bad = [(k, s) for k, s, m in got if s != 200 or m != hashlib.md5(bodies[k]).hexdigest()]
    assert not bad, f"{len(bad)} acknowledged PUTs do not read back through host2: {bad[:5]}"
    revive_timed(cluster, "host3")


OTS_WRITE = r"""
const c = mk(process.env.AK0, process.env.SK0);
await create(c, 'killtest', [{name: 'id', type: 'INTEGER'}]);
out({created: true});
let next = 0;
const worker = async () => {
  while (next < 1000) {
    const id = next++;
    try {
      await c.putRow({tableName: 'killtest', condition: IGNORE, primaryKey: [{id: Long.fromNumber(id)}],
          attributeColumns: [{v: 'row-' + id}, {n: Long.fromNumber(id * 7)}]});
      out({ack: id});
    } catch (e) { out({fail: id, err: String(e.message || e.code).slice(0, 200)}); }
  }
};
await Promise.all(Array.from({length: 8}, worker));
"""

OTS_READ = r"""
const c = mk(process.env.AK0, process.env.SK0);
const ids = JSON.parse(process.env.IDS);
const bad = [];
for (let i = 0; i < ids.length; i += 100) {
  const rows = ids.slice(i, i + 100).map(id => [{id: Long.fromNumber(id)}]);
  const res = await c.batchGetRow({tables: [{tableName: 'killtest', primaryKey: rows, maxVersions: 1}]});
  res.tables[0].forEach((r, j) => {
    const id = ids[i + j];
    const a = r.isOk && r.primaryKey ? attrs(r) : null;
    if (!a || a.v !== 'row-' + id || a.n !== id * 7) bad.push([id, a, r.isOk ? null : r.errorCode]);
  });
}
out({read: ids.length, bad: bad.slice(0, 5), nbad: bad.length});
"""


def ots_script(body: str) -> str:
    prelude = PRELUDE.replace("http://127.0.0.1:${port}", "${process.env.ENDPOINT}")
    assert prelude != PRELUDE
    return prelude + "(async () => {\n" + body + "\n})().catch(e => { console.error(e); process.exit(1); });"


def test_ots_rows_survive_a_host_kill(cluster, keys):
    install_tablestore()
    whole(cluster)
    env = dict(os.environ, ENDPOINT=gateway("host1", 8776), AK0=keys[0], SK0=keys[1])
    acked, failed = {}, {}
    done, kill = threading.Event(), {}
    killer = kill_after(cluster, "host3", acked, 200, done, kill)
    t0 = time.monotonic()
    proc = subprocess.Popen(["node", "-e", ots_script(OTS_WRITE)], cwd=NPM_DIR, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(600, proc.kill)  # bounded: the SDK waits on a stuck call
    watchdog.start()
    try:
        for line in proc.stdout:
            x = json.loads(line)
            if "ack" in x:
                acked[x["ack"]] = time.monotonic()
            elif "fail" in x:
                failed[x["fail"]] = x["err"]
        proc.wait(60)
    finally:
        watchdog.cancel()  # a pending timer would hold pytest's exit for 10 min after a failure
        done.set()
        killer.join()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, proc.stderr.read()[-3000:]
    writes_went_on("OTS PutRows", kill, t0, acked, failed)
    res = run_node_merged(NPM_DIR, ots_script(OTS_READ), dict(env, ENDPOINT=gateway("host2", 8776),
                                                               IDS=json.dumps(sorted(acked))), 600)
    assert res["read"] == len(acked) and res["nbad"] == 0, res
    revive_timed(cluster, "host3")


def rados_state(cluster: Cluster, bucket: str):
    """(the bucket's index versions, its data and manifest objects' versions, versions in oss.gc)."""
    import rados

    r = rados.Rados(conffile=str(cluster.dir / "ceph" / "ceph.conf"), name="client.admin")
    r.connect(timeout=10)
    try:
        io = r.open_ioctx("ecs-oss")

        def omap(obj):
            out, start = {}, ""
            while True:
                with rados.ReadOpCtx() as op:
                    it, _ = io.get_omap_vals(op, start, "", 1000)
                    io.operate_read_op(op, obj)
                    page = dict(it)
                out.update(page)
                if len(page) < 1000:
                    return out
                start = max(page)

        bid = json.loads(omap("oss.buckets")[bucket])["id"]
        indexed = set()
        for shard in range(16):  # OSS_SHARDS
            try:
                # Shards are named with two digits; an entry names its version under "v"
                # (docs/oss-api.md, "Storage layout in RADOS").
                indexed |= {json.loads(v)["v"] for v in omap(f"oss.idx.{bid}.{shard:02d}").values()}
            except rados.ObjectNotFound:
                pass
        stored = set()
        for o in io.list_objects():
            for kind in ("data", "manifest"):
                if o.key.startswith(f"oss.{kind}.{bid}."):
                    stored.add(o.key[len(f"oss.{kind}.{bid}."):].split(".")[0])
        queued = {k.split(".")[2]: k.split(".")[0] for k in omap("oss.gc") if k.split(".")[1] == bid}
        io.close()
        return indexed, stored, queued
    finally:
        r.shutdown()


def ossd_pid(cluster: Cluster, host: str) -> int:
    return int((cluster.dir / "hosts" / host / "ossd.pid").read_text())


def restart_ossd(cluster: Cluster, host: str, **env: str):
    """SIGKILL the host's ecs-ossd, then `revive` it with these config overrides added."""
    pid = ossd_pid(cluster, host)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 30, f"{host}'s ecs-ossd gone", 0.1)
    saved = dict(cluster.env)
    cluster.env.update(env)
    try:
        p = cluster.script("revive", host, timeout=300)
    finally:
        cluster.env = saved
    assert f"{host}/ossd" in p.stdout, p.stdout


def test_gateway_sigkill_mid_puts(cluster, keys):
    whole(cluster)
    # Its PUTs cut by the kill fall due 30 s after they began; the first acknowledged took
    # a few seconds (figure below), so none that is acknowledged can be collected early.
    restart_ossd(cluster, "host2", ECS_OSS_GC_PENDING_S="30")
    w, r = oss_on(keys, "host2"), oss_on(keys, "host1")
    assert w.request("PUT", "sigkill").status_code == 200
    rnd = random.Random(15)
    # 1-6 MiB: many bodies span two 4 MiB stripes, so the kill cuts some mid-body.
    bodies = {f"k{i:03d}": rnd.randbytes(rnd.randint(1, 6) << 20) for i in range(100)}
    acked, lock = set(), threading.Lock()

    def put(key):
        try:
            if w.request("PUT", "sigkill", key, data=bodies[key]).status_code == 200:
                with lock:
                    acked.add(key)
        except Exception:  # the connection cut by the kill
            pass

    pid = ossd_pid(cluster, "host2")
    with concurrent.futures.ThreadPoolExecutor(100) as pool:
        t0 = time.monotonic()
        futures = [pool.submit(put, k) for k in bodies]
        wait_for(lambda: len(acked), 300, "a first PUT acknowledged", 0.05)
        os.kill(pid, signal.SIGKILL)
        figure("SIGKILL: the first PUT acknowledged after", time.monotonic() - t0)
        concurrent.futures.wait(futures, 120)
    print(f"[cluster figure] SIGKILL: {len(acked)} of 100 PUTs acknowledged before it", file=sys.stderr)
    assert len(acked) < 100, "the kill came after every PUT: nothing was cut"
    resp = r.request("GET", "sigkill", query={"max-keys": "1000"})
    assert resp.status_code == 200, resp.text
    import xml.etree.ElementTree as ET

    listed = {c.findtext("Key"): int(c.findtext("Size")) for c in ET.fromstring(resp.content).iter("Contents")}
    assert acked <= set(listed), f"acknowledged but not listed: {sorted(acked - set(listed))}"
    for key, size in listed.items():
        got = r.request("GET", "sigkill", key)
        assert got.status_code == 200 and size == len(bodies[key]), (key, got.status_code, size)
        assert hashlib.md5(got.content).digest() == hashlib.md5(bodies[key]).digest(), f"{key} half-written"
    assert r.request("GET", "sigkill", "k-none").status_code == 404
    # Every version no index entry names is in the GC queue, and GC leaves none of them.
    indexed, stored, queued = rados_state(cluster, "sigkill")
    assert len(indexed) == len(listed)
    assert stored - indexed, "the kill cut no PUT after its first stripe: nothing for GC to collect"
    assert stored - indexed <= set(queued), f"unreferenced and not queued: {sorted(stored - indexed - set(queued))}"
    print(f"[cluster figure] SIGKILL: {len(stored - indexed)} cut PUTs' versions queued, "
          f"{len(listed)} objects listed", file=sys.stderr)
    t0 = time.monotonic()
    wait_for(lambda: rados_state(cluster, "sigkill"), 240, "GC collecting every unreferenced version", 2,
             until=lambda st: not st[1] - st[0])
    figure("SIGKILL: the cut PUTs collected", time.monotonic() - t0)
    assert rados_state(cluster, "sigkill")[0] == indexed
    # revive starts the host's gateway again (the rest of it still runs), as the module set it.
    p = cluster.script("revive", "host2", timeout=300)
    assert "host2/ossd" in p.stdout, p.stdout
    assert oss_on(keys, "host2").request("GET", "sigkill", query={"max-keys": "1"}).status_code == 200
