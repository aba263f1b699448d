"""Alibaba's own OSS client, ali-oss 6.23.0 from npm, unchanged, against ecs-ossd on the test
Ceph cluster: V1 signatures with x-oss-date, the virtual-host addressing it uses with an IP
endpoint (Host: bucket.oss-REGION.aliyuncs.com) and path style (sldEnable) for signed URLs;
buckets, objects with metadata, ranges, conditional GETs, copies, listings with delimiters
and paging, deletes, ACLs across two accounts and anonymous, and its errors."""

import pytest

from conftest import REPO
from npmenv import npm_package, run_node
from ossenv import oss  # noqa: F401 (fixtures)

ALI_OSS = "6.23.0"
NPM_DIR = REPO / "build/npm-oss"


@pytest.fixture(scope="module")
def node_modules():
    """ali-oss, installed once into build/npm-oss."""
    return npm_package(NPM_DIR, "ali-oss", ALI_OSS)


def node(node_modules, script: str, **env) -> list:
    return run_node(node_modules, script, env, 300)


SCRIPT = r"""
const OSS = require('ali-oss');
const crypto = require('crypto');
const port = process.env.PORT;
const mk = (ak, sk, bucket, extra) => new OSS(Object.assign({accessKeyId: ak, accessKeySecret: sk,
    endpoint: `http://127.0.0.1:${port}`, region: 'oss-cn-local', bucket, secure: false, timeout: 60000}, extra || {}));
const out = (x) => console.log(JSON.stringify(x));
const code = async (p) => { try { await p; return 'none'; } catch (e) { return [e.status, e.code]; } };
(async () => {
  const a = mk(process.env.AK, process.env.SK, 'ali-a');
  const b = mk(process.env.BK, process.env.BS, 'ali-a');
  await a.putBucket('ali-a');
  out({buckets: (await a.listBuckets()).buckets.map(x => x.name)});
  out({info: (await a.getBucketInfo('ali-a')).bucket.Name, loc: (await a.getBucketLocation('ali-a')).location});
  const big = crypto.randomBytes(5 * 1024 * 1024 + 3);
  const md5 = crypto.createHash('md5').update(big).digest('hex').toUpperCase();
  const put = await a.put('dir/big.bin', big, {meta: {owner: 'alice'}, mime: 'application/x-big'});
  out({putEtag: put.res.headers.etag === `"${md5}"`});
  const got = await a.get('dir/big.bin');
  out({same: Buffer.compare(got.content, big) === 0, type: got.res.headers['content-type'],
       meta: got.res.headers['x-oss-meta-owner']});
  const head = await a.head('dir/big.bin');
  out({headSize: head.res.headers['content-length'], headMeta: head.meta});
  const meta = await a.getObjectMeta('dir/big.bin');
  out({metaSize: meta.res.headers['content-length'] || meta.res.headers['x-oss-object-size']});
  const part = await a.get('dir/big.bin', {headers: {Range: 'bytes=4194300-4194309'}});
  out({range: part.res.status, rangeOk: Buffer.compare(part.content, big.subarray(4194300, 4194310)) === 0});
  out({notModified: await a.get('dir/big.bin', {headers: {'If-None-Match': `"${md5}"`}})
                        .then(r => r.res.status, e => [e.status, e.code])});
  out({precond: await code(a.get('dir/big.bin', {headers: {'If-Match': '"0"'}}))});
  await a.copy('copy.bin', 'dir/big.bin');
  out({copy: (await a.head('copy.bin')).res.headers.etag === `"${md5}"`});
  for (const k of ['a/1', 'a/2', 'b/1', 'c']) await a.put(k, Buffer.from(k));
  const l1 = await a.list({delimiter: '/', 'max-keys': 100});
  out({objects: (l1.objects || []).map(o => o.name), prefixes: l1.prefixes});
  let names = [], marker;
  for (let i = 0; i < 10; i++) {
    const p = await a.list({'max-keys': 2, marker});
    names = names.concat(p.objects.map(o => o.name));
    if (!p.isTruncated) break;
    marker = p.nextMarker;
  }
  out({paged: names});
  const v2 = await a.listV2({prefix: 'a/', 'max-keys': 1});
  out({v2: v2.objects.map(o => o.name), truncated: v2.isTruncated});
  out({noKey: await code(a.get('missing'))});
  out({noBucket: await code(mk(process.env.AK, process.env.SK, 'ali-none').list())});
  // the other account, then anonymous
  out({otherGet: await code(b.get('dir/big.bin'))});
  out({otherPut: await code(b.put('x', Buffer.from('x')))});
  out({otherAcl: await code(b.getBucketACL('ali-a'))});
  out({taken: await code(b.putBucket('ali-a'))});
  await a.putBucketACL('ali-a', 'public-read');
  out({acl: (await a.getBucketACL('ali-a')).acl});
  out({otherReads: (await b.get('c')).content.toString()});
  out({otherStillNoPut: await code(b.put('x', Buffer.from('x')))});
  // signed URLs need a host name: path style on localhost
  const ap = mk(process.env.AK, process.env.SK, 'ali-a', {endpoint: `http://localhost:${port}`, sldEnable: true});
  await a.putBucketACL('ali-a', 'private');
  const url = ap.signatureUrl('c', {expires: 300});
  const r1 = await fetch(url);
  out({urlStatus: r1.status, urlBody: await r1.text()});
  const r2 = await fetch(url.replace('/c?', '/b/1?'));
  out({urlBad: r2.status, urlBadCode: ((await r2.text()).match(/<Code>(.*)<\/Code>/) || [])[1]});
  // append, and an object's own ACL
  const ap1 = await a.append('app.log', Buffer.from('one'));
  const ap2 = await a.append('app.log', Buffer.from('two'), {position: ap1.nextAppendPosition});
  out({appendPos: [ap1.nextAppendPosition, ap2.nextAppendPosition],
       appended: (await a.get('app.log')).content.toString(),
       appendBad: await code(a.append('app.log', Buffer.from('x'), {position: '1'}))});
  await a.putACL('app.log', 'public-read');
  out({objectAcl: (await a.getACL('app.log')).acl, otherReadsObject: (await b.get('app.log')).content.toString()});
  // multipart: ali-oss splits a file into parts, uploads and completes them
  const mpBody = crypto.randomBytes(700 * 1024 + 5);
  const mpPath = require('path').join(require('os').tmpdir(), `ecs-mp-${process.pid}.bin`);
  require('fs').writeFileSync(mpPath, mpBody);
  const mp = await a.multipartUpload('mp.bin', mpPath, {partSize: 200 * 1024, parallel: 2, meta: {via: 'mp'}});
  const mpGot = await a.get('mp.bin');
  out({mpStatus: mp.res.status, mpSame: Buffer.compare(mpGot.content, mpBody) === 0,
       mpEtag: /^"[0-9A-F]{32}-4"$/.test(mpGot.res.headers.etag), mpMeta: mpGot.res.headers['x-oss-meta-via']});
  const up = await a.initMultipartUpload('mp2.bin');
  await a.uploadPart('mp2.bin', up.uploadId, 1, mpPath, 0, 150 * 1024);
  require('fs').unlinkSync(mpPath);
  out({uploads: (await a.listUploads({})).uploads.map(u => u.name),
       parts: [].concat((await a.listParts('mp2.bin', up.uploadId)).parts).map(p => p.PartNumber)});
  await a.abortMultipartUpload('mp2.bin', up.uploadId);
  out({afterAbort: (await a.listUploads({})).uploads.length,
       otherParts: await code(b.listParts('mp2.bin', up.uploadId))});
  const del = await a.deleteMulti(['a/1', 'a/2', 'b/1', 'c', 'dir/big.bin', 'copy.bin', 'mp.bin', 'app.log'], {quiet: true});
  out({deleted: del.res.status});
  out({empty: (await a.list()).objects || []});
  await a.deleteBucket('ali-a');
  out({gone: await code(a.getBucketInfo('ali-a'))});
  out({badKey: await code(mk('LTAInosuchkey12345', 'x', 'ali-a').list())});
  out({badSecret: await code(mk(process.env.AK, 'wrong', 'ali-a').listBuckets())});
})().catch(e => { console.error(e); process.exit(1); });
"""


