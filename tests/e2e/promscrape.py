"""Scraping a daemon's /metrics as Prometheus would: the bearer token (lib/prom.h), the
text format parsed by prometheus_client's own parser, and the refusals without the token."""

from __future__ import annotations

import hashlib
import hmac
import subprocess
from pathlib import Path

import requests

from cloudenv import CTL_BIN


def metrics_token(config: Path) -> str:
    """The token as operators get it: `ecs-controller metrics-token` with the cloud's host key."""
    return subprocess.run([str(CTL_BIN), "-c", str(config), "metrics-token"], capture_output=True, text=True,
                          check=True).stdout.strip()


def token_of_key(host_key: str) -> str:
    """The same token derived here (HMAC-SHA256(host key, "ecs-metrics")), for a daemon with no
    controller config beside it."""
    return hmac.new(host_key.encode(), b"ecs-metrics", hashlib.sha256).hexdigest()


def scrape(endpoint: str, token: str, path: str = "/metrics") -> dict:
    """/metrics parsed: {family name: [(sample name, labels, value), ...]}."""
    from prometheus_client.parser import text_string_to_metric_families

    r = requests.get(f"{endpoint}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {f.name: [(s.name, s.labels, s.value) for s in f.samples] for f in text_string_to_metric_families(r.text)}


def sample(families: dict, name: str, **labels) -> float | None:
    """The value of the sample `name` with these labels, in any family."""
    for samples in families.values():
        for n, lab, v in samples:
            if n == name and all(lab.get(k) == val for k, val in labels.items()):
                return v
    return None


def assert_refused_without_token(endpoint: str, token: str, path: str = "/metrics"):
    """401 with no token, a wrong one, the token without "Bearer", or another scheme."""
    for headers in ({}, {"Authorization": "Bearer " + "0" * 64}, {"Authorization": token},
                    {"Authorization": f"Basic {token}"}):
        r = requests.get(f"{endpoint}{path}", headers=headers, timeout=30)
        assert r.status_code == 401, (headers, r.status_code, r.text)
        assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), r.headers
