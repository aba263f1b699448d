"""The ECS API's front door, as Alibaba Cloud's SDKs meet it: signatures (1.0 and V3),
timestamps, nonces, unknown keys, missing and invalid parameters, unknown actions and
versions, XML answers, throttling, ClientToken, cross-account isolation and the instance
state machine's refusals. Each bad request answers ECS's code and changes nothing."""

import json
import math
import time

import pytest

from accounts import account_fixtures
from ecsapi import ApiError, EcsClient


api, other = account_fixtures("cloud", "alice", "bob")


def state(api):
    return (api.call("DescribeInstances", PageSize=100)["TotalCount"], api.call("DescribeDisks")["TotalCount"])


@pytest.fixture
def unchanged(api):
    before = state(api)
    yield
    assert state(api) == before


def err(api, action, params=None, **kw):
    status, body = api.raw(action, params, **kw)
    assert status >= 400, body
    assert set(body) >= {"RequestId", "HostId", "Code", "Message"}, body
    return status, body


def test_describe_regions_zones_types(api):
    r = api.call("DescribeRegions")
    assert r["Regions"]["Region"][0]["RegionId"] == "cn-local"
    z = api.call("DescribeZones")["Zones"]["Zone"]
    assert z[0]["ZoneId"] == "cn-local-a"
    assert "ecs.t1.small" in z[0]["AvailableInstanceTypes"]["InstanceTypes"]
    t = {x["InstanceTypeId"]: x for x in api.call("DescribeInstanceTypes")["InstanceTypes"]["InstanceType"]}
    assert t["ecs.t1.small"]["CpuCoreCount"] == 1 and t["ecs.t1.small"]["MemorySize"] == 0.25


def test_get_and_post_both_work(api):
    assert api.raw("DescribeRegions", method="GET")[0] == 200
    assert api.raw("DescribeRegions", method="POST")[0] == 200


def test_wrong_signature(api, unchanged):
    status, body = err(api, "DescribeRegions", secret="not-the-secret")
    assert (status, body["Code"]) == (400, "SignatureDoesNotMatch")
    # The Python SDK splits the message at ':' to show the server's string to sign.
    assert body["Message"].split("server string to sign is:")[1].startswith("POST&%2F&AccessKeyId")


def test_unknown_access_key(cloud, unchanged, api):
    stranger = EcsClient(cloud.endpoint, "LTAInobodyhasthiskey00", "whatever")
    status, body = err(stranger, "DescribeRegions")
    assert (status, body["Code"]) == (404, "InvalidAccessKeyId.NotFound")


def test_timestamp_too_old_or_new(cloud, api, unchanged):
    for skew in (-16 * 60, 16 * 60):
        ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + skew))
        status, body = err(api, "DescribeRegions", override={"Timestamp": ts})
        assert (status, body["Code"]) == (400, "InvalidTimeStamp.Expired")
    # Within 15 minutes is fine, once the controller was up then (test_isolation: restarts).
    ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(max(time.time() - 10 * 60, math.ceil(cloud.ready_at))))
    assert api.raw("DescribeRegions", override={"Timestamp": ts})[0] == 200


def test_reused_nonce(api, unchanged):
    nonce = "e2e-nonce-" + str(time.time())
    assert api.raw("DescribeRegions", override={"SignatureNonce": nonce})[0] == 200
    status, body = err(api, "DescribeRegions", override={"SignatureNonce": nonce})
    assert (status, body["Code"]) == (400, "SignatureNonceUsed")


def test_missing_signature_parts(api, unchanged):
    for drop, name in (("Timestamp", "Timestamp"), ("SignatureNonce", "SignatureNonce"), ("AccessKeyId", "AccessKeyId")):
        status, body = err(api, "DescribeRegions", drop=(drop,))
        assert body["Code"] == "MissingParameter" and name in body["Message"], body


