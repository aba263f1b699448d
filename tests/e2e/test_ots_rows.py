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


CONDITIONS = r"""
const a = mk(process.env.AK0, process.env.SK0), b = mk(process.env.AK1, process.env.SK1);
await create(a, 'cond', [{name: 'k', type: 'STRING'}], {maxVersions: 3});
const L = (n) => Long.fromNumber(n);
const CT = TS.ComparatorType, LO = TS.LogicalOperator;
const S = (n, v, cmp, pim, lvo) => new TS.SingleColumnCondition(n, v, cmp, pim, lvo);
const C = (op, ...subs) => { const c = new TS.CompositeCondition(op); subs.forEach(s => c.addSubCondition(s)); return c; };
const cond = (cc, re) => new TS.Condition(re === undefined ? TS.RowExistenceExpectation.IGNORE : re, cc);
const put = (k, cols, cc, re) => a.putRow({tableName: 'cond', condition: cond(cc, re), primaryKey: [{k}], attributeColumns: cols});
const upd = (k, cols, cc, c) => (c || a).updateRow({tableName: 'cond', condition: cond(cc), primaryKey: [{k}],
    updateOfAttributeColumns: [{PUT: cols}]});
const del = (k, cc) => a.deleteRow({tableName: 'cond', condition: cond(cc), primaryKey: [{k}]});
const get = async (k) => { const g = await a.getRow({tableName: 'cond', primaryKey: [{k}], maxVersions: 1});
  return g.row && g.row.primaryKey ? attrs(g.row) : null; };
await put('r1', [{n: L(5)}, {s: 'abc'}, {f: 1.5}, {t: true}]);
out({eqOk: await code(upd('r1', [{x: 'a'}], S('n', L(5), CT.EQUAL))),
     eqFail: await code(upd('r1', [{x: 'b'}], S('n', L(6), CT.EQUAL))),
     gt: await code(upd('r1', [{x: 'c'}], S('s', 'abb', CT.GREATER_THAN))),
     lt: await code(upd('r1', [{x: 'd'}], S('f', 1.0, CT.LESS_THAN))),
     ge: await code(upd('r1', [{x: 'e'}], S('n', L(5), CT.GREATER_EQUAL))),
     ne: await code(upd('r1', [{x: 'f'}], S('t', true, CT.NOT_EQUAL)))});
out({afterSingle: (await get('r1')).x});
out({missPass: await code(upd('r1', [{y: '1'}], S('nosuch', 'v', CT.EQUAL))),
     missFail: await code(upd('r1', [{y: '2'}], S('nosuch', 'v', CT.EQUAL, false))),
     typeMismatch: await code(upd('r1', [{y: '3'}], S('n', '5', CT.EQUAL)))});
out({and: await code(upd('r1', [{z: 'and'}], C(LO.AND, S('n', L(5), CT.EQUAL), S('t', true, CT.EQUAL)))),
     andFail: await code(upd('r1', [{z: 'andF'}], C(LO.AND, S('n', L(5), CT.EQUAL), S('t', false, CT.EQUAL)))),
     or: await code(upd('r1', [{z: 'or'}], C(LO.OR, S('n', L(6), CT.EQUAL), S('s', 'abc', CT.EQUAL)))),
     not: await code(upd('r1', [{z: 'not'}], C(LO.NOT, S('s', 'abc', CT.EQUAL)))),
     nested: await code(upd('r1', [{z: 'nested'}], C(LO.AND, C(LO.NOT, S('n', L(6), CT.EQUAL)),
         C(LO.OR, S('f', 1.5, CT.EQUAL), S('s', 'zzz', CT.EQUAL)))))});
out({afterComposite: (await get('r1')).z});
for (const [v, ts] of [['old', 1000], ['new', 2000]])
  await a.updateRow({tableName: 'cond', condition: IGNORE, primaryKey: [{k: 'r1'}],
      updateOfAttributeColumns: [{PUT: [{v, timestamp: ts}]}]});
out({latestOnly: await code(upd('r1', [{w: '1'}], S('v', 'old', CT.EQUAL, true, true))),
     anyVersion: await code(upd('r1', [{w: '2'}], S('v', 'old', CT.EQUAL, true, false)))});
out({putFail: await code(put('r1', [{q: 'x'}], S('n', L(1), CT.EQUAL), TS.RowExistenceExpectation.EXPECT_EXIST)),
     delFail: await code(del('r1', S('n', L(1), CT.EQUAL))), kept: (await get('r1')).n});
out({delOk: await code(del('r1', S('n', L(5), CT.EQUAL))), gone: await get('r1')});
out({missingRowPass: await code(put('r2', [{n: L(1)}], S('n', L(9), CT.EQUAL, true))),
     missingRowFail: await code(put('r3', [{n: L(1)}], S('n', L(9), CT.EQUAL, false)))});
// BatchWriteRow: each row's condition answers for that row alone
const bw = await a.batchWriteRow({tables: [{tableName: 'cond', rows: [
  {type: 'UPDATE', condition: cond(S('n', L(1), CT.EQUAL)), primaryKey: [{k: 'r2'}], attributeColumns: [{PUT: [{b: 'yes'}]}]},
  {type: 'PUT', condition: cond(S('n', L(1), CT.EQUAL, false)), primaryKey: [{k: 'r4'}], attributeColumns: [{b: 'no'}]},
  {type: 'DELETE', condition: cond(S('n', L(2), CT.EQUAL, false)), primaryKey: [{k: 'r5'}]}]}]});
out({batch: bw.tables.map(r => [r.isOk, r.errorCode || null]), r2: await get('r2'), r4: await get('r4')});
// malformed or refused conditions
const many = (n) => C(LO.AND, ...Array.from({length: n}, (_, i) => S('c' + i, L(i), CT.EQUAL)));
out({nodes32: await code(upd('r2', [{m: 'x'}], many(31))), nodes33: await code(upd('r2', [{m: 'y'}], many(32))),
     notTwo: await code(upd('r2', [{m: 'z'}], C(LO.NOT, S('n', L(1), CT.EQUAL), S('n', L(2), CT.EQUAL)))),
     pagingAsCondition: await code(upd('r2', [{m: 'w'}], new TS.ColumnPaginationFilter(1, 0)))});
// another account: the same condition reaches nothing
out({otherAccount: await code(upd('r2', [{m: 'v'}], S('n', L(1), CT.EQUAL), b))});
"""


