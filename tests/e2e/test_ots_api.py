"""ecs-otsd driven by Alibaba's own Node SDK, npm `tablestore` 5.x, unchanged, on the test
Ceph cluster: table lifecycle, typed keys in order, rows written with row-existence
conditions, versions, GetRange both ways with paging, batches with per-row results, a wrong
secret, a second account that can neither see nor touch the first's tables, and the limits
(each answered with Tablestore's code). Raw requests (a signer written from the protocol in
tests/e2e/otsenv.py's terms) check malformed protobuf and PlainBuffer bodies."""

import base64
import datetime
import hashlib
import hmac

import pytest
import requests

from otsenv import OtsEnv, install_tablestore

PRELUDE = r"""
const TS = require('tablestore');
const Long = TS.Long;
const port = process.env.PORT;
const mk = (ak, sk, inst) => new TS.Client({accessKeyId: ak, secretAccessKey: sk,
    endpoint: `http://127.0.0.1:${port}`, instancename: inst || 'default', maxRetries: 0});
const out = (x) => console.log(JSON.stringify(x));
const errOf = (e) => {
  const m = String(e.message || '');
  const c = (m.match(/OTS[A-Za-z]+/) || [e.code])[0];
  return [e.statusCode || e.code, c];
};
const code = async (p) => { try { await p; return 'none'; } catch (e) { return errOf(e); } };
const IGNORE = new TS.Condition(TS.RowExistenceExpectation.IGNORE, null);
const EXIST = new TS.Condition(TS.RowExistenceExpectation.EXPECT_EXIST, null);
const NOT_EXIST = new TS.Condition(TS.RowExistenceExpectation.EXPECT_NOT_EXIST, null);
const pkOf = (row) => row.primaryKey.map(c => (typeof c.value === 'object' && c.value.toNumber) ?
    c.value.toNumber() : (Buffer.isBuffer(c.value) ? 'b:' + c.value.toString('hex') : c.value));
const attrs = (row) => Object.fromEntries((row.attributes || []).map(a => [a.columnName,
    (a.columnValue && a.columnValue.toNumber) ? a.columnValue.toNumber() : a.columnValue]));
const create = (c, name, pk, opts) => c.createTable({tableMeta: {tableName: name, primaryKey: pk},
    reservedThroughput: {capacityUnit: {read: 0, write: 0}},
    tableOptions: Object.assign({timeToLive: -1, maxVersions: 1}, opts || {})});
"""


@pytest.fixture(scope="module")
def ots(ceph_cluster):
    install_tablestore()
    with OtsEnv(ceph_cluster) as env:
        yield env


@pytest.fixture(scope="module")
def accounts(ots):
    return ots.account("ots-user-a"), ots.account("ots-user-b")



def run(ots, script, *accounts_, **env):
    keys = {}
    for i, acc in enumerate(accounts_):
        keys[f"AK{i}"], keys[f"SK{i}"] = acc.ak, acc.secret
    return ots.node(PRELUDE + "(async () => {\n" + script + "\n})().catch(e => { console.error(e); process.exit(1); });",
                    **keys, **env)


TABLES = r"""
const a = mk(process.env.AK0, process.env.SK0);
await create(a, 'users', [{name: 'uid', type: 'INTEGER'}, {name: 'name', type: 'STRING'}]);
await create(a, 'blobs', [{name: 'k', type: 'BINARY'}], {timeToLive: 86400 * 7, maxVersions: 3});
out({again: await code(create(a, 'users', [{name: 'uid', type: 'INTEGER'}]))});
out({list: (await a.listTable({})).tableNames});
const d = await a.describeTable({tableName: 'blobs'});
out({pk: d.tableMeta.primaryKey.map(p => [p.name, p.type]), ttl: d.tableOptions.timeToLive,
     versions: d.tableOptions.maxVersions, status: d.tableStatus});
await a.updateTable({tableName: 'blobs', tableOptions: {maxVersions: 5}});
out({updated: (await a.describeTable({tableName: 'blobs'})).tableOptions.maxVersions});
await a.deleteTable({tableName: 'blobs'});
out({afterDelete: (await a.listTable({})).tableNames});
out({describeGone: await code(a.describeTable({tableName: 'blobs'}))});
out({deleteGone: await code(a.deleteTable({tableName: 'blobs'}))});
out({badName: await code(create(a, '9bad', [{name: 'k', type: 'STRING'}]))});
out({fivePk: await code(create(a, 'five', [1, 2, 3, 4, 5].map(i => ({name: 'k' + i, type: 'STRING'}))))});
out({noPk: await code(create(a, 'nopk', []))});
out({otherInstance: (await mk(process.env.AK0, process.env.SK0, 'other-inst').listTable({})).tableNames});
"""


