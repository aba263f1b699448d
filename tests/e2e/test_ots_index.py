"""ecs-otsd's global secondary indexes, driven by npm `tablestore` 5.x unchanged on the test
Ceph cluster: CreateTable with defined columns and index metas, CreateIndex, DropIndex,
DescribeTable listing them; every kind of base write (PutRow, UpdateRow, DeleteRow,
BatchWriteRow, a committed local transaction) moves the index rows with it; CreateIndex
with include_base_data indexes the rows already there; GetRange on an
index reads in index order; writes to an index refused; the limits; a second account never
sees or uses the first's indexes."""

import subprocess

from test_ots_api import accounts, ots, run  # noqa: F401 (fixtures)

INDEX = r"""
const a = mk(process.env.AK0, process.env.SK0), b = mk(process.env.AK1, process.env.SK1);
const DCT = TS.DefinedColumnType;
const L = (n) => Long.fromNumber(n);
const RT = {capacityUnit: {read: 0, write: 0}};
const defined = [{name: 'city', type: DCT.DCT_STRING}, {name: 'age', type: DCT.DCT_INTEGER},
                 {name: 'note', type: DCT.DCT_STRING}, {name: 'score', type: DCT.DCT_DOUBLE},
                 {name: 'zone', type: DCT.DCT_STRING}];
const mkTable = (c, name, indexMetas, opts) => c.createTable({tableMeta: {tableName: name,
    primaryKey: [{name: 'uid', type: 'INTEGER'}], definedColumn: defined}, reservedThroughput: RT,
    tableOptions: Object.assign({timeToLive: -1, maxVersions: 1}, opts || {}), indexMetas});
await mkTable(a, 'users', [{name: 'by_city', primaryKey: ['city'], definedColumn: ['note']}]);
const d = await a.describeTable({tableName: 'users'});
out({defined: d.tableMeta.definedColumn.map(c => [c.name, c.type]),
     indexes: d.indexMetas.map(m => [m.name, m.primaryKey, m.definedColumn, m.indexType])});
const di = await a.describeTable({tableName: 'by_city'});
out({indexPk: di.tableMeta.primaryKey.map(p => [p.name, p.type]), listed: (await a.listTable({})).tableNames});
const put = (uid, cols) => a.putRow({tableName: 'users', condition: IGNORE, primaryKey: [{uid: L(uid)}], attributeColumns: cols});
const scan = async (c, t, pk) => {
  const r = await c.getRange({tableName: t, direction: TS.Direction.FORWARD, limit: 100,
      inclusiveStartPrimaryKey: pk.map(n => ({[n]: TS.INF_MIN})), exclusiveEndPrimaryKey: pk.map(n => ({[n]: TS.INF_MAX}))});
  return r.rows.map(row => [pkOf(row), attrs(row)]);
};
const cities = {1: 'paris', 2: 'oslo', 3: 'lima', 4: 'oslo', 5: 'rome', 6: 'lima'};
for (const [u, city] of Object.entries(cities)) await put(+u, [{city}, {age: L(20 + +u)}, {note: 'n' + u}]);
await put(7, [{note: 'no city'}]);
out({put: await scan(a, 'by_city', ['city', 'uid'])});
const back = await a.getRange({tableName: 'by_city', direction: TS.Direction.BACKWARD, limit: 3,
    inclusiveStartPrimaryKey: [{city: TS.INF_MAX}, {uid: TS.INF_MAX}], exclusiveEndPrimaryKey: [{city: TS.INF_MIN}, {uid: TS.INF_MIN}]});
out({backward: back.rows.map(pkOf), backNext: pkOf({primaryKey: back.nextStartPrimaryKey})});
const bg = await a.batchGetRow({tables: [{tableName: 'by_city', maxVersions: 1,
    primaryKey: [[{city: 'oslo'}, {uid: L(4)}], [{city: 'oslo'}, {uid: L(1)}]]}]});
out({batchGet: bg.tables[0].map(r => [r.isOk, r.primaryKey ? pkOf(r) : null])});
await a.updateRow({tableName: 'users', condition: IGNORE, primaryKey: [{uid: L(2)}],
    updateOfAttributeColumns: [{PUT: [{city: 'athens'}, {note: 'moved'}]}]});
await a.updateRow({tableName: 'users', condition: IGNORE, primaryKey: [{uid: L(6)}],
    updateOfAttributeColumns: [{DELETE_ALL: ['city']}]});
await a.deleteRow({tableName: 'users', condition: IGNORE, primaryKey: [{uid: L(3)}]});
out({updated: await scan(a, 'by_city', ['city', 'uid'])});
const bw = await a.batchWriteRow({tables: [{tableName: 'users', rows: [
    {type: 'PUT', condition: IGNORE, primaryKey: [{uid: L(8)}], attributeColumns: [{city: 'bern'}, {note: 'b'}]},
    {type: 'DELETE', condition: IGNORE, primaryKey: [{uid: L(4)}]},
    {type: 'PUT', condition: NOT_EXIST, primaryKey: [{uid: L(1)}], attributeColumns: [{city: 'nowhere'}]}]}]});
out({batch: bw.tables.map(r => r.isOk), batched: await scan(a, 'by_city', ['city', 'uid'])});
// a transaction: its index rows are staged with its rows and land at the commit
const tx = (await a.startLocalTransaction({tableName: 'users', primaryKey: [{uid: L(5)}]})).transactionId;
await a.updateRow({tableName: 'users', condition: IGNORE, primaryKey: [{uid: L(5)}], transactionId: tx,
    updateOfAttributeColumns: [{PUT: [{city: 'cairo'}]}]});
out({inTxn: (await scan(a, 'by_city', ['city', 'uid'])).map(r => r[0])});
await a.commitTransaction({transactionId: tx});
out({committed: (await scan(a, 'by_city', ['city', 'uid'])).map(r => r[0])});
// a value the index key cannot take is refused, nothing written
out({badType: await code(put(9, [{city: L(5)}]))});
out({badTypeRow: (await a.getRow({tableName: 'users', primaryKey: [{uid: L(9)}], maxVersions: 1})).row.primaryKey || null});
// writes to an index are refused
out({putIndex: await code(a.putRow({tableName: 'by_city', condition: IGNORE,
    primaryKey: [{city: 'x'}, {uid: L(1)}], attributeColumns: [{note: 'x'}]}))});
out({deleteIndex: await code(a.deleteRow({tableName: 'by_city', condition: IGNORE, primaryKey: [{city: 'oslo'}, {uid: L(4)}]}))});
out({txnIndex: await code(a.startLocalTransaction({tableName: 'by_city', primaryKey: [{city: 'oslo'}]}))});
out({updateIndexTable: await code(a.updateTable({tableName: 'by_city', tableOptions: {maxVersions: 1}}))});
out({deleteIndexTable: await code(a.deleteTable({tableName: 'by_city'}))});
// CreateIndex on a live table: later writes go into it too
await a.createIndex({mainTableName: 'users', indexMeta: {name: 'by_age', primaryKey: ['age', 'city'], definedColumn: []}});
await put(10, [{city: 'oslo'}, {age: L(40)}]);
await put(11, [{city: 'lima'}, {age: L(30)}]);
out({byAge: (await scan(a, 'by_age', ['age', 'city', 'uid'])).map(r => r[0])});
// limits and bad metas
const ci = (name, pk, dc) => code(a.createIndex({mainTableName: 'users', indexMeta: {name, primaryKey: pk, definedColumn: dc || []}}));
out({again: await ci('by_age', ['age'])});
out({notDefined: await ci('bad1', ['nosuch'])});
out({doubleKey: await ci('bad2', ['score'])});
out({definedInPk: await ci('bad3', ['city'], ['city'])});
out({tooWide: await ci('bad4', ['city', 'note', 'zone', 'age'])});
out({tableName: await ci('users', ['note'])});
for (const n of ['i3', 'i4', 'i5']) await a.createIndex({mainTableName: 'users', indexMeta: {name: n, primaryKey: ['note']}});
out({sixth: await ci('i6', ['note'])});
out({versions: await code(a.updateTable({tableName: 'users', tableOptions: {maxVersions: 2}}))});
out({createVersions: await code(mkTable(a, 'v2', [{name: 'v2_idx', primaryKey: ['city']}], {maxVersions: 2}))});
out({createSix: await code(mkTable(a, 'six', [1, 2, 3, 4, 5, 6].map(i => ({name: 'six' + i, primaryKey: ['city']}))))});
// another account sees and reaches none of it
out({bDescribe: await code(b.describeTable({tableName: 'by_city'}))});
out({bScan: await code(scan(b, 'by_city', ['city', 'uid']))});
out({bGet: await code(b.getRow({tableName: 'by_city', primaryKey: [{city: 'oslo'}, {uid: L(10)}], maxVersions: 1}))});
out({bDrop: await code(b.dropIndex({mainTableName: 'users', indexName: 'by_city'}))});
out({bCreate: await code(b.createIndex({mainTableName: 'users', indexMeta: {name: 'mine', primaryKey: ['city']}}))});
await mkTable(b, 'users', []);
out({bOwnIndexNone: (await b.describeTable({tableName: 'users'})).indexMetas.length});
// DropIndex: gone from the table and as a table; its rows go
await a.dropIndex({mainTableName: 'users', indexName: 'by_age'});
out({afterDrop: (await a.describeTable({tableName: 'users'})).indexMetas.map(m => m.name)});
out({droppedScan: await code(scan(a, 'by_age', ['age', 'city', 'uid']))});
out({dropAgain: await code(a.dropIndex({mainTableName: 'users', indexName: 'by_age'}))});
// the index made again starts empty (the dropped one's rows are gone)
await a.createIndex({mainTableName: 'users', indexMeta: {name: 'by_age', primaryKey: ['age']}});
out({recreated: (await scan(a, 'by_age', ['age', 'uid'])).length});
// include_base_data: the rows already there are indexed too
await a.dropIndex({mainTableName: 'users', indexName: 'by_age'});
await a.createIndex({mainTableName: 'users', includeBaseData: true,
    indexMeta: {name: 'by_age', primaryKey: ['age'], definedColumn: ['note']}});
out({backfilled: (await scan(a, 'by_age', ['age', 'uid'])).map(r => [r[0], r[1].note])});
await a.updateRow({tableName: 'users', condition: IGNORE, primaryKey: [{uid: L(1)}],
    updateOfAttributeColumns: [{PUT: [{age: L(50)}]}]});
out({afterBackfill: (await scan(a, 'by_age', ['age', 'uid'])).map(r => r[0])});
// DeleteTable takes its indexes with it
await a.deleteTable({tableName: 'users'});
out({afterDelete: await code(a.describeTable({tableName: 'by_city'})), list: (await a.listTable({})).tableNames});
await b.deleteTable({tableName: 'users'});
"""


