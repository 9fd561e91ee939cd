"""Quick action grants (`allowed_users`) on every path that names an action
or one of its runs, for an admin, a granted client, an ungranted client and
a deactivated one: list and single GET (an ungranted action is absent and
its id is 404, never 403), execute over REST and WebSocket, the choices
list, watching a run's live output, its history entry, cancel and re-run
(as the caller, with the caller's grant). Real server, real processes, a
real WebSocket client."""

import pytest
import websocket

from helpers import TaskSocket, sign_in, wait_for, write_script

PASSWORD = "correct horse battery staple"



@pytest.fixture(scope="module")
def admin(server):
    """One signed-in admin for the module: each sign-in costs an argon2 hash."""
    return sign_in(server)




@pytest.fixture(scope="module")
def users(server, admin):
    """alice is granted the action, bob is not, carol is granted and gets deactivated."""
    made = {}
    for name in ("alice", "bob", "carol"):
        res = admin.post("/api/users", json={"username": f"{name}-grants", "password": PASSWORD})
        assert res.status == 201, res
        made[name] = (sign_in(server, f"{name}-grants", PASSWORD), res.json["user"])
    return made


@pytest.fixture(scope="module")
def action(server, admin, users):
    write_script(server, "ticker.sh", "#!/bin/sh\necho \"start $1 $TORU_USER\"\n"
                 "while :; do echo tick; sleep 0.1; done\n")
    write_script(server, "quick.sh", "#!/bin/sh\necho \"quick $1 $TORU_USER\"\n")
    write_script(server, "hosts.sh", "#!/bin/sh\necho web1\necho web2\n")
    res = admin.post("/api/quick-actions", json={
        "name": "Tick", "script": "ticker.sh",
        "arguments": [{"name": "host", "type": "choice", "choices_from": "hosts.sh", "required": True}],
        "allowed_users": [users["alice"][1]["id"], users["carol"][1]["id"]]})
    assert res.status == 201, res
    return res.json["quick_action"]


def run_ws(server, client, action_id, **extra):
    sock = TaskSocket(server, client)
    sock.send(type="run", quick_action_id=action_id, arguments={"host": "web1"}, ref="r", **extra)
    return sock, sock.until(lambda m: m.get("ref") == "r")[-1]


def test_the_grant_is_shown_to_admins_only_and_checked(server, admin, users, action):
    alice, bob = users["alice"][0], users["bob"][0]
    granted = sorted([users["alice"][1]["id"], users["carol"][1]["id"]])
    assert action["allowed_users"] == granted
    assert admin.get(f"/api/quick-actions/{action['id']}").json["quick_action"]["allowed_users"] == granted
    listed = {a["id"]: a for a in admin.get("/api/quick-actions").json["quick_actions"]}
    assert listed[action["id"]]["allowed_users"] == granted

    mine = {a["id"]: a for a in alice.get("/api/quick-actions").json["quick_actions"]}
    assert action["id"] in mine and "allowed_users" not in mine[action["id"]]
    res = alice.get(f"/api/quick-actions/{action['id']}")
    assert res.status == 200 and "allowed_users" not in res.json["quick_action"]

    assert action["id"] not in {a["id"] for a in bob.get("/api/quick-actions").json["quick_actions"]}
    for path in (f"/api/quick-actions/{action['id']}", f"/api/quick-actions/{action['id']}/choices/host"):
        res = bob.get(path)
        assert res.status == 404 and res.json["error"] == "No quick action with that id", res
    res = bob.post(f"/api/quick-actions/{action['id']}/execute", json={"arguments": {"host": "web1"}})
    assert res.status == 404 and res.json["error"] == "No quick action with that id"
    assert bob.get("/api/quick-actions/not-an-id").status == 404  # the same answer as for a real id

    assert alice.get(f"/api/quick-actions/{action['id']}/choices/host").json == {"choices": ["web1", "web2"]}
    assert admin.get(f"/api/quick-actions/{action['id']}/choices/host").json == {"choices": ["web1", "web2"]}


@pytest.mark.parametrize("grant, message", [
    ("everyone", "must be null"), ([True], "must be null"), ([1.5], "must be null"), ([0], "no user with id 0"),
    ([999999], "no user with id 999999"), ("dup", "twice")])
def test_bad_grants_are_refused_and_nothing_changes(admin, users, action, grant, message):
    if grant == "dup":
        grant = [users["alice"][1]["id"]] * 2
    res = admin.put(f"/api/quick-actions/{action['id']}", json={"allowed_users": grant})
    assert res.status == 400 and message in res.json["fields"]["allowed_users"], res
    assert admin.get(f"/api/quick-actions/{action['id']}").json["quick_action"]["allowed_users"] == \
        action["allowed_users"]


