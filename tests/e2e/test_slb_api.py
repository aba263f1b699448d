"""Load balancers and public IPs in ecs-controller (docs/slb-api.md): every SLB action
(Version 2014-05-15) and AllocatePublicIpAddress / ReleasePublicIpAddress (ECS 2014-05-26),
their happy paths and refusals with SLB's and ECS's codes (each refusal changing nothing:
load balancers, listeners, backends and public IPs compared before and after), the limits at
their edges, another account's ids answering as missing ones; and the agents' side: the
document each host's agent holds (GET /v1/load-balancers/LB on the agent), health read back
from it, re-sync of what an agent lost or should not hold, and jobs that survive a
controller restart.

The hosts are real ecs-agent processes on libvirt's test driver, each in its own network
namespace (tests/bench/fakehosts.py): nothing boots, so health checks to the instances'
addresses fail; and an instance cannot be deleted there (the test driver refuses the agent's
undefine flags), so what deleting a backend or an instance with a public IP does is tested
with real guests in tests/e2e/test_slb_traffic.py, beside real traffic."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from ecsapi import EcsClient  # noqa: E402
from fakehosts import CONTROLLER_BIN, FakeCloud, HostSpec, _die_with_parent  # noqa: E402
from waiting import wait_for, wait_log_line  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces for the fake hosts need root")

SLB = "2014-05-15"
POOL = "192.0.2.0/29"  # public: .1-.6
QUOTA_LB = 6
QUOTA_EIP = 3


@pytest.fixture(scope="module")
def cloud():
    settings = {"network": {"public_ip_pool": POOL}, "slb": {"sync_interval_s": 1},
                "quota": {"load_balancers": QUOTA_LB, "public_ips": QUOTA_EIP}}
    with FakeCloud(controller=settings, threads=32) as c:
        # Room for the 200-backend edge: memory binds first on the test driver's hosts.
        c.add_hosts([HostSpec("h-a", cpus=64, memory_mib=65536), HostSpec("h-b", cpus=64, memory_mib=65536)])
        yield c


class Api:
    """One account's ECS and SLB clients; every call made inside the cloud's namespace."""

    def __init__(self, cloud: FakeCloud, name: str):
        out = subprocess.run([CONTROLLER_BIN, "-c", cloud.ini, "account", "create", name], capture_output=True,
                             text=True, check=True, timeout=30).stdout
        kv = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
        endpoint = cloud.client().endpoint
        self.cloud = cloud
        self.ecs_client = EcsClient(endpoint, kv["AccessKeyId"], kv["AccessKeySecret"], timeout=60)
        self.slb_client = EcsClient(endpoint, kv["AccessKeyId"], kv["AccessKeySecret"], version=SLB, timeout=60)

    def slb(self, action, **params):
        return self.cloud.run(self.slb_client.call, action, **params)

    def ecs(self, action, **params):
        return self.cloud.run(self.ecs_client.call, action, **params)

    def slb_err(self, action, **params):
        return self._err(self.slb_client, action, params)

    def ecs_err(self, action, **params):
        return self._err(self.ecs_client, action, params)

    def _err(self, client, action, params):
        status, body = self.cloud.run(client.raw, action, params)
        assert status >= 400, (action, params, body)
        assert set(body) >= {"RequestId", "HostId", "Code", "Message"}, body
        return status, body


_names = itertools.count()


@pytest.fixture
def api(cloud):
    """A fresh account for each test: its quotas are its own."""
    return Api(cloud, f"slb{next(_names)}")


@pytest.fixture
def other(cloud):
    return Api(cloud, f"other{next(_names)}")


# ---------------------------------------------------------------- helpers


def instances(api: Api, n: int) -> list[str]:
    """n Running instances of the account."""
    ids = []
    while len(ids) < n:
        amount = min(100, n - len(ids))
        ids += api.ecs("RunInstances", ImageId="tiny", InstanceType="ecs.t1.small", Amount=amount)[
            "InstanceIdSets"]["InstanceIdSet"]

    def running():
        st = {}
        for page in itertools.count(1):
            body = api.ecs("DescribeInstanceStatus", PageSize=100, PageNumber=page)
            st.update({s["InstanceId"]: s["Status"] for s in body["InstanceStatuses"]["InstanceStatus"]})
            if page * 100 >= body["TotalCount"]:
                break
        return all(st.get(i) == "Running" for i in ids)

    wait_for(running, 120, f"{n} instances Running", 0.5)
    return ids


def instance(api: Api, iid: str) -> dict:
    found = api.ecs("DescribeInstances", InstanceIds=json.dumps([iid]))["Instances"]["Instance"]
    return found[0] if found else {}


def ip_of(api: Api, iid: str) -> str:
    return instance(api, iid)["VpcAttributes"]["PrivateIpAddress"]["IpAddress"][0]


def new_lb(api: Api, **params) -> dict:
    return api.slb("CreateLoadBalancer", **params)


def attr(api: Api, lb: str) -> dict:
    return api.slb("DescribeLoadBalancerAttribute", LoadBalancerId=lb)


def host_of(cloud: FakeCloud, host_id: str):
    return next(h for h in cloud.hosts if h.spec.host_id == host_id)


def agent_get(cloud: FakeCloud, host_id: str, path: str):
    """(status, body) of a GET on host_id's agent."""
    status, body, _ = cloud.run(lambda: host_of(cloud, host_id).client().raw("GET", path))
    return status, body


def agent_lb(cloud: FakeCloud, api: Api, lb: str) -> dict | None:
    status, body = agent_get(cloud, attr(api, lb)["HostId"], f"/v1/load-balancers/{lb}")
    return body if status == 200 else None


def wait_agent_lb(cloud, api, lb, pred, what, timeout=20) -> dict:
    def ok():
        doc = agent_lb(cloud, api, lb)
        return doc if doc is not None and pred(doc) else None

    return wait_for(ok, timeout, what)


def rows(cloud: FakeCloud, sql: str, args=()) -> list:
    """Rows of the controller's database (read-only)."""
    with contextlib.closing(cloud.db()) as db:
        return db.execute(sql, args).fetchall()


def wait_pool_free(cloud: FakeCloud):
    """Deletes of earlier tests give their public addresses back once their agents let go."""
    wait_for(lambda: not rows(cloud, "SELECT 1 FROM public_ips"), 30, "the public pool free")


def stop_agent(host):
    host.proc.kill()
    host.proc.wait()


def start_agent(host):
    offset = host.log.stat().st_size
    host.start()
    wait_log_line(host.log, 'msg="agent ready"', 30, f"{host.spec.host_id}'s agent ready", proc=host.proc,
                  offset=offset)


def backends_json(items) -> str:
    return json.dumps([{"ServerId": i, "Weight": str(w)} for i, w in items])


def serving_lb(api: Api, backends: list[tuple[str, int]]) -> str:
    """An intranet LB with a TCP listener on 80 (stopped) and these (instance, weight)."""
    lb = new_lb(api, AddressType="intranet")["LoadBalancerId"]
    api.slb("CreateLoadBalancerTCPListener", LoadBalancerId=lb, ListenerPort=80, BackendServerPort=80, Bandwidth=-1)
    api.slb("AddBackendServers", LoadBalancerId=lb, BackendServers=backends_json(backends))
    return lb