def test_unknown_action_and_version(api, unchanged):
    status, body = err(api, "LaunchRockets")
    assert (status, body["Code"]) == (404, "InvalidApi.NotFound")
    status, body = err(api, "DescribeRegions", override={"Version": "2099-01-01"})
    assert (status, body["Code"]) == (400, "InvalidVersion")
    status, body = err(api, "DescribeRegions", override={"RegionId": "cn-mars"})
    assert (status, body["Code"]) == (404, "InvalidRegionId.NotFound")


def test_xml_when_asked(api):
    status, text = api.raw("DescribeRegions", override={"Format": "XML"})
    assert status == 200 and "<DescribeRegionsResponse>" in text and "<RegionId>cn-local</RegionId>" in text
    status, text = api.raw("LaunchRockets", override={"Format": "XML"})
    assert status == 404 and "<Error>" in text and "<Code>InvalidApi.NotFound</Code>" in text


def test_v3_signature(api, unchanged):
    status, body = api.call_v3("DescribeRegions")
    assert status == 200 and body["Regions"]["Region"][0]["RegionId"] == "cn-local"
    status, body = api.call_v3("DescribeRegions", secret="wrong")
    assert (status, body["Code"]) == (400, "SignatureDoesNotMatch")


@pytest.mark.parametrize("params,code,needle", [
    ({}, "MissingParameter", "ImageId"),
    ({"ImageId": "tiny"}, "MissingParameter", "InstanceType"),
    ({"ImageId": "tiny", "InstanceType": "ecs.nope"}, "InvalidInstanceType.NotFound", ""),
    ({"ImageId": "no-such", "InstanceType": "ecs.t1.small"}, "InvalidImageId.NotFound", ""),
    ({"ImageId": "tiny", "InstanceType": "ecs.t1.small", "Amount": "0"}, "InvalidParameter", "Amount"),
    ({"ImageId": "tiny", "InstanceType": "ecs.t1.small", "Amount": "101"}, "InvalidParameter", "Amount"),
    ({"ImageId": "tiny", "InstanceType": "ecs.t1.small", "Password": "short"}, "InvalidPassword.Malformed", ""),
    ({"ImageId": "tiny", "InstanceType": "ecs.t1.small", "UserData": "@@@"}, "InvalidUserData.NotBase64", ""),
    ({"ImageId": "tiny", "InstanceType": "ecs.t1.small", "KeyPairName": "nokey"}, "InvalidKeyPairName.NotFound", ""),
    ({"ImageId": "tiny", "InstanceType": "ecs.t1.small", "ZoneId": "cn-mars-a"}, "InvalidZoneId.NotFound", ""),
    ({"ImageId": "tiny", "InstanceType": "ecs.t1.small", "DataDisk.1.Size": "big"},
     "InvalidDataDiskSize.ValueNotSupported", ""),
    ({"ImageId": "tiny", "InstanceType": "ecs.t1.small", "DataDisk.99.Size": "1"}, "InvalidParameter", "DataDisk.99"),
    ({"ImageId": "tiny", "InstanceType": "ecs.t1.small", "HostName": "bad host"}, "InvalidHostName.Malformed", ""),
])
def test_run_instances_bad_parameters(api, unchanged, params, code, needle):
    status, body = err(api, "RunInstances", params)
    assert body["Code"] == code, body
    assert needle in body["Message"]


def test_paging_bounds(api, unchanged):
    assert err(api, "DescribeInstances", {"PageSize": "101"})[1]["Code"] == "InvalidParameter"
    assert err(api, "DescribeInstances", {"PageNumber": "0"})[1]["Code"] == "InvalidParameter"
    assert err(api, "DescribeInstances", {"InstanceIds": "i-not-json"})[1]["Code"] == "InvalidParameter"
    ids = json.dumps([f"i-{n:020d}" for n in range(101)])
    assert err(api, "DescribeInstances", {"InstanceIds": ids})[1]["Code"] == "InvalidParameter"
    out = api.call("DescribeInstances", PageSize=100, PageNumber=3)
    assert out["PageNumber"] == 3 and out["PageSize"] == 100 and isinstance(out["TotalCount"], int)
    assert out["Instances"] == {"Instance": []}


