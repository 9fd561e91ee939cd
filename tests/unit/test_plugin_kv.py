"""Plugin KV: request shapes, namespaces and limits, on a real SQLite store."""

import pytest

from toru.plugins import kv as kv_mod
from toru.plugins.kv import PluginKV
from toru.store import Store


@pytest.fixture
def kv(tmp_path):
    store = Store(tmp_path / "toru.db")
    yield PluginKV(store)
    store.close()


def ask(kv, plugin_id, message):
    return kv.handle(plugin_id, message)["payload"]


def test_every_request_shape_is_understood_and_answered_in_the_original_shape(kv):
    reply = kv.handle("a", {"type": "kv", "request_id": "k1", "payload": {"action": "set", "key": "x", "value": "1"}})
    assert reply["type"] == "kv" and reply["request_id"] == "k1" and reply["timestamp"]
    assert reply["payload"] == {"type": "kv", "request_id": "k1", "value": "1"}
    assert ask(kv, "a", {"type": "kv", "action": "GET", "key": "x"})["value"] == "1"
    assert ask(kv, "a", {"type": "kv", "payload": {"payload": {"action": "Get", "key": "x"}}})["value"] == "1"
    assert ask(kv, "a", {"type": "kv", "payload": {"request_id": "k9", "action": "get", "key": "x"}})["request_id"] == "k9"


def test_namespaces_are_separate(kv):
    ask(kv, "a", {"action": "set", "key": "k", "value": "A"})
    ask(kv, "b", {"action": "set", "key": "k", "value": "B", "plugin_id": "a"})  # a claimed id is ignored
    assert ask(kv, "a", {"action": "get", "key": "k"})["value"] == "A"
    assert ask(kv, "b", {"action": "list"})["keys"] == ["k"]


def test_limits_and_bad_requests_get_error_replies_and_change_nothing(kv, monkeypatch):
    too_big = "x" * (kv_mod.MAX_VALUE + 1)
    assert "larger than" in ask(kv, "a", {"action": "set", "key": "k", "value": too_big})["error"]
    assert ask(kv, "a", {"action": "get", "key": "k"})["value"] is None
    for bad in ({"action": "set", "key": "k", "value": 5}, {"action": "set", "key": "k"},
                {"action": "get", "key": ""}, {"action": "drop", "key": "k"}, {"key": "k"}):
        assert ask(kv, "a", bad)["error"], bad
    monkeypatch.setattr(kv_mod, "MAX_KEYS", 3)
    for i in range(3):
        ask(kv, "a", {"action": "set", "key": f"k{i}", "value": "v"})
    assert "3 keys" in ask(kv, "a", {"action": "set", "key": "k9", "value": "v"})["error"]
    assert "error" not in ask(kv, "a", {"action": "set", "key": "k0", "value": "new"})  # replacing is fine
    assert ask(kv, "a", {"action": "list", "prefix": "k"})["keys"] == ["k0", "k1", "k2"]