def state(api: Api) -> dict:
    """Everything the account's calls could change: LBs with their listeners and backends,
    and the instances' public IPs."""
    out = {}
    for lb in api.slb("DescribeLoadBalancers", PageSize=100)["LoadBalancers"]["LoadBalancer"]:
        a = attr(api, lb["LoadBalancerId"])
        a.pop("RequestId")
        listeners = {}
        for pp in a["ListenerPortsAndProtocol"]["ListenerPortAndProtocol"]:
            action = f"DescribeLoadBalancer{pp['ListenerProtocol'].upper()}ListenerAttribute"
            l = api.slb(action, LoadBalancerId=lb["LoadBalancerId"], ListenerPort=pp["ListenerPort"])
            l.pop("RequestId")
            listeners[f"{pp['ListenerProtocol']}/{pp['ListenerPort']}"] = l
        out[lb["LoadBalancerId"]] = {"attr": a, "listeners": listeners}
    out["public_ips"] = {i["InstanceId"]: i["PublicIpAddress"]["IpAddress"]
                         for i in api.ecs("DescribeInstances", PageSize=100)["Instances"]["Instance"]}
    return out


@contextlib.contextmanager
def unchanged(*apis: Api):
    before = [state(a) for a in apis]
    yield
    assert [state(a) for a in apis] == before


# ---------------------------------------------------------------- the API's namespace


def test_the_version_names_the_api(api):
    lb = new_lb(api, AddressType="intranet")["LoadBalancerId"]
    # An ECS action under SLB's version, and an SLB action under ECS's: unknown actions.
    status, body = api.slb_err("DescribeRegions")
    assert (status, body["Code"]) == (404, "InvalidApi.NotFound")
    status, body = api.ecs_err("DescribeLoadBalancers")
    assert (status, body["Code"]) == (404, "InvalidApi.NotFound")
    status, body = api.cloud.run(api.slb_client.raw, "DescribeLoadBalancers", {}, override={"Version": "2099-01-01"})
    assert (status, body["Code"]) == (400, "InvalidVersion")
    # And the V3 signature (the Tea SDKs) reaches SLB's actions through x-acs-version.
    status, body = api.cloud.run(api.slb_client.call_v3, "DescribeLoadBalancerAttribute", {"LoadBalancerId": lb})
    assert status == 200 and body["LoadBalancerId"] == lb, body


# ---------------------------------------------------------------- load balancers


def test_create_describe_and_delete(cloud, api):
    wait_pool_free(cloud)
    web = new_lb(api, LoadBalancerName="web-1", ClientToken="lb-token-1")
    assert web["LoadBalancerId"].startswith("lb-") and web["LoadBalancerName"] == "web-1"
    assert web["Address"].startswith("192.0.2.") and web["NetworkType"] == "classic"
    # A repeat with the same ClientToken answers the first.
    assert new_lb(api, LoadBalancerName="web-1", ClientToken="lb-token-1")["LoadBalancerId"] == web["LoadBalancerId"]
    inner = new_lb(api, AddressType="intranet", VpcId="vpc-x", VSwitchId="vsw-y", InternetChargeType="PayByBandwidth",
                   Bandwidth="10", LoadBalancerSpec="slb.s1.small", MasterZoneId="cn-local-a")
    assert inner["LoadBalancerName"] == inner["LoadBalancerId"] and inner["NetworkType"] == "vpc"
    assert inner["Address"].startswith("10.240.") and (inner["VpcId"], inner["VSwitchId"]) == ("vpc-x", "vsw-y")

    body = api.slb("DescribeLoadBalancers")
    assert (body["TotalCount"], body["PageNumber"], body["PageSize"]) == (2, 1, 50)
    lbs = body["LoadBalancers"]["LoadBalancer"]
    assert [l["LoadBalancerId"] for l in lbs] == [inner["LoadBalancerId"], web["LoadBalancerId"]]  # newest first
    one = lbs[1]
    assert (one["LoadBalancerStatus"], one["AddressType"], one["Address"], one["RegionId"]) == \
        ("active", "internet", web["Address"], "cn-local")
    assert one["CreateTime"].endswith("Z") and one["CreateTimeStamp"] > 1e12 and one["HostId"] in ("h-a", "h-b")
    assert lbs[0]["InternetChargeType"] == "paybybandwidth" and lbs[0]["Bandwidth"] == 10
    assert lbs[0]["LoadBalancerSpec"] == "slb.s1.small" and lbs[0]["MasterZoneId"] == "cn-local-a"

    def ids(**kw):
        return [l["LoadBalancerId"] for l in api.slb("DescribeLoadBalancers", **kw)["LoadBalancers"]["LoadBalancer"]]

    assert ids(LoadBalancerId=f"{web['LoadBalancerId']},lb-nosuchone") == [web["LoadBalancerId"]]
    assert ids(AddressType="intranet") == [inner["LoadBalancerId"]]
    assert ids(Address=web["Address"]) == [web["LoadBalancerId"]]
    assert ids(LoadBalancerName="web-1") == [web["LoadBalancerId"]]
    assert ids(NetworkType="vpc", VpcId="vpc-x") == [inner["LoadBalancerId"]]
    assert ids(PageSize=1, PageNumber=2) == [web["LoadBalancerId"]]

    a = attr(api, web["LoadBalancerId"])
    assert a["ListenerPorts"] == {"ListenerPort": []} and a["BackendServers"] == {"BackendServer": []}
    assert a["ListenerPortsAndProtocol"] == {"ListenerPortAndProtocol": []}
    assert a["ListenerPortsAndProtocal"] == {"ListenerPortAndProtocal": []}
    # The host's agent holds the VIP.
    doc = wait_agent_lb(cloud, api, web["LoadBalancerId"], lambda d: True, "the agent to hold the LB")
    assert (doc["address"], doc["status"], doc["listeners"], doc["backends"]) == (web["Address"], "active", [], [])

    api.slb("SetLoadBalancerStatus", LoadBalancerId=web["LoadBalancerId"], LoadBalancerStatus="inactive")
    assert attr(api, web["LoadBalancerId"])["LoadBalancerStatus"] == "inactive"
    wait_agent_lb(cloud, api, web["LoadBalancerId"], lambda d: d["status"] == "inactive", "status inactive")

    host = a["HostId"]
    api.slb("DeleteLoadBalancer", LoadBalancerId=web["LoadBalancerId"])
    assert ids() == [inner["LoadBalancerId"]]
    status, body = api.slb_err("DescribeLoadBalancerAttribute", LoadBalancerId=web["LoadBalancerId"])
    assert (status, body["Code"]) == (404, "InvalidLoadBalancerId.NotFound")
    wait_for(lambda: agent_get(cloud, host, f"/v1/load-balancers/{web['LoadBalancerId']}")[0] == 404, 20,
             "the agent to let go of the LB")
    # Its address is free again once the agent let go of it: the lowest of the pool comes back.
    wait_for(lambda: not rows(cloud, "SELECT 1 FROM public_ips WHERE address = ?", (web["Address"],)), 20,
             "the address freed")
    again = new_lb(api)
    assert again["Address"] == web["Address"]
    for lb in (again, inner):
        api.slb("DeleteLoadBalancer", LoadBalancerId=lb["LoadBalancerId"])


