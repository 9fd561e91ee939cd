"""How a notification is shaped for each webhook preset and for email, and
how channel configs keep their secrets (toru/alerts/presets.py, channels.py)."""

import json
from email.header import decode_header, make_header

import pytest

from toru.alerts import presets
from toru.alerts.channels import check_config, merge_secrets, public_config
from toru.errors import Invalid

RESOLVED = {"alert": "Disk <full> & more", "status": "resolved", "severity": "critical",
            "summary": "@everyone / is back to 60% <ok>", "value": 60.0, "labels": {"mount": "/"},
            "started_at": "2026-01-02T03:04:05Z", "resolved_at": "2026-01-02T04:00:00Z", "host": "web1",
            "instance_id": "iid", "url": "https://toru.example.com/alerts?x=1&y=2"}


def test_slack_escapes_its_three_characters():
    body = presets.slack(RESOLVED)
    assert "Disk &lt;full&gt; &amp; more" in body["text"] and "<full>" not in json.dumps(body)
    assert "<https://toru.example.com/alerts?x=1&y=2|Open in Toru>" in body["blocks"][0]["text"]["text"]
    assert body["text"].startswith("✅ Resolved:")


def test_discord_is_green_when_resolved_and_pings_nobody():
    body = presets.discord(dict(RESOLVED, summary="x" * 5000))
    embed = body["embeds"][0]
    assert embed["color"] == 0x2E9E5B and len(embed["description"]) == 4096
    assert embed["timestamp"] == RESOLVED["resolved_at"] and body["allowed_mentions"] == {"parse": []}


def test_ntfy_headers_and_a_non_ascii_title():
    headers, body = presets.ntfy(dict(RESOLVED, alert="Plattenplatz knapp – Ärger", status="firing"))
    assert (headers["Priority"], headers["Tags"]) == ("urgent", "rotating_light,toru")
    assert headers["Title"].startswith("=?utf-8?b?") and headers["Title"].isascii()
    assert str(make_header(decode_header(headers["Title"]))).startswith("Firing: Plattenplatz knapp – Ärger")
    assert headers["Click"] == RESOLVED["url"] and body.startswith(b"@everyone")


def test_telegram_uses_html_mode_escaped():
    url, headers, body = presets.shape({"preset": "telegram", "token": "1:abc", "chat_id": "@ops"}, RESOLVED)
    assert url == "https://api.telegram.org/bot1:abc/sendMessage"
    sent = json.loads(body)
    assert sent["parse_mode"] == "HTML" and "Disk &lt;full&gt; &amp; more" in sent["text"]
    assert '<a href="https://toru.example.com/alerts?x=1&amp;y=2">' in sent["text"]


def test_generic_body_is_the_notification_itself():
    url, headers, body = presets.shape({"preset": "generic", "url": "https://h.example/x"}, RESOLVED)
    assert json.loads(body) == RESOLVED and headers == {"Content-Type": "application/json"}


def test_secrets_merge_keep_replace_clear():
    stored = {"preset": "generic", "url": "https://a.example", "secret": "old", "token": "tok"}
    merged = merge_secrets("webhook", stored, {"url": "https://b.example", "secret": {"set": True}, "token": None})
    assert merged == {"url": "https://b.example", "secret": "old"}
    assert merge_secrets("webhook", stored, {"url": "https://b.example", "secret": "new"})["secret"] == "new"
    # Slack's URL is its credential: kept when omitted, hidden when shown.
    slack = {"preset": "slack", "url": "https://hooks.slack.com/services/T/B/X"}
    assert merge_secrets("webhook", slack, {"preset": "slack"})["url"] == slack["url"]
    assert public_config("webhook", slack)["url"] == {"set": True}


def test_email_defaults_and_refusals():
    clean = check_config("email", {"host": "smtp.example.com", "from": "Toru <t@example.com>",
                                   "to": "a@example.com, b@example.com", "security": "tls"})
    assert (clean["port"], clean["tls_verify"], clean["to"]) == (465, True, ["a@example.com", "b@example.com"])
    with pytest.raises(Invalid) as e:
        check_config("email", {"host": "smtp.example.com", "from": "t@example.com", "to": ["a@example.com"],
                               "password": "p"})
    assert "config.username" in e.value.extra["fields"]
