"""Quick actions: admin CRUD with checks, execution by any user, and what a
client may and may not see or do."""

import pytest

from helpers import TaskSocket, wait_for, write_script




@pytest.fixture(scope="module", autouse=True)
def scripts(server):
    write_script(server, "greet.sh", "#!/bin/sh\necho \"hi $TORU_USER\"\n")
    write_script(server, "nap.sh", "#!/bin/sh\necho napping\nsleep 30\n")


def create(admin, **fields):
    res = admin.post("/api/quick-actions", json=fields)
    assert res.status == 201, res
    return res.json["quick_action"]


def test_admin_creates_updates_reorders_and_deletes(admin):
    a = create(admin, name="Greet", script="greet.sh", icon="🚀", description="Says hi")
    b = create(admin, name="Nap", script="nap.sh", timeout=60)
    assert a["order"] < b["order"] and a["timeout"] is None and b["timeout"] == 60
    assert (a["arguments"], a["confirm"], a["allowed_users"]) == ([], None, None)  # docs/tasks.md#quick-actions
    assert admin.get(f"/api/quick-actions/{a['id']}").json["quick_action"] == a
    listed = admin.get("/api/quick-actions").json["quick_actions"]
    assert [q["id"] for q in listed][-2:] == [a["id"], b["id"]]
    res = admin.put(f"/api/quick-actions/{a['id']}", json={"name": "Greet me", "timeout": 5})
    assert res.status == 200 and res.json["quick_action"]["name"] == "Greet me"
    assert res.json["quick_action"]["description"] == "Says hi"
    ids = [q["id"] for q in admin.get("/api/quick-actions").json["quick_actions"]]
    reordered = ids[:-2] + [b["id"], a["id"]]
    res = admin.post("/api/quick-actions/reorder", json={"ids": reordered})
    assert [q["id"] for q in res.json["quick_actions"]] == reordered
    assert admin.post("/api/quick-actions/reorder", json={"ids": reordered[:-1]}).status == 400
    assert admin.post("/api/quick-actions/reorder", json={"ids": reordered + [a["id"]]}).status == 400
    assert admin.delete(f"/api/quick-actions/{a['id']}").status == 200
    assert admin.delete(f"/api/quick-actions/{a['id']}").status == 404
    assert admin.put(f"/api/quick-actions/{a['id']}", json={"name": "x"}).status == 404
    admin.delete(f"/api/quick-actions/{b['id']}")


@pytest.mark.parametrize("fields, message", [
    ({"script": "greet.sh"}, "name is required"),
    ({"name": "x"}, "script is required"),
    ({"name": " ", "script": "greet.sh"}, "name"),
    ({"name": "x", "script": "missing.sh"}, "No script named"),
    ({"name": "x", "script": "../toru.db"}, "plain file name"),
    ({"name": "x", "script": "greet.sh", "icon": "i" * 33}, "icon"),
    ({"name": "x", "script": "greet.sh", "timeout": 0}, "timeout"),
    ({"name": "x", "script": "greet.sh", "timeout": "5"}, "timeout"),
    ({"name": "x\nsecond line", "script": "greet.sh"}, "control"),
    ({"name": "x", "script": "greet.sh", "colour": "red"}, "Unknown field"),
])
def test_bad_quick_actions_are_refused_and_nothing_is_saved(admin, fields, message):
    before = admin.get("/api/quick-actions").json["quick_actions"]
    res = admin.post("/api/quick-actions", json=fields)
    assert res.status == 400 and message in res.json["error"], res
    assert admin.get("/api/quick-actions").json["quick_actions"] == before


def test_a_client_runs_quick_actions_but_nothing_else(server, admin, make_user):
    action = create(admin, name="Greet", script="greet.sh")
    client, user = make_user()
    assert client.post("/api/quick-actions", json={"name": "x", "script": "greet.sh"}).status == 403
    assert client.delete(f"/api/quick-actions/{action['id']}").status == 403
    assert [q["id"] for q in client.get("/api/quick-actions").json["quick_actions"]].count(action["id"]) == 1
    assert client.get("/api/scripts").status == 403
    assert client.get("/api/settings").status == 403

    res = client.post(f"/api/quick-actions/{action['id']}/execute")
    assert res.status == 201
    task_id = res.json["task_id"]
    wait_for(lambda: client.get(f"/api/history/{task_id}").json["task"]["status"] == "success")
    task = client.get(f"/api/history/{task_id}").json["task"]
    assert task["output"] == f"hi {user['username']}\n"
    assert task["trigger"] == "quick_action" and task["quick_action_id"] == action["id"]
    assert task["started_by"] == user["username"]

    sock = TaskSocket(server, client)
    try:
        sock.send(type="run", script="greet.sh", ref="raw")
        reply = sock.until(lambda m: m.get("ref") == "raw")[-1]
        assert reply["type"] == "error" and "admin" in reply["data"]
        out, _, exit_message = sock.output_until_exit(sock.run(quick_action_id=action["id"])["task_id"])
        assert out == f"hi {user['username']}\n" and exit_message["status"] == "success"
    finally:
        sock.close()
    res = client.post(f"/api/history/{task_id}/rerun")
    assert res.status == 201
    wait_for(lambda: client.get(f"/api/history/{res.json['task_id']}").json["task"]["status"] == "success")
    assert client.delete(f"/api/history/{task_id}").status == 403