@pytest.mark.parametrize("params,name", [
    ({"AddressType": "public"}, "AddressType"),
    ({"LoadBalancerName": "web server"}, "LoadBalancerName"),
    ({"LoadBalancerName": "w" * 81}, "LoadBalancerName"),
    ({"LoadBalancerName": "http://x"}, "LoadBalancerName"),
    ({"InternetChargeType": "free"}, "InternetChargeType"),
    ({"Bandwidth": "0"}, "Bandwidth"),
    ({"Bandwidth": "5121"}, "Bandwidth"),
    ({"MasterZoneId": "cn-mars-a"}, "MasterZoneId"),
    ({"Address": "10.240.9.9"}, "Address"),
    ({"AddressIPVersion": "ipv6"}, "AddressIPVersion"),
    ({"VpcId": "v" * 65}, "VpcId"),
])
def test_create_refusals(api, params, name):
    new_lb(api, AddressType="intranet")
    with unchanged(api):
        status, body = api.slb_err("CreateLoadBalancer", **params)
        assert (status, body["Code"]) == (400, "InvalidParameter") and f'"{name}"' in body["Message"], body


def test_describe_and_status_refusals(api):
    lb = new_lb(api, AddressType="intranet")["LoadBalancerId"]
    with unchanged(api):
        for action, params, status, code, name in [
            ("DescribeLoadBalancers", {"PageSize": 101}, 400, "InvalidParameter", "PageSize"),
            ("DescribeLoadBalancers", {"PageNumber": 0}, 400, "InvalidParameter", "PageNumber"),
            ("DescribeLoadBalancers", {"AddressType": "public"}, 400, "InvalidParameter", "AddressType"),
            ("DescribeLoadBalancers", {"LoadBalancerId": ",".join(f"lb-{i}" for i in range(101))}, 400,
             "InvalidParameter", "LoadBalancerId"),
            ("DescribeLoadBalancerAttribute", {}, 400, "MissingParameter", "LoadBalancerId"),
            ("SetLoadBalancerStatus", {"LoadBalancerId": lb}, 400, "MissingParameter", "LoadBalancerStatus"),
            ("SetLoadBalancerStatus", {"LoadBalancerId": lb, "LoadBalancerStatus": "locked"}, 400, "InvalidParameter",
             "LoadBalancerStatus"),
            ("DeleteLoadBalancer", {"LoadBalancerId": "lb-nosuchbalancer"}, 404, "InvalidLoadBalancerId.NotFound", None),
            ("DeleteLoadBalancerListener", {"LoadBalancerId": lb, "ListenerPort": 80}, 404, "ListenerNotFound", None),
            ("StopLoadBalancerListener", {"LoadBalancerId": lb, "ListenerPort": 80}, 404, "ListenerNotFound", None),
            ("StopLoadBalancerListener", {"LoadBalancerId": lb, "ListenerPort": 80, "ListenerProtocol": "sctp"}, 400,
             "InvalidParameter", "ListenerProtocol"),
            ("SetLoadBalancerUDPListenerAttribute", {"LoadBalancerId": lb, "ListenerPort": 80}, 404, "ListenerNotFound",
             None),
            ("DescribeLoadBalancerUDPListenerAttribute", {"LoadBalancerId": lb}, 400, "MissingParameter",
             "ListenerPort"),
        ]:
            got, body = api.slb_err(action, **params)
            assert (got, body["Code"]) == (status, code), (action, params, body)
            assert name is None or f'"{name}"' in body["Message"], body
    # The same load balancer twice, by ClientToken: one.
    a = new_lb(api, AddressType="intranet", ClientToken="twice")["LoadBalancerId"]
    assert new_lb(api, AddressType="intranet", ClientToken="twice")["LoadBalancerId"] == a
    for x in (a, lb):
        api.slb("DeleteLoadBalancer", LoadBalancerId=x)


def test_load_balancer_quota_at_its_edge(api):
    made = [new_lb(api, AddressType="intranet")["LoadBalancerId"] for _ in range(QUOTA_LB)]
    with unchanged(api):
        status, body = api.slb_err("CreateLoadBalancer", AddressType="intranet")
        assert (status, body["Code"]) == (400, "OverQuota"), body
    api.slb("DeleteLoadBalancer", LoadBalancerId=made[0])
    made[0] = new_lb(api, AddressType="intranet")["LoadBalancerId"]
    for lb in made:
        api.slb("DeleteLoadBalancer", LoadBalancerId=lb)


def test_public_pool_exhausted(cloud, api, other):
    """Six public addresses: internet LBs and public IPs share them."""
    wait_pool_free(cloud)
    iid = instances(other, 1)[0]
    held = [new_lb(api)["LoadBalancerId"] for _ in range(QUOTA_LB)]
    try:
        with unchanged(api, other):
            status, body = other.slb_err("CreateLoadBalancer")
            assert (status, body["Code"]) == (400, "InsufficientPublicIp"), body
            status, body = other.ecs_err("AllocatePublicIpAddress", InstanceId=iid)
            assert (status, body["Code"]) == (400, "InsufficientPublicIp"), body
        # An intranet one still fits: the private pool is another.
        other.slb("DeleteLoadBalancer", LoadBalancerId=new_lb(other, AddressType="intranet")["LoadBalancerId"])
    finally:
        for lb in held:
            api.slb("DeleteLoadBalancer", LoadBalancerId=lb)


def test_other_accounts_load_balancers_do_not_exist(api, other):
    mine = instances(api, 1)[0]
    lb = serving_lb(api, [(mine, 100)])
    theirs = new_lb(other, AddressType="intranet")["LoadBalancerId"]
    foreign = instances(other, 1)[0]
    with unchanged(api, other):
        for action, params in [
            ("DescribeLoadBalancerAttribute", {}),
            ("DeleteLoadBalancer", {}),
            ("SetLoadBalancerStatus", {"LoadBalancerStatus": "inactive"}),
            ("CreateLoadBalancerTCPListener", {"ListenerPort": 81, "BackendServerPort": 81, "Bandwidth": -1}),
            ("StartLoadBalancerListener", {"ListenerPort": 80}),
            ("DescribeLoadBalancerTCPListenerAttribute", {"ListenerPort": 80}),
            ("AddBackendServers", {"BackendServers": backends_json([(foreign, 10)])}),
            ("RemoveBackendServers", {"BackendServers": json.dumps([mine])}),
            ("DescribeHealthStatus", {}),
        ]:
            status, body = other.slb_err(action, LoadBalancerId=lb, **params)
            assert (status, body["Code"]) == (404, "InvalidLoadBalancerId.NotFound"), (action, body)
        assert other.slb("DescribeLoadBalancers", LoadBalancerId=lb)["TotalCount"] == 0
        # Another account's instance as a backend: as a missing one.
        status, body = api.slb_err("AddBackendServers", LoadBalancerId=lb,
                                   BackendServers=backends_json([(foreign, 10)]))
        assert (status, body["Code"]) == (404, "InvalidServerId.NotFound") and foreign in body["Message"], body
        status, body = other.slb_err("AddBackendServers", LoadBalancerId=theirs,
                                     BackendServers=backends_json([(mine, 10)]))
        assert (status, body["Code"]) == (404, "InvalidServerId.NotFound"), body
        status, body = api.ecs_err("AllocatePublicIpAddress", InstanceId=foreign)
        assert (status, body["Code"]) == (404, "InvalidInstanceId.NotFound"), body


