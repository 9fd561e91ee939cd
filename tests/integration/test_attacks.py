"""The attack list: each attack is refused AND leaves nothing changed."""

import json
import re
import sys

import pytest
import websocket

from helpers import ADMIN_PASSWORD, Client, request

GOOD = "correct horse battery staple"


def user_count(admin):
    return len(admin.get("/api/users").json["users"])


# --- CSRF ------------------------------------------------------------------------

@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},
    {"Origin": "null"},
    {"Referer": "http://evil.example/page"},
    {"Origin": "http://127.0.0.1:1"},           # same host, other port
])
def test_csrf_with_a_foreign_origin_is_refused(server, admin, headers):
    before = user_count(admin)
    cookie = "; ".join(f"{k}={v}" for k, v in admin.cookies.items())
    status, _, body = request(server.url, "POST", "/api/users",
                              json.dumps({"username": "csrf1", "password": GOOD}).encode(),
                              dict(headers, Cookie=cookie, **{"Content-Type": "application/json"}))
    assert status == 403 and b"Cross-site" in body
    assert user_count(admin) == before


def test_csrf_without_origin_or_referer_is_refused(server, admin):
    before = user_count(admin)
    cookie = "; ".join(f"{k}={v}" for k, v in admin.cookies.items())
    status, _, body = request(server.url, "POST", "/api/users",
                              json.dumps({"username": "csrf2", "password": GOOD}).encode(),
                              {"Cookie": cookie, "Content-Type": "application/json"})
    assert status == 403 and b"no Origin" in body
    assert user_count(admin) == before


def test_same_origin_referer_is_accepted_without_origin(server, admin):
    cookie = "; ".join(f"{k}={v}" for k, v in admin.cookies.items())
    status, _, _ = request(server.url, "POST", "/api/users",
                           json.dumps({"username": "viareferer", "password": GOOD}).encode(),
                           {"Cookie": cookie, "Content-Type": "application/json",
                            "Referer": server.url + "/settings"})
    assert status == 201


def test_text_plain_form_post_is_415(server, admin):
    before = user_count(admin)
    res = admin.request("POST", "/api/users", data=json.dumps({"username": "csrf3", "password": GOOD}).encode(),
                        headers={"Content-Type": "text/plain"})
    assert res.status == 415
    assert user_count(admin) == before


def test_csrf_login_from_a_foreign_site_is_refused(server):
    c = Client(server.url, origin="http://evil.example")
    res = c.post("/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert res.status == 403 and "toru_session" not in c.cookies


# --- bodies -----------------------------------------------------------------------

def test_huge_body_is_413_and_creates_nothing(admin):
    before = user_count(admin)
    res = admin.post("/api/users", json={"username": "huge", "password": GOOD, "display_name": "x" * (2 << 20)})
    assert res.status == 413
    assert user_count(admin) == before


@pytest.mark.parametrize("raw", [b"{", b"[]", b'"str"', b"\xff\xff", b'{"username": "x",}'])
def test_malformed_json_is_400_and_creates_nothing(admin, raw):
    before = user_count(admin)
    res = admin.request("POST", "/api/users", data=raw, headers={"Content-Type": "application/json"})
    assert res.status == 400 and res.json["error"]
    assert user_count(admin) == before


DEEP_JSON = b"[" * 100_000 + b"]" * 100_000  # RecursionError in json.loads unless caught


def body_routes(app):
    """(method, path) of every route that may read a JSON body, with
    placeholder path parameters."""
    import re as re_mod
    for route in app.routes:
        # The plugin proxy passes bodies through unread; signing out would end this test's session.
        if route.method in ("POST", "PUT", "PATCH", "DELETE") and not route.rule.startswith(
                ("/api/plugins/route", "/api/auth/logout")):
            yield route.method, re_mod.sub(r"<[^>]+>", "1", route.rule)


def test_json_nested_100000_deep_is_400_on_every_route(app, admin):
    routes = list(body_routes(app))
    assert len(routes) >= 15, routes  # the app fixture holds every route module
    for method, path in routes:
        res = admin.request(method, path, data=DEEP_JSON, headers={"Content-Type": "application/json"})
        # Routes that read no body act on it as on an empty one; none may fail.
        assert res.status < 500, (method, path, res.status)
        assert res.status < 400 or res.json["error"], (method, path, res.status)
    for method, path in [("POST", "/api/users"), ("POST", "/api/auth/login"), ("PUT", "/api/settings"),
                         ("POST", "/api/quick-actions")]:
        res = admin.request(method, path, data=DEEP_JSON, headers={"Content-Type": "application/json"})
        assert res.status == 400 and "nested too deeply" in res.json["error"], (method, path, res)


# --- XSS --------------------------------------------------------------------------

def test_xss_display_name_is_stored_as_text(admin):
    payload = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    res = admin.post("/api/users", json={"username": "xss", "password": GOOD, "display_name": payload})
    assert res.status == 201 and res.json["user"]["display_name"] == payload
    # JSON answers are never sniffed as HTML.
    listed = admin.get("/api/users")
    assert listed.header("content-type").startswith("application/json")
    assert listed.header("x-content-type-options") == "nosniff"


# --- WebSocket ----------------------------------------------------------------------

def ws_url(server):
    return server.url.replace("http://", "ws://") + "/api/ws"


def ws_handshake_status(server, origin, cookie=None):
    headers = [f"Cookie: {cookie}"] if cookie else []
    try:
        ws = websocket.create_connection(ws_url(server), origin=origin, header=headers, timeout=5)
    except websocket.WebSocketBadStatusException as e:
        return e.status_code
    ws.close()
    return 101


def test_websocket_with_a_session_and_same_origin_works(server, admin):
    cookie = f"toru_session={admin.cookies['toru_session']}"
    ws = websocket.create_connection(ws_url(server), origin=server.url, header=[f"Cookie: {cookie}"], timeout=5)
    try:
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv()) == {"type": "pong"}
        ws.send("not json")
        assert json.loads(ws.recv())["type"] == "error"
        ws.send(json.dumps({"type": "no-such-type"}))
        assert "Unknown message type" in json.loads(ws.recv())["data"]
        ws.send("[" * 30_000 + "]" * 30_000)  # under the 64 KiB cap, far over the parser's depth
        assert json.loads(ws.recv()) == {"type": "error", "data": "Message must be a JSON object"}
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv()) == {"type": "pong"}  # the connection survived it
    finally:
        ws.close()


