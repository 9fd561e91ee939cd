"""Alerts against real servers (docs/alerts.md): the rules API, who sees
what, task_failed from a real failing script, a lock-out from real failed
sign-ins, the `alerts` topic over a real WebSocket, a crash-looping fixture
plugin, `ctx.notify` from a real SDK plugin, and real webhook deliveries to
a receiver on 127.0.0.1 across a restart."""

import hashlib
import hmac
import http.server
import json
import threading

import pytest

from helpers import ROOT, TaskSocket, install_plugin, sign_in, wait_for, write_script

SECRET = "shh-alert-secret"


def create_rule(admin, **fields):
    res = admin.post("/api/alerts/rules", json=fields)
    assert res.status == 201, res
    return res.json["rule"]


def history(client, **query):
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    return client.get(f"/api/alerts?{qs}").json["history"]


def rule_events(client, rule_id):
    return [a for a in history(client, page_size=200) if a["rule_id"] == rule_id]


# --- the rules API ----------------------------------------------------------------------------------
def test_bad_rules_are_refused_in_words_and_nothing_is_saved(admin):
    before = admin.get("/api/alerts/rules").json["rules"]
    cases = [
        ({"name": "x", "kind": "metric"}, "condition"),
        ({"name": "x", "kind": "weather", "condition": {}}, "kind"),
        ({"name": "x", "kind": "metric", "condition": {"metric": "cpu_percent", "op": "==", "threshold": 1}},
         "condition.op"),
        ({"name": "x", "kind": "metric", "condition": {"metric": "gpu", "op": ">", "threshold": 1}},
         "condition.metric"),
        ({"name": "x", "kind": "metric", "condition": {"metric": "cpu_percent", "op": ">", "threshold": "high"}},
         "condition.threshold"),
        ({"name": "x", "kind": "metric",
          "condition": {"metric": "cpu_percent", "op": ">", "threshold": 1, "labels": {"mount": "/"}}},
         "condition.labels"),
        ({"name": "x", "kind": "metric",
          "condition": {"metric": "cpu_percent", "op": ">", "threshold": 1, "for_seconds": -5}},
         "condition.for_seconds"),
        ({"name": "x", "kind": "task_failed", "condition": {"statuses": ["cancelled"]}}, "condition.statuses"),
        ({"name": "x", "kind": "plugin", "condition": {"event": "exploded"}}, "condition.event"),
        ({"name": "x", "kind": "security", "condition": {"events": []}}, "condition.events"),
        ({"name": "x", "kind": "security", "condition": {}, "channels": [424242]}, "channels"),
        ({"name": "x", "kind": "security", "condition": {}, "repeat_minutes": 1.5}, "repeat_minutes"),
        ({"name": "x", "kind": "security", "condition": {}, "severity": "loud"}, "severity"),
        ({"name": "", "kind": "security", "condition": {}}, "name"),
    ]
    for body, field in cases:
        res = admin.post("/api/alerts/rules", json=body)
        assert res.status == 400, (body, res)
        assert field in res.json.get("fields", {}), (body, res.json)
        assert len(res.json["error"]) > 10
    res = admin.post("/api/alerts/rules", json={"name": "x", "kind": "security", "condition": {}, "colour": "red"})
    assert res.status == 400 and "colour" in res.json["error"]
    unknown_channel = admin.post("/api/alerts/rules", json={"name": "x", "kind": "security", "condition": {},
                                                            "channels": [424242]}).json["fields"]["channels"]
    assert "424242" in unknown_channel
    assert admin.get("/api/alerts/rules").json["rules"] == before


def test_rules_are_created_changed_and_deleted(admin):
    rule = create_rule(admin, name="Disk root", kind="metric",
                       condition={"metric": "disk_percent", "op": ">=", "threshold": 90, "labels": {"mount": "/"}})
    assert rule["condition"] == {"metric": "disk_percent", "op": ">=", "threshold": 90, "for_seconds": 0,
                                 "labels": {"mount": "/"}}
    assert (rule["severity"], rule["channels"], rule["repeat_minutes"], rule["notify_resolved"], rule["enabled"]) == \
        ("warning", [], 0, True, True)
    assert admin.post("/api/alerts/rules", json={"name": "disk ROOT", "kind": "security",
                                                 "condition": {}}).status == 400  # names are unique
    res = admin.put(f"/api/alerts/rules/{rule['id']}", json={"severity": "critical", "enabled": False})
    assert res.status == 200 and (res.json["rule"]["severity"], res.json["rule"]["enabled"]) == ("critical", False)
    res = admin.put(f"/api/alerts/rules/{rule['id']}", json={"kind": "plugin"})
    assert res.status == 400 and "condition" in res.json["fields"]
    assert admin.get(f"/api/alerts/rules/{rule['id']}").json["rule"]["kind"] == "metric"
    assert admin.delete(f"/api/alerts/rules/{rule['id']}").json == {"success": True}
    assert admin.get(f"/api/alerts/rules/{rule['id']}").status == 404
    assert admin.put("/api/alerts/rules/999999", json={"enabled": True}).status == 404