# ---------------------------------------------------------------- listeners


def test_listeners(cloud, api):
    lb = new_lb(api, AddressType="intranet")["LoadBalancerId"]
    # Every health-check field, in SLB's mixed spellings (healthCheckInterval is lower camel).
    api.slb("CreateLoadBalancerTCPListener", LoadBalancerId=lb, ListenerPort=80, BackendServerPort=8080, Bandwidth=-1,
            Scheduler="rr", HealthCheck="on", HealthCheckType="http", HealthCheckConnectPort=8081,
            HealthCheckURI="/health?x=1", HealthCheckDomain="www.example.com", HealthCheckHttpCode="http_3xx,http_2xx",
            HealthyThreshold=2, UnhealthyThreshold=10, HealthCheckConnectTimeout=300, healthCheckInterval=50)
    got = api.slb("DescribeLoadBalancerTCPListenerAttribute", LoadBalancerId=lb, ListenerPort=80)
    assert {k: got[k] for k in ("ListenerPort", "BackendServerPort", "Bandwidth", "Status", "Scheduler", "HealthCheck",
                                "HealthCheckType", "HealthCheckConnectPort", "HealthCheckURI", "HealthCheckDomain",
                                "HealthCheckHttpCode", "HealthyThreshold", "UnhealthyThreshold",
                                "HealthCheckConnectTimeout", "HealthCheckInterval")} == {
        "ListenerPort": 80, "BackendServerPort": 8080, "Bandwidth": -1, "Status": "stopped", "Scheduler": "rr",
        "HealthCheck": "on", "HealthCheckType": "http", "HealthCheckConnectPort": 8081,
        "HealthCheckURI": "/health?x=1", "HealthCheckDomain": "www.example.com",
        "HealthCheckHttpCode": "http_2xx,http_3xx", "HealthyThreshold": 2, "UnhealthyThreshold": 10,
        "HealthCheckConnectTimeout": 300, "HealthCheckInterval": 50}
    # The agent gets the listener, its health check in the agent's terms, stopped.
    doc = wait_agent_lb(cloud, api, lb, lambda d: d["listeners"], "the listener on the agent")
    assert doc["listeners"] == [{
        "protocol": "tcp", "port": 80, "backend_port": 8080, "scheduler": "rr", "status": "stopped",
        "health_check": {"enabled": True, "type": "http", "port": 8081, "uri": "/health?x=1",
                         "domain": "www.example.com", "http_codes": ["http_2xx", "http_3xx"], "interval_s": 50,
                         "timeout_s": 300, "healthy_threshold": 2, "unhealthy_threshold": 10}}]

    # A UDP listener on the same port; the defaults (and the low edges) elsewhere.
    api.slb("CreateLoadBalancerUDPListener", LoadBalancerId=lb, ListenerPort=80, BackendServerPort=53, Bandwidth=5120,
            HealthyThreshold=10, UnhealthyThreshold=2, HealthCheckConnectTimeout=1, HealthCheckInterval=1,
            HealthCheckConnectPort=-520)
    udp = api.slb("DescribeLoadBalancerUDPListenerAttribute", LoadBalancerId=lb, ListenerPort=80)
    assert (udp["HealthCheckType"], udp["Bandwidth"], udp["HealthCheckConnectPort"], udp["HealthCheckInterval"]) == \
        ("udp", 5120, 53, 1)
    api.slb("CreateLoadBalancerTCPListener", LoadBalancerId=lb, ListenerPort=443, BackendServerPort=443,
            Bandwidth=1, HealthCheck="off")
    tcp443 = api.slb("DescribeLoadBalancerTCPListenerAttribute", LoadBalancerId=lb, ListenerPort=443)
    assert (tcp443["HealthCheck"], tcp443["Scheduler"], tcp443["HealthCheckType"], tcp443["HealthCheckInterval"],
            tcp443["HealthCheckConnectTimeout"], tcp443["HealthyThreshold"], tcp443["HealthCheckHttpCode"]) == \
        ("off", "wrr", "tcp", 2, 5, 3, "http_2xx")
    a = attr(api, lb)
    assert a["ListenerPorts"]["ListenerPort"] == [80, 443]
    assert a["ListenerPortsAndProtocol"]["ListenerPortAndProtocol"] == [
        {"ListenerPort": 80, "ListenerProtocol": "tcp"}, {"ListenerPort": 80, "ListenerProtocol": "udp"},
        {"ListenerPort": 443, "ListenerProtocol": "tcp"}]

    # Start and stop: port 80 is shared, so the protocol must be named there.
    with unchanged(api):
        status, body = api.slb_err("StartLoadBalancerListener", LoadBalancerId=lb, ListenerPort=80)
        assert (status, body["Code"]) == (400, "InvalidParameter") and '"ListenerProtocol"' in body["Message"], body
        status, body = api.slb_err("StartLoadBalancerListener", LoadBalancerId=lb, ListenerPort=81)
        assert (status, body["Code"]) == (404, "ListenerNotFound"), body
        status, body = api.slb_err("StartLoadBalancerListener", LoadBalancerId=lb, ListenerPort=443,
                                   ListenerProtocol="udp")
        assert (status, body["Code"]) == (404, "ListenerNotFound"), body
    api.slb("StartLoadBalancerListener", LoadBalancerId=lb, ListenerPort=80, ListenerProtocol="TCP")
    api.slb("StartLoadBalancerListener", LoadBalancerId=lb, ListenerPort=443)
    api.slb("StartLoadBalancerListener", LoadBalancerId=lb, ListenerPort=443)  # already running: fine
    assert api.slb("DescribeLoadBalancerTCPListenerAttribute", LoadBalancerId=lb, ListenerPort=80)["Status"] == "running"
    assert api.slb("DescribeLoadBalancerUDPListenerAttribute", LoadBalancerId=lb, ListenerPort=80)["Status"] == "stopped"
    wait_agent_lb(cloud, api, lb, lambda d: [l["status"] for l in d["listeners"]] == ["running", "stopped", "running"],
                  "the listeners started on the agent")
    api.slb("StopLoadBalancerListener", LoadBalancerId=lb, ListenerPort=443)

    # Changing a listener keeps what is not given.
    api.slb("SetLoadBalancerTCPListenerAttribute", LoadBalancerId=lb, ListenerPort=80, healthcheckinterval=7,
            Scheduler="wrr", HealthCheckDomain="$_ip")
    got = api.slb("DescribeLoadBalancerTCPListenerAttribute", LoadBalancerId=lb, ListenerPort=80)
    assert (got["HealthCheckInterval"], got["Scheduler"], got["HealthCheckDomain"], got["HealthCheckURI"],
            got["Status"], got["UnhealthyThreshold"]) == (7, "wrr", "$_ip", "/health?x=1", "running", 10)
    api.slb("SetLoadBalancerUDPListenerAttribute", LoadBalancerId=lb, ListenerPort=80, HealthCheck="off")
    assert api.slb("DescribeLoadBalancerUDPListenerAttribute", LoadBalancerId=lb, ListenerPort=80)["HealthCheck"] == "off"
    wait_agent_lb(cloud, api, lb, lambda d: d["listeners"][0]["health_check"]["interval_s"] == 7 and
                  d["listeners"][0]["health_check"]["domain"] == "" and not d["listeners"][1]["health_check"]["enabled"],
                  "the change on the agent")

    api.slb("DeleteLoadBalancerListener", LoadBalancerId=lb, ListenerPort=80, ListenerProtocol="udp")
    api.slb("DeleteLoadBalancerListener", LoadBalancerId=lb, ListenerPort=443)
    assert attr(api, lb)["ListenerPortsAndProtocol"]["ListenerPortAndProtocol"] == [
        {"ListenerPort": 80, "ListenerProtocol": "tcp"}]
    wait_agent_lb(cloud, api, lb, lambda d: len(d["listeners"]) == 1, "the listeners deleted on the agent")
    api.slb("DeleteLoadBalancer", LoadBalancerId=lb)


