"""ecs-otsd beyond the first slice, driven by npm `tablestore` 5.x unchanged on the test Ceph
cluster: auto-increment primary key columns (values made by a compare-and-swap counter in
RADOS, unique under concurrent writers), column conditions on writes and filters on reads,
and the table limit under concurrent creators. A second account never reaches the first's
tables or counters."""

import pytest

from test_ots_api import accounts, ots, run  # noqa: F401 (fixtures)

AUTO = r"""
const a = mk(process.env.AK0, process.env.SK0), b = mk(process.env.AK1, process.env.SK1);
const pkAuto = [{name: 'part', type: 'STRING'}, {name: 'id', type: 'INTEGER', option: 'AUTO_INCREMENT'}];
await create(a, 'auto', pkAuto);
out({describe: (await a.describeTable({tableName: 'auto'})).tableMeta.primaryKey.map(p => [p.name, p.hasOwnProperty('option') ? p.option : null])});
const RT_PK = {returnType: TS.ReturnType.Primarykey};
const put = (c, part, v) => c.putRow({tableName: 'auto', condition: IGNORE, primaryKey: [{part}, {id: TS.PK_AUTO_INCR}],
    attributeColumns: [{v}], returnContent: RT_PK});
const ids = [];
for (let i = 0; i < 3; i++) ids.push(pkOf((await put(a, 'p1', 'x' + i)).row)[1]);
out({serial: ids});
out({otherPart: pkOf((await put(a, 'p2', 'y')).row)});
// twenty clients, five puts each, on one partition key at once: every value its own
const cs = Array.from({length: 20}, () => mk(process.env.AK0, process.env.SK0));
const got = await Promise.all(cs.map(async (c, i) => {
  const mine = [];
  for (let k = 0; k < 5; k++) mine.push(pkOf((await put(c, 'hot', 'c' + i)).row)[1]);
  return mine;
}));
const all = got.flat();
out({concurrent: {n: all.length, unique: new Set(all).size, eachIncreasing: got.every(m => m.every((v, i) => i === 0 || v > m[i - 1]))}});
const range = await a.getRange({tableName: 'auto', direction: TS.Direction.FORWARD,
    inclusiveStartPrimaryKey: [{part: 'hot'}, {id: TS.INF_MIN}], exclusiveEndPrimaryKey: [{part: 'hot'}, {id: TS.INF_MAX}], limit: 1000});
out({hotRows: range.rows.length, hotMax: Math.max(...all)});
const g = await a.getRow({tableName: 'auto', primaryKey: [{part: 'p1'}, {id: Long.fromNumber(ids[1])}], maxVersions: 1});
out({readBack: attrs(g.row)});
// BatchWriteRow: each PUT with the placeholder gets its own value
const bw = await a.batchWriteRow({tables: [{tableName: 'auto', rows: [0, 1, 2].map(i => ({type: 'PUT', condition: IGNORE,
    primaryKey: [{part: 'batch'}, {id: TS.PK_AUTO_INCR}], attributeColumns: [{v: 'b' + i}], returnContent: RT_PK}))}]});
out({batch: bw.tables.map(r => [r.isOk, r.primaryKey ? pkOf({primaryKey: r.primaryKey})[1] : null])});
// the placeholder is refused where no value is made
const ph = [{part: 'p1'}, {id: TS.PK_AUTO_INCR}];
out({getPh: await code(a.getRow({tableName: 'auto', primaryKey: ph, maxVersions: 1}))});
out({updatePh: await code(a.updateRow({tableName: 'auto', condition: IGNORE, primaryKey: ph,
    updateOfAttributeColumns: [{PUT: [{v: 'u'}]}]}))});
out({deletePh: await code(a.deleteRow({tableName: 'auto', condition: IGNORE, primaryKey: ph}))});
await create(a, 'plain', [{name: 'part', type: 'STRING'}, {name: 'id', type: 'INTEGER'}]);
out({plainPh: await code(a.putRow({tableName: 'plain', condition: IGNORE, primaryKey: ph, attributeColumns: [{v: 'p'}]}))});
// schemas refused
out({autoFirst: await code(create(a, 'af', [{name: 'id', type: 'INTEGER', option: 'AUTO_INCREMENT'}, {name: 's', type: 'STRING'}]))});
out({autoString: await code(create(a, 'as', [{name: 'p', type: 'STRING'}, {name: 's', type: 'STRING', option: 'AUTO_INCREMENT'}]))});
out({autoTwo: await code(create(a, 'a2', [{name: 'p', type: 'STRING'}, {name: 'x', type: 'INTEGER', option: 'AUTO_INCREMENT'},
    {name: 'y', type: 'INTEGER', option: 'AUTO_INCREMENT'}]))});
// another account: no reach into a's table; its own table of the same name counts from its own start
out({otherPut: await code(put(b, 'p1', 'z'))});
await create(b, 'auto', pkAuto);
out({otherFirst: pkOf((await put(b, 'p1', 'z')).row)[1]});
// a table made again counts afresh
await a.deleteTable({tableName: 'auto'});
await create(a, 'auto', pkAuto);
out({recreated: pkOf((await put(a, 'p1', 'again')).row)[1]});
for (const [c, t] of [[a, 'auto'], [a, 'plain'], [b, 'auto']]) await c.deleteTable({tableName: t});
"""


def test_auto_increment(ots, accounts):  # noqa: F811
    res = run(ots, AUTO, *accounts)
    bad = [400, "OTSParameterInvalid"]
    assert res["describe"] == [["part", None], ["id", 1]]
    assert res["serial"] == [1, 2, 3]
    assert res["otherPart"] == ["p2", 1]
    assert res["concurrent"] == {"n": 100, "unique": 100, "eachIncreasing": True}
    assert res["hotRows"] == 100 and res["hotMax"] == 100
    assert res["readBack"] == {"v": "x1"}
    assert res["batch"] == [[True, 1], [True, 2], [True, 3]]
    assert res["getPh"] == bad and res["updatePh"] == bad and res["deletePh"] == bad and res["plainPh"] == bad
    assert res["autoFirst"] == bad and res["autoString"] == bad and res["autoTwo"] == bad
    assert res["otherPut"] == [404, "OTSObjectNotExist"]
    assert res["otherFirst"] == 1
    assert res["recreated"] == 1