def test_websocket_with_a_foreign_origin_is_refused(server, admin):
    cookie = f"toru_session={admin.cookies['toru_session']}"
    assert ws_handshake_status(server, "http://evil.example", cookie) == 403


def test_websocket_without_a_cookie_is_refused(server):
    assert ws_handshake_status(server, server.url) == 403


def test_websocket_with_a_dead_session_is_refused(server, admin):
    c = server.client()
    c.post("/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    cookie = f"toru_session={c.cookies['toru_session']}"
    c.post("/api/auth/logout")
    assert ws_handshake_status(server, server.url, cookie) == 403


# --- host header --------------------------------------------------------------------

def test_allowed_hosts_refuse_other_host_headers(fresh_server):
    proc = fresh_server(env={"TORU_ALLOWED_HOSTS": "toru.example.com"}).start()
    status, _, body = request(proc.url, "GET", "/api/health", headers={"Host": "rebind.attacker.net"})
    assert status == 421 and b"TORU_ALLOWED_HOSTS" in body
    assert request(proc.url, "GET", "/api/health", headers={"Host": "toru.example.com"})[0] == 200
    assert request(proc.url, "GET", "/api/health", headers={"Host": f"localhost:{proc.port}"})[0] == 200
    assert request(proc.url, "GET", "/", headers={"Host": "rebind.attacker.net"})[0] == 421


@pytest.mark.parametrize("header", ["Remote-User", "X-Forwarded-User", "X-Remote-User", "Remote-Email"])
def test_a_spoofed_identity_proxy_header_does_nothing_by_default(server, header):
    """Without TORU_TRUSTED_USER_HEADER no header signs anyone in: not as the
    env admin, not on the SPA's session question, not on the WebSocket."""
    spoof = server.client()
    spoof.headers[header] = "admin"
    assert spoof.get("/api/auth/me").status == 401
    assert spoof.get("/api/users").status == 401
    assert spoof.get("/api/auth/session").json == {"user": None} and not spoof.cookies
    assert spoof.post("/api/users", json={"username": "viaheader", "password": GOOD}).status == 401
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(ws_url(server), origin=server.url, header=[f"{header}: admin"], timeout=5)
    assert refused.value.status_code == 403


# --- every admin route, called by a client ---------------------------------------------

def admin_routes():
    """(method, path) of every admin route, read from the real route table."""
    sys.path.insert(0, ".")
    from toru.app import create_app
    from toru.config import Config
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Config(data_dir=tmp, admin_password="route table only"))
        try:
            routes = [(r.method, re.sub(r"<[^>]+>", "1", r.rule)) for r in app.routes
                      if r.config.get("role") == "admin"]
        finally:
            app.services.stop(timeout=1)
    return routes


ADMIN_ROUTES = admin_routes()


def test_the_route_table_has_admin_routes():
    assert ("GET", "/api/users") in ADMIN_ROUTES and ("DELETE", "/api/users/1") in ADMIN_ROUTES


@pytest.mark.parametrize("method,path", ADMIN_ROUTES)
def test_client_gets_403_on_every_admin_route(make_user, admin, method, path):
    client, _ = make_user()
    before = admin.get("/api/users").json
    body = {"username": "sneaky", "password": GOOD, "role": "admin"} if method != "GET" else None
    res = client.request(method, path, json_body=body)
    assert res.status == 403, (method, path, res)
    assert admin.get("/api/users").json == before


@pytest.mark.parametrize("method,path", ADMIN_ROUTES)
def test_anonymous_gets_401_on_every_admin_route(server, method, path):
    res = server.client().request(method, path, json_body={} if method != "GET" else None)
    assert res.status == 401, (method, path, res)
