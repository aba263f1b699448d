"""AppendObject and object ACLs on ecs-ossd over the test Ceph cluster, with raw requests
signed by OSS's V1 algorithm (and boto3 for S3's view of an object ACL): positions,
PositionNotEqualToLength with x-oss-next-append-position, ObjectNotAppendable, reads across
appended parts and stripes, the replaced manifests and deleted parts collected by GC (read
with the rados binding), a second account and anonymous callers."""

import os
import time
import xml.etree.ElementTree as ET

import boto3
import pytest
import requests
from botocore.config import Config

from ossenv import running
from test_oss_api import err, ok
from test_oss_multipart import bucket_id, huge_put, ioctx, rados_objects, wait_collected  # noqa: F401

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def oss(ceph_cluster):
    yield from running(ceph_cluster, extra="gc_delay_s = 0\ngc_interval_s = 1\n")


def append(acct, bucket, key, pos, data, **kw):
    return acct.request("POST", bucket, key, query={"append": "", "position": pos}, data=data, **kw)


def test_append(oss, ioctx):  # noqa: F811
    alice, bob = oss.account("ap-alice"), oss.account("ap-bob")
    ok(alice.request("PUT", "ap-a"))
    bid = bucket_id(ioctx, "ap-a")
    pieces = [os.urandom(3 * MIB + 1), os.urandom(3 * MIB), b"end"]
    pos = 0
    for i, p in enumerate(pieces):
        hdr = {"x-oss-meta-n": "first", "Content-Type": "text/x-log"} if i == 0 else {}
        r = ok(append(alice, "ap-a", "log", pos, p, headers=hdr))
        pos += len(p)
        assert r.headers["x-oss-next-append-position"] == str(pos)
    whole = b"".join(pieces)
    r = append(alice, "ap-a", "log", 5, b"late")
    err(r, 409, "PositionNotEqualToLength")
    assert r.headers["x-oss-next-append-position"] == str(len(whole))
    g = ok(alice.request("GET", "ap-a", "log"))
    assert g.content == whole and g.headers["x-oss-object-type"] == "Appendable"
    assert g.headers["x-oss-meta-n"] == "first" and g.headers["Content-Type"] == "text/x-log"
    s = 3 * MIB - 2  # across the first part's end
    r = ok(alice.request("GET", "ap-a", "log", headers={"Range": f"bytes={s}-{s + 2 * MIB}"}), 206)
    assert r.content == whole[s:s + 2 * MIB + 1]
    listing = ET.fromstring(ok(alice.request("GET", "ap-a")).content)
    assert listing.findtext("Contents/Type") == "Appendable"
    # the errors
    ok(alice.request("PUT", "ap-a", "plain", data=b"x"))
    err(append(alice, "ap-a", "plain", 1, b"y"), 409, "ObjectNotAppendable")
    err(append(alice, "ap-a", "new", 3, b"y"), 409, "PositionNotEqualToLength")
    err(alice.request("POST", "ap-a", "new", query={"append": ""}, data=b"y"), 400, "InvalidArgument")
    err(append(alice, "ap-a", "new", -1, b"y"), 400, "InvalidArgument")
    err(append(bob, "ap-a", "log", len(whole), b"bob"), 403, "AccessDenied")
    status, body = huge_put(oss, alice, "ap-a", "big", {"append": "", "position": "0"}, method="POST")
    assert status == 400 and b"EntityTooLarge" in body
    err(append(alice, "ap-a", "log", len(whole), b"anon", anonymous=True), 403, "AccessDenied")
    # only the newest manifest is left, and a stripe per part (each under 4 MiB), and plain's
    for _ in range(120):
        if len(rados_objects(ioctx, bid)) == 1 + 3 + 1:
            break
        time.sleep(0.5)
    assert len(rados_objects(ioctx, bid)) == 5, rados_objects(ioctx, bid)
    assert ok(alice.request("GET", "ap-a", "log")).content == whole
    # a PUT replaces an appendable object with a normal one
    ok(alice.request("PUT", "ap-a", "log", data=b"fresh"))
    err(append(alice, "ap-a", "log", 5, b"more"), 409, "ObjectNotAppendable")
    for k in ("log", "plain"):
        ok(alice.request("DELETE", "ap-a", k), 204)
    wait_collected(ioctx, bid)
    ok(alice.request("DELETE", "ap-a"), 204)


def test_object_acl(oss):
    alice, bob = oss.account("acl-alice"), oss.account("acl-bob")
    ok(alice.request("PUT", "ap-acl"))
    ok(alice.request("PUT", "ap-acl", "o", data=b"obj"))
    acl = ET.fromstring(ok(alice.request("GET", "ap-acl", "o", query={"acl": ""})).content)
    assert acl.findtext("AccessControlList/Grant") == "default" and acl.findtext("Owner/ID") == alice.account_id
    err(requests.get(f"{oss.endpoint}/ap-acl/o"), 403, "AccessDenied")
    ok(alice.request("PUT", "ap-acl", "o", query={"acl": ""}, headers={"x-oss-object-acl": "public-read"}))
    assert ok(requests.get(f"{oss.endpoint}/ap-acl/o")).content == b"obj"
    assert ok(bob.request("GET", "ap-acl", "o")).content == b"obj"
    acl = ET.fromstring(ok(alice.request("GET", "ap-acl", "o", query={"acl": ""})).content)
    assert acl.findtext("AccessControlList/Grant") == "public-read"
    err(bob.request("PUT", "ap-acl", "o", query={"acl": ""}, headers={"x-oss-object-acl": "private"}), 403,
        "AccessDenied")
    err(bob.request("GET", "ap-acl", "o", query={"acl": ""}), 403, "AccessDenied")
    err(alice.request("PUT", "ap-acl", "o", query={"acl": ""}, headers={"x-oss-object-acl": "bogus"}), 400,
        "InvalidArgument")
    err(alice.request("PUT", "ap-acl", "none", query={"acl": ""}, headers={"x-oss-object-acl": "private"}), 404,
        "NoSuchKey")
    err(alice.request("GET", "ap-acl", "none", query={"acl": ""}), 404, "NoSuchKey")
    # S3's view: grants, and x-amz-acl to change it
    s3 = boto3.client("s3", endpoint_url=oss.endpoint, aws_access_key_id=alice.ak,
                      aws_secret_access_key=alice.secret, region_name="us-east-1",
                      config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    grants = s3.get_object_acl(Bucket="ap-acl", Key="o")["Grants"]
    assert sorted(g["Permission"] for g in grants) == ["FULL_CONTROL", "READ"]
    s3.put_object_acl(Bucket="ap-acl", Key="o", ACL="private")
    assert [g["Permission"] for g in s3.get_object_acl(Bucket="ap-acl", Key="o")["Grants"]] == ["FULL_CONTROL"]
    assert [g["Permission"] for g in s3.get_bucket_acl(Bucket="ap-acl")["Grants"]] == ["FULL_CONTROL"]
    err(requests.get(f"{oss.endpoint}/ap-acl/o"), 403, "AccessDenied")
    ok(alice.request("PUT", "ap-acl", "o", query={"acl": ""}, headers={"x-oss-object-acl": "default"}))
    err(bob.request("GET", "ap-acl", "o"), 403, "AccessDenied")
    ok(alice.request("DELETE", "ap-acl", "o"), 204)
    ok(alice.request("DELETE", "ap-acl"), 204)