LISTENER = {"ListenerPort": 80, "BackendServerPort": 80, "Bandwidth": -1}


@pytest.mark.parametrize("params,status,code,name", [
    ({"ListenerPort": 0}, 400, "InvalidParameter", "ListenerPort"),
    ({"ListenerPort": 65536}, 400, "InvalidParameter", "ListenerPort"),
    ({"ListenerPort": None}, 400, "MissingParameter", "ListenerPort"),
    ({"BackendServerPort": None}, 400, "MissingParameter", "BackendServerPort"),
    ({"BackendServerPort": 0}, 400, "InvalidParameter", "BackendServerPort"),
    ({"Bandwidth": 0}, 400, "InvalidParameter", "Bandwidth"),
    ({"Bandwidth": -2}, 400, "InvalidParameter", "Bandwidth"),
    ({"Bandwidth": 5121}, 400, "InvalidParameter", "Bandwidth"),
    ({"Scheduler": "wlc"}, 400, "InvalidParameter", "Scheduler"),
    ({"HealthCheck": "maybe"}, 400, "InvalidParameter", "HealthCheck"),
    ({"HealthCheckType": "udp"}, 400, "InvalidParameter", "HealthCheckType"),
    ({"HealthyThreshold": 1}, 400, "InvalidParameter", "HealthyThreshold"),
    ({"HealthyThreshold": 11}, 400, "InvalidParameter", "HealthyThreshold"),
    ({"UnhealthyThreshold": 1}, 400, "InvalidParameter", "UnhealthyThreshold"),
    ({"UnhealthyThreshold": 11}, 400, "InvalidParameter", "UnhealthyThreshold"),
    ({"HealthCheckInterval": 0}, 400, "InvalidParameter", "HealthCheckInterval"),
    ({"healthCheckInterval": 51}, 400, "InvalidParameter", "healthCheckInterval"),
    ({"HealthCheckConnectTimeout": 0}, 400, "InvalidParameter", "HealthCheckConnectTimeout"),
    ({"HealthCheckConnectTimeout": 301}, 400, "InvalidParameter", "HealthCheckConnectTimeout"),
    ({"HealthCheckTimeout": 301}, 400, "InvalidParameter", "HealthCheckTimeout"),
    ({"HealthCheckConnectPort": 0}, 400, "InvalidParameter", "HealthCheckConnectPort"),
    ({"HealthCheckConnectPort": 65536}, 400, "InvalidParameter", "HealthCheckConnectPort"),
    ({"HealthCheckURI": "health"}, 400, "InvalidParameter", "HealthCheckURI"),
    ({"HealthCheckURI": "/" + "u" * 80}, 400, "InvalidParameter", "HealthCheckURI"),
    ({"HealthCheckURI": "/a b"}, 400, "InvalidParameter", "HealthCheckURI"),
    ({"HealthCheckDomain": "bad_domain"}, 400, "InvalidParameter", "HealthCheckDomain"),
    ({"HealthCheckHttpCode": "http_2xx,http_2xx"}, 400, "InvalidParameter", "HealthCheckHttpCode"),
    ({"HealthCheckHttpCode": "http_6xx"}, 400, "InvalidParameter", "HealthCheckHttpCode"),
    ({"PersistenceTimeout": 10}, 400, "InvalidParameter", "PersistenceTimeout"),
    ({"VServerGroupId": "rsp-1"}, 400, "InvalidParameter", "VServerGroupId"),
    ({"AclStatus": "on"}, 400, "InvalidParameter", "AclStatus"),
    ({"ListenerPort": 80}, 400, "ListenerAlreadyExists", None),
    ({"LoadBalancerId": "lb-nosuchbalancer"}, 404, "InvalidLoadBalancerId.NotFound", None),
])
def test_listener_refusals(api, params, status, code, name):
    lb = new_lb(api, AddressType="intranet")["LoadBalancerId"]
    api.slb("CreateLoadBalancerTCPListener", LoadBalancerId=lb, **LISTENER)
    full = {"LoadBalancerId": lb, **LISTENER, "ListenerPort": 81, **params}
    with unchanged(api):
        got, body = api.slb_err("CreateLoadBalancerTCPListener", **{k: v for k, v in full.items() if v is not None})
        assert (got, body["Code"]) == (status, code), body
        if name:  # named as this controller spells it (healthCheckInterval: "HealthCheckInterval")
            assert f'"{name}"'.lower() in body["Message"].lower(), body
        # The same refusal from a change of the existing listener.
        if code == "InvalidParameter" and name not in ("ListenerPort", "BackendServerPort"):
            got, body = api.slb_err("SetLoadBalancerTCPListenerAttribute", LoadBalancerId=lb, ListenerPort=80, **params)
            assert (got, body["Code"]) == (status, code), body


def test_fifty_listeners_and_no_more(api):
    lb = new_lb(api, AddressType="intranet")["LoadBalancerId"]
    for port in range(1, 51):
        api.slb("CreateLoadBalancerTCPListener", LoadBalancerId=lb, ListenerPort=port, BackendServerPort=port,
                Bandwidth=-1)
    with unchanged(api):
        status, body = api.slb_err("CreateLoadBalancerUDPListener", LoadBalancerId=lb, ListenerPort=51,
                                   BackendServerPort=51, Bandwidth=-1)
        assert (status, body["Code"]) == (400, "ListenerNumberOverLimit"), body
    api.slb("DeleteLoadBalancer", LoadBalancerId=lb)


# ---------------------------------------------------------------- backends


