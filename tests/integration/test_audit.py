"""The audit trail (docs/security.md#audit-trail) through a real server:
a row for every state-changing route read from the route table, sign-in
and lock-out rows, WebSocket and scheduled runs, no secret anywhere in the
database, `audit verify` before and after tampering and pruning, exports,
filters and who may read it."""

import csv
import io
import json
import re
import sqlite3
import time

import pytest

from helpers import ADMIN_PASSWORD, TaskSocket, app_routes, run_cli, sign_in, token_client, wait_for, write_script

USER_PASSWORD = "audit-user-pass-7e1d"
RESET_PASSWORD = "audit-reset-pass-93kq"
NEW_OWN_PASSWORD = "audit-own-new-pass-x2v8"
PIN = "pin-value-hunter-5521"


@pytest.fixture(scope="module")
def route_table():
    """(method, sample path, declared action) of every route that can change state."""
    from toru.accounts.audit_capture import writes
    return [("POST" if route.method == "ANY" else route.method, path, route.config["audit"])
            for route, path in app_routes(sample_int="999") if writes(route)]


def rows(client, **query):
    res = client.get("/api/audit?page_size=200&" + "&".join(f"{k}={v}" for k, v in query.items()))
    assert res.status == 200, res
    return res.json["entries"]


def newest_id(client):
    found = rows(client, page_size=1)
    return found[0]["id"] if found else 0


def rows_after(client, since_id):
    return [r for r in rows(client) if r["id"] > since_id]


def test_every_state_changing_route_writes_one_row_with_its_action(server, route_table):
    admin = sign_in(server)
    # Another admin reads the rows: the calls below end the env admin's other sessions.
    assert admin.post("/api/users", json={"username": "auditor", "password": USER_PASSWORD,
                                          "role": "admin"}).status == 201
    reader = sign_in(server, "auditor", USER_PASSWORD)
    assert len(route_table) > 35
    # Sign-out last: everything before it runs signed in.
    for method, path, action in sorted(route_table, key=lambda r: r[2] == "auth.logout"):
        before = newest_id(reader)
        res = admin.request(method, path, json_body={})
        new = rows_after(reader, before)
        assert len(new) == 1, (method, path, res, new)
        row = new[0]
        expected = "auth.login_failed" if action == "auth.login" and res.status != 200 else action
        assert row["action"] == expected, (method, path, res, row)
        assert row["details"]["method"] == method and row["details"]["path"] == path
        assert row["details"]["status"] == res.status
        assert row["actor"] in ("user:admin", "anonymous"), row
        if res.status < 400:
            assert row["outcome"] == "ok"


def test_a_route_without_an_action_stops_the_start(tmp_path, monkeypatch):
    from toru import app as app_mod
    from toru.config import Config

    class Forgetful:
        @staticmethod
        def register(app, services):
            app.post("/api/forgotten", role="admin", callback=lambda: {"success": True})

    monkeypatch.setattr(app_mod, "ROUTE_MODULES", app_mod.ROUTE_MODULES[:-1] + [Forgetful, app_mod.ui])
    with pytest.raises(RuntimeError, match=r"without a valid audit= action: POST /api/forgotten"):
        app_mod.create_app(Config(data_dir=tmp_path, admin_password="x" * 16))


def test_sign_in_failures_and_lock_out_are_recorded(server, admin):
    name = f"lock{int(time.time() * 1000) % 100000}"
    assert admin.post("/api/users", json={"username": name, "password": USER_PASSWORD}).status == 201
    before = newest_id(admin)
    visitor = server.client()
    assert visitor.post("/api/auth/login", json={"username": name, "password": USER_PASSWORD}).status == 200
    statuses = [visitor.post("/api/auth/login", json={"username": name, "password": "wrong-" + str(i)}).status
                for i in range(4)]
    assert statuses[-1] == 429, statuses
    new = sorted(rows_after(admin, before), key=lambda r: r["id"])
    assert [(r["action"], r["outcome"]) for r in new] == [("auth.login", "ok")] + \
        [("auth.login_failed", "denied")] * 4
    assert new[0]["actor"] == f"user:{name}" and new[0]["target"] == name
    failed = new[1]
    assert failed["actor"] == "anonymous" and failed["target"] == name and failed["ip"] == visitor.ip
    assert failed["details"]["log"][0]["reason"] == "bad_password"
    assert failed["details"]["values"] == {"username": name}
    assert any("locked_until" in r["details"] for r in new[1:4]), new  # the failure that started the lock-out
    assert new[-1]["details"]["status"] == 429


