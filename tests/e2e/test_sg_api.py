"""Security groups in ecs-controller (docs/security-groups.md): every action's happy path and
every refusal with ECS's code, each refusal naming its parameter and changing nothing (groups,
rules, memberships and the security generation compared before and after); the limits at
their edges (200 rules, 5 groups an instance, the per-account quota); the default group; the
agents' side: the host's view through a signed GET /agent/v1/security-groups, the generation
in the heartbeat's answer and moving with each change that matters, and the nudges
(POST /v1/security/sync) that never hold up or fail an API call.

Most tests run one controller with stand-in hosts (tests/e2e/fakeagent.py); the last runs
real ecs-agent processes on libvirt's test driver (tests/bench/fakehosts.py)."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
import time
from pathlib import Path

import pytest

from fakeagent import FakeAgent, LoneController
import waiting

QUOTA = 12  # [quota] security_groups for this module's controller


@pytest.fixture(scope="module")
def ctl(tmp_path_factory):
    with LoneController(tmp_path_factory.mktemp("sgctl"), extra={"quota": {"security_groups": QUOTA}}) as c:
        yield c


@pytest.fixture(scope="module")
def host(ctl):
    with FakeAgent(ctl, "h-one") as h:
        yield h


@pytest.fixture(scope="module")
def idle_host(ctl):
    """A host that never gets an instance here: nothing should nudge it."""
    with FakeAgent(ctl, "h-idle", max_instances=0) as h:
        yield h


_accounts = iter(range(1000))


@pytest.fixture
def api(ctl):
    """A fresh account for each test: its groups, quota and default group are its own."""
    return ctl.account(f"acct{next(_accounts)}")


@pytest.fixture
def other(ctl):
    return ctl.account(f"other{next(_accounts)}")


# ---------------------------------------------------------------- helpers


def err(api, action, params=None):
    status, body = api.raw(action, params)
    assert status >= 400, body
    assert set(body) >= {"RequestId", "HostId", "Code", "Message"}, body
    return status, body


def generation(ctl) -> int:
    return ctl.agent_client("h-observer").view()["generation"]


def rules(api, gid, direction="all") -> list[dict]:
    perms = api.call("DescribeSecurityGroupAttribute", SecurityGroupId=gid, Direction=direction)["Permissions"]["Permission"]
    return [{k: p[k] for k in ("Direction", "IpProtocol", "PortRange", "SourceCidrIp", "SourceGroupId", "DestCidrIp",
                               "DestGroupId", "Policy", "Priority", "NicType", "Description")} for p in perms]


def groups(api) -> list[dict]:
    return api.call("DescribeSecurityGroups", PageSize=100)["SecurityGroups"]["SecurityGroup"]


def instances(api) -> dict[str, list[str]]:
    insts = api.call("DescribeInstances", PageSize=100)["Instances"]["Instance"]
    return {i["InstanceId"]: i["SecurityGroupIds"]["SecurityGroupId"] for i in insts}


def snapshot(ctl, api) -> dict:
    gs = groups(api)
    return {"groups": gs, "rules": {g["SecurityGroupId"]: rules(api, g["SecurityGroupId"]) for g in gs},
            "instances": instances(api), "generation": generation(ctl)}


@contextlib.contextmanager
def unchanged(ctl, *apis):
    before = [snapshot(ctl, a) for a in apis]
    yield
    assert [snapshot(ctl, a) for a in apis] == before


def new_group(api, name="web", **kw) -> str:
    return api.call("CreateSecurityGroup", SecurityGroupName=name, **kw)["SecurityGroupId"]


def tcp(gid, port, **kw) -> dict:
    return {"SecurityGroupId": gid, "IpProtocol": "tcp", "PortRange": f"{port}/{port}", "SourceCidrIp": "0.0.0.0/0", **kw}


wait_for = functools.partial(waiting.wait_for, interval=0.1)  # the stand-in hosts answer at once


def create_instance(api, host, status="Stopped", **params) -> str:
    action = "CreateInstance" if status == "Stopped" else "RunInstances"
    body = api.call(action, ImageId="tiny", InstanceType="ecs.t1.small", **params)
    iid = body["InstanceId"] if status == "Stopped" else body["InstanceIdSets"]["InstanceIdSet"][0]
    wait_for(lambda: api.call("DescribeInstances", InstanceIds=json.dumps([iid]))["Instances"]["Instance"][0]["Status"],
             30, f"{iid} {status}", until=lambda st: st == status)
    return iid


def wait_settled(api, iid) -> str:
    return wait_for(lambda: api.call("DescribeInstances", InstanceIds=json.dumps([iid]))["Instances"]["Instance"][0][
        "Status"], 30, f"{iid} Running or Stopped", until=lambda st: st in ("Running", "Stopped"))


def delete_instance(api, iid, host):
    """Delete and wait until the controller forgot it (gone from its host's view), so that
    no change of it lands in the next test."""
    wait_settled(api, iid)
    api.call("DeleteInstance", InstanceId=iid, Force="true")
    wait_for(lambda: iid not in host.view()["instances"], 30, f"{iid} forgotten")


# ---------------------------------------------------------------- groups


def test_create_describe_modify_delete(ctl, api):
    a = new_group(api, "web", Description="front ends", VpcId="vpc-local1")
    b = new_group(api, "db")
    c = api.call("CreateSecurityGroup")["SecurityGroupId"]  # every parameter is optional
    assert a.startswith("sg-") and len({a, b, c}) == 3

    body = api.call("DescribeSecurityGroups")
    assert (body["TotalCount"], body["PageNumber"], body["PageSize"], body["RegionId"]) == (3, 1, 10, "cn-local")
    by_id = {g["SecurityGroupId"]: g for g in body["SecurityGroups"]["SecurityGroup"]}
    assert by_id[a]["SecurityGroupName"] == "web" and by_id[a]["Description"] == "front ends"
    assert by_id[a]["VpcId"] == "vpc-local1" and by_id[a]["CreationTime"].endswith("Z")
    assert by_id[a]["EcsCount"] == 0 and by_id[a]["Tags"] == {"Tag": []}
    assert by_id[c]["SecurityGroupName"] == "" and by_id[c]["Description"] == ""
    # Newest first.
    assert [g["SecurityGroupId"] for g in body["SecurityGroups"]["SecurityGroup"]] == [c, b, a]

    def ids(**kw):
        return [g["SecurityGroupId"] for g in api.call("DescribeSecurityGroups", **kw)["SecurityGroups"]["SecurityGroup"]]

    assert sorted(ids(SecurityGroupIds=json.dumps([a, b, "sg-nosuchgroup"]))) == sorted([a, b])
    assert ids(SecurityGroupId=b) == [b]
    assert ids(SecurityGroupName="web") == [a]
    assert ids(VpcId="vpc-local1") == [a]
    page = api.call("DescribeSecurityGroups", PageSize=2, PageNumber=2)
    assert page["TotalCount"] == 3 and [g["SecurityGroupId"] for g in page["SecurityGroups"]["SecurityGroup"]] == [a]

    attr = api.call("DescribeSecurityGroupAttribute", SecurityGroupId=a)
    assert (attr["SecurityGroupId"], attr["SecurityGroupName"], attr["Description"], attr["VpcId"]) == \
        (a, "web", "front ends", "vpc-local1")
    assert attr["Permissions"] == {"Permission": []} and attr["InnerAccessPolicy"] == "Accept"

    gen = generation(ctl)
    api.call("ModifySecurityGroupAttribute", SecurityGroupId=a, SecurityGroupName="web-2", Description="new text")
    attr = api.call("DescribeSecurityGroupAttribute", SecurityGroupId=a)
    assert (attr["SecurityGroupName"], attr["Description"]) == ("web-2", "new text")
    api.call("ModifySecurityGroupAttribute", SecurityGroupId=a, Description="only this")
    assert api.call("DescribeSecurityGroupAttribute", SecurityGroupId=a)["SecurityGroupName"] == "web-2"
    assert generation(ctl) == gen  # names are no agent's business

    for g in (a, b, c):
        api.call("DeleteSecurityGroup", SecurityGroupId=g)
    assert api.call("DescribeSecurityGroups")["TotalCount"] == 0
    assert err(api, "DescribeSecurityGroupAttribute", {"SecurityGroupId": a})[1]["Code"] == \
        "InvalidSecurityGroupId.NotFound"


def test_names_in_unicode_and_client_token(ctl, api):
    gid = new_group(api, "组一.web_1:a-b")
    assert groups(api)[0]["SecurityGroupName"] == "组一.web_1:a-b"
    one = api.call("CreateSecurityGroup", SecurityGroupName="tok", ClientToken="sg-token-1")["SecurityGroupId"]
    again = api.call("CreateSecurityGroup", SecurityGroupName="tok", ClientToken="sg-token-1")["SecurityGroupId"]
    assert one == again and len(groups(api)) == 2
    api.call("DeleteSecurityGroup", SecurityGroupId=gid)


@pytest.mark.parametrize("params,code,name", [
    ({"SecurityGroupName": "w"}, "InvalidSecurityGroupName.Malformed", "SecurityGroupName"),
    ({"SecurityGroupName": "1web"}, "InvalidSecurityGroupName.Malformed", "SecurityGroupName"),
    ({"SecurityGroupName": "web server"}, "InvalidSecurityGroupName.Malformed", "SecurityGroupName"),
    ({"SecurityGroupName": "http://x"}, "InvalidSecurityGroupName.Malformed", "SecurityGroupName"),
    ({"SecurityGroupName": "w" * 129}, "InvalidSecurityGroupName.Malformed", "SecurityGroupName"),
    ({"Description": "x"}, "InvalidDescription.Malformed", "Description"),
    ({"Description": "https://example.com"}, "InvalidDescription.Malformed", "Description"),
    ({"Description": "d" * 257}, "InvalidDescription.Malformed", "Description"),
    ({"VpcId": "v" * 65}, "InvalidParameter", "VpcId"),
])
def test_create_refusals(ctl, api, params, code, name):
    new_group(api, "keep")
    with unchanged(ctl, api):
        status, body = err(api, "CreateSecurityGroup", params)
        assert (status, body["Code"]) == (400, code) and f'"{name}"' in body["Message"], body


def test_modify_refusals(ctl, api, other):
    gid = new_group(api, "keep", Description="kept")
    with unchanged(ctl, api, other):
        for params, status, code in [
            ({}, 400, "MissingParameter"),
            ({"SecurityGroupId": gid, "SecurityGroupName": "-bad"}, 400, "InvalidSecurityGroupName.Malformed"),
            ({"SecurityGroupId": gid, "SecurityGroupName": "good", "Description": "x"}, 400, "InvalidDescription.Malformed"),
            ({"SecurityGroupId": "sg-nosuchgroup", "SecurityGroupName": "good"}, 404, "InvalidSecurityGroupId.NotFound"),
        ]:
            s, body = err(api, "ModifySecurityGroupAttribute", params)
            assert (s, body["Code"]) == (status, code), body
        s, body = err(other, "ModifySecurityGroupAttribute", {"SecurityGroupId": gid, "SecurityGroupName": "stolen"})
        assert (s, body["Code"]) == (404, "InvalidSecurityGroupId.NotFound")


def test_group_quota_at_its_edge(ctl, api):
    made = [new_group(api, f"g{i}") for i in range(QUOTA)]  # the QUOTA-th is accepted
    with unchanged(ctl, api):
        status, body = err(api, "CreateSecurityGroup", {"SecurityGroupName": "one-more"})
        assert (status, body["Code"]) == (403, "QuotaExceed.SecurityGroup"), body
    api.call("DeleteSecurityGroup", SecurityGroupId=made[0])
    new_group(api, "fits-again")


def test_describe_refusals(ctl, api):
    gid = new_group(api)
    with unchanged(ctl, api):
        for action, params, code, name in [
            ("DescribeSecurityGroups", {"SecurityGroupIds": "sg-a"}, "InvalidParameter", "SecurityGroupIds"),
            ("DescribeSecurityGroups", {"SecurityGroupIds": json.dumps([f"sg-{i}" for i in range(101)])},
             "InvalidParameter", "SecurityGroupIds"),
            ("DescribeSecurityGroups", {"PageSize": "101"}, "InvalidParameter", "PageSize"),
            ("DescribeSecurityGroups", {"PageNumber": "0"}, "InvalidParameter", "PageNumber"),
            ("DescribeSecurityGroupAttribute", {}, "MissingParameter", "SecurityGroupId"),
            ("DescribeSecurityGroupAttribute", {"SecurityGroupId": gid, "Direction": "both"}, "InvalidParameter",
             "Direction"),
            ("DescribeSecurityGroupAttribute", {"SecurityGroupId": gid, "NicType": "wan"}, "InvalidParameter", "NicType"),
        ]:
            status, body = err(api, action, params)
            assert (status, body["Code"]) == (400, code) and f'"{name}"' in body["Message"], (action, params, body)


# ---------------------------------------------------------------- rules


def test_authorize_and_revoke_every_kind(ctl, api):
    gid, peer = new_group(api, "web"), new_group(api, "peer")
    gen = generation(ctl)
    api.call("AuthorizeSecurityGroup", **tcp(gid, 80))
    api.call("AuthorizeSecurityGroup", SecurityGroupId=gid, IpProtocol="UDP", PortRange="53/54", SourceCidrIp="10.1.0.0/16",
             Policy="drop", Priority="7", NicType="intranet", Description="dns from the lab")
    api.call("AuthorizeSecurityGroup", SecurityGroupId=gid, IpProtocol="Icmp", PortRange="-1/-1", SourceGroupId=peer)
    api.call("AuthorizeSecurityGroup", SecurityGroupId=gid, IpProtocol="gre", PortRange="-1/-1", SourceCidrIp="192.0.2.7")
    api.call("AuthorizeSecurityGroup", SecurityGroupId=gid, IpProtocol="all", PortRange="-1/-1", SourceCidrIp="0.0.0.0/0",
             Priority="100", Policy="Drop")
    api.call("AuthorizeSecurityGroupEgress", SecurityGroupId=gid, IpProtocol="tcp", PortRange="1/65535",
             DestCidrIp="203.0.113.0/24", Description="out")
    api.call("AuthorizeSecurityGroupEgress", SecurityGroupId=gid, IpProtocol="udp", PortRange="123/123", DestGroupId=peer)
    # Permissions.N: several rules in one call.
    api.call("AuthorizeSecurityGroup", **{"SecurityGroupId": gid,
                                          "Permissions.1.IpProtocol": "tcp", "Permissions.1.PortRange": "443/443",
                                          "Permissions.1.SourceCidrIp": "0.0.0.0/0",
                                          "Permissions.3.IpProtocol": "tcp", "Permissions.3.PortRange": "8000/8080",
                                          "Permissions.3.SourceGroupId": peer, "Permissions.3.Priority": "2"})
    assert generation(ctl) > gen  # every change of rules counts

    ing = rules(api, gid, "ingress")
    assert [(r["IpProtocol"], r["PortRange"], r["SourceCidrIp"], r["SourceGroupId"], r["Policy"], r["Priority"])
            for r in ing] == [
        ("TCP", "80/80", "0.0.0.0/0", "", "Accept", 1),
        ("UDP", "53/54", "10.1.0.0/16", "", "Drop", 7),
        ("ICMP", "-1/-1", "", peer, "Accept", 1),
        ("GRE", "-1/-1", "192.0.2.7", "", "Accept", 1),
        ("ALL", "-1/-1", "0.0.0.0/0", "", "Drop", 100),
        ("TCP", "443/443", "0.0.0.0/0", "", "Accept", 1),
        ("TCP", "8000/8080", "", peer, "Accept", 2),
    ]
    assert all(r["Direction"] == "ingress" and r["NicType"] == "intranet" and r["DestCidrIp"] == "" for r in ing)
    assert ing[1]["Description"] == "dns from the lab"
    eg = rules(api, gid, "egress")
    assert [(r["IpProtocol"], r["PortRange"], r["DestCidrIp"], r["DestGroupId"], r["Description"]) for r in eg] == [
        ("TCP", "1/65535", "203.0.113.0/24", "", "out"), ("UDP", "123/123", "", peer, "")]
    assert all(r["Direction"] == "egress" and r["SourceCidrIp"] == "" for r in eg)
    full = api.call("DescribeSecurityGroupAttribute", SecurityGroupId=gid)["Permissions"]["Permission"]
    assert len(full) == 9 and full[2]["SourceGroupName"] == "peer" and full[0]["CreateTime"].endswith("Z")
    assert api.call("DescribeSecurityGroupAttribute", SecurityGroupId=gid, NicType="internet")["Permissions"] == \
        {"Permission": []}

    # Revoke by the same tuple; Priority and Policy default as in Authorize, case does not matter.
    gen = generation(ctl)
    api.call("RevokeSecurityGroup", **tcp(gid, 80))
    api.call("RevokeSecurityGroup", SecurityGroupId=gid, IpProtocol="udp", PortRange="53/54", SourceCidrIp="10.1.0.0/16",
             Policy="DROP", Priority="7")
    api.call("RevokeSecurityGroupEgress", SecurityGroupId=gid, IpProtocol="UDP", PortRange="123/123", DestGroupId=peer)
    api.call("RevokeSecurityGroup", **{"SecurityGroupId": gid,
                                       "Permissions.1.IpProtocol": "TCP", "Permissions.1.PortRange": "8000/8080",
                                       "Permissions.1.SourceGroupId": peer, "Permissions.1.Priority": "2",
                                       "Permissions.2.IpProtocol": "icmp", "Permissions.2.PortRange": "-1/-1",
                                       "Permissions.2.SourceGroupId": peer})
    assert generation(ctl) > gen
    assert [(r["IpProtocol"], r["PortRange"]) for r in rules(api, gid)] == [
        ("GRE", "-1/-1"), ("ALL", "-1/-1"), ("TCP", "1/65535"), ("TCP", "443/443")]  # in the order made
    # Nothing names peer now: it can go.
    api.call("DeleteSecurityGroup", SecurityGroupId=peer)


def test_same_rule_twice_is_one_rule(ctl, api):
    gid = new_group(api)
    api.call("AuthorizeSecurityGroup", **tcp(gid, 22, Description="first"))
    with unchanged(ctl, api):  # nothing at all changes, not even the generation
        api.call("AuthorizeSecurityGroup", **tcp(gid, 22))
        api.call("AuthorizeSecurityGroup", **tcp(gid, 22, Description="second", Policy="ACCEPT", Priority="1",
                                                  NicType="intranet", IpProtocol="TCP"))
        api.call("AuthorizeSecurityGroup", **{"SecurityGroupId": gid, "Permissions.1.IpProtocol": "tcp",
                                              "Permissions.1.PortRange": "22/22", "Permissions.1.SourceCidrIp": "0.0.0.0/0"})
        # Revoking what is not there succeeds and changes nothing (ECS, Permissions form).
        api.call("RevokeSecurityGroup", **tcp(gid, 23))
        api.call("RevokeSecurityGroup", **tcp(gid, 22, Priority="2"))
        api.call("RevokeSecurityGroupEgress", SecurityGroupId=gid, IpProtocol="tcp", PortRange="22/22",
                 DestCidrIp="0.0.0.0/0")
    r = rules(api, gid)
    assert len(r) == 1 and r[0]["Description"] == "first"
    # Another priority or policy is another rule.
    api.call("AuthorizeSecurityGroup", **tcp(gid, 22, Priority="2"))
    api.call("AuthorizeSecurityGroup", **tcp(gid, 22, Policy="drop"))
    assert len(rules(api, gid)) == 3


def ing(**kw) -> dict:
    """An ingress rule's parameters for the group "{g}"; a field set to None is left out."""
    p = {"SecurityGroupId": "{g}", "IpProtocol": "tcp", "PortRange": "1/1", "SourceCidrIp": "0.0.0.0/0", **kw}
    return {k: v for k, v in p.items() if v is not None}


def eg(**kw) -> dict:
    """The same for an egress rule (its peer is a destination)."""
    return ing(**{"SourceCidrIp": None, "DestCidrIp": "0.0.0.0/0", **kw})


def permissions(*rules_by_index: tuple[int, dict]) -> dict:
    """Permissions.N.* for the group "{g}" from (N, fields)."""
    p = {"SecurityGroupId": "{g}"}
    for n, fields in rules_by_index:
        p.update({f"Permissions.{n}.{k}": v for k, v in fields.items()})
    return p


ANY = {"IpProtocol": "tcp", "PortRange": "2/2", "SourceCidrIp": "0.0.0.0/0"}

RULE_REFUSALS = [
    # (action, params, status, code, the parameter the message names)
    ("AuthorizeSecurityGroup", ing(SecurityGroupId=None), 400, "MissingParameter", "SecurityGroupId"),
    ("AuthorizeSecurityGroup", ing(IpProtocol=None), 400, "MissingParameter", "IpProtocol"),
    ("AuthorizeSecurityGroup", ing(IpProtocol="sctp"), 400, "InvalidIpProtocol.ValueNotSupported", "IpProtocol"),
    ("AuthorizeSecurityGroup", ing(PortRange=None), 400, "MissingParameter", "PortRange"),
    *[("AuthorizeSecurityGroup", ing(IpProtocol=proto, PortRange=pr), 400, "InvalidIpPortRange.Malformed", "PortRange")
      for proto, pr in [("tcp", "0/80"), ("tcp", "80/70"), ("udp", "1/65536"), ("tcp", "-1/-1"), ("tcp", "80"),
                        ("tcp", "a/b"), ("tcp", "80-90"), ("tcp", " 80/80"), ("icmp", "1/1"), ("all", "1/65535"),
                        ("gre", "-1/0")]],
    ("AuthorizeSecurityGroup", ing(SourceCidrIp=None), 400, "MissingParameter", "SourceCidrIp"),
    *[("AuthorizeSecurityGroup", ing(SourceCidrIp=c), 400, "InvalidSourceCidrIp.Malformed", "SourceCidrIp")
      for c in ["10.0.0.0/33", "10.0.0", "010.0.0.1", "::/0", "10.0.0.0/", "10.0.0.0/-1", "any"]],
    ("AuthorizeSecurityGroup", ing(Policy="allow"), 400, "InvalidPolicy.Malformed", "Policy"),
    ("AuthorizeSecurityGroup", ing(Priority="0"), 400, "InvalidPriority.ValueNotSupported", "Priority"),
    ("AuthorizeSecurityGroup", ing(Priority="101"), 400, "InvalidPriority.ValueNotSupported", "Priority"),
    ("AuthorizeSecurityGroup", ing(Priority="high"), 400, "InvalidPriority.Malformed", "Priority"),
    ("AuthorizeSecurityGroup", ing(NicType="internet"), 400, "InvalidNicType.ValueNotSupported", "NicType"),
    ("AuthorizeSecurityGroup", ing(Description="d" * 513), 400, "InvalidSecurityGroupDiscription.Malformed",
     "Description"),
    ("AuthorizeSecurityGroup", ing(SourceCidrIp=None, SourceGroupId="sg-nosuchgroup"), 404,
     "InvalidSourceGroupId.NotFound", "SourceGroupId"),
    ("AuthorizeSecurityGroup", ing(SourceCidrIp=None, SourceGroupId="{theirs}"), 404, "InvalidSourceGroupId.NotFound",
     "SourceGroupId"),
    ("AuthorizeSecurityGroup", ing(SourceCidrIp=None, SourceGroupId="{g}"), 400, "InvalidParamter.Conflict",
     "SourceGroupId"),
    ("AuthorizeSecurityGroup", ing(SecurityGroupId="sg-nosuchgroup"), 404, "InvalidSecurityGroupId.NotFound", None),
    ("AuthorizeSecurityGroup", ing(SecurityGroupId="{theirs}"), 404, "InvalidSecurityGroupId.NotFound", None),
    ("AuthorizeSecurityGroup", ing(Ipv6SourceCidrIp="::/0"), 400, "InvalidParameter", "Ipv6SourceCidrIp"),
    ("AuthorizeSecurityGroup", ing(DestCidrIp="10.0.0.0/8"), 400, "InvalidParameter", "DestCidrIp"),
    # Permissions.N: with the flat form, twice the same, a bad one beside a good one (which
    # must not be added either), an index past 100, an unknown field.
    ("AuthorizeSecurityGroup", {**permissions((1, ANY)), "IpProtocol": "tcp"}, 400, "InvalidParam.Permissions", None),
    ("AuthorizeSecurityGroup", permissions((1, ANY), (2, {**ANY, "IpProtocol": "TCP", "Description": "again"})),
     400, "InvalidParam.DuplicatePermissions", None),
    ("AuthorizeSecurityGroup", permissions((1, ANY), (4, {**ANY, "PortRange": "3/99999"})),
     400, "InvalidIpPortRange.Malformed", "Permissions.4.PortRange"),
    ("AuthorizeSecurityGroup", permissions((1, ANY), (2, {"IpProtocol": "tcp", "PortRange": "3/3",
                                                          "SourceGroupId": "sg-nosuchgroup"})),
     404, "InvalidSourceGroupId.NotFound", "Permissions.2.SourceGroupId"),
    ("AuthorizeSecurityGroup", permissions((101, ANY)), 400, "InvalidParameter", "Permissions.101.IpProtocol"),
    ("AuthorizeSecurityGroup", permissions((1, {**ANY, "Port": "1/1"})), 400, "InvalidParameter", "Permissions.1.Port"),
    # Egress: its destination.
    ("AuthorizeSecurityGroupEgress", eg(DestCidrIp=None), 400, "MissingParameter", "DestCidrIp"),
    ("AuthorizeSecurityGroupEgress", eg(DestCidrIp="300.0.0.0/8"), 400, "InvalidDestCidrIp.Malformed", "DestCidrIp"),
    ("AuthorizeSecurityGroupEgress", eg(DestCidrIp=None, DestGroupId="{theirs}"), 404, "InvalidDestGroupId.NotFound",
     "DestGroupId"),
    ("AuthorizeSecurityGroupEgress", eg(SourceCidrIp="10.0.0.0/8"), 400, "InvalidParameter", "SourceCidrIp"),
    # Revoke checks what Authorize checks.
    ("RevokeSecurityGroup", ing(PortRange="0/1"), 400, "InvalidIpPortRange.Malformed", "PortRange"),
    ("RevokeSecurityGroup", ing(SecurityGroupId="{theirs}"), 404, "InvalidSecurityGroupId.NotFound", None),
    ("RevokeSecurityGroupEgress", eg(DestCidrIp=None, DestGroupId="sg-nosuchgroup"), 404,
     "InvalidDestGroupId.NotFound", "DestGroupId"),
]


@pytest.mark.parametrize("action,params,status,code,name", RULE_REFUSALS,
                         ids=[f"{i}-{c[3]}" for i, c in enumerate(RULE_REFUSALS)])
def test_rule_refusals(ctl, api, other, action, params, status, code, name):
    gid, theirs = new_group(api), new_group(other, "theirs")
    api.call("AuthorizeSecurityGroup", **tcp(gid, 22))
    params = {k: v.format(g=gid, theirs=theirs) for k, v in params.items()}
    with unchanged(ctl, api, other):
        s, body = err(api, action, params)
        assert (s, body["Code"]) == (status, code), body
        assert name is None or f'"{name}"' in body["Message"], body


def test_two_hundred_rules_and_no_more(ctl, api):
    gid = new_group(api)

    def perms(ports):
        p = {"SecurityGroupId": gid}
        for i, port in enumerate(ports, 1):
            p.update({f"Permissions.{i}.IpProtocol": "tcp", f"Permissions.{i}.PortRange": f"{port}/{port}",
                      f"Permissions.{i}.SourceCidrIp": "0.0.0.0/0"})
        return p

    api.call("AuthorizeSecurityGroup", **perms(range(1, 101)))
    api.call("AuthorizeSecurityGroupEgress", **{k.replace("SourceCidrIp", "DestCidrIp"): v
                                                for k, v in perms(range(101, 200)).items()})
    assert len(rules(api, gid)) == 199
    api.call("AuthorizeSecurityGroup", **tcp(gid, 200))  # the 200th (ingress and egress count together)
    assert len(rules(api, gid)) == 200
    with unchanged(ctl, api):
        status, body = err(api, "AuthorizeSecurityGroup", tcp(gid, 201))
        assert (status, body["Code"]) == (403, "AuthorizationLimitExceed"), body
        status, body = err(api, "AuthorizeSecurityGroupEgress", {"SecurityGroupId": gid, "IpProtocol": "all",
                                                                 "PortRange": "-1/-1", "DestCidrIp": "0.0.0.0/0"})
        assert (status, body["Code"]) == (403, "AuthorizationLimitExceed"), body
        api.call("AuthorizeSecurityGroup", **tcp(gid, 200))  # a rule already there still succeeds
    api.call("RevokeSecurityGroup", **tcp(gid, 200))
    with unchanged(ctl, api):  # two at once where one fits: neither
        status, body = err(api, "AuthorizeSecurityGroup", perms([300, 301]))
        assert (status, body["Code"]) == (403, "AuthorizationLimitExceed"), body
    api.call("AuthorizeSecurityGroup", **perms([300]))
    assert len(rules(api, gid)) == 200


def test_other_accounts_groups_do_not_exist(ctl, api, other):
    mine = new_group(api, "mine")
    api.call("AuthorizeSecurityGroup", **tcp(mine, 22))
    with unchanged(ctl, api, other):
        assert other.call("DescribeSecurityGroups")["TotalCount"] == 0
        assert other.call("DescribeSecurityGroups", SecurityGroupIds=json.dumps([mine]))["TotalCount"] == 0
        assert other.call("DescribeSecurityGroups", SecurityGroupId=mine)["TotalCount"] == 0
        for action, params in [
            ("DescribeSecurityGroupAttribute", {"SecurityGroupId": mine}),
            ("DeleteSecurityGroup", {"SecurityGroupId": mine}),
            ("AuthorizeSecurityGroup", tcp(mine, 80)),
            ("RevokeSecurityGroup", tcp(mine, 22)),
            ("AuthorizeSecurityGroupEgress", {"SecurityGroupId": mine, "IpProtocol": "all", "PortRange": "-1/-1",
                                              "DestCidrIp": "0.0.0.0/0"}),
        ]:
            status, body = err(other, action, params)
            assert (status, body["Code"]) == (404, "InvalidSecurityGroupId.NotFound"), (action, body)


def test_delete_refused_while_another_group_names_it(ctl, api):
    a, b = new_group(api, "ga"), new_group(api, "gb")
    api.call("AuthorizeSecurityGroupEgress", SecurityGroupId=b, IpProtocol="tcp", PortRange="5432/5432", DestGroupId=a)
    with unchanged(ctl, api):
        status, body = err(api, "DeleteSecurityGroup", {"SecurityGroupId": a})
        assert (status, body["Code"]) == (403, "DependencyViolation") and "authorized" in body["Message"], body
        assert err(api, "DeleteSecurityGroup", {})[1]["Code"] == "MissingParameter"
        assert err(api, "DeleteSecurityGroup", {"SecurityGroupId": "sg-nosuchgroup"})[0] == 404
    # The group that names it may go (its own rules go with it), then it may.
    api.call("DeleteSecurityGroup", SecurityGroupId=b)
    api.call("DeleteSecurityGroup", SecurityGroupId=a)
    assert api.call("DescribeSecurityGroups")["TotalCount"] == 0


# ---------------------------------------------------------------- instances


def test_instances_go_to_the_default_group(ctl, host, api):
    assert api.call("DescribeSecurityGroups")["TotalCount"] == 0
    gen = generation(ctl)
    one = create_instance(api, host)
    assert generation(ctl) > gen
    gs = groups(api)
    assert len(gs) == 1 and gs[0]["SecurityGroupName"] == "default" and gs[0]["EcsCount"] == 1
    default = gs[0]["SecurityGroupId"]
    assert instances(api) == {one: [default]}
    assert [(r["Direction"], r["IpProtocol"], r["PortRange"], r["SourceCidrIp"], r["Policy"], r["Priority"])
            for r in rules(api, default)] == [("ingress", "TCP", "22/22", "0.0.0.0/0", "Accept", 1),
                                               ("ingress", "ICMP", "-1/-1", "0.0.0.0/0", "Accept", 1)]
    # The next one finds it: one default group.
    two = create_instance(api, host, status="Running")
    assert instances(api) == {one: [default], two: [default]} and len(groups(api)) == 1
    attr = api.call("DescribeInstanceAttribute", InstanceId=two)
    assert attr["SecurityGroupIds"] == {"SecurityGroupId": [default]}
    # A default group the user deleted is made again when needed.
    for iid in (one, two):
        delete_instance(api, iid, host)
    api.call("DeleteSecurityGroup", SecurityGroupId=default)
    three = create_instance(api, host)
    gs = groups(api)
    assert len(gs) == 1 and gs[0]["SecurityGroupName"] == "default" and gs[0]["SecurityGroupId"] != default
    delete_instance(api, three, host)


def test_instances_with_named_groups(ctl, host, api, other):
    a, b, c = new_group(api, "ga"), new_group(api, "gb"), new_group(api, "gc")
    one = create_instance(api, host, SecurityGroupId=b)
    many = api.call("RunInstances", ImageId="tiny", InstanceType="ecs.t1.small", Amount=2,
                    **{"SecurityGroupIds.1": c, "SecurityGroupIds.2": a, "SecurityGroupIds.3": c})["InstanceIdSets"][
        "InstanceIdSet"]
    got = instances(api)
    assert got[one] == [b] and got[many[0]] == [c, a] and got[many[1]] == [c, a]  # in order, each once
    assert not any(g["SecurityGroupName"] == "default" for g in groups(api))

    def filtered(gid):
        return sorted(i["InstanceId"] for i in api.call("DescribeInstances", SecurityGroupId=gid)["Instances"]["Instance"])

    assert filtered(a) == sorted(many) and filtered(b) == [one] and filtered(c) == sorted(many)
    body = api.call("DescribeInstances", SecurityGroupId=a, PageSize=1)
    assert body["TotalCount"] == 2 and len(body["Instances"]["Instance"]) == 1
    assert other.call("DescribeInstances", SecurityGroupId=a)["TotalCount"] == 0
    assert {g["SecurityGroupId"]: g["EcsCount"] for g in groups(api)} == {a: 2, b: 1, c: 2}
    for iid in [one, *many]:
        delete_instance(api, iid, host)


def test_instance_group_refusals(ctl, host, api, other):
    mine = [new_group(api, f"g{i}") for i in range(6)]
    theirs = new_group(other, "theirs")
    base = {"ImageId": "tiny", "InstanceType": "ecs.t1.small"}
    with unchanged(ctl, api, other):
        for action, params, status, code in [
            ("RunInstances", {f"SecurityGroupIds.{i + 1}": g for i, g in enumerate(mine)}, 400,
             "InstanceSecurityGroupLimitExceeded"),
            ("RunInstances", {"SecurityGroupIds.1": mine[0], "SecurityGroupIds.2": "sg-nosuchgroup"}, 404,
             "InvalidSecurityGroupId.NotFound"),
            ("CreateInstance", {"SecurityGroupId": theirs}, 404, "InvalidSecurityGroupId.NotFound"),
            ("RunInstances", {"SecurityGroupId": mine[0], "SecurityGroupIds.1": mine[1]}, 400,
             "InvalidParameter.Conflict"),
            ("RunInstances", {"SecurityGroupIds.0": mine[0]}, 400, "InvalidParameter"),
        ]:
            s, body = err(api, action, {**base, **params})
            assert (s, body["Code"]) == (status, code), (params, body)


def test_a_refused_create_makes_no_default_group(ctl, host, api):
    with unchanged(ctl, api):
        s, body = err(api, "RunInstances", {"ImageId": "tiny", "InstanceType": "ecs.t1.small", "Amount": 101})
        assert (s, body["Code"]) == (400, "InvalidParameter"), body
        s, body = err(api, "RunInstances", {"ImageId": "no-such-image", "InstanceType": "ecs.t1.small"})
        assert (s, body["Code"]) == (404, "InvalidImageId.NotFound"), body
    assert api.call("DescribeSecurityGroups")["TotalCount"] == 0


def test_join_and_leave(ctl, host, api, other):
    iid = create_instance(api, host)
    default = instances(api)[iid][0]
    extra = [new_group(api, f"x{i}") for i in range(5)]
    theirs = new_group(other, "theirs")
    gen = generation(ctl)
    for g in extra[:4]:  # up to 5 groups
        api.call("JoinSecurityGroup", InstanceId=iid, SecurityGroupId=g)
    assert generation(ctl) >= gen + 4
    assert instances(api)[iid] == [default, *extra[:4]]
    with unchanged(ctl, api, other):
        for action, params, status, code in [
            ("JoinSecurityGroup", {"InstanceId": iid, "SecurityGroupId": extra[4]}, 400,
             "InstanceSecurityGroupLimitExceeded"),
            ("JoinSecurityGroup", {"InstanceId": iid, "SecurityGroupId": extra[0]}, 403, "InvalidInstanceId.AlreadyExists"),
            ("JoinSecurityGroup", {"InstanceId": iid}, 400, "MissingParameter"),
            ("JoinSecurityGroup", {"SecurityGroupId": extra[4]}, 400, "MissingParameter"),
            ("JoinSecurityGroup", {"InstanceId": "i-nosuchinstance", "SecurityGroupId": extra[4]}, 404,
             "InvalidInstanceId.NotFound"),
            ("JoinSecurityGroup", {"InstanceId": iid, "SecurityGroupId": theirs}, 404, "InvalidSecurityGroupId.NotFound"),
            ("LeaveSecurityGroup", {"InstanceId": iid, "SecurityGroupId": extra[4]}, 403, "InstanceNotInSecurityGroup"),
            ("LeaveSecurityGroup", {"InstanceId": iid, "SecurityGroupId": "sg-nosuchgroup"}, 404,
             "InvalidSecurityGroupId.NotFound"),
        ]:
            s, body = err(api, action, params)
            assert (s, body["Code"]) == (status, code), (action, params, body)
        s, body = err(other, "JoinSecurityGroup", {"InstanceId": iid, "SecurityGroupId": theirs})
        assert (s, body["Code"]) == (404, "InvalidInstanceId.NotFound")
        s, body = err(api, "DeleteSecurityGroup", {"SecurityGroupId": extra[0]})
        assert (s, body["Code"]) == (403, "DependencyViolation") and "instance" in body["Message"], body
    # Leave keeps the others' order; a new one goes last.
    api.call("LeaveSecurityGroup", InstanceId=iid, SecurityGroupId=extra[1])
    api.call("LeaveSecurityGroup", InstanceId=iid, SecurityGroupId=default)
    api.call("JoinSecurityGroup", InstanceId=iid, SecurityGroupId=extra[4])
    assert instances(api)[iid] == [extra[0], extra[2], extra[3], extra[4]]
    for g in (extra[0], extra[2], extra[3]):
        api.call("LeaveSecurityGroup", InstanceId=iid, SecurityGroupId=g)
    with unchanged(ctl, api):
        s, body = err(api, "LeaveSecurityGroup", {"InstanceId": iid, "SecurityGroupId": extra[4]})
        assert (s, body["Code"]) == (403, "InstanceLastSecurityGroup"), body
    # Deleting the instance frees its groups.
    delete_instance(api, iid, host)
    api.call("DeleteSecurityGroup", SecurityGroupId=extra[4])
    api.call("DeleteSecurityGroup", SecurityGroupId=default)


# ---------------------------------------------------------------- the agents' side


def test_agent_view_and_generation(ctl, host, idle_host, api):
    web, db, peer = new_group(api, "web"), new_group(api, "db"), new_group(api, "peer")
    api.call("AuthorizeSecurityGroup", **tcp(web, 80))
    api.call("AuthorizeSecurityGroup", SecurityGroupId=db, IpProtocol="tcp", PortRange="5432/5432", SourceGroupId=web,
             Priority="3")
    api.call("AuthorizeSecurityGroupEgress", SecurityGroupId=db, IpProtocol="udp", PortRange="53/53",
             DestCidrIp="10.9.0.0/16", Policy="drop")
    api.call("AuthorizeSecurityGroup", SecurityGroupId=peer, IpProtocol="all", PortRange="-1/-1", SourceGroupId=db)
    w1 = create_instance(api, host, SecurityGroupId=web)
    d1 = create_instance(api, host, **{"SecurityGroupIds.1": db, "SecurityGroupIds.2": web}, status="Running")
    ips = {i["InstanceId"]: i["InnerIpAddress"]["IpAddress"][0]
           for i in api.call("DescribeInstances", PageSize=100)["Instances"]["Instance"]}

    view = host.view()
    assert set(view) == {"generation", "groups", "instances"}
    assert view["instances"] == {w1: [web], d1: [db, web]}
    by_id = {g["group_id"]: g for g in view["groups"]}
    # Its own groups with their rules; peer is no group of an instance here and no rule of
    # one names it: not there.
    assert set(by_id) == {web, db}
    assert by_id[web]["rules"] == [{"direction": "ingress", "ip_protocol": "tcp", "port_range": "80/80",
                                    "cidr": "0.0.0.0/0", "peer_group_id": "", "policy": "accept", "priority": 1}]
    assert by_id[db]["rules"] == [
        {"direction": "ingress", "ip_protocol": "tcp", "port_range": "5432/5432", "cidr": "", "peer_group_id": web,
         "policy": "accept", "priority": 3},
        {"direction": "egress", "ip_protocol": "udp", "port_range": "53/53", "cidr": "10.9.0.0/16", "peer_group_id": "",
         "policy": "drop", "priority": 1}]
    assert by_id[web]["members"] == sorted([ips[w1], ips[d1]]) and by_id[db]["members"] == [ips[d1]]
    # A host with nothing here sees nothing but the generation.
    assert idle_host.view() == {"generation": view["generation"], "groups": [], "instances": {}}

    # A group named only by a rule comes with its members and without its own rules.
    api.call("LeaveSecurityGroup", InstanceId=d1, SecurityGroupId=db)
    api.call("JoinSecurityGroup", InstanceId=d1, SecurityGroupId=peer)
    view2 = host.view()
    assert view2["generation"] > view["generation"]
    assert view2["instances"] == {w1: [web], d1: [web, peer]}
    by_id = {g["group_id"]: g for g in view2["groups"]}
    assert set(by_id) == {web, peer, db}
    assert by_id[db] == {"group_id": db, "rules": [], "members": []}
    assert by_id[peer]["rules"][0]["peer_group_id"] == db and by_id[peer]["members"] == [ips[d1]]

    # The heartbeat's answer carries the same generation.
    assert host.heartbeat() == {"security_generation": view2["generation"]}

    # What moves the generation and what does not.
    def moves(fn) -> bool:
        before = generation(ctl)
        fn()
        return generation(ctl) > before

    assert moves(lambda: api.call("AuthorizeSecurityGroup", **tcp(web, 443)))
    assert not moves(lambda: api.call("AuthorizeSecurityGroup", **tcp(web, 443)))
    assert moves(lambda: api.call("RevokeSecurityGroup", **tcp(web, 443)))
    assert not moves(lambda: api.call("RevokeSecurityGroup", **tcp(web, 443)))
    assert not moves(lambda: api.call("ModifySecurityGroupAttribute", SecurityGroupId=web, SecurityGroupName="www"))
    assert not moves(lambda: new_group(api, "unused"))
    w2 = None

    def make():
        nonlocal w2
        w2 = create_instance(api, host, SecurityGroupId=web)

    assert moves(make)
    assert moves(lambda: delete_instance(api, w2, host))
    assert w2 not in host.view()["instances"]

    # Signed only, and by the host key.
    status, _ = ctl.agent_client("h-one").raw("GET", "/agent/v1/security-groups", signed=False)
    assert status == 401
    for iid in (w1, d1):
        delete_instance(api, iid, host)
    assert host.view()["instances"] == {}


def test_nudges(ctl, host, idle_host, api):
    web, lonely = new_group(api, "web"), new_group(api, "lonely")
    iid = create_instance(api, host, SecurityGroupId=web)
    wait_for(lambda: host.nudges(), 10, "a first nudge")

    # A change to a group with an instance on the host: the host is nudged, signed, {}.
    t0 = time.monotonic()
    api.call("AuthorizeSecurityGroup", **tcp(web, 8080))
    nudge = wait_for(lambda: host.nudges(t0), 10, "a nudge")[0]
    assert nudge["method"] == "POST" and nudge["signed"] and json.loads(nudge["body"]) == {}
    # A change no instance of a host feels does not nudge it.
    t1 = time.monotonic()
    api.call("AuthorizeSecurityGroup", **tcp(lonely, 8080))
    time.sleep(1.5)
    assert host.nudges(t1) == [] and idle_host.nudges() == []

    # An agent without the endpoint (404) or a slow one: the API call neither fails nor waits.
    # The slow host holds each nudge until released (at most 30 s), so an API call that waited
    # for it would take the nudge timeout, 15 s; the bound of 10 s for both calls is far from
    # that and from the milliseconds they take.
    try:
        host.sync_mode = "404"
        api.call("AuthorizeSecurityGroup", **tcp(web, 8081))
        host.sync_mode = "slow"
        host.release.clear()
        t2 = time.monotonic()
        api.call("AuthorizeSecurityGroup", **tcp(web, 8082))
        api.call("RevokeSecurityGroup", **tcp(web, 8082))
        took = time.monotonic() - t2
        assert took < 10, f"the API waited {took:.1f} s for a slow host's nudge"
        wait_for(lambda: host.nudges(t2), 10, "the slow nudge")
    finally:
        host.sync_mode = "pull"
        host.release.set()
    delete_instance(api, iid, host)


# ---------------------------------------------------------------- real agents


@pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces for the fake hosts need root")
def test_real_agents_instances_show_their_groups():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from agentlib import AgentClient
    from fakehosts import CONTROLLER_PORT, FakeCloud, HostSpec

    with FakeCloud(threads=8) as cloud:
        cloud.add_hosts([HostSpec("h-a"), HostSpec("h-b")])
        ecs = cloud.client()

        def call(action, **kw):
            return cloud.run(ecs.call, action, **kw)

        web = call("CreateSecurityGroup", SecurityGroupName="web")["SecurityGroupId"]
        call("AuthorizeSecurityGroup", **tcp(web, 80))
        ids = call("RunInstances", ImageId="tiny", InstanceType="ecs.t1.small", Amount=4,
                   **{"SecurityGroupIds.1": web})["InstanceIdSets"]["InstanceIdSet"]
        plain = call("CreateInstance", ImageId="tiny", InstanceType="ecs.t1.small")["InstanceId"]
        default = [g for g in call("DescribeSecurityGroups")["SecurityGroups"]["SecurityGroup"]
                   if g["SecurityGroupName"] == "default"][0]["SecurityGroupId"]

        def settled():
            insts = call("DescribeInstances", PageSize=100)["Instances"]["Instance"]
            return insts if all(i["Status"] in ("Running", "Stopped") for i in insts) else None

        insts = {i["InstanceId"]: i for i in wait_for(settled, 60, "the instances")}
        assert {i: insts[i]["SecurityGroupIds"]["SecurityGroupId"] for i in insts} == \
            {**{i: [web] for i in ids}, plain: [default]}
        assert sorted(i["InstanceId"] for i in call("DescribeInstances", SecurityGroupId=web)["Instances"]["Instance"]) \
            == sorted(ids)

        # Each host's view, as its agent pulls it.
        members = sorted(insts[i]["InnerIpAddress"]["IpAddress"][0] for i in ids)
        for h in ("h-a", "h-b"):
            client = AgentClient(f"http://127.0.0.1:{CONTROLLER_PORT}", cloud.host_key, timeout=30)
            status, view, _ = cloud.run(client.raw, "GET", "/agent/v1/security-groups", headers={"X-Ecs-Host-Id": h})
            assert status == 200, view
            here = {i for i, x in insts.items() if x["HostId"] == h}
            assert set(view["instances"]) == here
            by_id = {g["group_id"]: g for g in view["groups"]}
            if here & set(ids):
                assert by_id[web]["members"] == members
                assert by_id[web]["rules"][0]["port_range"] == "80/80"
