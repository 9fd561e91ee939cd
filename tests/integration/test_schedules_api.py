"""Schedules through the real server: `/api/schedules`, runs on the real
clock, the history filter, admin-only access and the live topic."""

import json
import time

import pytest

from helpers import wait_for, write_script, ws_connect


@pytest.fixture(scope="module")
def actions(server):
    from helpers import sign_in
    admin = sign_in(server)
    write_script(server, "say.sh", '#!/bin/sh\necho "say $1 as $TORU_USER"\n')
    write_script(server, "hold.sh", '#!/bin/sh\necho holding\nwhile [ ! -e "$0.open" ]; do sleep 0.05; done\n')
    made = {}
    for name, script, extra in [("Say", "say.sh", {"arguments": [{"name": "word", "type": "text"}]}),
                                ("Hold", "hold.sh", {}),
                                ("Secret", "say.sh", {"arguments": [{"name": "pin", "type": "password",
                                                                     "required": True}]})]:
        res = admin.post("/api/quick-actions", json={"name": name, "script": script, **extra})
        assert res.status == 201, res
        made[name] = res.json["quick_action"]["id"]
    return made


def create(admin, **fields):
    res = admin.post("/api/schedules", json=fields)
    assert res.status == 201, res
    return res.json["schedule"]


def history(admin, **query):
    text = "&".join(f"{k}={v}" for k, v in query.items())
    return admin.get(f"/api/history?{text}&page_size=200").json["tasks"]


def test_every_two_seconds_runs_about_three_times_in_six_seconds(server, admin, actions):
    made = create(admin, name="every-2s", quick_action_id=actions["Say"], cron="*/2 * * * * *",
                  arguments={"word": "tick"}, timezone="UTC")
    assert made["description"] == "Every second second of every minute"
    assert len(made["next_runs"]) == 5
    try:
        found = wait_for(lambda: (rows := history(admin, schedule_id=made["id"])) and len(rows) >= 3 and rows,
                         timeout=12, message="three scheduled runs")
    finally:
        admin.put(f"/api/schedules/{made['id']}", json={"enabled": False})
    first, third = found[-1], found[-3]
    assert 3 <= third["started_at"] - first["started_at"] <= 5.5  # due at :00, :02, :04 (± start latency)
    for row in found:
        assert (row["trigger"], row["started_by"], row["schedule_id"], row["schedule_name"]) == \
            ("schedule", "schedule:every-2s", made["id"], "every-2s")
        assert row["arguments"] == {"word": "tick"}
    output = admin.get(f"/api/history/{first['id']}").json["task"]["output"]
    assert output == "say tick as schedule:every-2s\n"
    after = admin.get(f"/api/schedules/{made['id']}").json["schedule"]
    assert after["next_runs"] == [] and after["last_run"]["task_id"] in {r["id"] for r in found}
    assert {r["id"] for r in history(admin, trigger="schedule")} >= {r["id"] for r in found}
    assert not {r["id"] for r in history(admin, trigger="quick_action")} & {r["id"] for r in found}


@pytest.mark.parametrize("fields, field, words", [
    ({"cron": "0 24 * * *"}, "cron", "field 2 (hour): 24 is out of range 0–23"),
    ({"cron": "* * *"}, "cron", "cron has 3 fields"),
    ({"timezone": "Mars/Olympus"}, "timezone", "'Mars/Olympus' is not a known IANA time zone"),
    ({"overlap": "sometimes"}, "overlap", "One of skip, queue, allow"),
    ({"catch_up": 1}, "catch_up", "One of skip, once"),
    ({"enabled": "yes"}, "enabled", "true or false"),
    ({"name": " "}, "name", "Required"),
    ({"quick_action_id": "nope"}, "quick_action_id", "No quick action with that id"),
    ({"arguments": {"word": "a\x00b"}}, "word", "NUL"),
    ({"arguments": {"other": 1}}, "other", "Unknown argument"),
])
def test_bad_fields_answer_400_in_words_and_store_nothing(admin, actions, fields, field, words):
    before = admin.get("/api/schedules").json["schedules"]
    body = dict({"name": "bad", "quick_action_id": actions["Say"], "cron": "0 3 * * *"}, **fields)
    res = admin.post("/api/schedules", json=body)
    assert res.status == 400, res
    assert words in res.json["fields"][field], res.json
    assert admin.get("/api/schedules").json["schedules"] == before


def test_preview_gives_words_and_five_times_or_the_reason(admin):
    res = admin.get("/api/schedules/preview?cron=0+3+*+*+*&timezone=Europe/Berlin")
    assert res.status == 200 and res.json["description"] == "At 03:00 every day"
    assert len(res.json["next"]) == 5 and all(t.endswith(("+01:00", "+02:00")) for t in res.json["next"])
    res = admin.get("/api/schedules/preview?cron=0+24+*+*+*")
    assert (res.status, res.json["error"]) == (400, "field 2 (hour): 24 is out of range 0–23")
    assert res.json["fields"] == {"cron": "field 2 (hour): 24 is out of range 0–23"}
    res = admin.get("/api/schedules/preview?cron=@daily&timezone=Nowhere/Else")
    assert res.status == 400 and list(res.json["fields"]) == ["timezone"]


def test_a_password_argument_cannot_be_scheduled(admin, actions):
    res = admin.post("/api/schedules", json={"name": "pw", "quick_action_id": actions["Secret"],
                                             "cron": "@daily", "arguments": {"pin": "1234"}})
    assert res.status == 400 and "never stored" in res.json["fields"]["pin"]


