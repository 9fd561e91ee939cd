"""User management by admins, and the password policy. Every refusal
changes nothing."""

import pytest

LOGIN = "/api/auth/login"
GOOD = "correct horse battery staple"


def usernames(admin):
    return [u["username"] for u in admin.get("/api/users").json["users"]]


def can_login(server, username, password):
    return server.client().post(LOGIN, json={"username": username, "password": password}).status == 200


def test_create_list_update_delete(server, admin):
    res = admin.post("/api/users", json={"username": "alice", "password": GOOD, "display_name": "Alice A."})
    assert res.status == 201
    alice = res.json["user"]
    assert alice["role"] == "client" and alice["active"] is True and alice["display_name"] == "Alice A."
    assert "password_hash" not in alice and "password" not in str(admin.get("/api/users").json)
    listed = admin.get("/api/users").json["users"]
    assert listed[0] == {"id": 0, "username": "admin", "display_name": "Administrator", "role": "admin",
                         "source": "env", "active": True, "is_active": True, "editable": False, "created_at": None,
                         "credential_source": "environment", "totp_enabled": False}
    assert "alice" in usernames(admin)
    assert can_login(server, "alice", GOOD)

    res = admin.patch(f"/api/users/{alice['id']}", json={"display_name": "Alice B", "role": "admin"})
    assert res.status == 200 and res.json["user"]["role"] == "admin" and res.json["user"]["display_name"] == "Alice B"
    assert admin.delete(f"/api/users/{alice['id']}").status == 200
    assert "alice" not in usernames(admin)
    assert not can_login(server, "alice", GOOD)


def test_role_change_applies_to_live_sessions(admin, make_user):
    client, user = make_user()
    assert client.get("/api/users").status == 403
    admin.patch(f"/api/users/{user['id']}", json={"role": "admin"})
    assert client.get("/api/users").status == 200


def test_deactivate_ends_sessions_and_blocks_login(server, admin, make_user):
    client, user = make_user()
    assert admin.patch(f"/api/users/{user['id']}", json={"active": False}).status == 200
    assert client.get("/api/auth/me").status == 401
    assert not can_login(server, user["username"], GOOD)
    assert admin.patch(f"/api/users/{user['id']}", json={"active": True}).status == 200
    assert can_login(server, user["username"], GOOD)


def test_reset_password_ends_sessions(server, admin, make_user):
    client, user = make_user()
    assert admin.post(f"/api/users/{user['id']}/password", json={"password": "a fresh reset secret"}).status == 200
    assert client.get("/api/auth/me").status == 401
    assert can_login(server, user["username"], "a fresh reset secret")
    assert not can_login(server, user["username"], GOOD)


def test_delete_ends_sessions(admin, make_user):
    client, user = make_user()
    assert admin.delete(f"/api/users/{user['id']}").status == 200
    assert client.get("/api/auth/me").status == 401


def test_env_admin_cannot_be_edited_or_deleted(admin):
    assert admin.patch("/api/users/0", json={"display_name": "Evil"}).status == 403
    assert admin.post("/api/users/0/password", json={"password": "a new admin password"}).status == 403
    assert admin.delete("/api/users/0").status == 403
    assert admin.get("/api/users").json["users"][0]["display_name"] == "Administrator"


def test_admin_cannot_delete_or_demote_themselves(server, admin, make_user):
    me, user = make_user(role="admin")
    assert me.delete(f"/api/users/{user['id']}").status == 409
    assert me.patch(f"/api/users/{user['id']}", json={"active": False}).status == 409
    assert me.patch(f"/api/users/{user['id']}", json={"role": "client"}).status == 409
    assert me.post(f"/api/users/{user['id']}/password", json={"password": "another long secret"}).status == 409
    assert me.get("/api/users").status == 200


@pytest.mark.parametrize("body,status,fragment", [
    ({"username": "bob", "password": "short"}, 400, "at least 12"),
    ({"username": "bob", "password": "p" * 257}, 400, "at most 256"),
    ({"username": "bob", "password": "my name is bob, ok?"}, 400, "username"),
    ({"username": "bob", "password": "i like toru very much"}, 400, '"toru"'),
    ({"username": "bob", "password": "i am the ADMIN here"}, 400, '"admin"'),
    ({"username": "bob", "password": "1q2w3e4r5t6y"}, 400, "too common"),
    ({"username": "bob", "password": 123456789012345}, 400, "string"),
    ({"username": "bob"}, 400, "string"),
    ({"username": "bad name", "password": GOOD}, 400, "Username"),
    ({"username": "../etc", "password": GOOD}, 400, "Username"),
    ({"username": "", "password": GOOD}, 400, "Username"),
    ({"username": "bob", "password": GOOD, "role": "root"}, 400, "Role"),
    ({"username": "bob", "password": GOOD, "display_name": "x" * 101}, 400, "at most 100"),
    ({"username": "bob", "password": GOOD, "display_name": "a\x00b"}, 400, "control"),
    ({"username": "bob", "password": GOOD, "display_name": "admin\u202egnp.exe"}, 400, "invisible"),
    ({"username": "bob", "password": GOOD, "display_name": "ad\u200bmin"}, 400, "invisible"),
    ({"username": "admin", "password": GOOD}, 409, "environment admin"),
    ({"username": "ADMIN", "password": GOOD}, 409, "environment admin"),
])
def test_bad_user_creation_is_refused_and_nothing_is_created(admin, body, status, fragment):
    before = usernames(admin)
    res = admin.post("/api/users", json=body)
    assert res.status == status and fragment in res.json["error"], res
    assert usernames(admin) == before


def test_duplicate_username_is_409_case_insensitively(admin):
    assert admin.post("/api/users", json={"username": "carol", "password": GOOD}).status == 201
    before = usernames(admin)
    res = admin.post("/api/users", json={"username": "CAROL", "password": GOOD})
    assert res.status == 409 and "already exists" in res.json["error"]
    assert usernames(admin) == before


def test_passwords_are_not_truncated(server, admin):
    long_password = "q" * 100 + "-tail-one"
    assert admin.post("/api/users", json={"username": "dave", "password": long_password}).status == 201
    assert can_login(server, "dave", long_password)
    assert not can_login(server, "dave", "q" * 100 + "-tail-two")
    assert admin.post("/api/users", json={"username": "erin", "password": "z" * 256}).status == 201
    assert can_login(server, "erin", "z" * 256)


@pytest.mark.parametrize("body,fragment", [
    ({"role": "superuser"}, "Role"), ({"active": "yes"}, "true or false"), ({}, "Nothing to change"),
    ({"display_name": ""}, "Display name"), ({"password_hash": "x"}, "Unknown field"),
])
def test_bad_updates_change_nothing(admin, make_user, body, fragment):
    _, user = make_user()
    before = admin.get("/api/users").json
    res = admin.patch(f"/api/users/{user['id']}", json=body)
    assert res.status == 400 and fragment in res.json["error"]
    assert admin.get("/api/users").json == before


def test_unknown_user_ids_are_404(admin):
    assert admin.patch("/api/users/999999", json={"role": "client"}).status == 404
    assert admin.delete("/api/users/999999").status == 404
    assert admin.post("/api/users/999999/password", json={"password": GOOD}).status == 404
    assert admin.delete("/api/users/abc").status == 404


def test_clients_see_only_their_own_account(make_user):
    client, user = make_user()
    assert client.get("/api/auth/me").json["user"]["username"] == user["username"]
    assert client.get("/api/users").status == 403
    assert client.post("/api/users", json={"username": "mallory", "password": GOOD}).status == 403
