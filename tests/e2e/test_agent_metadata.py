"""The metadata service answers each guest about itself only: two guests read their own
data; a guest that takes its neighbour's address gets nothing (the guard drops it at the
host). Also: the running agent holds only the capabilities docs/agent-api.md lists."""

import pytest


@pytest.fixture(scope="module")
def pair(agent_env):
    a = agent_env.spec(hostname="meta-a", user_data="#!/bin/sh\necho a\n")
    b = agent_env.spec(hostname="meta-b")
    agent_env.create(a)
    agent_env.create(b)
    agent_env.wait_ssh(a)
    agent_env.wait_ssh(b)
    return a, b


def url(env, key="instance-id"):
    return f"http://{env.gw}:{env.agent.metadata_port}/latest/meta-data/{key}"


def test_each_guest_reads_its_own(agent_env, pair):
    a, b = pair
    for spec in pair:
        out = agent_env.ssh(spec, f"wget -qO- {url(agent_env)}; echo; wget -qO- {url(agent_env, 'private-ipv4')}")
        assert out.stdout.split() == [spec["instance_id"], agent_env.ip_of(spec)]
    # user-data: A has some, B has none (404).
    base = f"http://{agent_env.gw}:{agent_env.agent.metadata_port}/latest/user-data"
    assert agent_env.ssh(a, f"wget -qO- {base}").stdout == "#!/bin/sh\necho a\n"
    assert agent_env.ssh(b, f"wget -qO- {base}", check=False).returncode != 0


DONE = "ecs-test: spoof done"


def test_a_guest_posing_as_its_neighbour_gets_nothing(agent_env, pair):
    a, b = pair
    ip_a, ip_b, gw = agent_env.ip_of(a), agent_env.ip_of(b), agent_env.gw
    # In the background (the SSH session dies with the address): take B's address, ask,
    # write what came back, and put A's own address back.
    script = (f"(sleep 1; ip addr flush dev eth0; ip addr add {ip_b}/24 dev eth0; "
              f"wget -T 5 -qO- {url(agent_env)} > /root/spoof.out 2>/root/spoof.err; echo rc=$? >> /root/spoof.out; "
              f"ip addr flush dev eth0; ip addr add {ip_a}/24 dev eth0; ip route add default via {gw}; "
              f"echo {DONE} > /dev/console) >/dev/null 2>&1 </dev/null &")
    agent_env.ssh(a, script, check=False)
    # SSH cannot reach A meanwhile: the script says on the serial console when it is done.
    agent_env.wait_console(a, DONE, 60)
    # The host may have learnt B's address at A's MAC meanwhile: forget that.
    import subprocess

    subprocess.run(["ip", "neigh", "flush", "dev", agent_env.bridge], check=False)
    agent_env.wait_ssh(a, 60)
    out = agent_env.ssh(a, "cat /root/spoof.out").stdout
    assert b["instance_id"] not in out
    assert a["instance_id"] not in out
    # Nothing came back: wget failed (busybox wget times out with 1, or dies on its timeout
    # path with 139; either way no byte of an answer).
    rc = int(out.strip().rsplit("rc=", 1)[1])
    assert rc != 0 and out.strip().startswith("rc="), out
    # B, the real owner, still reads its own.
    assert agent_env.ssh(b, f"wget -qO- {url(agent_env)}").stdout.strip() == b["instance_id"]
    # And A, back at its address, its own.
    assert agent_env.ssh(a, f"wget -qO- {url(agent_env)}").stdout.strip() == a["instance_id"]


KEPT = {"cap_net_admin": 12, "cap_net_raw": 13, "cap_net_bind_service": 10, "cap_dac_override": 1,
        "cap_dac_read_search": 2, "cap_fowner": 3, "cap_chown": 0, "cap_kill": 5}


def test_agent_keeps_only_its_capabilities(agent_env):
    status = open(f"/proc/{agent_env.agent.proc.pid}/status").read()
    caps = {l.split(":")[0]: int(l.split()[1], 16) for l in status.splitlines() if l.startswith("Cap")}
    want = sum(1 << bit for bit in KEPT.values())
    assert caps["CapEff"] == want, hex(caps["CapEff"])
    assert caps["CapPrm"] == want
    assert caps["CapBnd"] == want
