"""ecs-ossd's multipart uploads over the test Ceph cluster, with raw requests signed by OSS's
V1 algorithm (tests/e2e/ossenv.py): Initiate, UploadPart (replacing a part), UploadPartCopy,
ListParts, ListMultipartUploads with paging, Complete and its errors (InvalidPart,
InvalidPartOrder, EntityTooSmall), Abort, the limits, a second account, and the RADOS objects
of aborted, replaced and deleted parts collected by GC (read with the rados binding)."""

import email.utils
import hashlib
import http.client
import json
import os
import time
import urllib.parse
import xml.etree.ElementTree as ET

import pytest

from ossenv import alice, bob, running  # noqa: F401 (fixtures)
from test_oss_api import err, ok

KIB = 1024


@pytest.fixture(scope="module")
def oss(ceph_cluster):
    yield from running(ceph_cluster, extra="gc_delay_s = 0\ngc_interval_s = 1\n")


@pytest.fixture(scope="module")
def ioctx(ceph_cluster):
    cluster = ceph_cluster.rados_connect("client.admin")
    try:
        io = cluster.open_ioctx("ecs-oss")
        yield io
        io.close()
    finally:
        cluster.shutdown()


def bucket_id(io, name):
    import rados

    with rados.ReadOpCtx() as op:
        it, _ = io.get_omap_vals_by_keys(op, (name,))
        io.operate_read_op(op, "oss.buckets")
        return json.loads(dict(it)[name])["id"]


def rados_objects(io, bid):
    return sorted(o.key for o in io.list_objects()
                  if o.key.startswith((f"oss.data.{bid}.", f"oss.manifest.{bid}.", f"oss.parts.{bid}.")))


def wait_collected(io, bid, keep=()):
    """GC runs every second with no delay: wait (bounded) until only keep's objects are left."""
    for _ in range(120):
        left = [k for k in rados_objects(io, bid) if not any(k.startswith(p) for p in keep)]
        if not left:
            return
        time.sleep(0.5)
    raise AssertionError(f"not collected: {left[:10]}")


def huge_put(oss, acct, bucket, key, query, method="PUT"):
    """A signed request announcing 5 GiB + 1 bytes and sending none: the answer comes first."""
    date = email.utils.formatdate(usegmt=True)
    headers = {"x-oss-date": date, "Content-Type": "application/octet-stream", "Content-Length": str(5 * 2**30 + 1)}
    sts = acct.string_to_sign(method, bucket, key, headers, query, date)
    headers["Authorization"] = f"OSS {acct.ak}:{acct.sign(sts)}"
    conn = http.client.HTTPConnection("127.0.0.1", oss.port, timeout=60)
    try:
        conn.putrequest(method, f"/{bucket}/{key}?" + urllib.parse.urlencode(query))
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.endheaders()
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def init(acct, bucket, key, **headers):
    r = ok(acct.request("POST", bucket, key, query={"uploads": ""}, headers=headers, data=b""))
    root = ET.fromstring(r.content)
    assert root.findtext("Bucket") == bucket and root.findtext("Key") == key
    return root.findtext("UploadId")


def part(acct, bucket, key, uid, n, data):
    r = ok(acct.request("PUT", bucket, key, query={"partNumber": n, "uploadId": uid}, data=data))
    assert r.headers["ETag"] == '"' + hashlib.md5(data).hexdigest().upper() + '"'
    return r.headers["ETag"]


def complete_xml(parts):
    return ("<CompleteMultipartUpload>" + "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>"
                                                  for n, e in parts) + "</CompleteMultipartUpload>").encode()


def complete(acct, bucket, key, uid, parts):
    return acct.request("POST", bucket, key, query={"uploadId": uid}, data=complete_xml(parts),
                        headers={"Content-Type": "application/xml"})


