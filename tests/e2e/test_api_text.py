"""The text rules every action shares (controller/params.c, issue 11 defects 7 and 8):
malformed UTF-8 in any parameter is refused (InvalidParameter) rather than stored and
echoed; resource names follow ECS's rule (Invalid<Kind>Name.Malformed); UserData is base64
of at most 32 KiB once decoded (InvalidUserData.NotBase64 / .SizeExceeded). Each refusal
changes nothing. Runs one controller with a stand-in host (tests/e2e/fakeagent.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse

import pytest

from ecsapi import post_json, sign_v1
from waiting import wait_for
from fakeagent import lone_cloud


@pytest.fixture(scope="module")
def ctl(tmp_path_factory):
    with lone_cloud(tmp_path_factory.mktemp("textctl"), "h-text") as (c, _):
        yield c


@pytest.fixture(scope="module")
def api(ctl):
    return ctl.account("texts")


def q(v) -> str:
    return urllib.parse.quote(v, safe="-_.~")


def raw_bytes(api, action: str, params: dict) -> tuple[int, dict]:
    """A signed POST whose values may be bytes (sent as they are, percent-encoded)."""
    p = api.common(action)
    p.update(params)
    canon = "&".join(f"{q(k)}={q(v)}" for k, v in sorted(p.items()))
    sts = f"POST&%2F&{q(canon)}"
    sig = base64.b64encode(hmac.new((api.secret + "&").encode(), sts.encode(), hashlib.sha1).digest()).decode()
    body = (canon + "&Signature=" + q(sig)).encode()
    return post_json(f"{api.endpoint}/", body, {"Content-Type": "application/x-www-form-urlencoded"})


def world(api) -> tuple:
    return (api.call("DescribeInstances", PageSize=100)["Instances"], api.call("DescribeDisks", PageSize=100)["Disks"],
            api.call("DescribeSnapshots", PageSize=100)["Snapshots"],
            api.call("DescribeSecurityGroups", PageSize=50)["SecurityGroups"],
            api.call("DescribeImages", PageSize=100, ImageOwnerAlias="self")["Images"])


@pytest.fixture(scope="module")
def inst(api):
    iid = api.call("CreateInstance", ImageId="tiny", InstanceType="ecs.t1.small", InstanceName="text-vm")["InstanceId"]
    wait_for(lambda: api.call("DescribeInstances", InstanceIds=json.dumps([iid]))["Instances"]["Instance"][0]
             ["Status"] == "Stopped", 30, f"{iid} Stopped", 0.2)
    return iid


@pytest.fixture(scope="module")
def disk(api, inst):
    """The instance's system disk (a stand-in host makes disks only with an instance)."""
    return api.call("DescribeDisks", InstanceId=inst)["Disks"]["Disk"][0]["DiskId"]


@pytest.fixture
def unchanged(api, inst, disk):
    before = world(api)
    yield
    assert world(api) == before


RUN = {"ImageId": "tiny", "InstanceType": "ecs.t1.small"}

BAD_UTF8 = {"ff": b"web\xff", "overlong": b"w\xc0\xafx", "surrogate": b"w\xed\xa0\x80x", "past-max": b"w\xf4\x90\x80\x80",
            "cut": b"w\xe7\xbb"}


@pytest.mark.parametrize("bad", BAD_UTF8.values(), ids=BAD_UTF8.keys())
@pytest.mark.parametrize("action,params,key", [
    ("CreateInstance", RUN, "InstanceName"),
    ("CreateInstance", RUN, "Description"),
    ("CreateInstance", RUN, "Tag.1.Value"),
    ("RunInstances", RUN, "DataDisk.1.DiskName"),
    ("CreateDisk", {"ZoneId": "cn-local-a", "Size": "1"}, "Description"),
    ("CreateSecurityGroup", {}, "Description"),
    ("CreateSecurityGroup", {}, "SecurityGroupName"),
    ("DescribeInstances", {}, "InstanceName"),
    ("ImportKeyPair", {"PublicKeyBody": "ssh-ed25519 AAAA"}, "KeyPairName"),
    ("CreateAutoSnapshotPolicy", {"timePoints": '["1"]', "repeatWeekdays": '["1"]', "retentionDays": "1"},
     "autoSnapshotPolicyName"),
])
def test_malformed_utf8_refused(api, unchanged, action, params, key, bad):
    status, body = raw_bytes(api, action, {**params, key: bad})
    assert (status, body["Code"]) == (400, "InvalidParameter"), body
    assert key in body["Message"]


def test_malformed_utf8_in_modify_and_rules(api, inst, unchanged):
    gid = api.call("DescribeInstanceAttribute", InstanceId=inst)["SecurityGroupIds"]["SecurityGroupId"][0]
    for action, params in [
        ("ModifyInstanceAttribute", {"InstanceId": inst, "InstanceName": b"vm\xff"}),
        ("ModifyInstanceAttribute", {"InstanceId": inst, "Description": b"\xed\xbf\xbf"}),
        ("AuthorizeSecurityGroup", {"SecurityGroupId": gid, "IpProtocol": "tcp", "PortRange": "22/22",
                                    "SourceCidrIp": "10.0.0.0/8", "Description": b"r\xc0\x80"}),
    ]:
        status, body = raw_bytes(api, action, params)
        assert (status, body["Code"]) == (400, "InvalidParameter"), (action, body)
    attr = api.call("DescribeSecurityGroupAttribute", SecurityGroupId=gid)
    assert all("r" != p.get("Description", "")[:1] for p in attr["Permissions"]["Permission"])


