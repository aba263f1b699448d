"""An instance's life through the agent API on a real libvirt guest: create and SSH in,
its config drive and metadata, stop (ACPI) and start, soft and forced reboot, forced stop,
console output, and a delete that leaves no domain, disk, tap or config drive behind.
The tests of this module run in order on one guest."""

import json
import time

import pytest

from agentlib import ApiError
from waiting import wait_for

USER_DATA = "#!/bin/sh\necho ran >> /root/user-data-ran\n"


@pytest.fixture(scope="module")
def inst(agent_env):
    spec = agent_env.spec(hostname="life-1", user_data=USER_DATA)
    t0 = time.monotonic()
    desc = agent_env.create(spec)
    create_s = time.monotonic() - t0
    assert desc["status"] == "Running", desc
    assert desc["domain_state"] == "running"
    print(f"\ncreate call: {create_s:.2f}s; boot-to-ssh: {agent_env.wait_ssh(spec):.1f}s")
    return spec


def test_create_then_ssh(agent_env, inst):
    assert agent_env.ssh(inst, "hostname").stdout.strip() == "life-1"
    addr = agent_env.ssh(inst, "ip -4 addr show").stdout
    assert f"inet {agent_env.ip_of(inst)}/24" in addr
    agent_env.wait_console(inst, "user-data finished rc=0", 60)
    assert agent_env.ssh(inst, "cat /root/user-data-ran").stdout == "ran\n"


def test_system_disk_is_an_rbd_clone_of_the_image(agent_env, inst):
    """The disk is a copy-on-write clone of the image's protected snapshot, reached by
    libvirt as a network disk with the agent's ceph secret."""
    ceph = agent_env.ceph
    did = agent_env.describe(inst)["disks"][0]["disk_id"]
    xml = agent_env.libvirt.virsh("dumpxml", f"ecs-{inst['instance_id']}").stdout
    assert f"protocol='rbd' name='ecs-rbd/disk-{did}'" in xml, xml
    assert "<secret type='ceph'" in xml and "username='ecs-agent'" in xml, xml
    info = json.loads(ceph.cli("rbd", "info", "--format", "json", f"ecs-rbd/disk-{did}").stdout)
    assert info["parent"]["image"] == f"img-{inst['image_id']}" and info["parent"]["snapshot"] == "base", info
    assert info["size"] == inst["system_disk"]["size_gib"] << 30
    snaps = json.loads(ceph.cli("rbd", "snap", "ls", "--format", "json", f"ecs-rbd/img-{inst['image_id']}").stdout)
    assert [s["name"] for s in snaps] == ["base"]
    # The secret libvirt holds is of usage type ceph, for the agent's user.
    secrets = agent_env.libvirt.virsh("secret-list").stdout
    assert "ceph client.ecs-agent secret" in secrets, secrets


def test_describe_and_idempotent_create(agent_env, inst):
    d = agent_env.describe(inst)
    assert d["instance_id"] == inst["instance_id"]
    assert d["hostname"] == "life-1"
    assert d["disks"][0]["device"] == "vda" and d["disks"][0]["kind"] == "system"
    assert "user_data" not in d and "password_hash" not in d
    # The same create again answers the same instance and changes nothing.
    again = agent_env.create(inst)
    assert again["instance_id"] == inst["instance_id"] and again["status"] == "Running"
    # Another spec under the same id is a conflict.
    other = dict(inst, hostname="other")
    with pytest.raises(ApiError) as e:
        agent_env.create(other)
    assert e.value.status == 409 and e.value.code == "InstanceIdConflict"


def test_metadata_service_answers_the_guest_about_itself(agent_env, inst):
    base = f"http://{agent_env.gw}:{agent_env.agent.metadata_port}/latest"
    out = agent_env.ssh(inst, f"wget -qO- {base}/meta-data/instance-id; echo; wget -qO- {base}/meta-data/hostname; "
                              f"echo; wget -qO- {base}/user-data").stdout
    lines = out.splitlines()
    assert lines[0] == inst["instance_id"]
    assert lines[1] == "life-1"
    assert "echo ran >> /root/user-data-ran" in out


def test_console_output(agent_env, inst):
    assert "ecs-tiny: sshd started" in agent_env.console(inst)


