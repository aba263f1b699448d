"""npm packages for the end-to-end tests (Alibaba Cloud's own SDKs), each installed once
into a directory of its own under build/ (npm's registry is reachable here)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path


def npm_package(directory: Path, name: str, version: str) -> Path:
    """`name`@`version` in directory/node_modules, installed when missing or another version."""
    directory.mkdir(parents=True, exist_ok=True)
    pkg = directory / "node_modules" / name / "package.json"
    if not pkg.exists() or json.loads(pkg.read_text())["version"] != version:
        (directory / "package.json").write_text(json.dumps({"name": f"ecs-e2e-{directory.name}", "private": True}))
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", f"{name}@{version}"],
                       cwd=directory, check=True, timeout=600, stdin=subprocess.DEVNULL)
    return directory


def run_node(directory: Path, script: str, env: dict, timeout: int, context=lambda: "") -> list:
    """A Node script run in directory (beside its node_modules) with env added; the JSON
    values it printed, one a line. A failure shows its output and context()."""
    p = subprocess.run(["node", "-e", script], cwd=directory, capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ, **env))
    assert p.returncode == 0, p.stderr[-4000:] + p.stdout[-4000:] + "\n" + context()
    return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


def run_node_merged(directory: Path, script: str, env: dict, timeout: int, context=lambda: "") -> dict:
    """run_node's JSON objects merged into one dict."""
    res = {}
    for x in run_node(directory, script, env, timeout, context):
        res.update(x)
    return res
