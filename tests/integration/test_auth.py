"""Signing in and out, sessions, the env admin and the instance endpoint."""

import re
import sqlite3
import time

import pytest

from helpers import ADMIN_PASSWORD, run_cli, sign_in

LOGIN = "/api/auth/login"


def cookie_header(res):
    return next(c for c in res.headers["set-cookie-list"] if c.startswith("toru_session="))


def db_rows(data_dir, sql, params=()):
    conn = sqlite3.connect(data_dir / "toru.db")
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def test_login_me_logout_and_the_old_cookie_is_dead(server):
    c = server.client()
    res = c.post(LOGIN, json={"username": "admin", "password": ADMIN_PASSWORD})
    assert res.status == 200
    assert res.json == {"success": True, "user": {"id": 0, "username": "admin",
                                                  "display_name": "Administrator", "role": "admin"}}
    flags = cookie_header(res)
    assert "HttpOnly" in flags and "samesite=strict" in flags.lower() and "Path=/" in flags
    assert "Secure" not in flags
    assert c.get("/api/auth/me").json["user"]["username"] == "admin"
    old_cookie = dict(c.cookies)
    assert c.post("/api/auth/logout").status == 200
    assert "toru_session" not in c.cookies
    assert c.get("/api/auth/me").status == 401
    replay = server.client()
    replay.cookies = old_cookie
    assert replay.get("/api/auth/me").status == 401


def test_session_token_is_stored_only_as_a_hash(server):
    c = server.client()
    c.post(LOGIN, json={"username": "admin", "password": ADMIN_PASSWORD})
    token = c.cookies["toru_session"]
    assert len(token) >= 43  # 32 random bytes, base64url
    dump = "\n".join(str(r) for r in db_rows(server.data_dir, "SELECT * FROM sessions"))
    assert token not in dump
    import hashlib
    assert hashlib.sha256(token.encode()).hexdigest() in dump


def test_session_fixation_a_preset_cookie_is_not_adopted(server):
    c = server.client()
    c.cookies["toru_session"] = "attacker-chosen-value-0123456789abcdef0123456789"
    res = c.post(LOGIN, json={"username": "admin", "password": ADMIN_PASSWORD})
    assert res.status == 200
    assert c.cookies["toru_session"] != "attacker-chosen-value-0123456789abcdef0123456789"
    attacker = server.client()
    attacker.cookies["toru_session"] = "attacker-chosen-value-0123456789abcdef0123456789"
    assert attacker.get("/api/auth/me").status == 401


def test_every_login_gets_a_new_token(server):
    a, b = server.client(), server.client()
    for c in (a, b):
        assert c.post(LOGIN, json={"username": "admin", "password": ADMIN_PASSWORD}).status == 200
    assert a.cookies["toru_session"] != b.cookies["toru_session"]


def test_secure_cookie_under_production(fresh_server):
    proc = fresh_server(env={"PRODUCTION": "1"}).start()
    res = proc.client().post(LOGIN, json={"username": "admin", "password": ADMIN_PASSWORD})
    assert res.status == 200 and "Secure" in cookie_header(res)


@pytest.mark.parametrize("body", [{"username": "admin"}, {"username": 5, "password": "x"},
                                  {"username": "", "password": "x"}, {"username": "a" * 300, "password": "x"}])
def test_malformed_login_is_400(server, body):
    res = server.client().post(LOGIN, json=body)
    assert res.status == 400 and res.json["error"]


def test_wrong_unknown_and_inactive_all_say_the_same(fresh_server):
    proc = fresh_server().start()
    admin = proc.client()
    admin.post(LOGIN, json={"username": "admin", "password": ADMIN_PASSWORD})
    uid = admin.post("/api/users", json={"username": "sleepy", "password": "a long enough secret"}).json["user"]["id"]
    assert admin.patch(f"/api/users/{uid}", json={"active": False}).status == 200
    answers = []
    for username, password in [("admin", "wrong password!"), ("nobody", "a long enough secret"),
                               ("sleepy", "a long enough secret")]:
        res = proc.client().post(LOGIN, json={"username": username, "password": password})
        answers.append((res.status, res.json["error"]))
    assert answers == [(401, "Invalid username or password")] * 3
    reasons = [r for (r,) in db_rows(proc.data_dir, "SELECT reason FROM login_attempts WHERE success = 0 ORDER BY id")]
    assert reasons == ["bad_password", "unknown_user", "inactive"]


