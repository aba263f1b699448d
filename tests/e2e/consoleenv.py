"""The web console's HTTP side as a browser's page uses it (controller/console.h): a session
signed in with an AccessKey pair, its CSRF token, and actions posted as forms to
/console/api/<Action>. Also /metrics, read with the bearer token `ecs-controller
metrics-token` prints, and parsed by prometheus_client's text-format parser."""

from __future__ import annotations

import subprocess
from pathlib import Path

import requests

from cloudenv import CTL_BIN


class ConsoleSession:
    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self.http = requests.Session()
        self.csrf = ""
        self.origin = endpoint  # what a page of the console sends as Origin

    def sign_in(self, ak: str, secret: str) -> requests.Response:
        r = self.http.post(f"{self.endpoint}/console/session/signin", data={"AccessKeyId": ak, "AccessKeySecret": secret},
                           headers={"Origin": self.origin}, timeout=30)
        if r.status_code == 200:
            self.csrf = r.json()["CsrfToken"]
        return r

    def post(self, path: str, data: dict | None = None, headers: dict | None = None) -> tuple[int, dict]:
        h = {"Origin": self.origin, "X-Ecs-Csrf-Token": self.csrf}
        h.update(headers or {})
        h = {k: v for k, v in h.items() if v is not None}
        r = self.http.post(f"{self.endpoint}{path}", data=data or {}, headers=h, timeout=120)
        return r.status_code, r.json()

    def raw(self, action: str, headers: dict | None = None, **params) -> tuple[int, dict]:
        return self.post(f"/console/api/{action}", params, headers)

    def call(self, action: str, **params) -> dict:
        st, body = self.raw(action, **params)
        assert st == 200, (action, st, body)
        return body

    def sign_out(self) -> tuple[int, dict]:
        return self.post("/console/session/signout")


def signed_in(endpoint: str, api) -> ConsoleSession:
    """A console session of the account whose EcsClient is api."""
    s = ConsoleSession(endpoint)
    r = s.sign_in(api.ak, api.secret)
    assert r.status_code == 200, r.text
    return s


def metrics_token(config: Path) -> str:
    return subprocess.run([str(CTL_BIN), "-c", str(config), "metrics-token"], capture_output=True, text=True,
                          check=True).stdout.strip()


def scrape(endpoint: str, token: str) -> dict:
    """/metrics parsed: {family name: [(sample name, labels, value), ...]}."""
    from prometheus_client.parser import text_string_to_metric_families

    r = requests.get(f"{endpoint}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=30)
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
