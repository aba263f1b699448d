"""ecs-otsd beyond the first slice, driven by npm `tablestore` 5.x unchanged on the test Ceph
cluster: auto-increment primary key columns (values made by a compare-and-swap counter in
RADOS, unique under concurrent writers), column conditions on writes and filters on reads,
and the table limit under concurrent creators. A second account never reaches the first's
tables or counters."""

import contextlib
import subprocess

import pytest

from agentenv import free_port
from cloudenv import stop_controller
from test_ots_api import accounts, ots, run  # noqa: F401 (fixtures)
from waiting import wait_log_line


@contextlib.contextmanager
def second_gateway(env):
    """Another ecs-otsd on the same cluster and controller (its own port): its port."""
    port = free_port()
    cfg = env.dir / "otsd2.ini"
    cfg.write_text(env.config.read_text().replace(f"port = {env.port}\n", f"port = {port}\n", 1))
    log = env.dir / "otsd2.log"
    with open(log, "ab") as f:
        proc = subprocess.Popen([str(env.BIN), "-c", str(cfg)], stdout=f, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    try:
        wait_log_line(log, env.READY, 30, "the second ecs-otsd ready", proc=proc)
        yield port
    finally:
        stop_controller(proc)  # SIGTERM, then SIGKILL after 20 s: any daemon of ours

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


@pytest.fixture(scope="module")
def ots_short(ceph_cluster):
    """A gateway whose transactions end after 3 idle seconds (txn_idle_s), for the timeout."""
    from otsenv import OtsEnv
    with OtsEnv(ceph_cluster, "txn_idle_s = 3") as env:
        yield env


TXN = r"""
const a = mk(process.env.AK0, process.env.SK0), b = mk(process.env.AK1, process.env.SK1);
await create(a, 'tx', [{name: 'p', type: 'STRING'}, {name: 'n', type: 'INTEGER'}]);
const L = (n) => Long.fromNumber(n);
const key = (n, p) => [{p: p || 'u1'}, {n: L(n)}];
const withTx = (o, id) => Object.assign(o, id ? {transactionId: id} : {});
const get = async (n, id, p) => { const r = await a.getRow(withTx({tableName: 'tx', primaryKey: key(n, p), maxVersions: 1}, id));
  return r.row && r.row.primaryKey ? attrs(r.row) : null; };
const put = (n, v, id, p, c) => (c || a).putRow(withTx({tableName: 'tx', condition: IGNORE, primaryKey: key(n, p),
    attributeColumns: [{v}]}, id));
const start = (p, c) => (c || a).startLocalTransaction({tableName: 'tx', primaryKey: [{p}]});
await put(1, 'before');
await put(5, 'c5');
await put(15, 'c15');
const id = (await start('u1')).transactionId;
out({idLength: id.length});
await put(2, 'new', id);
await a.updateRow({tableName: 'tx', condition: EXIST, primaryKey: key(1), transactionId: id,
    updateOfAttributeColumns: [{PUT: [{v: 'changed'}]}]});
out({inside: [await get(1, id), await get(2, id)], outside: [await get(1), await get(2)]});
out({outsideWrite: await code(put(3, 'x')), otherPartition: await code(put(1, 'y', null, 'u2')),
     secondStart: await code(start('u1')), outOfRange: await code(put(1, 'z', id, 'u2')),
     otherAccount: await code(b.commitTransaction({transactionId: id})),
     otherAccountWrite: await code(put(1, 'w', id, 'u1', b)),
     bogus: await code(a.commitTransaction({transactionId: 'ab'.repeat(24)}))});
await a.deleteRow({tableName: 'tx', condition: IGNORE, primaryKey: key(1), transactionId: id});
out({deletedInside: await get(1, id), stillOutside: await get(1)});
const bw = await a.batchWriteRow({transactionId: id, tables: [{tableName: 'tx', rows: [10, 11].map(n => ({type: 'PUT',
    condition: IGNORE, primaryKey: key(n), attributeColumns: [{v: 'b' + n}]})).concat([{type: 'PUT', condition: IGNORE,
    primaryKey: key(12, 'u2'), attributeColumns: [{v: 'out'}]}])}]});
out({batch: bw.tables.map(r => [r.isOk, r.errorCode || null])});
const scan = async (dir, id, limit, p2) => {
  const fwd = dir === TS.Direction.FORWARD;
  let next = [{p: 'u1'}, {n: fwd ? TS.INF_MIN : TS.INF_MAX}], ns = [], pages = 0;
  while (next && pages < 20) {
    const r = await a.getRange(withTx({tableName: 'tx', direction: dir, inclusiveStartPrimaryKey: next,
        exclusiveEndPrimaryKey: [{p: p2 || 'u1'}, {n: fwd ? TS.INF_MAX : TS.INF_MIN}], maxVersions: 1, limit}, id));
    ns = ns.concat(r.rows.map(x => x.primaryKey[1].value.toNumber()));
    next = r.nextStartPrimaryKey && r.nextStartPrimaryKey.map(c => ({[c.name]: c.value}));
    pages++;
  }
  return ns;
};
out({rangeInside: [await scan(TS.Direction.FORWARD, id), await scan(TS.Direction.BACKWARD, id),
                   await scan(TS.Direction.FORWARD, id, 2), await scan(TS.Direction.BACKWARD, id, 2)],
     rangeOutside: await scan(TS.Direction.FORWARD), rangeOutOfPartition: await code(scan(TS.Direction.FORWARD, id, 10, 'u2'))});
await a.commitTransaction({transactionId: id});
out({afterCommit: [await get(1), await get(2), await get(10), await get(11), await get(12, null, 'u2')]});
out({commitAgain: await code(a.commitTransaction({transactionId: id})), writeAfter: await code(put(3, 'x'))});
// abort: nothing of it lands, its id is gone
const id2 = (await start('u1')).transactionId;
await put(20, 'aborted', id2);
await a.abortTransaction({transactionId: id2});
out({aborted: await get(20), afterAbort: await code(put(21, 'x', id2)), freeAgain: await code(put(21, 'x'))});
// five clients start on one partition key at once: one transaction
const cs = Array.from({length: 5}, () => mk(process.env.AK0, process.env.SK0));
const st = await Promise.all(cs.map(c => code(start('u3', c))));
out({starts: [st.filter(x => x === 'none').length, st.filter(x => x[1] === 'OTSRowOperationConflict').length]});
// limits: 1,000 rows and 4 MB a transaction
const id3 = (await start('u4')).transactionId;
for (let at = 0; at < 1000; at += 200)
  await a.batchWriteRow({transactionId: id3, tables: [{tableName: 'tx', rows: Array.from({length: 200}, (_, i) => ({
      type: 'PUT', condition: IGNORE, primaryKey: key(at + i, 'u4'), attributeColumns: [{v: 'r'}]}))}]});
out({rows1000: await code(put(999, 'again', id3, 'u4')), rows1001: await code(put(1000, 'one more', id3, 'u4'))});
await a.abortTransaction({transactionId: id3});
const id4 = (await start('u5')).transactionId;
const big = 'm'.repeat(1536 * 1024);
out({mb3: await code(put(1, big, id4, 'u5').then(() => put(2, big, id4, 'u5'))), mbOver4: await code(put(3, big, id4, 'u5'))});
await a.commitTransaction({transactionId: id4});
out({bigCommitted: [(await get(1, null, 'u5')).v.length, await get(3, null, 'u5')]});
await a.deleteTable({tableName: 'tx'});
"""


def test_local_transactions(ots, accounts):  # noqa: F811
    res = run(ots, TXN, *accounts)
    conflict, gone = [409, "OTSRowOperationConflict"], [404, "OTSSessionNotExist"]
    assert res["idLength"] == 48
    assert res["inside"] == [{"v": "changed"}, {"v": "new"}] and res["outside"] == [{"v": "before"}, None]
    assert res["outsideWrite"] == conflict and res["otherPartition"] == "none" and res["secondStart"] == conflict
    assert res["outOfRange"] == [400, "OTSDataOutOfRange"]
    assert res["otherAccount"] == gone and res["otherAccountWrite"] == [404, "OTSObjectNotExist"]
    assert res["bogus"] == gone
    assert res["deletedInside"] is None and res["stillOutside"] == {"v": "before"}
    assert res["batch"] == [[True, None], [True, None], [False, "OTSDataOutOfRange"]]
    inside = [2, 5, 10, 11, 15]
    assert res["rangeInside"] == [inside, inside[::-1], inside, inside[::-1]]
    assert res["rangeOutside"] == [1, 5, 15] and res["rangeOutOfPartition"] == [400, "OTSDataOutOfRange"]
    assert res["afterCommit"] == [None, {"v": "new"}, {"v": "b10"}, {"v": "b11"}, None]
    assert res["commitAgain"] == gone and res["writeAfter"] == "none"
    assert res["aborted"] is None and res["afterAbort"] == gone and res["freeAgain"] == "none"
    assert res["starts"] == [1, 4]
    assert res["rows1000"] == "none" and res["rows1001"] == [400, "OTSParameterInvalid"]
    assert res["mb3"] == "none" and res["mbOver4"] == [400, "OTSParameterInvalid"]
    assert res["bigCommitted"] == [1536 * 1024, None]


TXN_IDLE = r"""
const a = mk(process.env.AK0, process.env.SK0);
await create(a, 'idle', [{name: 'p', type: 'STRING'}, {name: 'n', type: 'INTEGER'}]);
const key = (n) => [{p: 'u'}, {n: Long.fromNumber(n)}];
const put = (n, id) => a.putRow(Object.assign({tableName: 'idle', condition: IGNORE, primaryKey: key(n),
    attributeColumns: [{v: 'x'}]}, id ? {transactionId: id} : {}));
const id = (await a.startLocalTransaction({tableName: 'idle', primaryKey: [{p: 'u'}]})).transactionId;
await put(1, id);
await new Promise(r => setTimeout(r, 4500));  // past txn_idle_s = 3 without a request
out({afterIdle: await code(put(2, id)), commit: await code(a.commitTransaction({transactionId: id}))});
out({outsideWrite: await code(put(3))});
const row = async (n) => { const r = await a.getRow({tableName: 'idle', primaryKey: key(n), maxVersions: 1});
  return !!(r.row && r.row.primaryKey); };
out({landed: [await row(1), await row(2), await row(3)]});
const again = await code(a.startLocalTransaction({tableName: 'idle', primaryKey: [{p: 'u'}]}));
out({startAgain: again});
await a.deleteTable({tableName: 'idle'});
"""


def test_local_transaction_idle_timeout(ots_short):
    res = run(ots_short, TXN_IDLE, ots_short.account("ots-idle"))
    assert res["afterIdle"] == [400, "OTSSessionTimeout"] and res["commit"] == [400, "OTSSessionTimeout"]
    assert res["outsideWrite"] == "none"
    assert res["landed"] == [False, False, True]
    assert res["startAgain"] == "none"


TWO_GATEWAYS = r"""
// two gateways on one cluster: what must hold across them holds in RADOS, not in a process
const other = (ak, sk, inst) => new TS.Client({accessKeyId: ak, secretAccessKey: sk,
    endpoint: `http://127.0.0.1:${process.env.PORT2}`, instancename: inst || 'default', maxRetries: 0});
const g1 = Array.from({length: 10}, () => mk(process.env.AK0, process.env.SK0));
const g2 = Array.from({length: 10}, () => other(process.env.AK0, process.env.SK0));
await create(g1[0], 'gw', [{name: 'part', type: 'STRING'}, {name: 'id', type: 'INTEGER', option: 'AUTO_INCREMENT'}]);
const ids = (await Promise.all(g1.concat(g2).map(async (c) => {
  const mine = [];
  for (let k = 0; k < 5; k++)
    mine.push(pkOf((await c.putRow({tableName: 'gw', condition: IGNORE, primaryKey: [{part: 'x'}, {id: TS.PK_AUTO_INCR}],
        attributeColumns: [{v: 'v'}], returnContent: {returnType: TS.ReturnType.Primarykey}})).row)[1]);
  return mine;
}))).flat();
out({autoAcross: [ids.length, new Set(ids).size]});
// a transaction started on one gateway holds on the other
const id = (await g1[0].startLocalTransaction({tableName: 'gw', primaryKey: [{part: 'y'}]})).transactionId;
const row = [{part: 'y'}, {id: Long.fromNumber(1)}];
await g2[0].putRow({tableName: 'gw', condition: IGNORE, primaryKey: row, attributeColumns: [{v: 'tx'}], transactionId: id});
out({outsideOther: await code(g2[1].putRow({tableName: 'gw', condition: IGNORE, primaryKey: row, attributeColumns: [{v: 'no'}]})),
     startOther: await code(g2[1].startLocalTransaction({tableName: 'gw', primaryKey: [{part: 'y'}]}))});
await g2[0].commitTransaction({transactionId: id});
const g = await g1[0].getRow({tableName: 'gw', primaryKey: row, maxVersions: 1});
out({committedAcross: attrs(g.row)});
await g1[0].deleteTable({tableName: 'gw'});
// the table limit with creators on both gateways
const cs = Array.from({length: 70}, (_, i) => (i % 2 ? mk : other)(process.env.AK0, process.env.SK0, 'gw-inst'));
const res = await Promise.all(cs.map((c, i) => code(create(c, 't' + i, [{name: 'k', type: 'STRING'}]))));
const names = (await cs[1].listTable({})).tableNames;
out({limitAcross: [res.filter(r => r === 'none').length, names.length]});
await Promise.all(names.map((n) => cs[1].deleteTable({tableName: n})));
"""


def test_two_gateways(ots, accounts):  # noqa: F811
    with second_gateway(ots) as port2:
        res = run(ots, TWO_GATEWAYS, accounts[0], PORT2=str(port2))
    assert res["autoAcross"] == [100, 100]
    assert res["outsideOther"] == [409, "OTSRowOperationConflict"]
    assert res["startOther"] == [409, "OTSRowOperationConflict"]
    assert res["committedAcross"] == {"v": "tx"}
    assert res["limitAcross"] == [64, 64]


FILTER_SCAN_LIMIT = r"""
// 5,010 rows, only the last ten pass the filter: an answer looks at 5,000 rows at most
const a = mk(process.env.AK0, process.env.SK0);
await create(a, 'sparse', [{name: 'n', type: 'INTEGER'}]);
for (let at = 0; at < 5010; at += 200)
  await a.batchWriteRow({tables: [{tableName: 'sparse', rows: Array.from({length: Math.min(200, 5010 - at)}, (_, i) => ({
      type: 'PUT', condition: IGNORE, primaryKey: [{n: Long.fromNumber(at + i)}],
      attributeColumns: [{hit: at + i >= 5000}]}))}]});
const f = new TS.SingleColumnCondition('hit', true, TS.ComparatorType.EQUAL, false);
const pages = [];
let next = [{n: TS.INF_MIN}];
while (next && pages.length < 5) {
  const r = await a.getRange({tableName: 'sparse', direction: TS.Direction.FORWARD, inclusiveStartPrimaryKey: next,
      exclusiveEndPrimaryKey: [{n: TS.INF_MAX}], maxVersions: 1, columnFilter: f});
  pages.push([r.rows.length, r.nextStartPrimaryKey ? r.nextStartPrimaryKey[0].value.toNumber() : null]);
  next = r.nextStartPrimaryKey && r.nextStartPrimaryKey.map(c => ({[c.name]: c.value}));
}
out({pages});
await a.deleteTable({tableName: 'sparse'});
"""


def test_filtered_range_looks_at_5000_rows(ots, accounts):  # noqa: F811
    res = run(ots, FILTER_SCAN_LIMIT, accounts[0])
    assert res["pages"] == [[0, 5000], [10, None]]