def test_indexes(ots, accounts):  # noqa: F811
    res = run(ots, INDEX, *accounts)
    bad = [400, "OTSParameterInvalid"]
    gone = [404, "OTSObjectNotExist"]
    assert res["defined"] == [["city", 4], ["age", 1], ["note", 4], ["score", 2], ["zone", 4]]
    assert res["indexes"] == [["by_city", ["city"], ["note"], 0]]
    assert res["indexPk"] == [["city", 2], ["uid", 1]]
    assert res["listed"] == ["users"]
    assert res["put"] == [[["lima", 3], {"note": "n3"}], [["lima", 6], {"note": "n6"}],
                          [["oslo", 2], {"note": "n2"}], [["oslo", 4], {"note": "n4"}],
                          [["paris", 1], {"note": "n1"}], [["rome", 5], {"note": "n5"}]]
    assert res["backward"] == [["rome", 5], ["paris", 1], ["oslo", 4]] and res["backNext"] == ["oslo", 2]
    assert res["batchGet"] == [[True, ["oslo", 4]], [True, None]]
    assert res["updated"] == [[["athens", 2], {"note": "moved"}], [["oslo", 4], {"note": "n4"}],
                              [["paris", 1], {"note": "n1"}], [["rome", 5], {"note": "n5"}]]
    assert res["batch"] == [True, True, False]
    assert [r[0] for r in res["batched"]] == [["athens", 2], ["bern", 8], ["paris", 1], ["rome", 5]]
    assert res["inTxn"] == [["athens", 2], ["bern", 8], ["paris", 1], ["rome", 5]]
    assert res["committed"] == [["athens", 2], ["bern", 8], ["cairo", 5], ["paris", 1]]
    assert res["badType"] == bad and res["badTypeRow"] is None
    assert res["putIndex"] == bad and res["deleteIndex"] == bad
    assert res["txnIndex"] == bad
    assert res["updateIndexTable"] == bad and res["deleteIndexTable"] == bad
    assert res["byAge"] == [[30, "lima", 11], [40, "oslo", 10]]
    assert res["again"] == [409, "OTSObjectAlreadyExist"]
    assert res["notDefined"] == bad and res["doubleKey"] == bad and res["definedInPk"] == bad
    assert res["tooWide"] == bad
    assert res["tableName"] == [409, "OTSObjectAlreadyExist"]
    assert res["sixth"] == [403, "OTSQuotaExhausted"]
    assert res["versions"] == bad and res["createVersions"] == bad
    assert res["createSix"] == [403, "OTSQuotaExhausted"]
    assert res["bDescribe"] == gone and res["bScan"] == gone and res["bGet"] == gone
    assert res["bDrop"] == gone and res["bCreate"] == gone
    assert res["bOwnIndexNone"] == 0
    assert res["afterDrop"] == ["by_city", "i3", "i4", "i5"]
    assert res["droppedScan"] == gone and res["dropAgain"] == gone
    assert res["recreated"] == 0
    assert res["backfilled"] == [[[21, 1], "n1"], [[22, 2], "moved"], [[25, 5], "n5"], [[26, 6], "n6"],
                                 [[30, 11], None], [[40, 10], None]]
    assert res["afterBackfill"] == [[22, 2], [25, 5], [26, 6], [30, 11], [40, 10], [50, 1]]
    assert res["afterDelete"] == gone and "users" not in res["list"] and "by_city" not in res["list"]


