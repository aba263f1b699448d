"""S3 on ecs-ossd's port, same buckets, over the test Ceph cluster: boto3 (Debian's), s3cmd, with
SigV4 (header, presigned, UNSIGNED-PAYLOAD) and SigV2 (header, query), path and virtual-host
style, listings, ranges, copies, multipart through upload_file, the AWS CLI, an aws-chunked
body whose every chunk signature is checked (signed here from AWS's documented algorithm),
and the errors: a wrong secret, a tampered chunk, a payload hash that lies, another account's
bucket. No guests: no lock."""

import base64
import datetime
import hashlib
import hmac
import os
import subprocess
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
import zlib

import boto3  # python3-boto3 (scripts/install-deps.sh), as awscli
import pytest
import requests
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from ossenv import alice, bob, oss  # noqa: F401 (fixtures)

MIB = 1024 * 1024


def client(oss, acct, secret=None, sig="s3v4", style="path", host="127.0.0.1"):
    return boto3.client("s3", endpoint_url=f"http://{host}:{oss.port}", aws_access_key_id=acct.ak,
                        aws_secret_access_key=secret or acct.secret, region_name="us-east-1",
                        config=Config(signature_version=sig, s3={"addressing_style": style},
                                      retries={"max_attempts": 1}))


def code(fn, *a, **k):
    try:
        fn(*a, **k)
    except ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"]
    return "none"


def test_boto3_objects_listing_multipart(oss, alice, tmp_path):
    s3 = client(oss, alice)
    s3.create_bucket(Bucket="s3-a")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["s3-a"]
    s3.head_bucket(Bucket="s3-a")
    body = os.urandom(5 * MIB + 7)
    r = s3.put_object(Bucket="s3-a", Key="dir/obj.bin", Body=body, Metadata={"color": "red"},
                      ContentType="application/x-s3")
    assert r["ETag"] == '"' + hashlib.md5(body).hexdigest() + '"'
    g = s3.get_object(Bucket="s3-a", Key="dir/obj.bin")
    assert g["Body"].read() == body and g["Metadata"] == {"color": "red"}
    assert g["ContentType"] == "application/x-s3" and g["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
    g = s3.get_object(Bucket="s3-a", Key="dir/obj.bin", Range="bytes=4194300-4194309")
    assert g["Body"].read() == body[4194300:4194310] and g["ContentRange"] == f"bytes 4194300-4194309/{len(body)}"
    assert code(s3.get_object, Bucket="s3-a", Key="dir/obj.bin", Range=f"bytes={len(body)}-") == (416, "InvalidRange")
    assert s3.head_object(Bucket="s3-a", Key="dir/obj.bin")["ContentLength"] == len(body)
    assert code(s3.get_object, Bucket="s3-a", Key="nope") == (404, "NoSuchKey")
    assert code(s3.get_object, Bucket="s3-none", Key="x") == (404, "NoSuchBucket")
    s3.copy_object(Bucket="s3-a", Key="copy.bin", CopySource={"Bucket": "s3-a", "Key": "dir/obj.bin"})
    assert s3.get_object(Bucket="s3-a", Key="copy.bin")["Body"].read() == body
    keys = [f"k/{i:02d}" for i in range(12)] + ["d e+f", "é"]
    for k in keys:
        s3.put_object(Bucket="s3-a", Key=k, Body=k.encode())
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket="s3-a", PaginationConfig={"PageSize": 5})
    got = [c["Key"] for p in pages for c in p.get("Contents", [])]
    assert got == sorted(keys + ["dir/obj.bin", "copy.bin"], key=lambda s: s.encode())
    r = s3.list_objects_v2(Bucket="s3-a", Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["dir/", "k/"]
    assert [c["Key"] for c in r["Contents"]] == ["copy.bin", "d e+f", "é"]
    pages = s3.get_paginator("list_objects").paginate(Bucket="s3-a", Prefix="k/", PaginationConfig={"PageSize": 4})
    assert [c["Key"] for p in pages for c in p["Contents"]] == [k for k in keys if k.startswith("k/")]
    # multipart through the transfer manager, and back
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(12 * MIB + 3))
    cfg = TransferConfig(multipart_threshold=MIB, multipart_chunksize=5 * MIB, max_concurrency=2)
    s3.upload_file(str(big), "s3-a", "mp/big.bin", Config=cfg)
    h = s3.head_object(Bucket="s3-a", Key="mp/big.bin")
    assert h["ETag"].endswith('-3"') and h["ContentLength"] == big.stat().st_size
    s3.download_file("s3-a", "mp/big.bin", str(tmp_path / "back.bin"), Config=cfg)
    assert (tmp_path / "back.bin").read_bytes() == big.read_bytes()
    up = s3.create_multipart_upload(Bucket="s3-a", Key="mp/x")
    s3.upload_part(Bucket="s3-a", Key="mp/x", UploadId=up["UploadId"], PartNumber=1, Body=b"x" * 1000)
    assert [u["Key"] for u in s3.list_multipart_uploads(Bucket="s3-a")["Uploads"]] == ["mp/x"]
    assert [p["PartNumber"] for p in s3.list_parts(Bucket="s3-a", Key="mp/x", UploadId=up["UploadId"])["Parts"]] == [1]
    assert code(s3.complete_multipart_upload, Bucket="s3-a", Key="mp/x", UploadId=up["UploadId"],
                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"' + "0" * 32 + '"'}]}) == (400, "InvalidPart")
    s3.abort_multipart_upload(Bucket="s3-a", Key="mp/x", UploadId=up["UploadId"])
    assert code(s3.list_parts, Bucket="s3-a", Key="mp/x", UploadId=up["UploadId"]) == (404, "NoSuchUpload")
    # presigned GET and PUT (SigV4 query, UNSIGNED-PAYLOAD), read with urllib
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "s3-a", "Key": "d e+f"}, ExpiresIn=300)
    assert urllib.request.urlopen(url).read() == b"d e+f"
    bad = url.replace("X-Amz-Expires=300", "X-Amz-Expires=301")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(bad)
    assert e.value.code == 403 and b"SignatureDoesNotMatch" in e.value.read()
    put = s3.generate_presigned_url("put_object", Params={"Bucket": "s3-a", "Key": "presigned"}, ExpiresIn=300)
    assert requests.put(put, data=b"via url").status_code == 200
    assert s3.get_object(Bucket="s3-a", Key="presigned")["Body"].read() == b"via url"
    # SigV2, header and query
    s2 = client(oss, alice, sig="s3")
    s2.put_object(Bucket="s3-a", Key="v2", Body=b"two")
    assert s2.get_object(Bucket="s3-a", Key="v2")["Body"].read() == b"two"
    assert "v2" in [c["Key"] for c in s2.list_objects(Bucket="s3-a")["Contents"]]
    url2 = s2.generate_presigned_url("get_object", Params={"Bucket": "s3-a", "Key": "v2"}, ExpiresIn=300)
    assert "AWSAccessKeyId=" in url2 and urllib.request.urlopen(url2).read() == b"two"
    assert code(client(oss, alice, secret="wrong-secret", sig="s3").list_objects, Bucket="s3-a") == \
        (403, "SignatureDoesNotMatch")
    # DeleteObjects, then the bucket
    for p in s3.get_paginator("list_objects_v2").paginate(Bucket="s3-a"):
        objs = [{"Key": c["Key"]} for c in p.get("Contents", [])]
        if objs:
            r = s3.delete_objects(Bucket="s3-a", Delete={"Objects": objs})
            assert len(r["Deleted"]) == len(objs)
    s3.delete_bucket(Bucket="s3-a")
    assert code(s3.head_bucket, Bucket="s3-a")[0] == 404


