"""A simulated host for load-balancer and public-IP tests, all in private network namespaces
(`ip netns`), so nothing reaches the machine's own bridges or iptables:

    agent ns    a real ecs-agent (libvirt's test driver: no guests), its bridge slbbr0 with
                10.77.0.1/24, and an "uplink" veth to the internet ns (198.18.0.1/24)
    backend ns  one per backend, on the bridge by a veth pair: 10.77.0.11, .12, …, each
                running a small HTTP server on port 8080 that answers "<name> <client ip>",
                and the same answer to any datagram on UDP port 5353
    client ns   on the bridge: 10.77.0.100
    internet ns beyond the uplink: 198.18.0.2, where public IPs are reached from

Calls to the agent's API go through a thread that entered the agent's namespace. close()
stops every process it started and deletes every namespace (their links and rules go with
them), even after a failure."""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from agentlib import AgentClient, StartClose, write_host_key  # noqa: E402
from waiting import wait_for, wait_log_line  # noqa: E402

REPO = HERE.parents[1]
AGENT_BIN = Path(os.environ.get("ECS_AGENT_BIN", REPO / "build/bin/ecs-agent"))
BRIDGE = "slbbr0"
SUBNET = "10.77.0"
GATEWAY = f"{SUBNET}.1"
CLIENT_IP = f"{SUBNET}.100"
UPLINK_HOST, UPLINK_PEER = "198.18.0.1", "198.18.0.2"
CHAIN_PREFIX = "ECS"
_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)

SERVER = r"""
import http.server, socket, sys, threading
name = sys.argv[1]
def udp():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("0.0.0.0", 5353))
    while True:
        data, peer = u.recvfrom(2048)
        u.sendto(f"{name} {peer[0]}\n".encode(), peer)
threading.Thread(target=udp, daemon=True).start()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def do_GET(self):
        body = f"{name} {self.client_address[0]}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
class S(http.server.ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 256
    def handle_error(self, request, client_address):
        pass  # health checks reset their connections
S(("0.0.0.0", 8080), H).serve_forever()
"""

# Requests one connection each (HTTP/1.0, no keep-alive). count > 0: that many, then a JSON
# summary on stdout; count 0: until stop_file exists (at most 120 s), every result with its
# start time written to out as JSON.
LOADGEN = r"""
import json, os, socket, sys, time
host, port, count, stop_file, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
res = []
deadline = time.time() + 120
i = 0
while (count > 0 and i < count) or (count == 0 and not os.path.exists(stop_file) and time.time() < deadline):
    t = time.time()
    i += 1
    try:
        s = socket.create_connection((host, port), timeout=2)
        s.settimeout(2)
        s.sendall(b"GET / HTTP/1.0\r\nHost: lb\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            d = s.recv(4096)
            if not d:
                break
            data += d
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        res.append([t, body.decode(errors="replace").split()[0] if body.strip() else "error:empty"])
    except OSError as e:
        res.append([t, "error:" + type(e).__name__])
    if count == 0:
        time.sleep(0.005)
if count > 0:
    counts = {}
    for _, r in res:
        counts[r] = counts.get(r, 0) + 1
    print(json.dumps(counts))
else:
    with open(out, "w") as f:
        json.dump(res, f)
"""


def run(argv, *, check=True, timeout=60, input=None) -> subprocess.CompletedProcess:
    argv = [str(a) for a in argv]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {p.returncode}: {p.stderr.strip() or p.stdout.strip()}")
    return p


class Netns:
    def __init__(self, name: str):
        self.name = name
        run(["ip", "netns", "add", name])
        self.sh("ip link set lo up")

    def argv(self, argv: list) -> list[str]:
        return ["ip", "netns", "exec", self.name, *map(str, argv)]

    def run(self, argv: list, **kw) -> subprocess.CompletedProcess:
        return run(self.argv(argv), **kw)

    def sh(self, command: str, **kw) -> subprocess.CompletedProcess:
        return run(self.argv(["sh", "-c", command]), **kw)

    def popen(self, argv: list, **kw) -> subprocess.Popen:
        return subprocess.Popen(self.argv(argv), **kw)

    def enter(self):
        """Move the calling thread (only it) into the namespace."""
        fd = os.open(f"/run/netns/{self.name}", os.O_RDONLY | os.O_CLOEXEC)
        try:
            if _libc.setns(fd, _CLONE_NEWNET) != 0:
                e = ctypes.get_errno()
                raise OSError(e, f"setns: {os.strerror(e)}")
        finally:
            os.close(fd)

    def close(self):
        for pid in run(["ip", "netns", "pids", self.name], check=False).stdout.split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        run(["ip", "netns", "del", self.name], check=False)


