"""A stand-in for ecs-controller's agent-facing side (docs/agent-api.md, "Calls to the
controller"): verifies each request's host-key signature, records heartbeats, and answers
"is this instance wanted?" from a dict the test sets. Loopback only."""

from __future__ import annotations

import contextlib
import json
import threading
from http.server import ThreadingHTTPServer

from agentlib import SignedJsonHandler


class FakeController:
    def __init__(self, key: str):
        self.key = key
        self.heartbeats: list[dict] = []
        self.rejected = 0
        self.wanted: dict[str, bool] = {}  # instance id -> wanted; absent -> 404
        self.moved: set[str] = set()  # instance ids placed on another host now
        self.lock = threading.Lock()
        outer = self

        class Handler(SignedJsonHandler):
            key = outer.key

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not self.signed(body):
                    with outer.lock:
                        outer.rejected += 1
                    return self.reply_json(401, {"code": "Unauthorized"})
                if self.path == "/agent/v1/heartbeat":
                    with outer.lock:
                        outer.heartbeats.append(json.loads(body))
                    return self.reply_json(200, {})
                if self.path == "/agent/v1/instances/moved":
                    with outer.lock:
                        ids = json.loads(body)["instance_ids"]
                        return self.reply_json(200, {"moved": [i for i in ids if i in outer.moved]})
                self.reply_json(404, {"code": "NotFound"})

            def do_GET(self):
                if not self.signed(b""):
                    with outer.lock:
                        outer.rejected += 1
                    return self.reply_json(401, {"code": "Unauthorized"})
                prefix = "/agent/v1/instances/"
                if self.path.startswith(prefix):
                    iid = self.path[len(prefix):]
                    with outer.lock:
                        w = outer.wanted.get(iid)
                    if w is None:
                        return self.reply_json(404, {"code": "InvalidInstanceId.NotFound"})
                    return self.reply_json(200, {"wanted": w})
                self.reply_json(404, {"code": "NotFound"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def last_heartbeat(self) -> dict | None:
        with self.lock:
            return self.heartbeats[-1] if self.heartbeats else None

    def heartbeat_count(self) -> int:
        with self.lock:
            return len(self.heartbeats)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def agent_with_fake_controller(image_dir, ceph, extra: dict | None = None):
    """A started AgentEnv (agentenv.py) whose controller is a FakeController (env.controller)."""
    from agentenv import AgentEnv

    env = AgentEnv(image_dir, ceph=ceph, extra=extra)
    fc = FakeController(env.agent.key)
    env.agent.controller_url = fc.url
    env.controller = fc
    try:
        env.start()
        yield env
    finally:
        env.close()
        fc.close()
