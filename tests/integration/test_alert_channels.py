"""Alert channels and delivery (docs/alerts.md#channels) through a real server:
real POSTs to a local receiver (body, HMAC signature checked here, each
preset's shape), the test button's words for success, 500, refused and
timeout, the hub staying fast while a receiver hangs, retries and isolation
in the real Dispatcher (its own gevent process over the server's database),
write-only secrets, validation that saves nothing, admins only."""

import hashlib
import hmac
import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from helpers import ROOT, ServerProcess, free_port, sign_in, wait_for

TIMEOUT = 1.0       # alert_delivery_timeout of the test server and the dispatcher
RETRY_BASE = 0.2    # alert_retry_base: attempts 1 → 2 after 0.2 s, 2 → 3 after 0.4 s
SECRET = "hook-secret-value-83kd"
TOKEN = "ntfy-token-value-h2p9"
BOT_TOKEN = "123456789:" + "AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQr"


class Receiver:
    """An HTTP server on 127.0.0.1 that records every request. The path
    chooses the answer: /status/<code>, /hang (until the test ends), else 200."""

    def __init__(self):
        self.requests = []
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                          "at": time.monotonic()})
                if self.path.startswith("/hang"):
                    receiver.release.wait(30)
                    return
                code = int(self.path.split("/")[2]) if self.path.startswith("/status/") else 200
                answer = b'{"ok": true}' if code == 200 else b"receiver says no"
                self.send_response(code)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def on(self, prefix):
        return [r for r in self.requests if r["path"].startswith(prefix)]

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def alert_server(tmp_path_factory):
    proc = ServerProcess(tmp_path_factory.mktemp("alerts") / "data", env={
        "TRUST_PROXY": "1",
        "TORU_TIMINGS": f"request_grace=0.5,alert_delivery_timeout={TIMEOUT},alert_retry_base={RETRY_BASE}"}).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def admin(alert_server):
    return sign_in(alert_server)


def create(admin, name, channel_type, config):
    res = admin.post("/api/alerts/channels", json={"name": name, "type": channel_type, "config": config})
    assert res.status == 201, res
    return res.json["channel"]


def send_test(admin, channel):
    res = admin.post(f"/api/alerts/channels/{channel['id']}/test", json={})
    assert res.status == 200, res
    return res.json


def test_a_generic_webhook_gets_the_notification_signed(admin, receiver):
    channel = create(admin, "generic", "webhook", {"url": receiver.url + "/generic?x=1", "secret": SECRET})
    answer = send_test(admin, channel)
    assert answer["ok"] is True and answer["result"].startswith("Delivered: 127.0.0.1:"), answer
    assert "HTTP 200" in answer["result"]
    got = receiver.on("/generic")[-1]
    assert got["path"] == "/generic?x=1" and got["headers"]["Content-Type"] == "application/json"
    expected = "sha256=" + hmac.new(SECRET.encode(), got["body"], hashlib.sha256).hexdigest()
    assert got["headers"]["X-Toru-Signature"] == expected
    body = json.loads(got["body"])
    assert set(body) == {"alert", "status", "severity", "summary", "value", "labels", "started_at",
                         "resolved_at", "host", "instance_id", "url"}
    assert (body["status"], body["severity"], body["value"], body["resolved_at"]) == ("firing", "info", None, None)
    assert body["instance_id"] == admin.get("/api/instance").json["instance_id"]
    assert body["started_at"].endswith("Z") and "generic" in body["summary"]
    delivery = answer["delivery"]
    assert (delivery["channel_id"], delivery["status"], delivery["attempt"], delivery["status_code"]) == \
        (channel["id"], "test", 1, 200)


