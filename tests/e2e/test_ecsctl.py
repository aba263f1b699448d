"""ecsctl against a real ecs-controller and agent (the `cloud` fixture, tests/e2e/cloudenv.py):
the new user's tour of the issue (key pair, run --wait, ssh, stop/start/reboot, a data
disk, a snapshot, an image from it, a second instance from that image), and a real
crontab in Debian's cron daemon that snapshots a disk every minute and prunes to 2.

ecsctl reads a config written here (ECSCTL_CONFIG) and keeps its keys and known_hosts
under a temporary HOME, so nothing of the user running the tests is touched."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import REPO
from waiting import wait_for

ECSCTL = REPO / "build/bin/ecsctl"


class Ctl:
    """Runs build/bin/ecsctl for one account, as a new user would, from a bare environment."""

    def __init__(self, endpoint: str, ak: str, secret: str):
        self.home = Path(tempfile.mkdtemp(prefix="ecsctl-e2e-"))
        self.config = self.home / "config"
        self.config.write_text(f"[default]\nendpoint = {endpoint}\naccess_key_id = {ak}\n"
                               f"access_key_secret = {secret}\n")
        self.config.chmod(0o600)
        self.env = {"PATH": "/usr/bin:/bin", "HOME": str(self.home), "ECSCTL_CONFIG": str(self.config)}

    def run(self, *args, check=True, timeout=600) -> subprocess.CompletedProcess:
        p = subprocess.run([str(ECSCTL), *args], capture_output=True, text=True, timeout=timeout, env=self.env,
                           stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise AssertionError(f"ecsctl {' '.join(args)} exited {p.returncode}:\n{p.stderr}{p.stdout}")
        return p

    def __call__(self, *args, **kw) -> str:
        return self.run(*args, **kw).stdout

    def json(self, *args):
        return json.loads(self(*args, "-o", "json"))

    def close(self):
        subprocess.run(["rm", "-rf", str(self.home)], check=False)


@pytest.fixture(scope="module")
def ctl(cloud):
    api = cloud.account("ecsctl-" + secrets.token_hex(3))
    c = Ctl(cloud.endpoint, api.ak, api.secret)
    yield c
    c.close()


def test_exit_codes(ctl):
    assert ctl.run("frobnicate", check=False).returncode == 2
    p = ctl.run("show", "i-doesnotexist000000000", check=False)
    assert p.returncode == 1 and "NotFound" in p.stderr
    p = ctl.run("api", "DescribeInstances", "--InstanceIds", "not json", check=False)
    assert p.returncode == 1 and re.search(r"InvalidParameter.*\(RequestId: [0-9A-F-]{36}\)", p.stderr), p.stderr
    # A wrong secret: the server's SignatureDoesNotMatch, exit 1.
    p = subprocess.run([str(ECSCTL), "--access-key-secret", "wrong", "ls"], capture_output=True, text=True,
                       env=ctl.env, timeout=60)
    assert p.returncode == 1 and "SignatureDoesNotMatch" in p.stderr


def test_security_group_verbs(ctl):
    sg = ctl("sg", "create", "--name", "web", "--description", "the web tier", "-o", "text").strip()
    assert sg.startswith("sg-")
    assert sg in ctl("sg", "ls", "-o", "text").split()
    ctl("sg", "allow", sg, "--protocol", "tcp", "--port", "80")
    ctl("sg", "deny", sg, "--protocol", "tcp", "--port", "8000/8080", "--cidr", "10.0.0.0/8", "--priority", "5")
    ctl("sg", "allow", sg, "--egress", "--protocol", "udp", "--port", "53", "--cidr", "10.1.2.3/32")
    rules = ctl.json("sg", "show", sg)["Permissions"]["Permission"]
    got = sorted((r["Direction"], r["IpProtocol"].lower(), r["PortRange"], r["Policy"].lower(), r["Priority"])
                 for r in rules)
    assert got == [("egress", "udp", "53/53", "accept", 1), ("ingress", "tcp", "80/80", "accept", 1),
                   ("ingress", "tcp", "8000/8080", "drop", 5)]
    table = ctl("sg", "show", sg, "-o", "table")
    assert "DIRECTION" in table and "8000/8080" in table
    ctl("sg", "revoke", sg, "--protocol", "tcp", "--port", "8000/8080", "--cidr", "10.0.0.0/8", "--priority", "5",
        "--policy", "drop")
    assert len(ctl.json("sg", "show", sg)["Permissions"]["Permission"]) == 2
    # Bad input: the API's own code, exit 1; both peers at once is a usage error, exit 2.
    p = ctl.run("sg", "allow", sg, "--protocol", "tcp", "--port", "0/99999", check=False)
    assert p.returncode == 1 and "InvalidIpPortRange" in p.stderr, p.stderr
    assert ctl.run("sg", "allow", sg, "--cidr", "1.2.3.4/32", "--group", sg, check=False).returncode == 2
    ctl("sg", "rm", sg)
    assert sg not in ctl("sg", "ls", "-o", "text").split()


def test_new_user_tour(ctl):
    ctl("keypair", "create", "k")
    pem = ctl.home / ".ecsctl/keys/k.pem"
    assert pem.stat().st_mode & 0o777 == 0o600
    assert ctl.run("keypair", "create", "k", check=False).returncode == 1  # never overwritten

    iid = ctl("run", "--image", "tiny", "--type", "ecs.t1.small", "--keypair", "k", "--wait").split()
    assert len(iid) == 1
    iid = iid[0]
    assert ctl("ls").split() == [iid]
    shown = ctl.json("show", iid)
    assert shown["Status"] == "Running" and shown["HostId"] and shown["KeyPairName"] == "k"

    out = ctl("ssh", iid, "--timeout", "150", "--", "uname", "-a")
    assert out.startswith("Linux "), out
    assert iid in (ctl.home / ".ecsctl/known_hosts").read_text()
    assert ctl.run("ssh", iid, "--", "exit 3", check=False).returncode == 3

    ctl("stop", iid, "--wait")
    assert ctl.json("show", iid)["Status"] == "Stopped"
    ctl("start", iid, "--wait")
    ctl("reboot", iid)
    ctl("wait", iid, "--status", "Running", "--timeout", "300")

    disk = ctl("disk", "create", "--size", "1", "--wait").strip()
    ctl("disk", "attach", disk, iid, "--wait")
    assert disk in ctl("disk", "ls", "--instance", iid).split()
    snap = ctl("snapshot", "create", "--disk", disk, "--wait").strip()
    assert snap in ctl("snapshot", "ls", "--disk", disk).split()

    # An image from the system disk's snapshot, and a second instance from that image.
    system = [d["DiskId"] for d in ctl.json("disk", "ls", "--instance", iid)["Disks"]["Disk"] if d["Type"] == "system"]
    sys_snap = ctl("snapshot", "create", "--disk", system[0], "--wait").strip()
    image = ctl("image", "create", "--snapshot", sys_snap, "--name", "mine", "--wait").strip()
    assert image in ctl("image", "ls").split()
    iid2 = ctl("run", "--image", image, "--type", "ecs.t1.small", "--keypair", "k", "--wait").strip()
    assert ctl("ssh", iid2, "--timeout", "150", "--", "uname", "-s").strip() == "Linux"

    ctl("disk", "detach", disk, iid, "--wait")
    ctl("disk", "rm", disk)
    ctl("rm", iid, iid2, "--force", "--wait")
    assert ctl("ls").split() == []
    ctl("image", "rm", image)
    ctl("snapshot", "rm", snap, sys_snap)
    ctl("keypair", "rm", "k")


@pytest.fixture
def cron_daemon():
    """Debian's cron: the running one, or one started here (and stopped after)."""
    assert Path("/usr/sbin/cron").exists(), "cron is not installed: scripts/install-deps.sh installs it"
    if subprocess.run(["pgrep", "-x", "cron"], capture_output=True).returncode == 0:
        yield None
        return
    proc = subprocess.Popen(["/usr/sbin/cron", "-f"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(10)


def test_cron_snapshot_and_prune(ctl, cron_daemon):
    """The issue's crontab line, in /etc/cron.d, under cron's own bare environment."""
    disk = ctl("disk", "create", "--size", "1", "--wait").strip()
    log = ctl.home / "cron.log"
    job = (f"{ECSCTL} snapshot create --disk {disk} --wait >>{log} 2>&1 && "
           f"{ECSCTL} snapshot prune --disk {disk} --keep 2 >>{log} 2>&1 && echo PRUNED >>{log}")
    # cron.d names may hold only letters, digits, '_' and '-'.
    cronfile = Path("/etc/cron.d") / f"ecsctl-e2e-{secrets.token_hex(4)}"
    cronfile.write_text(f"SHELL=/bin/sh\nPATH=/usr/bin:/bin\nECSCTL_CONFIG={ctl.config}\n"
                        f"* * * * * root echo START >>{log}; {job}\n")
    cronfile.chmod(0o644)

    def cron_log() -> str:
        return log.read_text() if log.exists() else ""

    try:
        # Three runs with --keep 2: the third prunes the first.
        wait_for(cron_log, 6 * 60, "3 cron runs completed", 5, until=lambda text: text.count("PRUNED") >= 3)
    finally:
        cronfile.unlink()
    # Let a run that started before the file went finish.
    wait_for(cron_log, 180, "the last cron run to finish", 2,
             until=lambda text: text.count("START") == text.count("PRUNED"))
    snaps = ctl.json("snapshot", "ls", "--disk", disk)["Snapshots"]["Snapshot"]
    assert len(snaps) == 2, (snaps, log.read_text())
    assert all(s["Status"] == "accomplished" for s in snaps), snaps
    for s in snaps:
        ctl("snapshot", "rm", s["SnapshotId"])
    ctl("disk", "rm", disk)