def test_errors_and_second_account(oss, alice, bob):
    s3, other = client(oss, alice), client(oss, bob)
    s3.create_bucket(Bucket="s3-b")
    s3.put_object(Bucket="s3-b", Key="secret", Body=b"mine")
    assert code(client(oss, alice, secret="wrong-secret").list_objects_v2, Bucket="s3-b") == \
        (403, "SignatureDoesNotMatch")
    assert code(other.get_object, Bucket="s3-b", Key="secret") == (403, "AccessDenied")
    assert code(other.put_object, Bucket="s3-b", Key="x", Body=b"x") == (403, "AccessDenied")
    assert code(other.list_objects_v2, Bucket="s3-b") == (403, "AccessDenied")
    assert code(other.delete_object, Bucket="s3-b", Key="secret") == (403, "AccessDenied")
    assert code(other.create_multipart_upload, Bucket="s3-b", Key="x") == (403, "AccessDenied")
    assert code(other.create_bucket, Bucket="s3-b") == (409, "BucketAlreadyExists")
    up = s3.create_multipart_upload(Bucket="s3-b", Key="m")
    assert code(other.upload_part, Bucket="s3-b", Key="m", UploadId=up["UploadId"], PartNumber=1, Body=b"x") == \
        (403, "AccessDenied")
    other.create_bucket(Bucket="s3-bob")
    assert code(other.upload_part, Bucket="s3-bob", Key="m", UploadId=up["UploadId"], PartNumber=1, Body=b"x") == \
        (404, "NoSuchUpload")
    assert code(other.copy_object, Bucket="s3-bob", Key="stolen", CopySource={"Bucket": "s3-b", "Key": "secret"}) == \
        (403, "AccessDenied")
    assert code(s3.upload_part, Bucket="s3-b", Key="m", UploadId=up["UploadId"], PartNumber=10001, Body=b"x") == \
        (400, "InvalidArgument")
    assert code(s3.list_objects_v2, Bucket="s3-b", MaxKeys=1001) == (400, "InvalidArgument")
    s3.abort_multipart_upload(Bucket="s3-b", Key="m", UploadId=up["UploadId"])
    # anonymous: nothing of a private bucket, and the same bucket through OSS's own signature
    assert requests.get(f"{oss.endpoint}/s3-b/secret").status_code == 403
    assert alice.request("GET", "s3-b", "secret").content == b"mine"
    s3.delete_object(Bucket="s3-b", Key="secret")
    s3.delete_bucket(Bucket="s3-b")
    other.delete_bucket(Bucket="s3-bob")


