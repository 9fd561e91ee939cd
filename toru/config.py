"""Configuration: one frozen dataclass built from CLI options, the environment
and defaults, in that order of precedence (CLI beats env beats default).
"""

import argparse
import ipaddress
import os
import re
import sys
from dataclasses import dataclass, fields
from pathlib import Path

from toru.errors import ConfigError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3000
DEFAULT_MAX_BODY = 1024 * 1024  # 1 MiB
LOG_LEVELS = ("trace", "debug", "info", "warn", "warning", "error")
TRUTHY = {"1", "true", "yes", "on"}
# An HTTP header name Toru can read: gevent drops names with "_" (so a
# client cannot smuggle `Remote_User` past a proxy that strips `Remote-User`).
HEADER_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")
# Headers that already mean something else here: never a user name.
RESERVED_HEADERS = {"authorization", "cookie", "host", "origin", "referer", "content-type", "content-length",
                    "x-forwarded-for", "x-forwarded-host", "cf-connecting-ip", "upgrade", "connection"}


class Parser(argparse.ArgumentParser):
    """The command line's parser: one line with a pointer instead of argparse's whole usage."""
    def error(self, message):
        self.exit(2, f"{self.prog}: {message} (see --help)\n")


def program_path():
    """The file the operator started (toru.pyz or toru.py), absolute."""
    return Path(sys.argv[0]).resolve()


def command_prefix():
    """What starts this Toru again from any directory, for hints on the
    console: `python3 /opt/toru/toru.pyz` (or the checkout's toru.py)."""
    return f"python3 {program_path()}"


def truthy(value):
    return str(value or "").strip().lower() in TRUTHY


@dataclass(frozen=True)
class Timings:
    """Every interval, timeout and grace period a service waits through, in
    seconds, in one place. Services take theirs from `config.timings`;
    production uses these defaults, tests pass short ones (a server process
    reads `TORU_TIMINGS="name=seconds,..."`) instead of sleeping through them."""
    request_grace: float = 3.0         # shutdown: in-flight requests get this long to finish
    sample_interval: float = 2.0       # monitor: one psutil snapshot per interval
    revalidate_every: float = 30.0     # WebSocket: re-check the session behind a connection
    subscriber_stall: float = 10.0     # task output: a subscriber this far behind is dropped
    kill_grace: float = 5.0            # tasks: TERM, then KILL the group after this
    drain_after_exit: float = 5.0      # tasks: pipes held open after the script exited
    rescan_interval: float = 10.0      # plugins: cheap check of the plugins directory
    metadata_timeout: float = 5.0      # plugins: `<binary> --metadata` must answer within
    socket_timeout: float = 10.0       # plugins: STARTING → the socket must accept within
    stop_grace: float = 3.0            # plugins: after `shutdown`, and again after TERM
    backoff_base: float = 1.0          # plugins: first restart delay; doubles per crash
    backoff_cap: float = 16.0
    stable_after: float = 60.0         # plugins: up this long → the crash count starts again
    choices_timeout: float = 5.0       # quick actions: a `choices_from` script must finish within
    choices_cache: float = 30.0        # quick actions: its list of choices is reused this long
    pattern_timeout: float = 1.0       # quick actions: checking values against their `pattern`s
    schedule_recheck: float = 60.0     # schedules: the wall clock is re-read at least this often (NTP steps)
    alert_delivery_timeout: float = 10.0  # alerts: one delivery attempt (HTTP or SMTP) must finish within
    alert_retry_base: float = 5.0      # alerts: wait before the 2nd attempt of a failed delivery; doubles after

    @classmethod
    def parse(cls, text, **overrides):
        """`name=seconds,...` (TORU_TIMINGS) over the defaults; ConfigError names a bad entry."""
        values = dict(overrides)
        known = {f.name for f in fields(cls)}
        for item in filter(None, (part.strip() for part in (text or "").split(","))):
            name, sep, value = item.partition("=")
            name = name.strip()
            if not sep or name not in known:
                raise ConfigError(f"TORU_TIMINGS: {item!r} is not name=seconds with a name among "
                                  f"{', '.join(sorted(known))}")
            values[name] = parse_seconds(f"TORU_TIMINGS {name}", value.strip(), 0.001, 86400)
        return cls(**values)