def test_upload_complete_read_and_collect(oss, alice, ioctx):
    ok(alice.request("PUT", "mp-a"))
    bid = bucket_id(ioctx, "mp-a")
    uid = init(alice, "mp-a", "big.bin", **{"x-oss-meta-kind": "parts", "Content-Type": "application/x-mp"})
    p1, p2, p3 = os.urandom(200 * KIB), os.urandom(5 * 1024 * KIB + 11), b"tail-bytes"
    e1 = part(alice, "mp-a", "big.bin", uid, 1, p1)
    part(alice, "mp-a", "big.bin", uid, 2, os.urandom(150 * KIB))  # replaced below
    e2 = part(alice, "mp-a", "big.bin", uid, 2, p2)
    e3 = part(alice, "mp-a", "big.bin", uid, 3, p3)
    part(alice, "mp-a", "big.bin", uid, 7, os.urandom(120 * KIB))  # never used
    lp = ET.fromstring(ok(alice.request("GET", "mp-a", "big.bin", query={"uploadId": uid})).content)
    assert [(p.findtext("PartNumber"), p.findtext("Size")) for p in lp.iter("Part")] == \
        [("1", str(len(p1))), ("2", str(len(p2))), ("3", str(len(p3))), ("7", str(120 * KIB))]
    page = ET.fromstring(ok(alice.request("GET", "mp-a", "big.bin",
                                          query={"uploadId": uid, "max-parts": 2, "part-number-marker": 1})).content)
    assert [p.findtext("PartNumber") for p in page.iter("Part")] == ["2", "3"]
    assert page.findtext("IsTruncated") == "true" and page.findtext("NextPartNumberMarker") == "3"
    # Complete's checks
    err(complete(alice, "mp-a", "big.bin", uid, [(2, e2), (1, e1)]), 400, "InvalidPartOrder")
    err(complete(alice, "mp-a", "big.bin", uid, [(1, e1), (2, e3)]), 400, "InvalidPart")
    err(complete(alice, "mp-a", "big.bin", uid, [(1, e1), (4, e3)]), 400, "InvalidPart")
    err(complete(alice, "mp-a", "big.bin", uid, [(3, e3), (7, e1)]), 400, "InvalidPart")
    small = part(alice, "mp-a", "big.bin", uid, 5, b"x" * 1000)
    err(complete(alice, "mp-a", "big.bin", uid, [(1, e1), (5, small), (7, e3)]), 400, "InvalidPart")
    r = complete(alice, "mp-a", "big.bin", uid, [(3, e3), (5, small)])
    err(r, 400, "EntityTooSmall")
    err(alice.request("POST", "mp-a", "big.bin", query={"uploadId": uid}, data=b"<Complete>"), 400, "MalformedXML")
    r = ok(complete(alice, "mp-a", "big.bin", uid, [(1, e1), (2, e2), (3, e3)]))
    want = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in (p1, p2, p3))).hexdigest().upper() + "-3"
    assert ET.fromstring(r.content).findtext("ETag") == f'"{want}"'
    err(complete(alice, "mp-a", "big.bin", uid, [(1, e1)]), 404, "NoSuchUpload")
    whole = p1 + p2 + p3
    g = ok(alice.request("GET", "mp-a", "big.bin"))
    assert g.content == whole and g.headers["ETag"] == f'"{want}"'
    assert g.headers["x-oss-object-type"] == "Multipart" and g.headers["x-oss-meta-kind"] == "parts"
    assert g.headers["Content-Type"] == "application/x-mp"
    s = len(p1) - 3  # a range across two parts and a stripe
    r = ok(alice.request("GET", "mp-a", "big.bin", headers={"Range": f"bytes={s}-{s + 4 * 1024 * KIB}"}), 206)
    assert r.content == whole[s:s + 4 * 1024 * KIB + 1]
    r = ok(alice.request("GET", "mp-a", "big.bin", headers={"Range": "bytes=-12"}), 206)
    assert r.content == whole[-12:]
    assert ok(alice.request("HEAD", "mp-a", "big.bin")).headers["Content-Length"] == str(len(whole))
    listing = ET.fromstring(ok(alice.request("GET", "mp-a")).content)
    assert listing.findtext("Contents/ETag") == f'"{want}"' and listing.findtext("Contents/Type") == "Multipart"
    # a copy of a multipart object is a plain one
    ok(alice.request("PUT", "mp-a", "copy.bin", headers={"x-oss-copy-source": "/mp-a/big.bin"}))
    assert ok(alice.request("GET", "mp-a", "copy.bin")).content == whole
    # the parts not used (7, 5 and the first part 2) are collected; the used ones stay
    manifest = [k for k in rados_objects(ioctx, bid) if k.startswith(f"oss.manifest.{bid}.")]
    assert len(manifest) == 1
    for _ in range(120):
        if len(rados_objects(ioctx, bid)) == 1 + 1 + 2 + 1 + 2:  # manifest, part 1, part 2 (2), 3, copy (2)
            break
        time.sleep(0.5)
    assert len(rados_objects(ioctx, bid)) == 7, rados_objects(ioctx, bid)
    assert not [k for k in rados_objects(ioctx, bid) if k.startswith(f"oss.parts.{bid}.")]
    ok(alice.request("DELETE", "mp-a", "big.bin"), 204)
    ok(alice.request("DELETE", "mp-a", "copy.bin"), 204)
    wait_collected(ioctx, bid)
    ok(alice.request("DELETE", "mp-a"), 204)