# ---------------------------------------------------------------- SigV4 from the spec

def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def _signing_key(secret, date, region="us-east-1"):
    k = _hmac(("AWS4" + secret).encode(), date)
    for part in (region, "s3", "aws4_request"):
        k = _hmac(k, part)
    return k


def v4_request(oss, acct, method, host, path, headers, payload_hash, query=""):
    now = datetime.datetime.now(datetime.timezone.utc)
    amz, date = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    headers = dict(headers, host=host, **{"x-amz-date": amz, "x-amz-content-sha256": payload_hash})
    names = sorted(k.lower() for k in headers)
    lower = {k.lower(): str(v).strip() for k, v in headers.items()}
    canonical = "\n".join([method, urllib.parse.quote(path, safe="/~"), query,
                           "".join(f"{n}:{lower[n]}\n" for n in names), ";".join(names), payload_hash])
    scope = f"{date}/us-east-1/s3/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _signing_key(acct.secret, date)
    sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={acct.ak}/{scope}, SignedHeaders={';'.join(names)}, "
                                f"Signature={sig}")
    return headers, key, amz, scope, sig


def chunked_body(key, amz, scope, seed, chunks, tamper=None):
    out, prev = b"", seed
    empty = hashlib.sha256(b"").hexdigest()
    for i, data in enumerate(chunks + [b""]):
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz, scope, prev, empty, hashlib.sha256(data).hexdigest()])
        sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        prev = sig
        if tamper == i:
            sig = "0" * 64
        out += f"{len(data):x};chunk-signature={sig}\r\n".encode() + data + b"\r\n"
    return out