def test_table_lifecycle(ots, accounts):
    res = run(ots, TABLES, accounts[0])
    assert res["again"] == [409, "OTSObjectAlreadyExist"]
    assert res["list"] == ["blobs", "users"]
    assert res["pk"] == [["k", 3]] and res["ttl"] == 86400 * 7 and res["versions"] == 3 and res["status"] == 1
    assert res["updated"] == 5
    assert res["afterDelete"] == ["users"]
    assert res["describeGone"] == [404, "OTSObjectNotExist"]
    assert res["deleteGone"] == [404, "OTSObjectNotExist"]
    assert res["badName"] == [400, "OTSParameterInvalid"]
    assert res["fivePk"] == [400, "OTSParameterInvalid"]
    assert res["noPk"] == [400, "OTSParameterInvalid"]
    assert res["otherInstance"] == []


ROWS = r"""
const a = mk(process.env.AK0, process.env.SK0);
await create(a, 'rows', [{name: 'uid', type: 'INTEGER'}, {name: 'name', type: 'STRING'}], {maxVersions: 3});
const pk = [{uid: Long.fromNumber(7)}, {name: 'seven'}];
const put = (cond, cols) => a.putRow({tableName: 'rows', condition: cond, primaryKey: pk, attributeColumns: cols});
const get = async (extra) => {
  const g = await a.getRow(Object.assign({tableName: 'rows', primaryKey: pk, maxVersions: 1}, extra || {}));
  return g.row && g.row.primaryKey ? attrs(g.row) : null;
};
out({existMissing: await code(put(EXIST, [{a: 'x'}]))});
out({missingRow: await get()});
const r = await a.putRow({tableName: 'rows', condition: NOT_EXIST, primaryKey: pk,
    attributeColumns: [{a: 'x'}, {n: Long.fromNumber(-3)}, {f: 2.5}, {t: true}, {bin: Buffer.from([0, 255])}],
    returnContent: {returnType: TS.ReturnType.Primarykey}});
out({returnedPk: pkOf(r.row)});
const g1 = await a.getRow({tableName: 'rows', primaryKey: pk, maxVersions: 1});
out({row: attrs(g1.row), rowPk: pkOf(g1.row), binHex: g1.row.attributes.find(c => c.columnName === 'bin').columnValue.toString('hex')});
out({notExistAgain: await code(put(NOT_EXIST, [{a: 'y'}]))});
out({columns: await get({columnsToGet: ['a', 'n', 'nosuch']})});
out({onlyMissingColumn: await get({columnsToGet: ['nosuch']})});
await put(EXIST, [{a: 'replaced'}]);
out({putReplaces: await get()});
await a.updateRow({tableName: 'rows', condition: EXIST, primaryKey: pk,
    updateOfAttributeColumns: [{PUT: [{b: 'added'}, {c: Long.fromNumber(1)}]}]});
out({updated: await get()});
await a.updateRow({tableName: 'rows', condition: IGNORE, primaryKey: pk,
    updateOfAttributeColumns: [{DELETE_ALL: ['b']}]});
out({deletedColumn: await get()});
// versions: explicit timestamps, newest first, max_versions 3 kept
for (const ts of [1000, 2000, 3000, 4000])
  await a.updateRow({tableName: 'rows', condition: IGNORE, primaryKey: pk,
      updateOfAttributeColumns: [{PUT: [{v: 'at' + ts, timestamp: ts}]}]});
const vs = async (n) => (await a.getRow({tableName: 'rows', primaryKey: pk, maxVersions: n, columnsToGet: ['v']}))
    .row.attributes.map(c => [c.columnValue, c.timestamp.toNumber ? c.timestamp.toNumber() : c.timestamp]);
out({versions3: await vs(3), versions2: await vs(2)});
out({range: (await a.getRow({tableName: 'rows', primaryKey: pk, columnsToGet: ['v'], maxVersions: 5,
     timeRange: {startTime: 2000, endTime: 3500}})).row.attributes.map(c => c.columnValue)});
await a.updateRow({tableName: 'rows', condition: IGNORE, primaryKey: pk,
    updateOfAttributeColumns: [{DELETE: [{v: Long.fromNumber(3000)}]}]});
out({oneVersionDeleted: await vs(3)});
const other = [{uid: Long.fromNumber(8)}, {name: 'eight'}];
out({updateMissing: await code(a.updateRow({tableName: 'rows', condition: EXIST, primaryKey: other,
    updateOfAttributeColumns: [{PUT: [{x: 'y'}]}]}))});
out({deleteMissing: await code(a.deleteRow({tableName: 'rows', condition: EXIST, primaryKey: other}))});
out({deleteMissingIgnore: await code(a.deleteRow({tableName: 'rows', condition: IGNORE, primaryKey: other}))});
await a.deleteRow({tableName: 'rows', condition: EXIST, primaryKey: pk});
out({afterDelete: await get()});
out({noTable: await code(a.getRow({tableName: 'nosuch', primaryKey: pk}))});
out({wrongType: await code(a.getRow({tableName: 'rows', primaryKey: [{uid: 'x'}, {name: 'y'}]}))});
out({wrongName: await code(a.getRow({tableName: 'rows', primaryKey: [{id: Long.fromNumber(1)}, {name: 'y'}]}))});
out({shortPk: await code(a.getRow({tableName: 'rows', primaryKey: [{uid: Long.fromNumber(1)}]}))});
out({increment: await code(a.updateRow({tableName: 'rows', condition: IGNORE, primaryKey: pk,
    updateOfAttributeColumns: [{INCREMENT: [{c: Long.fromNumber(1)}]}]}))});
"""


