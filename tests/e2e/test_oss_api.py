"""ecs-ossd's OSS API over the test Ceph cluster, with raw HTTP requests signed by OSS's V1
algorithm (tests/e2e/ossenv.py): buckets, objects, listings, ranges, conditions, copies,
ACLs across two accounts and anonymous callers, errors and limits. No guests: no lock."""

import base64
import hashlib
import os
import xml.etree.ElementTree as ET

import requests

from ossenv import alice, bob, oss  # noqa: F401 (fixtures)


def err(r, status, code):
    assert r.status_code == status, (r.status_code, r.text)
    root = ET.fromstring(r.content)
    assert root.tag == "Error" and root.findtext("Code") == code, r.text
    assert root.findtext("RequestId") == r.headers["x-oss-request-id"]
    assert root.find("HostId") is not None and root.find("Message") is not None


def ok(r, status=200):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers.get("x-oss-request-id")
    return r


def test_bucket_lifecycle_and_names(oss, alice, bob):
    ok(alice.request("PUT", "alice-b1"))
    ok(alice.request("PUT", "alice-b1"))  # the owner again: no error
    err(bob.request("PUT", "alice-b1"), 409, "BucketAlreadyExists")  # names are global
    for bad in ("ab", "Upper", "-dash", "dash-", "a" * 64, "under_score"):
        err(alice.request("PUT", bad), 400, "InvalidBucketName")
    listing = ET.fromstring(ok(alice.request("GET")).content)
    assert [b.findtext("Name") for b in listing.iter("Bucket")] == ["alice-b1"]
    assert listing.findtext("Owner/ID") == alice.account_id
    assert [b.findtext("Name") for b in ET.fromstring(ok(bob.request("GET")).content).iter("Bucket")] == []
    err(alice.request("GET", anonymous=True), 403, "AccessDenied")
    loc = ET.fromstring(ok(alice.request("GET", "alice-b1", query={"location": ""})).content)
    assert loc.text == "oss-cn-local"
    info = ET.fromstring(ok(alice.request("GET", "alice-b1", query={"bucketInfo": ""})).content)
    assert info.findtext("Bucket/Name") == "alice-b1"
    assert info.findtext("Bucket/AccessControlList/Grant") == "private"
    err(bob.request("GET", "alice-b1", query={"bucketInfo": ""}), 403, "AccessDenied")
    err(alice.request("GET", "no-such-bucket-x"), 404, "NoSuchBucket")
    ok(alice.request("PUT", "alice-b1", "k", data=b"x"))
    err(alice.request("DELETE", "alice-b1"), 409, "BucketNotEmpty")
    err(bob.request("DELETE", "alice-b1"), 403, "AccessDenied")
    ok(alice.request("DELETE", "alice-b1", "k"), 204)
    ok(alice.request("DELETE", "alice-b1"), 204)
    err(alice.request("GET", "alice-b1"), 404, "NoSuchBucket")
    ok(bob.request("PUT", "alice-b1"))  # free again
    ok(bob.request("DELETE", "alice-b1"), 204)


def test_auth_errors(oss, alice):
    ok(alice.request("PUT", "alice-auth"))
    err(alice.request("GET", "alice-auth", secret="wrong-secret-123"), 403, "SignatureDoesNotMatch")
    r = requests.get(oss.endpoint + "/alice-auth", headers={"Authorization": "OSS LTAInosuchkey:abc=",
                                                            "x-oss-date": "Sun, 06 Dec 2026 00:00:00 GMT"})
    assert r.status_code == 403
    err(alice.request("GET", "alice-auth", date="Mon, 01 Jan 2001 00:00:00 GMT"), 403, "RequestTimeTooSkewed")
    err(alice.request("GET", "alice-auth", anonymous=True), 403, "AccessDenied")
    r = requests.get(oss.endpoint + "/alice-auth", headers={"Authorization": "Bearer x"})
    err(r, 400, "InvalidArgument")
    ok(alice.request("DELETE", "alice-auth"), 204)