def test_token_requests_name_the_token(server, admin):
    secret = admin.post("/api/tokens", json={"name": "audit-ci", "scopes": ["admin"]}).json["secret"]
    token_id = rows(admin, action="token.create")[0]["target"]
    script = token_client(server, secret)
    assert script.put("/api/settings", json={"audit_retention_days": 400}).status == 200
    row = rows(admin, action="settings.update")[0]
    assert (row["actor"], row["details"]["as_user"], row["outcome"]) == (f"token:{token_id}", "admin", "ok")
    assert row["details"]["fields"] == ["audit_retention_days"]
    # A refused token on a read is a row of its own; the secret is not in it.
    bogus = token_client(server, "toru_" + "A" * 43)
    assert bogus.get("/api/settings").status == 401
    refused = rows(admin, action="auth.token_refused")[0]
    assert refused["outcome"] == "denied" and refused["ip"] == bogus.ip
    assert admin.put("/api/settings", json={"audit_retention_days": 365}).status == 200


def test_websocket_and_scheduled_runs_are_recorded(server, admin):
    write_script(server, "quiet.sh", "#!/bin/sh\necho done\n")
    socket = TaskSocket(server, admin)
    try:
        started = socket.run("quiet.sh")
        socket.output_until_exit(started["task_id"])
    finally:
        socket.close()
    run = wait_for(lambda: [r for r in rows(admin, action="task.run") if r["target"] == started["task_id"]],
                   message="the WebSocket run's row")[0]
    assert run["actor"] == "user:admin" and run["details"]["script"] == "quiet.sh"
    action = admin.post("/api/quick-actions", json={"name": "Quiet", "script": "quiet.sh"}).json["quick_action"]
    schedule = admin.post("/api/schedules", json={"name": "every-second", "quick_action_id": action["id"],
                                                  "cron": "* * * * * *", "timezone": "UTC"}).json["schedule"]
    try:
        found = wait_for(lambda: rows(admin, actor=f"schedule:{schedule['id']}"), timeout=10,
                         message="a scheduled run's row")
    finally:
        admin.put(f"/api/schedules/{schedule['id']}", json={"enabled": False})
    assert found[0]["action"] in ("task.run", "schedule.skip")
    assert any(r["action"] == "task.run" and r["target"] for r in found)


def totp_code(secret):
    from toru.accounts import totp
    return totp.hotp(totp.secret_key(secret), totp.step_at(time.time()))


def test_no_password_token_or_second_factor_secret_in_any_row(server, admin):
    """Every secret this test uses is sent through a recorded route, then
    looked for in the raw database file, its WAL and every audit row."""
    name = f"sec{int(time.time() * 1000) % 100000}"
    res = admin.post("/api/users", json={"username": name, "password": USER_PASSWORD, "role": "admin"})
    user_id = res.json["user"]["id"]
    assert admin.post(f"/api/users/{user_id}/password", json={"password": RESET_PASSWORD}).status == 200
    user = sign_in(server, name, RESET_PASSWORD)
    assert user.put("/api/me/password", json={"current_password": RESET_PASSWORD,
                                              "new_password": NEW_OWN_PASSWORD}).status == 200
    setup = user.post("/api/me/2fa/setup").json
    code = totp_code(setup["secret"])
    assert user.post("/api/me/2fa/enable", json={"code": code}).status == 200
    assert user.post("/api/me/2fa/disable", json={"password": NEW_OWN_PASSWORD, "code": "000000"}).status == 403
    secret = user.post("/api/tokens", json={"name": "leak-check", "scopes": ["admin"]}).json["secret"]
    write_script(server, "pin.sh", "#!/bin/sh\ntest -n \"$1\"\n")
    action = admin.post("/api/quick-actions", json={
        "name": "Pin", "script": "pin.sh", "arguments": [{"name": "pin", "type": "password"}]}).json["quick_action"]
    res = token_client(server, secret).post(f"/api/quick-actions/{action['id']}/execute",
                                            json={"arguments": {"pin": PIN}})
    assert res.status in (200, 201, 202), res
    assert server.client().post("/api/auth/login", json={"username": name, "password": NEW_OWN_PASSWORD + "x"}
                                ).status == 401

    everything = json.dumps(rows(admin))
    for value in (ADMIN_PASSWORD, USER_PASSWORD, RESET_PASSWORD, NEW_OWN_PASSWORD, NEW_OWN_PASSWORD + "x",
                  secret, PIN, setup["secret"]):
        assert value not in everything, value
    codes = re.findall(r'"code": "([^"]*)"', everything)
    assert code not in codes and "000000" not in codes
    raw = b"".join(path.read_bytes() for path in server.data_dir.glob("toru.db*"))
    for value in (ADMIN_PASSWORD, USER_PASSWORD, RESET_PASSWORD, NEW_OWN_PASSWORD, secret, PIN):
        assert value.encode() not in raw, value
    assert {"user.create", "user.password_reset", "account.password_change", "account.2fa_enable",
            "account.2fa_disable", "token.create", "task.run"} <= {r["action"] for r in rows(admin)}


