"""The hub: topics fan out one encoding, handlers are found by type (and
key), clients subscribe by name only to public topics, and a stuck
subscriber of a back-pressured topic is dropped, not waited on forever.
Real WebSockets are covered by the integration tests (test_tasks,
test_resources_api, test_attacks)."""

import json

from toru.live import Connection, Hub

SUBSCRIBER_BACKLOG = 2


def make_hub():
    return Hub(user_for_token=lambda token: {"username": "t", "role": "admin"}, revalidate_every=3600)


def connection():
    return Connection(websocket=None, user={"username": "t", "role": "admin"})  # no writer: nothing drains


def drain(conn):
    return [conn.outbox.get_nowait() for _ in range(conn.outbox.qsize())]


def test_publish_sends_type_equal_to_topic_encoded_once():
    hub = make_hub()
    topic = hub.topic("resources", public=True)
    a, b = connection(), connection()
    hub.dispatch(a, json.dumps({"type": "subscribe", "topic": "resources"}))
    hub.dispatch(b, json.dumps({"type": "subscribe", "topic": "resources"}))
    topic.publish({"cpu_percent": 3.5})
    [sent_a], [sent_b] = drain(a), drain(b)
    assert sent_a is sent_b  # one encoding shared by every subscriber
    assert json.loads(sent_a) == {"type": "resources", "data": {"cpu_percent": 3.5}}


def test_unsubscribe_and_unknown_or_private_topics():
    hub = make_hub()
    public = hub.topic("plugins", public=True)
    hub.topic("task:abc")  # private: joined by its feature after an access check
    conn = connection()
    hub.dispatch(conn, json.dumps({"type": "subscribe", "topic": "task:abc"}))
    hub.dispatch(conn, json.dumps({"type": "subscribe", "topic": "nope"}))
    errors = drain(conn)
    assert [e["type"] for e in errors] == ["error", "error"]
    assert "Unknown topic" in errors[0]["data"] and "plugins" in errors[0]["data"]
    hub.dispatch(conn, json.dumps({"type": "subscribe", "topic": "plugins"}))
    assert conn in public.subscribers and public in conn.topics
    hub.dispatch(conn, json.dumps({"type": "unsubscribe", "topic": "plugins"}))
    assert conn not in public.subscribers and not conn.topics


def test_handlers_by_type_and_by_key():
    hub = make_hub()
    seen = []
    hub.handle("subscribe", lambda conn, message: seen.append(("task", message["task_id"])), key="task_id")
    hub.handle("run", lambda conn, message: seen.append(("run", message.get("script"))))
    conn = connection()
    hub.topic("resources", public=True)
    hub.dispatch(conn, json.dumps({"type": "subscribe", "task_id": "t1"}))
    hub.dispatch(conn, json.dumps({"type": "subscribe", "topic": "resources"}))
    hub.dispatch(conn, json.dumps({"type": "run", "script": "a.sh"}))
    hub.dispatch(conn, json.dumps({"type": "ping"}))
    assert seen == [("task", "t1"), ("run", "a.sh")]
    assert drain(conn) == [{"type": "pong"}]
    assert conn in hub.topics["resources"].subscribers


def test_bad_messages_get_errors_and_a_failing_handler_names_the_request():
    hub = make_hub()

    def boom(conn, message):
        raise ValueError("not for clients")
    hub.handle("explode", boom)
    conn = connection()
    for raw in ["not json", "[1]", "[" * 30_000 + "]" * 30_000, json.dumps({"type": 5}),
                json.dumps({"type": "nope"}), "x" * (70 * 1024)]:
        hub.dispatch(conn, raw)
    hub.dispatch(conn, json.dumps({"type": "explode", "task_id": "t9"}))
    replies = drain(conn)
    assert [r["type"] for r in replies] == ["error"] * 7
    assert replies[-1] == {"type": "error", "data": "Internal error", "task_id": "t9"}


def test_a_stuck_subscriber_of_a_back_pressured_topic_is_dropped():
    hub = make_hub()
    topic = hub.topic("task:x")
    stuck, fine = connection(), connection()
    topic.add(stuck)
    topic.add(fine)
    for i in range(SUBSCRIBER_BACKLOG + 1):
        stuck.send({"n": i})
    stalled = topic.send({"type": "stdout", "task_id": "x", "data": "hi"}, backlog=SUBSCRIBER_BACKLOG, stall=0.05)
    assert stalled == [stuck]
    assert topic.subscribers == {fine} and not stuck.topics
    assert [json.loads(m) for m in drain(fine)] == [{"type": "stdout", "task_id": "x", "data": "hi"}]


def test_dropping_a_topic_releases_its_subscribers():
    hub = make_hub()
    conn = connection()
    hub.topic("task:y").add(conn)
    hub.drop_topic("task:y")
    assert "task:y" not in hub.topics and not conn.topics
