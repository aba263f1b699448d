"""bench_oss: ecs-ossd (issue 14) beside Ceph's own S3 gateway radosgw and beside `rados
bench`, in the same run, on one test Ceph cluster of its own (tests/e2e/cephenv.py: own
fsid, ports and data dir under /tmp; one OSD, size 1). Both gateways are S3 over RADOS on
that cluster: ecs-ossd as client.ecs-ossd on the ecs-oss pool, radosgw as client.bench-rgw
on its default.rgw.* pools (tests/bench/rgwenv.py), each reached on a loopback port.

1. 4 KiB objects: PUT then GET ops/s, CONC requests in flight for SECONDS each. Client:
   `wrk` (C, 2 threads) with a Lua script cycling through S3 SigV2 pre-signed paths (made
   beforehand; unique keys for PUT, the keys listed back for GET), the same for both
   gateways. Peer: `rados bench` 4 KiB write / seq with the same CONC on the ecs-oss pool.
2. 256 MiB objects: PUT then GET MiB/s, BIG objects one after another. Client: Python
   http.client on a pre-signed URL, the body streamed from one 1 MiB buffer, GETs read into
   one buffer. Peer: `rados bench` 4 MiB write / seq, 16 in flight (a gateway stripes an
   object into 4 MiB RADOS objects; this is the engine's limit for those bytes).
3. ecs-ossd's RSS, sampled every 0.1 s during one HUGE GiB PUT (a generator, never a file).

The clients' CPU time is printed beside each phase: a client far below one core is not the
limit. Objects are deleted after each phase; after ecs-ossd's, the bench waits until its GC
(gc_delay_s = 1) has removed their RADOS objects, so that its deletes do not load the OSD
while the next gateway is measured (radosgw removes a small object at once and queues a big
one's tail for its GC, which waits 2 h: not during the run). Targets (issue 14): >= 1.0 x radosgw, >= 0.8 x
rados bench, RSS flat. Reported, not asserted: the exit status is 1 only when the benchmark
broke (a failed request is a break). The machine is shared: the load average is printed.

Usage: bench_oss.py [SECONDS [CONC [BIG [HUGE_GIB]]]]    (default 10 16 2 5)"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

from agentenv import free_port  # noqa: E402
from cephenv import POOL_OSS, CephCluster  # noqa: E402
from ossenv import OssEnv  # noqa: E402
from rgwenv import RadosGw  # noqa: E402

SECONDS = int(sys.argv[1]) if len(sys.argv) > 1 else 10
CONC = int(sys.argv[2]) if len(sys.argv) > 2 else 16
BIG = int(sys.argv[3]) if len(sys.argv) > 3 else 2
HUGE_GIB = int(sys.argv[4]) if len(sys.argv) > 4 else 5
MIB = 1 << 20
SMALL = 4096
BIG_SIZE = 256 * MIB
SMALL_KEYS = 60000  # more than SECONDS x any rate seen here; PUTs past it would overwrite

WRK_LUA = r"""
local n = 0
function setup(thread) thread:set("tid", n); n = n + 1 end
function init(args)
  method, step, paths = args[1], tonumber(args[3]), {}
  for l in io.lines(args[2]) do paths[#paths + 1] = l end
  idx = tid
  if method == "PUT" then body = string.rep("x", 4096) end
end
function request()
  local p = paths[(idx % #paths) + 1]
  idx = idx + step
  return wrk.format(method, p, nil, body)
end
function done(s, latency, requests)
  local e = s.errors
  io.write(string.format('WRK {"requests": %d, "us": %d, "status": %d, "socket": %d}\n',
    s.requests, s.duration, e.status, e.connect + e.read + e.write + e.timeout))
end
"""


class Gateway:
    """One S3 endpoint and its credentials: pre-signed paths, a boto3 client for set-up."""

    def __init__(self, name: str, endpoint: str, ak: str, secret: str):
        self.name, self.endpoint, self.ak, self.secret = name, endpoint, ak, secret
        self.s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ak, aws_secret_access_key=secret,
                               region_name="us-east-1",
                               config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))

    def presign(self, method: str, bucket: str, key: str) -> str:
        """S3 SigV2 query authentication: cheap to make, and both gateways take it."""
        exp = int(time.time()) + 3600
        sts = f"{method}\n\n\n{exp}\n/{bucket}/{key}"
        sig = base64.b64encode(hmac.new(self.secret.encode(), sts.encode(), hashlib.sha1).digest()).decode()
        return (f"/{bucket}/{urllib.parse.quote(key)}?AWSAccessKeyId={self.ak}&Expires={exp}"
                f"&Signature={urllib.parse.quote(sig, safe='')}")

    def keys(self, bucket: str) -> list:
        out = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            out += [o["Key"] for o in page.get("Contents", [])]
        return out

    def empty(self, bucket: str):
        keys = self.keys(bucket)
        for i in range(0, len(keys), 1000):
            r = self.s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[i:i + 1000]],
                                                                "Quiet": True})
            if r.get("Errors"):
                raise RuntimeError(f"{self.name}: delete_objects: {r['Errors'][:3]}")


class ChildCpu:
    """CPU seconds of this process and its children between enter and exit."""

    def __enter__(self):
        self.t0 = self._now()
        return self

    def __exit__(self, *exc):
        self.seconds = self._now() - self.t0

    @staticmethod
    def _now() -> float:
        s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def wrk(gw: Gateway, method: str, paths: list, workdir: Path) -> dict:
    lua, listing = workdir / "s3.lua", workdir / f"{gw.name}.{method}.paths"
    lua.write_text(WRK_LUA)
    listing.write_text("\n".join(paths) + "\n")
    threads = 2
    with ChildCpu() as cpu:
        p = subprocess.run(["wrk", "-t", str(threads), "-c", str(CONC), "-d", f"{SECONDS}s", "-s", str(lua),
                            gw.endpoint, "--", method, str(listing), str(threads)],
                           capture_output=True, text=True, timeout=SECONDS + 60)
    m = re.search(r"^WRK (\{.*\})$", p.stdout, re.M)
    if p.returncode != 0 or not m:
        raise RuntimeError(f"wrk {method} {gw.name} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    r = json.loads(m.group(1))
    if r["status"] or r["socket"]:
        raise RuntimeError(f"wrk {method} {gw.name}: {r['status']} failed statuses, {r['socket']} socket errors")
    secs = r["us"] / 1e6
    return {"rate": r["requests"] / secs, "n": r["requests"], "cpu": cpu.seconds / secs}


def small(gw: Gateway, workdir: Path) -> dict:
    bucket = f"bench-small-{gw.name}"
    gw.s3.create_bucket(Bucket=bucket)
    try:
        put = wrk(gw, "PUT", [gw.presign("PUT", bucket, f"k{i:06d}") for i in range(SMALL_KEYS)], workdir)
        keys = gw.keys(bucket)
        get = wrk(gw, "GET", [gw.presign("GET", bucket, k) for k in keys], workdir)
        return {"put": put, "get": get}
    finally:
        gw.empty(bucket)
        gw.s3.delete_bucket(Bucket=bucket)


def _conn(gw: Gateway) -> http.client.HTTPConnection:
    u = urllib.parse.urlsplit(gw.endpoint)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=600)


def put_stream(gw: Gateway, bucket: str, key: str, size: int, block: memoryview) -> None:
    """PUT SIZE bytes, BLOCK again and again: the client holds 1 MiB whatever SIZE is."""
    c = _conn(gw)
    try:
        c.putrequest("PUT", gw.presign("PUT", bucket, key), skip_accept_encoding=True)
        c.putheader("Content-Length", str(size))
        c.endheaders()
        sent = 0
        try:
            while sent < size:
                n = min(len(block), size - sent)
                c.send(block[:n])
                sent += n
        except OSError:
            pass  # the server answered early: its status says why
        r = c.getresponse()
        body = r.read()
        if r.status != 200 or sent != size:
            raise RuntimeError(f"{gw.name}: PUT {key}: {r.status} after {sent} of {size} bytes: {body[:300]!r}")
    finally:
        c.close()


def get_stream(gw: Gateway, bucket: str, key: str, size: int, buf: bytearray) -> None:
    c = _conn(gw)
    try:
        c.request("GET", gw.presign("GET", bucket, key))
        r = c.getresponse()
        got, view = 0, memoryview(buf)
        while (n := r.readinto(view)) > 0:
            got += n
        if r.status != 200 or got != size:
            raise RuntimeError(f"{gw.name}: GET {key}: {r.status}, {got} of {size} bytes")
    finally:
        c.close()


def big(gw: Gateway, block: memoryview) -> dict:
    bucket = f"bench-big-{gw.name}"
    gw.s3.create_bucket(Bucket=bucket)
    buf = bytearray(MIB)
    out = {}
    try:
        for name, one in (("put", lambda k: put_stream(gw, bucket, k, BIG_SIZE, block)),
                          ("get", lambda k: get_stream(gw, bucket, k, BIG_SIZE, buf))):
            t0 = time.perf_counter()
            with ChildCpu() as cpu:
                for i in range(BIG):
                    one(f"big{i}")
            secs = time.perf_counter() - t0
            out[name] = {"rate": BIG * BIG_SIZE / MIB / secs, "cpu": cpu.seconds / secs}
        return out
    finally:
        gw.empty(bucket)
        gw.s3.delete_bucket(Bucket=bucket)


def wait_collected(ceph, timeout: float = 300):
    """Until no `oss.data.` RADOS object is left in the ecs-oss pool (ecs-ossd's GC)."""
    cluster = ceph.rados_connect("client.admin")
    try:
        io = cluster.open_ioctx(POOL_OSS)
        deadline = time.monotonic() + timeout
        while any(o.key.startswith("oss.data.") for o in io.list_objects()):
            if time.monotonic() > deadline:
                raise RuntimeError(f"ecs-ossd's GC left data objects after {timeout} s")
            time.sleep(1)
        io.close()
    finally:
        cluster.shutdown()


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("VmRSS:")).split()[1])


def huge_rss(gw: Gateway, pid: int, block: memoryview) -> dict:
    """RSS of PID every 0.1 s while one HUGE_GIB GiB object is PUT."""
    bucket = "bench-huge"
    gw.s3.create_bucket(Bucket=bucket)
    samples, stop = [], threading.Event()

    def sample():
        while not stop.is_set():
            samples.append(rss_kib(pid))
            stop.wait(0.1)

    before = rss_kib(pid)
    t = threading.Thread(target=sample)
    t.start()
    t0 = time.perf_counter()
    try:
        put_stream(gw, bucket, "huge", HUGE_GIB << 30, block)
        secs = time.perf_counter() - t0
    finally:
        stop.set()
        t.join()
        gw.empty(bucket)
        gw.s3.delete_bucket(Bucket=bucket)
    tenth = max(1, len(samples) // 10)
    return {"before": before, "max": max(samples), "first": max(samples[:tenth]), "last": max(samples[-tenth:]),
            "n": len(samples), "rate": (HUGE_GIB << 30) / MIB / secs}


def rados_bench(ceph, size: int, conc: int) -> dict:
    """`rados bench` write then seq of SIZE-byte objects on the ecs-oss pool, then its cleanup."""
    run = f"bench{size}"
    common = ["-p", POOL_OSS, "bench", SECONDS]
    w = ceph.cli("rados", *common, "write", "-b", size, "-t", conc, "--no-cleanup", "--run-name", run,
                 timeout=SECONDS + 120).stdout
    r = ceph.cli("rados", *common, "seq", "-t", conc, "--run-name", run, timeout=SECONDS + 120).stdout
    ceph.cli("rados", "-p", POOL_OSS, "cleanup", "--run-name", run, timeout=300)

    def fig(text: str) -> dict:
        iops = float(re.search(r"^Average IOPS:\s+([\d.]+)", text, re.M).group(1))
        mib = float(re.search(r"^Bandwidth \(MB/sec\):\s+([\d.]+)", text, re.M).group(1))
        return {"rate": iops if size == SMALL else mib}

    return {"put": fig(w), "get": fig(r)}


def report(res: dict, rss: dict, load: tuple):
    print(f"bench_oss: 1 OSD (size 1), {SECONDS} s a phase; load average before {load[0]:.1f} {load[1]:.1f} "
          f"{load[2]:.1f}, after {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print(f"clients: wrk 2 threads {CONC} connections (4 KiB); python http.client 1 stream (256 MiB); "
          "client CPU in cores beside each figure")
    print(f"{'':16}{'ecs-ossd':>16}{'radosgw':>16}{'rados bench':>12}{'/radosgw':>10}{'/rados':>8}")
    for size, unit in (("small", "ops/s"), ("big", "MiB/s")):
        for op in ("put", "get"):
            o, g, r = res["ossd"][size][op], res["rgw"][size][op], res["rados"][size][op]
            label = f"{'4 KiB' if size == 'small' else '256 MiB'} {op.upper()} {unit}"
            print(f"{label:16}{o['rate']:9.0f} ({o['cpu']:.2f}){g['rate']:9.0f} ({g['cpu']:.2f})"
                  f"{r['rate']:12.0f}{o['rate'] / g['rate']:10.2f}{o['rate'] / r['rate']:8.2f}")
    print(f"rados bench: 4 KiB objects {CONC} in flight; 4 MiB objects 16 in flight (256 MiB rows)")
    print(f"ecs-ossd RSS during a {HUGE_GIB} GiB PUT ({rss['rate']:.0f} MiB/s, {rss['n']} samples): before "
          f"{rss['before'] / 1024:.1f} MiB, max {rss['max'] / 1024:.1f} MiB (first tenth {rss['first'] / 1024:.1f}, "
          f"last tenth {rss['last'] / 1024:.1f})")
    print("targets: >= 1.0 x radosgw, >= 0.8 x rados bench, RSS flat")


def main() -> int:
    load = os.getloadavg()
    block = memoryview(os.urandom(MIB))
    ceph = CephCluster(osd_size=f"{HUGE_GIB + 9}G")
    oss = rgw = None
    res = {"ossd": {}, "rgw": {}, "rados": {}}
    try:
        ceph.start()
        oss = OssEnv(ceph, "gc_delay_s = 1\n").start()
        acc = oss.account("bench")
        rgw = RadosGw(ceph, free_port()).start()
        gws = {"ossd": Gateway("ossd", oss.endpoint, acc.ak, acc.secret),
               "rgw": Gateway("rgw", rgw.endpoint, rgw.ak, rgw.secret)}
        with tempfile.TemporaryDirectory(prefix="bench-oss-") as d:
            res["rados"]["small"] = rados_bench(ceph, SMALL, CONC)
            for name, gw in gws.items():
                res[name]["small"] = small(gw, Path(d))
                if name == "ossd":
                    wait_collected(ceph)
        res["rados"]["big"] = rados_bench(ceph, 4 * MIB, 16)
        for name, gw in gws.items():
            res[name]["big"] = big(gw, block)
            if name == "ossd":
                wait_collected(ceph)
        rss = huge_rss(gws["ossd"], oss.proc.pid, block)
    finally:
        if rgw:
            rgw.close()
        if oss:
            oss.close()
        ceph.destroy()
    report(res, rss, load)
    return 0


if __name__ == "__main__":
    sys.exit(main())
