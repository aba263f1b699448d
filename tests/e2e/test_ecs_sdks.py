"""Alibaba Cloud's own SDKs, from npm, pointed at the controller, unchanged: pop-core 1.8.0
(signature 1.0, GET and POST) and the Tea client @alicloud/ecs20140526 (ACS3-HMAC-SHA256).
They must read our answers and our errors as they read ECS's."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import REPO

SDKS = {"@alicloud/pop-core": "1.8.0", "@alicloud/ecs20140526": "7.11.6", "@alicloud/openapi-client": "0.4.15"}
SDK_DIR = REPO / "build/npm-sdks"


@pytest.fixture(scope="session")
def node_modules():
    """The SDKs, installed once into build/npm-sdks (npm's registry is reachable here)."""
    SDK_DIR.mkdir(parents=True, exist_ok=True)
    want = all((SDK_DIR / "node_modules" / name / "package.json").exists() for name in SDKS)
    if not want:
        (SDK_DIR / "package.json").write_text(json.dumps({"name": "ecs-e2e-sdks", "private": True}))
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error",
                        *[f"{n}@{v}" for n, v in SDKS.items()]], cwd=SDK_DIR, check=True, timeout=600,
                       stdin=subprocess.DEVNULL)
    return SDK_DIR


def node(node_modules, script: str, **env) -> list:
    """Run a node script; it prints one JSON value a line."""
    p = subprocess.run(["node", "-e", script], cwd=node_modules, capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, **env))
    assert p.returncode == 0, p.stderr + p.stdout
    return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def creds(cloud):
    api = cloud.account("sdk-user")
    return {"AK": api.ak, "SK": api.secret, "EP": cloud.endpoint}


POP = """
const RPCClient = require('@alicloud/pop-core').RPCClient;
const c = new RPCClient({accessKeyId: process.env.AK, accessKeySecret: process.env.SK,
                         endpoint: process.env.EP, apiVersion: '2014-05-26'});
(async () => {
  const out = (x) => console.log(JSON.stringify(x));
  out(await c.request('DescribeRegions', {}));                                  // GET
  const id = (await c.request('CreateInstance', {ImageId: 'tiny', InstanceType: 'ecs.t1.small',
              InstanceName: 'from-pop-core'}, {method: 'POST'})).InstanceId;    // POST form
  out({id});
  out(await c.request('DescribeInstances', {InstanceIds: JSON.stringify([id])}, {method: 'POST'}));
  try { await c.request('StartInstance', {InstanceId: 'i-aaaaaaaaaaaaaaaaaaaa'}); out({error: 'none'}); }
  catch (e) { out({error: e.code, data: e.data}); }
  try { await new RPCClient({accessKeyId: process.env.AK, accessKeySecret: 'wrong', endpoint: process.env.EP,
                             apiVersion: '2014-05-26'}).request('DescribeRegions', {}); out({error: 'none'}); }
  catch (e) { out({error: e.code}); }
})().catch(e => { console.error(e); process.exit(1); });
"""

TEA = """
const Ecs = require('@alicloud/ecs20140526');
const OpenApi = require('@alicloud/openapi-client');
const ep = new URL(process.env.EP);
const client = new Ecs.default(new OpenApi.Config({accessKeyId: process.env.AK, accessKeySecret: process.env.SK,
                                                   endpoint: ep.host, protocol: 'http', regionId: 'cn-local'}));
(async () => {
  const out = (x) => console.log(JSON.stringify(x));
  const z = await client.describeZones(new Ecs.DescribeZonesRequest({regionId: 'cn-local'}));
  out({zones: z.body.zones.zone.map(x => x.zoneId)});
  const r = await client.describeInstances(new Ecs.DescribeInstancesRequest({regionId: 'cn-local', pageSize: 50}));
  out({status: r.statusCode, total: r.body.totalCount,
       instances: r.body.instances.instance.map(i => ({id: i.instanceId, name: i.instanceName, cpu: i.cpu,
                                                       memory: i.memory, status: i.status}))});
  const d = await client.describeInstanceTypes(new Ecs.DescribeInstanceTypesRequest({}));
  out({types: d.body.instanceTypes.instanceType.map(t => [t.instanceTypeId, t.cpuCoreCount, t.memorySize])});
  try { await client.stopInstance(new Ecs.StopInstanceRequest({instanceId: 'i-aaaaaaaaaaaaaaaaaaaa'}));
        out({error: 'none'}); }
  catch (e) { out({error: e.code, status: e.statusCode}); }
})().catch(e => { console.error(e); process.exit(1); });
"""


def test_pop_core(cloud, node_modules, creds):
    regions, created, described, notfound, badsig = node(node_modules, POP, **creds)
    assert regions["Regions"]["Region"][0]["RegionId"] == "cn-local"
    inst = described["Instances"]["Instance"][0]
    assert inst["InstanceId"] == created["id"] and inst["InstanceName"] == "from-pop-core"
    assert isinstance(described["TotalCount"], int)
    assert notfound["error"] == "InvalidInstanceId.NotFound"
    assert badsig["error"] == "SignatureDoesNotMatch"


def test_tea_client_v3(cloud, node_modules, creds):
    zones, listed, types, stop = node(node_modules, TEA, **creds)
    assert zones["zones"] == ["cn-local-a"]
    assert listed["status"] == 200
    assert {"id": listed["instances"][0]["id"], "name": "from-pop-core", "cpu": 1, "memory": 256,
            "status": listed["instances"][0]["status"]} in listed["instances"]
    assert ["ecs.t1.small", 1, 0.25] in types["types"]
    assert stop == {"error": "InvalidInstanceId.NotFound", "status": 404}
