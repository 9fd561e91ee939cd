"""Sign-in by an identity proxy (Authelia, Authentik, oauth2-proxy), opt-in:
`TORU_TRUSTED_USER_HEADER` names the header the proxy sets to the signed-in
user (e.g. `Remote-User`), `TORU_TRUSTED_PROXIES` the addresses it is
believed from (docs/deploy.md#sign-in-behind-an-identity-proxy).

- Only the socket's peer (`REMOTE_ADDR`, the proxy itself) is checked,
  never a forwarded header: those say whatever the client wrote.
- From any other address the header is ignored and logged (at most one
  line a minute, with how many were not logged).
- The header names an existing, active Toru user, never creates one, and
  makes nobody an admin who is not one; an unknown or inactive name is
  401. The proxy did the authentication (and its MFA): Toru's own
  two-factor code is not asked for.
"""

import ipaddress
import logging
import time

from toru.errors import Unauthorized

log = logging.getLogger("toru.auth")
audit = logging.getLogger("toru.audit")

WARN_EVERY = 60.0  # seconds between "header from an untrusted address" lines
MAX_NAME = 256


class TrustedHeader:
    def __init__(self, config, accounts, clock=time.monotonic):
        self.header = config.trusted_user_header
        self.key = "HTTP_" + self.header.upper().replace("-", "_") if self.header else None
        self.proxies = config.trusted_proxies
        self.accounts = accounts
        self.clock = clock
        self.warned_at = None
        self.not_logged = 0  # untrusted headers since the last warning line

    @property
    def enabled(self):
        return self.key is not None

    def trusted_peer(self, environ):
        try:
            peer = ipaddress.ip_address(environ.get("REMOTE_ADDR", ""))
        except ValueError:
            return False
        # A dual-stack listener sees IPv4 proxies as ::ffff:a.b.c.d.
        if peer.version == 6 and peer.ipv4_mapped:
            peer = peer.ipv4_mapped
        return any(peer in network for network in self.proxies)

    def user(self, environ):
        """The user the proxy vouches for, or None when this request carries
        no such header (or it came from an untrusted address: ignored).
        Raises Unauthorized for a name that is no active Toru user."""
        if self.key is None:
            return None
        name = environ.get(self.key, "").strip()
        if not name:
            return None
        if not self.trusted_peer(environ):
            self.warn_untrusted(environ)
            return None
        # A comma means the header came twice (gevent joins repeats): a proxy
        # that appended instead of replacing; no user name has one.
        user = self.accounts.active_user(name) if len(name) <= MAX_NAME and "," not in name else None
        if user is None:
            audit.info("proxy sign-in refused", extra={"username": name[:MAX_NAME], "ip": environ.get("REMOTE_ADDR"),
                                                       "reason": "no active user of that name"})
            raise Unauthorized(f"The identity proxy signed in {name[:64]!r}, who is not an active user here; "
                               "an admin must add that user to Toru first")
        return user

    def warn_untrusted(self, environ):
        now = self.clock()
        if self.warned_at is not None and now - self.warned_at < WARN_EVERY:
            self.not_logged += 1
            return
        log.warning(f"ignored {self.header} header from an address outside TORU_TRUSTED_PROXIES",
                    extra={"peer": environ.get("REMOTE_ADDR"), "header": self.header,
                           "not_logged_since_last": self.not_logged})
        self.warned_at, self.not_logged = now, 0