def test_rows_and_conditions(ots, accounts):
    res = run(ots, ROWS, accounts[0])
    cond = [403, "OTSConditionCheckFail"]
    assert res["existMissing"] == cond
    assert res["missingRow"] is None
    assert res["returnedPk"] == [7, "seven"]
    assert res["row"] == {"a": "x", "bin": {"type": "Buffer", "data": [0, 255]}, "f": 2.5, "n": -3, "t": True}
    assert res["rowPk"] == [7, "seven"] and res["binHex"] == "00ff"
    assert res["notExistAgain"] == cond
    assert res["columns"] == {"a": "x", "n": -3}
    assert res["onlyMissingColumn"] is None
    assert res["putReplaces"] == {"a": "replaced"}
    assert res["updated"] == {"a": "replaced", "b": "added", "c": 1}
    assert res["deletedColumn"] == {"a": "replaced", "c": 1}
    assert res["versions3"] == [["at4000", 4000], ["at3000", 3000], ["at2000", 2000]]
    assert res["versions2"] == [["at4000", 4000], ["at3000", 3000]]
    assert res["range"] == ["at3000", "at2000"]
    assert res["oneVersionDeleted"] == [["at4000", 4000], ["at2000", 2000]]
    assert res["updateMissing"] == cond
    assert res["deleteMissing"] == cond
    assert res["deleteMissingIgnore"] == "none"
    assert res["afterDelete"] is None
    assert res["noTable"] == [404, "OTSObjectNotExist"]
    for k in ("wrongType", "wrongName", "shortPk"):
        assert res[k] == [400, "OTSParameterInvalid"], k
    assert res["increment"] == [400, "OTSUnsupportOperation"]