def test_unknown_user_costs_about_as_much_as_a_wrong_password(fresh_server):
    proc = fresh_server(env={"TRUST_PROXY": "1"}).start()
    admin = proc.client()
    admin.post(LOGIN, json={"username": "admin", "password": ADMIN_PASSWORD})
    rounds = 8
    for i in range(rounds):
        assert admin.post("/api/users", json={"username": f"real{i}", "password": "the right password"}).status == 201

    def timed(username, i):
        started = time.perf_counter()
        # One attempt per username and address keeps the rate limiter out of it.
        res = proc.client().post(LOGIN, json={"username": username, "password": "a wrong password"},
                                 headers={"CF-Connecting-IP": f"10.9.0.{i + 1}"})
        assert res.status == 401
        return time.perf_counter() - started

    # Alternate so machine noise hits both alike.
    known, unknown = [], []
    for i in range(rounds):
        known.append(timed(f"real{i}", 2 * i))
        unknown.append(timed(f"ghost{i}", 2 * i + 1))
    median_known, median_unknown = sorted(known)[rounds // 2], sorted(unknown)[rounds // 2]
    assert median_unknown < 2 * median_known and median_known < 2 * median_unknown, (known, unknown)
    assert median_known > 0.005, "argon2 verification seems to be skipped"


def test_instance_endpoint(server, admin, make_user):
    res = admin.get("/api/instance")
    assert res.status == 200
    body = res.json
    assert re.fullmatch(r"[0-9a-f-]{36}", body["instance_id"])
    assert body["data_dir"] == str(server.data_dir) and body["version"] and body["started_at"] > 0
    client, _ = make_user()
    assert client.get("/api/instance").status == 403
    assert server.client().get("/api/instance").status == 401


# --- the env admin ----------------------------------------------------------------

def test_first_start_generates_a_password_printed_once_never_logged(fresh_server, tmp_path):
    data = tmp_path / "gen"
    first = fresh_server(data_dir=data, env={"ADMIN_PASSWORD": ""}).start()
    match = re.search(r"generated password \(shown once, only here\):\s+(\S+)", first.console())
    assert match, first.console()
    password = match.group(1)
    assert len(password) >= 20
    assert first.client().post(LOGIN, json={"username": "admin", "password": password}).status == 200
    first.stop()
    stored = db_rows(data, "SELECT value FROM settings WHERE key = 'admin_password_hash'")[0][0]
    assert stored.startswith("$argon2id$") and password not in stored
    logs = "".join(p.read_text() for p in (data / "logs").iterdir())
    assert password not in logs
    dump = "\n".join(str(r) for r in db_rows(data, "SELECT * FROM settings"))
    assert password not in dump

    second = fresh_server(data_dir=data, env={"ADMIN_PASSWORD": ""}).start()
    assert password not in second.console()
    assert "reset-admin-password" in second.console()
    assert second.client().post(LOGIN, json={"username": "admin", "password": password}).status == 200
    second.stop()


def test_reset_admin_password_prints_a_new_one_and_ends_sessions(fresh_server, tmp_path):
    data = tmp_path / "reset"
    proc = fresh_server(data_dir=data, env={"ADMIN_PASSWORD": ""}).start()
    old = re.search(r"only here\):\s+(\S+)", proc.console()).group(1)
    signed_in = proc.client()
    assert signed_in.post(LOGIN, json={"username": "admin", "password": old}).status == 200
    result = run_cli(["reset-admin-password", "--data-dir", str(data)])
    assert result.returncode == 0, result.stderr
    new = re.search(r"New password for 'admin': (\S+)", result.stdout).group(1)
    assert new != old
    assert signed_in.get("/api/auth/me").status == 401
    fresh = proc.client()
    assert fresh.post(LOGIN, json={"username": "admin", "password": new}).status == 200
    assert proc.client().post(LOGIN, json={"username": "admin", "password": old}).status == 401


def env_admin_source(client):
    return next(u for u in client.get("/api/users").json["users"] if u["id"] == 0)["credential_source"]


def test_the_users_list_says_where_the_admin_password_comes_from(fresh_server, tmp_path):
    data = tmp_path / "source"
    proc = fresh_server(data_dir=data, env={"ADMIN_PASSWORD": ""}).start()
    generated = re.search(r"only here\):\s+(\S+)", proc.console()).group(1)
    admin = proc.client()
    assert admin.post(LOGIN, json={"username": "admin", "password": generated}).status == 200
    assert env_admin_source(admin) == "generated"
    reset = run_cli(["reset-admin-password", "--data-dir", str(data)])
    assert reset.returncode == 0, reset.stderr
    new = re.search(r"New password for 'admin': (\S+)", reset.stdout)
    admin = proc.client()
    assert admin.post(LOGIN, json={"username": "admin", "password": new.group(1)}).status == 200
    assert env_admin_source(admin) == "reset"
    assert admin.put("/api/me/password", json={"current_password": new.group(1),
                                               "new_password": "a brand new passphrase 42"}).status == 200
    assert env_admin_source(admin) == "changed"
    proc.stop()
    from_env = fresh_server(data_dir=data).start()  # ADMIN_PASSWORD set: it wins
    assert env_admin_source(sign_in(from_env)) == "environment"


def test_reset_admin_password_without_a_database_says_so(tmp_path):
    result = run_cli(["reset-admin-password", "--data-dir", str(tmp_path / "none")])
    assert result.returncode == 2 and "no Toru database" in result.stderr
    assert not (tmp_path / "none" / "toru.db").exists()


def test_admin_password_env_wins_over_the_stored_hash(fresh_server, tmp_path):
    data = tmp_path / "wins"
    first = fresh_server(data_dir=data, env={"ADMIN_PASSWORD": ""}).start()
    generated = re.search(r"only here\):\s+(\S+)", first.console()).group(1)
    first.stop()
    second = fresh_server(data_dir=data, env={"ADMIN_PASSWORD": "env chosen password 1"}).start()
    assert second.client().post(LOGIN, json={"username": "admin", "password": "env chosen password 1"}).status == 200
    assert second.client().post(LOGIN, json={"username": "admin", "password": generated}).status == 401


def test_admin_username_and_display_name_from_env(fresh_server):
    proc = fresh_server(env={"ADMIN_USERNAME": "root-op", "ADMIN_DISPLAY_NAME": "Operator"}).start()
    res = proc.client().post(LOGIN, json={"username": "root-op", "password": ADMIN_PASSWORD})
    assert res.status == 200 and res.json["user"]["display_name"] == "Operator"


# --- own password -----------------------------------------------------------------

def test_change_own_password_ends_other_sessions_keeps_this_one(server, make_user):
    me, user = make_user(password="first password here")
    other = server.client()
    assert other.post(LOGIN, json={"username": user["username"], "password": "first password here"}).status == 200
    res = me.put("/api/me/password", json={"current_password": "first password here",
                                           "new_password": "second password here"})
    assert res.status == 200
    assert me.get("/api/auth/me").status == 200
    assert other.get("/api/auth/me").status == 401
    assert server.client().post(LOGIN, json={"username": user["username"],
                                             "password": "second password here"}).status == 200


@pytest.mark.parametrize("body,status,fragment", [
    ({"current_password": "not my password!", "new_password": "second password here"}, 403, "Current password"),
    ({"current_password": "first password here", "new_password": "short"}, 400, "at least 12"),
    ({"current_password": "first password here", "new_password": "x" * 257}, 400, "at most 256"),
    ({"current_password": "first password here"}, 400, "required"),
])
def test_change_own_password_refusals_change_nothing(server, make_user, body, status, fragment):
    me, user = make_user(password="first password here")
    res = me.put("/api/me/password", json=body)
    assert res.status == status and fragment in res.json["error"]
    assert server.client().post(LOGIN, json={"username": user["username"],
                                             "password": "first password here"}).status == 200


def test_me_says_whether_the_password_comes_from_the_environment(admin, make_user):
    assert admin.get("/api/auth/me").json["user"]["password_from_env"] is True
    client, _ = make_user()
    assert client.get("/api/auth/me").json["user"]["password_from_env"] is False


def test_env_admin_with_admin_password_cannot_change_it_here(admin):
    res = admin.put("/api/me/password", json={"current_password": ADMIN_PASSWORD,
                                              "new_password": "a brand new password"})
    assert res.status == 409 and "ADMIN_PASSWORD" in res.json["error"]


def test_generated_admin_password_can_be_changed(fresh_server):
    proc = fresh_server(env={"ADMIN_PASSWORD": ""}).start()
    generated = re.search(r"only here\):\s+(\S+)", proc.console()).group(1)
    c = proc.client()
    c.post(LOGIN, json={"username": "admin", "password": generated})
    assert c.put("/api/me/password", json={"current_password": generated,
                                           "new_password": "my own long password"}).status == 200
    assert proc.client().post(LOGIN, json={"username": "admin", "password": "my own long password"}).status == 200


# --- login history ------------------------------------------------------------------

def test_login_history_newest_first_filtered_and_paged(fresh_server):
    proc = fresh_server().start()
    admin = proc.client()
    proc.client().post(LOGIN, json={"username": "ghost", "password": "wrong guess one"})
    admin.post(LOGIN, json={"username": "admin", "password": ADMIN_PASSWORD})
    res = admin.get("/api/auth/login-history")
    assert res.status == 200
    attempts = res.json["attempts"]
    assert [(a["username"], a["success"]) for a in attempts[:2]] == [("admin", True), ("ghost", False)]
    assert attempts[0]["ip"] == "127.0.0.1" and "reason" in attempts[0]
    failed = admin.get("/api/auth/login-history?success=false").json["attempts"]
    assert [a["username"] for a in failed] == ["ghost"]
    assert [a["username"] for a in admin.get("/api/auth/login-history?username=ghost").json["attempts"]] == ["ghost"]
    page = admin.get("/api/auth/login-history?page=1&page_size=1").json
    assert page["page"] == 1 and len(page["attempts"]) == 1 and page["attempts"][0]["username"] == "ghost"
    for bad in ["page=-1", "page_size=0", "page_size=x", "success=maybe"]:
        assert admin.get(f"/api/auth/login-history?{bad}").status == 400


def test_rehash_on_login_when_parameters_change(fresh_server):
    import argon2
    proc = fresh_server().start()
    admin = proc.client()
    admin.post(LOGIN, json={"username": "admin", "password": ADMIN_PASSWORD})
    uid = admin.post("/api/users", json={"username": "legacy", "password": "an older stored secret"}).json["user"]["id"]
    weak = argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("an older stored secret")
    conn = sqlite3.connect(proc.data_dir / "toru.db")
    conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", (weak, uid))
    conn.commit()
    conn.close()
    assert proc.client().post(LOGIN, json={"username": "legacy", "password": "an older stored secret"}).status == 200
    (stored,) = db_rows(proc.data_dir, "SELECT password_hash FROM users WHERE id = ?", (uid,))[0]
    assert stored != weak and not argon2.PasswordHasher().check_needs_rehash(stored)


def test_audit_lines_name_the_actor_and_never_the_secret(fresh_server):
    proc = fresh_server().start()
    admin = proc.client()
    admin.post(LOGIN, json={"username": "admin", "password": ADMIN_PASSWORD})
    admin.post("/api/users", json={"username": "audited", "password": "a secret for audit"})
    proc.client().post(LOGIN, json={"username": "audited", "password": "the wrong secret!"})
    admin.post("/api/auth/logout")
    proc.stop()
    import json as json_mod
    lines = [json_mod.loads(l) for l in (proc.data_dir / "logs" / "toru.log").read_text().splitlines()]
    audit = [(l["message"], l.get("username") or l.get("target")) for l in lines if l["logger"] == "toru.audit"]
    assert ("login", "admin") in audit and ("user created", "audited") in audit
    assert ("login failed", "audited") in audit and ("logout", "admin") in audit
    text = (proc.data_dir / "logs" / "toru.log").read_text()
    for secret in (ADMIN_PASSWORD, "a secret for audit", "the wrong secret!"):
        assert secret not in text


def test_expired_sessions_are_removed_at_start(fresh_server, tmp_path):
    data = tmp_path / "expiry"
    first = fresh_server(data_dir=data).start()
    c = first.client()
    c.post(LOGIN, json={"username": "admin", "password": ADMIN_PASSWORD})
    first.stop()
    conn = sqlite3.connect(data / "toru.db")
    conn.execute("UPDATE sessions SET expires_at = 1")
    conn.commit()
    conn.close()
    second = fresh_server(data_dir=data).start()
    from helpers import wait_for
    wait_for(lambda: db_rows(data, "SELECT count(*) FROM sessions")[0][0] == 0, timeout=10,
             message="expired sessions cleaned at start")
    assert second.client().get("/api/auth/me").status == 401
