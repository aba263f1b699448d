"""A stand-in for ecs-controller's agent-facing side (docs/agent-api.md, "Calls to the
controller"): verifies each request's host-key signature, records heartbeats, and answers
"is this instance wanted?" from a dict the test sets. Loopback only."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from agentlib import sign


class FakeController:
    def __init__(self, key: str):
        self.key = key
        self.heartbeats: list[dict] = []
        self.rejected = 0
        self.wanted: dict[str, bool] = {}  # instance id -> wanted; absent -> 404
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _verify(self, body: bytes) -> bool:
                u = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
                auth = self.headers.get("Authorization", "")
                date, nonce = self.headers.get("X-Ecs-Date", ""), self.headers.get("X-Ecs-Nonce", "")
                if not auth.startswith("ECS1-HMAC-SHA256 ") or not date.isdigit():
                    return False
                want = sign(outer.key, self.command, u.path, q, int(date), nonce, body)
                return hmac.compare_digest(want, auth.split(" ", 1)[1]) and abs(int(date) - time.time()) < 300

            def _reply(self, status: int, obj):
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not self._verify(body):
                    with outer.lock:
                        outer.rejected += 1
                    return self._reply(401, {"code": "Unauthorized"})
                if self.path == "/agent/v1/heartbeat":
                    with outer.lock:
                        outer.heartbeats.append(json.loads(body))
                    return self._reply(200, {})
                self._reply(404, {"code": "NotFound"})

            def do_GET(self):
                if not self._verify(b""):
                    with outer.lock:
                        outer.rejected += 1
                    return self._reply(401, {"code": "Unauthorized"})
                prefix = "/agent/v1/instances/"
                if self.path.startswith(prefix):
                    iid = self.path[len(prefix):]
                    with outer.lock:
                        w = outer.wanted.get(iid)
                    if w is None:
                        return self._reply(404, {"code": "InvalidInstanceId.NotFound"})
                    return self._reply(200, {"wanted": w})
                self._reply(404, {"code": "NotFound"})

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
