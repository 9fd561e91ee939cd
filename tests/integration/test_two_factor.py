"""Two-factor sign-in on a real server: setting it up and down, the two-step
sign-in, the ±1 step window, replays, recovery codes, lock-out on wrong
codes, the env admin's second factor across a restart, require_2fa_for_admins
and an admin's reset (docs/security.md#two-factor-sign-in).

Codes come from the secret the server gave, with toru's own TOTP function,
for the current time: `fresh_step` first waits (by computing, not guessing)
until enough of the 30-second step is left that the server sees the same
step for the rest of the test."""

import json
import sqlite3

import pytest
from websocket import WebSocketBadStatusException

from helpers import (ADMIN_PASSWORD, fresh_totp_step, run_cli, sign_in, token_client, totp_code, wait_for,
                     ws_connect)

LOGIN = "/api/auth/login"
PASSWORD = "correct horse battery staple"


def login(server, username, password=PASSWORD, **extra):
    c = server.client()
    return c, c.post(LOGIN, json={"username": username, "password": password, **extra})


def turn_on(client, offset=-1):
    """Set up and enable 2FA for `client`'s user with the code of the step
    `offset` from now (-1 leaves the current and next steps for sign-ins).
    Returns (secret, recovery codes, step)."""
    setup = client.post("/api/me/2fa/setup").json
    step = fresh_totp_step()
    res = client.post("/api/me/2fa/enable", json={"code": totp_code(setup["secret"], step + offset)})
    assert res.status == 200, res
    return setup["secret"], res.json["recovery_codes"], step


def db(server, sql, params=()):
    conn = sqlite3.connect(server.data_dir / "toru.db")
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def audit_lines(server):
    lines = [json.loads(line) for line in (server.data_dir / "logs" / "toru.log").read_text().splitlines()]
    return [(line["message"], line.get("actor"), line.get("target") or line.get("username"))
            for line in lines if line["logger"] == "toru.audit"]


def test_setup_enable_and_the_two_step_sign_in(server, make_user):
    client, user = make_user()
    assert client.get("/api/me/2fa").json == {"enabled": False, "enabled_at": None, "recovery_codes_left": 0,
                                              "required": False}
    setup = client.post("/api/me/2fa/setup")
    assert setup.status == 200
    secret = setup.json["secret"]
    assert len(secret) == 32 and setup.json["otpauth_uri"] == (
        f"otpauth://totp/Toru:{user['username']}?secret={secret}&issuer=Toru")
    assert setup.json["qr_svg"].startswith("<svg") and "<script" not in setup.json["qr_svg"]
    # A setup not yet confirmed changes nothing at sign-in.
    assert login(server, user["username"])[1].status == 200

    step = fresh_totp_step()
    wrong = client.post("/api/me/2fa/enable", json={"code": totp_code(secret, step + 3)})
    assert wrong.status == 400 and "code" in wrong.json["fields"]
    res = client.post("/api/me/2fa/enable", json={"code": totp_code(secret, step - 1)})
    assert res.status == 200
    recovery = res.json["recovery_codes"]
    assert len(recovery) == 10 and len(set(recovery)) == 10
    assert client.get("/api/me/2fa").json["enabled"] is True
    assert client.get("/api/auth/me").json["user"]["totp_enabled"] is True
    assert client.post("/api/me/2fa/setup").status == 409

    # Step one: the right password alone opens nothing.
    c, res = login(server, user["username"])
    assert res.status == 401 and res.json["totp_required"] is True and res.json["error"]
    assert res.headers["set-cookie-list"] == [] and c.get("/api/auth/me").status == 401
    # A wrong password never says whether a code is needed, with or without one.
    for extra in ({}, {"code": totp_code(secret, step)}):
        res = login(server, user["username"], "a wrong password!!", **extra)[1]
        assert res.status == 401 and "totp_required" not in res.json
    # Step two: password and code.
    c, res = login(server, user["username"], code=totp_code(secret, step))
    assert res.status == 200 and res.json["user"]["username"] == user["username"]
    assert c.get("/api/auth/me").status == 200
    # Stored: the secret (codes are checked against it), never a recovery code.
    dump = str(db(server, "SELECT * FROM two_factor_recovery")) + str(db(server, "SELECT * FROM two_factor"))
    assert secret in dump and not any(r.replace("-", "") in dump.replace("-", "") for r in recovery)


