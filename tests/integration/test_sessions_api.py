"""Sessions you can see and end: /api/me/sessions for your own, and
/api/users/:id/sessions for admins (docs/security.md#sessions)."""

import hashlib
import json
import sqlite3

import pytest
import websocket

from helpers import ADMIN_PASSWORD, wait_for

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/126.0.0.0 Mobile Safari/537.36")
PASSWORD = "correct horse battery staple"


def sign_in_as(server, username, password, user_agent=None):
    c = server.client()
    headers = {"User-Agent": user_agent} if user_agent else None
    res = c.post("/api/auth/login", json={"username": username, "password": password}, headers=headers)
    assert res.status == 200, res
    return c


def token_hash(client):
    return hashlib.sha256(client.cookies["toru_session"].encode()).hexdigest()


def assert_no_hash(res, *clients):
    """No answer ever carries a session's token hash (nor the token)."""
    for c in clients:
        assert token_hash(c) not in res.text and c.cookies["toru_session"] not in res.text


@pytest.fixture
def user(server, make_user):
    """A client user with two sessions: a laptop (Firefox) and a phone."""
    _, info = make_user(password=PASSWORD)
    laptop = sign_in_as(server, info["username"], PASSWORD, FIREFOX)
    phone = sign_in_as(server, info["username"], PASSWORD, ANDROID)
    return info, laptop, phone


def listed(client):
    res = client.get("/api/me/sessions")
    assert res.status == 200, res
    return res.json["sessions"]


def by_device(sessions, words):
    return next(s for s in sessions if s["device"] == words)


def test_own_sessions_are_listed_in_words_with_the_current_one_marked(user):
    info, laptop, phone = user
    res = laptop.get("/api/me/sessions")
    sessions = res.json["sessions"]
    assert len(sessions) == 3  # make_user's own sign-in, the laptop, the phone
    mine = by_device(sessions, "Firefox 128 on Linux")
    assert mine["current"] is True and mine["user_agent"] == FIREFOX and mine["via"] == "password"
    assert mine["ip"] and mine["created_at"] <= mine["last_seen"] < mine["expires_at"]
    other = by_device(sessions, "Chrome 126 on Android")
    assert other["current"] is False
    assert [s["current"] for s in sessions].count(True) == 1
    assert set(mine) == {"id", "created_at", "last_seen", "expires_at", "ip", "user_agent", "device", "via",
                         "current"}
    assert len({s["id"] for s in sessions}) == 3
    assert_no_hash(res, laptop, phone)
    # The phone sees the same sessions, with itself marked.
    assert by_device(listed(phone), "Chrome 126 on Android")["current"] is True


def test_revoking_one_ends_it_at_once_and_keeps_the_others(user):
    info, laptop, phone = user
    phone_id = by_device(listed(laptop), "Chrome 126 on Android")["id"]
    res = laptop.delete(f"/api/me/sessions/{phone_id}")
    assert res.status == 200 and res.json == {"success": True}
    assert phone.get("/api/auth/me").status == 401
    assert laptop.get("/api/auth/me").status == 200
    assert phone_id not in {s["id"] for s in listed(laptop)}
    assert laptop.delete(f"/api/me/sessions/{phone_id}").status == 404  # gone already


def test_revoking_closes_that_sessions_websocket_at_once(server, user):
    info, laptop, phone = user
    ws = websocket.create_connection(server.url.replace("http", "ws") + "/api/ws", timeout=5,
                                     origin=server.url, cookie=f"toru_session={phone.cookies['toru_session']}")
    try:
        phone_id = by_device(listed(laptop), "Chrome 126 on Android")["id"]
        assert laptop.delete(f"/api/me/sessions/{phone_id}").status == 200

        def closed():
            try:
                frame = ws.recv()
            except (websocket.WebSocketConnectionClosedException, ConnectionError):
                return True
            return not frame or "Session ended" in frame
        wait_for(closed, timeout=5, message="the revoked session's websocket to close")
    finally:
        ws.close()


def test_revoke_others_keeps_only_this_session(user):
    info, laptop, phone = user
    res = laptop.post("/api/me/sessions/revoke-others")
    assert res.status == 200 and res.json == {"success": True, "revoked": 2}
    assert phone.get("/api/auth/me").status == 401
    sessions = listed(laptop)
    assert len(sessions) == 1 and sessions[0]["current"] is True


