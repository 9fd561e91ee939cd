"""Request-level hardening that does not depend on who is signed in:

- Host allow-list (DNS rebinding): with TORU_ALLOWED_HOSTS set, a request
  whose Host is neither listed nor a loopback name gets 421.
- Same-origin writes (CSRF): POST/PUT/PATCH/DELETE must carry an Origin (or,
  without one, a Referer) naming the host the request was sent to, else 403.
- The client's IP: the socket peer, or with TRUST_PROXY the proxy's word.
"""

import ipaddress
import logging
from urllib.parse import urlsplit

import bottle

from toru.errors import Forbidden, ToruError
from toru.web.http import STATE_CHANGING

log = logging.getLogger("toru.security")

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def split_host(value):
    """'Example.com:8080' → ('example.com', 8080); '[::1]' → ('::1', None)."""
    value = (value or "").strip().lower()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        host, _, port = value.partition(":")
    else:
        host, port = value, ""
    try:
        return host, int(port) if port else None
    except ValueError:
        return host, -1


def request_host(environ, config):
    if config.trust_proxy and environ.get("HTTP_X_FORWARDED_HOST"):
        return environ["HTTP_X_FORWARDED_HOST"].split(",")[0]
    return environ.get("HTTP_HOST", "")


def host_problem(environ, config):
    """A 421 message when the Host header is not one we answer to."""
    if not config.allowed_hosts:
        return None
    host, _ = split_host(environ.get("HTTP_HOST", ""))
    if host in LOOPBACK_NAMES or host in config.allowed_hosts:
        return None
    return f"Host {host!r} is not served here (see TORU_ALLOWED_HOSTS)"


def origin_problem(environ, config):
    """A 403 message unless Origin (or Referer) names this request's host."""
    source = environ.get("HTTP_ORIGIN") or environ.get("HTTP_REFERER")
    if not source or source == "null":
        return "Cross-site request refused: no Origin or Referer header"
    parts = urlsplit(source)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return "Cross-site request refused: unreadable Origin"
    origin_host = parts.hostname.lower()
    try:
        origin_port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        return "Cross-site request refused: unreadable Origin"
    host, port = split_host(request_host(environ, config))
    if host != origin_host or (port is not None and port != origin_port):
        return "Cross-site request refused: Origin does not match Host"
    return None


TOKEN_PREFIX = "toru_"  # every API token starts so (toru/accounts/tokens.py)


def bearer_token(environ):
    """The Toru API token of an `Authorization: Bearer toru_…` header, else
    None: other schemes (a proxy's Basic auth) and other bearer tokens (one
    a page sends for something else) are not ours, and the request is then
    judged by its session cookie as usual."""
    scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token.startswith(TOKEN_PREFIX) else None


def client_ip(environ, config):
    """The socket peer, unless TRUST_PROXY: then CF-Connecting-IP, else the
    right-most X-Forwarded-For entry that is not a loopback address (the
    one our own proxy saw; entries left of it are whatever the client sent)."""
    peer = environ.get("REMOTE_ADDR", "")
    if not config.trust_proxy:
        return peer
    cf = environ.get("HTTP_CF_CONNECTING_IP", "").strip()
    if valid_ip(cf):
        return cf
    for entry in reversed(environ.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        entry = entry.strip()
        if valid_ip(entry) and not ipaddress.ip_address(entry).is_loopback:
            return entry
    return peer


def valid_ip(value):
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return False


def untrusted_proxy(environ, config):
    """A loopback or private peer forwarding for someone (X-Forwarded-For)
    while TRUST_PROXY is off: every user then shares the proxy's address, so
    a few wrong passwords lock everyone out. Returns the peer, else None."""
    if config.trust_proxy or not environ.get("HTTP_X_FORWARDED_FOR"):
        return None
    peer = environ.get("REMOTE_ADDR", "")
    if not valid_ip(peer):
        return None
    address = ipaddress.ip_address(peer)
    return peer if address.is_loopback or address.is_private else None


class SecurityPlugin:
    """Applies the Host and Origin rules to every route, and notices once a
    proxy that TRUST_PROXY does not trust (`notices`: what admins are shown
    on the Instance page)."""

    name = "toru_security"
    api = 2

    def __init__(self, config, notices):
        self.config = config
        self.notices = notices
        self.proxy_noticed = False

    def notice_proxy(self, environ):
        peer = untrusted_proxy(environ, self.config)
        if peer is None:
            return
        self.proxy_noticed = True
        text = (f"Requests reach Toru through a proxy at {peer} (they carry X-Forwarded-For) but TRUST_PROXY "
                "is off: every user shares the proxy's address, so a few wrong passwords lock everyone out. "
                "Set TRUST_PROXY=1 if that proxy is yours (docs/deploy.md).")
        log.warning(text, extra={"peer": peer})
        self.notices.append({"code": "untrusted_proxy", "message": text})

    def apply(self, callback, route):
        def wrapper(*args, **kwargs):
            environ = bottle.request.environ
            if not self.proxy_noticed:
                self.notice_proxy(environ)
            problem = host_problem(environ, self.config)
            if problem:
                raise ToruError(problem, status=421)
            # A bearer token is never sent by a browser on its own, so it cannot
            # be forged cross-site: token requests need no Origin.
            if environ["REQUEST_METHOD"] in STATE_CHANGING and bearer_token(environ) is None:
                problem = origin_problem(environ, self.config)
                if problem:
                    raise Forbidden(problem)
            return callback(*args, **kwargs)
        return wrapper