EPOCH_1 = r"""
const a = mk(process.env.AK0, process.env.SK0);
await a.createTable({tableMeta: {tableName: 'ep', primaryKey: [{name: 'uid', type: 'INTEGER'}],
    definedColumn: [{name: 'city', type: TS.DefinedColumnType.DCT_STRING}]},
    reservedThroughput: {capacityUnit: {read: 0, write: 0}}, tableOptions: {timeToLive: -1, maxVersions: 1},
    indexMetas: [{name: 'ep_city', primaryKey: ['city']}]});
await a.putRow({tableName: 'ep', condition: IGNORE, primaryKey: [{uid: Long.fromNumber(1)}], attributeColumns: [{city: 'a'}]});
out({ok: true});
"""

EPOCH_2 = r"""
const a = mk(process.env.AK0, process.env.SK0);
const L = (n) => Long.fromNumber(n);
await a.putRow({tableName: 'ep', condition: IGNORE, primaryKey: [{uid: L(2)}], attributeColumns: [{city: 'b'}]});
await a.updateRow({tableName: 'ep', condition: IGNORE, primaryKey: [{uid: L(1)}], updateOfAttributeColumns: [{PUT: [{city: 'c'}]}]});
const r = await a.getRange({tableName: 'ep_city', direction: TS.Direction.FORWARD, limit: 10,
    inclusiveStartPrimaryKey: [{city: TS.INF_MIN}, {uid: TS.INF_MIN}], exclusiveEndPrimaryKey: [{city: TS.INF_MAX}, {uid: TS.INF_MAX}]});
out({index: r.rows.map(pkOf)});
// a transaction whose rows were staged under another index set cannot commit
const tx = (await a.startLocalTransaction({tableName: 'ep', primaryKey: [{uid: L(5)}]})).transactionId;
await a.putRow({tableName: 'ep', condition: IGNORE, primaryKey: [{uid: L(5)}], attributeColumns: [{city: 'q'}], transactionId: tx});
await a.createIndex({mainTableName: 'ep', indexMeta: {name: 'ep_two', primaryKey: ['city']}});
out({commitAfterIndex: await code(a.commitTransaction({transactionId: tx}))});
await a.abortTransaction({transactionId: tx});
out({notLanded: (await a.getRow({tableName: 'ep', primaryKey: [{uid: L(5)}], maxVersions: 1})).row.primaryKey || null});
// one started after it commits into both indexes
const tx2 = (await a.startLocalTransaction({tableName: 'ep', primaryKey: [{uid: L(5)}]})).transactionId;
await a.putRow({tableName: 'ep', condition: IGNORE, primaryKey: [{uid: L(5)}], attributeColumns: [{city: 'q'}], transactionId: tx2});
await a.commitTransaction({transactionId: tx2});
const two = await a.getRow({tableName: 'ep_two', primaryKey: [{city: 'q'}, {uid: L(5)}], maxVersions: 1});
out({inBoth: [pkOf(two.row), (await a.getRow({tableName: 'ep_city', primaryKey: [{city: 'q'}, {uid: L(5)}], maxVersions: 1})).row.primaryKey ? 1 : 0]});
await a.deleteTable({tableName: 'ep'});
"""

