"""The controller's state survives its host (docs/architecture.md, "The controller survives its
host"): two controllers on loopback with [ha] enabled over the session's Ceph cluster, no guests.

- a deposed writer (its epoch superseded in RADOS) gets an error for its write, steps down, and
  nothing of that write is in the journal;
- kill -9 of the active one: the standby takes over by itself and every acknowledged write is
  there; the standby refused writes and served reads before;
- a frozen leader (SIGSTOP past its lease), resumed after the takeover, gets errors for every
  write, steps down (a standby again), and none of its changes is in the journal.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import struct
import time
import urllib.error
import uuid

import pytest

from agentenv import free_port
from agentlib import write_host_key
from cloudenv import CTL_BIN, make_account, start_controller, stop_controller
from cephenv import POOL_CTL
from ecsapi import EcsClient
from waiting import wait_for, wait_log_line

LEASE_MS = 2000


class Ctl:
    def __init__(self, base, name, ceph, journal, key_file, extra=""):
        self.dir = base / name
        self.dir.mkdir()
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log_path = self.dir / "controller.log"
        self.config = self.dir / "controller.ini"
        self.config.write_text(
            f"[controller]\nport = {self.port}\ndata_dir = {self.dir / 'data'}\nhost_key_file = {key_file}\n"
            f"log_level = debug\n"
            f"[ceph]\nconf = {ceph.conf}\nuser = ecs-controller\n"
            f"keyring = {ceph.keyring('client.ecs-controller')}\n"
            f"[ha]\nenabled = true\nname = {journal}\nlease_ms = {LEASE_MS}\nendpoint = {self.endpoint}\n{extra}")
        self.proc = None

    def start(self):
        self.proc = start_controller(self.config, self.log_path)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def client(self, keys: EcsClient) -> EcsClient:
        return EcsClient(self.endpoint, keys.ak, keys.secret, timeout=20)


@pytest.fixture
def ha(tmp_path, ceph_cluster):
    """Two controllers' places and a journal name of their own; everything stopped and the
    journal's objects removed afterwards."""
    key_file = tmp_path / "cluster.key"
    write_host_key(key_file, secrets.token_hex(32))
    journal = f"ha-{uuid.uuid4().hex[:8]}"
    ctls = [Ctl(tmp_path, n, ceph_cluster, journal, key_file, "snapshot_entries = 5\n") for n in ("a", "b")]
    try:
        yield ctls, journal
    finally:
        for c in ctls:
            if c.proc and c.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(c.proc.pid, signal.SIGCONT)
            stop_controller(c.proc)
        r = ceph_cluster.rados_connect("client.admin")
        try:
            io = r.open_ioctx(POOL_CTL)
            for o in list(io.list_objects()):
                if o.key.startswith(f"{journal}."):
                    with contextlib.suppress(Exception):
                        io.remove_object(o.key)
            io.close()
        finally:
            r.shutdown()


def journal_entries(ceph, journal) -> list:
    """[(seq, epoch, changeset bytes)] of the journal object, in order."""
    import rados

    r = ceph.rados_connect("client.admin")
    try:
        io = r.open_ioctx(POOL_CTL)
        out, start = [], ""
        while True:
            with rados.ReadOpCtx() as op:
                it, _ = io.get_omap_vals(op, start, "", 500)
                io.operate_read_op(op, f"{journal}.journal")
                batch = list(it)
            for k, v in batch:
                out.append((int(k), struct.unpack_from("<Q", v)[0], bytes(v[16:])))
            if len(batch) < 500:
                break
            start = batch[-1][0]
        io.close()
        return out
    finally:
        r.shutdown()


def bump_epoch(ceph, journal):
    """What a new leader's takeover does to the journal object: epoch + 1 (compared first)."""
    r = ceph.rados_connect("client.admin")
    try:
        io = r.open_ioctx(POOL_CTL)
        oid = f"{journal}.journal"
        epoch = int(io.get_xattr(oid, "epoch"))
        io.set_xattr(oid, "epoch", b"%020d" % (epoch + 1))
        io.close()
        return epoch
    finally:
        r.shutdown()


def create_sg(api: EcsClient, name: str):
    """CreateSecurityGroup: its id, or None when the call failed (an error answer or none)."""
    try:
        status, body = api.raw("CreateSecurityGroup", {"RegionId": "cn-local", "SecurityGroupName": name})
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None
    return body.get("SecurityGroupId") if status == 200 else None


def sg_names(api: EcsClient) -> set:
    body = api.call("DescribeSecurityGroups", RegionId="cn-local", PageSize=100)
    return {g["SecurityGroupName"] for g in body["SecurityGroups"]["SecurityGroup"]}


def sg_names_when_up(api: EcsClient) -> set:
    """sg_names, or none while the controller is between two runs (it executes itself again)."""
    try:
        return sg_names(api)
    except (urllib.error.URLError, ConnectionError, OSError):
        return set()


def start_pair(ctls):
    """A made before its first start holds the account; A makes the journal, B follows."""
    a, b = ctls
    keys = make_account(a.config, a.endpoint, "ha-tenant")
    a.start()
    assert "controller ha: active" in a.log()
    b.start()
    wait_log_line(b.log_path, "controller ha: standby", 20, "B a standby", proc=b.proc)
    return keys