def test_column_conditions(ots, accounts):  # noqa: F811
    res = run(ots, CONDITIONS, *accounts)
    fail, bad = [403, "OTSConditionCheckFail"], [400, "OTSParameterInvalid"]
    assert [res[k] for k in ("eqOk", "eqFail", "gt", "lt", "ge", "ne")] == ["none", fail, "none", fail, "none", fail]
    assert res["afterSingle"] == "e"
    assert [res["missPass"], res["missFail"], res["typeMismatch"]] == ["none", fail, fail]
    assert [res[k] for k in ("and", "andFail", "or", "not", "nested")] == ["none", fail, "none", fail, "none"]
    assert res["afterComposite"] == "nested"
    assert res["latestOnly"] == fail and res["anyVersion"] == "none"
    assert res["putFail"] == fail and res["delFail"] == fail and res["kept"] == 5
    assert res["delOk"] == "none" and res["gone"] is None
    assert res["missingRowPass"] == "none" and res["missingRowFail"] == fail
    assert res["batch"][0] == [True, None] and res["batch"][1] == [False, "OTSConditionCheckFail"]
    assert res["batch"][2] == [False, "OTSConditionCheckFail"]
    assert res["r2"] == {"n": 1, "b": "yes"} and res["r4"] is None
    assert res["nodes32"] == "none" and res["nodes33"] == bad and res["notTwo"] == bad
    assert res["pagingAsCondition"] == bad
    assert res["otherAccount"] == [404, "OTSObjectNotExist"]