def test_backends(cloud, api):
    lb = new_lb(api, AddressType="intranet")["LoadBalancerId"]
    a, b, c = instances(api, 3)
    api.slb("CreateLoadBalancerTCPListener", LoadBalancerId=lb, ListenerPort=80, BackendServerPort=80, Bandwidth=-1)
    body = api.slb("AddBackendServers", LoadBalancerId=lb,
                   BackendServers=json.dumps([{"ServerId": a, "Weight": "50", "Type": "ecs"},
                                              {"ServerId": b, "Weight": 30}, {"ServerId": c}]))
    assert body["LoadBalancerId"] == lb
    assert {(s["ServerId"], s["Weight"], s["Type"]) for s in body["BackendServers"]["BackendServer"]} == \
        {(a, "50", "ecs"), (b, "30", "ecs"), (c, "100", "ecs")}
    got = attr(api, lb)["BackendServers"]["BackendServer"]
    assert {(s["ServerId"], s["Weight"]) for s in got} == {(a, 50), (b, 30), (c, 100)}
    ips = {i: ip_of(api, i) for i in (a, b, c)}
    want = sorted([{"server_id": a, "ip": ips[a], "weight": 50}, {"server_id": b, "ip": ips[b], "weight": 30},
                   {"server_id": c, "ip": ips[c], "weight": 100}], key=lambda x: x["server_id"])
    wait_agent_lb(cloud, api, lb, lambda d: d["backends"] == want, "the backends on the agent")
    assert api.slb("DescribeLoadBalancers", ServerId=b)["LoadBalancers"]["LoadBalancer"][0]["LoadBalancerId"] == lb

    # Weights at their edges; Set only changes servers the LB has.
    api.slb("SetBackendServers", LoadBalancerId=lb, BackendServers=backends_json([(a, 0), (c, 100)]))
    assert {s["ServerId"]: s["Weight"] for s in attr(api, lb)["BackendServers"]["BackendServer"]} == {a: 0, b: 30, c: 100}
    api.slb("AddBackendServers", LoadBalancerId=lb, BackendServers=backends_json([(b, 1)]))  # an existing one: reweighed
    body = api.slb("RemoveBackendServers", LoadBalancerId=lb, BackendServers=json.dumps([c]))
    assert {s["ServerId"] for s in body["BackendServers"]["BackendServer"]} == {a, b}
    api.slb("RemoveBackendServers", LoadBalancerId=lb, BackendServers=json.dumps([{"ServerId": c}]))  # absent: fine
    wait_agent_lb(cloud, api, lb, lambda d: [(x["server_id"], x["weight"]) for x in d["backends"]] ==
                  sorted([(a, 0), (b, 1)]), "the reweighed backends on the agent")

    with unchanged(api):
        for action, servers, status, code in [
            ("AddBackendServers", backends_json([(a, 101)]), 400, "InvalidWeight.Malformed"),
            ("AddBackendServers", backends_json([(a, -1)]), 400, "InvalidWeight.Malformed"),
            ("AddBackendServers", json.dumps([{"ServerId": a, "Weight": "heavy"}]), 400, "InvalidWeight.Malformed"),
            ("SetBackendServers", backends_json([(a, 101)]), 400, "InvalidWeight.Malformed"),
            ("SetBackendServers", backends_json([(c, 10)]), 400, "InvalidParameter"),
            ("SetBackendServers", json.dumps([{"ServerId": a}]), 400, "InvalidParameter"),
            ("AddBackendServers", backends_json([(a, 10), ("i-nosuchinstance", 10)]), 404, "InvalidServerId.NotFound"),
            ("AddBackendServers", json.dumps([{"ServerId": c, "Type": "eni"}]), 400, "BackendServer.InvalidType"),
            ("AddBackendServers", json.dumps([{"ServerId": c, "Port": 80}]), 400, "InvalidParameter"),
            ("AddBackendServers", backends_json([(c, 10), (c, 20)]), 400, "InvalidParameter"),
            ("AddBackendServers", "[{", 400, "InvalidParameter"),
            ("AddBackendServers", "[]", 400, "InvalidParameter"),
            ("AddBackendServers", json.dumps([c]), 400, "InvalidParameter"),
            ("AddBackendServers", backends_json([(c, 1)] * 21), 400, "TooManyBackendServers"),
            ("AddBackendServers", None, 400, "MissingParameter"),
        ]:
            params = {"LoadBalancerId": lb} if servers is None else {"LoadBalancerId": lb, "BackendServers": servers}
            got, body = api.slb_err(action, **params)
            assert (got, body["Code"]) == (status, code), (action, servers, body)
    api.slb("DeleteLoadBalancer", LoadBalancerId=lb)


def test_two_hundred_backends_and_no_more(cloud, api):
    lb = new_lb(api, AddressType="intranet")["LoadBalancerId"]
    ids = instances(api, 201)
    for i in range(0, 200, 20):
        api.slb("AddBackendServers", LoadBalancerId=lb, BackendServers=backends_json((x, 10) for x in ids[i:i + 20]))
    assert len(attr(api, lb)["BackendServers"]["BackendServer"]) == 200
    with unchanged(api):
        status, body = api.slb_err("AddBackendServers", LoadBalancerId=lb, BackendServers=backends_json([(ids[200], 1)]))
        assert (status, body["Code"]) == (400, "TooManyBackendServers"), body
    # The agent holds all 200.
    wait_agent_lb(cloud, api, lb, lambda d: len(d["backends"]) == 200, "200 backends on the agent", 60)
    api.slb("DeleteLoadBalancer", LoadBalancerId=lb)


# ---------------------------------------------------------------- health


