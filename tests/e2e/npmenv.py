"""npm packages for the end-to-end tests (Alibaba Cloud's own SDKs), each installed once
into a directory of its own under build/ (npm's registry is reachable here)."""

from __future__ import annotations

import json
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
