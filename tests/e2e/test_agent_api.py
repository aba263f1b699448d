"""Bad requests to the agent get clear errors and change nothing: unsigned, stale,
replayed or tampered calls, oversized and malformed bodies, unknown fields, wrong types,
unknown and malformed ids. No guest is booted: creates that must fail fail before."""

import json
import time

import pytest

from agentlib import SCHEME, AgentClient, random_id, sign


@pytest.fixture(scope="module")
def env(agent_env):
    return agent_env


def snapshot_of_state(env):
    c = env.client
    return {
        "instances": c.get("/v1/instances")["instances"],
        "disks": c.get("/v1/disks")["disks"],
        "snapshots": c.get("/v1/snapshots")["snapshots"],
        "host": env.host_state(),
    }


@pytest.fixture
def unchanged(env):
    """The test body must leave the agent's state and the host exactly as they were."""
    before = snapshot_of_state(env)
    yield
    assert snapshot_of_state(env) == before


def expect(env, method, path, body=None, *, status, code=None, query=None, **kw):
    st, parsed, _ = env.client.raw(method, path, body, query, **kw)
    assert st == status, (st, parsed)
    if code:
        assert parsed["code"] == code, parsed
        assert parsed["message"] and parsed["request_id"]
    return parsed


def test_unsigned_and_badly_signed(env, unchanged):
    spec = env.spec()
    path = f"/v1/instances/{spec['instance_id']}"
    expect(env, "PUT", path, spec, status=401, code="Unauthorized", signed=False)
    expect(env, "GET", "/v1/host", status=401, code="Unauthorized", signed=False)
    # Signed with another key.
    other = AgentClient(env.client.base, "another-key-of-enough-length", host_id=env.client.host_id)
    st, parsed, _ = other.raw("PUT", path, spec)
    assert st == 401 and parsed["message"] == "signature does not match"
    # Stale: signed 10 minutes ago.
    p = expect(env, "PUT", path, spec, status=401, code="Unauthorized", date=int(time.time()) - 600)
    assert p["message"].startswith("stale request")


def test_replayed_and_tampered(env, unchanged):
    c = env.client
    body = json.dumps({"size_gib": 1}).encode()
    did = random_id("d-")
    path = f"/v1/disks/{did}"
    date, nonce = int(time.time()), "replay-nonce-" + did[2:14]
    auth = f"{SCHEME} " + sign(c.key, c.host_id, "PUT", path, None, date, nonce, body)
    headers = {"X-Ecs-Date": str(date), "X-Ecs-Nonce": nonce, "Authorization": auth}
    # A tampered body under a good signature.
    st, parsed, _ = c.raw("PUT", path, json.dumps({"size_gib": 2}).encode(), signed=False, headers=headers)
    assert st == 401 and parsed["message"] == "signature does not match"
    # The genuine one passes once (this creates a disk: delete it after)...
    st, parsed, _ = c.raw("PUT", path, body, signed=False, headers=headers)
    assert st == 200, parsed
    c.delete(path)
    # ...and never again.
    st, parsed, _ = c.raw("PUT", path, body, signed=False, headers=headers)
    assert st == 401 and parsed["message"].startswith("replayed request")


def test_oversized_body(env, unchanged):
    spec = env.spec()
    spec["user_data"] = "A" * (300 * 1024)
    expect(env, "PUT", f"/v1/instances/{spec['instance_id']}", spec, status=413, code="EntityTooLarge")


def test_user_data_over_its_limit(env, unchanged):
    import base64

    spec = env.spec()
    spec["user_data"] = base64.b64encode(b"x" * 32769).decode()
    p = expect(env, "PUT", f"/v1/instances/{spec['instance_id']}", spec, status=400, code="InvalidParameter")
    assert "user_data" in p["message"]


def test_malformed_json(env, unchanged):
    iid = random_id("i-")
    for raw in (b"{", b"[1,2]", b'{"hostname": "a",}', b"\xff\xfe", b'{"a":1} trailing'):
        expect(env, "PUT", f"/v1/instances/{iid}", raw, status=400, code="MalformedJSON")