def test_one_step_either_side_and_no_replay(server, make_user):
    client, user = make_user()
    secret, _, step = turn_on(client, offset=-1)  # the enable spent step - 1
    name = user["username"]
    res = login(server, name, code=totp_code(secret, step - 1))[1]
    assert res.status == 401 and "already used" in res.json["error"]
    assert login(server, name, code=totp_code(secret, step - 2))[1].status == 401  # outside the window
    assert login(server, name, code=totp_code(secret, step))[1].status == 200
    res = login(server, name, code=totp_code(secret, step))[1]
    assert res.status == 401 and res.json["totp_required"] is True  # the same code twice
    assert login(server, name, code=totp_code(secret, step + 2))[1].status == 401  # outside the window
    assert login(server, name, code=totp_code(secret, step + 1))[1].status == 200  # the next step: 30 s ahead
    # Once a later step was used, an earlier one is refused even inside the window.
    assert login(server, name, code=totp_code(secret, step))[1].status == 401
    reasons = [r for (r,) in db(server, "SELECT reason FROM login_attempts WHERE username = ? ORDER BY id", (name,))]
    assert reasons[-7:] == ["reused_code", "bad_code", "ok", "reused_code", "bad_code", "ok", "reused_code"]


def test_recovery_codes_work_once_and_can_be_replaced(server, make_user):
    client, user = make_user()
    secret, recovery, step = turn_on(client)
    name = user["username"]
    res = login(server, name, code=recovery[0])[1]
    assert res.status == 200 and res.json["recovery_codes_left"] == 9
    assert login(server, name, code=recovery[0])[1].status == 401
    # As typed from paper: upper case, spaces instead of dashes.
    assert login(server, name, code=" " + recovery[1].upper().replace("-", " "))[1].status == 200
    assert client.get("/api/me/2fa").json["recovery_codes_left"] == 8

    assert client.post("/api/me/2fa/recovery-codes", json={"code": "123"}).status == 403
    res = client.post("/api/me/2fa/recovery-codes", json={"code": totp_code(secret, step)})
    assert res.status == 200 and len(res.json["recovery_codes"]) == 10
    assert login(server, name, code=recovery[2])[1].status == 401  # the old ones are gone
    assert login(server, name, code=res.json["recovery_codes"][0])[1].status == 200


def test_wrong_codes_lock_the_user_out_and_code_requests_do_not_count(server, make_user):
    client, user = make_user()
    secret, _, step = turn_on(client)
    name = user["username"]
    for _ in range(5):  # right password, no code: step one, not a failure
        res = login(server, name)[1]
        assert res.status == 401 and res.json["totp_required"] and "retry_after" not in res.json
    assert login(server, name, code="000000" if totp_code(secret, step) != "000000" else "111111")[1].status == 401
    assert login(server, name, code="not-a-recovery-code")[1].status == 401
    # Nor does step one reset the count: the third wrong code starts the lock.
    assert "retry_after" not in login(server, name)[1].json
    res = login(server, name, code=totp_code(secret, step + 5))[1]
    assert res.status == 401 and res.json["totp_required"] and 55 <= res.json["retry_after"] <= 60
    res = login(server, name, code=totp_code(secret, step))[1]  # the right code, from yet another address
    assert res.status == 429 and res.header("retry-after")
    assert login(server, name)[1].status == 429


def test_disable_needs_the_password_and_a_code(server, make_user):
    client, user = make_user()
    secret, recovery, step = turn_on(client)
    res = client.post("/api/me/2fa/disable", json={"password": "not my password!", "code": totp_code(secret, step)})
    assert res.status == 403 and "password" in res.json["fields"]
    res = client.post("/api/me/2fa/disable", json={"password": PASSWORD, "code": "999999"})
    assert res.status == 403 and "code" in res.json["fields"]
    assert client.post("/api/me/2fa/disable", json={"password": PASSWORD}).status == 400
    # The right code was not spent by the wrong-password try: it works now.
    assert client.post("/api/me/2fa/disable", json={"password": PASSWORD, "code": totp_code(secret, step)}).status == 200
    assert client.get("/api/me/2fa").json["enabled"] is False
    assert login(server, user["username"])[1].status == 200
    # A recovery code may stand in for the app (the phone is gone).
    _, recovery, _ = turn_on(client)
    assert client.post("/api/me/2fa/disable", json={"password": PASSWORD, "code": recovery[3]}).status == 200


def test_enabling_ends_your_other_sessions_and_tokens_are_unaffected(server, make_user):
    client, user = make_user()
    other = login(server, user["username"])[0]
    token = token_client(server, client.post("/api/tokens", json={"name": "ci", "scopes": ["read"]}).json["secret"])
    turn_on(client)
    assert other.get("/api/auth/me").status == 401
    assert client.get("/api/auth/me").status == 200
    assert token.get("/api/auth/me").status == 200  # a token is a credential of its own