EPOCH_KEY = b"\xffE"


def _rados(ceph, *args) -> bytes:
    """The rados tool as client.admin with byte arguments (omap keys here are not UTF-8)."""
    cmd = [b"rados", b"-c", bytes(ceph.conf), b"-n", b"client.admin", b"--keyring",
           bytes(ceph.keyring("client.admin")), b"-p", b"ecs-ots", *args]
    return subprocess.run(cmd, capture_output=True, check=True, timeout=60).stdout


def _index_objects(ceph, io, prefix: bytes) -> list:
    """The rows objects holding index rows under prefix."""
    out = []
    for obj in io.list_objects():
        if obj.key.startswith("ots.rows.") and not obj.key.endswith(".auto"):
            keys = _rados(ceph, b"listomapkeys", obj.key.encode()).split(b"\n")
            if any(k.startswith(prefix) for k in keys):
                out.append(obj.key)
    return out


def test_index_set_key_heals(ots, accounts, ceph_cluster):  # noqa: F811
    """The rows object's index set key left behind (as by a crash between CreateIndex's
    catalogue write and it): the next write reads the catalogue again, indexes by it and
    sets the key; nothing is lost from the index."""
    run(ots, EPOCH_1, accounts[0])
    cluster = ceph_cluster.rados_connect("client.admin")
    try:
        io = cluster.open_ioctx("ecs-ots")
        mine = _index_objects(ceph_cluster, io, b"\xffIep_city.")
        assert len(mine) == 1
        oid = mine[0].encode()
        assert _rados(ceph_cluster, b"getomapval", oid, EPOCH_KEY, b"/dev/stdout") == b"ep_city(city |)"
        _rados(ceph_cluster, b"setomapval", oid, EPOCH_KEY, b"stale")
        res = run(ots, EPOCH_2.replace("await a.deleteTable({tableName: 'ep'});", ""), accounts[0])
        assert res["index"] == [["b", 2], ["c", 1]]
        assert res["commitAfterIndex"] == [409, "OTSRowOperationConflict"] and res["notLanded"] is None
        assert res["inBoth"] == [["q", 5], 1]
        assert _rados(ceph_cluster, b"getomapval", oid, EPOCH_KEY, b"/dev/stdout") == b"ep_city(city |)ep_two(city |)"
        run(ots, "await mk(process.env.AK0, process.env.SK0).deleteTable({tableName: 'ep'}); out({});", accounts[0])
        io.close()
    finally:
        cluster.shutdown()
