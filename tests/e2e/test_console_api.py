"""The web console's HTTP side and /metrics on a controller of its own (fakeagent.LoneController
and one FakeAgent: no guest, bridge or iptables, so no lock): files served with their
security headers and never from a path the client names; sign-in into a server-side session
(HttpOnly, SameSite=Strict cookie; the secret answered nowhere); every POST refused without
the session's CSRF token or from another origin; actions through the API's own path (the
same answers and errors as a signed call, the same ownership: a second account sees
nothing of the first); sign-out; the session limit; /metrics guarded by its token and
parsed by prometheus_client's text-format parser."""

from __future__ import annotations

import requests

from accounts import account_fixtures
from consoleenv import ConsoleSession, signed_in
from promscrape import assert_refused_without_token, metrics_token, sample, scrape, token_of_key
from fakeagent import LoneController, lone_cloud_fixtures

cloud_pair, ctl, host = lone_cloud_fixtures("console-api", "h-console")
alice, bob = account_fixtures("ctl", "alice", "bob")


def test_files_served_with_security_headers(ctl):
    r = requests.get(f"{ctl.endpoint}/console", allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["Location"] == "/console/"
    r = requests.get(f"{ctl.endpoint}/console/", timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Frame-Options"] == "DENY" and r.headers["X-Content-Type-Options"] == "nosniff"
    assert '<script src="app.js"' in r.text
    for name, ctype in (("app.js", "text/javascript"), ("app.css", "text/css"), ("i18n.js", "text/javascript")):
        r = requests.get(f"{ctl.endpoint}/console/{name}", timeout=30)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith(ctype), name
    # Only the built-in files: nothing the path names is read from the host.
    for path in ("/console/../../etc/passwd", "/console/%2e%2e/etc/passwd", "/console/nope.js", "/console/api"):
        assert requests.get(f"{ctl.endpoint}{path}", timeout=30).status_code == 404, path


def test_sign_in(ctl, alice):
    s = ConsoleSession(ctl.endpoint)
    for ak, secret in ((alice.ak, "wrong"), ("LTAInosuchkey000000000", alice.secret), (alice.ak, "")):
        r = s.sign_in(ak, secret)
        assert r.status_code in (400, 401) and r.json()["Code"] in ("SignInFailed", "MissingParameter"), r.text
        assert "Set-Cookie" not in r.headers
    r = s.sign_in(alice.ak, alice.secret)
    assert r.status_code == 200, r.text
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console/" in cookie
    body = r.json()
    assert body["AccountName"] == "alice" and len(body["CsrfToken"]) == 64
    assert alice.secret not in r.text
    # The page asks who is signed in; without the cookie, nobody.
    assert s.http.get(f"{ctl.endpoint}/console/session", timeout=30).json()["CsrfToken"] == body["CsrfToken"]
    assert requests.get(f"{ctl.endpoint}/console/session", timeout=30).json()["SignedIn"] is False


def test_cross_site_and_csrf_refused(ctl, alice):
    s = signed_in(ctl.endpoint, alice)
    name = "csrf-probe"
    cases = [
        ({"X-Ecs-Csrf-Token": None}, 403, "InvalidCsrfToken"),
        ({"X-Ecs-Csrf-Token": "0" * 64}, 403, "InvalidCsrfToken"),
        ({"Origin": "http://evil.example"}, 403, "Forbidden.CrossSite"),
        ({"Origin": "null"}, 403, "Forbidden.CrossSite"),
        ({"Sec-Fetch-Site": "cross-site"}, 403, "Forbidden.CrossSite"),
        ({"Sec-Fetch-Site": "same-site"}, 403, "Forbidden.CrossSite"),
    ]
    for headers, status, code in cases:
        st, body = s.raw("CreateSecurityGroup", headers=headers, SecurityGroupName=name)
        assert (st, body["Code"]) == (status, code), (headers, st, body)
    # A form another site posts: its Origin, no token (the browser would not send the
    # SameSite=Strict cookie either; here it is sent, and still refused).
    r = s.http.post(f"{ctl.endpoint}/console/api/CreateSecurityGroup", data={"SecurityGroupName": name},
                    headers={"Origin": "http://evil.example"}, timeout=30)
    assert r.status_code == 403
    # Without a session at all.
    st, body = ConsoleSession(ctl.endpoint).raw("DescribeSecurityGroups")
    assert (st, body["Code"]) == (401, "SessionExpired")
    # Nothing was made by any of them.
    assert all(g["SecurityGroupName"] != name
               for g in alice.call("DescribeSecurityGroups")["SecurityGroups"]["SecurityGroup"])


def test_actions_take_the_api_path(ctl, alice):
    s = signed_in(ctl.endpoint, alice)
    sg = s.call("CreateSecurityGroup", SecurityGroupName="web", Description="from the console")["SecurityGroupId"]
    # What the console made, the signed API sees, and the other way round.
    assert sg in [g["SecurityGroupId"] for g in alice.call("DescribeSecurityGroups")["SecurityGroups"]["SecurityGroup"]]
    kp = alice.call("CreateKeyPair", KeyPairName="api-made")["KeyPairName"]
    assert kp in [k["KeyPairName"] for k in s.call("DescribeKeyPairs")["KeyPairs"]["KeyPair"]]
    # The same errors as the API's, code for code.
    for action, params in (("CreateSecurityGroup", {"SecurityGroupName": "1bad"}),
                           ("DescribeInstances", {"InstanceIds": "not json"}),
                           ("DeleteSecurityGroup", {"SecurityGroupId": "sg-nosuchgroup0000000"}),
                           ("DescribeHosts", {}),
                           ("NoSuchAction", {}),
                           ("DescribeInstances", {"RegionId": "cn-elsewhere"})):
        st, body = s.raw(action, **params)
        api_st, api_body = alice.raw(action, params)
        assert (st, body["Code"]) == (api_st, api_body["Code"]), (action, body, api_body)
    # ClientToken: a repeat answers as the first, as the API's does.
    a = s.call("CreateSecurityGroup", SecurityGroupName="once", ClientToken="tok-1")
    b = s.call("CreateSecurityGroup", SecurityGroupName="once", ClientToken="tok-1")
    assert a["SecurityGroupId"] == b["SecurityGroupId"]


def test_second_account_sees_nothing_of_the_first(ctl, alice, bob):
    a = signed_in(ctl.endpoint, alice)
    b = signed_in(ctl.endpoint, bob)
    sg = a.call("CreateSecurityGroup", SecurityGroupName="alices")["SecurityGroupId"]
    a.call("CreateKeyPair", KeyPairName="alices-key")
    assert b.call("DescribeSecurityGroups")["TotalCount"] == 0
    assert b.call("DescribeKeyPairs")["TotalCount"] == 0
    assert b.call("DescribeInstances")["TotalCount"] == 0
    for action, params, code in (("DeleteSecurityGroup", {"SecurityGroupId": sg}, "InvalidSecurityGroupId.NotFound"),
                                 ("DescribeSecurityGroupAttribute", {"SecurityGroupId": sg},
                                  "InvalidSecurityGroupId.NotFound"),
                                 ("AuthorizeSecurityGroup", {"SecurityGroupId": sg, "IpProtocol": "tcp",
                                                             "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0"},
                                  "InvalidSecurityGroupId.NotFound")):
        st, body = b.raw(action, **params)
        assert (st, body["Code"]) == (404, code), (action, body)
    # Bob's token does not work with Alice's cookie.
    st, body = a.raw("DescribeSecurityGroups", headers={"X-Ecs-Csrf-Token": b.csrf})
    assert (st, body["Code"]) == (403, "InvalidCsrfToken")
    assert sg in [g["SecurityGroupId"] for g in alice.call("DescribeSecurityGroups")["SecurityGroups"]["SecurityGroup"]]


def test_sign_out_ends_the_session(ctl, alice):
    s = signed_in(ctl.endpoint, alice)
    cookie = dict(s.http.cookies)
    st, _ = s.sign_out()
    assert st == 200
    # The old cookie, replayed, names no session.
    again = ConsoleSession(ctl.endpoint)
    again.http.cookies.update(cookie)
    again.csrf = s.csrf
    st, body = again.raw("DescribeInstances")
    assert (st, body["Code"]) == (401, "SessionExpired")


def test_session_limit(tmp_path):
    with LoneController(tmp_path, extra={"controller": {"console_max_sessions": 2}}) as lone:
        api = lone.account("carol")
        for _ in range(2):
            signed_in(lone.endpoint, api)
        r = ConsoleSession(lone.endpoint).sign_in(api.ak, api.secret)
        assert r.status_code == 503 and r.json()["Code"] == "ServiceUnavailable"


def test_metrics(ctl, host, alice):
    token = metrics_token(ctl.config)
    assert len(token) == 64 and ctl.key not in token and token == token_of_key(ctl.key)
    assert_refused_without_token(ctl.endpoint, token)
    host.heartbeat()
    s = signed_in(ctl.endpoint, alice)
    s.call("DescribeInstances")
    s.raw("FrobnicateEverything")
    alice.raw("DescribeInstances", {"InstanceIds": "not json"})
    m = scrape(ctl.endpoint, token)
    assert sample(m, "ecs_api_requests_total", action="DescribeInstances", code="OK") >= 1
    assert sample(m, "ecs_api_requests_total", action="DescribeInstances", code="InvalidParameter") >= 1
    assert sample(m, "ecs_api_requests_total", action="unknown", code="InvalidApi.NotFound") >= 1
    assert not any(lab.get("action") == "FrobnicateEverything" for f in m.values() for _, lab, _ in f)
    count = sample(m, "ecs_api_request_duration_seconds_count", action="DescribeInstances")
    assert count >= 2 and sample(m, "ecs_api_request_duration_seconds_bucket", action="DescribeInstances",
                                 le="+Inf") == count
    assert sample(m, "ecs_hosts", state="up") == 1 and sample(m, "ecs_hosts", state="down") == 0
    assert sample(m, "ecs_console_sessions") >= 1
    assert "ecs_instances" in m and "ecs_jobs_queued" in m


def test_vnc_refusals(ctl, alice):
    """The VNC console's refusals that need no guest (tests/e2e/test_console.py has the guest:
    a token good once, another account's refused)."""
    from consoleenv import ws_open

    st, body = alice.raw("DescribeInstanceVncUrl", {})
    assert (st, body["Code"]) == (400, "MissingParameter"), body
    st, body = alice.raw("DescribeInstanceVncUrl", {"InstanceId": "i-nosuchinstance00000"})
    assert (st, body["Code"]) == (404, "InvalidInstanceId.NotFound"), body
    import json as _json
    for path in ("/console/vnc", "/console/vnc?token=" + "0" * 64, "/console/vnc?token=../../x"):
        st, body, _ = ws_open(ctl.endpoint, path)
        assert st == 403 and _json.loads(body)["Code"] == "InvalidVncToken", (path, st, body)
    st, body, _ = ws_open(ctl.endpoint, "/console/vnc?token=" + "0" * 64, origin="http://evil.example")
    assert st == 403 and _json.loads(body)["Code"] == "Forbidden.CrossSite", body
    r = requests.get(f"{ctl.endpoint}/console/vnc", timeout=30)
    assert r.status_code == 400 and r.json()["Code"] == "InvalidParameter", r.text
    # noVNC is served from the controller, as the console's other files.
    r = requests.get(f"{ctl.endpoint}/console/novnc.js", timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/javascript")
    assert "noVNC 1.5.0" in r.text[:200] and "window.EcsRFB" in r.text


def test_vnc_token_good_once(ctl, alice, bob):
    """A Running instance of the fake host: its token is taken by the first connection (which
    the fake agent, not being able to switch protocols, ends in 503), refused after."""
    import json as _json
    import time as _time

    from consoleenv import ws_open

    iid = alice.call("RunInstances", ImageId="tiny", InstanceType="ecs.t1.small")["InstanceIdSets"]["InstanceIdSet"][0]
    for _ in range(300):
        if alice.call("DescribeInstances", InstanceIds=_json.dumps([iid]))["Instances"]["Instance"][0]["Status"] == "Running":
            break
        _time.sleep(0.1)
    st, body = bob.raw("DescribeInstanceVncUrl", {"InstanceId": iid})
    assert (st, body["Code"]) == (404, "InvalidInstanceId.NotFound"), body
    url = alice.call("DescribeInstanceVncUrl", InstanceId=iid)["VncUrl"]
    tok = url.split("token=", 1)[1]
    s = signed_in(ctl.endpoint, alice)
    cookie = "; ".join(f"{c.name}={c.value}" for c in s.http.cookies)
    st, body, _ = ws_open(ctl.endpoint, f"/console/vnc?token={tok}", cookie=cookie, origin=ctl.endpoint)
    assert st == 503 and _json.loads(body)["Code"] == "ServiceUnavailable", (st, body)
    st, body, _ = ws_open(ctl.endpoint, f"/console/vnc?token={tok}", cookie=cookie, origin=ctl.endpoint)
    assert st == 403 and _json.loads(body)["Code"] == "InvalidVncToken", (st, body)
    alice.call("StopInstance", InstanceId=iid)