FILTERS = r"""
const a = mk(process.env.AK0, process.env.SK0);
await create(a, 'filt', [{name: 'n', type: 'INTEGER'}]);
const L = (n) => Long.fromNumber(n);
const CT = TS.ComparatorType, LO = TS.LogicalOperator;
const S = (n, v, cmp, pim, lvo) => new TS.SingleColumnCondition(n, v, cmp, pim, lvo);
const C = (op, ...subs) => { const c = new TS.CompositeCondition(op); subs.forEach(s => c.addSubCondition(s)); return c; };
for (let at = 0; at < 100; at += 50)
  await a.batchWriteRow({tables: [{tableName: 'filt', rows: Array.from({length: 50}, (_, i) => ({type: 'PUT',
      condition: IGNORE, primaryKey: [{n: L(at + i)}],
      attributeColumns: (at + i) % 10 === 0 ? [{c0: 'a'}, {c1: 'b'}, {c2: 'c'}, {c3: 'd'}]
          : [{even: (at + i) % 2 === 0}, {v: L(at + i)}]}))}]});
const range = async (filter, dir, extra) => {
  let ns = [], next = dir === TS.Direction.BACKWARD ? [{n: TS.INF_MAX}] : [{n: TS.INF_MIN}], pages = 0;
  while (next && pages < 50) {
    const r = await a.getRange(Object.assign({tableName: 'filt', direction: dir || TS.Direction.FORWARD,
        inclusiveStartPrimaryKey: next, exclusiveEndPrimaryKey: dir === TS.Direction.BACKWARD ? [{n: TS.INF_MIN}] : [{n: TS.INF_MAX}],
        maxVersions: 1, columnFilter: filter}, extra || {}));
    ns = ns.concat(r.rows.map(x => x.primaryKey[0].value.toNumber()));
    next = r.nextStartPrimaryKey && r.nextStartPrimaryKey.map(c => ({[c.name]: c.value}));
    pages++;
  }
  return ns;
};
const f1 = C(LO.AND, S('even', true, CT.EQUAL, false), S('v', L(50), CT.GREATER_EQUAL));
const fwd = await range(f1);
out({fwd: [fwd.length, fwd[0], fwd[fwd.length - 1]]});
const bwdPaged = await range(f1, TS.Direction.BACKWARD, {limit: 7});
out({bwdPaged: [bwdPaged.length, bwdPaged[0], bwdPaged[bwdPaged.length - 1]]});
out({fwdPaged: (await range(f1, TS.Direction.FORWARD, {limit: 3})).length});
const g = async (n, filter) => { const r = await a.getRow({tableName: 'filt', primaryKey: [{n: L(n)}], maxVersions: 1, columnFilter: filter});
  return r.row && r.row.primaryKey ? attrs(r.row) : null; };
out({getPass: await g(52, S('v', L(52), CT.EQUAL)), getFiltered: await g(53, S('v', L(52), CT.EQUAL)),
     getPaged: await g(10, new TS.ColumnPaginationFilter(2, 1))});
const bg = await a.batchGetRow({tables: [{tableName: 'filt', primaryKey: [[{n: L(2)}], [{n: L(3)}]], maxVersions: 1,
    columnFilter: S('even', true, CT.EQUAL)}]});
out({batchGet: bg.tables[0].map(r => r.isOk && r.primaryKey ? pkOf(r)[0] : null)});
out({badFilter: await code(a.getRow({tableName: 'filt', primaryKey: [{n: L(1)}], maxVersions: 1,
    columnFilter: C(LO.NOT, S('v', L(1), CT.EQUAL), S('v', L(2), CT.EQUAL))}))});
await a.deleteTable({tableName: 'filt'});
"""


def test_read_filters(ots, accounts):  # noqa: F811
    res = run(ots, FILTERS, accounts[0])
    # even n in 50..99 that are not multiples of 10: 52, 54, 56, 58, 62, ... 98 = 20 rows
    assert res["fwd"] == [20, 52, 98]
    assert res["bwdPaged"] == [20, 98, 52]
    assert res["fwdPaged"] == 20
    assert res["getPass"] == {"even": True, "v": 52} and res["getFiltered"] is None
    assert res["getPaged"] == {"c1": "b", "c2": "c"}
    assert res["batchGet"] == [2, None]
    assert res["badFilter"] == [400, "OTSParameterInvalid"]


QUOTA_RACE = r"""
// seventy clients create a table each in one instance at once: exactly 64 (max_tables) exist
const inst = 'race-inst';
const cs = Array.from({length: 70}, () => mk(process.env.AK0, process.env.SK0, inst));
const round = async () => {
  const res = await Promise.all(cs.map((c, i) => code(create(c, 't' + i, [{name: 'k', type: 'STRING'}]))));
  const names = (await cs[0].listTable({})).tableNames;
  return {ok: res.filter(r => r === 'none').length, quota: res.filter(r => r[1] === 'OTSQuotaExhausted').length,
          listed: names.length, names};
};
const r1 = await round();
out({first: [r1.ok, r1.quota, r1.listed]});
// deleted at once, the count goes down with them: a second round fills the instance again
await Promise.all(r1.names.map((n, i) => cs[i].deleteTable({tableName: n})));
out({emptied: (await cs[0].listTable({})).tableNames.length});
const r2 = await round();
out({second: [r2.ok, r2.quota, r2.listed]});
// another account's instance of the same name is its own
const b = mk(process.env.AK1, process.env.SK1, inst);
out({other: await code(create(b, 'mine', [{name: 'k', type: 'STRING'}])), otherList: (await b.listTable({})).tableNames});
await b.deleteTable({tableName: 'mine'});
await Promise.all(r2.names.map((n, i) => cs[i].deleteTable({tableName: n})));
"""


def test_table_limit_under_concurrent_creators(ots, accounts):  # noqa: F811
    res = run(ots, QUOTA_RACE, *accounts)
    assert res["first"] == [64, 6, 64]
    assert res["emptied"] == 0
    assert res["second"] == [64, 6, 64]
    assert res["other"] == "none" and res["otherList"] == ["mine"]