def test_edit_disable_and_delete(admin, actions):
    made = create(admin, name="nightly", quick_action_id=actions["Say"], cron="@daily", timezone="Europe/Berlin")
    assert made["next_runs"][0].endswith("T00:00:00+01:00") and made["catch_up"] == "skip"
    res = admin.put(f"/api/schedules/{made['id']}", json={"cron": "30 4 * * 1", "overlap": "queue"})
    assert res.status == 200
    changed = res.json["schedule"]
    assert (changed["description"], changed["overlap"], changed["name"]) == ("At 04:30 on Monday", "queue", "nightly")
    duplicate = admin.post("/api/schedules", json={"name": "NIGHTLY", "quick_action_id": actions["Say"],
                                                   "cron": "@daily"})
    assert duplicate.status == 400 and duplicate.json["fields"]["name"] == "Another schedule has this name"
    assert admin.put(f"/api/schedules/{made['id']}", json={"cron": "61 * * * *"}).status == 400
    assert admin.get(f"/api/schedules/{made['id']}").json["schedule"]["cron"] == "30 4 * * 1"
    assert admin.put(f"/api/schedules/{made['id']}", json={}).status == 400
    off = admin.put(f"/api/schedules/{made['id']}", json={"enabled": False}).json["schedule"]
    assert off["enabled"] is False and off["next_runs"] == []
    assert admin.delete(f"/api/schedules/{made['id']}").json == {"success": True}
    assert admin.get(f"/api/schedules/{made['id']}").status == 404
    assert admin.get("/api/schedules/abc").status == 404


def test_run_now_follows_the_overlap_rule(server, admin, actions):
    made = create(admin, name="holder", quick_action_id=actions["Hold"], cron="@yearly")
    res = admin.post(f"/api/schedules/{made['id']}/run")
    assert res.status == 201
    task_id = res.json["task_id"]
    try:
        again = admin.post(f"/api/schedules/{made['id']}/run")
        assert again.status == 409 and "still going" in again.json["error"]
        admin.put(f"/api/schedules/{made['id']}", json={"overlap": "queue"})
        assert admin.post(f"/api/schedules/{made['id']}/run").status == 202
        assert admin.post(f"/api/schedules/{made['id']}/run").status == 409  # one waits at most
        row = admin.get(f"/api/history/{task_id}").json["task"]
        assert (row["trigger"], row["started_by"]) == ("schedule", "schedule:holder")
    finally:
        (server.data_dir / "scripts" / "hold.sh.open").touch()
    wait_for(lambda: len(history(admin, schedule_id=made["id"], status="success")) == 2, timeout=20,
             message="the held run and the queued one after it to end")


def test_history_filters_by_trigger_and_several_statuses(admin):
    res = admin.get("/api/history?trigger=cron")
    assert res.status == 400 and "trigger must be one of ws, quick_action, rerun, schedule" in res.json["error"]
    assert admin.get("/api/history?status=failed,nope").status == 400
    both = admin.get("/api/history?status=success,skipped&page_size=200").json["tasks"]
    assert both and {t["status"] for t in both} <= {"success", "skipped"}
    success = admin.get("/api/history?status=success&page_size=200").json["total"]
    skipped = admin.get("/api/history?status=skipped&page_size=200").json["total"]
    assert admin.get("/api/history?status=success,skipped").json["total"] == success + skipped


def test_clients_get_403_and_no_live_topic(server, admin, make_user, actions):
    client, _ = make_user()
    assert client.get("/api/schedules").status == 403
    assert client.get("/api/schedules/preview?cron=@daily").status == 403
    assert client.post("/api/schedules", json={"name": "x", "quick_action_id": actions["Say"],
                                               "cron": "@daily"}).status == 403
    ws = ws_connect(server, client)
    try:
        ws.send(json.dumps({"type": "subscribe", "topic": "schedules"}))
        reply = json.loads(ws.recv())
        assert reply["type"] == "error" and "Only admins" in reply["data"]
    finally:
        ws.close()


def test_admins_hear_every_change_on_the_schedules_topic(server, admin, actions):
    ws = ws_connect(server, admin)
    try:
        ws.send(json.dumps({"type": "subscribe", "topic": "schedules"}))
        made = create(admin, name="heard", quick_action_id=actions["Say"], cron="@monthly")
        deadline = time.monotonic() + 10
        while True:
            message = json.loads(ws.recv())
            if message["type"] == "schedules":
                break
            assert time.monotonic() < deadline
        assert message["data"] == {"schedule_id": made["id"]}
    finally:
        ws.close()


@pytest.mark.parametrize("path", ["/api/schedules", "/api/quick-actions", "/api/alerts/rules",
                                  "/api/alerts/channels", "/api/tokens"])
def test_a_body_of_many_long_unknown_keys_is_refused_briefly_and_changes_nothing(admin, path):
    listing = path.rsplit("/", 1)[-1].replace("-", "_")
    before = admin.get(path).json
    body = {f"{i:03d}" + "x" * 5_000: 1 for i in range(200)}
    res = admin.post(path, json=dict(body, name="flood"))
    assert res.status == 400 and res.json["error"].startswith("Unknown field(s): 000xxx"), res
    assert len(res.json["error"]) < 600
    assert admin.get(path).json[listing] == before[listing]