def test_streaming_chunks_vhost_and_payload_hash(oss, alice):
    s3 = client(oss, alice)
    s3.create_bucket(Bucket="s3-c")
    host = f"s3-c.localhost:{oss.port}"  # virtual-host style: the bucket is in Host
    chunks = [os.urandom(64 * 1024), os.urandom(64 * 1024), os.urandom(1000)]
    data = b"".join(chunks)

    def put(key, tamper=None, cut=False):
        base = {"content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data))}
        h, k, amz, scope, seed = v4_request(oss, alice, "PUT", host, "/" + key, base,
                                            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
        body = chunked_body(k, amz, scope, seed, chunks, tamper)
        if cut:
            body = body[:-40]
        return requests.put(f"{oss.endpoint}/{key}", data=body, headers=h)

    r = put("streamed")
    assert r.status_code == 200, r.text
    assert s3.get_object(Bucket="s3-c", Key="streamed")["Body"].read() == data
    for tamper in (0, 2, 3):  # a data chunk, the last data chunk, the final empty one
        r = put(f"bad-{tamper}", tamper=tamper)
        assert r.status_code == 403 and "SignatureDoesNotMatch" in r.text, r.text
        assert code(s3.head_object, Bucket="s3-c", Key=f"bad-{tamper}")[0] == 404
    r = put("cut", cut=True)
    assert r.status_code == 400 and "IncompleteBody" in r.text

    # unsigned chunks with a CRC32 trailer, as @aws-sdk/client-s3 sends by default
    def put_trailer(key, crc):
        base = {"content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data)),
                "x-amz-trailer": "x-amz-checksum-crc32"}
        h, *_ = v4_request(oss, alice, "PUT", host, "/" + key, base, "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
        body = b"".join(f"{len(c):x}\r\n".encode() + c + b"\r\n" for c in chunks)
        body += b"0\r\nx-amz-checksum-crc32:" + base64.b64encode(crc.to_bytes(4, "big")) + b"\r\n\r\n"
        return requests.put(f"{oss.endpoint}/{key}", data=body, headers=h)

    r = put_trailer("trailed", zlib.crc32(data))
    assert r.status_code == 200, r.text
    assert s3.get_object(Bucket="s3-c", Key="trailed")["Body"].read() == data
    r = put_trailer("trailed-bad", zlib.crc32(data) ^ 1)
    assert r.status_code == 400 and "BadDigest" in r.text
    assert code(s3.head_object, Bucket="s3-c", Key="trailed-bad")[0] == 404
    s3.delete_object(Bucket="s3-c", Key="trailed")
    # a checksum header (flexible checksums without aws-chunked) is checked too
    for crc, status in ((zlib.crc32(data), 200), (zlib.crc32(data) ^ 1, 400)):
        b64 = base64.b64encode(crc.to_bytes(4, "big")).decode()
        h, *_ = v4_request(oss, alice, "PUT", host, "/summed", {"x-amz-checksum-crc32": b64}, "UNSIGNED-PAYLOAD")
        r = requests.put(f"{oss.endpoint}/summed", data=data, headers=h)
        assert r.status_code == status and (status == 200 or "BadDigest" in r.text), r.text
    s3.delete_object(Bucket="s3-c", Key="summed")
    # a signed payload hash that is not the body's
    h, *_ = v4_request(oss, alice, "PUT", host, "/liar", {}, hashlib.sha256(b"other").hexdigest())
    r = requests.put(f"{oss.endpoint}/liar", data=b"body", headers=h)
    assert r.status_code == 400 and "XAmzContentSHA256Mismatch" in r.text
    # virtual-host style GET and listing, signed over the Host the client used
    h, *_ = v4_request(oss, alice, "GET", host, "/streamed", {}, "UNSIGNED-PAYLOAD")
    assert requests.get(f"{oss.endpoint}/streamed", headers=h).content == data
    h, *_ = v4_request(oss, alice, "GET", host, "/", {}, "UNSIGNED-PAYLOAD", query="list-type=2")
    r = requests.get(f"{oss.endpoint}/?list-type=2", headers=h)
    keys = [e.text for e in ET.fromstring(r.content).iter("{http://s3.amazonaws.com/doc/2006-03-01/}Key")]
    assert keys == ["streamed"]
    s3.delete_object(Bucket="s3-c", Key="streamed")
    s3.delete_bucket(Bucket="s3-c")


def test_awscli(oss, alice, tmp_path):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=alice.ak, AWS_SECRET_ACCESS_KEY=alice.secret,
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))

    def aws(*args):
        p = subprocess.run(["aws", "--endpoint-url", oss.endpoint, "s3", *args], capture_output=True, text=True,
                           env=env, timeout=300, stdin=subprocess.DEVNULL)
        assert p.returncode == 0, p.stderr + p.stdout
        return p.stdout

    src = tmp_path / "cli.bin"
    src.write_bytes(os.urandom(20 * MIB + 1))  # above the CLI's 8 MiB multipart threshold
    aws("mb", "s3://s3-cli")
    aws("cp", str(src), "s3://s3-cli/cli.bin")
    assert "cli.bin" in aws("ls", "s3://s3-cli")
    aws("cp", "s3://s3-cli/cli.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == src.read_bytes()
    aws("rm", "s3://s3-cli/cli.bin")
    aws("rb", "s3://s3-cli")


def test_s3cmd(oss, alice, tmp_path):
    """s3cmd (Debian) with its default V4 signatures, then --signature-v2; path style."""
    cfg = tmp_path / "s3cfg"
    cfg.write_text(f"[default]\naccess_key = {alice.ak}\nsecret_key = {alice.secret}\n"
                   f"host_base = 127.0.0.1:{oss.port}\nhost_bucket = 127.0.0.1:{oss.port}\nuse_https = False\n"
                   "bucket_location = us-east-1\nmultipart_chunk_size_mb = 5\n")

    def s3cmd(*args):
        p = subprocess.run(["s3cmd", "-c", str(cfg), *args], capture_output=True, text=True, timeout=300,
                           stdin=subprocess.DEVNULL)
        assert p.returncode == 0, p.stderr + p.stdout
        return p.stdout

    src = tmp_path / "up.bin"
    src.write_bytes(os.urandom(11 * MIB + 5))  # three parts of 5 MiB
    s3cmd("mb", "s3://s3-cmd")
    s3cmd("put", str(src), "s3://s3-cmd/dir/up.bin")
    assert "s3://s3-cmd/dir/up.bin" in s3cmd("ls", "-r", "s3://s3-cmd")
    s3cmd("get", "s3://s3-cmd/dir/up.bin", str(tmp_path / "down.bin"))
    assert (tmp_path / "down.bin").read_bytes() == src.read_bytes()
    s3cmd("--signature-v2", "put", str(tmp_path / "down.bin"), "s3://s3-cmd/v2.bin")
    assert "v2.bin" in s3cmd("--signature-v2", "ls", "s3://s3-cmd")
    s3cmd("del", "s3://s3-cmd/dir/up.bin", "s3://s3-cmd/v2.bin")
    s3cmd("rb", "s3://s3-cmd")
