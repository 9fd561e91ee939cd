"""Webhook delivery: one POST with http.client, signed when the channel has a secret.

`X-Toru-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes>` lets a
receiver check the request came from this Toru (docs/alerts.md#verifying-the-signature).
http.client, not urllib: a redirect is reported rather than followed (urllib
would turn the POST into a GET), and the request goes exactly once. Sockets are
gevent's once the entry point has monkey-patched, so a slow receiver only
holds its own greenlet.
"""

import base64
import hashlib
import hmac
import http.client
import ssl
from urllib.parse import urlsplit

from toru import __version__
from toru.alerts import presets
from toru.alerts.outcome import delivered, excerpt, failed, network_error

MAX_ANSWER = 64 * 1024
BEARER_PRESETS = ("generic", "ntfy")  # where `token` becomes `Authorization: Bearer …`


def signature(secret, body):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def where(config):
    """host:port of the receiver, never its path (it may hold a token)."""
    url = config.get("url") or (presets.TELEGRAM_API if config.get("preset") == "telegram" else "")
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = "?"
    return f"{parts.hostname}:{port}"


def request_for(config, notification):
    url, headers, body = presets.shape(config, notification)
    headers = {"User-Agent": f"Toru/{__version__}", **headers}
    if config.get("secret"):
        headers["X-Toru-Signature"] = signature(config["secret"], body)
    if config.get("token") and config.get("preset", "generic") in BEARER_PRESETS:
        headers["Authorization"] = f"Bearer {config['token']}"
    return url, headers, body


def send(config, notification, timeout):
    url, headers, body = request_for(config, notification)
    parts = urlsplit(url)
    target = where(config)
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout,
                                           context=ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.username is not None:  # user:password@host in the URL: HTTP basic auth
        pair = f"{parts.username}:{parts.password or ''}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    try:
        conn.request("POST", path, body=body, headers=headers)
        res = conn.getresponse()
        answer = res.read(MAX_ANSWER)
    except (OSError, http.client.HTTPException) as e:
        return network_error(e, target, parts.hostname)
    finally:
        conn.close()
    return judge(res.status, res.reason, answer, res.getheader("Location"), target)


def judge(status, reason, answer, location, target):
    said = f"{target} answered HTTP {status} {reason}".rstrip()
    if 200 <= status < 300:
        return delivered(said, status)
    if 300 <= status < 400:
        return failed(f"{said}, a redirect to {location or 'nowhere'}: set the channel's URL to the final "
                      "address", status)
    text = excerpt(answer)
    retry = status >= 500 or status in (408, 429)
    return failed(f"{said}" + (f": {text}" if text else ""), status, retry)