def test_presets_shape_the_body_and_headers(admin, receiver):
    slack = create(admin, "slack", "webhook", {"preset": "slack", "url": receiver.url + "/slack/T0/B0/XX"})
    discord = create(admin, "discord", "webhook", {"preset": "discord", "url": receiver.url + "/discord/1/tok"})
    ntfy = create(admin, "ntfy", "webhook", {"preset": "ntfy", "url": receiver.url + "/ntfy/topic", "token": TOKEN})
    telegram = create(admin, "telegram", "webhook", {"preset": "telegram", "url": receiver.url,
                                                     "token": BOT_TOKEN, "chat_id": "-100123"})
    for channel in (slack, discord, ntfy, telegram):
        assert send_test(admin, channel)["ok"] is True, channel["name"]

    body = json.loads(receiver.on("/slack")[-1]["body"])
    assert "Toru test notification" in body["text"] and body["blocks"][0]["type"] == "section"
    assert body["blocks"][0]["text"]["type"] == "mrkdwn"

    body = json.loads(receiver.on("/discord")[-1]["body"])
    embed = body["embeds"][0]
    assert embed["title"].startswith("Firing: Toru test notification") and embed["color"] == 0x493FAA
    assert body["allowed_mentions"] == {"parse": []} and len(body["content"]) <= 2000
    assert {f["name"] for f in embed["fields"]} >= {"Severity", "Host", "Labels"}

    got = receiver.on("/ntfy")[-1]
    assert got["headers"]["Title"].startswith("Firing: Toru test notification")
    assert (got["headers"]["Priority"], got["headers"]["Tags"]) == ("default", "information_source,toru")
    assert got["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert got["headers"]["Content-Type"].startswith("text/plain") and b"works" in got["body"]

    got = receiver.on(f"/bot{BOT_TOKEN}/sendMessage")[-1]
    body = json.loads(got["body"])
    assert (body["chat_id"], body["parse_mode"]) == ("-100123", "HTML") and "<b>" in body["text"]


def test_the_test_button_answers_in_words(alert_server, admin, receiver):
    failing = create(admin, "answers-500", "webhook", {"url": receiver.url + "/status/500"})
    answer = send_test(admin, failing)
    assert answer["ok"] is False and answer["delivery"]["status_code"] == 500
    assert answer["result"].startswith("Not delivered: 127.0.0.1:") and "HTTP 500" in answer["result"]
    assert "receiver says no" in answer["result"]

    closed = create(admin, "nobody-home", "webhook", {"url": f"http://127.0.0.1:{free_port()}/"})
    answer = send_test(admin, closed)
    assert answer["ok"] is False and "connection refused" in answer["result"], answer

    hanging = create(admin, "hangs", "webhook", {"url": receiver.url + "/hang"})
    result, latencies = {}, []
    thread = threading.Thread(target=lambda: result.update(send_test(admin, hanging)))
    started = time.monotonic()
    thread.start()
    wait_for(lambda: receiver.on("/hang"), message="the hanging receiver to be called")
    while thread.is_alive():  # the hub answers others while one delivery waits on its receiver
        t = time.monotonic()
        assert admin.get("/api/health").status == 200
        latencies.append(time.monotonic() - t)
    thread.join()
    assert result["ok"] is False and "timed out" in result["result"] and "within 1 s" in result["result"]
    assert TIMEOUT * 0.9 <= time.monotonic() - started < TIMEOUT + 3
    assert len(latencies) >= 3 and max(latencies) < 0.5, latencies


def run_dispatcher(server, channel_ids, deadline=15):
    args = {"data_dir": str(server.data_dir), "channel_ids": channel_ids, "deadline": deadline,
            "timings": {"alert_delivery_timeout": TIMEOUT, "alert_retry_base": RETRY_BASE}}
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "fixtures" / "alert_dispatch.py"), json.dumps(args)],
                          capture_output=True, text=True, timeout=deadline + 15, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def deliveries(admin, channel):
    res = admin.get(f"/api/alerts/deliveries?channel_id={channel['id']}&page_size=200")
    assert res.status == 200, res
    return sorted(res.json["deliveries"], key=lambda d: d["id"])


def test_retries_with_backoff_and_a_hanging_channel_delays_no_other(alert_server, admin, receiver):
    good = create(admin, "dispatch-good", "webhook", {"url": receiver.url + "/d-good"})
    bad = create(admin, "dispatch-500", "webhook", {"url": receiver.url + "/status/503/d"})
    stuck = create(admin, "dispatch-hang", "webhook", {"url": receiver.url + "/hang/d"})
    before = time.monotonic()
    report = run_dispatcher(alert_server, [stuck["id"], bad["id"], good["id"]])
    assert report["finished"] is True and report["enqueue_seconds"] < 0.05, report

    # The good channel was served at once, not after the hanging one's timeouts.
    [arrived] = receiver.on("/d-good")
    first_hang = receiver.on("/hang/d")[0]["at"]
    assert arrived["at"] - first_hang < TIMEOUT / 2
    assert [json.loads(arrived["body"])["alert"]] == ["disk full"]

    calls = [r["at"] for r in receiver.on("/status/503/d") if r["at"] > before]
    assert len(calls) == 3
    assert calls[1] - calls[0] >= RETRY_BASE * 0.9 and calls[2] - calls[1] >= 2 * RETRY_BASE * 0.9, calls

    rows = deliveries(admin, bad)
    assert [(d["attempt"], d["ok"], d["status_code"], d["alert_id"], d["status"]) for d in rows] == \
        [(1, False, 503, 7, "firing"), (2, False, 503, 7, "firing"), (3, False, 503, 7, "firing")]
    rows = deliveries(admin, stuck)
    assert [d["attempt"] for d in rows] == [1, 2, 3] and all("timed out" in d["result"] for d in rows)
    assert all(TIMEOUT * 0.9 <= d["duration"] < TIMEOUT + 1 for d in rows)
    [row] = deliveries(admin, good)
    assert row["ok"] and row["status_code"] == 200 and row["channel_name"] == "dispatch-good"
    assert admin.get("/api/alerts/channels").json["channels"]  # the list still reads after the writes