RANGE = r"""
const a = mk(process.env.AK0, process.env.SK0);
await create(a, 'ranged', [{name: 'i', type: 'INTEGER'}, {name: 's', type: 'STRING'}]);
const ints = [-9007199254740991, -1000, -1, 0, 1, 2, 255, 256, 9007199254740991];
const strs = ['', 'a', 'a\u0000', 'ab', 'b', '\u00ff', 'z'];
const keys = [];
for (const i of ints) for (const s of strs) keys.push([i, s]);
// in batches of 50, shuffled, so the order comes from the keys alone
const shuffled = keys.slice().sort(() => Math.random() - 0.5);
for (let at = 0; at < shuffled.length; at += 50) {
  const b = await a.batchWriteRow({tables: [{tableName: 'ranged', rows: shuffled.slice(at, at + 50).map(([i, s]) => ({
      type: 'PUT', condition: IGNORE, primaryKey: [{i: Long.fromNumber(i)}, {s}],
      attributeColumns: [{v: `${i}/${s}`}]}))}]});
  if (!b.tables.every(r => r.isOk)) throw new Error('batch failed');
}
const page = async (dir, start, end, limit) => {
  let got = [], next = start, pages = 0;
  while (next && pages < 100) {
    const r = await a.getRange({tableName: 'ranged', direction: dir, inclusiveStartPrimaryKey: next,
        exclusiveEndPrimaryKey: end, limit, maxVersions: 1});
    got = got.concat(r.rows.map(pkOf));
    next = r.nextStartPrimaryKey && r.nextStartPrimaryKey.map(c => ({[c.name]: c.value}));
    pages++;
  }
  return {got, pages};
};
const MIN = [{i: TS.INF_MIN}, {s: TS.INF_MIN}], MAX = [{i: TS.INF_MAX}, {s: TS.INF_MAX}];
out({keys: keys});
out({fwd: await page(TS.Direction.FORWARD, MIN, MAX, 10)});
out({bwd: await page(TS.Direction.BACKWARD, MAX, MIN, 7)});
out({sub: (await page(TS.Direction.FORWARD, [{i: Long.fromNumber(0)}, {s: 'a'}],
                                            [{i: Long.fromNumber(2)}, {s: TS.INF_MIN}], 100)).got});
out({subBack: (await page(TS.Direction.BACKWARD, [{i: Long.fromNumber(1)}, {s: TS.INF_MAX}],
                                                 [{i: Long.fromNumber(0)}, {s: 'ab'}], 100)).got});
out({wrongWay: await code(a.getRange({tableName: 'ranged', direction: TS.Direction.FORWARD,
    inclusiveStartPrimaryKey: MAX, exclusiveEndPrimaryKey: MIN, limit: 1}))});
// BatchGetRow: found, missing, and a missing table answered per row
const bg = await a.batchGetRow({tables: [
    {tableName: 'ranged', primaryKey: [[{i: Long.fromNumber(0)}, {s: 'a'}], [{i: Long.fromNumber(3)}, {s: 'a'}]], maxVersions: 1},
    {tableName: 'nosuch', primaryKey: [[{i: Long.fromNumber(0)}, {s: 'a'}]], maxVersions: 1}]});
out({batchGet: bg.tables.map(t => t.map(r => [r.isOk, r.errorCode, r.primaryKey ? pkOf(r) : null,
                                              r.attributes ? attrs(r) : null]))});
// BatchWriteRow: one row fails its condition, the others are written
const bw = await a.batchWriteRow({tables: [{tableName: 'ranged', rows: [
    {type: 'PUT', condition: NOT_EXIST, primaryKey: [{i: Long.fromNumber(0)}, {s: 'a'}], attributeColumns: [{v: 'no'}]},
    {type: 'PUT', condition: NOT_EXIST, primaryKey: [{i: Long.fromNumber(5)}, {s: 'new'}], attributeColumns: [{v: 'yes'}]},
    {type: 'UPDATE', condition: EXIST, primaryKey: [{i: Long.fromNumber(1)}, {s: 'a'}], attributeColumns: [{PUT: [{w: 'u'}]}]},
    {type: 'DELETE', condition: EXIST, primaryKey: [{i: Long.fromNumber(2)}, {s: 'a'}]}]}]});
out({batchWrite: bw.tables.map(r => [r.isOk, r.errorCode])});
const after = async (i, s) => { const g = await a.getRow({tableName: 'ranged', primaryKey: [{i: Long.fromNumber(i)}, {s}], maxVersions: 1});
                                return g.row.primaryKey ? attrs(g.row) : null; };
out({after: [await after(0, 'a'), await after(5, 'new'), await after(1, 'a'), await after(2, 'a')]});
out({dupRow: await code(a.batchWriteRow({tables: [{tableName: 'ranged', rows: [0, 0].map(() => ({type: 'PUT',
    condition: IGNORE, primaryKey: [{i: Long.fromNumber(9)}, {s: 'd'}], attributeColumns: [{v: 'd'}]}))}]}))});
out({dupWritten: await after(9, 'd')});
"""


def _order(key):
    i, s = key
    return (i, s.encode("utf-8"))


def test_keys_ordered_and_ranges(ots, accounts):
    res = run(ots, RANGE, accounts[0])
    keys = sorted((tuple(k) for k in res["keys"]), key=_order)
    assert len(keys) == 63
    assert [tuple(k) for k in res["fwd"]["got"]] == keys
    assert res["fwd"]["pages"] == 7
    assert [tuple(k) for k in res["bwd"]["got"]] == keys[::-1]
    assert res["bwd"]["pages"] == 9
    want = [k for k in keys if _order((0, "a")) <= _order(k) < _order((2, ""))]
    assert [tuple(k) for k in res["sub"]] == want
    want = [k for k in keys if _order((0, "ab")) < _order(k) and k[0] <= 1][::-1]
    assert [tuple(k) for k in res["subBack"]] == want
    assert res["wrongWay"] == [400, "OTSParameterInvalid"]
    assert res["batchGet"] == [[[True, None, [0, "a"], {"v": "0/a"}], [True, None, None, None]],
                               [[False, "OTSObjectNotExist", None, None]]]
    assert res["batchWrite"] == [[False, "OTSConditionCheckFail"], [True, None], [True, None], [True, None]]
    assert res["after"] == [{"v": "0/a"}, {"v": "yes"}, {"v": "1/a", "w": "u"}, None]
    assert res["dupRow"] == [400, "OTSParameterInvalid"]
    assert res["dupWritten"] is None