@pytest.mark.parametrize("field,value,code,needle", [
    ("vcpus", "2", "InvalidParameter", "vcpus must be an integer"),
    ("vcpus", 0, "InvalidParameter", "vcpus must be in 1..64"),
    ("memory_mib", 1 << 40, "InvalidParameter", "memory_mib must be in"),
    ("hostname", "bad host!", "InvalidParameter", "hostname"),
    ("hostname", 12, "InvalidParameter", "hostname must be a string"),
    ("image_id", "../etc", "InvalidParameter", "image_id"),
    ("nics", [], "InvalidParameter", "at least one NIC"),
    ("nics", [{"mac": "01:00:00:00:00:01", "ip": "10.0.0.2", "prefix_len": 24}], "InvalidParameter", "unicast"),
    ("nics", [{"mac": "52:54:00:00:00:01", "ip": "10.0.0.300", "prefix_len": 24}], "InvalidParameter", "IPv4"),
    ("system_disk", {"disk_id": "d-x", "size_gib": 1}, "InvalidParameter", "not a disk id"),
    ("system_disk", {"disk_id": random_id("d-"), "size_gib": 99999}, "InvalidParameter", "size_gib must be in"),
    ("password_hash", "plaintext", "InvalidParameter", "crypt"),
    ("user_data", "not base64!", "InvalidParameter", "base64"),
    ("public_keys", ["ssh-ed25519 AAA\nsecond"], "InvalidParameter", "one-line"),
    ("colour", "blue", "InvalidParameter", "unknown field colour"),
    ("start", "yes", "InvalidParameter", "start must be true or false"),
])
def test_bad_fields(env, unchanged, field, value, code, needle):
    spec = env.spec()
    spec[field] = value
    p = expect(env, "PUT", f"/v1/instances/{spec['instance_id']}", spec, status=400, code=code)
    assert needle in p["message"], p


def test_missing_fields(env, unchanged):
    spec = env.spec()
    del spec["image_id"]
    p = expect(env, "PUT", f"/v1/instances/{spec['instance_id']}", spec, status=400, code="MissingParameter")
    assert "image_id" in p["message"]


def test_path_and_body_disagree(env, unchanged):
    spec = env.spec()
    expect(env, "PUT", f"/v1/instances/{random_id('i-')}", spec, status=400, code="InvalidParameter")


def test_unknown_and_malformed_ids(env, unchanged):
    expect(env, "GET", f"/v1/instances/{random_id('i-')}", status=404, code="InvalidInstanceId.NotFound")
    expect(env, "GET", "/v1/instances/i-NOT-AN-ID", status=400, code="InvalidInstanceId.Malformed")
    expect(env, "POST", f"/v1/instances/{random_id('i-')}/start", {}, status=404, code="InvalidInstanceId.NotFound")
    expect(env, "POST", f"/v1/instances/{random_id('i-')}/stop", {"force": True}, status=404,
           code="InvalidInstanceId.NotFound")
    expect(env, "GET", f"/v1/disks/{random_id('d-')}", status=404, code="InvalidDiskId.NotFound")
    expect(env, "POST", f"/v1/disks/{random_id('d-')}/attach", {"instance_id": random_id("i-")}, status=404,
           code="InvalidInstanceId.NotFound")
    expect(env, "GET", f"/v1/snapshots/{random_id('s-')}", status=404, code="InvalidSnapshotId.NotFound")
    expect(env, "PUT", f"/v1/snapshots/{random_id('s-')}", {"disk_id": random_id("d-")}, status=404,
           code="InvalidDiskId.NotFound")
    expect(env, "GET", "/v1/images/no-such-image", status=404, code="InvalidImageId.NotFound")
    expect(env, "PUT", f"/v1/disks/{random_id('d-')}", {"size_gib": 1, "snapshot_id": random_id("s-")},
           status=404, code="InvalidSnapshotId.NotFound")
    expect(env, "GET", "/v1/nothing", status=404, code="NotFound")
    expect(env, "POST", f"/v1/instances/{random_id('i-')}/explode", {}, status=404)


def test_action_bodies_are_strict(env, unchanged):
    iid = random_id("i-")
    expect(env, "POST", f"/v1/instances/{iid}/stop", {"forse": True}, status=400, code="InvalidParameter")
    expect(env, "POST", f"/v1/instances/{iid}/stop", {"timeout_s": "soon"}, status=400, code="InvalidParameter")
    expect(env, "POST", f"/v1/disks/{random_id('d-')}/resize", {"size_gib": "big"}, status=400,
           code="MissingParameter")
    expect(env, "GET", f"/v1/instances/{iid}/metrics", status=400, code="InvalidParameter")


