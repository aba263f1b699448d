"""The console's tables pages' server side (controller/console_ots.h): the controller signs
each call with the session's own key and makes it to a real ecs-otsd on the tests' Ceph, so
ecs-otsd decides what the account sees; a second account finds none of the first's tables.
Tables and rows are made with Alibaba's Node SDK (npm tablestore). No guest is booted."""

from __future__ import annotations

import pytest

from consoleenv import signed_in
from otsenv import OtsEnv, install_tablestore

SEED = r"""
const TS = require('tablestore');
const c = new TS.Client({accessKeyId: process.env.AK, secretAccessKey: process.env.SK,
    endpoint: `http://127.0.0.1:${process.env.PORT}`, instancename: 'default', maxRetries: 0});
(async () => {
  await c.createTable({tableMeta: {tableName: 'people', primaryKey: [{name: 'uid', type: 'INTEGER'},
      {name: 'name', type: 'STRING'}], definedColumn: [{name: 'age', type: TS.DefinedColumnType.DCT_INTEGER}]},
      reservedThroughput: {capacityUnit: {read: 0, write: 0}}, tableOptions: {timeToLive: -1, maxVersions: 1}});
  const rows = [];
  for (let i = 0; i < 45; i++)
    rows.push({type: 'PUT', condition: new TS.Condition(TS.RowExistenceExpectation.IGNORE, null),
      primaryKey: [{uid: TS.Long.fromNumber(i)}, {name: `p${i}`}],
      attributeColumns: [{age: TS.Long.fromNumber(20 + i)}, {note: `row ${i}`}, {ok: i % 2 === 0}]});
  for (let i = 0; i < rows.length; i += 15)
    await c.batchWriteRow({tables: [{tableName: 'people', rows: rows.slice(i, i + 15)}]});
  console.log(JSON.stringify({seeded: rows.length}));
})().catch(e => { console.error(e); process.exit(1); });
"""


@pytest.fixture(scope="module")
def env(ceph_cluster):
    install_tablestore()
    with OtsEnv(ceph_cluster, controller_uses_it=True) as e:
        yield e


@pytest.fixture(scope="module")
def seeded(env):
    """alice with the table people of 45 rows, and bob."""
    alice, bob = env.account("tab-alice"), env.account("tab-bob")
    assert env.node(SEED, AK=alice.ak, SK=alice.secret)["seeded"] == 45
    return alice, bob


def ots(s, **form):
    return s.post("/console/ots/call", form)


def test_tables_list_describe_scan_and_a_second_account(env, seeded):
    console = f"http://127.0.0.1:{env.ctl_port}"
    alice, bob = seeded
    a, b = signed_in(console, alice), signed_in(console, bob)
    st, body = ots(a, Op="ListTable")
    assert st == 200 and body["TableNames"] == ["people"], body
    st, d = ots(a, Op="DescribeTable", Table="people")
    assert st == 200, d
    assert d["PrimaryKey"] == [{"Name": "uid", "Type": "INTEGER", "AutoIncrement": False},
                               {"Name": "name", "Type": "STRING", "AutoIncrement": False}]
    assert d["DefinedColumns"] == [{"Name": "age", "Type": "INTEGER"}]
    assert d["TimeToLive"] == -1 and d["MaxVersions"] == 1 and d["Indexes"] == []
    # Scan by pages of 20: every row once, in key order, typed values.
    seen, nxt, pages = [], None, 0
    while True:
        st, page = ots(a, Op="GetRange", Table="people", **({"Next": nxt} if nxt else {}))
        assert st == 200, page
        pages += 1
        assert len(page["Rows"]) <= 20
        seen += page["Rows"]
        nxt = page.get("Next")
        if not nxt:
            break
        assert pages < 10
    assert pages == 3 and [r["PrimaryKey"][0]["Value"] for r in seen] == list(range(45))
    first = seen[0]
    assert first["PrimaryKey"] == [{"Name": "uid", "Value": 0, "Type": "INTEGER"},
                                   {"Name": "name", "Value": "p0", "Type": "STRING"}]
    cols = {c["Name"]: (c["Value"], c["Type"]) for c in first["Columns"]}
    assert cols == {"age": (20, "INTEGER"), "note": ("row 0", "STRING"), "ok": (True, "BOOLEAN")}
    assert all(isinstance(c["Timestamp"], int) for c in first["Columns"])
    # The second account: no table listed, alice's not found (ecs-otsd's own answer).
    st, body = ots(b, Op="ListTable")
    assert st == 200 and body["TableNames"] == []
    for op in ("DescribeTable", "GetRange"):
        st, body = ots(b, Op=op, Table="people")
        assert st == 404 and body["Code"] == "OTSObjectNotExist", (op, body)
    # Bad input: the console's codes, or ecs-otsd's.
    for form, status, code in (({"Op": "Frob"}, 400, "InvalidParameter"),
                               ({"Op": "DescribeTable"}, 400, "MissingParameter"),
                               ({"Op": "ListTable", "Instance": "x\r\nevil"}, 400, "InvalidParameter"),
                               ({"Op": "GetRange", "Table": "people", "Next": "%%%"}, 400, "InvalidParameter"),
                               ({"Op": "DescribeTable", "Table": "nope"}, 404, "OTSObjectNotExist")):
        st, body = ots(a, **form)
        assert (st, body["Code"]) == (status, code), (form, body)
    # Another instance of alice's is another namespace.
    st, body = ots(a, Op="ListTable", Instance="other")
    assert st == 200 and body["TableNames"] == []
    # No CSRF token: nothing reaches ecs-otsd.
    st, body = a.post("/console/ots/call", {"Op": "ListTable"}, {"X-Ecs-Csrf-Token": None})
    assert st == 403 and body["Code"] == "InvalidCsrfToken"


def test_without_a_table_store(tmp_path):
    from fakeagent import LoneController

    with LoneController(tmp_path) as lone:
        s = signed_in(lone.endpoint, lone.account("dora"))
        st, body = ots(s, Op="ListTable")
        assert st == 403 and body["Code"] == "OperationDenied.OTSUnavailable", body


def test_tables_pages_in_the_browser(env, seeded):
    """tests/e2e/console/tables_test.js in Debian's chromium: the tables listed, one described
    and scanned page by page to its end, in Chinese too; a second account sees no table and
    alice's is OTSObjectNotExist. Screenshots into docs/console/, page times printed."""
    import json
    import os
    import subprocess

    from test_console import CHROMIUM, NODE_DIR, REPO, SHOTS

    if not (NODE_DIR / "node_modules/playwright-core").exists():
        subprocess.run(["make", "-s", "console-test-deps"], cwd=REPO, check=True, timeout=600)
    alice, bob = seeded
    SHOTS.mkdir(parents=True, exist_ok=True)
    p = subprocess.run(["node", str(REPO / "tests/e2e/console/tables_test.js")], capture_output=True, text=True,
                       timeout=600, env=dict(os.environ, ENDPOINT=f"http://127.0.0.1:{env.ctl_port}", AK1=alice.ak,
                                             SK1=alice.secret, AK2=bob.ak, SK2=bob.secret, TABLE="people", ROWS="45",
                                             SHOTS=str(SHOTS), CHROMIUM=CHROMIUM,
                                             NODE_PATH=str(NODE_DIR / "node_modules")))
    assert p.returncode == 0, p.stderr[-4000:] + p.stdout[-2000:]
    res = json.loads(p.stdout.strip().splitlines()[-1])
    assert res["ok"]
    print(f"\npage times (ms, navigation to data shown): {res['timings']}")