AUTH = r"""
const a = mk(process.env.AK0, process.env.SK0);
out({badSecret: await code(mk(process.env.AK0, 'wrong-secret').listTable({}))});
out({badKey: await code(mk('LTAInosuchkey12345', 'x').listTable({}))});
out({goodStill: (await a.listTable({})).tableNames.length >= 0});
"""


def test_wrong_secret(ots, accounts):
    res = run(ots, AUTH, accounts[0])
    assert res["badSecret"] == [403, "OTSAuthFailed"]
    assert res["badKey"] == [403, "OTSAuthFailed"]
    assert res["goodStill"] is True


ISOLATION = r"""
const a = mk(process.env.AK0, process.env.SK0), b = mk(process.env.AK1, process.env.SK1);
await create(a, 'secret_t', [{name: 'k', type: 'STRING'}]);
const pk = [{k: 'x'}];
await a.putRow({tableName: 'secret_t', condition: IGNORE, primaryKey: pk, attributeColumns: [{v: 'a-data'}]});
out({bList: (await b.listTable({})).tableNames});
out({bDescribe: await code(b.describeTable({tableName: 'secret_t'}))});
out({bGet: await code(b.getRow({tableName: 'secret_t', primaryKey: pk}))});
out({bPut: await code(b.putRow({tableName: 'secret_t', condition: IGNORE, primaryKey: pk, attributeColumns: [{v: 'b'}]}))});
out({bUpdate: await code(b.updateTable({tableName: 'secret_t', tableOptions: {maxVersions: 2}}))});
out({bRange: await code(b.getRange({tableName: 'secret_t', direction: TS.Direction.FORWARD,
    inclusiveStartPrimaryKey: [{k: TS.INF_MIN}], exclusiveEndPrimaryKey: [{k: TS.INF_MAX}]}))});
out({bBatch: (await b.batchGetRow({tables: [{tableName: 'secret_t', primaryKey: [pk], maxVersions: 1}]}))
    .tables[0].map(r => [r.isOk, r.errorCode])});
out({bDelete: await code(b.deleteTable({tableName: 'secret_t'}))});
// b's own table of the same name is b's alone
await create(b, 'secret_t', [{name: 'k', type: 'STRING'}]);
await b.putRow({tableName: 'secret_t', condition: IGNORE, primaryKey: pk, attributeColumns: [{v: 'b-data'}]});
const val = async (c) => attrs((await c.getRow({tableName: 'secret_t', primaryKey: pk, maxVersions: 1})).row);
out({aSees: await val(a), bSees: await val(b)});
await b.deleteTable({tableName: 'secret_t'});
out({aStill: await val(a)});
await a.deleteTable({tableName: 'secret_t'});
"""


def test_second_account_cannot_see_or_touch(ots, accounts):
    res = run(ots, ISOLATION, *accounts)
    gone = [404, "OTSObjectNotExist"]
    assert "secret_t" not in res["bList"]
    for k in ("bDescribe", "bGet", "bPut", "bUpdate", "bRange", "bDelete"):
        assert res[k] == gone, k
    assert res["bBatch"] == [[False, "OTSObjectNotExist"]]
    assert res["aSees"] == {"v": "a-data"} and res["bSees"] == {"v": "b-data"}
    assert res["aStill"] == {"v": "a-data"}


