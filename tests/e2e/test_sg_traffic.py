"""Security groups on real traffic (issue 5): real guests behind the agent's iptables chains, a
client in its own network namespace joined to the host's bridge by a veth pair (traffic from
the host itself never crosses FORWARD, see ../shared/SANDBOX.md).

Probes need no listener in the guest: a TCP SYN the rules let through is answered (a
connection, or a reset from the guest's kernel: "reached"); one they drop gets nothing
("dropped"). UDP likewise: the guest answers a datagram to a closed port with ICMP port
unreachable, which the client's connected socket sees as ECONNREFUSED. The guests' ICMP
error rate limit (1/s) is why UDP probes retry.

The tests of this module run in order; each leaves the groups as it found them."""

from __future__ import annotations

import ipaddress
import json
import secrets
import subprocess
import textwrap

import pytest

from conftest import run
from fakeagent import HostClient
from waiting import wait_for

PROBE = textwrap.dedent("""
    import socket, sys, time
    kind, ip, port, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    if kind == "tcp":
        s = socket.socket(); s.settimeout(timeout)
        try:
            s.connect((ip, port)); print("reached")
        except ConnectionRefusedError:
            print("reached")
        except OSError:
            print("dropped")
    else:
        out = "dropped"
        for _ in range(3):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(timeout)
            s.connect((ip, port))
            try:
                s.send(b"probe"); s.recv(100); out = "reached"; break
            except ConnectionRefusedError:
                out = "reached"; break
            except OSError:
                pass
        print(out)
""")