@dataclass(frozen=True)
class Config:
    data_dir: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    log_dir: Path = None
    log_level: str = "info"
    admin_username: str = "admin"
    admin_password: str = None  # None: generated on first start, hash kept in the DB
    admin_display_name: str = "Administrator"
    secure_cookies: bool = False
    trust_proxy: bool = False
    allowed_hosts: tuple = ()
    max_body_bytes: int = DEFAULT_MAX_BODY
    timings: Timings = Timings()
    skip_fstypes: tuple = None      # None: toru.monitor.system's defaults
    skip_interfaces: tuple = None   # None: toru.monitor.system's defaults (lo, veth*, docker*, br-*)
    plugin_timeout: float = 30.0        # seconds a plugin has to answer an HTTP request
    metrics_public: bool = False        # TORU_METRICS_PUBLIC: /metrics without a token (loopback-only hosts)
    trusted_user_header: str = None     # TORU_TRUSTED_USER_HEADER: sign-in by an identity proxy (docs/deploy.md)
    trusted_proxies: tuple = ()         # TORU_TRUSTED_PROXIES: ip_network()s whose header is believed
    public_url: str = None              # TORU_PUBLIC_URL: how people reach this Toru (links in alerts)

    def __post_init__(self):
        if self.log_dir is None:
            object.__setattr__(self, "log_dir", Path(self.data_dir) / "logs")

    @property
    def db_path(self):
        return Path(self.data_dir) / "toru.db"

    @classmethod
    def load(cls, options, environ):
        """Build a Config from parsed CLI `options` (a dict; None = not given)
        and `environ`. Raises ConfigError with a one-line message."""
        def pick(opt, env, default=None):
            if options.get(opt) is not None:
                return options[opt]
            if environ.get(env) not in (None, ""):
                return environ[env]
            return default

        port = parse_port(pick("port", "STEERING_PORT", DEFAULT_PORT))
        host = str(pick("host", "STEERING_HOST", DEFAULT_HOST)).strip()
        if not host:
            raise ConfigError("host must not be empty")
        data_dir = Path(pick("data_dir", "TORU_DATA_DIR", os.getcwd())).expanduser().resolve()
        log_dir = pick("log_dir", "TORU_LOG_DIR")
        log_dir = Path(log_dir).expanduser().resolve() if log_dir else data_dir / "logs"
        level = str(pick("log_level", "TORU_LOG_LEVEL", "info")).lower()
        if level not in LOG_LEVELS:
            raise ConfigError(f"log level {level!r} is not one of {', '.join(LOG_LEVELS)}")
        interval = pick("sample_interval", "TORU_SAMPLE_INTERVAL", 2.0)
        try:
            interval = float(interval)
        except ValueError:
            raise ConfigError(f"sample interval {interval!r} is not a number of seconds") from None
        if not 0.1 <= interval <= 60:
            raise ConfigError(f"sample interval {interval} is out of range (0.1-60 seconds)")
        plugin_timeout = parse_seconds("TORU_PLUGIN_TIMEOUT", environ.get("TORU_PLUGIN_TIMEOUT") or 30, 0.1, 3600)
        backoff_base = parse_seconds("TORU_PLUGIN_BACKOFF_BASE", environ.get("TORU_PLUGIN_BACKOFF_BASE") or 1,
                                     0.01, 60)
        # The two older knobs keep working; TORU_TIMINGS names any timing.
        timings = Timings.parse(environ.get("TORU_TIMINGS"), sample_interval=interval, backoff_base=backoff_base,
                                backoff_cap=16 * backoff_base)
        skip_fs = environ.get("TORU_SKIP_FSTYPES")
        skip_if = environ.get("TORU_SKIP_INTERFACES")
        allowed = tuple(h.strip().lower() for h in environ.get("TORU_ALLOWED_HOSTS", "").split(",") if h.strip())
        header, proxies = parse_trusted_header(environ.get("TORU_TRUSTED_USER_HEADER"),
                                               environ.get("TORU_TRUSTED_PROXIES"))
        return cls(
            data_dir=data_dir,
            host=host,
            port=port,
            log_dir=log_dir,
            log_level=level,
            admin_username=environ.get("ADMIN_USERNAME") or "admin",
            admin_password=environ.get("ADMIN_PASSWORD") or None,
            admin_display_name=environ.get("ADMIN_DISPLAY_NAME") or "Administrator",
            secure_cookies=truthy(environ.get("PRODUCTION")) or truthy(environ.get("SECURE_COOKIES")),
            trust_proxy=truthy(environ.get("TRUST_PROXY")),
            allowed_hosts=allowed,
            timings=timings,
            skip_fstypes=None if skip_fs is None else split_list(skip_fs),
            skip_interfaces=None if skip_if is None else split_list(skip_if),
            plugin_timeout=plugin_timeout,
            metrics_public=truthy(environ.get("TORU_METRICS_PUBLIC")),
            trusted_user_header=header,
            trusted_proxies=proxies,
            public_url=parse_public_url(environ.get("TORU_PUBLIC_URL")),
        )