def test_ali_oss(oss, node_modules):
    a, b = oss.account("ali-user-a"), oss.account("ali-user-b")
    res = {}
    for line in node(node_modules, SCRIPT, PORT=str(oss.port), AK=a.ak, SK=a.secret, BK=b.ak, BS=b.secret):
        res.update(line)
    assert res["buckets"] == ["ali-a"]
    assert res["info"] == "ali-a" and res["loc"] == "oss-cn-local"
    assert res["putEtag"] is True
    assert res["same"] is True and res["type"] == "application/x-big" and res["meta"] == "alice"
    assert res["headSize"] == str(5 * 1024 * 1024 + 3) and res["headMeta"] == {"owner": "alice"}
    assert res["metaSize"] == str(5 * 1024 * 1024 + 3)
    assert res["range"] == 206 and res["rangeOk"] is True
    assert res["notModified"] == 304
    assert res["precond"] == [412, "PreconditionFailed"]
    assert res["copy"] is True
    assert res["objects"] == ["c", "copy.bin"] and res["prefixes"] == ["a/", "b/", "dir/"]
    assert res["paged"] == ["a/1", "a/2", "b/1", "c", "copy.bin", "dir/big.bin"]
    assert res["v2"] == ["a/1"] and res["truncated"] is True
    assert res["noKey"] == [404, "NoSuchKey"]
    assert res["noBucket"] == [404, "NoSuchBucket"]
    assert res["otherGet"] == [403, "AccessDenied"]
    assert res["otherPut"] == [403, "AccessDenied"]
    assert res["otherAcl"] == [403, "AccessDenied"]
    assert res["taken"] == [409, "BucketAlreadyExists"]
    assert res["acl"] == "public-read"
    assert res["otherReads"] == "c"
    assert res["otherStillNoPut"] == [403, "AccessDenied"]
    assert res["appendPos"] == ["3", "6"] and res["appended"] == "onetwo"
    assert res["appendBad"] == [409, "PositionNotEqualToLength"]
    assert res["objectAcl"] == "public-read" and res["otherReadsObject"] == "onetwo"
    assert res["mpStatus"] == 200 and res["mpSame"] is True and res["mpEtag"] is True and res["mpMeta"] == "mp"
    assert res["uploads"] == ["mp2.bin"] and res["parts"] == ["1"]
    assert res["afterAbort"] == 0 and res["otherParts"] == [403, "AccessDenied"]
    assert res["deleted"] == 200 and res["empty"] == []
    assert res["gone"] == [404, "NoSuchBucket"]
    assert res["badKey"] == [403, "InvalidAccessKeyId"]
    assert res["badSecret"] == [403, "SignatureDoesNotMatch"]
    assert res["urlStatus"] == 200 and res["urlBody"] == "c"  # a private bucket, read by its signed URL
    assert res["urlBad"] == 403 and res["urlBadCode"] == "SignatureDoesNotMatch"