def test_metrics_sampled_from_the_running_guest(agent_env, inst):
    """The agent samples libvirt (every 3 s here) into 60 s points for DescribeInstanceMonitorData."""
    now = int(time.time())
    q = {"start": now - 600, "end": now + 120, "period": 60}

    def sampled():
        agent_env.ssh(inst, "true")  # traffic both ways for the next sample
        return agent_env.client.get(f"/v1/instances/{inst['instance_id']}/metrics", **q)["points"]

    # SSH and metadata traffic went both ways; the guest used some CPU booting.
    points = wait_for(sampled, 30, "metrics with traffic both ways", 2,
                      until=lambda ps: ps and sum(p["IntranetRX"] for p in ps) > 0 and
                      sum(p["IntranetTX"] for p in ps) > 0)
    p = points[-1]
    assert p["InstanceId"] == inst["instance_id"]
    assert 0 <= p["CPU"] <= 100
    assert p["TimeStamp"].endswith("Z")
    assert {"IOPSRead", "IOPSWrite", "BPSRead", "BPSWrite", "InternetRX"} <= set(p)
    # Bounds as the API documents them.
    st, body, _ = agent_env.client.raw("GET", f"/v1/instances/{inst['instance_id']}/metrics", query=dict(q, period=61))
    assert st == 400
    st, body, _ = agent_env.client.raw("GET", f"/v1/instances/{inst['instance_id']}/metrics",
                                       query={"start": 0, "end": 60 * 401, "period": 60})
    assert st == 400 and "400 points" in body["message"]


def test_prometheus_metrics_of_the_running_guest(agent_env, inst):
    """GET /metrics with the host key's token: the guest's counters from the last sample."""
    from promscrape import sample, scrape, token_of_key

    base, token, iid = agent_env.client.base, token_of_key(agent_env.agent.key), inst["instance_id"]
    m = wait_for(lambda: scrape(base, token), 30, "the guest's counters", 1,
                 until=lambda m: (sample(m, "ecs_guest_network_transmit_bytes_total", instance=iid) or 0) > 0)
    assert sample(m, "ecs_guest_cpu_seconds_total", instance=iid) > 0
    assert sample(m, "ecs_guest_vcpus", instance=iid) >= 1
    assert sample(m, "ecs_guest_network_receive_bytes_total", instance=iid) > 0
    assert sample(m, "ecs_guest_disk_read_bytes_total", instance=iid) > 0
    assert sample(m, "ecs_agent_instances", state="running") == 1


SHUTTING_DOWN = "ecs-tiny: shutting down"  # the tiny image's rcK, on the console


def test_stop_acpi_then_start(agent_env, inst):
    assert SHUTTING_DOWN not in agent_env.console(inst)
    log_at = agent_env.agent.log_path.stat().st_size
    t0 = time.monotonic()
    d = agent_env.client.post(f"/v1/instances/{inst['instance_id']}/stop", {"timeout_s": 60})
    print(f"\nACPI stop: {time.monotonic() - t0:.1f}s")
    assert d["status"] == "Stopped", d
    assert d["domain_state"] == "shutoff"
    # A clean ACPI shutdown (the guest ran its shutdown script), not the forced power-off
    # at the timeout (agent/domain.c logs that).
    assert SHUTTING_DOWN in agent_env.console(inst), agent_env.explain(inst, "the guest did not shut down itself")
    log = agent_env.agent.log_path.read_bytes()[log_at:].decode(errors="replace")
    assert "powering off" not in log, log
    assert "reached target" not in agent_env.agent.log_tail(5)
    d = agent_env.client.post(f"/v1/instances/{inst['instance_id']}/start")
    assert d["status"] == "Running"
    agent_env.wait_ssh(inst)
    assert agent_env.ssh(inst, "hostname").stdout.strip() == "life-1"
    # user-data ran once, at the first boot only.
    assert agent_env.ssh(inst, "cat /root/user-data-ran").stdout == "ran\n"


def boot_id(env, inst) -> str:
    return env.ssh(inst, "cat /proc/sys/kernel/random/boot_id").stdout.strip()


def test_soft_reboot(agent_env, inst):
    before = boot_id(agent_env, inst)
    agent_env.client.post(f"/v1/instances/{inst['instance_id']}/reboot")
    assert agent_env.describe(inst)["power"] == "running"

    def rebooted():
        try:
            return boot_id(agent_env, inst) != before
        except (AssertionError, Exception):
            return False

    wait_for(rebooted, 120, "a new boot after a soft reboot", 1, detail=lambda: agent_env.explain(inst, ""))
    assert agent_env.describe(inst)["status"] == "Running"