def test_another_users_session_id_is_404_and_stays(server, make_user, user):
    info, laptop, phone = user
    stranger, _ = make_user()
    phone_id = by_device(listed(laptop), "Chrome 126 on Android")["id"]
    assert stranger.delete(f"/api/me/sessions/{phone_id}").status == 404
    for bad in ("nope", "0" * 16, "%27%3B%20DROP%20TABLE%20sessions%3B--"):
        assert stranger.delete(f"/api/me/sessions/{bad}").status in (404, 400)
    assert phone.get("/api/auth/me").status == 200
    assert phone_id not in {s["id"] for s in listed(stranger)}


def test_the_hash_is_not_an_id_either(user):
    """Naming a session by its token hash finds nothing."""
    info, laptop, phone = user
    assert laptop.delete(f"/api/me/sessions/{token_hash(phone)}").status == 404
    assert phone.get("/api/auth/me").status == 200


def test_admins_list_and_revoke_a_users_sessions(server, admin, user):
    info, laptop, phone = user
    res = admin.get(f"/api/users/{info['id']}/sessions")
    assert res.status == 200
    assert res.json["user"] == {"id": info["id"], "username": info["username"]}
    sessions = res.json["sessions"]
    assert len(sessions) == 3 and not any(s["current"] for s in sessions)
    assert_no_hash(res, laptop, phone)
    phone_id = by_device(sessions, "Chrome 126 on Android")["id"]
    assert admin.delete(f"/api/users/{info['id']}/sessions/{phone_id}").status == 200
    assert phone.get("/api/auth/me").status == 401 and laptop.get("/api/auth/me").status == 200
    assert admin.delete(f"/api/users/{info['id']}/sessions/{phone_id}").status == 404
    res = admin.delete(f"/api/users/{info['id']}/sessions")
    assert res.status == 200 and res.json["revoked"] == 2
    assert laptop.get("/api/auth/me").status == 401
    assert admin.get(f"/api/users/{info['id']}/sessions").json["sessions"] == []
    assert admin.get("/api/users/999999/sessions").status == 404
    log = (server.data_dir / "logs" / "toru.log").read_text()
    revoked = [json.loads(line) for line in log.splitlines() if '"sessions revoked"' in line]
    assert any(r.get("target") == info["username"] and r.get("actor") == "admin" for r in revoked)


def test_admins_see_and_end_the_env_admins_sessions(server, make_user):
    other_admin, _ = make_user(role="admin")
    env_admin = sign_in_as(server, "admin", ADMIN_PASSWORD, FIREFOX)
    res = other_admin.get("/api/users/0/sessions")
    assert res.status == 200 and res.json["user"]["username"] == "admin"
    mine = [s for s in res.json["sessions"] if s["device"] == "Firefox 128 on Linux"]
    assert mine
    assert_no_hash(res, env_admin)
    # A session of the env admin's id under another user's id is not found.
    _, client_info = make_user()
    assert other_admin.delete(f"/api/users/{client_info['id']}/sessions/{mine[0]['id']}").status == 404
    for session in mine:
        assert other_admin.delete(f"/api/users/0/sessions/{session['id']}").status == 200
    assert env_admin.get("/api/auth/me").status == 401


def test_an_admin_ending_all_their_own_sessions_keeps_this_one(server, admin):
    other = sign_in_as(server, "admin", ADMIN_PASSWORD)
    sessions = admin.get("/api/users/0/sessions").json["sessions"]
    assert [s["current"] for s in sessions].count(True) == 1
    assert admin.delete("/api/users/0/sessions").status == 200
    assert other.get("/api/auth/me").status == 401
    assert admin.get("/api/auth/me").status == 200


def test_clients_cannot_use_the_admin_routes(make_user, user):
    info, laptop, phone = user
    phone_id = by_device(listed(laptop), "Chrome 126 on Android")["id"]
    client, _ = make_user()
    assert client.get(f"/api/users/{info['id']}/sessions").status == 403
    assert client.delete(f"/api/users/{info['id']}/sessions/{phone_id}").status == 403
    assert client.delete(f"/api/users/{info['id']}/sessions").status == 403
    assert laptop.get(f"/api/users/{info['id']}/sessions").status == 403
    assert phone.get("/api/auth/me").status == 200


def test_signed_out_callers_get_401(server):
    c = server.client()
    assert c.get("/api/me/sessions").status == 401
    assert c.delete("/api/me/sessions/0123456789abcdef").status == 401
    assert c.post("/api/me/sessions/revoke-others").status == 401


def test_existing_sessions_got_an_id_from_the_migration(server, admin):
    conn = sqlite3.connect(server.data_dir / "toru.db")
    try:
        missing = conn.execute("SELECT count(*) FROM sessions WHERE id IS NULL").fetchone()[0]
    finally:
        conn.close()
    assert missing == 0
