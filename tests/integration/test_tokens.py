"""API tokens on the real server: shown once and stored hashed, revoked and
expired at once, never more than the owner, scopes checked against the
whole route table, no Origin needed, brute force counted, and the CLI."""

import re
import sqlite3
import time

import pytest

from helpers import app_routes, run_cli, sign_in, token_client, write_script


def make_token(client, *scopes, name="t", **extra):
    res = client.post("/api/tokens", json={"name": name, "scopes": list(scopes), **extra})
    assert res.status == 201, res
    return res.json["secret"], res.json["token"]


def sql(server, query, params=()):
    db = sqlite3.connect(server.data_dir / "toru.db", timeout=5)
    try:
        with db:
            return db.execute(query, params).fetchall()
    finally:
        db.close()


@pytest.fixture(scope="module")
def route_table():
    """Every route of the app, as (method, path with sample values, role, scope)."""
    return [(route.method, path, route.config["role"], route.config.get("scope")) for route, path in app_routes()]


def test_the_secret_is_shown_once_and_only_its_hash_is_stored(server, admin):
    secret, token = make_token(admin, "read", name="ci")
    assert re.fullmatch(r"toru_[A-Za-z0-9_-]{43}", secret)
    assert token["prefix"] == secret[:8] and "secret" not in token
    listed = admin.get("/api/tokens").json["tokens"]
    assert any(t["id"] == token["id"] for t in listed)
    assert secret not in admin.get("/api/tokens").text
    for name in ("toru.db", "toru.db-wal"):
        path = server.data_dir / name
        if path.exists():
            assert secret.encode() not in path.read_bytes()
    me = token_client(server, secret).get("/api/auth/me")
    assert me.status == 200 and me.json["user"]["username"] == "admin"
    assert "set-cookie" not in me.headers  # a token never makes a session
    used = next(t for t in admin.get("/api/tokens").json["tokens"] if t["id"] == token["id"])
    assert used["last_used_at"] is not None and used["last_used_ip"]


def test_revoking_refuses_the_token_at_once(server, admin):
    secret, token = make_token(admin, "read")
    script = token_client(server, secret)
    assert script.get("/api/auth/me").status == 200
    assert admin.delete(f"/api/tokens/{token['id']}").json == {"success": True}
    res = script.get("/api/auth/me")
    assert res.status == 401 and "Invalid API token" in res.json["error"]
    assert admin.delete(f"/api/tokens/{token['id']}").status == 404
    _, after = make_token(admin, "read")
    assert after["id"] > token["id"]  # ids are never reused: the log names tokens by id


def test_expiry_is_checked_on_every_request(server, admin):
    res = admin.post("/api/tokens", json={"name": "old", "scopes": ["read"], "expires_at": "2020-01-01"})
    assert res.status == 400 and res.json["fields"]["expires_at"] == "Must be in the future"
    secret, token = make_token(admin, "read", expires_at="2099-12-31")
    assert token["expires_at"] == pytest.approx(4102444799)  # through the end of that day, UTC
    script = token_client(server, secret)
    assert script.get("/api/auth/me").status == 200
    sql(server, "UPDATE api_tokens SET expires_at = ? WHERE id = ?", (time.time() - 1, token["id"]))
    assert script.get("/api/auth/me").status == 401


def test_a_token_dies_with_its_owner_and_never_exceeds_their_role(server, admin, make_user):
    client, user = make_user()
    res = client.post("/api/tokens", json={"name": "x", "scopes": ["admin"]})
    assert res.status == 400 and "Only an admin's token" in res.json["fields"]["scopes"]
    secret, _ = make_token(client, "read")
    script = token_client(server, secret)
    assert script.get("/api/history").status == 200
    assert script.get("/api/users").status == 403  # a client's token reads what the client may
    assert admin.patch(f"/api/users/{user['id']}", json={"active": False}).status == 200
    assert script.get("/api/history").status == 401
    assert admin.patch(f"/api/users/{user['id']}", json={"active": True}).status == 200
    assert script.get("/api/history").status == 200
    assert admin.delete(f"/api/users/{user['id']}").status == 200
    assert script.get("/api/history").status == 401
    assert sql(server, "SELECT count(*) FROM api_tokens WHERE user_id = ?", (user["id"],)) == [(0,)]


