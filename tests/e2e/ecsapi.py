"""A minimal Alibaba Cloud RPC client for tests: signature 1.0 (as pop-core and the Python
SDK sign) and ACS3-HMAC-SHA256 (as the Tea SDKs sign), GET or POST form. Returns
(HTTP status, parsed JSON body). The real SDKs are exercised in test_ecs_sdks.py."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid


def enc(s: str) -> str:
    return urllib.parse.quote(str(s), safe="-_.~")


def sign_v1(method: str, params: dict, secret: str) -> str:
    canon = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(params.items()))
    sts = f"{method}&%2F&{enc(canon)}"
    return base64.b64encode(hmac.new((secret + "&").encode(), sts.encode(), hashlib.sha1).digest()).decode()


def open_request(req: urllib.request.Request, timeout: float) -> tuple[int, bytes, dict]:
    """Send req past any proxy: (status, body, headers), an HTTP error status included."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=timeout) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def post_json(url: str, data: bytes, headers: dict, timeout: float = 30) -> tuple[int, dict]:
    """POST data to url as it is: (status, the JSON answer)."""
    status, body, _ = open_request(urllib.request.Request(url, data=data, method="POST", headers=headers), timeout)
    return status, json.loads(body)


class EcsClient:
    def __init__(self, endpoint: str, ak: str, secret: str, version: str = "2014-05-26", timeout: float = 60):
        self.endpoint = endpoint.rstrip("/")
        self.ak, self.secret, self.version, self.timeout = ak, secret, version, timeout

    def common(self, action: str) -> dict:
        return {"Action": action, "Version": self.version, "Format": "JSON", "AccessKeyId": self.ak,
                "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "SignatureNonce": str(uuid.uuid4()),
                "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}

    def _open(self, req):
        return open_request(req, self.timeout)

    def raw(self, action: str, params: dict | None = None, *, method: str = "POST", override: dict | None = None,
            secret: str | None = None, drop: tuple = ()):
        p = self.common(action)
        p.update({k: str(v) if not isinstance(v, bool) else ("true" if v else "false")
                  for k, v in (params or {}).items()})
        p.update(override or {})
        for k in drop:
            p.pop(k, None)
        p["Signature"] = sign_v1(method, p, secret or self.secret)
        data = urllib.parse.urlencode(p, quote_via=urllib.parse.quote).encode()
        if method == "GET":
            req = urllib.request.Request(f"{self.endpoint}/?{data.decode()}", method="GET")
        else:
            req = urllib.request.Request(f"{self.endpoint}/", data=data, method="POST",
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        status, body, headers = self._open(req)
        try:
            return status, json.loads(body)
        except ValueError:
            return status, body.decode(errors="replace")

    def call(self, action: str, **params):
        status, body = self.raw(action, params)
        if status != 200:
            raise ApiError(status, body)
        return body

    def call_v3(self, action: str, params: dict | None = None, *, secret: str | None = None):
        """ACS3-HMAC-SHA256, business parameters in the query, as the Tea SDKs send."""
        query = {k: str(v) for k, v in (params or {}).items()}
        body = b""
        host = urllib.parse.urlsplit(self.endpoint).netloc
        headers = {"host": host, "x-acs-action": action, "x-acs-version": self.version,
                   "x-acs-date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                   "x-acs-signature-nonce": uuid.uuid4().hex,
                   "x-acs-content-sha256": hashlib.sha256(body).hexdigest()}
        names = sorted(headers)
        canon_q = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(query.items()))
        canon = "\n".join(["POST", "/", canon_q, "".join(f"{n}:{headers[n]}\n" for n in names), ";".join(names),
                           headers["x-acs-content-sha256"]])
        sts = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canon.encode()).hexdigest()
        sig = hmac.new((secret or self.secret).encode(), sts.encode(), hashlib.sha256).hexdigest()
        headers["Authorization"] = f"ACS3-HMAC-SHA256 Credential={self.ak},SignedHeaders={';'.join(names)},Signature={sig}"
        url = f"{self.endpoint}/?{urllib.parse.urlencode(query, quote_via=urllib.parse.quote)}"
        status, raw, _ = self._open(urllib.request.Request(url, data=body, method="POST", headers=headers))
        return status, json.loads(raw)


class ApiError(Exception):
    def __init__(self, status, body):
        self.status = status
        self.body = body if isinstance(body, dict) else {"Message": body}
        self.code = self.body.get("Code")
        super().__init__(f"{status} {self.code}: {self.body.get('Message')}")