LIMITS = r"""
const a = mk(process.env.AK0, process.env.SK0);
await create(a, 'limits', [{name: 'k', type: 'STRING'}]);
const pk = [{k: 'x'}];
const put = (cols, key) => a.putRow({tableName: 'limits', condition: IGNORE, primaryKey: key || pk, attributeColumns: cols});
out({pkAtLimit: await code(put([{v: 1.5}], [{k: 'p'.repeat(1024)}]))});
out({pkTooLong: await code(put([{v: 1.5}], [{k: 'p'.repeat(1025)}]))});
const many = (n) => Array.from({length: n}, (_, i) => ({['c' + i]: Long.fromNumber(i)}));
out({cols1024: await code(put(many(1024)))});
out({cols1025: await code(put(many(1025)))});
out({value2MB: await code(put([{big: 'v'.repeat(2 * 1024 * 1024)}]))});
out({valueOver2MB: await code(put([{big: 'v'.repeat(2 * 1024 * 1024 + 1)}]))});
out({bodyOver4MB: await code(put([{b1: 'v'.repeat(2 * 1024 * 1024)}, {b2: 'v'.repeat(2 * 1024 * 1024)}]))});
// a row grows past 4 MB by updates of 1.5 MB each
const grow = (name) => a.updateRow({tableName: 'limits', condition: IGNORE, primaryKey: [{k: 'grow'}],
    updateOfAttributeColumns: [{PUT: [{[name]: 'g'.repeat(1536 * 1024)}]}]});
out({grow1: await code(grow('g1')), grow2: await code(grow('g2')), grow3: await code(grow('g3'))});
out({grown: Object.keys(attrs((await a.getRow({tableName: 'limits', primaryKey: [{k: 'grow'}], maxVersions: 1})).row))});
const keysN = (n) => Array.from({length: n}, (_, i) => [{k: 'r' + i}]);
out({get100: await code(a.batchGetRow({tables: [{tableName: 'limits', primaryKey: keysN(100), maxVersions: 1}]}))});
out({get101: await code(a.batchGetRow({tables: [{tableName: 'limits', primaryKey: keysN(101), maxVersions: 1}]}))});
const rows = (n) => keysN(n).map(k => ({type: 'PUT', condition: IGNORE, primaryKey: k, attributeColumns: [{v: 'x'}]}));
out({write200: await code(a.batchWriteRow({tables: [{tableName: 'limits', rows: rows(200)}]}))});
out({write201: await code(a.batchWriteRow({tables: [{tableName: 'limits', rows: rows(201)}]}))});
out({written200: (await a.getRange({tableName: 'limits', direction: TS.Direction.FORWARD,
    inclusiveStartPrimaryKey: [{k: 'r'}], exclusiveEndPrimaryKey: [{k: 's'}], limit: 1000})).rows.length});
// 64 tables an instance
const q = mk(process.env.AK0, process.env.SK0, 'quota-inst');
for (let i = 0; i < 64; i++) await create(q, 'q' + i, [{name: 'k', type: 'STRING'}]);
out({table65: await code(create(q, 'q64', [{name: 'k', type: 'STRING'}]))});
out({tables: (await q.listTable({})).tableNames.length});
for (let i = 0; i < 64; i++) await q.deleteTable({tableName: 'q' + i});
"""


def test_limits(ots, accounts):
    res = run(ots, LIMITS, accounts[0])
    bad = [400, "OTSParameterInvalid"]
    assert res["pkAtLimit"] == "none" and res["pkTooLong"] == bad
    assert res["cols1024"] == "none" and res["cols1025"] == bad
    assert res["value2MB"] == "none" and res["valueOver2MB"] == bad
    assert res["bodyOver4MB"] == [413, "OTSRequestBodyTooLarge"]
    assert res["grow1"] == "none" and res["grow2"] == "none" and res["grow3"] == bad
    assert sorted(res["grown"]) == ["g1", "g2"]
    assert res["get100"] == "none" and res["get101"] == bad
    assert res["write200"] == "none" and res["write201"] == bad
    assert res["written200"] == 200
    assert res["table65"] == [403, "OTSQuotaExhausted"]
    assert res["tables"] == 64



# ---- raw requests: the protocol written out here, independently of the SDK


def _varint(n: int) -> bytes:
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def _field(num: int, data: bytes) -> bytes:
    return _varint(num << 3 | 2) + _varint(len(data)) + data


def _fields(body: bytes) -> dict:
    """Length-delimited fields of a protobuf message: number -> values."""
    out, i = {}, 0
    while i < len(body):
        tag, i = body[i], i + 1
        n = shift = 0
        while True:
            b, i = body[i], i + 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        out.setdefault(tag >> 3, []).append(body[i:i + n])
        i += n
    return out


def _lines(headers: dict) -> str:
    return "\n".join(f"{k.lower()}:{v.strip()}" for k, v in sorted(headers.items())
                     if k.lower().startswith("x-ots-") and k.lower() != "x-ots-signature")


def raw(ots, acc, op: str, body: bytes, *, md5=None, secret=None):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    h = {"x-ots-date": now, "x-ots-apiversion": "2015-12-31", "x-ots-accesskeyid": acc.ak,
         "x-ots-instancename": "default",
         "x-ots-contentmd5": md5 or base64.b64encode(hashlib.md5(body).digest()).decode()}
    sts = f"/{op}\nPOST\n\n{_lines(h)}\n"
    h["x-ots-signature"] = base64.b64encode(hmac.new((secret or acc.secret).encode(), sts.encode(),
                                                     hashlib.sha1).digest()).decode()
    return requests.post(f"{ots.endpoint}/{op}", data=body, headers=h, timeout=30)


def _error(resp):
    f = _fields(resp.content)
    return [resp.status_code, f[1][0].decode() if 1 in f else None]


# serializeForDeleteRow([{uid: 1}]) from the Node SDK: a key of one INTEGER column
PK_UID1 = bytes.fromhex("750000000103040300000075696405090000000001000000000000000a5b08099c")