def test_null_grants_everyone_and_empty_admins_only(server, admin, users):
    bob = users["bob"][0]
    made = admin.post("/api/quick-actions", json={"name": "Open", "script": "quick.sh"}).json["quick_action"]
    try:
        assert made["allowed_users"] is None
        assert bob.get(f"/api/quick-actions/{made['id']}").status == 200
        res = admin.put(f"/api/quick-actions/{made['id']}", json={"allowed_users": []})
        assert res.json["quick_action"]["allowed_users"] == []
        assert bob.get(f"/api/quick-actions/{made['id']}").status == 404
        assert bob.post(f"/api/quick-actions/{made['id']}/execute").status == 404
        task_id = admin.post(f"/api/quick-actions/{made['id']}/execute").json["task_id"]  # admins always may
        wait_for(lambda: admin.get(f"/api/history/{task_id}").json["task"]["status"] == "success")
        assert admin.put(f"/api/quick-actions/{made['id']}", json={"allowed_users": None}).json[
            "quick_action"]["allowed_users"] is None
        assert bob.get(f"/api/quick-actions/{made['id']}").status == 200
    finally:
        admin.delete(f"/api/quick-actions/{made['id']}")


def test_runs_output_cancel_and_rerun_follow_the_grant(server, admin, users, action):
    alice, bob = users["alice"][0], users["bob"][0]
    alice_sock, started = run_ws(server, alice, action["id"])
    bob_sock, refused = run_ws(server, bob, action["id"])
    admin_sock = TaskSocket(server, admin)
    try:
        assert started["type"] == "started" and started["started_by"] == "alice-grants"
        assert refused["type"] == "error" and refused["data"] == "No quick action with that id"
        task_id = started["task_id"]
        alice_sock.until(lambda m: m.get("data", "").startswith("start web1 alice-grants"))

        # bob: nothing of alice's run, by any path
        bob_sock.send(type="subscribe", task_id=task_id)
        assert bob_sock.recv() == {"type": "error", "data": "No task with that id", "task_id": task_id}
        bob_sock.send(type="cancel", task_id=task_id)
        assert bob_sock.recv()["type"] == "error"
        assert bob.get(f"/api/history/{task_id}").status == 404
        assert bob.post(f"/api/history/{task_id}/rerun").status == 404
        assert task_id not in {t["id"] for t in bob.get("/api/tasks/running").json["tasks"]}
        bob_sock.send(type="ping")
        assert bob_sock.recv() == {"type": "pong"}  # and nothing of the run came before it

        # the admin watches it; alice sees her own run in her history
        admin_sock.send(type="subscribe", task_id=task_id)
        admin_sock.until(lambda m: m.get("data") == "tick\n")
        assert alice.get(f"/api/history/{task_id}").json["task"]["status"] == "running"
        assert task_id in {t["id"] for t in alice.get("/api/tasks/running").json["tasks"]}

        # the grant goes: her live output stops, and the run leaves her view
        res = admin.put(f"/api/quick-actions/{action['id']}", json={"allowed_users": [users["carol"][1]["id"]]})
        assert res.status == 200
        gone = alice_sock.until(lambda m: m.get("code") == "forbidden")[-1]
        assert gone["task_id"] == task_id
        alice_sock.send(type="ping")
        assert [m["type"] for m in alice_sock.until(lambda m: m["type"] == "pong")] == ["pong"]
        alice_sock.send(type="subscribe", task_id=task_id)
        assert alice_sock.recv()["type"] == "error"
        alice_sock.send(type="cancel", task_id=task_id)
        assert alice_sock.recv()["type"] == "error"
        assert alice.get(f"/api/history/{task_id}").status == 404
        assert alice.post(f"/api/history/{task_id}/rerun").status == 404
        assert task_id not in {t["id"] for t in alice.get("/api/history").json["tasks"]}
        assert alice.post(f"/api/quick-actions/{action['id']}/execute",
                          json={"arguments": {"host": "web1"}}).status == 404

        # an admin's re-run runs as the admin, not as alice
        rerun = admin.post(f"/api/history/{task_id}/rerun")
        assert rerun.status == 201
        rerun_task = admin.get(f"/api/history/{rerun.json['task_id']}").json["task"]
        assert rerun_task["started_by"] == "admin" and rerun_task["trigger"] == "rerun"
        assert rerun_task["arguments"] == {"host": "web1"}
        admin_sock.send(type="cancel", task_id=task_id)
        admin_sock.send(type="cancel", task_id=rerun.json["task_id"])
        for ended in (task_id, rerun.json["task_id"]):
            wait_for(lambda: admin.get(f"/api/history/{ended}").json["task"]["status"] == "cancelled")
    finally:
        admin.put(f"/api/quick-actions/{action['id']}", json={"allowed_users": action["allowed_users"]})
        for sock in (alice_sock, bob_sock, admin_sock):
            sock.close()