def test_deposed_writer_fails_and_nothing_lands(ha, ceph_cluster):
    (a, _), journal = ha
    keys = make_account(a.config, a.endpoint, "ha-tenant")
    a.start()
    api = a.client(keys)
    assert create_sg(api, "before-1") and create_sg(api, "before-2")
    before = journal_entries(ceph_cluster, journal)
    assert before and {e for _, e, _ in before} == {1}
    assert b"before-2" in b"".join(cs for _, _, cs in before)

    bump_epoch(ceph_cluster, journal)  # another leader took over
    assert create_sg(api, "after-deposed") is None
    wait_log_line(a.log_path, "controller ha: stepped down", 20, "A steps down", proc=a.proc)
    after = journal_entries(ceph_cluster, journal)
    assert after == before, "the deposed writer's append landed"
    assert b"after-deposed" not in b"".join(cs for _, _, cs in after)


def test_kill_active_standby_takes_over(ha, ceph_cluster):
    ctls, journal = ha
    a, b = ctls
    keys = start_pair(ctls)
    api_a, api_b = a.client(keys), b.client(keys)
    acked = [n for n in (f"sg-{i}" for i in range(20)) if create_sg(api_a, n)]
    assert len(acked) == 20
    # The standby serves reads from its copy (once it caught up) and refuses writes.
    wait_for(lambda: set(acked) <= sg_names(api_b), 20, "B caught up")
    status, body = api_b.raw("CreateSecurityGroup", {"RegionId": "cn-local", "SecurityGroupName": "on-standby"})
    assert status == 503 and body["Code"] == "ServiceUnavailable", body
    assert a.endpoint in body["Message"]

    # More writes right up to the kill: each acknowledged one must survive.
    acked += [n for n in (f"late-{i}" for i in range(10)) if create_sg(api_a, n)]
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait()
    killed = time.monotonic()
    wait_log_line(b.log_path, "controller ha: active", 30, "B takes over", proc=b.proc)
    took = time.monotonic() - killed
    print(f"takeover after kill -9: {took:.1f} s (lease {LEASE_MS} ms)")
    assert set(acked) <= sg_names(api_b)
    assert create_sg(api_b, "after-takeover")
    assert {e for _, e, _ in journal_entries(ceph_cluster, journal)} == {1, 2}


def test_frozen_leader_is_fenced(ha, ceph_cluster):
    ctls, journal = ha
    a, b = ctls
    keys = start_pair(ctls)
    api_a, api_b = a.client(keys), b.client(keys)
    assert create_sg(api_a, "from-a")
    a.proc.send_signal(signal.SIGSTOP)
    wait_log_line(b.log_path, "controller ha: active", 30, "B takes over", proc=b.proc)
    assert create_sg(api_b, "from-b")
    taken = journal_entries(ceph_cluster, journal)
    a.proc.send_signal(signal.SIGCONT)

    # Every write the old leader attempts fails; it steps down and comes back a standby.
    for i in range(5):
        assert create_sg(api_a, f"stale-{i}") is None
    wait_log_line(a.log_path, "controller ha: stepped down", 20, "A steps down", proc=a.proc)
    wait_log_line(a.log_path, "controller ha: standby", 30, "A a standby again", proc=a.proc)

    entries = journal_entries(ceph_cluster, journal)
    assert entries[:len(taken)] == taken
    assert all(e == 2 for _, e, _ in entries[len(taken):])
    assert b"stale-" not in b"".join(cs for _, _, cs in entries)
    names = sg_names(api_b)
    assert {"from-a", "from-b"} <= names and not any(n.startswith("stale-") for n in names)
    # A's copy was rebuilt from the snapshot and the journal: it serves B's writes, not its own.
    wait_for(lambda: "from-b" in sg_names_when_up(api_a), 20, "A caught up")
    assert not any(n.startswith("stale-") for n in sg_names(api_a))


def test_snapshot_trims_and_a_new_host_starts_from_it(ha, ceph_cluster):
    """snapshot_entries = 5: the active snapshots and trims as it goes; a controller whose
    data dir is empty starts from the latest snapshot plus the journal's tail."""
    (a, b), journal = ha
    keys = make_account(a.config, a.endpoint, "ha-tenant")
    a.start()
    api = a.client(keys)
    names = []
    for rnd in range(2):  # each round past snapshot_entries: a snapshot; the second trims
        names += [f"snap-{rnd}-{i}" for i in range(8)]
        assert all(create_sg(api, n) for n in names[-8:])
        wait_for(lambda: a.log().count("controller ha: snapshot written") >= 2 + rnd, 20, "a snapshot")
    wait_for(lambda: re.search(r'journal trimmed" upto=[1-9]', a.log()), 20, "a trim")
    entries = journal_entries(ceph_cluster, journal)
    assert entries and entries[0][0] > 1, "nothing trimmed"
    b.start()
    assert "local copy replaced by the snapshot" in b.log()
    wait_for(lambda: set(names) <= sg_names(b.client(keys)), 20, "B from snapshot + journal")