def test_abort_list_copy_and_limits(oss, alice, ioctx):
    ok(alice.request("PUT", "mp-b"))
    bid = bucket_id(ioctx, "mp-b")
    src = os.urandom(300 * KIB)
    ok(alice.request("PUT", "mp-b", "src", data=src))
    uids = {k: init(alice, "mp-b", k) for k in ("a/1", "a/2", "b", "c")}
    u2 = init(alice, "mp-b", "b")
    # ListMultipartUploads: all, paged one at a time, with a delimiter
    r = ET.fromstring(ok(alice.request("GET", "mp-b", query={"uploads": ""})).content)
    got = [(u.findtext("Key"), u.findtext("UploadId")) for u in r.iter("Upload")]
    assert got == sorted([(k, v) for k, v in uids.items()] + [("b", u2)])
    seen, km, im = [], "", ""
    for _ in range(10):
        r = ET.fromstring(ok(alice.request("GET", "mp-b", query={"uploads": "", "max-uploads": 1, "key-marker": km,
                                                                 "upload-id-marker": im})).content)
        seen += [(u.findtext("Key"), u.findtext("UploadId")) for u in r.iter("Upload")]
        if r.findtext("IsTruncated") == "false":
            break
        km, im = r.findtext("NextKeyMarker"), r.findtext("NextUploadIdMarker")
    assert seen == got
    r = ET.fromstring(ok(alice.request("GET", "mp-b", query={"uploads": "", "delimiter": "/"})).content)
    assert [p.findtext("Prefix") for p in r.iter("CommonPrefixes")] == ["a/"]
    assert sorted(u.findtext("Key") for u in r.iter("Upload")) == ["b", "b", "c"]
    seen, km, im = [], "", ""  # paged one entry at a time, the prefix counting as one
    for _ in range(10):
        r = ET.fromstring(ok(alice.request("GET", "mp-b", query={"uploads": "", "delimiter": "/", "max-uploads": 1,
                                                                 "key-marker": km, "upload-id-marker": im})).content)
        seen += [p.findtext("Prefix") for p in r.iter("CommonPrefixes")] + [u.findtext("Key") for u in r.iter("Upload")]
        if r.findtext("IsTruncated") == "false":
            break
        km, im = r.findtext("NextKeyMarker"), r.findtext("NextUploadIdMarker")
    assert seen == ["a/", "b", "b", "c"]
    # UploadPartCopy, whole and a range
    uid = uids["c"]
    r = ok(alice.request("PUT", "mp-b", "c", query={"partNumber": 1, "uploadId": uid},
                         headers={"x-oss-copy-source": "/mp-b/src"}))
    e1 = ET.fromstring(r.content).findtext("ETag")
    assert e1 == '"' + hashlib.md5(src).hexdigest().upper() + '"'
    r = ok(alice.request("PUT", "mp-b", "c", query={"partNumber": 2, "uploadId": uid},
                         headers={"x-oss-copy-source": "/mp-b/src", "x-oss-copy-source-range": "bytes=10-19"}))
    e2 = ET.fromstring(r.content).findtext("ETag")
    ok(complete(alice, "mp-b", "c", uid, [(1, e1), (2, e2)]))
    assert ok(alice.request("GET", "mp-b", "c")).content == src + src[10:20]
    # forbidden to overwrite: the upload ends, the object stays, its parts are collected
    uf = init(alice, "mp-b", "c")
    ef = part(alice, "mp-b", "c", uf, 1, b"f" * 10)
    err(alice.request("POST", "mp-b", "c", query={"uploadId": uf}, data=complete_xml([(1, ef)]),
                      headers={"x-oss-forbid-overwrite": "true", "Content-Type": "application/xml"}), 409,
        "FileAlreadyExists")
    err(alice.request("GET", "mp-b", "c", query={"uploadId": uf}), 404, "NoSuchUpload")
    assert ok(alice.request("GET", "mp-b", "c")).content == src + src[10:20]
    # limits
    for n in (0, 10001, "x"):
        err(alice.request("PUT", "mp-b", "b", query={"partNumber": n, "uploadId": u2}, data=b"x"), 400,
            "InvalidArgument")
    err(alice.request("PUT", "mp-b", "b", query={"partNumber": 1, "uploadId": "0" * 32}, data=b"x"), 404,
        "NoSuchUpload")
    err(alice.request("PUT", "mp-b", "c", query={"partNumber": 1, "uploadId": u2}, data=b"x"), 404, "NoSuchUpload")
    err(alice.request("GET", "mp-b", "b", query={"uploadId": u2, "max-parts": 1001}), 400, "InvalidArgument")
    err(alice.request("GET", "mp-b", query={"uploads": "", "max-uploads": 0}), 400, "InvalidArgument")
    err(alice.request("GET", "mp-b", query={"uploads": "", "max-uploads": 1001}), 400, "InvalidArgument")
    status, body = huge_put(oss, alice, "mp-b", "b", {"partNumber": "1", "uploadId": u2})
    assert status == 400 and b"EntityTooLarge" in body  # a part over 5 GiB is refused before its body
    too_many = [(n, "0" * 32) for n in range(1, 10002)]
    err(complete(alice, "mp-b", "b", u2, too_many), 400, "MalformedXML")
    # a bucket with uploads in progress is not empty
    ok(alice.request("DELETE", "mp-b", "src"), 204)
    ok(alice.request("DELETE", "mp-b", "c"), 204)
    err(alice.request("DELETE", "mp-b"), 409, "BucketNotEmpty")
    # Abort: the parts are collected
    part(alice, "mp-b", "b", u2, 1, os.urandom(5 * 1024 * KIB))
    part(alice, "mp-b", "b", u2, 2, b"z")
    ok(alice.request("DELETE", "mp-b", "b", query={"uploadId": u2}), 204)
    err(alice.request("DELETE", "mp-b", "b", query={"uploadId": u2}), 404, "NoSuchUpload")
    err(alice.request("GET", "mp-b", "b", query={"uploadId": u2}), 404, "NoSuchUpload")
    for k, v in uids.items():
        if k != "c":
            ok(alice.request("DELETE", "mp-b", k, query={"uploadId": v}), 204)
    wait_collected(ioctx, bid)
    assert ET.fromstring(ok(alice.request("GET", "mp-b", query={"uploads": ""})).content).find("Upload") is None
    ok(alice.request("DELETE", "mp-b"), 204)


