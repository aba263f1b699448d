"""ecs-otsd driven by Alibaba's own Node SDK, npm `tablestore` 5.x, unchanged, on the test
Ceph cluster: table lifecycle, typed keys in order, rows written with row-existence
conditions, versions, GetRange both ways with paging, batches with per-row results, a wrong
secret, a second account that can neither see nor touch the first's tables, and the limits
(each answered with Tablestore's code). Raw requests (a signer written from the protocol in
tests/e2e/otsenv.py's terms) check malformed protobuf and PlainBuffer bodies."""

import pytest

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


SMOKE = PRELUDE + r"""
(async () => {
  const a = mk(process.env.AK, process.env.SK);
  await create(a, 'smoke', [{name: 'uid', type: 'INTEGER'}, {name: 'name', type: 'STRING'}]);
  out({list: (await a.listTable({})).tableNames});
  const d = await a.describeTable({tableName: 'smoke'});
  out({pk: d.tableMeta.primaryKey.map(p => [p.name, p.type]), ttl: d.tableOptions.timeToLive,
       versions: d.tableOptions.maxVersions, status: d.tableStatus});
  const pk = [{uid: Long.fromNumber(1)}, {name: 'a'}];
  await a.putRow({tableName: 'smoke', condition: IGNORE, primaryKey: pk, attributeColumns: [{v: 'x'}, {n: Long.fromNumber(5)}]});
  const g = await a.getRow({tableName: 'smoke', primaryKey: pk, maxVersions: 1});
  out({got: attrs(g.row), gotPk: pkOf(g.row)});
  out({dup: await code(a.putRow({tableName: 'smoke', condition: NOT_EXIST, primaryKey: pk, attributeColumns: [{v: 'y'}]}))});
  out({badSecret: await code(mk(process.env.AK, 'wrong').listTable({}))});
})().catch(e => { console.error(e); process.exit(1); });
"""


def test_smoke(ots, accounts):
    a, _ = accounts
    res = ots.node(SMOKE, AK=a.ak, SK=a.secret)
    print(res)
    assert res["list"] == ["smoke"]
