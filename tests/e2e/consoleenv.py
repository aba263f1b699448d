"""The web console's HTTP side as a browser's page uses it (controller/console.h): a session
signed in with an AccessKey pair, its CSRF token, and actions posted as forms to
/console/api/<Action>. (/metrics is read with tests/e2e/promscrape.py.)"""

from __future__ import annotations

import requests


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


def ws_open(endpoint: str, path: str, *, cookie: str | None = None, origin: str | None = None,
            timeout: float = 30) -> tuple[int, bytes, object]:
    """A WebSocket handshake (RFC 6455) to endpoint + path on a plain socket: (HTTP status,
    what came after the answer's head for a 101 / the body otherwise, the socket or None)."""
    import base64
    import hashlib
    import os
    import socket
    from urllib.parse import urlsplit

    u = urlsplit(endpoint)
    key = base64.b64encode(os.urandom(16)).decode()
    head = [f"GET {path} HTTP/1.1", f"Host: {u.netloc}", "Upgrade: websocket", "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Protocol: binary"]
    if cookie:
        head.append(f"Cookie: {cookie}")
    if origin:
        head.append(f"Origin: {origin}")
    s = socket.create_connection((u.hostname, u.port), timeout=timeout)
    s.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    hdr, _, rest = buf.partition(b"\r\n\r\n")
    status = int(hdr.split(b" ", 2)[1])
    if status != 101:
        length = 0
        for line in hdr.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        while len(rest) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
        s.close()
        return status, rest, None
    want = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
    assert want.encode() in hdr, hdr
    return status, rest, s


def ws_read_frame(s, buf: bytes = b"") -> tuple[int, bytes, bytes]:
    """One server frame from socket s (buf: bytes already read): (opcode, payload, the rest)."""
    def need(n):
        nonlocal buf
        while len(buf) < n:
            chunk = s.recv(65536)
            assert chunk, "the WebSocket closed"
            buf += chunk
    need(2)
    op, ln, hl = buf[0] & 0x0F, buf[1] & 0x7F, 2
    assert not buf[1] & 0x80, "a server's frame is not masked"
    if ln == 126:
        need(4)
        ln, hl = int.from_bytes(buf[2:4], "big"), 4
    elif ln == 127:
        need(10)
        ln, hl = int.from_bytes(buf[2:10], "big"), 10
    need(hl + ln)
    return op, buf[hl:hl + ln], buf[hl + ln:]


def ws_send_frame(s, payload: bytes, opcode: int = 2) -> None:
    """One masked client frame."""
    import os

    mask = os.urandom(4)
    n = len(payload)
    head = bytes([0x80 | opcode]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big"))
    s.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
