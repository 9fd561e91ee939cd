"""How a notification reads, and the request each webhook preset makes of it.

A notification is the generic webhook's JSON body (docs/alerts.md#channels):
{"alert", "status", "severity", "summary", "value", "labels", "started_at",
"resolved_at", "host", "instance_id", "url"}. `headline` and `details` are
its human reading, shared by the chat presets, email and Apprise.

Each preset turns it into (url, headers, body bytes) in the service's own
format, as the services document it:
- generic: the notification itself, JSON.
- slack: Incoming Webhooks take `{"text", "blocks"}`; `text` is the
  notification fallback, mrkdwn escapes only &, < and >
  (https://api.slack.com/messaging/webhooks,
  https://api.slack.com/reference/surfaces/formatting#escaping).
- discord: Execute Webhook takes `{"content" (≤ 2000), "embeds": [{"title"
  (≤ 256), "description" (≤ 4096), "color", "fields" (≤ 25, values ≤ 1024),
  "timestamp"}], "allowed_mentions"}`; `allowed_mentions: {"parse": []}`
  keeps an "@everyone" in a summary from pinging anyone
  (https://discord.com/developers/docs/resources/webhook#execute-webhook).
- ntfy: the message is the plain-text body of a POST to the topic URL, with
  `Title`, `Priority` (min, low, default, high, urgent), `Tags` (comma list,
  emoji short codes) and `Click` headers (https://docs.ntfy.sh/publish/);
  header values outside ASCII are sent RFC 2047-encoded, which ntfy decodes.
- telegram: Bot API `POST <server>/bot<token>/sendMessage` with `{"chat_id",
  "text" (≤ 4096 after parsing), "parse_mode": "HTML"}`; HTML mode escapes
  &, < and > (https://core.telegram.org/bots/api#sendmessage,
  https://core.telegram.org/bots/api#html-style).
"""

import base64
import html
import json

PRESETS = ("generic", "slack", "discord", "ntfy", "telegram")
TELEGRAM_API = "https://api.telegram.org"
ICONS = {"critical": "🔴", "warning": "🟠", "info": "🔵", "resolved": "✅"}
# Discord embed colours: the brand for info, the usual red/amber/green otherwise.
COLOURS = {"critical": 0xD83A3A, "warning": 0xE8A33D, "info": 0x493FAA, "resolved": 0x2E9E5B}
NTFY_PRIORITY = {"critical": "urgent", "warning": "high", "info": "default", "resolved": "default"}
NTFY_TAGS = {"critical": "rotating_light", "warning": "warning", "info": "information_source",
             "resolved": "white_check_mark"}
NTFY_MAX_BYTES = 4000  # ntfy turns longer messages into attachments


def tone(n):
    """The key of ICONS/COLOURS/…: "resolved", or the severity."""
    return "resolved" if n["status"] == "resolved" else n["severity"]


def headline(n):
    state = "Resolved" if n["status"] == "resolved" else "Firing"
    return f"{state}: {n['alert']} ({n['severity']}) on {n['host']}"


def format_value(value):
    if value is None:
        return None
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(value)


def details(n):
    """[(label, text)] of what a reader wants besides the summary."""
    rows = []
    if format_value(n.get("value")) is not None:
        rows.append(("Value", format_value(n["value"])))
    if n.get("labels"):
        rows.append(("Labels", ", ".join(f"{k}={v}" for k, v in sorted(n["labels"].items()))))
    rows.append(("Severity", n["severity"]))
    rows.append(("Started", n["started_at"]))
    if n.get("resolved_at"):
        rows.append(("Resolved", n["resolved_at"]))
    rows.append(("Host", n["host"]))
    return rows


def plain_text(n):
    """The notification as plain text: headline, summary, details, link."""
    lines = [headline(n), "", n["summary"], ""] + [f"{label}: {text}" for label, text in details(n)]
    if n.get("url"):
        lines.append(f"Open: {n['url']}")
    return "\n".join(lines)


def cut(text, limit):
    return text if len(text) <= limit else text[:limit - 1] + "…"


def slack_escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(n):
    icon, title = ICONS[tone(n)], slack_escape(headline(n))
    summary = slack_escape(cut(n["summary"], 2800))
    link = f"\n<{n['url']}|Open in Toru>" if n.get("url") else ""
    fields = [{"type": "mrkdwn", "text": cut(f"*{label}*\n{slack_escape(text)}", 2000)}
              for label, text in details(n)][:10]
    return {"text": f"{icon} {title}: {summary}",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": f"{icon} *{title}*\n{summary}{link}"}},
                       {"type": "section", "fields": fields}]}


def discord(n):
    embed = {"title": cut(headline(n), 256), "description": cut(n["summary"], 4096), "color": COLOURS[tone(n)],
             "fields": [{"name": label, "value": cut(text, 1024), "inline": True} for label, text in details(n)][:25],
             "timestamp": n.get("resolved_at") or n["started_at"]}
    if n.get("url"):
        embed["url"] = n["url"]
    return {"username": "Toru", "content": cut(f"{ICONS[tone(n)]} {headline(n)}", 2000), "embeds": [embed],
            "allowed_mentions": {"parse": []}}


def header_value(text):
    """An HTTP header value: as is when ASCII, else one RFC 2047 encoded word
    (UTF-8, base64) on one line; email's Header() would fold it with newlines."""
    return text if text.isascii() else f"=?utf-8?b?{base64.b64encode(text.encode()).decode()}?="


def ntfy(n):
    body = "\n".join([n["summary"], ""] + [f"{label}: {text}" for label, text in details(n)]).encode()
    if len(body) > NTFY_MAX_BYTES:
        body = body[:NTFY_MAX_BYTES].decode("utf-8", "ignore").encode()
    headers = {"Content-Type": "text/plain; charset=utf-8", "Title": header_value(headline(n)),
               "Priority": NTFY_PRIORITY[tone(n)], "Tags": f"{NTFY_TAGS[tone(n)]},toru"}
    if n.get("url"):
        headers["Click"] = n["url"]
    return headers, body


def telegram(n, chat_id):
    esc = html.escape
    lines = [f"{ICONS[tone(n)]} <b>{esc(headline(n))}</b>", esc(cut(n["summary"], 3000)), ""]
    lines += [f"<b>{esc(label)}:</b> {esc(text)}" for label, text in details(n)]
    if n.get("url"):
        lines.append(f'<a href="{esc(n["url"])}">Open in Toru</a>')
    return {"chat_id": chat_id, "text": cut("\n".join(lines), 4096), "parse_mode": "HTML",
            "disable_web_page_preview": True}


def encode(data):
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def shape(config, n):
    """(url, headers, body bytes) of the POST that carries `n` for a webhook channel's `config`."""
    preset = config.get("preset", "generic")
    json_type = {"Content-Type": "application/json"}
    if preset == "slack":
        return config["url"], json_type, encode(slack(n))
    if preset == "discord":
        return config["url"], json_type, encode(discord(n))
    if preset == "ntfy":
        headers, body = ntfy(n)
        return config["url"], headers, body
    if preset == "telegram":
        url = f"{config.get('url') or TELEGRAM_API}".rstrip("/") + f"/bot{config['token']}/sendMessage"
        return url, json_type, encode(telegram(n, config["chat_id"]))
    return config["url"], json_type, encode(n)