def test_secrets_are_write_only(admin, receiver):
    channel = create(admin, "secretive", "webhook", {"url": receiver.url + "/sec", "secret": SECRET, "token": TOKEN})
    slack = create(admin, "slack-secret", "webhook", {"preset": "slack", "url": receiver.url + "/slack/T/B/SECRETPATH"})
    mail = create(admin, "mail-secret", "email", {"host": "127.0.0.1", "port": 2525, "security": "none",
                                                  "username": "ops", "password": "smtp-pass-value-77",
                                                  "from": "toru@example.com", "to": ["ops@example.com"]})
    assert channel["config"]["secret"] == {"set": True} and channel["config"]["token"] == {"set": True}
    assert slack["config"]["url"] == {"set": True} and mail["config"]["password"] == {"set": True}
    responses = [admin.get("/api/alerts/channels"), admin.get(f"/api/alerts/channels/{channel['id']}"),
                 admin.put(f"/api/alerts/channels/{channel['id']}", json={"name": "secretive2"}),
                 admin.put(f"/api/alerts/channels/{mail['id']}", json={"config": dict(mail["config"], port=2526)}),
                 admin.get("/api/alerts/deliveries")]
    for res in responses:
        assert res.status == 200, res
        for secret in (SECRET, TOKEN, "SECRETPATH", "smtp-pass-value-77"):
            assert secret not in res.text, (secret, res.text[:300])

    # Omitted: kept (still signed with the old secret). New value: used. null: cleared.
    def signature_used():
        send_test(admin, channel)
        got = receiver.on("/sec")[-1]
        return got["headers"].get("X-Toru-Signature"), got["body"]

    def signed_with(secret):
        header, body = signature_used()
        return header == "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()

    assert signed_with(SECRET)
    res = admin.put(f"/api/alerts/channels/{channel['id']}", json={"config": {"url": receiver.url + "/sec"}})
    assert res.json["channel"]["config"]["secret"] == {"set": True} and signed_with(SECRET)
    res = admin.put(f"/api/alerts/channels/{channel['id']}", json={"config": {"url": receiver.url + "/sec",
                                                                              "secret": "another-one-123"}})
    assert res.status == 200 and signed_with("another-one-123")
    res = admin.put(f"/api/alerts/channels/{channel['id']}", json={"config": {"url": receiver.url + "/sec",
                                                                              "secret": None, "token": ""}})
    assert res.json["channel"]["config"]["secret"] == {"set": False}
    assert res.json["channel"]["config"]["token"] == {"set": False}
    assert signature_used()[0] is None


@pytest.mark.parametrize("body, field", [
    ({"name": "v", "type": "webhook", "config": {"url": "ftp://example.com/x"}}, "config.url"),
    ({"name": "v", "type": "webhook", "config": {"url": "http://"}}, "config.url"),
    ({"name": "v", "type": "webhook", "config": {"preset": "teams", "url": "https://example.com"}}, "config.preset"),
    ({"name": "v", "type": "webhook", "config": {"preset": "telegram", "token": "nope", "chat_id": "1"}},
     "config.token"),
    ({"name": "v", "type": "webhook", "config": {"url": "https://example.com", "chat_id": "1"}}, "config.chat_id"),
    ({"name": "v", "type": "email", "config": {"host": "smtp.example.com", "from": "not-an-address",
                                              "to": ["ops@example.com"]}}, "config.from"),
    ({"name": "v", "type": "email", "config": {"host": "smtp.example.com", "port": 70000,
                                              "from": "t@example.com", "to": ["ops@example.com"]}}, "config.port"),
    ({"name": "v", "type": "email", "config": {"host": "smtp.example.com", "from": "t@example.com",
                                              "to": ["a@example.com", "b@@example"]}}, "config.to"),
    ({"name": "v", "type": "email", "config": {"host": "smtp.example.com", "security": "ssl",
                                              "from": "t@example.com", "to": ["a@example.com"]}}, "config.security"),
    ({"name": "v", "type": "pager", "config": {}}, "type"),
    ({"name": "", "type": "webhook", "config": {"url": "https://example.com"}}, "name"),
])
def test_invalid_channels_are_refused_in_words_and_nothing_is_saved(admin, body, field):
    before = admin.get("/api/alerts/channels").json["channels"]
    res = admin.post("/api/alerts/channels", json=body)
    assert res.status == 400, res
    assert field in res.json["fields"] and res.json["error"].startswith("Channel not saved"), res.json
    assert admin.get("/api/alerts/channels").json["channels"] == before