def test_raw_requests_malformed(ots, accounts):
    a = accounts[0]
    run(ots, "await create(mk(process.env.AK0, process.env.SK0), 'raw', [{name: 'uid', type: 'INTEGER'}]);", a)
    ok = raw(ots, a, "ListTable", b"")
    assert ok.status_code == 200
    # the response is signed as the Python SDK checks it
    assert ok.headers["x-ots-contentmd5"] == base64.b64encode(hashlib.md5(ok.content).digest()).decode()
    sts = _lines(dict(ok.headers)) + "\n/ListTable"
    sig = base64.b64encode(hmac.new(a.secret.encode(), sts.encode(), hashlib.sha1).digest()).decode()
    assert ok.headers["Authorization"] == f"OTS {a.ak}:{sig}"
    assert ok.headers["x-ots-contenttype"] and ok.headers["x-ots-requestid"] and ok.headers["x-ots-date"]
    assert b"raw" in _fields(ok.content)[1]
    bad = [400, "OTSParameterInvalid"]
    get = lambda pk: _field(1, b"raw") + _field(2, pk)  # noqa: E731
    assert raw(ots, a, "GetRow", get(PK_UID1)).status_code == 200
    assert _error(raw(ots, a, "GetRow", b"\xff\xff\xff")) == bad               # not protobuf
    assert _error(raw(ots, a, "GetRow", _field(1, b"raw"))) == bad             # required field missing
    flipped = PK_UID1[:-1] + bytes([PK_UID1[-1] ^ 1])
    assert _error(raw(ots, a, "GetRow", get(flipped))) == bad                  # row checksum
    cell = bytearray(PK_UID1)
    cell[-5] ^= 1                                                              # cell checksum
    assert _error(raw(ots, a, "GetRow", get(bytes(cell)))) == bad
    value = bytearray(PK_UID1)
    value[20] ^= 1                                                             # a value byte
    assert _error(raw(ots, a, "GetRow", get(bytes(value)))) == bad
    assert _error(raw(ots, a, "GetRow", get(PK_UID1[:-3]))) == bad             # truncated
    assert _error(raw(ots, a, "GetRow", get(PK_UID1), md5="1B2M2Y8AsgTpgAmY7PhCfg==")) == bad
    assert _error(raw(ots, a, "GetRow", get(PK_UID1), secret="nope")) == [403, "OTSAuthFailed"]
    assert _error(raw(ots, a, "NoSuchOp", b"")) == [400, "OTSUnsupportOperation"]
    # a PutRow refused for its checksum wrote nothing
    put_row = bytearray(PK_UID1)
    put_row[-3] = 0x09  # drop the delete marker: a put of the bare key, now with a wrong checksum
    put = _field(1, b"raw") + _field(2, bytes(put_row[:-2]) + bytes([0x09, 0x00])) + _field(3, b"\x08\x00")
    assert _error(raw(ots, a, "PutRow", put)) == bad
    assert _fields(raw(ots, a, "GetRow", get(PK_UID1)).content)[2] == [b""]
    rng = (_field(1, b"raw") + b"\x10\x00" + _field(7, bytes.fromhex("75000000010304030000007569640501000000090a1d00"))
           + _field(8, bytes.fromhex("75000000010304030000007569640501000000090a1d00")))
    assert _error(raw(ots, a, "GetRange", rng)) == bad                         # row checksum missing/wrong
    h = requests.post(f"{ots.endpoint}/ListTable", data=b"", timeout=30)
    assert _error(h) == [400, "OTSMissingHeader"]


CONCURRENT = r"""
// ten clients update one row at once, each its own column: every update survives
const cs = Array.from({length: 10}, () => new TS.Client({accessKeyId: process.env.AK0,
    secretAccessKey: process.env.SK0, endpoint: `http://127.0.0.1:${port}`, instancename: 'default'}));
await create(cs[0], 'race', [{name: 'k', type: 'STRING'}]);
const pk = [{k: 'one'}];
for (let round = 0; round < 3; round++)
  await Promise.all(cs.map((c, i) => c.updateRow({tableName: 'race', condition: IGNORE, primaryKey: pk,
      updateOfAttributeColumns: [{PUT: [{[`c${round}_${i}`]: Long.fromNumber(i)}]}]})));
const row = (await cs[0].getRow({tableName: 'race', primaryKey: pk, maxVersions: 1})).row;
out({columns: row.attributes.map(a => a.columnName).sort()});
// ten clients create the same row with EXPECT_NOT_EXIST: exactly one wins
const won = await Promise.all(cs.map((c, i) => code(c.putRow({tableName: 'race', condition: NOT_EXIST,
    primaryKey: [{k: 'once'}], attributeColumns: [{who: Long.fromNumber(i)}]}))));
out({winners: won.filter(w => w === 'none').length, losers: won.filter(w => w[1] === 'OTSConditionCheckFail').length});
"""