def test_a_client_sees_only_its_own_tasks(server, admin, make_user):
    action = create(admin, name="Nap", script="nap.sh")
    alice, _ = make_user()
    bob, _ = make_user()
    admin_sock = TaskSocket(server, admin)
    bob_sock = TaskSocket(server, bob)
    try:
        admins_task = admin_sock.run("nap.sh")["task_id"]
        alices_task = alice.post(f"/api/quick-actions/{action['id']}/execute").json["task_id"]
        assert [t["id"] for t in alice.get("/api/tasks/running").json["tasks"]] == [alices_task]
        assert {admins_task, alices_task} <= {t["id"] for t in admin.get("/api/tasks/running").json["tasks"]}
        assert alice.get(f"/api/history/{admins_task}").status == 404
        assert bob.get(f"/api/history/{alices_task}").status == 404
        assert bob.post(f"/api/history/{alices_task}/rerun").status == 404
        assert all(t["started_by"] != "admin" for t in alice.get("/api/history").json["tasks"])
        assert bob.get("/api/history").json["total"] == 0
        for task_id in (admins_task, alices_task):
            bob_sock.send(type="subscribe", task_id=task_id)
            reply = bob_sock.recv()
            assert reply["type"] == "error" and reply["task_id"] == task_id
            bob_sock.send(type="cancel", task_id=task_id)
            assert bob_sock.recv()["type"] == "error"
        assert alice.get(f"/api/history/{alices_task}").json["task"]["status"] == "running"
        alice_sock = TaskSocket(server, alice)
        try:
            alice_sock.send(type="subscribe", task_id=alices_task)
            alice_sock.until(lambda m: m.get("data") == "napping\n")
            alice_sock.send(type="cancel", task_id=alices_task)
            assert alice_sock.output_until_exit(alices_task)[2]["status"] == "cancelled"
        finally:
            alice_sock.close()
        admin_sock.send(type="cancel", task_id=admins_task)
        admin_sock.output_until_exit(admins_task)
    finally:
        admin_sock.close()
        bob_sock.close()


def test_the_original_field_names_are_accepted_and_returned(admin):
    action = create(admin, name="Old style", script_path="greet.sh", display_order=7)
    assert action["script"] == action["script_path"] == "greet.sh"
    assert action["order"] == action["display_order"] == 7
    res = admin.put(f"/api/quick-actions/{action['id']}", json={"display_order": 8})
    assert res.json["quick_action"]["order"] == 8
    assert admin.post("/api/quick-actions", json={"name": "x", "script": "greet.sh",
                                                  "script_path": "nap.sh"}).status == 400
    task_id = admin.post(f"/api/quick-actions/{action['id']}/execute").json["task_id"]
    wait_for(lambda: admin.get(f"/api/history/{task_id}").json["task"]["status"] == "success")
    assert admin.get(f"/api/history/{task_id}").json["task"]["script_name"] == "greet.sh"
    assert admin.get("/api/history").json["tasks"][0]["script_name"]
    admin.delete(f"/api/quick-actions/{action['id']}")


def test_a_quick_action_timeout_overrides_the_global_one(admin):
    action = create(admin, name="Short nap", script="nap.sh", timeout=1)
    task_id = admin.post(f"/api/quick-actions/{action['id']}/execute").json["task_id"]
    wait_for(lambda: admin.get(f"/api/history/{task_id}").json["task"]["status"] != "running", timeout=15)
    task = admin.get(f"/api/history/{task_id}").json["task"]
    assert task["status"] == "timed_out" and task["exit_text"] == "Timed out — stopped by SIGTERM"


def test_history_keeps_a_deleted_quick_actions_runs(admin):
    action = create(admin, name="Greet once", script="greet.sh")
    task_id = admin.post(f"/api/quick-actions/{action['id']}/execute").json["task_id"]
    wait_for(lambda: admin.get(f"/api/history/{task_id}").json["task"]["status"] == "success")
    admin.delete(f"/api/quick-actions/{action['id']}")
    task = admin.get(f"/api/history/{task_id}").json["task"]
    assert task["quick_action_id"] == action["id"]
    assert admin.post(f"/api/quick-actions/{action['id']}/execute").status == 404
    res = admin.post(f"/api/history/{task_id}/rerun")  # an admin may still re-run the script itself
    assert res.status == 201