def test_admin_resets_someone_elses_second_factor(server, admin, make_user):
    client, user = make_user()
    turn_on(client)
    listed = {u["username"]: u["totp_enabled"] for u in admin.get("/api/users").json["users"]}
    assert listed[user["username"]] is True and listed["admin"] is False
    assert client.delete(f"/api/users/{user['id']}/2fa").status == 403  # admins only
    assert admin.delete("/api/users/99999/2fa").status == 404
    assert admin.delete(f"/api/users/{user['id']}/2fa").status == 200
    assert client.get("/api/auth/me").status == 401  # the lost device's session ended
    assert login(server, user["username"])[1].status == 200
    assert admin.delete(f"/api/users/{user['id']}/2fa").status == 409  # nothing left to reset
    assert admin.delete("/api/users/0/2fa").status == 409  # yourself: use My account
    wait_for(lambda: ("2fa reset", "admin", user["username"]) in audit_lines(server), message="audit line")


def test_env_admin_second_factor_lives_in_the_database(fresh_server, tmp_path):
    data = tmp_path / "envadmin"
    first = fresh_server(data_dir=data).start()
    admin = sign_in(first)
    secret, recovery, step = turn_on(admin)
    assert db(first, "SELECT user_id, username FROM two_factor") == [(None, "admin")]
    first.stop()

    second = fresh_server(data_dir=data).start()
    res = second.client().post(LOGIN, json={"username": "admin", "password": ADMIN_PASSWORD})
    assert res.status == 401 and res.json["totp_required"] is True
    c = second.client()
    assert c.post(LOGIN, json={"username": "ADMIN", "password": ADMIN_PASSWORD, "code": totp_code(secret, step)}).status == 200
    me = c.get("/api/auth/me").json["user"]
    assert me["totp_enabled"] is True and me["id"] == 0
    assert c.get("/api/users").json["users"][0]["totp_enabled"] is True
    text = (data / "logs" / "toru.log").read_text()
    assert secret not in text and not any(r in text for r in recovery) and ADMIN_PASSWORD not in text
    # Lost phone and codes, no other admin: the server's shell turns it off (while Toru runs).
    reset = run_cli(["--data-dir", str(data), "reset-two-factor", "--user", "admin"])
    assert reset.returncode == 0 and "is off" in reset.stdout, reset.stderr
    assert c.get("/api/auth/me").status == 401  # signed out
    assert second.client().post(LOGIN, json={"username": "admin", "password": ADMIN_PASSWORD}).status == 200
    nobody = run_cli(["--data-dir", str(data), "reset-two-factor", "--user", "nobody"])
    assert nobody.returncode == 2 and "no active user 'nobody'" in nobody.stderr


def test_require_2fa_for_admins(fresh_server):
    proc = fresh_server(env={"TRUST_PROXY": "1"}).start()
    admin = sign_in(proc)
    token = token_client(proc, admin.post("/api/tokens", json={"name": "ops", "scopes": ["admin"]}).json["secret"])
    assert admin.post("/api/users", json={"username": "carla", "password": PASSWORD}).status == 201
    assert admin.put("/api/settings", json={"require_2fa_for_admins": "yes"}).status == 400
    res = admin.put("/api/settings", json={"require_2fa_for_admins": True})
    assert res.status == 200 and res.json["settings"]["require_2fa_for_admins"] is True

    # The admin (without 2FA) may now only find out who it is and set it up.
    res = admin.get("/api/users")
    assert res.status == 403 and res.json["totp_setup_required"] is True
    assert admin.post("/api/users", json={"username": "dan", "password": PASSWORD}).status == 403
    assert admin.get("/api/settings").status == 403
    assert admin.get("/api/auth/me").json["user"]["totp_setup_required"] is True
    assert admin.get("/api/auth/session").json["user"]["totp_setup_required"] is True
    assert admin.get("/api/me/2fa").json["required"] is True
    again = proc.client()
    res = again.post(LOGIN, json={"username": "admin", "password": ADMIN_PASSWORD})
    assert res.status == 200 and res.json["totp_setup_required"] is True
    assert again.get("/api/resources").status == 403
    # Nor over the WebSocket: the upgrade itself is refused.
    with pytest.raises(WebSocketBadStatusException) as refused:
        ws_connect(proc, again)
    assert refused.value.status_code == 403 and b"two-factor" in refused.value.resp_body
    # Clients and tokens are not held.
    carla = sign_in(proc, "carla", PASSWORD)
    assert carla.get("/api/resources").status == 200
    assert carla.get("/api/auth/me").json["user"]["totp_setup_required"] is False
    assert token.get("/api/users").status == 200
    res = token.post("/api/me/2fa/setup")  # an admin-scope token still cannot bind a second factor
    assert res.status == 403 and "browser" in res.json["error"]

    secret, _, step = turn_on(admin)
    assert admin.get("/api/users").status == 200
    assert admin.get("/api/auth/me").json["user"]["totp_setup_required"] is False
    c = proc.client()
    res = c.post(LOGIN, json={"username": "admin", "password": ADMIN_PASSWORD, "code": totp_code(secret, step)})
    assert res.status == 200 and "totp_setup_required" not in res.json
    assert c.get("/api/settings").json["settings"]["require_2fa_for_admins"] is True