def test_the_catalogue_shows_current_values(admin):
    wait_for(lambda: not admin.get("/api/resources").json["warming_up"], message="a sample")
    catalogue = admin.get("/api/alerts/catalogue").json
    metrics = {m["metric"]: m for m in catalogue["metrics"]}
    assert metrics["disk_percent"]["label"] == "mount" and metrics["cpu_percent"]["label"] is None
    assert isinstance(metrics["cpu_percent"]["current"][0]["value"], (int, float))
    assert catalogue["ops"] == [">", ">=", "<", "<="]


# --- events from real parts, and who sees them -------------------------------------------------------------
def test_a_failing_script_raises_task_failed_for_its_owner_and_admins(server, admin, make_user):
    write_script(server, "alerts-fail.sh", "#!/bin/sh\necho broken >&2\nexit 3\n")
    action = admin.post("/api/quick-actions", json={"name": "Alert fail", "script": "alerts-fail.sh"}).json
    action_id = action["quick_action"]["id"]
    rule = create_rule(admin, name="Failed actions", kind="task_failed", severity="critical",
                       condition={"quick_action_ids": [action_id]})
    alice, _ = make_user()
    bob, _ = make_user()
    task_id = alice.post(f"/api/quick-actions/{action_id}/execute").json["task_id"]
    [alert] = wait_for(lambda: rule_events(admin, rule["id"]), message="the task_failed alert")
    assert alert["status"] == "event" and alert["labels"]["task_id"] == task_id
    assert alert["value"] == 3 and alert["summary"] == "Task alerts-fail.sh: Exit code 3"
    assert alert["metric"] is None
    assert [a["id"] for a in rule_events(alice, rule["id"])] == [alert["id"]]
    assert rule_events(bob, rule["id"]) == []  # another client's task
    write_script(server, "alerts-ok.sh", "#!/bin/sh\nexit 0\n")
    ok = TaskSocket(server, admin)
    try:
        ok.run_to_end("alerts-ok.sh")
        ok.run_to_end("alerts-fail.sh")  # not the quick action the rule names
    finally:
        ok.close()
    assert len(rule_events(admin, rule["id"])) == 1


def test_a_lockout_raises_a_security_alert_only_admins_see(server, admin, make_user):
    rule = create_rule(admin, name="Lock-outs", kind="security", condition={"events": ["lockout"]})
    attacker = server.client()
    for _ in range(3):
        assert attacker.post("/api/auth/login", json={"username": "victim", "password": "nope"}).status == 401
    assert attacker.post("/api/auth/login", json={"username": "victim", "password": "nope"}).status == 429
    [alert] = wait_for(lambda: rule_events(admin, rule["id"]), message="the lock-out alert")
    assert alert["labels"]["username"] == "victim" and alert["labels"]["event"] == "lockout"
    assert "victim" in alert["summary"]
    client, _ = make_user()
    assert rule_events(client, rule["id"]) == []
    assert client.get("/api/alerts/rules").status == 403
    assert client.post("/api/alerts/rules", json={"name": "x", "kind": "security", "condition": {}}).status == 403


def test_the_alerts_topic_pushes_to_those_who_may_see(server, admin, make_user):
    rule = create_rule(admin, name="New tokens", kind="security", condition={"events": ["token_created"]})
    client, _ = make_user()
    admin_ws, client_ws = TaskSocket(server, admin), TaskSocket(server, client)
    try:
        for ws in (admin_ws, client_ws):
            ws.send(type="subscribe", topic="alerts")
            ws.send(type="ping")
            ws.until(lambda m: m["type"] == "pong")
        assert admin.post("/api/tokens", json={"name": "deploy", "scopes": ["read"]}).status == 201
        pushed = admin_ws.until(lambda m: m["type"] == "alerts" and m["data"].get("event") == "event")[-1]["data"]
        assert pushed["alert"]["rule_id"] == rule["id"] and pushed["alert"]["labels"]["token"] == "deploy"
        client_ws.send(type="ping")
        got = client_ws.until(lambda m: m["type"] == "pong")
        assert not [m for m in got if m["type"] == "alerts"]  # a security alert is for admins
    finally:
        admin_ws.close()
        client_ws.close()


def test_a_new_admin_raises_a_security_alert_and_a_new_client_does_not(admin, make_user):
    rule = create_rule(admin, name="New admins", kind="security", condition={"events": ["admin_created"]})
    _, client = make_user()
    _, boss = make_user(role="admin")
    events = wait_for(lambda: rule_events(admin, rule["id"]), message="the admin_created alert")
    assert [e["labels"]["event"] for e in events] == ["admin_created"]
    assert boss["username"] in events[0]["summary"] and client["username"] not in events[0]["summary"]


def test_silence_needs_an_admin_and_an_active_alert(admin, make_user):
    client, _ = make_user()
    assert client.post("/api/alerts/1/silence", json={"minutes": 5}).status == 403
    assert admin.post("/api/alerts/999999/silence", json={"minutes": 5}).status == 404
    res = admin.post("/api/alerts/1/silence", json={"minutes": -1})
    assert res.status == 400 and "minutes" in res.json["error"]