def test_health_status(cloud, api):
    lb = new_lb(api, AddressType="intranet")["LoadBalancerId"]
    a, b = instances(api, 2)
    api.slb("CreateLoadBalancerTCPListener", LoadBalancerId=lb, ListenerPort=80, BackendServerPort=8080, Bandwidth=-1,
            HealthCheckInterval=1, HealthCheckConnectTimeout=1, UnhealthyThreshold=2)
    api.slb("CreateLoadBalancerUDPListener", LoadBalancerId=lb, ListenerPort=53, BackendServerPort=53, Bandwidth=-1)
    assert api.slb("DescribeHealthStatus", LoadBalancerId=lb)["BackendServers"] == {"BackendServer": []}
    api.slb("AddBackendServers", LoadBalancerId=lb, BackendServers=backends_json([(a, 100), (b, 100)]))

    def health(**kw):
        rows = api.slb("DescribeHealthStatus", LoadBalancerId=lb, **kw)["BackendServers"]["BackendServer"]
        return {(r["ListenerPort"], r["Protocol"], r["ServerId"]): r for r in rows}

    # Stopped listeners: unavailable.
    got = health()
    assert len(got) == 4 and {r["ServerHealthStatus"] for r in got.values()} == {"unavailable"}
    row = got[(80, "tcp", a)]
    assert (row["Port"], row["ServerIp"]) == (8080, ip_of(api, a))
    # Running: the agent checks; nothing answers on a test-driver guest, so abnormal.
    api.slb("StartLoadBalancerListener", LoadBalancerId=lb, ListenerPort=80)
    wait_for(lambda: {r["ServerHealthStatus"] for k, r in health(ListenerPort=80).items()} == {"abnormal"}, 30,
             "the backends abnormal")
    assert set(health(ListenerPort=53)) == {(53, "udp", a), (53, "udp", b)}
    assert set(health(ListenerPort=80, ListenerProtocol="tcp")) == {(80, "tcp", a), (80, "tcp", b)}
    with unchanged(api):
        status, body = api.slb_err("DescribeHealthStatus", LoadBalancerId=lb, ListenerPort=81)
        assert (status, body["Code"]) == (404, "ListenerNotFound"), body
        status, body = api.slb_err("DescribeHealthStatus", LoadBalancerId=lb, ListenerPort=0)
        assert (status, body["Code"]) == (400, "InvalidParameter"), body
    # Checks off: unavailable (the backend takes traffic).
    api.slb("SetLoadBalancerTCPListenerAttribute", LoadBalancerId=lb, ListenerPort=80, HealthCheck="off")
    wait_for(lambda: {r["ServerHealthStatus"] for r in health(ListenerPort=80).values()} == {"unavailable"}, 30,
             "unavailable with checks off")
    api.slb("SetLoadBalancerTCPListenerAttribute", LoadBalancerId=lb, ListenerPort=80, HealthCheck="on")
    wait_for(lambda: {r["ServerHealthStatus"] for r in health(ListenerPort=80).values()} == {"abnormal"}, 30,
             "abnormal again")
    # The agent does not answer: unavailable, and the call still succeeds.
    host = host_of(cloud, attr(api, lb)["HostId"])
    stop_agent(host)
    try:
        assert {r["ServerHealthStatus"] for r in health(ListenerPort=80).values()} == {"unavailable"}
    finally:
        start_agent(host)
    api.slb("DeleteLoadBalancer", LoadBalancerId=lb)


# ---------------------------------------------------------------- public IPs


def test_public_ips(cloud, api, other):
    wait_pool_free(cloud)
    a, b, c, d = instances(api, 4)
    held = [new_lb(other)["LoadBalancerId"]]  # one public address taken by another account's LB
    try:
        ip = api.ecs("AllocatePublicIpAddress", InstanceId=a)["IpAddress"]
        assert ip.startswith("192.0.2.")
        inst = instance(api, a)
        assert inst["PublicIpAddress"] == {"IpAddress": [ip]}
        host = inst["HostId"]
        # The instance's host carries the 1:1 NAT.
        wait_for(lambda: agent_get(cloud, host, f"/v1/public-ips/{ip}") ==
                 (200, {"public_ip": ip, "private_ip": ip_of(api, a)}), 20, "the public IP on the agent")
        # A chosen address of the pool.
        want = "192.0.2.6"
        assert api.ecs("AllocatePublicIpAddress", InstanceId=b, IpAddress=want)["IpAddress"] == want
        api.ecs("AllocatePublicIpAddress", InstanceId=c)
        with unchanged(api, other):
            for params, status, code in [
                ({"InstanceId": a}, 403, "AllocatedAlready"),
                ({"InstanceId": d}, 400, "QuotaExceeded"),
                ({"InstanceId": "i-nosuchinstance"}, 404, "InvalidInstanceId.NotFound"),
                ({}, 400, "MissingParameter"),
            ]:
                got, body = api.ecs_err("AllocatePublicIpAddress", **params)
                assert (got, body["Code"]) == (status, code), (params, body)
            for params, status, code in [
                ({"PublicIpAddress": ip, "InstanceId": b}, 404, "InvalidPublicIpAddress.NotFound"),
                ({"PublicIpAddress": "192.0.2.5"}, 404, "InvalidPublicIpAddress.NotFound"),
                ({"PublicIpAddress": "192.0.2.256"}, 400, "InvalidPublicIpAddress.Malformed"),
                ({"PublicIpAddress": ip, "InstanceId": "i-nosuchinstance"}, 404, "InvalidInstanceId.NotFound"),
                ({"InstanceId": a}, 400, "MissingParameter"),
            ]:
                got, body = api.ecs_err("ReleasePublicIpAddress", **params)
                assert (got, body["Code"]) == (status, code), (params, body)
            # Another account's public IP, and an internet LB's VIP, are no one's to release.
            got, body = other.ecs_err("ReleasePublicIpAddress", PublicIpAddress=ip)
            assert (got, body["Code"]) == (404, "InvalidPublicIpAddress.NotFound"), body
            vip = other.slb("DescribeLoadBalancerAttribute", LoadBalancerId=held[0])["Address"]
            got, body = other.ecs_err("ReleasePublicIpAddress", PublicIpAddress=vip)
            assert (got, body["Code"]) == (404, "InvalidPublicIpAddress.NotFound"), body

        api.ecs("ReleasePublicIpAddress", PublicIpAddress=want, InstanceId=b)
        assert instance(api, b)["PublicIpAddress"] == {"IpAddress": []}
        wait_for(lambda: agent_get(cloud, instance(api, b)["HostId"], f"/v1/public-ips/{want}")[0] == 404, 20,
                 "the public IP gone from the agent")
        # Within the quota again; the address is back in the pool once released.
        wait_for(lambda: api.cloud.run(api.ecs_client.raw, "AllocatePublicIpAddress",
                                       {"InstanceId": d, "IpAddress": want})[0] == 200, 20, "the address reusable")
        api.ecs("ReleasePublicIpAddress", PublicIpAddress=want)
        with unchanged(api):
            for params, status, code in [
                ({"InstanceId": b, "IpAddress": ip}, 403, "IpInUse"),
                ({"InstanceId": b, "IpAddress": "192.0.2.7"}, 404, "InvalidIpAddress.NotFound"),
                ({"InstanceId": b, "IpAddress": "10.240.0.9"}, 404, "InvalidIpAddress.NotFound"),
                ({"InstanceId": b, "IpAddress": "192.0.2.1/32"}, 400, "InvalidIpAddress.Malformed"),
            ]:
                got, body = api.ecs_err("AllocatePublicIpAddress", **params)
                assert (got, body["Code"]) == (status, code), (params, body)
        api.ecs("ReleasePublicIpAddress", PublicIpAddress=ip)
        wait_for(lambda: agent_get(cloud, host, f"/v1/public-ips/{ip}")[0] == 404, 30, "the public IP gone")
    finally:
        for lb in held:
            other.slb("DeleteLoadBalancer", LoadBalancerId=lb)


