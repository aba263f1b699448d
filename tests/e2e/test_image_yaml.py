"""The tiny guest's YAML reader (images/rootfs/usr/lib/ecs/yaml.awk), run by
the same busybox awk that runs it in the guest, on the NoCloud shapes the
agent and users write. No guest is booted."""

import subprocess
import textwrap

import pytest

from conftest import REPO

YAML_AWK = REPO / "images/rootfs/usr/lib/ecs/yaml.awk"


def flatten(text: str) -> list[tuple[str, str]]:
    p = subprocess.run(["busybox", "awk", "-f", str(YAML_AWK)], input=textwrap.dedent(text),
                       capture_output=True, text=True, timeout=10, check=True)  # fmt: skip
    return [tuple(line.split("\t", 1)) for line in p.stdout.splitlines()]


CASES = {
    "meta-data": (
        """
        instance-id: i-abc123
        local-hostname: "web-1"   # quoted
        public-keys:
          - ssh-ed25519 AAAAC3Nz user@host
          - 'ssh-rsa AAAAB3 it''s # not a comment'
        """,
        [
            ("instance-id", "i-abc123"),
            ("local-hostname", "web-1"),
            ("public-keys.0", "ssh-ed25519 AAAAC3Nz user@host"),
            ("public-keys.1", "ssh-rsa AAAAB3 it's # not a comment"),
        ],
    ),
    "network-config block and flow": (
        """
        version: 2
        ethernets:
          nic0:
            match:
              macaddress: "52:54:00:12:34:56"
            addresses: [192.168.77.10/24, "fd00::10/64"]
            gateway4: 192.168.77.1
            nameservers: {addresses: [192.168.77.1, 1.1.1.1], search: [ecs.internal]}
          nic1:
            match: {macaddress: 52:54:00:aa:bb:cc}
            routes:
            - to: default
              via: 10.0.0.1
            - {to: 10.9.0.0/16, via: 10.0.0.254}
        """,
        [
            ("version", "2"),
            ("ethernets.nic0.match.macaddress", "52:54:00:12:34:56"),
            ("ethernets.nic0.addresses.0", "192.168.77.10/24"),
            ("ethernets.nic0.addresses.1", "fd00::10/64"),
            ("ethernets.nic0.gateway4", "192.168.77.1"),
            ("ethernets.nic0.nameservers.addresses.0", "192.168.77.1"),
            ("ethernets.nic0.nameservers.addresses.1", "1.1.1.1"),
            ("ethernets.nic0.nameservers.search.0", "ecs.internal"),
            ("ethernets.nic1.match.macaddress", "52:54:00:aa:bb:cc"),
            ("ethernets.nic1.routes.0.to", "default"),
            ("ethernets.nic1.routes.0.via", "10.0.0.1"),
            ("ethernets.nic1.routes.1.to", "10.9.0.0/16"),
            ("ethernets.nic1.routes.1.via", "10.0.0.254"),
        ],
    ),
    "cloud-config": (
        """
        #cloud-config
        ssh_authorized_keys: [ "ssh-ed25519 AAAA k1",
          ssh-ed25519 BBBB k2 ]
        chpasswd:
          list: |
            root:$6$salt$hash/.x
            bob:plain text
          expire: False
        chpasswd2: {list: ["root:$6$x"]}
        runcmd:
          - echo hi > /tmp/x
          - [sh, -c, "echo a, b"]
        folded: >
          one
          two
        """,
        [
            ("ssh_authorized_keys.0", "ssh-ed25519 AAAA k1"),
            ("ssh_authorized_keys.1", "ssh-ed25519 BBBB k2"),
            ("chpasswd.list.0", "root:$6$salt$hash/.x"),
            ("chpasswd.list.1", "bob:plain text"),
            ("chpasswd.expire", "False"),
            ("chpasswd2.list.0", "root:$6$x"),
            ("runcmd.0", "echo hi > /tmp/x"),
            ("runcmd.1.0", "sh"),
            ("runcmd.1.1", "-c"),
            ("runcmd.1.2", "echo a, b"),
            ("folded", "one two"),
        ],
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_yaml_flatten(name):
    text, want = CASES[name]
    assert flatten(text) == want


def test_yaml_garbage_is_skipped_not_fatal():
    # flatten() checks the exit status; what can be read is kept.
    assert flatten("just a line\n: :\nkey: v\n") == [("key", "v")]
    assert ("key", "v") in flatten("key: v\nother: [unclosed, \n")
