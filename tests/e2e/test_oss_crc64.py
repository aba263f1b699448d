"""x-oss-hash-crc64ecma (issue 14): the CRC-64/ECMA of the whole object on PutObject,
GetObject, HeadObject, AppendObject (of everything appended so far) and
CompleteMultipartUpload (combined from the parts'), and of the part on UploadPart; checked
the way Alibaba's Python SDK (oss2) checks it, with crcmod and oss2's parameters (ali-oss 6.x
has no such check). Needs only Ceph."""

import os
import xml.etree.ElementTree as ET

import crcmod

from ossenv import alice, oss  # noqa: F401 (fixtures)

# oss2/utils.py's Crc64: the ECMA-182 polynomial, reflected, inverted at both ends.
crc64 = crcmod.mkCrcFun(0x142F0E1EBA9EA3693, initCrc=0, xorOut=0xFFFFFFFFFFFFFFFF, rev=True)


def hdr(r):
    assert r.status_code in (200, 206), r.text
    return int(r.headers["x-oss-hash-crc64ecma"])


def test_put_get_head(alice):
    assert crc64(b"123456789") == 0x995DC9BBDF1939FA
    assert alice.request("PUT", "crc-a").status_code == 200
    data = os.urandom(5 << 20) + b"tail"
    assert hdr(alice.request("PUT", "crc-a", "obj", data=data)) == crc64(data)
    assert hdr(alice.request("GET", "crc-a", "obj")) == crc64(data)
    assert hdr(alice.request("HEAD", "crc-a", "obj")) == crc64(data)
    empty = alice.request("PUT", "crc-a", "empty", data=b"")
    assert hdr(empty) == 0 == crc64(b"")
    # A copy keeps the content's CRC.
    r = alice.request("PUT", "crc-a", "copy", headers={"x-oss-copy-source": "/crc-a/obj"})
    assert r.status_code == 200, r.text
    assert hdr(alice.request("HEAD", "crc-a", "copy")) == crc64(data)


def test_append(alice):
    whole = b""
    for i, chunk in enumerate((b"first", os.urandom(70000), b"", b"last")):
        r = alice.request("POST", "crc-a", "app", query={"append": "", "position": len(whole)}, data=chunk)
        whole += chunk
        assert hdr(r) == crc64(whole), i
    assert hdr(alice.request("GET", "crc-a", "app")) == crc64(whole)


def test_multipart(alice):
    r = alice.request("POST", "crc-a", "mp", query={"uploads": ""}, data=b"")
    uid = ET.fromstring(r.content).findtext("UploadId")
    parts = [os.urandom(100 << 10), os.urandom(123457), b"end"]
    xml = "<CompleteMultipartUpload>"
    for n, p in enumerate(parts, 1):
        r = alice.request("PUT", "crc-a", "mp", query={"partNumber": n, "uploadId": uid}, data=p)
        assert hdr(r) == crc64(p)
        xml += f"<Part><PartNumber>{n}</PartNumber><ETag>{r.headers['ETag']}</ETag></Part>"
    r = alice.request("POST", "crc-a", "mp", query={"uploadId": uid}, data=(xml + "</CompleteMultipartUpload>").encode())
    whole = b"".join(parts)
    assert hdr(r) == crc64(whole)
    assert hdr(alice.request("GET", "crc-a", "mp")) == crc64(whole)
    assert hdr(alice.request("GET", "crc-a", "mp", headers={"Range": "bytes=0-9"})) == crc64(whole)
