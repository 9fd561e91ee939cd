"""Sign-in behind an identity proxy (docs/deploy.md#sign-in-behind-an-identity-proxy):
TORU_TRUSTED_USER_HEADER is believed only from TORU_TRUSTED_PROXIES, only
names existing active users, and never creates one."""

import json

import pytest

from helpers import Client, run_cli, sign_in, wait_for

PASSWORD = "correct horse battery staple"
TRUSTED = {"TORU_TRUSTED_USER_HEADER": "Remote-User", "TORU_TRUSTED_PROXIES": "127.0.0.1/32"}
UNTRUSTED = {"TORU_TRUSTED_USER_HEADER": "Remote-User", "TORU_TRUSTED_PROXIES": "10.9.9.0/24, 192.168.77.0/24"}


def proxied(server, username):
    """A browser behind the proxy: every request carries the proxy's header."""
    return Client(server.url, headers={"Remote-User": username})


def add_user(server, username, role="client", active=True):
    admin = sign_in(server)
    res = admin.post("/api/users", json={"username": username, "password": PASSWORD, "role": role,
                                         "active": active})
    assert res.status == 201, res
    return res.json["user"]


def log_lines(server):
    path = server.data_dir / "logs" / "toru.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def users(server):
    return {u["username"] for u in sign_in(server).get("/api/users").json["users"]}


def test_a_header_from_a_trusted_proxy_is_that_user(fresh_server):
    server = fresh_server(env=TRUSTED).start()
    add_user(server, "alice")
    browser = proxied(server, "alice")
    me = browser.get("/api/auth/me")
    assert me.status == 200 and me.json["user"]["username"] == "alice" and me.json["user"]["role"] == "client"
    assert "toru_session" not in browser.cookies  # an API call needs no cookie
    # The SPA's first question opens a session (for its WebSocket and the sessions list).
    res = browser.get("/api/auth/session")
    assert res.json["user"]["username"] == "alice" and "toru_session" in browser.cookies
    session = [s for s in browser.get("/api/me/sessions").json["sessions"] if s["current"]]
    assert len(session) == 1 and session[0]["via"] == "proxy"
    # A client stays a client: the header makes nobody an admin.
    assert browser.get("/api/users").status == 403
    # Writes still need a same-origin Origin (the client sends one; a bare request does not).
    assert browser.post("/api/me/sessions/revoke-others").status == 200
    browser.origin = None
    assert browser.post("/api/me/sessions/revoke-others").status == 403


def test_the_header_wins_over_another_users_cookie(fresh_server):
    """Bob signs in at the proxy in the browser Alice used: he is Bob, not Alice."""
    server = fresh_server(env=TRUSTED).start()
    add_user(server, "alice")
    add_user(server, "bob")
    browser = proxied(server, "alice")
    browser.get("/api/auth/session")
    alice_cookie = browser.cookies["toru_session"]
    browser.headers["Remote-User"] = "bob"
    assert browser.get("/api/auth/me").json["user"]["username"] == "bob"
    assert browser.get("/api/auth/session").json["user"]["username"] == "bob"
    assert browser.cookies["toru_session"] != alice_cookie
    # Alice's old session in that browser ended with the change.
    stale = Client(server.url)
    stale.cookies["toru_session"] = alice_cookie
    assert stale.get("/api/auth/me").status == 401


def test_the_env_admin_and_admins_are_who_they_are(fresh_server):
    server = fresh_server(env=TRUSTED).start()
    add_user(server, "carol", role="admin")
    assert proxied(server, "carol").get("/api/users").status == 200
    assert proxied(server, "ADMIN").get("/api/auth/me").json["user"]["id"] == 0


def test_unknown_or_inactive_users_get_401_and_are_never_created(fresh_server):
    server = fresh_server(env=TRUSTED).start()
    add_user(server, "dave", active=False)
    for name in ("nobody", "dave", "alice,admin", "x" * 300):
        browser = proxied(server, name)
        res = browser.get("/api/auth/me")
        assert res.status == 401 and "not an active user" in res.json["error"], (name, res)
        assert browser.get("/api/auth/session").status == 401
        assert "toru_session" not in browser.cookies
    assert "nobody" not in users(server)
    refused = [r for r in log_lines(server) if r.get("msg", r.get("message")) == "proxy sign-in refused"]
    assert {r["username"] for r in refused} >= {"nobody", "dave"}


def test_without_the_header_the_password_sign_in_still_works(fresh_server):
    server = fresh_server(env=TRUSTED).start()
    assert server.client().get("/api/auth/me").status == 401
    assert sign_in(server).get("/api/auth/me").status == 200


def test_a_header_from_an_untrusted_address_is_ignored_and_logged(fresh_server):
    server = fresh_server(env=UNTRUSTED).start()
    add_user(server, "alice")
    for _ in range(5):
        res = proxied(server, "alice").get("/api/auth/me")
        assert res.status == 401 and res.json["error"] == "Sign in first"
    assert proxied(server, "admin").get("/api/auth/session").json == {"user": None}

    def warnings():
        return [r for r in log_lines(server) if "ignored Remote-User header" in r.get("msg", r.get("message", ""))]
    found = wait_for(warnings, timeout=5, message="the untrusted-header warning")
    assert len(found) == 1  # rate-limited: one line a minute
    assert found[0]["peer"] == "127.0.0.1" and found[0]["level"].lower().startswith("warn")


def test_proxy_entries_do_not_count_as_the_peer(fresh_server):
    """Only the socket's peer is checked: forwarded headers say whatever the client wrote."""
    server = fresh_server(env=dict(UNTRUSTED, TRUST_PROXY="1")).start()
    add_user(server, "alice")
    spoof = Client(server.url, headers={"Remote-User": "alice", "X-Forwarded-For": "10.9.9.5",
                                        "CF-Connecting-IP": "10.9.9.5"})
    assert spoof.get("/api/auth/me").status == 401


@pytest.mark.parametrize("env,fragment", [
    ({"TORU_TRUSTED_USER_HEADER": "Remote-User"}, "TORU_TRUSTED_PROXIES is not"),
    ({"TORU_TRUSTED_PROXIES": "127.0.0.1/32"}, "TORU_TRUSTED_USER_HEADER is not"),
    ({"TORU_TRUSTED_USER_HEADER": "Remote-User", "TORU_TRUSTED_PROXIES": "127.0.0.1/33"}, "'127.0.0.1/33'"),
    ({"TORU_TRUSTED_USER_HEADER": "Remote-User", "TORU_TRUSTED_PROXIES": "10.0.0.1/8"}, "'10.0.0.1/8'"),
    ({"TORU_TRUSTED_USER_HEADER": "Remote_User", "TORU_TRUSTED_PROXIES": "127.0.0.1/32"}, "'Remote_User'"),
    ({"TORU_TRUSTED_USER_HEADER": "Cookie", "TORU_TRUSTED_PROXIES": "127.0.0.1/32"}, "'Cookie'"),
])
def test_bad_configuration_stops_with_one_line(tmp_path, env, fragment):
    result = run_cli(["--data-dir", str(tmp_path), "--port", "1"], env=env, cwd=tmp_path)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], lines