def _stop(p: subprocess.Popen | None, timeout: float = 15):
    if p is None or p.poll() is not None:
        return
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


class Backend:
    def __init__(self, host: "SlbHost", index: int):
        self.name = f"b{index}"
        self.ip = f"{SUBNET}.{10 + index}"
        self.server_id = f"i-backend{index}"
        self.ns = Netns(f"{host.tag}-{self.name}")
        self.server: subprocess.Popen | None = None
        host.attach(self.ns, f"vb{index}{host.tag[-4:]}", self.ip)

    def start(self):
        if self.server is None or self.server.poll() is not None:
            self.server = self.ns.popen(["/usr/bin/python3", "-c", SERVER, self.name], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        probe = ["/usr/bin/python3", "-c", "import socket; socket.create_connection(('127.0.0.1', 8080), timeout=1)"]
        wait_for(lambda: self.ns.run(probe, check=False).returncode == 0, 10,
                 f"backend {self.name}'s server to listen on 8080", 0.05)

    def stop(self):
        _stop(self.server, 5)
        self.server = None


class SlbHost(StartClose):
    def __init__(self, n_backends: int = 3, reconcile_interval_s: int = 3):
        self.tag = f"ecsslb{secrets.token_hex(3)}"
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{self.tag}-"))
        self.reconcile_interval_s = reconcile_interval_s
        self.agent: subprocess.Popen | None = None
        self.port = 0
        self.key = secrets.token_hex(24)
        self.namespaces: list[Netns] = []
        self.backends: list[Backend] = []
        self.pool: concurrent.futures.ThreadPoolExecutor | None = None
        self.n_backends = n_backends

    # ---- lifecycle ----

    def start(self):
        self.ns = self._ns("agent")
        self.pool = concurrent.futures.ThreadPoolExecutor(1, initializer=self.ns.enter)
        self.write_config()
        self.start_agent()
        self.ns.sh(f"ip link add up0 type veth peer name up1 && ip addr add {UPLINK_HOST}/24 dev up0 && "
                   f"ip link set up0 up")
        self.internet = self._ns("inet")
        self.ns.run(["ip", "link", "set", "up1", "netns", self.internet.name])
        self.internet.sh(f"ip addr add {UPLINK_PEER}/24 dev up1 && ip link set up1 up && "
                         f"ip route add default via {UPLINK_HOST}")
        self.client = self._ns("client")
        self.attach(self.client, f"vc{self.tag[-4:]}", CLIENT_IP)
        for i in range(1, self.n_backends + 1):
            b = Backend(self, i)
            self.namespaces.append(b.ns)
            self.backends.append(b)
            b.start()

    def _ns(self, what: str) -> Netns:
        ns = Netns(f"{self.tag}-{what}")
        self.namespaces.append(ns)
        return ns

    def attach(self, ns: Netns, veth: str, ip: str):
        """A veth pair from the agent's bridge to ns, where its end is eth0 with ip/24."""
        self.ns.sh(f"ip link add {veth} type veth peer name eth0 netns {ns.name} && "
                   f"ip link set {veth} master {BRIDGE} up")
        ns.sh(f"ip addr add {ip}/24 dev eth0 && ip link set eth0 up && ip route add default via {GATEWAY}")

    def close(self):
        with contextlib.suppress(Exception):
            self.stop_agent()
        for b in self.backends:
            b.stop()
        if self.pool:
            self.pool.shutdown(wait=False, cancel_futures=True)
        for ns in reversed(self.namespaces):
            ns.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # ---- the agent ----

    @property
    def log_path(self) -> Path:
        return self.workdir / "agent.log"

    def write_config(self):
        write_host_key(self.workdir / "host.key", self.key)
        (self.workdir / "agent.ini").write_text(f"""[agent]
host_id = {self.tag}
data_dir = {self.workdir / 'agent'}
libvirt_uri = test:///default
domain_type = qemu
listen_address = 127.0.0.1
port = 0
host_key_file = {self.workdir / 'host.key'}
reconcile_interval_s = {self.reconcile_interval_s}
metrics_interval_s = 3600
log_level = debug
[network]
bridge = {BRIDGE}
gateway_cidrs = {GATEWAY}/24
tap_prefix = slbt
metadata_port = 8775
chain_prefix = {CHAIN_PREFIX}
""")

    def start_agent(self, timeout: float = 30):
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.agent = self.ns.popen([AGENT_BIN, "-c", self.workdir / "agent.ini"], stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=subprocess.STDOUT)
        line = wait_log_line(self.log_path, 'msg="agent ready"', timeout, "ecs-agent ready", proc=self.agent,
                             offset=offset)
        self.port = int(line.split(" api=")[1].split()[0].rsplit(":", 1)[1])

    def stop_agent(self):
        _stop(self.agent)
        self.agent = None

    def restart_agent(self):
        self.stop_agent()
        self.start_agent()

    def log_tail(self, n: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        return ""

    def api(self, method: str, path: str, body=None):
        """(status, body) of a signed call, made from inside the agent's namespace."""
        c = AgentClient(f"http://127.0.0.1:{self.port}", self.key, timeout=60, host_id=self.tag)
        status, parsed, _ = self.pool.submit(c.raw, method, path, body).result()
        return status, parsed

    def call(self, method: str, path: str, body=None) -> dict:
        status, parsed = self.api(method, path, body)
        if status != 200:
            raise AssertionError(f"{method} {path}: {status} {parsed}\n{self.log_tail(20)}")
        return parsed

    # ---- what the agent's namespace holds ----

    def nat_rules(self) -> list[str]:
        """Every line of iptables-save (nat and filter) that names a chain of the load
        balancers' (P-PRE, P-DOUT, P-POST, P-L-*, P-LBF): the chains, their rules, the jumps."""
        out = self.ns.run(["iptables-save"]).stdout
        ours = [f"{CHAIN_PREFIX}-{c}" for c in ("PRE", "DOUT", "POST", "L-", "LBF")]
        return [l for l in out.splitlines()
                if any(f" {c}" in f" {l[1:]}" or f" {c}" in l for c in ours)]

    def bridge_addrs(self) -> list[str]:
        out = self.ns.run(["ip", "-o", "-4", "addr", "show", "dev", BRIDGE]).stdout
        return [l.split()[3] for l in out.splitlines()]

    # ---- traffic ----

    def requests(self, host: str, port: int, count: int, ns: Netns | None = None) -> dict[str, int]:
        """count requests from the client (or ns), one connection each: {"b1": n, …, "error:…": n}."""
        ns = ns or self.client
        p = ns.run(["/usr/bin/python3", "-c", LOADGEN, host, port, count, "-", "-"], timeout=600)
        return json.loads(p.stdout)

    def background_load(self, host: str, port: int) -> "Load":
        return Load(self, host, port)


class Load:
    """Requests from the client without pause until stopped; results with their times."""

    def __init__(self, host: SlbHost, vip: str, port: int):
        self.stop_file = host.workdir / f"stop-{secrets.token_hex(3)}"
        self.out = host.workdir / f"load-{secrets.token_hex(3)}.json"
        self.proc = host.client.popen(["/usr/bin/python3", "-c", LOADGEN, vip, port, 0, self.stop_file, self.out],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE)

    def finish(self) -> list[tuple[float, str]]:
        self.stop_file.write_text("stop")
        _, err = self.proc.communicate(timeout=60)
        if self.proc.returncode != 0:
            raise RuntimeError(f"load generator failed: {err.decode(errors='replace')}")
        return [(t, r) for t, r in json.loads(self.out.read_text())]