class Client:
    """A network namespace on the host's bridge with one address of its subnet."""

    def __init__(self, bridge: str, net: ipaddress.IPv4Network):
        tag = secrets.token_hex(2)
        self.ns = f"ecsc{tag}"
        self.ip = str(net.broadcast_address - 2)
        self.prefix = net.prefixlen
        run(["ip", "netns", "add", self.ns])
        try:
            run(["ip", "link", "add", f"vc{tag}", "type", "veth", "peer", "name", f"vcp{tag}"])
            run(["ip", "link", "set", f"vc{tag}", "master", bridge, "up"])
            run(["ip", "link", "set", f"vcp{tag}", "netns", self.ns])
            self.sh(f"ip link set lo up && ip addr add {self.ip}/{self.prefix} dev vcp{tag} && ip link set vcp{tag} up")
        except Exception:
            self.close()
            raise

    def sh(self, command: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return run(["ip", "netns", "exec", self.ns, "sh", "-c", command], timeout=timeout)

    def popen(self, argv: list, **kw) -> subprocess.Popen:
        return subprocess.Popen(["ip", "netns", "exec", self.ns, *argv], **kw)

    def probe(self, kind: str, ip: str, port: int, timeout: float = 1.5) -> str:
        p = run(["ip", "netns", "exec", self.ns, "/usr/bin/python3", "-c", PROBE, kind, ip, str(port), str(timeout)],
                timeout=30)
        return p.stdout.strip()

    def ping(self, ip: str) -> bool:
        return run(["ip", "netns", "exec", self.ns, "busybox", "ping", "-c", "2", "-W", "2", "-w", "4", ip],
                   check=False, timeout=20).returncode == 0

    def close(self):
        run(["ip", "netns", "del", self.ns], check=False)


@pytest.fixture(scope="module")
def api(cloud):
    return cloud.account_with_key("sgt")


@pytest.fixture(scope="module")
def client(cloud):
    RULES_PREFIX[0] = cloud.host.chain_prefix
    c = Client(cloud.host.bridge, cloud.host.net)
    yield c
    c.close()


def new_group(api, name: str) -> str:
    return api.call("CreateSecurityGroup", SecurityGroupName=name)["SecurityGroupId"]


def allow(api, sg, proto, ports="-1/-1", cidr="0.0.0.0/0", egress=False, **kw):
    action = "AuthorizeSecurityGroupEgress" if egress else "AuthorizeSecurityGroup"
    peer = ("DestCidrIp" if egress else "SourceCidrIp") if cidr else None
    params = dict(SecurityGroupId=sg, IpProtocol=proto, PortRange=ports, **kw)
    if peer:
        params[peer] = cidr
    api.call(action, **params)


def revoke(api, sg, proto, ports="-1/-1", cidr="0.0.0.0/0", egress=False, **kw):
    action = "RevokeSecurityGroupEgress" if egress else "RevokeSecurityGroup"
    params = dict(SecurityGroupId=sg, IpProtocol=proto, PortRange=ports, **kw)
    if cidr:
        params["DestCidrIp" if egress else "SourceCidrIp"] = cidr
    api.call(action, **params)


def eventually(fn, want, timeout=15.0, what=""):
    """Rules reach the host after the API answers (a nudge, or the next heartbeat)."""
    wait_for(fn, timeout, f"{what} ({want!r})", until=lambda got: got == want, detail=rules_now)


def wait_applied(cloud):
    """Until the host applied the security generation the controller holds now, so that a
    change that must not alter traffic is known to be in the host's chains."""
    host_id = cloud.host.client.get("/v1/host")["host_id"]
    want = HostClient(cloud.endpoint, cloud.host.agent.key, host_id).view()["generation"]
    wait_for(lambda: cloud.host.client.get("/v1/security")["generation"], 30, f"security generation {want} applied",
             until=lambda applied: applied >= want, detail=rules_now)


def rules_now() -> str:
    """The project's chains with their counters, for a failure's message."""
    prefix = RULES_PREFIX[0]
    text = run(["iptables-save", "-c", "-t", "filter"], check=False).stdout
    return "\n".join(line for line in text.splitlines() if prefix and f"{prefix}-" in line)


RULES_PREFIX = [""]


@pytest.fixture(scope="module")
def groups(api):
    """web: tcp 22 from anywhere (the tests' SSH from the host goes around FORWARD anyway);
    app: nothing yet; extra: a second group for the union test."""
    g = {"web": new_group(api, "web"), "app": new_group(api, "app"), "extra": new_group(api, "extra")}
    return g


def ip_of(inst):
    return inst["VpcAttributes"]["PrivateIpAddress"]["IpAddress"][0]


def boot(cloud, api, name, sgs):
    params = {"ImageId": "tiny", "InstanceType": "ecs.t1.small", "KeyPairName": "e2e", "HostName": name}
    for i, sg in enumerate(sgs, 1):
        params[f"SecurityGroupIds.{i}"] = sg
    iid = api.call("RunInstances", **params)["InstanceIdSets"]["InstanceIdSet"][0]
    return iid


@pytest.fixture(scope="module")
def vms(cloud, api, groups):
    """vm1 in web, vm2 in app, vm3 in web and extra: booted together."""
    plan = {"vm1": [groups["web"]], "vm2": [groups["app"]], "vm3": [groups["web"], groups["extra"]]}
    ids = {name: boot(cloud, api, name, sgs) for name, sgs in plan.items()}
    out = {}
    for name, iid in ids.items():
        inst = cloud.wait_status(api, iid, "Running", timeout=180)
        spec = {"instance_id": iid, "nics": [{"ip": ip_of(inst)}]}
        cloud.host.wait_ssh(spec)
        out[name] = {"id": iid, "ip": ip_of(inst), "spec": spec}
    return out


def test_instances_show_their_groups(api, groups, vms):
    for name, want in (("vm1", [groups["web"]]), ("vm3", [groups["web"], groups["extra"]])):
        inst = api.call("DescribeInstances", InstanceIds=json.dumps([vms[name]["id"]]))["Instances"]["Instance"][0]
        assert sorted(inst["SecurityGroupIds"]["SecurityGroupId"]) == sorted(want)


def test_inbound_denied_unless_allowed(client, vms):
    ip = vms["vm2"]["ip"]
    assert client.probe("tcp", ip, 80) == "dropped"
    assert client.probe("udp", ip, 5000) == "dropped"
    assert not client.ping(ip)


def test_tcp_udp_icmp_allowed_as_rules_say(api, client, groups, vms):
    sg, ip = groups["app"], vms["vm2"]["ip"]
    allow(api, sg, "tcp", "80/80")
    eventually(lambda: client.probe("tcp", ip, 80), "reached", what="tcp 80 allowed")
    assert client.probe("tcp", ip, 81) == "dropped"
    assert client.probe("udp", ip, 80) == "dropped", "a tcp rule lets no udp through"
    allow(api, sg, "udp", "5000/5000")
    eventually(lambda: client.probe("udp", ip, 5000), "reached", what="udp 5000 allowed")
    assert not client.ping(ip)
    assert run(["busybox", "ping", "-c", "1", "-W", "2", ip], check=False).returncode == 0, "the guest answers the host's ping"
    allow(api, sg, "icmp")
    eventually(lambda: client.ping(ip), True, what="icmp allowed")
    for proto, ports in (("tcp", "80/80"), ("udp", "5000/5000"), ("icmp", "-1/-1")):
        revoke(api, sg, proto, ports)
    eventually(lambda: client.probe("tcp", ip, 80), "dropped", what="tcp 80 revoked")
    assert not client.ping(ip)


def test_port_range_edges(api, client, groups, vms):
    sg, ip = groups["app"], vms["vm2"]["ip"]
    allow(api, sg, "tcp", "8000/8002")
    eventually(lambda: client.probe("tcp", ip, 8000), "reached", what="the range's first port")
    assert client.probe("tcp", ip, 8002) == "reached"
    assert client.probe("tcp", ip, 8001) == "reached"
    assert client.probe("tcp", ip, 7999) == "dropped"
    assert client.probe("tcp", ip, 8003) == "dropped"
    revoke(api, sg, "tcp", "8000/8002")
    eventually(lambda: client.probe("tcp", ip, 8000), "dropped", what="range revoked")
    # UDP ranges are rendered through another match (multiport): their edges too.
    allow(api, sg, "udp", "6000/6002")
    eventually(lambda: client.probe("udp", ip, 6000), "reached", what="the udp range's first port")
    assert client.probe("udp", ip, 6002) == "reached"
    assert client.probe("udp", ip, 5999) == "dropped"
    assert client.probe("udp", ip, 6003) == "dropped"
    revoke(api, sg, "udp", "6000/6002")
    eventually(lambda: client.probe("udp", ip, 6000), "dropped", what="udp range revoked")


def test_priority_and_drop_over_accept(api, cloud, client, groups, vms):
    sg, ip = groups["app"], vms["vm2"]["ip"]
    me = f"{client.ip}/32"
    allow(api, sg, "tcp", "80/80", Priority="5")
    eventually(lambda: client.probe("tcp", ip, 80), "reached", what="accept at 5")
    # A drop with a larger number loses to the accept...
    allow(api, sg, "tcp", "80/80", cidr=me, Policy="drop", Priority="10")
    wait_applied(cloud)
    assert client.probe("tcp", ip, 80) == "reached", "accept at 5 beats drop at 10"
    # ...a drop with a smaller number wins...
    allow(api, sg, "tcp", "80/80", cidr=me, Policy="drop", Priority="1")
    eventually(lambda: client.probe("tcp", ip, 80), "dropped", what="drop at 1 over accept at 5")
    # ...and at equal priority the drop wins too.
    allow(api, sg, "tcp", "80/80", cidr=me, Policy="accept", Priority="1")
    wait_applied(cloud)
    assert client.probe("tcp", ip, 80) == "dropped", "at equal priority drop beats accept"
    revoke(api, sg, "tcp", "80/80", cidr=me, Policy="drop", Priority="1")
    eventually(lambda: client.probe("tcp", ip, 80), "reached", what="the drop at 1 revoked")
    for policy, prio in (("accept", "1"), ("drop", "10")):
        revoke(api, sg, "tcp", "80/80", cidr=me, Policy=policy, Priority=prio)
    revoke(api, sg, "tcp", "80/80", Priority="5")
    eventually(lambda: client.probe("tcp", ip, 80), "dropped", what="all revoked")


def guest_reaches(cloud, vm, ip, port) -> bool:
    """From inside a guest: nc's connect either completes, is refused (reached), or times out."""
    p = cloud.host.ssh(vm["spec"], f"nc -w 3 {ip} {port} </dev/null; echo rc=$?", check=False, timeout=30)
    return "Connection refused" in p.stderr or "rc=0" in p.stdout


def test_group_to_group_and_same_group(api, cloud, client, groups, vms):
    # app accepts tcp 80 from members of web: vm1 (web) gets through, the client does not.
    allow(api, groups["app"], "tcp", "80/80", cidr=None, SourceGroupId=groups["web"])
    eventually(lambda: guest_reaches(cloud, vms["vm1"], vms["vm2"]["ip"], 80), True, what="web member to app")
    assert client.probe("tcp", vms["vm2"]["ip"], 80) == "dropped"
    # vm1 and vm3 share web: every port between them, with no rule for it.
    assert guest_reaches(cloud, vms["vm3"], vms["vm1"]["ip"], 4444)
    # vm2 is not in web: nothing of its reaches vm1 but what web's rules allow.
    assert not guest_reaches(cloud, vms["vm2"], vms["vm1"]["ip"], 4444)
    revoke(api, groups["app"], "tcp", "80/80", cidr=None, SourceGroupId=groups["web"])
    eventually(lambda: guest_reaches(cloud, vms["vm1"], vms["vm2"]["ip"], 80), False, what="group rule revoked")


def test_two_groups_give_the_union(api, client, groups, vms):
    ip = vms["vm3"]["ip"]
    allow(api, groups["web"], "tcp", "80/80")
    allow(api, groups["extra"], "tcp", "81/81")
    eventually(lambda: client.probe("tcp", ip, 81), "reached", what="extra's rule on vm3")
    assert client.probe("tcp", ip, 80) == "reached"
    # vm1 is only in web.
    assert client.probe("tcp", vms["vm1"]["ip"], 80) == "reached"
    assert client.probe("tcp", vms["vm1"]["ip"], 81) == "dropped"
    revoke(api, groups["extra"], "tcp", "81/81")
    revoke(api, groups["web"], "tcp", "80/80")
    eventually(lambda: client.probe("tcp", ip, 81), "dropped", what="union revoked")


def test_egress_denied(api, cloud, client, groups, vms):
    # A listener in the client's namespace; vm2 reaches it until app denies it outbound.
    srv = client.popen(["/usr/bin/python3", "-m", "http.server", "8080", "--bind", client.ip],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        eventually(lambda: guest_reaches(cloud, vms["vm2"], client.ip, 8080), True, what="outbound allowed")
        allow(api, groups["app"], "tcp", "8080/8080", cidr=f"{client.ip}/32", egress=True, Policy="drop")
        eventually(lambda: guest_reaches(cloud, vms["vm2"], client.ip, 8080), False, what="outbound denied")
        # Only that: vm1 (web) still reaches it.
        assert guest_reaches(cloud, vms["vm1"], client.ip, 8080)
        revoke(api, groups["app"], "tcp", "8080/8080", cidr=f"{client.ip}/32", egress=True, Policy="drop")
        eventually(lambda: guest_reaches(cloud, vms["vm2"], client.ip, 8080), True, what="outbound again")
    finally:
        srv.kill()
        srv.wait()


ECHO_CLIENT = textwrap.dedent("""
    import socket, sys, time
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
    s.settimeout(1.0)
    n = 0
    while True:
        line = sys.stdin.readline()
        if not line:
            break
        try:
            s.sendall(b"x\\n"); s.recv(100); print("echo", flush=True)
        except OSError:
            print("lost", flush=True)
""")


class EchoSession:
    """A TCP connection from the client to `nc -ll -p PORT -e cat` in a guest; each ask()
    sends a line and says whether it came back."""

    def __init__(self, client: Client, ip: str, port: int):
        self.p = client.popen(["/usr/bin/python3", "-c", ECHO_CLIENT, ip, str(port)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)

    def ask(self) -> bool:
        self.p.stdin.write("\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip() == "echo"

    def close(self):
        self.p.kill()
        self.p.wait()


def start_echo(cloud, vm, port):
    cloud.host.ssh(vm["spec"], f"(nc -ll -p {port} -e /bin/cat </dev/null >/dev/null 2>&1 &) ; sleep 0.2")


def test_revoked_rule_cuts_an_established_flow(api, cloud, client, groups, vms):
    vm = vms["vm2"]
    start_echo(cloud, vm, 9000)
    allow(api, groups["app"], "tcp", "9000/9000")
    eventually(lambda: client.probe("tcp", vm["ip"], 9000), "reached", what="echo port allowed")
    s = EchoSession(client, vm["ip"], 9000)
    try:
        assert s.ask() and s.ask()
        revoke(api, groups["app"], "tcp", "9000/9000")
        eventually(lambda: s.ask(), False, what="the established flow cut")
    finally:
        s.close()


def test_agent_restart_keeps_flows_and_blocks(api, cloud, client, groups, vms):
    vm = vms["vm1"]
    start_echo(cloud, vm, 9001)
    allow(api, groups["web"], "tcp", "9001/9001")
    eventually(lambda: client.probe("tcp", vm["ip"], 9001), "reached", what="echo port allowed")
    s = EchoSession(client, vm["ip"], 9001)
    try:
        assert s.ask()
        cloud.host.agent.stop()
        # The chains stay while no agent runs: the flow goes on, the blocked port stays blocked.
        assert s.ask()
        assert client.probe("tcp", vm["ip"], 9002) == "dropped"
        cloud.host.agent.start()
        for _ in range(10):
            assert s.ask(), "an established flow broke across the agent's restart"
            assert client.probe("tcp", vm["ip"], 9002, timeout=0.5) == "dropped"
    finally:
        s.close()
        revoke(api, groups["web"], "tcp", "9001/9001")


SNIFF = textwrap.dedent("""
    import socket, sys, time
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.settimeout(0.5)
    print("ready", flush=True)
    end = time.monotonic() + float(sys.argv[1])
    seen = set()
    while time.monotonic() < end:
        try:
            data, addr = s.recvfrom(2000)
        except OSError:
            continue
        if data[20] == 8:  # echo request
            seen.add(addr[0])
    print(" ".join(sorted(seen)))
""")


def sniff_while(client: Client, seconds: float, action) -> set:
    p = client.popen(["/usr/bin/python3", "-c", SNIFF, str(seconds)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"  # the socket is open: nothing is missed
    action()
    out, _ = p.communicate(timeout=seconds + 20)
    return set(out.split())


def test_guest_cannot_spoof_address_or_mac(api, cloud, client, groups, vms):
    vm = vms["vm3"]
    spoof = str(ipaddress.ip_address(client.ip) - 1)
    ssh = cloud.host.ssh
    # Control: its own address and MAC get through (egress is open).
    seen = sniff_while(client, 4, lambda: ssh(vm["spec"], f"ping -c 2 -W 1 {client.ip} >/dev/null", check=False))
    assert vm["ip"] in seen
    seen = sniff_while(client, 5, lambda: ssh(
        vm["spec"], f"ip addr add {spoof}/32 dev eth0; ping -c 2 -W 1 -I {spoof} {client.ip} >/dev/null;"
                    f" ip addr del {spoof}/32 dev eth0", check=False))
    assert spoof not in seen, "a packet with another address left the guest"
    mac = ssh(vm["spec"], "cat /sys/class/net/eth0/address").stdout.strip()
    seen = sniff_while(client, 6, lambda: ssh(
        vm["spec"], f"ip link set eth0 address 52:54:00:de:ad:01; ping -c 2 -W 1 {client.ip} >/dev/null;"
                    f" ip link set eth0 address {mac}", check=False, timeout=60))
    assert vm["ip"] not in seen, "a packet with another MAC left the guest"
    assert ssh(vm["spec"], "cat /sys/class/net/eth0/address").stdout.strip() == mac