SCRIPT_V4 = r"""
const OSS = require('ali-oss');
const crypto = require('crypto');
const port = process.env.PORT;
const mk = (ak, sk, extra) => new OSS(Object.assign({accessKeyId: ak, accessKeySecret: sk, authorizationV4: true,
    endpoint: `http://127.0.0.1:${port}`, region: 'oss-cn-local', bucket: 'ali-v4', secure: false, timeout: 60000},
    extra || {}));
const out = (x) => console.log(JSON.stringify(x));
const code = async (p) => { try { await p; return 'none'; } catch (e) { return [e.status, e.code]; } };
(async () => {
  const a = mk(process.env.AK, process.env.SK), b = mk(process.env.BK, process.env.BS);
  await a.putBucket('ali-v4');
  const body = crypto.randomBytes(300 * 1024);
  await a.put('dir/x y+z.bin', body, {meta: {k: 'v'}});
  const got = await a.get('dir/x y+z.bin');
  out({same: Buffer.compare(got.content, body) === 0, meta: got.res.headers['x-oss-meta-k']});
  for (const k of ['dir/1', 'dir/2', 'other']) await a.put(k, Buffer.from(k));
  const l = await a.list({prefix: 'dir/', 'max-keys': 2});
  out({listed: l.objects.map(o => o.name), more: l.isTruncated});
  const v2 = await a.listV2({prefix: 'dir/', 'max-keys': 1, 'continuation-token': undefined});
  out({v2: v2.objects.map(o => o.name)});
  const mpPath = require('path').join(require('os').tmpdir(), `ecs-v4-${process.pid}.bin`);
  require('fs').writeFileSync(mpPath, crypto.randomBytes(250 * 1024));
  const mp = await a.multipartUpload('mp.bin', mpPath, {partSize: 100 * 1024});
  require('fs').unlinkSync(mpPath);
  out({mp: mp.res.status});
  await a.putACL('other', 'public-read');
  out({objAcl: (await a.getACL('other')).acl});
  out({otherGet: await code(b.get('dir/1')), otherReadsPublic: (await b.get('other')).content.toString()});
  out({badSecret: await code(mk(process.env.AK, 'wrong').get('dir/1'))});
  const ap = mk(process.env.AK, process.env.SK, {endpoint: `http://localhost:${port}`, sldEnable: true});
  const url = await ap.signatureUrlV4('GET', 300, {headers: {}}, 'dir/1');
  const r1 = await fetch(url);
  out({urlStatus: r1.status, urlBody: await r1.text()});
  const r2 = await fetch(url.replace('dir/1', 'dir/2'));
  out({urlBad: r2.status});
  await a.deleteMulti(['dir/x y+z.bin', 'dir/1', 'dir/2', 'other', 'mp.bin']);
  await a.deleteBucket('ali-v4');
  out({done: true});
})().catch(e => { console.error(e); process.exit(1); });
"""


def test_ali_oss_v4(oss, node_modules):
    """The same client with authorizationV4: OSS4-HMAC-SHA256 headers and signatureUrlV4."""
    a, b = oss.account("ali-v4-a"), oss.account("ali-v4-b")
    res = {}
    for line in node(node_modules, SCRIPT_V4, PORT=str(oss.port), AK=a.ak, SK=a.secret, BK=b.ak, BS=b.secret):
        res.update(line)
    assert res["same"] is True and res["meta"] == "v"
    assert res["listed"] == ["dir/1", "dir/2"] and res["more"] is True
    assert res["v2"] == ["dir/1"]
    assert res["mp"] == 200
    assert res["objAcl"] == "public-read"
    assert res["otherGet"] == [403, "AccessDenied"] and res["otherReadsPublic"] == "other"
    assert res["badSecret"] == [403, "SignatureDoesNotMatch"]
    assert res["urlStatus"] == 200 and res["urlBody"] == "dir/1"
    assert res["urlBad"] == 403
    assert res["done"] is True