def test_clients_see_and_revoke_only_their_own_tokens(server, admin, make_user):
    client, _ = make_user()
    _, theirs = make_token(client, "read", name="mine")
    _, admins = make_token(admin, "read", name="admins")
    assert [t["id"] for t in client.get("/api/tokens").json["tokens"]] == [theirs["id"]]
    assert {theirs["id"], admins["id"]} <= {t["id"] for t in admin.get("/api/tokens").json["tokens"]}
    assert client.delete(f"/api/tokens/{admins['id']}").status == 404
    assert admin.delete(f"/api/tokens/{theirs['id']}").status == 200


def test_bad_token_fields_are_refused_in_words(admin):
    for body, field in [({"name": "", "scopes": ["read"]}, "name"), ({"name": "x", "scopes": []}, "scopes"),
                        ({"name": "x", "scopes": ["write"]}, "scopes"),
                        ({"name": "x", "scopes": ["read"], "expires_at": "tomorrow"}, "expires_at")]:
        res = admin.post("/api/tokens", json=body)
        assert res.status == 400 and field in res.json["fields"], res


def test_a_metrics_token_is_refused_everywhere_else(server, admin, route_table):
    secret, _ = make_token(admin, "metrics")
    script = token_client(server, secret)
    checked = 0
    for method, path, role, _ in route_table:
        if role in ("public", "metrics"):
            continue
        res = script.request(method, path, json_body={} if method in ("POST", "PUT", "PATCH") else None)
        assert res.status == 403, (method, path, res)
        checked += 1
    assert checked > 40


def test_a_read_token_cannot_change_anything(server, admin, route_table):
    secret, _ = make_token(admin, "read")
    script = token_client(server, secret)
    for method, path, role, _ in route_table:
        if role in ("public", "metrics"):
            continue
        res = script.request(method, path, json_body={} if method in ("POST", "PUT", "PATCH") else None)
        if method in ("GET", "HEAD"):
            assert res.status not in (401, 403) or path == "/api/ws", (method, path, res)
        else:
            assert res.status == 403 and "do not allow" in res.json["error"], (method, path, res)