def test_second_account(oss, alice, bob):
    ok(alice.request("PUT", "mp-c"))
    ok(bob.request("PUT", "mp-bob"))
    uid = init(alice, "mp-c", "k")
    e1 = part(alice, "mp-c", "k", uid, 1, b"alice")
    err(bob.request("POST", "mp-c", "k", query={"uploads": ""}, data=b""), 403, "AccessDenied")
    err(bob.request("PUT", "mp-c", "k", query={"partNumber": 1, "uploadId": uid}, data=b"bob"), 403, "AccessDenied")
    err(bob.request("GET", "mp-c", "k", query={"uploadId": uid}), 403, "AccessDenied")
    err(bob.request("GET", "mp-c", query={"uploads": ""}), 403, "AccessDenied")
    err(complete(bob, "mp-c", "k", uid, [(1, e1)]), 403, "AccessDenied")
    err(bob.request("DELETE", "mp-c", "k", query={"uploadId": uid}), 403, "AccessDenied")
    err(alice.request("POST", "mp-c", "k", query={"uploads": ""}, data=b"", anonymous=True), 403, "AccessDenied")
    # alice's upload id in bob's bucket is no upload of his
    err(bob.request("PUT", "mp-bob", "k", query={"partNumber": 1, "uploadId": uid}, data=b"bob"), 404, "NoSuchUpload")
    err(complete(bob, "mp-bob", "k", uid, [(1, e1)]), 404, "NoSuchUpload")
    err(bob.request("DELETE", "mp-bob", "k", query={"uploadId": uid}), 404, "NoSuchUpload")
    # On a public-read bucket ListParts and ListMultipartUploads need read access only
    # (anonymous too); the rest still needs write access.
    ok(alice.request("PUT", "mp-c", query={"acl": ""}, headers={"x-oss-acl": "public-read"}))
    for who in ({}, {"anonymous": True}):
        lp = ET.fromstring(ok(bob.request("GET", "mp-c", "k", query={"uploadId": uid}, **who)).content)
        assert [p.findtext("PartNumber") for p in lp.iter("Part")] == ["1"]
        lu = ET.fromstring(ok(bob.request("GET", "mp-c", query={"uploads": ""}, **who)).content)
        assert [u.findtext("UploadId") for u in lu.iter("Upload")] == [uid]
    err(bob.request("PUT", "mp-c", "k", query={"partNumber": 2, "uploadId": uid}, data=b"bob"), 403, "AccessDenied")
    err(bob.request("DELETE", "mp-c", "k", query={"uploadId": uid}), 403, "AccessDenied")
    err(bob.request("POST", "mp-c", "k2", query={"uploads": ""}, data=b""), 403, "AccessDenied")
    ok(alice.request("PUT", "mp-c", query={"acl": ""}, headers={"x-oss-acl": "private"}))
    # bob cannot copy alice's private object into a part of his own upload
    ok(alice.request("PUT", "mp-c", "secret", data=b"s" * 10))
    ub = init(bob, "mp-bob", "k")
    err(bob.request("PUT", "mp-bob", "k", query={"partNumber": 1, "uploadId": ub},
                    headers={"x-oss-copy-source": "/mp-c/secret"}), 403, "AccessDenied")
    ok(complete(alice, "mp-c", "k", uid, [(1, e1)]))
    assert ok(alice.request("GET", "mp-c", "k")).content == b"alice"
    ok(bob.request("DELETE", "mp-bob", "k", query={"uploadId": ub}), 204)
    for k in ("k", "secret"):
        ok(alice.request("DELETE", "mp-c", k), 204)
    ok(alice.request("DELETE", "mp-c"), 204)
    ok(bob.request("DELETE", "mp-bob"), 204)
