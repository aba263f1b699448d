"""Boot the tiny image under libvirt and log in with OpenSSH.

One guest is booted for the module (the tests run in order): its config
drive must set the hostname, the SSH key and the network, run the user-data
script once, and keep it from running again after a reboot; the HTTP
responder must answer with the hostname; ACPI shutdown must power it off.
A second guest gets "#cloud-config" user-data instead of a script.
"""

import pytest

from conftest import domain_type, run
from waiting import wait_for

# Appends, so that a second run would show as a second line.
USER_DATA = """#!/bin/sh
echo ran >> /root/user-data-ran
"""


@pytest.fixture(scope="module")
def guest(module_make_guest, module_net, tiny_image):
    g = module_make_guest(module_net, tiny_image, user_data=USER_DATA)
    g.boot_to_ssh = g.wait_ssh()
    return g


def test_boot_to_ssh(guest, capsys):
    with capsys.disabled():
        print(f"\nboot-to-ssh: {guest.boot_to_ssh:.1f}s (domain type {domain_type()})")
    guest.wait_console("ecs-tiny: sshd started", 0)


def test_hostname_from_meta_data(guest):
    assert guest.ssh("hostname").stdout.strip() == guest.hostname
    line = f"ecs-tiny: config-drive applied instance-id={guest.instance_id} hostname={guest.hostname}"
    assert line in guest.console(), guest.explain(f"missing console line {line!r}")
    # The whole meta-data is kept for debugging.
    assert f"instance-id: {guest.instance_id}" in guest.ssh("cat /run/cloud/meta-data").stdout
    assert guest.ssh("stat -c %a /root/.ssh /root/.ssh/authorized_keys").stdout.split() == ["700", "600"]


def test_network_config_applied(guest, module_net):
    addr = guest.ssh("ip -4 addr show").stdout
    assert f"inet {guest.ip}/{module_net.prefixlen}" in addr, guest.explain(addr)
    assert f"default via {module_net.host_ip}" in guest.ssh("ip -4 route show").stdout
    assert f"nameserver {module_net.host_ip}" in guest.ssh("cat /etc/resolv.conf").stdout


def test_root_filesystem_grown_to_disk(guest):
    # The image is 64 MiB; the instance's overlay is 1 GiB.
    size_kib = int(guest.ssh("df -k /").stdout.splitlines()[1].split()[1])
    assert size_kib > 900 * 1024, guest.explain(guest.ssh("cat /var/log/resize2fs.log", check=False).stdout)


def test_user_data_script_ran(guest):
    guest.wait_console("ecs-tiny: user-data finished rc=0", 30)
    assert guest.ssh("cat /root/user-data-ran").stdout == "ran\n"


def test_http_responder_answers_hostname(guest):
    assert guest.http_get("/").strip() == guest.hostname
    assert guest.http_get("/cgi-bin/whoami").strip() == guest.hostname
    # It can be stopped and started from inside (load-balancer health checks).
    guest.ssh("/etc/init.d/httpd stop")
    with pytest.raises(OSError):
        guest.http_get("/", timeout=3)
    guest.ssh("/usr/sbin/ecs-httpd start")
    wait_for(lambda: guest.ssh("/usr/sbin/ecs-httpd status", check=False).returncode, 10, "ecs-httpd running again",
             until=lambda rc: rc == 0)
    assert guest.http_get("/").strip() == guest.hostname


def test_user_data_not_rerun_after_reboot(guest):
    mark = len(guest.console())
    guest.ssh("reboot", check=False)  # the connection may drop before ssh returns
    # The old sshd may still answer for a moment: wait for the new boot first.
    guest.wait_console("ecs-tiny: sshd started", 120, after=mark)
    guest.wait_ssh()
    assert guest.ssh("hostname").stdout.strip() == guest.hostname
    # The config drive was read before sshd started: nothing was queued to run.
    assert guest.ssh("test -e /var/lib/cloud/instance/user-data.done && test ! -e /run/cloud/pending").returncode == 0
    assert "user-data finished" not in guest.console()[mark:], guest.explain("user-data ran again")
    assert guest.ssh("cat /root/user-data-ran").stdout == "ran\n"


def test_acpi_shutdown_powers_off(guest):
    guest.virsh("shutdown", guest.name)
    wait_for(guest.state, 60, f"{guest.name} shut off", until=lambda st: st == "shut off",
             detail=lambda: guest.explain("after virsh shutdown"))


def test_cloud_config_user_data(make_guest, module_net, tiny_image, tmp_path):
    """ssh_authorized_keys, chpasswd (hashed) and runcmd from #cloud-config."""
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "second", "-f", tmp_path / "second"])
    second = (tmp_path / "second.pub").read_text().strip()
    password = "Tiny-e2e-pass"
    # busybox-static is a build dependency of the image: its mkpasswd makes the hash.
    hashed = run(["busybox", "mkpasswd", "-m", "sha512", password]).stdout.strip()
    user_data = f"""#cloud-config
ssh_authorized_keys:
  - {second}
chpasswd:
  list: |
    root:{hashed}
  expire: false
runcmd:
  - echo shell-form > /root/runcmd-ran
  - [sh, -c, "echo list-form >> /root/runcmd-ran"]
"""
    g = make_guest(module_net, tiny_image, user_data=user_data)
    g.wait_ssh()
    assert g.ssh("hostname", key=tmp_path / "second").stdout.strip() == g.hostname
    g.wait_console("ecs-tiny: user-data finished rc=0", 30)
    assert g.ssh("cat /root/runcmd-ran").stdout == "shell-form\nlist-form\n"
    assert g.ssh("grep ^root: /etc/shadow").stdout.split(":")[1] == hashed
    p = g.ssh_password("id -u", password)
    assert (p.returncode, p.stdout.strip()) == (0, "0"), g.explain(f"password login failed: {p.stderr}")
    p = g.ssh_password("id -u", "wrong-" + password)
    assert p.returncode != 0