def test_unknown_ids_and_states(api, unchanged):
    missing = "i-aaaaaaaaaaaaaaaaaaaa"
    for action in ("StartInstance", "StopInstance", "RebootInstance", "DeleteInstance", "DescribeInstanceAttribute",
                   "DescribeUserData"):
        status, body = err(api, action, {"InstanceId": missing})
        assert (status, body["Code"]) == (404, "InvalidInstanceId.NotFound"), (action, body)
    status, body = err(api, "DeleteDisk", {"DiskId": "d-aaaaaaaaaaaaaaaaaaaa"})
    assert (status, body["Code"]) == (404, "InvalidDiskId.NotFound")


@pytest.fixture(scope="module")
def stopped_instance(cloud, api):
    """An instance created stopped (CreateInstance): enough for state and account checks."""
    iid = api.call("CreateInstance", ImageId="tiny", InstanceType="ecs.t1.small", InstanceName="api-test")["InstanceId"]
    cloud.wait_status(api, iid, "Stopped")
    yield iid


def test_create_instance_ends_stopped(cloud, api, stopped_instance):
    i = cloud.instance(api, stopped_instance)
    assert i["InstanceName"] == "api-test" and i["Status"] == "Stopped"
    assert i["Cpu"] == 1 and i["Memory"] == 256 and i["HostId"]
    assert i["VpcAttributes"]["PrivateIpAddress"]["IpAddress"][0].startswith(str(cloud.host.net.network_address)[:-1])


def test_incorrect_instance_status(api, stopped_instance):
    for action in ("StopInstance", "RebootInstance"):
        status, body = err(api, action, {"InstanceId": stopped_instance})
        assert (status, body["Code"]) == (403, "IncorrectInstanceStatus"), body


def test_another_accounts_ids_do_not_exist(api, other, stopped_instance):
    for action in ("StartInstance", "DeleteInstance", "DescribeInstanceAttribute"):
        status, body = err(other, action, {"InstanceId": stopped_instance})
        assert (status, body["Code"]) == (404, "InvalidInstanceId.NotFound")
    assert other.call("DescribeInstances")["TotalCount"] == 0
    assert api.call("DescribeInstances", InstanceIds=json.dumps([stopped_instance]))["TotalCount"] == 1


def test_client_token_makes_it_once(cloud, api):
    before = api.call("DescribeInstances")["TotalCount"]
    token = "e2e-token-" + str(time.time())
    a = api.call("CreateInstance", ImageId="tiny", InstanceType="ecs.t1.small", ClientToken=token)
    b = api.call("CreateInstance", ImageId="tiny", InstanceType="ecs.t1.small", ClientToken=token)
    assert a["InstanceId"] == b["InstanceId"] and a["RequestId"] != b["RequestId"]
    assert api.call("DescribeInstances")["TotalCount"] == before + 1
    assert err(api, "CreateInstance", {"ImageId": "tiny", "InstanceType": "ecs.t1.small", "ClientToken": "x" * 65})[1][
        "Code"] == "InvalidClientToken.Malformed"
    cloud.wait_status(api, a["InstanceId"], "Stopped")
    api.call("DeleteInstance", InstanceId=a["InstanceId"])
    cloud.wait_for(lambda: api.call("DescribeInstances")["TotalCount"] == before, 60, "the delete")


def test_delete_stopped_instance_frees_it(cloud, api, stopped_instance):
    api.call("DeleteInstance", InstanceId=stopped_instance)
    cloud.wait_for(lambda: not cloud.instance(api, stopped_instance), 60, "the delete")
    cloud.wait_for(lambda: cloud.host.host_state()["domains"] == [], 30, "the domain to go")