def parse_seconds(name, value, low, high):
    try:
        seconds = float(value)
    except ValueError:
        raise ConfigError(f"{name} {value!r} is not a number of seconds") from None
    if not low <= seconds <= high:
        raise ConfigError(f"{name} {seconds:g} is out of range ({low:g}-{high:g} seconds)")
    return seconds


def parse_trusted_header(header, proxies):
    """(header name or None, tuple of networks): both set, or neither.
    ConfigError says which half is missing or which entry is bad."""
    header, proxies = (header or "").strip(), (proxies or "").strip()
    if not header and not proxies:
        return None, ()
    if not header:
        raise ConfigError("TORU_TRUSTED_PROXIES is set but TORU_TRUSTED_USER_HEADER is not (set both, or neither)")
    if not HEADER_NAME_RE.match(header) or header.lower() in RESERVED_HEADERS:
        raise ConfigError(f"TORU_TRUSTED_USER_HEADER {header!r} is not a usable header name "
                          "(letters, digits and '-', e.g. Remote-User)")
    if not proxies:
        raise ConfigError("TORU_TRUSTED_USER_HEADER is set but TORU_TRUSTED_PROXIES is not: "
                          "give the proxy's address as a CIDR list, e.g. 127.0.0.1/32")
    networks = []
    for entry in split_list(proxies):
        try:
            networks.append(ipaddress.ip_network(entry, strict=True))
        except ValueError as e:
            raise ConfigError(f"TORU_TRUSTED_PROXIES: {entry!r} is not a CIDR network ({e})") from None
    return header, tuple(networks)


def parse_public_url(value):
    """`https://panel.example.com` (no trailing slash), or None when unset."""
    value = (value or "").strip().rstrip("/")
    if not value:
        return None
    if not re.match(r"^https?://[^/\s?#]+(/[^\s?#]*)?$", value):
        raise ConfigError(f"TORU_PUBLIC_URL {value!r} is not an http(s) URL such as https://panel.example.com")
    return value


def split_list(value):
    return tuple(x.strip() for x in value.split(",") if x.strip())


def parse_port(value):
    try:
        port = int(str(value).strip())
    except ValueError:
        raise ConfigError(f"port {value!r} is not a number (use 1-65535)") from None
    if not 1 <= port <= 65535:
        raise ConfigError(f"port {port} is out of range (use 1-65535)")
    return port


def prepare_dir(path, what):
    """Create `path` if needed and prove it is writable; ConfigError otherwise."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"cannot create {what} {path}: {e.strerror}") from None
    if not path.is_dir():
        raise ConfigError(f"{what} {path} is not a directory")
    probe = path / f".toru-write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise ConfigError(f"{what} {path} is not writable: {e.strerror}") from None