def test_nul_refused(api, unchanged):
    """%00 cannot cut a value short: the form parser refuses it."""
    p = api.common("CreateInstance")
    p.update(RUN)
    p["InstanceName"] = "web\x00evil"
    p["Signature"] = sign_v1("POST", p, api.secret)
    body = urllib.parse.urlencode(p, quote_via=urllib.parse.quote).encode()
    assert b"%00" in body
    status, answer = post_json(f"{api.endpoint}/", body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert (status, answer["Code"]) == (400, "InvalidParameter")


def test_valid_utf8_stored_and_echoed(api, inst):
    api.call("ModifyInstanceAttribute", InstanceId=inst, InstanceName="组一.vm_1:a-b", Description="描述 ünïcode ✓")
    i = api.call("DescribeInstanceAttribute", InstanceId=inst)
    assert (i["InstanceName"], i["Description"]) == ("组一.vm_1:a-b", "描述 ünïcode ✓")
    api.call("ModifyInstanceAttribute", InstanceId=inst, InstanceName="text-vm", Description="")


BAD_NAMES = ["a", "1web", "-web", "web server", "http://x", "https://x", "w" * 129, "été", "a/b"]


@pytest.mark.parametrize("name", BAD_NAMES)
@pytest.mark.parametrize("action,params,key,code", [
    ("CreateInstance", RUN, "InstanceName", "InvalidInstanceName.Malformed"),
    ("RunInstances", RUN, "InstanceName", "InvalidInstanceName.Malformed"),
    ("RunInstances", RUN, "SystemDisk.DiskName", "InvalidSystemDiskName.Malformed"),
    ("RunInstances", {**RUN, "DataDisk.1.Size": "1"}, "DataDisk.1.DiskName", "InvalidDataDiskName.Malformed"),
    ("CreateDisk", {"ZoneId": "cn-local-a", "Size": "1"}, "DiskName", "InvalidDiskName.Malformed"),
    ("CreateSecurityGroup", {}, "SecurityGroupName", "InvalidSecurityGroupName.Malformed"),
    ("CreateImage", {"InstanceId": "INST"}, "ImageName", "InvalidImageName.Malformed"),
    ("CreateSnapshot", {"DiskId": "DISK"}, "SnapshotName", "InvalidSnapshotName.Malformed"),
    ("ModifyInstanceAttribute", {"InstanceId": "INST"}, "InstanceName", "InvalidInstanceName.Malformed"),
])
def test_name_rules(api, inst, disk, unchanged, action, params, key, code, name):
    params = {k: {"INST": inst, "DISK": disk}.get(v, v) for k, v in params.items()}
    status, body = api.raw(action, {**params, key: name})
    assert (status, body["Code"]) == (400, code), body
    assert key in body["Message"]


def test_name_rule_edges_accepted(api, inst):
    for name in ["ab", "w" * 128, "组一", "Web-1.a_b:c", "テスト"]:
        api.call("ModifyInstanceAttribute", InstanceId=inst, InstanceName=name)
        assert api.call("DescribeInstanceAttribute", InstanceId=inst)["InstanceName"] == name
    api.call("ModifyInstanceAttribute", InstanceId=inst, InstanceName="text-vm")
    # A describe filter is not a name being set: no rule, only UTF-8.
    assert api.call("DescribeInstances", InstanceName="1 any*")["TotalCount"] == 0


def ud(n: int) -> str:
    return base64.b64encode(b"#" * n).decode()


@pytest.mark.parametrize("action", ["CreateInstance", "ModifyInstanceAttribute"])
@pytest.mark.parametrize("value,code", [
    (ud(32769), "InvalidUserData.SizeExceeded"),
    (ud(40000), "InvalidUserData.SizeExceeded"),
    (ud(500000), "InvalidUserData.SizeExceeded"),
    ("not base64!", "InvalidUserData.NotBase64"),
    ("QUJD=", "InvalidUserData.NotBase64"),
], ids=["32KiB+1", "40000", "500000", "junk", "bad-padding"])
def test_user_data_limits(api, inst, unchanged, action, value, code):
    params = dict(RUN) if action == "CreateInstance" else {"InstanceId": inst}
    status, body = api.raw(action, {**params, "UserData": value})
    assert (status, body["Code"]) == (400, code), body


def test_user_data_at_the_limit(api, inst):
    api.call("ModifyInstanceAttribute", InstanceId=inst, UserData=ud(32768))
    assert api.call("DescribeUserData", InstanceId=inst)["UserData"] == ud(32768)
    api.call("ModifyInstanceAttribute", InstanceId=inst, UserData=ud(1))