def test_a_bad_update_changes_nothing(admin, receiver):
    channel = create(admin, "stays", "webhook", {"url": receiver.url + "/stays", "secret": SECRET})
    for change in ({"config": {"url": "gopher://x"}}, {"name": " "}, {"type": "email"}, {"colour": "red"}):
        res = admin.put(f"/api/alerts/channels/{channel['id']}", json=change)
        assert res.status == 400, (change, res)
    assert admin.get(f"/api/alerts/channels/{channel['id']}").json["channel"] == channel
    assert admin.put("/api/alerts/channels/99999", json={"name": "x"}).status == 404
    assert admin.post("/api/alerts/channels/99999/test", json={}).status == 404


def test_apprise_is_offered_only_when_installed(admin):
    types = admin.get("/api/alerts/channels").json["types"]
    try:
        import apprise  # noqa: F401
        installed = True
    except ImportError:
        installed = False
    assert types["apprise"]["available"] is installed
    if not installed:
        assert "pip install apprise" in types["apprise"]["reason"]
        res = admin.post("/api/alerts/channels", json={"name": "ap", "type": "apprise",
                                                       "config": {"urls": ["json://127.0.0.1/"]}})
        assert res.status == 400 and "Apprise is not installed" in res.json["error"], res


def test_delete_and_who_may_touch_channels(alert_server, admin, receiver):
    channel = create(admin, "to-delete", "webhook", {"url": receiver.url + "/del"})
    send_test(admin, channel)
    assert admin.post("/api/users", json={"username": "alertclient", "password": "client-pass-value-1234",
                                          "role": "client"}).status == 201
    client = sign_in(alert_server, "alertclient", "client-pass-value-1234")
    calls = [("GET", "/api/alerts/channels"), ("POST", "/api/alerts/channels"),
             ("PUT", f"/api/alerts/channels/{channel['id']}"), ("DELETE", f"/api/alerts/channels/{channel['id']}"),
             ("POST", f"/api/alerts/channels/{channel['id']}/test"), ("GET", "/api/alerts/deliveries")]
    for method, path in calls:
        assert client.request(method, path, json_body={} if method in ("POST", "PUT") else None).status == 403
        assert alert_server.client().request(method, path).status in (401, 403)
    assert admin.delete(f"/api/alerts/channels/{channel['id']}").status == 200
    assert admin.get(f"/api/alerts/channels/{channel['id']}").status == 404
    assert admin.get(f"/api/alerts/deliveries?channel_id={channel['id']}").json["deliveries"] == []
    assert admin.get("/api/alerts/deliveries?channel_id=abc").status == 400



def test_a_channel_rules_send_to_is_not_deleted(admin, receiver):
    channel = create(admin, "in-use", "webhook", {"url": receiver.url + "/in-use"})
    res = admin.post("/api/alerts/rules", json={"name": "lock-outs to in-use", "kind": "security", "condition": {},
                                                "severity": "warning", "channels": [channel["id"]]})
    assert res.status == 201, res
    rule = res.json["rule"]
    res = admin.delete(f"/api/alerts/channels/{channel['id']}")
    assert res.status == 409 and "lock-outs to in-use" in res.json["error"], res
    assert res.json["rules"] == [{"id": rule["id"], "name": "lock-outs to in-use"}]
    assert admin.get(f"/api/alerts/channels/{channel['id']}").status == 200
    assert admin.put(f"/api/alerts/rules/{rule['id']}", json={"channels": []}).status == 200
    assert admin.delete(f"/api/alerts/channels/{channel['id']}").status == 200
