"""The peer of the agent's create in the benches (bench_agent_create.py, bench_rbd.py): the
domain libvirt holds for one of the agent's instances, defined again by hand under its own
name, tap, disk, console log, MAC and config ISO, and started with `virsh create`."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path


def peer_domain(env, xml: str, instance_id: str, inst_dir: Path, iso: Path, i: int,
                disk: tuple[str, str]) -> tuple[str, str, Path]:
    """Run i's tap made and put on the bridge, and its XML written: the agent's XML (of
    instance_id, files in inst_dir) with disk[0] replaced by disk[1], the config ISO by iso.
    Returns the domain's name, the tap and the XML file; peer_remove undoes it."""
    name, tap = f"peer-{i}", f"{env.tap_prefix}p{i}"
    subprocess.run(["ip", "tuntap", "add", "dev", tap, "mode", "tap"], check=True)
    subprocess.run(["ip", "link", "set", tap, "master", env.bridge, "up"], check=True)
    px = xml.replace(f"<name>ecs-{instance_id}</name>", f"<name>{name}</name>")
    px = "\n".join(line for line in px.splitlines() if "<uuid>" not in line)
    px = px.replace(disk[0], disk[1]).replace(str(inst_dir / "config.iso"), str(iso))
    px = px.replace(str(inst_dir / "console.log"), str(env.workdir / f"peer-{i}.log"))
    px = re.sub(r"<target dev='[^']*' managed='no'/>", f"<target dev='{tap}' managed='no'/>", px)
    px = re.sub(r"<mac address='[^']*'/>", "<mac address='52:54:00:00:ee:%02x'/>" % i, px)
    xp = env.workdir / f"peer-{i}.xml"
    xp.write_text(px)
    return name, tap, xp


def peer_remove(env, name: str, tap: str):
    """The peer's domain destroyed and its tap deleted."""
    env.libvirt.virsh("destroy", name)
    subprocess.run(["ip", "link", "del", tap], check=False)