def test_filters_paging_and_refusals(server, admin, make_user):
    client, user = make_user()
    assert client.get("/api/audit").status == 403
    assert client.get("/api/audit/export?format=csv").status == 403
    mine = rows(admin, actor=user["username"])
    assert mine and all(r["actor"] == f"user:{user['username']}" for r in mine)
    users = rows(admin, action="user")
    assert users and all(r["action"].startswith("user.") for r in users)
    assert all(r["outcome"] == "denied" for r in rows(admin, outcome="denied"))
    assert rows(admin, since="2999-01-01") == []
    assert rows(admin, until="2000-01-01T00:00:00Z") == []
    assert len(rows(admin, since=str(int(time.time()) - 3600))) > 0
    two = admin.get("/api/audit?page=0&page_size=2").json
    assert len(two["entries"]) == 2 and two["total"] > 2
    for query, word in [("since=yesterday", "RFC 3339"), ("outcome=maybe", "outcome"), ("page=-1", "page"),
                        ("since=2030-01-01&until=2020-01-01", "later")]:
        res = admin.get(f"/api/audit?{query}")
        assert res.status == 400 and word in res.json["error"], (query, res)


def test_exports_carry_the_rows_and_their_hashes(server, admin):
    from toru.accounts.audit import row_hash
    res = admin.get("/api/audit/export?format=csv&action=user")
    assert res.status == 200 and res.header("Content-Type").startswith("text/csv")
    assert re.match(r'attachment; filename="toru-audit-\d{8}-\d{6}\.csv"', res.header("Content-Disposition"))
    table = list(csv.DictReader(io.StringIO(res.text)))
    assert table and all(r["action"].startswith("user.") for r in table)
    assert list(table[0]) == ["id", "at", "actor", "ip", "action", "target", "outcome", "details", "prev_hash",
                              "hash"]
    res = admin.get("/api/audit/export?format=json")
    assert res.status == 200 and res.header("Content-Disposition").endswith('.json"')
    entries = res.json["entries"]
    assert [e["id"] for e in entries] == sorted(e["id"] for e in entries)
    for entry in entries:  # the hash can be checked from the export alone (docs/security.md)
        stored = dict(entry, details=json.dumps(entry["details"], sort_keys=True, ensure_ascii=False))
        assert row_hash(stored) == entry["hash"], entry
    assert admin.get("/api/audit/export?format=xml").status == 400


def verify(server):
    result = run_cli(["audit", "verify", "--data-dir", str(server.data_dir)])
    return result.returncode, result.stdout + result.stderr


def test_verify_catches_edits_and_gaps_and_survives_pruning(fresh_server):
    from toru.accounts.audit import AuditTrail
    from toru.settings import Settings
    from toru.store import Store
    server = fresh_server(env={"TRUST_PROXY": "1"}).start()
    admin = sign_in(server)
    for n in range(4):
        admin.put("/api/settings", json={"retention_days": 90 + n})
    code, out = verify(server)
    assert code == 0 and re.match(r"OK: \d+ rows, chain intact, head [0-9a-f]{64}", out), out
    assert admin.get("/api/audit/verify").json["ok"] is True

    db = sqlite3.connect(server.data_dir / "toru.db", timeout=5)
    ids = [r[0] for r in db.execute("SELECT id FROM audit_log ORDER BY id")]
    middle = ids[len(ids) // 2]
    original = db.execute("SELECT details FROM audit_log WHERE id = ?", (middle,)).fetchone()[0]
    with db:
        db.execute("UPDATE audit_log SET details = '{}' WHERE id = ?", (middle,))
    code, out = verify(server)
    assert code == 1 and f"row {middle}: altered (hash mismatch)" in out, out
    assert admin.get("/api/audit/verify").json["message"] == f"row {middle}: altered (hash mismatch)"
    with db:
        db.execute("UPDATE audit_log SET details = ? WHERE id = ?", (original, middle))
    assert verify(server)[0] == 0
    with db:
        db.execute("DELETE FROM audit_log WHERE id = ?", (middle,))
    code, out = verify(server)
    assert code == 1 and f"row {middle}: missing (gap in ids)" in out, out
    db.close()

    # Retention: everything is older than the cut-off a year and more from now;
    # the checkpoint left in its place starts the chain.
    store = Store(server.data_dir / "toru.db")
    try:
        pruned = AuditTrail(store, Settings(store, server.data_dir)).prune(now=time.time() + 400 * 86400)
    finally:
        store.close()
    assert pruned >= len(ids) - 1
    assert verify(server)[0] == 0
    admin.put("/api/settings", json={"retention_days": 90})
    code, out = verify(server)
    assert code == 0 and out.startswith("OK: 2 rows"), out
    checkpoint = rows(admin, action="audit.checkpoint")[0]
    assert checkpoint["actor"] == "system" and checkpoint["details"]["pruned_rows"] == pruned
