"""Signed-in users kept in memory (toru/accounts/credentials.py): a warm
request reads nothing from SQLite but `PRAGMA data_version`, and every
change that must end or narrow a credential takes effect on the very next
request — from this process or from another one (the CLI, a script with
sqlite3)."""

import json
import sqlite3
import time

import pytest

from helpers import ADMIN_PASSWORD, call_wsgi, run_cli, token_client

from toru.accounts.credentials import CredentialCache
from toru.store import Store

PASSWORD = "correct horse battery staple"


def sign_in_wsgi(app, username="admin", password="x" * 16):
    res = call_wsgi(app, "POST", "/api/auth/login", json.dumps({"username": username, "password": password}).encode(),
                    {"Content-Type": "application/json", "Origin": "http://127.0.0.1"})
    assert res.status == 200, res
    return res.headers["set-cookie"].split(";")[0]


def statements_of(app, fn):
    """The SQL statements `fn()` runs on the server's connection."""
    seen = []
    app.services.store.conn.set_trace_callback(seen.append)
    try:
        fn()
    finally:
        app.services.store.conn.set_trace_callback(None)
    return seen


def test_a_warm_session_or_token_request_reads_no_rows(app):
    app.services.accounts.create_user({"username": "carol", "password": PASSWORD, "role": "client"})
    cookie = sign_in_wsgi(app, "carol", PASSWORD)
    resources = lambda headers: call_wsgi(app, "GET", "/api/resources", headers=headers)  # noqa: E731
    assert resources({"Cookie": cookie}).status == 200
    sql = statements_of(app, lambda: resources({"Cookie": cookie}))
    assert sql == ["PRAGMA data_version"], sql
    carol = app.services.accounts.authenticate("carol", PASSWORD)[0]
    secret, _ = app.services.tokens.create(carol, {"name": "t", "scopes": ["read"]})
    bearer = {"Authorization": f"Bearer {secret}"}
    assert resources(bearer).status == 200
    sql = statements_of(app, lambda: resources(bearer))
    assert sql == ["PRAGMA data_version"], sql


def test_another_process_writing_empties_the_cache(tmp_path):
    store = Store(tmp_path / "toru.db")
    cache = CredentialCache(store)
    cache.put("k", {"user": "someone"})
    assert cache.get("k") == {"user": "someone"}
    store.execute("UPDATE settings SET value = value")  # our own writes: forgotten by who writes
    assert cache.get("k") == {"user": "someone"}
    other = sqlite3.connect(tmp_path / "toru.db")
    other.execute("INSERT INTO settings(key, value, updated_at) VALUES('x', '1', 0)")
    other.commit()
    other.close()
    assert cache.get("k") is None
    cache.put("k", {"user": "again"})
    assert cache.get("k") == {"user": "again"}
    store.close()


def test_the_cache_stays_bounded(tmp_path):
    store = Store(tmp_path / "toru.db")
    cache = CredentialCache(store, max_entries=3)
    for n in range(10):
        cache.put(n, {})
    assert len(cache.entries) <= 3 and cache.get(9) == {}
    store.close()


def test_logout_ends_the_warm_session_at_once(server):
    c = server.client()
    assert c.post("/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}).status == 200
    old = dict(c.cookies)
    assert c.get("/api/auth/me").status == 200
    assert c.post("/api/auth/logout").status == 200
    c.cookies = old
    assert c.get("/api/auth/me").status == 401


def test_changing_your_password_ends_your_other_warm_sessions(server, admin, make_user):
    laptop, user = make_user(password=PASSWORD)
    phone = server.client()
    assert phone.post("/api/auth/login", json={"username": user["username"], "password": PASSWORD}).status == 200
    assert phone.get("/api/auth/me").status == 200
    assert laptop.put("/api/me/password", json={"current_password": PASSWORD,
                                                "new_password": "another long passphrase 7"}).status == 200
    assert phone.get("/api/auth/me").status == 401
    assert laptop.get("/api/auth/me").status == 200


def test_a_role_change_reaches_a_warm_session_and_token_at_once(server, admin, make_user):
    client, user = make_user()
    secret = client.post("/api/tokens", json={"name": "ci", "scopes": ["read"]}).json["secret"]
    script = token_client(server, secret)
    assert client.get("/api/auth/me").json["user"]["role"] == "client"
    assert script.get("/api/users").status == 403
    assert admin.patch(f"/api/users/{user['id']}", json={"role": "admin"}).status == 200
    assert client.get("/api/auth/me").json["user"]["role"] == "admin"
    assert script.get("/api/users").status == 200
    assert admin.patch(f"/api/users/{user['id']}", json={"role": "client"}).status == 200
    assert script.get("/api/users").status == 403


def test_a_deactivated_user_is_out_at_once_with_session_and_token(server, admin, make_user):
    client, user = make_user()
    secret = client.post("/api/tokens", json={"name": "ci", "scopes": ["read"]}).json["secret"]
    script = token_client(server, secret)
    assert client.get("/api/auth/me").status == 200 and script.get("/api/auth/me").status == 200
    assert admin.patch(f"/api/users/{user['id']}", json={"active": False}).status == 200
    assert client.get("/api/auth/me").status == 401
    assert script.get("/api/auth/me").status == 401


def test_a_session_deleted_by_another_process_is_gone_at_once(server, make_user):
    client, user = make_user()
    assert client.get("/api/auth/me").status == 200
    db = sqlite3.connect(server.data_dir / "toru.db")
    db.execute("DELETE FROM sessions WHERE user_id = ?", (user["id"],))
    db.commit()
    db.close()
    assert client.get("/api/auth/me").status == 401


def test_a_token_revoked_by_the_cli_is_refused_at_once(server, admin):
    made = admin.post("/api/tokens", json={"name": "cli", "scopes": ["read"]}).json
    script = token_client(server, made["secret"])
    assert script.get("/api/auth/me").status == 200
    revoked = run_cli(["--data-dir", str(server.data_dir), "token", "revoke", str(made["token"]["id"])])
    assert revoked.returncode == 0, revoked.stderr
    assert script.get("/api/auth/me").status == 401


def test_last_seen_is_written_at_most_once_a_minute(server, make_user):
    client, user = make_user()
    db = sqlite3.connect(server.data_dir / "toru.db")
    before = db.execute("SELECT last_seen FROM sessions WHERE user_id = ?", (user["id"],)).fetchone()[0]
    for _ in range(5):
        assert client.get("/api/auth/me").status == 200
    assert db.execute("SELECT last_seen FROM sessions WHERE user_id = ?", (user["id"],)).fetchone()[0] == before
    # An hour-old last use: the next request writes it (and slides the expiry).
    db.execute("UPDATE sessions SET last_seen = last_seen - 3600 WHERE user_id = ?", (user["id"],))
    db.commit()
    assert client.get("/api/auth/me").status == 200
    after = db.execute("SELECT last_seen FROM sessions WHERE user_id = ?", (user["id"],)).fetchone()[0]
    db.close()
    assert after == pytest.approx(time.time(), abs=30)