def test_a_run_token_runs_only_granted_actions_without_an_origin(server, admin, make_user, route_table):
    write_script(server, "hello.sh", "#!/bin/sh\necho hello from a token\n")
    granted = admin.post("/api/quick-actions", json={"name": "Hello", "script": "hello.sh"}).json["quick_action"]
    hidden = admin.post("/api/quick-actions", json={"name": "Hidden", "script": "hello.sh",
                                                    "allowed_users": []}).json["quick_action"]
    client, _ = make_user()
    secret, _ = make_token(client, "run")
    script = token_client(server, secret)
    assert script.origin is None
    res = script.post(f"/api/quick-actions/{granted['id']}/execute")
    assert res.status == 201, res
    task_id = res.json["task_id"]
    assert script.post(f"/api/quick-actions/{hidden['id']}/execute").status == 404
    assert {a["id"] for a in script.get("/api/quick-actions").json["quick_actions"]} >= {granted["id"]}
    deadline = time.monotonic() + 10
    while (task := script.get(f"/api/history/{task_id}").json["task"])["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert task["output"] == "hello from a token\n" and task["started_by"] == client_name(client)
    assert script.get(f"/api/history/{task_id}/output").text == "hello from a token\n"
    run_routes = {(m, p) for m, p, _, scope in route_table if scope == "run"}
    for method, path, role, _ in route_table:
        if role not in ("public", "metrics") and (method, path) not in run_routes:
            assert script.request(method, path).status == 403, (method, path)
    # The same request with a session cookie and no Origin is still refused (CSRF).
    cookie_only = sign_in(server)
    cookie_only.origin = None
    assert cookie_only.post(f"/api/quick-actions/{granted['id']}/execute").status == 403


def client_name(client):
    return client.get("/api/auth/me").json["user"]["username"]


def test_bad_tokens_count_toward_the_address_lock(server, admin):
    secret, _ = make_token(admin, "read")
    guesser = token_client(server, "toru_" + "A" * 43)
    for _ in range(3):
        assert guesser.get("/api/auth/me").status == 401
    locked = guesser.get("/api/auth/me")
    assert locked.status == 429 and int(locked.header("retry-after")) > 0
    same_address = token_client(server, secret)
    same_address.ip = guesser.ip
    assert same_address.get("/api/auth/me").status == 429  # the address is locked, whatever it sends
    assert token_client(server, secret).get("/api/auth/me").status == 200  # other addresses are not
    attempts = admin.get("/api/auth/login-history?username=(api%20token)").json["attempts"]
    assert len([a for a in attempts if a["ip"] == guesser.ip]) == 3
    assert all(a["reason"] == "unknown token" for a in attempts if a["ip"] == guesser.ip)


def test_the_cli_creates_lists_and_revokes(server, admin):
    made = run_cli(["--data-dir", str(server.data_dir), "token", "create", "--user", "admin", "--scope", "read",
                    "--scope", "run", "--name", "ansible", "--expires", "2099-01-31"])
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert secret.startswith("toru_") and "not shown again" in made.stderr
    assert token_client(server, secret).get("/api/auth/me").status == 200
    listed = run_cli(["--data-dir", str(server.data_dir), "token", "list"])
    line = next(line for line in listed.stdout.splitlines() if "ansible" in line)
    assert "read run" in line and secret[:8] in line and "2099-01-31" in line and secret not in listed.stdout
    token_id = line.split()[0]
    revoked = run_cli(["--data-dir", str(server.data_dir), "token", "revoke", token_id])
    assert revoked.returncode == 0 and "Revoked" in revoked.stdout
    assert token_client(server, secret).get("/api/auth/me").status == 401
    for args, words in [(["create", "--user", "nobody", "--scope", "read", "--name", "x"], "no active user"),
                        (["revoke", "99999"], "no token with id 99999"),
                        (["create", "--user", "admin", "--scope", "read", "--name", "x", "--expires", "1999-01-01"],
                         "expires_at: Must be in the future")]:
        res = run_cli(["--data-dir", str(server.data_dir), "token", *args])
        assert res.returncode == 2 and words in res.stderr, res.stderr


def test_every_use_is_logged_by_id_never_the_secret(server, admin):
    import json
    secret, token = make_token(admin, "admin", name="logged")
    script = token_client(server, secret)
    for _ in range(5):
        assert script.get("/api/auth/me").status == 200
    assert script.post("/api/tokens", json={"name": "child", "scopes": ["read"]}).status == 201

    def lines():
        log = (server.data_dir / "logs" / "toru.log").read_text()
        assert secret not in log
        return [r for r in map(json.loads, log.splitlines())
                if r.get("message") == "api token used" and r.get("token_id") == token["id"]]
    from helpers import wait_for
    found = wait_for(lambda: len(lines()) >= 2 and lines(), message="the token's log lines")
    reads = [r for r in found if r["method"] == "GET"]
    writes = [r for r in found if r["method"] == "POST"]
    # Reads: one line a minute per token and address (its count comes with the next); changes: each.
    assert len(reads) == 1, reads
    assert reads[0]["reads_since_last_line"] == 0 and reads[0]["path"] == "/api/auth/me"
    assert len(writes) == 1 and writes[0]["path"] == "/api/tokens" and writes[0]["user"] == "admin"