def test_objects(oss, alice):
    ok(alice.request("PUT", "alice-obj"))
    body = os.urandom(9 * 1024 * 1024 + 17)  # three stripes
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    r = ok(alice.request("PUT", "alice-obj", "dir/big.bin", data=body,
                         headers={"Content-MD5": md5, "Content-Type": "application/x-test",
                                  "x-oss-meta-Color": "blue"}))
    etag = '"' + hashlib.md5(body).hexdigest().upper() + '"'
    assert r.headers["ETag"] == etag
    g = ok(alice.request("GET", "alice-obj", "dir/big.bin"))
    assert g.content == body and g.headers["Content-Type"] == "application/x-test"
    assert g.headers["ETag"] == etag and g.headers["x-oss-meta-color"] == "blue"
    h = ok(alice.request("HEAD", "alice-obj", "dir/big.bin"))
    assert int(h.headers["Content-Length"]) == len(body) and h.content == b""
    m = ok(alice.request("GET", "alice-obj", "dir/big.bin", query={"objectMeta": ""}))
    assert m.headers["x-oss-object-size"] == str(len(body))
    # ranges, across a stripe boundary
    s = 4 * 1024 * 1024 - 5
    r = ok(alice.request("GET", "alice-obj", "dir/big.bin", headers={"Range": f"bytes={s}-{s + 9}"}), 206)
    assert r.content == body[s:s + 10] and r.headers["Content-Range"] == f"bytes {s}-{s + 9}/{len(body)}"
    r = ok(alice.request("GET", "alice-obj", "dir/big.bin", headers={"Range": "bytes=-7"}), 206)
    assert r.content == body[-7:]
    r = ok(alice.request("GET", "alice-obj", "dir/big.bin", headers={"Range": f"bytes={len(body)}-"}))
    assert len(r.content) == len(body)  # OSS ignores a range it cannot satisfy
    err(alice.request("GET", "alice-obj", "dir/big.bin",
                      headers={"Range": f"bytes={len(body)}-", "x-oss-range-behavior": "standard"}), 416,
        "InvalidRange")
    # conditions
    assert alice.request("GET", "alice-obj", "dir/big.bin", headers={"If-None-Match": etag}).status_code == 304
    err(alice.request("GET", "alice-obj", "dir/big.bin", headers={"If-Match": '"00"'}), 412, "PreconditionFailed")
    assert alice.request("GET", "alice-obj", "dir/big.bin",
                         headers={"If-Modified-Since": g.headers["Last-Modified"]}).status_code == 304
    err(alice.request("GET", "alice-obj", "dir/big.bin",
                      headers={"If-Unmodified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}), 412, "PreconditionFailed")
    # response-* overrides
    r = ok(alice.request("GET", "alice-obj", "dir/big.bin",
                         query={"response-content-type": "text/x-over", "response-content-disposition": "inline"}))
    assert r.headers["Content-Type"] == "text/x-over" and r.headers["Content-Disposition"] == "inline"
    # Content-MD5 checked, forbid-overwrite
    err(alice.request("PUT", "alice-obj", "bad-md5", data=b"abc", headers={"Content-MD5": md5}), 400, "InvalidDigest")
    err(alice.request("GET", "alice-obj", "bad-md5"), 404, "NoSuchKey")
    err(alice.request("PUT", "alice-obj", "dir/big.bin", data=b"new", headers={"x-oss-forbid-overwrite": "true"}),
        409, "FileAlreadyExists")
    ok(alice.request("PUT", "alice-obj", "dir/big.bin", data=b"new"))
    assert ok(alice.request("GET", "alice-obj", "dir/big.bin")).content == b"new"
    # copy, with metadata kept and replaced
    r = ok(alice.request("PUT", "alice-obj", "copy", headers={"x-oss-copy-source": "/alice-obj/dir/big.bin"}))
    assert ET.fromstring(r.content).findtext("ETag") == '"' + hashlib.md5(b"new").hexdigest().upper() + '"'
    ok(alice.request("PUT", "alice-obj", "copy2", headers={"x-oss-copy-source": "/alice-obj/copy",
                                                           "x-oss-metadata-directive": "REPLACE",
                                                           "x-oss-meta-k": "v2", "Content-Type": "text/plain"}))
    g = ok(alice.request("GET", "alice-obj", "copy2"))
    assert g.content == b"new" and g.headers["x-oss-meta-k"] == "v2" and g.headers["Content-Type"] == "text/plain"
    # keys
    err(alice.request("PUT", "alice-obj", "k" * 1024, data=b"x"), 400, "KeyTooLong")
    err(alice.request("GET", "alice-obj", "nope"), 404, "NoSuchKey")
    ok(alice.request("DELETE", "alice-obj", "nope"), 204)
    # DeleteMultipleObjects
    xml = "<Delete><Quiet>false</Quiet>" + "".join(f"<Object><Key>{k}</Key></Object>"
                                                    for k in ("copy", "copy2", "dir/big.bin")) + "</Delete>"
    r = ok(alice.request("POST", "alice-obj", query={"delete": ""}, data=xml.encode(),
                         headers={"Content-Type": "application/xml"}))
    assert sorted(k.text for k in ET.fromstring(r.content).iter("Key")) == ["copy", "copy2", "dir/big.bin"]
    err(alice.request("POST", "alice-obj", query={"delete": ""}, data=b"<Delete>", headers={"Content-Type": "a/b"}),
        400, "MalformedXML")
    ok(alice.request("DELETE", "alice-obj"), 204)


def test_listing(oss, alice):
    ok(alice.request("PUT", "alice-list"))
    keys = [f"a/{i:03d}" for i in range(30)] + ["b/x", "b/y/z", "c", "d e+f", "é/1"]
    for k in keys:
        ok(alice.request("PUT", "alice-list", k, data=k.encode()))
    got, marker = [], ""
    for _ in range(20):
        r = ET.fromstring(ok(alice.request("GET", "alice-list", query={"max-keys": 7, "marker": marker})).content)
        got += [c.findtext("Key") for c in r.iter("Contents")]
        if r.findtext("IsTruncated") == "false":
            break
        marker = r.findtext("NextMarker")
    assert got == sorted(keys, key=lambda s: s.encode())
    r = ET.fromstring(ok(alice.request("GET", "alice-list", query={"delimiter": "/"})).content)
    assert [p.text for p in r.iter("Prefix")][1:] == ["a/", "b/", "é/"]
    assert [c.findtext("Key") for c in r.iter("Contents")] == ["c", "d e+f"]
    r = ET.fromstring(ok(alice.request("GET", "alice-list", query={"delimiter": "/", "prefix": "b/"})).content)
    assert [c.findtext("Key") for c in r.iter("Contents")] == ["b/x"]
    assert [p.findtext("Prefix") for p in r.iter("CommonPrefixes")] == ["b/y/"]
    # paging across common prefixes
    r = ET.fromstring(ok(alice.request("GET", "alice-list", query={"delimiter": "/", "max-keys": 2})).content)
    assert r.findtext("IsTruncated") == "true" and r.findtext("NextMarker") == "b/"
    r = ET.fromstring(ok(alice.request("GET", "alice-list", query={"delimiter": "/", "marker": "b/"})).content)
    assert [c.findtext("Key") for c in r.iter("Contents")] == ["c", "d e+f"]
    r = ET.fromstring(ok(alice.request("GET", "alice-list", query={"prefix": "d", "encoding-type": "url"})).content)
    assert [c.findtext("Key") for c in r.iter("Contents")] == ["d%20e%2Bf"]
    # V2
    got, token = [], None
    for _ in range(20):
        q = {"list-type": "2", "max-keys": 10}
        if token:
            q["continuation-token"] = token
        r = ET.fromstring(ok(alice.request("GET", "alice-list", query=q)).content)
        got += [c.findtext("Key") for c in r.iter("Contents")]
        if r.findtext("IsTruncated") == "false":
            break
        token = r.findtext("NextContinuationToken")
    assert got == sorted(keys, key=lambda s: s.encode())
    for bad in (0, 1001, "x"):
        err(alice.request("GET", "alice-list", query={"max-keys": bad}), 400, "InvalidArgument")
    xml = "<Delete><Quiet>true</Quiet>" + "".join(f"<Object><Key>{k}</Key></Object>" for k in keys) + "</Delete>"
    r = ok(alice.request("POST", "alice-list", query={"delete": ""}, data=xml.encode("utf-8"),
                         headers={"Content-Type": "application/xml"}))
    assert list(ET.fromstring(r.content).iter("Deleted")) == []
    ok(alice.request("DELETE", "alice-list"), 204)


def test_acls_two_accounts_and_anonymous(oss, alice, bob):
    ok(alice.request("PUT", "alice-acl"))
    ok(alice.request("PUT", "alice-acl", "secret.txt", data=b"mine"))
    for who in (bob, None):
        call = (lambda *a, **k: bob.request(*a, **k)) if who else (lambda *a, **k: alice.request(*a, anonymous=True, **k))
        err(call("GET", "alice-acl", "secret.txt"), 403, "AccessDenied")
        err(call("GET", "alice-acl"), 403, "AccessDenied")
        err(call("PUT", "alice-acl", "x", data=b"x"), 403, "AccessDenied")
        err(call("DELETE", "alice-acl", "secret.txt"), 403, "AccessDenied")
        err(call("GET", "alice-acl", query={"acl": ""}), 403, "AccessDenied")
        err(call("PUT", "alice-acl", query={"acl": ""}, headers={"x-oss-acl": "public-read-write"}), 403,
            "AccessDenied")
    ok(alice.request("PUT", "alice-acl", query={"acl": ""}, headers={"x-oss-acl": "public-read"}))
    acl = ET.fromstring(ok(alice.request("GET", "alice-acl", query={"acl": ""})).content)
    assert acl.findtext("AccessControlList/Grant") == "public-read"
    assert ok(bob.request("GET", "alice-acl", "secret.txt")).content == b"mine"
    assert ok(requests.get(f"{oss.endpoint}/alice-acl/secret.txt")).content == b"mine"
    err(bob.request("PUT", "alice-acl", "x", data=b"x"), 403, "AccessDenied")
    ok(alice.request("PUT", "alice-acl", query={"acl": ""}, headers={"x-oss-acl": "public-read-write"}))
    ok(requests.put(f"{oss.endpoint}/alice-acl/anon.txt", data=b"anon"))
    ok(alice.request("PUT", "alice-acl", query={"acl": ""}, headers={"x-oss-acl": "private"}))
    err(requests.get(f"{oss.endpoint}/alice-acl/anon.txt"), 403, "AccessDenied")
    # an object's own ACL
    ok(alice.request("PUT", "alice-acl", "pub.txt", data=b"pub", headers={"x-oss-object-acl": "public-read"}))
    assert ok(requests.get(f"{oss.endpoint}/alice-acl/pub.txt")).content == b"pub"
    err(alice.request("PUT", "alice-acl", query={"acl": ""}, headers={"x-oss-acl": "bogus"}), 400, "InvalidArgument")
    # signed URLs
    url = alice.presign("GET", "alice-acl", "secret.txt")
    assert ok(requests.get(url)).content == b"mine"
    err(requests.get(alice.presign("GET", "alice-acl", "secret.txt", expires_in=-10)), 403, "AccessDenied")
    err(requests.get(url.replace("secret.txt", "anon.txt")), 403, "SignatureDoesNotMatch")
    for k in ("secret.txt", "anon.txt", "pub.txt"):
        ok(alice.request("DELETE", "alice-acl", k), 204)
    ok(alice.request("DELETE", "alice-acl"), 204)


def test_limits(oss, alice):
    ok(alice.request("PUT", "alice-lim"))
    err(alice.request("PUT", "alice-lim", "m", data=b"x", headers={"x-oss-meta-big": "v" * 9000}), 400,
        "MetadataTooLarge")
    r = requests.put(f"{oss.endpoint}/alice-lim/huge", headers={"Content-Length": str(5 * 2**30 + 1)}, data=b"")
    assert r.status_code in (400, 403)
    err(alice.request("GET", "alice-lim", "x", query={"tagging": ""}), 501, "NotImplemented")
    ok(alice.request("DELETE", "alice-lim"), 204)


def test_metrics(oss, alice, bob):
    """GET /-/metrics: refused without the cloud's token; with it, requests by operation and
    status, a latency histogram and bytes in and out, parsed by prometheus_client. The path
    shadows no bucket: "/metrics" is still the bucket named metrics."""
    from promscrape import assert_refused_without_token, metrics_token, sample, scrape

    token = metrics_token(oss.ctl_config)
    assert_refused_without_token(oss.endpoint, token, "/-/metrics")
    before = scrape(oss.endpoint, token, "/-/metrics")
    ok(alice.request("PUT", "metrics"))
    body = os.urandom(3000)
    ok(alice.request("PUT", "metrics", "obj", data=body))
    assert ok(alice.request("GET", "metrics", "obj")).content == body
    err(bob.request("GET", "metrics", "obj"), 403, "AccessDenied")
    listing = ET.fromstring(ok(alice.request("GET", "metrics")).content)
    assert [k.findtext("Key") for k in listing.iter("Contents")] == ["obj"]
    m = scrape(oss.endpoint, token, "/-/metrics")

    def grew(name, **labels):
        return (sample(m, name, **labels) or 0) - (sample(before, name, **labels) or 0)

    assert grew("ecs_oss_requests_total", operation="PutObject", status="200") == 1
    assert grew("ecs_oss_requests_total", operation="GetObject", status="200") == 1
    assert grew("ecs_oss_requests_total", operation="GetObject", status="403") == 1
    assert grew("ecs_oss_requests_total", operation="ListObjects", status="200") == 1
    assert grew("ecs_oss_received_bytes_total", operation="PutObject") == len(body)
    assert grew("ecs_oss_sent_bytes_total", operation="GetObject") >= len(body)
    count = sample(m, "ecs_oss_request_duration_seconds_count", operation="PutObject")
    assert count >= 1 and sample(m, "ecs_oss_request_duration_seconds_bucket", operation="PutObject",
                                 le="+Inf") == count
    ok(alice.request("DELETE", "metrics", "obj"), 204)
    ok(alice.request("DELETE", "metrics"), 204)
