"""AWS's JavaScript SDK, @aws-sdk/client-s3 from npm (installed by a fixture into
build/npm-s3), against ecs-ossd on the test Ceph cluster: its default flexible checksums,
a streamed body sent as aws-chunked with a CRC32 trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER),
listings, ranged reads, multipart, and its errors. No guests: no lock."""

import pytest

from conftest import REPO
from npmenv import npm_package, run_node_merged
from ossenv import oss  # noqa: F401 (fixtures)

CLIENT_S3 = "3.1178.0"
NPM_DIR = REPO / "build/npm-s3"


@pytest.fixture(scope="module")
def node_modules():
    return npm_package(NPM_DIR, "@aws-sdk/client-s3", CLIENT_S3)


SCRIPT = r"""
const S3 = require('@aws-sdk/client-s3');
const { Readable } = require('stream');
const crypto = require('crypto');
const mk = (sk) => new S3.S3Client({endpoint: `http://127.0.0.1:${process.env.PORT}`, region: 'us-east-1',
    forcePathStyle: true, credentials: {accessKeyId: process.env.AK, secretAccessKey: sk || process.env.SK},
    maxAttempts: 1});
const out = (x) => console.log(JSON.stringify(x));
const err = async (p) => { try { await p; return 'none'; } catch (e) { return [e.$metadata.httpStatusCode, e.name]; } };
const seen = [];
(async () => {
  const s3 = mk();
  // what was sent, as signed: the payload's kind and the body's encoding
  s3.middlewareStack.add((next) => async (args) => {
    const h = args.request.headers || {};
    seen.push([h['x-amz-content-sha256'], h['content-encoding'] || '', h['x-amz-trailer'] || '']);
    return next(args);
  }, {step: 'deserialize'});
  await s3.send(new S3.CreateBucketCommand({Bucket: 'sdk-a'}));
  const body = crypto.randomBytes(300 * 1024 + 1);
  // a stream of known length: sent aws-chunked with a CRC32 trailer
  const put = await s3.send(new S3.PutObjectCommand({Bucket: 'sdk-a', Key: 'streamed.bin',
      Body: Readable.from([body.subarray(0, 100000), body.subarray(100000)]), ContentLength: body.length}));
  out({sentAs: seen[seen.length - 1]});
  out({putEtag: put.ETag === `"${crypto.createHash('md5').update(body).digest('hex')}"`});
  const got = await s3.send(new S3.GetObjectCommand({Bucket: 'sdk-a', Key: 'streamed.bin'}));
  out({same: Buffer.compare(Buffer.from(await got.Body.transformToByteArray()), body) === 0});
  await s3.send(new S3.PutObjectCommand({Bucket: 'sdk-a', Key: 'small.txt', Body: 'hello sdk'}));
  const r = await s3.send(new S3.GetObjectCommand({Bucket: 'sdk-a', Key: 'small.txt', Range: 'bytes=6-8'}));
  out({range: await r.Body.transformToString()});
  const l = await s3.send(new S3.ListObjectsV2Command({Bucket: 'sdk-a', MaxKeys: 1}));
  out({listed: l.Contents.map(c => c.Key), truncated: l.IsTruncated});
  const up = await s3.send(new S3.CreateMultipartUploadCommand({Bucket: 'sdk-a', Key: 'mp.bin'}));
  const p1 = crypto.randomBytes(150 * 1024), p2 = Buffer.from('last');
  const e1 = await s3.send(new S3.UploadPartCommand({Bucket: 'sdk-a', Key: 'mp.bin', UploadId: up.UploadId,
      PartNumber: 1, Body: p1}));
  const e2 = await s3.send(new S3.UploadPartCommand({Bucket: 'sdk-a', Key: 'mp.bin', UploadId: up.UploadId,
      PartNumber: 2, Body: p2}));
  await s3.send(new S3.CompleteMultipartUploadCommand({Bucket: 'sdk-a', Key: 'mp.bin', UploadId: up.UploadId,
      MultipartUpload: {Parts: [{PartNumber: 1, ETag: e1.ETag}, {PartNumber: 2, ETag: e2.ETag}]}}));
  const mp = await s3.send(new S3.GetObjectCommand({Bucket: 'sdk-a', Key: 'mp.bin'}));
  out({mp: Buffer.compare(Buffer.from(await mp.Body.transformToByteArray()), Buffer.concat([p1, p2])) === 0});
  out({noKey: await err(s3.send(new S3.GetObjectCommand({Bucket: 'sdk-a', Key: 'none'})))});
  out({badSecret: await err(mk('wrong-secret').send(new S3.ListObjectsV2Command({Bucket: 'sdk-a'})))});
  await s3.send(new S3.DeleteObjectsCommand({Bucket: 'sdk-a', Delete: {Objects: [
      {Key: 'streamed.bin'}, {Key: 'small.txt'}, {Key: 'mp.bin'}]}}));
  await s3.send(new S3.DeleteBucketCommand({Bucket: 'sdk-a'}));
  out({done: true});
})().catch(e => { console.error(e); process.exit(1); });
"""


def test_aws_sdk_js(oss, node_modules):
    a = oss.account("sdk-user")
    res = run_node_merged(node_modules, SCRIPT, {"PORT": str(oss.port), "AK": a.ak, "SK": a.secret}, 300,
                          oss.log_tail)
    assert res["sentAs"] == ["STREAMING-UNSIGNED-PAYLOAD-TRAILER", "aws-chunked", "x-amz-checksum-crc32"]
    assert res["putEtag"] is True and res["same"] is True
    assert res["range"] == "sdk"
    assert res["listed"] == ["small.txt"] and res["truncated"] is True
    assert res["mp"] is True
    assert res["noKey"] == [404, "NoSuchKey"]
    assert res["badSecret"] == [403, "SignatureDoesNotMatch"]
    assert res["done"] is True