def test_image_with_a_bad_checksum_is_refused(env, unchanged):
    import shutil

    src = env.workdir / "images" / "tiny"
    bad = env.import_dir / "bad"
    shutil.copytree(src, bad)
    bad.chmod(0o755)
    with open(bad / "initrd.img", "ab") as f:
        f.write(b"tampered")
    p = expect(env, "PUT", "/v1/images/bad-image", {"source_dir": str(bad)}, status=400,
               code="InvalidImage.Checksum")
    assert "sha256" in p["message"]
    assert "bad-image" not in [i["image_id"] for i in env.client.get("/v1/images")["images"]]
    assert not (env.agent.data_dir / "images" / "bad-image").exists()


def test_wrong_methods(env, unchanged):
    expect(env, "DELETE", "/v1/host", status=405, code="MethodNotAllowed")
    expect(env, "POST", "/v1/instances", {}, status=405, code="MethodNotAllowed")


def _stripe(s: str) -> int:
    """agent/agent.c's stripe_of: FNV-1a (32 bit) modulo the 64 stripes."""
    h = 2166136261
    for b in s.encode():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h % 64


def test_instance_sharing_a_lock_stripe_with_its_image(env):
    """An instance whose id hashes to the stripe of its (not yet cached) image: the create
    holds the instance's lock while it caches the image; one lock set for both deadlocked."""
    assert not [i for i in env.client.get("/v1/images")["images"] if i["image_id"] == "tiny"], "tiny is cached already"
    spec = env.spec(start=False)
    while _stripe(spec["instance_id"]) != _stripe("tiny"):
        spec["instance_id"] = random_id("i-")
    env.client.timeout = 60
    try:
        d = env.create(spec)
    finally:
        env.client.timeout = 180
    assert d["status"] == "Stopped"
    env.client.delete(f"/v1/instances/{spec['instance_id']}")


def test_a_request_signed_for_one_host_is_refused_by_another(env, tiny_image):
    """Two agents sharing the cluster key: a request captured on its way to one is refused by
    the other (its signature names the host it is meant for), and still good for its own."""
    from agentenv import AgentEnv

    other = AgentEnv(tiny_image.dir, extra={"agent.host_id": f"other-{env.tag}"})
    other.agent.key = env.agent.key
    try:
        other.start()
        date, nonce = int(time.time()), "captured-" + random_id("x")[1:17]
        auth = f"{SCHEME} " + sign(env.client.key, env.client.host_id, "GET", "/v1/host", None, date, nonce, b"")
        headers = {"X-Ecs-Date": str(date), "X-Ecs-Nonce": nonce, "Authorization": auth}
        st, parsed, _ = other.client.raw("GET", "/v1/host", signed=False, headers=headers)
        assert st == 401 and parsed["message"] == "signature does not match", (st, parsed)
        st, parsed, _ = env.client.raw("GET", "/v1/host", signed=False, headers=headers)
        assert st == 200 and parsed["host_id"] != f"other-{env.tag}", parsed
        # And the other way round: the other agent's own calls pass there only.
        assert other.client.get("/v1/host")["host_id"] == f"other-{env.tag}"
    finally:
        other.close()


def test_metrics(env, unchanged):
    """GET /metrics: refused without the token (the host key's, lib/prom.h); with it the host's
    figures parse with prometheus_client (guest counters: test_agent_lifecycle.py)."""
    from promscrape import assert_refused_without_token, sample, scrape, token_of_key
    from waiting import wait_for

    base = env.client.base
    token = token_of_key(env.agent.key)
    assert_refused_without_token(base, token)
    m = wait_for(lambda: scrape(base, token), 60, "a reconcile pass counted", 1,
                 until=lambda m: sample(m, "ecs_agent_reconcile_duration_seconds_count") >= 1)
    assert sample(m, "ecs_agent_libvirt_up") == 1
    assert sample(m, "ecs_agent_libvirt_connections_total") >= 1
    assert sample(m, "ecs_agent_libvirt_errors_total") is not None
    for state in ("running", "paused", "shutoff", "crashed", "other"):
        assert sample(m, "ecs_agent_instances", state=state) is not None, state
    passes = sum(sample(m, "ecs_agent_reconcile_passes_total", result=r) for r in ("ok", "problems"))
    assert passes == sample(m, "ecs_agent_reconcile_duration_seconds_count")
    assert sample(m, "ecs_agent_instances_unlabelled") == 0