def test_concurrent_writers_lose_nothing(ots, accounts):
    res = run(ots, CONCURRENT, accounts[0])
    assert res["columns"] == sorted(f"c{r}_{i}" for r in range(3) for i in range(10))
    assert res["winners"] == 1 and res["losers"] == 9


PAGING = r"""
// 10,000 rows through BatchWriteRow, read back in answers of at most 5,000 both ways
const a = mk(process.env.AK0, process.env.SK0);
await create(a, 'many', [{name: 'n', type: 'INTEGER'}]);
for (let at = 0; at < 10000; at += 200) {
  const rows = Array.from({length: 200}, (_, i) => ({type: 'PUT', condition: IGNORE,
      primaryKey: [{n: Long.fromNumber(at + i - 5000)}], attributeColumns: [{v: 'x'}]}));
  const b = await a.batchWriteRow({tables: [{tableName: 'many', rows}]});
  if (!b.tables.every(r => r.isOk)) throw new Error('batch failed');
}
const walk = async (dir, start, end) => {
  let n = [], next = start, sizes = [];
  while (next && sizes.length < 10) {
    const r = await a.getRange({tableName: 'many', direction: dir, inclusiveStartPrimaryKey: next,
        exclusiveEndPrimaryKey: end, maxVersions: 1});
    sizes.push(r.rows.length);
    n = n.concat(r.rows.map(x => x.primaryKey[0].value.toNumber()));
    next = r.nextStartPrimaryKey && r.nextStartPrimaryKey.map(c => ({[c.name]: c.value}));
  }
  return {sizes, ordered: n.every((v, i) => i === 0 || (dir === TS.Direction.FORWARD ? v > n[i - 1] : v < n[i - 1])),
          first: n[0], last: n[n.length - 1], count: n.length};
};
out({fwd: await walk(TS.Direction.FORWARD, [{n: TS.INF_MIN}], [{n: TS.INF_MAX}])});
out({bwd: await walk(TS.Direction.BACKWARD, [{n: TS.INF_MAX}], [{n: TS.INF_MIN}])});
await a.deleteTable({tableName: 'many'});
"""


def test_paging_ten_thousand_rows(ots, accounts):
    res = run(ots, PAGING, accounts[0])
    assert res["fwd"] == {"sizes": [5000, 5000], "ordered": True, "first": -5000, "last": 4999, "count": 10000}
    assert res["bwd"] == {"sizes": [5000, 5000], "ordered": True, "first": 4999, "last": -5000, "count": 10000}


def test_metrics(ots, accounts):
    """GET /metrics: refused without the cloud's token; with it, requests by operation and
    status, a latency histogram and bytes in and out, parsed by prometheus_client."""
    from promscrape import assert_refused_without_token, metrics_token, sample, scrape

    token = metrics_token(ots.ctl_config)
    assert_refused_without_token(ots.endpoint, token)
    a = accounts[0]
    before = scrape(ots.endpoint, token)
    for _ in range(2):
        assert raw(ots, a, "ListTable", b"").status_code == 200
    assert raw(ots, a, "ListTable", b"", secret="wrong-secret-123").status_code == 403
    assert raw(ots, a, "NoSuchOperation", b"xyz").status_code == 400
    m = scrape(ots.endpoint, token)

    def grew(name, **labels):
        return (sample(m, name, **labels) or 0) - (sample(before, name, **labels) or 0)

    assert grew("ecs_ots_requests_total", operation="ListTable", status="200") == 2
    assert grew("ecs_ots_requests_total", operation="ListTable", status="403") == 1
    # An operation the client names that the API lacks is not a label of its own.
    assert grew("ecs_ots_requests_total", operation="unknown", status="400") == 1
    assert not any(lab.get("operation") == "NoSuchOperation" for f in m.values() for _, lab, _ in f)
    count = sample(m, "ecs_ots_request_duration_seconds_count", operation="ListTable")
    assert count >= 3 and sample(m, "ecs_ots_request_duration_seconds_bucket", operation="ListTable",
                                 le="+Inf") == count
    assert grew("ecs_ots_received_bytes_total", operation="unknown") >= 3
    assert grew("ecs_ots_sent_bytes_total", operation="ListTable") > 0
    # The scrapes themselves are counted, under an operation of their own.
    assert sample(m, "ecs_ots_requests_total", operation="Metrics", status="200") >= 1
