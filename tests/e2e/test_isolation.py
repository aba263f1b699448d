"""Two tenants on one controller (issue 11): nothing one account sends reaches the other's
resources or shares, and a signed request cannot be replayed or re-aimed.

- Signatures: a V3 SignedHeaders list is parsed exactly and must cover host, action,
  version, date, nonce and payload hash, so a captured request does not come back with a
  fresh date and nonce; a nonce is kept until its own timestamp leaves the window (a request
  dated ahead is not accepted twice); one account filling its nonce share throttles only
  itself.
- Isolation: account B names each of account A's resources, in every parameter of every
  action that takes an id or a name, and gets ECS's not-found code; A's resources are
  described before and after and compared.

Runs one controller with stand-in hosts (tests/e2e/fakeagent.py); no guests. The nonce
window test moves the controller's clock with libfaketime (Debian's faketime)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest

from accounts import account_fixtures
from ecsapi import EcsClient, enc, post_json, sign_v1
from waiting import wait_for
from fakeagent import LoneController, lone_cloud, lone_cloud_fixtures

FAKETIME_LIB = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1")


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def post(endpoint: str, data: bytes, headers: dict, query: str = "") -> tuple[int, dict]:
    return post_json(f"{endpoint}/{'?' + query if query else ''}", data, headers)


def v1_request(api: EcsClient, action: str, stamp: float, nonce: str, **params) -> bytes:
    """A signed form body, to send (and send again) as it is."""
    p = api.common(action)
    p.update({k: str(v) for k, v in params.items()})
    p.update({"Timestamp": iso(stamp), "SignatureNonce": nonce})
    p["Signature"] = sign_v1("POST", p, api.secret)
    return urllib.parse.urlencode(p, quote_via=urllib.parse.quote).encode()


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def v3_send(api: EcsClient, action: str, params: dict, signed: list[str], *, after_sign: dict | None = None):
    """An ACS3 request signing only the headers named in signed (in that order, as given),
    with after_sign's headers changed once the signature is made."""
    host = urllib.parse.urlsplit(api.endpoint).netloc
    headers = {"host": host, "x-acs-action": action, "x-acs-version": api.version, "x-acs-date": iso(time.time()),
               "x-acs-signature-nonce": uuid.uuid4().hex,
               "x-acs-content-sha256": hashlib.sha256(b"").hexdigest()}
    query = {k: str(v) for k, v in params.items()}
    canon_q = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(query.items()))
    canon = "\n".join(["POST", "/", canon_q, "".join(f"{n}:{headers.get(n, '')}\n" for n in signed),
                       ";".join(signed), headers["x-acs-content-sha256"]])
    sts = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canon.encode()).hexdigest()
    sig = hmac.new(api.secret.encode(), sts.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = f"ACS3-HMAC-SHA256 Credential={api.ak},SignedHeaders={';'.join(signed)},Signature={sig}"
    headers.update(after_sign or {})
    return post(api.endpoint, b"", headers, urllib.parse.urlencode(query, quote_via=urllib.parse.quote))


# ---------------------------------------------------------------- the shared controller


cloud_pair, ctl, host = lone_cloud_fixtures("isoctl", "h-iso")
a, b = account_fixtures("ctl", "tenant-a", "tenant-b")


# ---------------------------------------------------------------- signatures


ALL_SIGNED = ["host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce", "x-acs-version"]


def test_v3_full_signed_headers_accepted(a):
    status, body = v3_send(a, "DescribeRegions", {}, ALL_SIGNED)
    assert status == 200, body


@pytest.mark.parametrize("signed", [
    # Lookalikes of the date and nonce: the real ones are left unsigned.
    ["host", "x-acs-action", "x-acs-content-sha256", "x-acs-date-x", "x-acs-signature-nonce-x", "x-acs-version"],
    [n for n in ALL_SIGNED if n != "host"],
    [n for n in ALL_SIGNED if n != "x-acs-action"],
    [n for n in ALL_SIGNED if n != "x-acs-version"],
    [n for n in ALL_SIGNED if n != "x-acs-content-sha256"],
    list(reversed(ALL_SIGNED)),
    ALL_SIGNED + ["x-acs-version"],
    ALL_SIGNED[:2] + [""] + ALL_SIGNED[2:],
], ids=["lookalike", "no-host", "no-action", "no-version", "no-payload-hash", "unsorted", "duplicate", "empty"])
def test_v3_signed_headers_exact(a, signed):
    """A captured request replayed with a fresh date and nonce (the headers it left
    unsigned) is refused, every time."""
    for _ in range(2):
        status, body = v3_send(a, "DescribeRegions", {}, signed,
                               after_sign={"x-acs-date": iso(time.time()), "x-acs-signature-nonce": uuid.uuid4().hex})
        assert (status, body["Code"]) == (400, "IncompleteSignature"), body


def test_v3_unsigned_action_cannot_be_reaimed(a, host):
    """Signed for DescribeRegions without the action: sent as CreateSecurityGroup it is
    refused and makes nothing."""
    before = a.call("DescribeSecurityGroups", PageSize=50)["TotalCount"]
    signed = [n for n in ALL_SIGNED if n != "x-acs-action"]
    status, body = v3_send(a, "DescribeRegions", {}, signed, after_sign={"x-acs-action": "CreateSecurityGroup"})
    assert status == 400, body
    assert a.call("DescribeSecurityGroups", PageSize=50)["TotalCount"] == before


# ---------------------------------------------------------------- nonces


def test_nonce_replay_refused(a):
    data = v1_request(a, "DescribeRegions", time.time(), uuid.uuid4().hex)
    assert post(a.endpoint, data, FORM)[0] == 200
    status, body = post(a.endpoint, data, FORM)
    assert (status, body["Code"]) == (400, "SignatureNonceUsed"), body


def test_future_dated_nonce_kept_until_its_timestamp_leaves(tmp_path, monkeypatch):
    """A request dated 14 minutes ahead, replayed 15 minutes after it arrived (its stamp
    still inside the window) is a replay; 15 minutes after its stamp it is too old."""
    clock = tmp_path / "faketime"
    clock.write_text("+0\n")
    monkeypatch.setenv("LD_PRELOAD", str(FAKETIME_LIB))
    monkeypatch.setenv("FAKETIME_TIMESTAMP_FILE", str(clock))
    monkeypatch.setenv("FAKETIME_NO_CACHE", "1")
    monkeypatch.setenv("FAKETIME_DONT_FAKE_MONOTONIC", "1")
    c = LoneController(tmp_path / "ctl")
    c.start()
    try:
        monkeypatch.delenv("LD_PRELOAD")
        api = c.account("dated")
        now = time.time()
        data = v1_request(api, "DescribeRegions", now + 14 * 60, uuid.uuid4().hex)
        assert post(api.endpoint, data, FORM)[0] == 200
        assert post(api.endpoint, data, FORM)[1]["Code"] == "SignatureNonceUsed"
        # The controller's clock 15 min 10 s on: the stamp is 4 min 50 s behind it.
        clock.write_text(f"+{int(time.time() - now) + 910}\n")
        status, body = post(api.endpoint, data, FORM)
        assert (status, body["Code"]) == (400, "SignatureNonceUsed"), body
        # And a fresh request still works on the moved clock.
        fresh = v1_request(api, "DescribeRegions", time.time() + 910, uuid.uuid4().hex)
        assert post(api.endpoint, fresh, FORM)[0] == 200
        # 15 min past the stamp itself: too old, whatever the nonce table holds.
        clock.write_text(f"+{int(time.time() - now) + 14 * 60 + 910}\n")
        status, body = post(api.endpoint, data, FORM)
        assert (status, body["Code"]) == (400, "InvalidTimeStamp.Expired"), body
    finally:
        c.stop()


def test_replay_across_restart_refused(tmp_path):
    """The nonce table lives in memory: a request served before a restart, replayed after it
    inside its window, is refused as dated before the controller's start."""
    c = LoneController(tmp_path / "ctl")
    c.start()
    try:
        api = c.account("restarted")
        data = v1_request(api, "DescribeRegions", time.time(), uuid.uuid4().hex)
        assert post(api.endpoint, data, FORM)[0] == 200
        c.stop()
        c.start()
        status, body = post(api.endpoint, data, FORM)
        assert (status, body["Code"]) == (400, "InvalidTimeStamp.Expired"), body
        # A request signed now is served.
        assert api.raw("DescribeRegions")[0] == 200
    finally:
        c.stop()


def test_full_nonce_share_throttles_only_its_account(tmp_path):
    c = LoneController(tmp_path / "ctl", extra={"controller": {"nonces_per_account": 16}})
    c.start()
    try:
        greedy, quiet = c.account("greedy"), c.account("quiet")
        for _ in range(16):
            assert greedy.raw("DescribeRegions")[0] == 200
        status, body = greedy.raw("DescribeRegions")
        assert (status, body["Code"]) == (400, "Throttling"), body
        for _ in range(3):
            status, body = quiet.raw("DescribeRegions")
            assert status == 200, body
    finally:
        c.stop()


# ---------------------------------------------------------------- two tenants' resources


SLB_VERSION = "2014-05-15"


def slb(api: EcsClient) -> EcsClient:
    return EcsClient(api.endpoint, api.ak, api.secret, version=SLB_VERSION)


ALL_IMAGES = "Creating,Waiting,Available,UnAvailable,CreateFailed"


def make_tenant(api: EcsClient, tag: str) -> dict:
    """One of everything an account can own, each settled (no state moves on its own)."""
    r: dict = {}
    r["kp"] = api.call("CreateKeyPair", KeyPairName=f"kp{tag}")["KeyPairName"]
    r["sg"] = api.call("CreateSecurityGroup", SecurityGroupName=f"sg{tag}")["SecurityGroupId"]
    r["sg2"] = api.call("CreateSecurityGroup", SecurityGroupName=f"peer{tag}")["SecurityGroupId"]
    api.call("AuthorizeSecurityGroup", SecurityGroupId=r["sg"], IpProtocol="tcp", PortRange="22/22",
             SourceGroupId=r["sg2"])
    r["inst"] = api.call("CreateInstance", ImageId="tiny", InstanceType="ecs.t1.small", SecurityGroupId=r["sg"],
                         KeyPairName=r["kp"], InstanceName=f"vm{tag}", **{"DataDisk.1.Size": 1})["InstanceId"]

    def inst_status():
        i = api.call("DescribeInstances", InstanceIds=json.dumps([r["inst"]]))["Instances"]["Instance"]
        return i and i[0]["Status"] == "Stopped"

    wait_for(inst_status, 30, f"{r['inst']} Stopped", 0.2)
    # A stand-in host makes disks with an instance (a lone CreateDisk fails there).
    disks = {d["Type"]: d["DiskId"] for d in api.call("DescribeDisks", InstanceId=r["inst"])["Disks"]["Disk"]}
    r["sysdisk"], r["disk"] = disks["system"], disks["data"]
    # A stand-in host takes no snapshot: the image and snapshot end CreateFailed / failed,
    # rows of the account all the same. Each is waited for, so nothing moves during a case.
    r["image"] = api.call("CreateImage", InstanceId=r["inst"], ImageName=f"img{tag}")["ImageId"]
    wait_for(lambda: api.call("DescribeImages", ImageId=r["image"], Status=ALL_IMAGES)["Images"]["Image"][0]["Status"]
             not in ("Creating", "Waiting"), 30, f"image {r['image']} settled", 0.2)
    wait_for(lambda: all(x["Status"] != "progressing" for x in
                         api.call("DescribeSnapshots", PageSize=100)["Snapshots"]["Snapshot"]), 30, "snapshots settled", 0.2)
    r["snap"] = api.call("CreateSnapshot", DiskId=r["disk"], SnapshotName=f"snap{tag}")["SnapshotId"]
    wait_for(lambda: api.call("DescribeSnapshots", SnapshotIds=json.dumps([r["snap"]]))["Snapshots"]
             ["Snapshot"][0]["Status"] != "progressing", 30, f"snapshot {r['snap']} settled", 0.2)
    r["policy"] = api.call("CreateAutoSnapshotPolicy", timePoints='["1"]', repeatWeekdays='["1"]', retentionDays=1,
                           autoSnapshotPolicyName=f"pol{tag}")["AutoSnapshotPolicyId"]
    r["ip"] = api.call("AllocatePublicIpAddress", InstanceId=r["inst"])["IpAddress"]
    lbapi = slb(api)
    r["lb"] = lbapi.call("CreateLoadBalancer", AddressType="intranet", LoadBalancerName=f"lb{tag}")["LoadBalancerId"]
    lbapi.call("CreateLoadBalancerTCPListener", LoadBalancerId=r["lb"], ListenerPort=80, BackendServerPort=80,
               Bandwidth=-1)
    lbapi.call("AddBackendServers", LoadBalancerId=r["lb"],
               BackendServers=json.dumps([{"ServerId": r["inst"], "Weight": 50}]))
    return r


def tenant_view(api: EcsClient, r: dict) -> dict:
    """Everything the account can see of its resources, for before/after comparison."""
    lbapi = slb(api)
    view = {
        "instances": api.call("DescribeInstances", PageSize=100)["Instances"],
        "attr": api.call("DescribeInstanceAttribute", InstanceId=r["inst"]),
        "userdata": api.call("DescribeUserData", InstanceId=r["inst"])["UserData"],
        "disks": api.call("DescribeDisks", PageSize=100)["Disks"],
        "snapshots": api.call("DescribeSnapshots", PageSize=100)["Snapshots"],
        "images": api.call("DescribeImages", ImageOwnerAlias="self", Status=ALL_IMAGES, PageSize=100)["Images"],
        "keypairs": api.call("DescribeKeyPairs", PageSize=50)["KeyPairs"],
        "groups": api.call("DescribeSecurityGroups", PageSize=50)["SecurityGroups"],
        "policies": api.call("DescribeAutoSnapshotPolicyEx", PageSize=50)["AutoSnapshotPolicies"],
        "lbs": lbapi.call("DescribeLoadBalancers", PageSize=100)["LoadBalancers"],
        "lb": lbapi.call("DescribeLoadBalancerAttribute", LoadBalancerId=r["lb"]),
        "listener": lbapi.call("DescribeLoadBalancerTCPListenerAttribute", LoadBalancerId=r["lb"], ListenerPort=80),
    }
    for g in (r["sg"], r["sg2"]):
        for d in ("ingress", "egress"):
            view[f"{g}-{d}"] = api.call("DescribeSecurityGroupAttribute", SecurityGroupId=g, Direction=d)
    for v in view.values():
        if isinstance(v, dict):
            v.pop("RequestId", None)
    return view


@pytest.fixture(scope="module")
def tenants(ctl, host, a, b):
    return make_tenant(a, "a"), make_tenant(b, "b")


# Each case: (API, action, params); "A:x" is A's resource x, "B:x" B's own. B makes the call.
ECS, SLB = "ecs", "slb"
CASES = [
    # instances
    (ECS, "StartInstance", {"InstanceId": "A:inst"}),
    (ECS, "StopInstance", {"InstanceId": "A:inst"}),
    (ECS, "RebootInstance", {"InstanceId": "A:inst"}),
    (ECS, "DeleteInstance", {"InstanceId": "A:inst", "Force": "true"}),
    (ECS, "DescribeInstanceAttribute", {"InstanceId": "A:inst"}),
    (ECS, "ModifyInstanceAttribute", {"InstanceId": "A:inst", "InstanceName": "stolen"}),
    (ECS, "ModifyInstanceAttribute", {"InstanceId": "A:inst", "UserData": "ZXZpbA=="}),
    (ECS, "DescribeUserData", {"InstanceId": "A:inst"}),
    (ECS, "GetInstanceConsoleOutput", {"InstanceId": "A:inst"}),
    (ECS, "ReplaceSystemDisk", {"InstanceId": "A:inst", "ImageId": "tiny"}),
    (ECS, "ReplaceSystemDisk", {"InstanceId": "B:inst", "ImageId": "A:image"}),
    (ECS, "DescribeInstanceMonitorData", {"InstanceId": "A:inst", "StartTime": "2026-01-01T00:00:00Z",
                                          "EndTime": "2026-01-01T01:00:00Z"}),
    (ECS, "CreateInstance", {"ImageId": "tiny", "InstanceType": "ecs.t1.small", "SecurityGroupId": "A:sg"}),
    (ECS, "CreateInstance", {"ImageId": "A:image", "InstanceType": "ecs.t1.small"}),
    (ECS, "CreateInstance", {"ImageId": "tiny", "InstanceType": "ecs.t1.small", "KeyPairName": "A:kp"}),
    (ECS, "CreateInstance", {"ImageId": "tiny", "InstanceType": "ecs.t1.small", "DataDisk.1.SnapshotId": "A:snap",
                             "DataDisk.1.Size": "1"}),
    (ECS, "RunInstances", {"ImageId": "tiny", "InstanceType": "ecs.t1.small", "SecurityGroupIds.1": "A:sg"}),
    (ECS, "RunInstances", {"ImageId": "tiny", "InstanceType": "ecs.t1.small", "SecurityGroupIds.1": "B:sg",
                           "SecurityGroupIds.2": "A:sg"}),
    (ECS, "RunInstances", {"ImageId": "A:image", "InstanceType": "ecs.t1.small"}),
    (ECS, "RunInstances", {"ImageId": "tiny", "InstanceType": "ecs.t1.small", "KeyPairName": "A:kp"}),
    (ECS, "RunInstances", {"ImageId": "tiny", "InstanceType": "ecs.t1.small", "DataDisk.1.SnapshotId": "A:snap",
                           "DataDisk.1.Size": "1"}),
    # disks
    (ECS, "CreateDisk", {"ZoneId": "cn-local-a", "SnapshotId": "A:snap"}),
    (ECS, "AttachDisk", {"DiskId": "A:disk", "InstanceId": "B:inst"}),
    (ECS, "AttachDisk", {"DiskId": "B:disk", "InstanceId": "A:inst"}),
    (ECS, "DetachDisk", {"DiskId": "A:sysdisk", "InstanceId": "A:inst"}),
    (ECS, "DeleteDisk", {"DiskId": "A:disk"}),
    (ECS, "ResizeDisk", {"DiskId": "A:disk", "NewSize": "2"}),
    (ECS, "ResetDisk", {"DiskId": "A:sysdisk", "SnapshotId": "A:snap"}),
    (ECS, "ResetDisk", {"DiskId": "B:sysdisk", "SnapshotId": "A:snap"}),
    (ECS, "ReInitDisk", {"DiskId": "A:sysdisk"}),
    # snapshots and images
    (ECS, "CreateSnapshot", {"DiskId": "A:disk"}),
    (ECS, "DeleteSnapshot", {"SnapshotId": "A:snap"}),
    (ECS, "CreateImage", {"SnapshotId": "A:snap", "ImageName": "stolen"}),
    (ECS, "CreateImage", {"InstanceId": "A:inst", "ImageName": "stolen"}),
    (ECS, "DeleteImage", {"ImageId": "A:image"}),
    # key pairs
    (ECS, "AttachKeyPair", {"KeyPairName": "A:kp", "InstanceIds": '["B:inst"]'}),
    (ECS, "AttachKeyPair", {"KeyPairName": "B:kp", "InstanceIds": '["A:inst"]'}),
    (ECS, "DetachKeyPair", {"KeyPairName": "A:kp", "InstanceIds": '["A:inst"]'}),
    (ECS, "DeleteKeyPairs", {"KeyPairNames": '["A:kp"]'}),
    # auto snapshot policies
    (ECS, "ModifyAutoSnapshotPolicyEx", {"autoSnapshotPolicyId": "A:policy", "retentionDays": "2"}),
    (ECS, "ApplyAutoSnapshotPolicy", {"autoSnapshotPolicyId": "A:policy", "diskIds": '["B:disk"]'}),
    (ECS, "ApplyAutoSnapshotPolicy", {"autoSnapshotPolicyId": "B:policy", "diskIds": '["A:disk"]'}),
    (ECS, "CancelAutoSnapshotPolicy", {"diskIds": '["A:disk"]'}),
    (ECS, "DeleteAutoSnapshotPolicy", {"autoSnapshotPolicyId": "A:policy"}),
    # security groups
    (ECS, "DeleteSecurityGroup", {"SecurityGroupId": "A:sg2"}),
    (ECS, "DescribeSecurityGroupAttribute", {"SecurityGroupId": "A:sg"}),
    (ECS, "ModifySecurityGroupAttribute", {"SecurityGroupId": "A:sg", "SecurityGroupName": "stolen"}),
    (ECS, "AuthorizeSecurityGroup", {"SecurityGroupId": "A:sg", "IpProtocol": "tcp", "PortRange": "1/2",
                                     "SourceCidrIp": "0.0.0.0/0"}),
    (ECS, "AuthorizeSecurityGroup", {"SecurityGroupId": "B:sg", "IpProtocol": "tcp", "PortRange": "1/2",
                                     "SourceGroupId": "A:sg"}),
    (ECS, "AuthorizeSecurityGroupEgress", {"SecurityGroupId": "A:sg", "IpProtocol": "tcp", "PortRange": "1/2",
                                           "DestCidrIp": "0.0.0.0/0"}),
    (ECS, "AuthorizeSecurityGroupEgress", {"SecurityGroupId": "B:sg", "IpProtocol": "tcp", "PortRange": "1/2",
                                           "DestGroupId": "A:sg"}),
    (ECS, "RevokeSecurityGroup", {"SecurityGroupId": "A:sg", "IpProtocol": "tcp", "PortRange": "22/22",
                                  "SourceGroupId": "A:sg2"}),
    (ECS, "RevokeSecurityGroupEgress", {"SecurityGroupId": "A:sg", "IpProtocol": "all", "PortRange": "-1/-1",
                                        "DestCidrIp": "0.0.0.0/0"}),
    (ECS, "JoinSecurityGroup", {"InstanceId": "A:inst", "SecurityGroupId": "B:sg"}),
    (ECS, "JoinSecurityGroup", {"InstanceId": "B:inst", "SecurityGroupId": "A:sg"}),
    (ECS, "LeaveSecurityGroup", {"InstanceId": "A:inst", "SecurityGroupId": "A:sg"}),
    # public IPs
    (ECS, "AllocatePublicIpAddress", {"InstanceId": "A:inst"}),
    (ECS, "ReleasePublicIpAddress", {"PublicIpAddress": "A:ip"}),
    (ECS, "ReleasePublicIpAddress", {"PublicIpAddress": "A:ip", "InstanceId": "A:inst"}),
    # load balancers
    (SLB, "DeleteLoadBalancer", {"LoadBalancerId": "A:lb"}),
    (SLB, "DescribeLoadBalancerAttribute", {"LoadBalancerId": "A:lb"}),
    (SLB, "SetLoadBalancerStatus", {"LoadBalancerId": "A:lb", "LoadBalancerStatus": "inactive"}),
    (SLB, "CreateLoadBalancerTCPListener", {"LoadBalancerId": "A:lb", "ListenerPort": "81", "BackendServerPort": "81",
                                            "Bandwidth": "-1"}),
    (SLB, "CreateLoadBalancerUDPListener", {"LoadBalancerId": "A:lb", "ListenerPort": "81", "BackendServerPort": "81",
                                            "Bandwidth": "-1"}),
    (SLB, "SetLoadBalancerTCPListenerAttribute", {"LoadBalancerId": "A:lb", "ListenerPort": "80", "Bandwidth": "5"}),
    (SLB, "SetLoadBalancerUDPListenerAttribute", {"LoadBalancerId": "A:lb", "ListenerPort": "80", "Bandwidth": "5"}),
    (SLB, "DescribeLoadBalancerTCPListenerAttribute", {"LoadBalancerId": "A:lb", "ListenerPort": "80"}),
    (SLB, "DescribeLoadBalancerUDPListenerAttribute", {"LoadBalancerId": "A:lb", "ListenerPort": "80"}),
    (SLB, "StartLoadBalancerListener", {"LoadBalancerId": "A:lb", "ListenerPort": "80"}),
    (SLB, "StopLoadBalancerListener", {"LoadBalancerId": "A:lb", "ListenerPort": "80"}),
    (SLB, "DeleteLoadBalancerListener", {"LoadBalancerId": "A:lb", "ListenerPort": "80"}),
    (SLB, "AddBackendServers", {"LoadBalancerId": "A:lb", "BackendServers": '[{"ServerId":"B:inst","Weight":1}]'}),
    (SLB, "AddBackendServers", {"LoadBalancerId": "B:lb", "BackendServers": '[{"ServerId":"A:inst","Weight":1}]'}),
    (SLB, "RemoveBackendServers", {"LoadBalancerId": "A:lb", "BackendServers": '[{"ServerId":"A:inst"}]'}),
    (SLB, "SetBackendServers", {"LoadBalancerId": "A:lb", "BackendServers": '[{"ServerId":"A:inst","Weight":9}]'}),
    (SLB, "SetBackendServers", {"LoadBalancerId": "B:lb", "BackendServers": '[{"ServerId":"A:inst","Weight":9}]'}),
    (SLB, "DescribeHealthStatus", {"LoadBalancerId": "A:lb"}),
]


def fill(value: str, ra: dict, rb: dict) -> str:
    """Put the tenants' ids in place of A:x / B:x (also inside JSON strings)."""
    for who, r in (("A", ra), ("B", rb)):
        for k, v in sorted(r.items(), key=lambda kv: -len(kv[0])):
            value = value.replace(f"{who}:{k}", v)
    return value


def case_id(case) -> str:
    _, action, params = case
    return action + "-" + "-".join(f"{k}={v}" for k, v in params.items() if ":" in v[:3] or '"A:' in v or '"B:' in v)


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_b_cannot_touch_a(a, b, tenants, case):
    ra, rb = tenants
    api_kind, action, params = case
    params = {k: fill(v, ra, rb) for k, v in params.items()}
    caller = b if api_kind == ECS else slb(b)
    before = tenant_view(a, ra)
    status, body = caller.raw(action, params)
    if status == 200 and "FailCount" in body:
        # AttachKeyPair / DetachKeyPair answer per instance, as ECS does.
        assert "NotFound" in json.dumps(body) or "does not exist" in json.dumps(body), (action, params, body)
        assert int(body["FailCount"]) == int(body["TotalCount"]), (action, params, body)
    else:
        assert status in (403, 404), (action, params, status, body)
        assert "NotFound" in body["Code"] or "Forbidden" in body["Code"], (action, params, body)
    assert tenant_view(a, ra) == before, (action, params)


@pytest.mark.parametrize("action,params,key", [
    ("DescribeInstances", {"InstanceIds": '["A:inst"]'}, ("Instances", "Instance")),
    ("DescribeInstanceStatus", {"InstanceId.1": "A:inst"}, ("InstanceStatuses", "InstanceStatus")),
    ("DescribeDisks", {"DiskIds": '["A:disk","A:sysdisk"]'}, ("Disks", "Disk")),
    ("DescribeDisks", {"InstanceId": "A:inst"}, ("Disks", "Disk")),
    ("DescribeSnapshots", {"SnapshotIds": '["A:snap"]'}, ("Snapshots", "Snapshot")),
    ("DescribeSnapshots", {"DiskId": "A:sysdisk"}, ("Snapshots", "Snapshot")),
    ("DescribeImages", {"ImageId": "A:image", "Status": "Creating,Waiting,Available,UnAvailable,CreateFailed"},
     ("Images", "Image")),
    ("DescribeKeyPairs", {"KeyPairName": "A:kp"}, ("KeyPairs", "KeyPair")),
    ("DescribeSecurityGroups", {"SecurityGroupIds": '["A:sg"]'}, ("SecurityGroups", "SecurityGroup")),
    ("DescribeInstances", {"SecurityGroupId": "A:sg"}, ("Instances", "Instance")),
    ("DescribeAutoSnapshotPolicyEx", {"AutoSnapshotPolicyId": "A:policy"},
     ("AutoSnapshotPolicies", "AutoSnapshotPolicy")),
    ("slb:DescribeLoadBalancers", {"LoadBalancerId": "A:lb"}, ("LoadBalancers", "LoadBalancer")),
    ("slb:DescribeLoadBalancers", {"ServerId": "A:inst"}, ("LoadBalancers", "LoadBalancer")),
])
def test_b_describes_none_of_a(a, b, tenants, action, params, key):
    """A describe with A's ids as filters answers B's own, none of A's (or A's id not found)."""
    ra, rb = tenants
    params = {k: fill(v, ra, rb) for k, v in params.items()}
    caller = slb(b) if action.startswith("slb:") else b
    status, body = caller.raw(action.removeprefix("slb:"), params)
    if status != 200:
        assert status in (403, 404) and "NotFound" in body["Code"], body
        return
    items = body[key[0]][key[1]]
    text = json.dumps(items)
    for rid in ra.values():
        assert rid not in text, (action, params, items)


def test_a_still_works_after_b(a, tenants):
    """A's own calls on the same ids still succeed (the refusals were about B)."""
    ra, _ = tenants
    assert a.call("DescribeInstanceAttribute", InstanceId=ra["inst"])["InstanceId"] == ra["inst"]
    assert slb(a).call("DescribeLoadBalancerAttribute", LoadBalancerId=ra["lb"])["LoadBalancerId"] == ra["lb"]


# ---------------------------------------------------------------- accounts


def ctl_cli(c: LoneController, *args) -> "subprocess.CompletedProcess":
    import subprocess

    from cloudenv import CTL_BIN

    return subprocess.run([str(CTL_BIN), "-c", str(c.config), "account", *args], capture_output=True, text=True,
                          timeout=60)


def account_rows(c: LoneController) -> dict:
    out = ctl_cli(c, "ls")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    head = lines[0].split("\t")
    return {row.split("\t")[0]: dict(zip(head, row.split("\t"))) for row in lines[1:]}


def test_account_ls_and_delete(tmp_path):
    with lone_cloud(tmp_path / "ctl", "h-acct") as (c, _):
        keep, gone = c.account("keeper"), c.account("leaver")
        rows = account_rows(c)
        assert set(rows) == {"keeper", "leaver"}
        row = rows["leaver"]
        assert row["ACCESS_KEY_ID"] == gone.ak and row["CREATED"].endswith("Z")
        assert all(row[k] == "0" for k in ("INSTANCES", "DISKS", "SNAPSHOTS", "IMAGES", "KEY_PAIRS",
                                           "SECURITY_GROUPS", "LOAD_BALANCERS", "AUTO_SNAPSHOT_POLICIES",
                                           "PUBLIC_IPS")), row
        assert gone.secret not in ctl_cli(c, "ls").stdout and keep.secret not in ctl_cli(c, "list").stdout

        # Each kind of resource blocks the delete, named; once it is gone, the next one does.
        gone.call("ImportKeyPair", KeyPairName="kp1", PublicKeyBody=gone_key())
        gid = gone.call("CreateSecurityGroup", SecurityGroupName="web")["SecurityGroupId"]
        pid = gone.call("CreateAutoSnapshotPolicy", timePoints='["1"]', repeatWeekdays='["1"]',
                        retentionDays=1)["AutoSnapshotPolicyId"]
        lbapi = slb(gone)
        lb = lbapi.call("CreateLoadBalancer", AddressType="intranet")["LoadBalancerId"]
        row = account_rows(c)["leaver"]
        assert (row["KEY_PAIRS"], row["SECURITY_GROUPS"], row["AUTO_SNAPSHOT_POLICIES"],
                row["LOAD_BALANCERS"]) == ("1", "1", "1", "1"), row
        for blocker, remove in [
            ("key pairs", lambda: gone.call("DeleteKeyPairs", KeyPairNames='["kp1"]')),
            ("security groups", lambda: gone.call("DeleteSecurityGroup", SecurityGroupId=gid)),
            ("load balancers", lambda: lbapi.call("DeleteLoadBalancer", LoadBalancerId=lb)),
            ("auto snapshot policies", lambda: gone.call("DeleteAutoSnapshotPolicy", autoSnapshotPolicyId=pid)),
        ]:
            out = ctl_cli(c, "delete", "leaver")
            assert out.returncode == 1 and blocker in out.stderr, (blocker, out.stderr)
            assert gone.raw("DescribeRegions")[0] == 200
            remove()
        out = ctl_cli(c, "delete", "leaver")
        assert out.returncode == 0, out.stderr
        assert set(account_rows(c)) == {"keeper"}
        # Its key stops working at once, in the running controller; the other account is untouched.
        status, body = gone.raw("DescribeRegions")
        assert (status, body["Code"]) == (404, "InvalidAccessKeyId.NotFound"), body
        assert keep.raw("DescribeRegions")[0] == 200
        out = ctl_cli(c, "delete", "leaver")
        assert out.returncode == 1 and "no account named leaver" in out.stderr
        # The name may be used again, with a new key.
        again = c.account("leaver")
        assert again.ak != gone.ak


def test_account_delete_blocked_by_instance(tmp_path):
    with lone_cloud(tmp_path / "ctl", "h-acct2") as (c, _):
        api = c.account("owner")
        iid = api.call("CreateInstance", ImageId="tiny", InstanceType="ecs.t1.small")["InstanceId"]
        row = account_rows(c)["owner"]
        assert row["INSTANCES"] == "1" and row["DISKS"] == "1", row
        out = ctl_cli(c, "delete", "owner")
        assert out.returncode == 1 and "1 instances" in out.stderr, out.stderr
        assert api.call("DescribeInstanceAttribute", InstanceId=iid)["InstanceId"] == iid


def gone_key() -> str:
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", f"{d}/k"], check=True)
        return Path(f"{d}/k.pub").read_text().strip()