def test_public_ip_needs_a_settled_instance(cloud, api):
    iid = api.ecs("CreateInstance", ImageId="tiny", InstanceType="ecs.t1.small")["InstanceId"]
    wait_for(lambda: instance(api, iid).get("Status") == "Stopped", 60, "the instance Stopped")
    host = host_of(cloud, instance(api, iid)["HostId"])
    stop_agent(host)
    try:
        api.ecs("StartInstance", InstanceId=iid)  # Starting until its agent answers
        with unchanged(api):
            status, body = api.ecs_err("AllocatePublicIpAddress", InstanceId=iid)
            assert (status, body["Code"]) == (403, "IncorrectInstanceStatus"), body
    finally:
        start_agent(host)
    wait_for(lambda: instance(api, iid).get("Status") == "Running", 60, "the instance Running")
    ip = api.ecs("AllocatePublicIpAddress", InstanceId=iid)["IpAddress"]
    api.ecs("StopInstance", InstanceId=iid)
    wait_for(lambda: instance(api, iid).get("Status") == "Stopped", 60, "the instance Stopped")
    assert instance(api, iid)["PublicIpAddress"]["IpAddress"] == [ip]  # kept while stopped
    api.ecs("ReleasePublicIpAddress", PublicIpAddress=ip)


# ---------------------------------------------------------------- the agents' side


def test_an_agent_that_lost_or_gained_something_is_put_right(cloud, api):
    iid = instances(api, 1)[0]
    lb = serving_lb(api, [(iid, 7)])
    ip = api.ecs("AllocatePublicIpAddress", InstanceId=iid)["IpAddress"]
    doc = wait_agent_lb(cloud, api, lb, lambda d: d["backends"], "the LB on its agent")
    host = host_of(cloud, attr(api, lb)["HostId"])
    eip_host = host_of(cloud, instance(api, iid)["HostId"])
    wait_for(lambda: agent_get(cloud, eip_host.spec.host_id, f"/v1/public-ips/{ip}")[0] == 200, 20, "the public IP")
    # The agent loses both (as a host whose state was wiped would).
    cloud.run(lambda: host.client().raw("DELETE", f"/v1/load-balancers/{lb}"))
    cloud.run(lambda: eip_host.client().raw("DELETE", f"/v1/public-ips/{ip}"))
    assert agent_lb(cloud, api, lb) is None
    # A heartbeat later (5 s here) the controller sends them again.
    again = wait_agent_lb(cloud, api, lb, lambda d: True, "the LB sent again", 30)
    assert {k: again[k] for k in ("address", "listeners", "backends")} == \
        {k: doc[k] for k in ("address", "listeners", "backends")}
    wait_for(lambda: agent_get(cloud, eip_host.spec.host_id, f"/v1/public-ips/{ip}")[0] == 200, 30,
             "the public IP sent again")
    # An LB the controller does not know, on a host that has LBs: removed.
    stray = "lb-" + "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz234567") for _ in range(20))
    status, body, _ = cloud.run(lambda: host.client().raw("PUT", f"/v1/load-balancers/{stray}",
                                                          {"address": "10.240.255.200"}))
    assert status == 200, body
    wait_for(lambda: agent_get(cloud, host.spec.host_id, f"/v1/load-balancers/{stray}")[0] == 404, 30,
             "the stray LB removed")
    api.slb("DeleteLoadBalancer", LoadBalancerId=lb)
    api.ecs("ReleasePublicIpAddress", PublicIpAddress=ip)


def _restart_controller(cloud: FakeCloud):
    """SIGTERM the controller and start it again on the same database."""
    cloud.controller_proc.send_signal(signal.SIGTERM)
    cloud.controller_proc.wait(20)
    offset = cloud.controller_log.stat().st_size
    with open(cloud.controller_log, "ab") as log:
        cloud.controller_proc = subprocess.Popen(cloud.netns.argv([CONTROLLER_BIN, "-c", cloud.ini, "serve"]),
                                                 stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                                 preexec_fn=_die_with_parent)
    wait_log_line(cloud.controller_log, 'msg="controller ready"', 20, "the controller ready again",
                  proc=cloud.controller_proc, offset=offset)


def test_jobs_survive_a_controller_restart(cloud, api):
    lb = new_lb(api, AddressType="intranet")["LoadBalancerId"]
    wait_agent_lb(cloud, api, lb, lambda d: True, "the LB on its agent")
    host = host_of(cloud, attr(api, lb)["HostId"])
    # The agent is gone: the change waits in the job queue...
    stop_agent(host)
    try:
        api.slb("CreateLoadBalancerTCPListener", LoadBalancerId=lb, ListenerPort=8000, BackendServerPort=8000,
                Bandwidth=-1)
        wait_for(lambda: rows(cloud, "SELECT 1 FROM jobs WHERE resource_id = ? AND attempts > 0", (lb,)), 30,
                 "the job retried")
        # ... across a restart of the controller.
        _restart_controller(cloud)
        assert rows(cloud, "SELECT 1 FROM jobs WHERE resource_id = ?", (lb,))
    finally:
        start_agent(host)
    wait_agent_lb(cloud, api, lb, lambda d: [l["port"] for l in d["listeners"]] == [8000],
                  "the listener on the agent after the restart", 60)
    api.slb("DeleteLoadBalancer", LoadBalancerId=lb)


# ---------------------------------------------------------------- ecsctl


def test_ecsctl_verbs(cloud, api, tmp_path):
    """ecsctl's lb and eip verbs against the controller: SLB's actions under 2014-05-15."""
    ecsctl = Path(__file__).resolve().parents[2] / "build/bin/ecsctl"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
           "ECSCTL_ENDPOINT": api.ecs_client.endpoint, "ECSCTL_ACCESS_KEY_ID": api.ecs_client.ak,
           "ECSCTL_ACCESS_KEY_SECRET": api.ecs_client.secret}

    def ctl(*args, check=True):
        p = subprocess.run(cloud.netns.argv([ecsctl, "-o", "text", *args]), capture_output=True, text=True,
                           timeout=60, env=env)
        assert not check or p.returncode == 0, (args, p.stdout, p.stderr)
        return p

    iid = instances(api, 1)[0]
    lb = ctl("lb", "create", "--name", "cli", "--type", "intranet").stdout.strip()
    assert lb.startswith("lb-") and lb in ctl("lb", "ls").stdout.split()
    ctl("lb", "listener-add", lb, "--protocol", "tcp", "--port", "80", "--backend-port", "8080", "--interval", "3",
        "--start")
    ctl("lb", "backend-add", lb, f"{iid}:40")
    shown = dict(line.split("\t", 1) for line in ctl("lb", "show", lb).stdout.splitlines())
    assert (shown["Listeners"], shown["BackendServers"], shown["AddressType"]) == ("tcp/80", f"{iid}:40", "intranet")
    assert ctl("lb", "health", lb).stdout.split() == [iid]
    ctl("lb", "backend-set", lb, f"{iid}:0")
    assert attr(api, lb)["BackendServers"]["BackendServer"][0]["Weight"] == 0
    ip = ctl("eip", "allocate", iid).stdout.strip()
    assert ip in ctl("eip", "ls").stdout.split()
    ctl("eip", "release", ip, iid)
    ctl("lb", "listener-stop", lb, "80")
    ctl("lb", "listener-rm", lb, "80")
    ctl("lb", "backend-rm", lb, iid)
    p = ctl("lb", "rm", "lb-nosuchbalancer", check=False)
    assert p.returncode == 1 and "InvalidLoadBalancerId.NotFound" in p.stderr
    ctl("lb", "rm", lb)
    assert lb not in ctl("lb", "ls").stdout.split()