def test_a_client_cancels_and_reruns_only_its_own_runs_as_itself(server, admin, users, action):
    alice, carol = users["alice"][0], users["carol"][0]
    task_id = alice.post(f"/api/quick-actions/{action['id']}/execute",
                         json={"arguments": {"host": "web2"}}).json["task_id"]
    carol_sock = TaskSocket(server, carol)
    alice_sock = TaskSocket(server, alice)
    try:
        # carol is granted the same action, but this run is alice's
        carol_sock.send(type="subscribe", task_id=task_id)
        assert carol_sock.recv()["type"] == "error"
        carol_sock.send(type="cancel", task_id=task_id)
        assert carol_sock.recv()["type"] == "error"
        assert carol.post(f"/api/history/{task_id}/rerun").status == 404
        alice_sock.send(type="subscribe", task_id=task_id)
        alice_sock.until(lambda m: m.get("data") == "tick\n")
        alice_sock.send(type="cancel", task_id=task_id)
        assert alice_sock.until(lambda m: m["type"] == "exit")[-1]["status"] == "cancelled"
        again = alice.post(f"/api/history/{task_id}/rerun")
        assert again.status == 201
        row = alice.get(f"/api/history/{again.json['task_id']}").json["task"]
        assert row["started_by"] == "alice-grants" and row["arguments"] == {"host": "web2"}
        alice_sock.send(type="cancel", task_id=again.json["task_id"])
        wait_for(lambda: alice.get(f"/api/history/{again.json['task_id']}").json["task"]["status"] == "cancelled")
    finally:
        carol_sock.close()
        alice_sock.close()


def test_deactivating_ends_the_users_live_output_and_access(server, admin, users, action):
    carol, carol_user = users["carol"]
    sock, started = run_ws(server, carol, action["id"])
    try:
        assert started["type"] == "started"
        sock.until(lambda m: m.get("data") == "tick\n")
        assert admin.patch(f"/api/users/{carol_user['id']}", json={"active": False}).status == 200
        # Her socket closes now, not at the next periodic re-check (30 s here).
        ended = sock.until(lambda m: m["type"] == "error" and "Session ended" in m["data"], timeout=5)
        assert ended
        sock.ws.settimeout(5)
        try:  # the server closes it: frames until the close (an empty one), no timeout
            while sock.ws.recv():
                pass
        except websocket.WebSocketConnectionClosedException:
            pass
        assert carol.get(f"/api/quick-actions/{action['id']}").status == 401
        assert carol.post(f"/api/quick-actions/{action['id']}/execute").status == 401
        assert carol.get(f"/api/history/{started['task_id']}").status == 401
        assert carol.get(f"/api/quick-actions/{action['id']}/choices/host").status == 401
        assert carol.post("/api/auth/login", json={"username": "carol-grants", "password": PASSWORD}).status == 401
        admin_sock = TaskSocket(server, admin)
        admin_sock.send(type="cancel", task_id=started["task_id"])
        admin_sock.close()
        wait_for(lambda: admin.get(f"/api/history/{started['task_id']}").json["task"]["status"] == "cancelled")
    finally:
        sock.close()
        admin.patch(f"/api/users/{carol_user['id']}", json={"active": True})


def test_deleting_a_user_takes_them_out_of_every_grant(server, admin):
    res = admin.post("/api/users", json={"username": "dave-grants", "password": PASSWORD})
    dave = res.json["user"]
    made = [admin.post("/api/quick-actions", json={"name": f"Dave {n}", "script": "quick.sh",
                                                   "allowed_users": [dave["id"]]}).json["quick_action"]
            for n in range(2)]
    try:
        assert [a["allowed_users"] for a in made] == [[dave["id"]], [dave["id"]]]
        assert admin.delete(f"/api/users/{dave['id']}").status == 200
        for a in made:
            # Still restricted: only admins now, never "everyone" by accident.
            assert admin.get(f"/api/quick-actions/{a['id']}").json["quick_action"]["allowed_users"] == []
    finally:
        for a in made:
            admin.delete(f"/api/quick-actions/{a['id']}")



def test_an_admin_made_client_stops_watching_other_users_runs(server, admin, users, action):
    alice, _ = users["alice"]
    res = admin.post("/api/users", json={"username": "dave-grants", "password": PASSWORD, "role": "admin"})
    assert res.status == 201, res
    dave_user = res.json["user"]
    dave = sign_in(server, "dave-grants", PASSWORD)
    alice_sock, started = run_ws(server, alice, action["id"])
    watcher = TaskSocket(server, dave)
    try:
        watcher.send(type="subscribe", task_id=started["task_id"])
        watcher.until(lambda m: m.get("data") == "tick\n")  # an admin watches anyone's run
        assert admin.patch(f"/api/users/{dave_user['id']}", json={"role": "client"}).status == 200
        dropped = watcher.until(lambda m: m["type"] == "error" and m.get("code") == "forbidden", timeout=5)[-1]
        assert dropped["task_id"] == started["task_id"]
        # Nothing more of alice's run reaches dave (her own socket still gets it).
        alice_sock.until(lambda m: m.get("data") == "tick\n")
        watcher.ws.settimeout(0.5)
        with pytest.raises(websocket.WebSocketTimeoutException):
            while True:
                assert "tick" not in watcher.ws.recv()
    finally:
        watcher.close()
        canceller = TaskSocket(server, admin)
        canceller.send(type="cancel", task_id=started["task_id"])
        canceller.close()
        wait_for(lambda: admin.get(f"/api/history/{started['task_id']}").json["task"]["status"] == "cancelled")
        alice_sock.close()