# --- plugins ---------------------------------------------------------------------------------------------------
def test_a_crash_looping_plugin_fires_then_is_disabled(fresh_server):
    server = fresh_server(env={"TORU_PLUGIN_BACKOFF_BASE": "0.05"}).start()
    admin = sign_in(server)
    loop = create_rule(admin, name="Crash loop", kind="plugin", condition={"event": "crash_loop"})
    disabled = create_rule(admin, name="Given up", kind="plugin", severity="critical",
                           condition={"event": "disabled", "plugins": ["crashy"]})
    install_plugin(server.data_dir, "toolbox", "crashy")
    assert admin.post("/api/plugins/rescan").status == 200

    def firing(rule_id):
        return [a for a in admin.get("/api/alerts").json["firing"] if a["rule_id"] == rule_id]
    [alert] = wait_for(lambda: firing(loop["id"]), timeout=30, message="the crash-loop alert")
    assert alert["labels"] == {"plugin": "crashy"} and alert["value"] >= 3
    [gone] = wait_for(lambda: firing(disabled["id"]), timeout=30, message="the disabled alert")
    assert gone["severity"] == "critical" and "disabled" in gone["summary"]


def test_a_plugin_notifies_through_the_sdk(fresh_server):
    server = fresh_server(env={"TEST_SDK_PATH": str(ROOT / "sdk_py")}).start()
    admin = sign_in(server)
    rule = create_rule(admin, name="Plugin alerts", kind="plugin", condition={"event": "notify"})
    install_plugin(server.data_dir, "notifier")
    admin.post("/api/plugins/rescan")
    wait_for(lambda: (admin.get("/api/plugins/notifier").json.get("plugin") or {}).get("state") == "running",
             timeout=30, message="notifier running")
    res = admin.get("/api/plugins/route/notifier/notify?count=8&severity=critical")
    assert res.status == 200 and res.json["sent"] == [True] * 8
    events = wait_for(lambda: len(rule_events(admin, rule["id"])) >= 6 and rule_events(admin, rule["id"]),
                      message="the notify alerts")
    assert len(events) == 6  # the rest were over the per-plugin limit
    assert {e["severity"] for e in events} == {"critical"}
    assert {e["labels"]["plugin"] for e in events} == {"notifier"}
    assert events[0]["summary"].endswith(": The nightly backup did not run")
    assert admin.get("/api/plugins/notifier").json["plugin"]["state"] == "running"


# --- real deliveries, across a restart ------------------------------------------------------------------------
class Receiver(http.server.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.received = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/hook", Receiver.received
    httpd.shutdown()
    httpd.server_close()


def test_a_firing_alert_is_delivered_once_and_survives_a_restart(fresh_server, tmp_path, receiver):
    url, received = receiver
    env = {"TORU_SAMPLE_INTERVAL": "0.2", "TORU_PUBLIC_URL": "https://panel.example.com/"}
    server = fresh_server(tmp_path / "data", env=env).start()
    admin = sign_in(server)
    channel = admin.post("/api/alerts/channels", json={"name": "hook", "type": "webhook",
                                                       "config": {"url": url, "secret": SECRET}})
    assert channel.status == 201, channel
    rule = create_rule(admin, name="Always", kind="metric", channels=[channel.json["channel"]["id"]],
                       condition={"metric": "memory_percent", "op": ">=", "threshold": 0})
    wait_for(lambda: received, message="the webhook delivery")
    headers, body = received[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert {k.lower(): v for k, v in headers.items()}["x-toru-signature"] == expected
    sent = json.loads(body)
    assert set(sent) == {"alert", "status", "severity", "summary", "value", "labels", "started_at", "resolved_at",
                         "host", "instance_id", "url"}
    assert (sent["alert"], sent["status"], sent["url"]) == ("Always", "firing", "https://panel.example.com/alerts")
    [firing] = [a for a in admin.get("/api/alerts").json["firing"] if a["rule_id"] == rule["id"]]
    assert firing["metric"] == "memory_percent"
    server.stop()

    again = fresh_server(tmp_path / "data", env=env).start()
    admin = sign_in(again)
    [after] = [a for a in admin.get("/api/alerts").json["firing"] if a["rule_id"] == rule["id"]]
    assert (after["id"], after["fired_at"], after["metric"]) == (firing["id"], firing["fired_at"], "memory_percent")
    first = admin.get("/api/resources").json["timestamp"]
    wait_for(lambda: admin.get("/api/resources").json["timestamp"] > first + 0.5, message="samples after the restart")
    assert len(received) == 1  # not announced again
    assert admin.put(f"/api/alerts/rules/{rule['id']}", json={"condition": {"metric": "memory_percent", "op": "<",
                                                                            "threshold": 0}}).status == 200
    assert not [a for a in admin.get("/api/alerts").json["firing"] if a["rule_id"] == rule["id"]]