def test_forced_reboot(agent_env, inst):
    before = boot_id(agent_env, inst)
    agent_env.client.post(f"/v1/instances/{inst['instance_id']}/reboot", {"force": True})
    agent_env.wait_ssh(inst)
    assert boot_id(agent_env, inst) != before


def test_forced_stop_and_reboot_of_stopped(agent_env, inst):
    # Forced: the guest is powered off, never asked (its shutdown script does not run).
    shutdowns = agent_env.console(inst).count(SHUTTING_DOWN)
    t0 = time.monotonic()
    d = agent_env.client.post(f"/v1/instances/{inst['instance_id']}/stop", {"force": True})
    print(f"\nforced stop: {time.monotonic() - t0:.2f}s")
    assert d["status"] == "Stopped"
    assert agent_env.console(inst).count(SHUTTING_DOWN) == shutdowns, agent_env.explain(inst, "asked the guest")
    with pytest.raises(ApiError) as e:
        agent_env.client.post(f"/v1/instances/{inst['instance_id']}/reboot")
    assert e.value.status == 409 and e.value.code == "IncorrectInstanceStatus"
    # The reconciler does not start an instance that is meant to be stopped.
    time.sleep(6)
    assert agent_env.describe(inst)["domain_state"] == "shutoff"


def test_guest_poweroff_leaves_it_stopped(agent_env, inst):
    agent_env.client.post(f"/v1/instances/{inst['instance_id']}/start")
    agent_env.wait_ssh(inst)
    agent_env.ssh(inst, "poweroff", check=False)
    d = agent_env.wait_status(inst, "Stopped", 60)
    assert d["power"] == "stopped"
    time.sleep(6)  # a reconcile pass
    assert agent_env.describe(inst)["domain_state"] == "shutoff"


def test_password_changed_while_running_applies_at_next_start(agent_env, inst):
    import subprocess

    c = agent_env.client
    password = "Agent-e2e-pass1"
    c.post(f"/v1/instances/{inst['instance_id']}/start")  # the previous test left it stopped
    agent_env.wait_ssh(inst)
    c.call("PATCH", f"/v1/instances/{inst['instance_id']}",
           {"password_hash": subprocess.run(["openssl", "passwd", "-6", password], capture_output=True, text=True,
                                            check=True).stdout.strip()})
    assert c.get(f"/v1/instances/{inst['instance_id']}")["has_password"] is True
    # Not yet: the running guest keeps its old (no) password.
    assert agent_env.ssh_password(inst, "id -u", password).returncode != 0
    c.post(f"/v1/instances/{inst['instance_id']}/stop", {"timeout_s": 60})
    c.post(f"/v1/instances/{inst['instance_id']}/start")
    agent_env.wait_ssh(inst)
    p = agent_env.ssh_password(inst, "id -u", password)
    assert (p.returncode, p.stdout.strip()) == (0, "0"), agent_env.explain(inst, p.stderr)
    assert agent_env.ssh_password(inst, "id -u", "wrong" + password).returncode != 0


def test_reinit_gives_a_fresh_system_disk(agent_env, inst):
    c = agent_env.client
    agent_env.ssh(inst, "echo mine > /root/mine && sync")
    with pytest.raises(ApiError) as e:
        c.post(f"/v1/instances/{inst['instance_id']}/reinit")
    assert e.value.code == "IncorrectInstanceStatus"
    c.post(f"/v1/instances/{inst['instance_id']}/stop", {"force": True})
    c.post(f"/v1/instances/{inst['instance_id']}/reinit")
    c.post(f"/v1/instances/{inst['instance_id']}/start")
    agent_env.wait_ssh(inst)
    assert agent_env.ssh(inst, "test -e /root/mine", check=False).returncode != 0
    assert agent_env.ssh(inst, "hostname").stdout.strip() == "life-1"


def test_delete_leaves_nothing(agent_env, inst):
    agent_env.client.post(f"/v1/instances/{inst['instance_id']}/start")
    agent_env.client.delete(f"/v1/instances/{inst['instance_id']}")
    state = agent_env.host_state()
    assert state["domains"] == [], state
    assert state["taps"] == [], state
    assert state["disks"] == [], state
    assert state["instances"] == [], state  # the config drive and console log lived there
    with pytest.raises(ApiError) as e:
        agent_env.describe(inst)
    assert e.value.status == 404
    # Deleting again succeeds (idempotent).
    agent_env.client.delete(f"/v1/instances/{inst['instance_id']}")
