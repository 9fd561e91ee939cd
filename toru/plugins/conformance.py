"""`toru.pyz plugin-test BINARY [--json] [--timeout S]`: a conformance
checker for plugin authors (issue 9).

It runs the binary the way the supervisor does — a temporary directory as
data dir and cwd, the same environment, its own process group, killed if
the checker dies — plays the core's side of the wire protocol, and reports
one check per line with a hint for each failure. Every wait is bounded, so
a plugin that hangs makes a check fail, never the checker hang.
"""

import argparse
import collections
import json
import logging
import os
import shutil
import signal
import stat
import tempfile
import time
import uuid
from pathlib import Path

import gevent
import gevent.lock
import gevent.queue
import psutil
from gevent import socket
from toru_plugin.protocol import (PROTOCOL_VERSION, FrameError, FrameReader, encode_frame, envelope,
                                  reply_request_id)

from toru.config import Timings
from toru.errors import ConfigError
from toru.plugins.discovery import MetadataError, read_metadata
from toru.plugins.kv import PluginKV
from toru.plugins.manager import runtime_dir
from toru.plugins.protocol import BadPluginReply
from toru.plugins.router import http_payload, legacy_reply, parse_reply
from toru.processes import exit_text, group_members, signal_group, spawn

DEFAULT_TIMEOUT = 10.0                    # per reply (the core waits 30 s)
SETTLE = 0.5                              # after init / unknown frames: did it die?
OUTPUT_KEEP = 40                          # lines of plugin output kept for the report
UNKNOWN_TYPE = "toru.conformance.unknown"
TEST_HEADERS = {"accept": "*/*", "user-agent": "toru-plugin-test", "x-toru-user": "plugin-test",
                "x-toru-role": "admin"}
FRAME_HINT = "a frame is a 4-byte big-endian length, then that many bytes of one UTF-8 JSON object (at most 16 MiB)"

log = logging.getLogger("toru.plugins")


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise ConfigError(f"plugin-test: {message} (see plugin-test --help)")


def build_parser():
    parser = Parser(prog="toru plugin-test", description=(
        "Run a plugin binary as Toru's supervisor would and check it against the plugin protocol: "
        "metadata, socket, init, an http round trip, bundle.js, unknown frames, shutdown and "
        "leftover processes. Exit status 0 only if every check passes."))
    parser.add_argument("binary", metavar="BINARY", help="the plugin executable to test")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="S",
                        help=f"seconds to wait for each reply (default {DEFAULT_TIMEOUT:g})")
    return parser


def main(argv, timings=None):
    """The socket wait, shutdown grace and metadata timeout are the
    supervisor's (`timings`: Toru's defaults, or TORU_TIMINGS)."""
    args = build_parser().parse_args(argv)
    if not 0 < args.timeout <= 600:
        raise ConfigError("plugin-test: --timeout must be between 0 and 600 seconds")
    binary = Path(args.binary).expanduser().absolute()
    if not binary.exists():
        raise ConfigError(f"plugin-test: {binary} does not exist")
    # Findings are reported as checks; the core's own log lines would repeat them.
    logging.getLogger("toru").addHandler(logging.NullHandler())
    logging.getLogger("toru").propagate = False
    report = Checker(binary, args.timeout, timings).run()
    print_report(report, args.json)
    return 0 if report["ok"] else 1


# ---- results -------------------------------------------------------------------

def result(name, status, detail, hint=None):
    return {"name": name, "status": status, "ok": status != "fail", "detail": detail,
            "hint": hint if status == "fail" else None}


class CheckFailed(Exception):
    def __init__(self, detail, hint):
        super().__init__(detail)
        self.detail, self.hint = detail, hint


class Skip(Exception):
    """Not applicable (no bundle, not concurrent): a note, not a failure."""


def print_report(report, as_json):
    if as_json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return
    for check in report["checks"]:
        print(f"{check['status'].upper()} {check['name']}: {check['detail']}")
        if check["hint"]:
            print(f"     hint: {check['hint']}")
    if not report["ok"] and report["output"]:
        print(f"plugin output (last {len(report['output'])} lines):")
        for line in report["output"]:
            print(f"  | {line}")
    counts = collections.Counter(c["status"] for c in report["checks"])
    print(f"{report['binary']}: {counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped")


# ---- the core's side of the connection -------------------------------------------

class MemoryKV(PluginKV):
    """The core's KV handling over a dict: plugins that read or write KV in
    their init hook get real answers, in the core's reply shape."""

    def __init__(self):
        super().__init__(store=None)
        self.data = {}

    def get(self, plugin_id, key):
        return self.data.get(key)

    def set(self, plugin_id, key, value):
        self.data[key] = value

    def delete(self, plugin_id, key):
        self.data.pop(key, None)

    def keys(self, plugin_id, prefix=""):
        return sorted(k for k in self.data if k.startswith(prefix))


class Link:
    """One connection to the plugin's socket. A reader greenlet answers the
    plugin's `kv` requests and queues every other frame it sends."""

    def __init__(self, path, plugin_id, kv):
        self.plugin_id, self.kv = plugin_id, kv
        self.frames = gevent.queue.Queue()
        self.problem = None      # a broken frame the plugin sent
        self.closed = False      # the plugin closed its end
        self.writing = gevent.lock.Semaphore()  # kv replies and requests never interleave
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(2)
        try:
            self.sock.connect(str(path))
        except OSError:
            self.sock.close()
            raise
        self.sock.settimeout(None)
        self.reader = gevent.spawn(self._read)

    def _read(self):
        frames = FrameReader(self.sock)
        try:
            while True:
                message = frames.next()
                if message is None:
                    break
                if message.get("type") == "kv":
                    self.send(self.kv.handle(self.plugin_id, message))
                else:
                    self.frames.put(message)
        except FrameError as e:
            self.problem = str(e)
        except OSError:
            pass
        finally:
            self.closed = True
            self.frames.put(None)  # wakes a waiting check

    def send(self, message):
        frame = encode_frame(message)
        with self.writing:
            self.sock.sendall(frame)

    def close(self):
        self.reader.kill(timeout=1)
        self.sock.close()


# ---- the checker ------------------------------------------------------------------

class Checker:
    def __init__(self, binary, timeout, timings=None):
        self.binary = binary
        self.timeout = timeout
        self.timings = timings or Timings()
        self.checks = []
        self.output = collections.deque(maxlen=OUTPUT_KEEP)
        self.meta = None
        self.proc = None
        self.link = None
        self.kv = MemoryKV()
        self.ids = 0
        self.stopped_cleanly = False

    def run(self):
        self.work = Path(tempfile.mkdtemp(prefix="toru-plugin-test-"))
        try:
            self._run_checks()
        finally:
            self._clean_up()
        return {"binary": str(self.binary), "ok": all(c["ok"] for c in self.checks), "checks": self.checks,
                "output": list(self.output)}

    def _run_checks(self):
        steps = [("metadata", self.check_metadata), ("socket", self.check_socket), ("init", self.check_init),
                 ("http", self.check_http), ("concurrent", self.check_concurrent),
                 ("bundle", self.check_bundle), ("unknown-type", self.check_unknown_type),
                 ("shutdown", self.check_shutdown), ("leftovers", self.check_leftovers)]
        # A check that cannot run without an earlier one names it; checks
        # after the process is up still run, so shutdown is always tested.
        needs = {"socket": "metadata", "init": "socket", "http": "init", "concurrent": "http",
                 "bundle": "http", "unknown-type": "http", "shutdown": "socket", "leftovers": "shutdown"}
        passed = set()
        for name, step in steps:
            blocker = needs.get(name)
            if blocker and blocker not in passed:
                self.checks.append(result(name, "skip", f"not run: the {blocker} check did not pass"))
                continue
            try:
                self.checks.append(result(name, "pass", step()))
                passed.add(name)
            except Skip as e:
                self.checks.append(result(name, "skip", str(e)))
                passed.add(name)
            except CheckFailed as e:
                self.checks.append(result(name, "fail", e.detail, e.hint))
            except OSError as e:  # the plugin went away under a send
                self.checks.append(result(name, "fail", f"the connection failed: {e.strerror or e}",
                                          "keep the socket open and serving until `shutdown`"))
            if name == "shutdown":
                passed.add(name)  # leftovers are still worth checking once it is gone

    # --- metadata ---------------------------------------------------------------
    def check_metadata(self):
        st = self.binary.stat()
        if not stat.S_ISREG(st.st_mode):
            raise CheckFailed("not a regular file", "a plugin is one executable file")
        if not (st.st_mode & 0o111) or not os.access(self.binary, os.X_OK):
            raise CheckFailed("not executable (chmod +x)", f"run: chmod +x {self.binary}")
        try:
            self.meta = read_metadata(self.binary, self.timings.metadata_timeout)
        except MetadataError as e:
            raise CheckFailed(e.reason, metadata_hint(e.reason)) from None
        m = self.meta
        notes = "" if self.binary.name.endswith(".binary") else \
            " (install it as <data>/plugins/<name>.binary: Toru only runs files named *.binary)"
        return f"{m['id']} {m['version']} {m['route']}{' concurrent' if m['concurrent'] else ''}{notes}"

    # --- starting -----------------------------------------------------------------
    def check_socket(self):
        plugin_id = self.meta["id"]
        self.socket_path = runtime_dir(self.work) / f"{plugin_id}.sock"
        log_dir = self.work / "logs" / "plugins"
        log_dir.mkdir(parents=True)
        self.log_path = str(log_dir / f"{plugin_id}.log")
        self.instance_id = str(uuid.uuid4())
        env = {"TORU_PLUGIN_SOCKET": str(self.socket_path), "TORU_PLUGIN_ID": plugin_id,
               "TORU_INSTANCE_ID": self.instance_id, "TORU_LOG_PATH": self.log_path}
        try:
            self.proc = spawn([self.binary], cwd=self.work, env=env)
        except OSError as e:
            raise CheckFailed(f"cannot start it: {e.strerror or e}", "run it by hand to see why") from None
        for pipe in (self.proc.stdout, self.proc.stderr):
            gevent.spawn(self._capture, pipe)
        began, wait = time.monotonic(), self.timings.socket_timeout
        while time.monotonic() - began < wait:
            if self.proc.poll() is not None:
                raise CheckFailed(f"exited ({exit_text(self.proc.returncode)}) before creating its socket",
                                  "without --metadata, a plugin binds a Unix socket at the path in "
                                  "TORU_PLUGIN_SOCKET, listens, and keeps serving until `shutdown`")
            if self.socket_path.exists():
                try:
                    self.link = Link(self.socket_path, plugin_id, self.kv)
                    return f"accepting at $TORU_PLUGIN_SOCKET after {time.monotonic() - began:.1f} s"
                except OSError:
                    pass  # bound but not listening yet
            gevent.sleep(0.02)
        exists = self.socket_path.exists()
        raise CheckFailed(
            f"{'its socket did not accept a connection' if exists else 'no socket'} within {wait:g} s",
            "call listen() on the socket once it is bound" if exists else
            f"bind and listen on a Unix socket at the path in TORU_PLUGIN_SOCKET within {wait:g} s "
            "of starting (Toru kills a plugin that does not, then retries with backoff)")

    def _capture(self, pipe):
        for raw in iter(pipe.readline, b""):
            self.output.append(raw.decode("utf-8", "replace").rstrip("\n")[:1000])

    def check_init(self):
        path = str(self.socket_path)
        self.link.send(envelope("lifecycle", {"type": "lifecycle", "action": "init", "instance_id": self.instance_id,
                                              "plugin_socket": path, "socket_path": path,
                                              "log_path": self.log_path,
                                              "protocol_version": PROTOCOL_VERSION}, None, action="init"))
        self._settle("init")
        if self.link.closed:
            return ("still running; it closed the connection after init (allowed: Toru reconnects for the next "
                    "request, but one connection for the plugin's whole life is usual)")
        return "still running and connected after init"

    def _settle(self, what):
        """Give the plugin SETTLE seconds to react badly to `what`."""
        with gevent.Timeout(SETTLE, False):
            self.proc.wait()
        if self.proc.poll() is not None:
            raise CheckFailed(f"exited ({exit_text(self.proc.returncode)}) after the {what} frame",
                              f"`{what}` needs no reply and must not end the plugin" if what == "init" else
                              "ignore frames of a type you do not know (log them at debug level)")
        if self.link.problem:
            raise CheckFailed(f"sent a broken frame after {what}: {self.link.problem}", FRAME_HINT)

    # --- requests -------------------------------------------------------------------
    def _connected(self):
        """The link, reconnecting if the plugin closed it (as the core would)."""
        if self.link.problem:
            raise CheckFailed(f"sent a broken frame: {self.link.problem}", FRAME_HINT)
        if not self.link.closed:
            return self.link, False
        self.link.close()
        try:
            self.link = Link(self.socket_path, self.meta["id"], self.kv)
        except OSError as e:
            raise CheckFailed(f"closed the connection and refuses a new one ({e.strerror})",
                              "keep accepting connections on your socket until `shutdown`") from None
        return self.link, True

    def send_http(self, method, path):
        link, reconnected = self._connected()
        self.ids += 1
        request_id = f"plugin-test-{self.ids}"
        link.send(envelope("http", dict(http_payload(method, path, dict(TEST_HEADERS), b""), type="http",
                                        request_id=request_id), request_id))
        return link, request_id, reconnected

    def await_reply(self, link, request_id, what):
        """The plugin's `http` reply to `request_id`, or CheckFailed."""
        deadline = time.monotonic() + self.timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                message = link.frames.get(timeout=max(remaining, 0.001))
            except gevent.queue.Empty:
                message = None
            if message is None:  # no time left, or the plugin closed the connection
                raise self._no_reply(link, what)
            if message.get("type") != "http":
                continue  # other frames a plugin may send are not replies
            got = reply_request_id(message)
            if got == request_id:
                return message
            if got is None:
                raise CheckFailed(f"{what} answered without a request_id",
                                  "copy the request's request_id into your reply's top level: Toru only "
                                  "guesses for plugins that take one request at a time")
            # A late answer to an earlier request: keep waiting for ours.

    def _no_reply(self, link, what):
        if link.problem:
            return CheckFailed(f"{what}: the plugin sent a broken frame: {link.problem}", FRAME_HINT)
        if self.proc.poll() is not None:
            return CheckFailed(f"{what}: the plugin exited ({exit_text(self.proc.returncode)}) instead of answering",
                               "a handler error should become a 500 reply, not an exit")
        if link.closed:
            return CheckFailed(f"{what}: the plugin closed the connection without answering",
                               "answer on the connection the request came in on, then keep it open")
        return CheckFailed(f"{what}: no answer within {self.timeout:g} s",
                           "answer every `http` frame with an `http` frame carrying the same request_id and "
                           "a payload {status, headers, body} — also for paths you do not serve (404)")

    def request(self, method, path):
        """(status, headers, body bytes, notes) of one request/reply round trip."""
        what = f"{method} {path}"
        link, request_id, reconnected = self.send_http(method, path)
        message = self.await_reply(link, request_id, what)
        return self.parse(message, what, reconnected)

    def parse(self, message, what, reconnected=False):
        try:
            status, headers, body = parse_reply(self.meta["id"], message)
        except BadPluginReply as e:
            raise CheckFailed(f"{what}: {e}", "reply with payload {\"status\": <int 100-599>, \"headers\": {...}, "
                                              "\"body\": <string or null>} (base64 bodies set body_encoding)") \
                from None
        notes = []
        if message.get("request_id") is None:
            notes.append("request_id only inside the payload (accepted; the top level is usual)")
        payload = message.get("payload") or {}
        inner = payload.get("http") if isinstance(payload.get("http"), dict) else payload
        if "status" not in inner and isinstance(inner.get("payload"), dict):
            inner = inner["payload"]
        if legacy_reply(inner):
            notes.append("legacy Rust-SDK reply shape: accepted (the reply is a JSON string in payload.payload.body; "
                         "Toru unwraps it, the original core answered 500)")
            inner = legacy_reply(inner)
        if inner.get("body") is not None and not isinstance(inner.get("body"), str):
            notes.append("body is not a string: Toru sends it JSON-encoded")
        if reconnected:
            notes.append("answered on a new connection after closing the previous one")
        return status, headers, body, notes

    def check_http(self):
        status, headers, body, notes = self.request("GET", "/")
        kind = header(headers, "content-type") or "no content-type"
        return "; ".join([f"GET / answered {status} ({kind}, {len(body)} bytes), request_id echoed"] + notes)

    def check_concurrent(self):
        if not self.meta["concurrent"]:
            raise Skip('not declared ("concurrent": true lets Toru send several requests at once)')
        sent = [self.send_http("GET", "/") for _ in range(3)]
        link = sent[0][0]
        wanted = {request_id for _, request_id, _ in sent}
        deadline = time.monotonic() + self.timeout
        while wanted:
            try:
                message = link.frames.get(timeout=max(0.001, deadline - time.monotonic()))
            except gevent.queue.Empty:
                message = None
            if message is None:
                raise CheckFailed(f"{len(wanted)} of 3 simultaneous GET / got no answer within {self.timeout:g} s",
                                  'with "concurrent": true Toru sends requests without waiting for replies; '
                                  "read every frame and match replies by request_id, or drop the flag")
            if message.get("type") == "http":
                self.parse(message, "GET /")
                wanted.discard(reply_request_id(message))
        return "3 simultaneous requests each answered with their own request_id"

    def check_bundle(self):
        path = self.binary.parent / self.meta["id"] / "bundle.js"
        if path.is_file():
            return f"{path} exists ({path.stat().st_size} bytes): Toru serves it without asking the plugin" + \
                bundle_note(path.read_bytes(), self.meta["id"])
        status, headers, body, notes = self.request("GET", "/bundle.js")
        if status == 404:
            raise Skip(f"no bundle: no {path} and GET /bundle.js answered 404 (a plugin without a page is fine)")
        if status != 200:
            raise CheckFailed(f"GET /bundle.js answered {status}",
                              "answer 200 with the JavaScript, or 404 when the plugin has no page")
        if not body.strip():
            raise CheckFailed("GET /bundle.js answered 200 with an empty body",
                              "serve the bundle's JavaScript, or answer 404")
        kind = header(headers, "content-type") or ""
        if "javascript" not in kind:
            notes.append(f"content-type is {kind or 'missing'} (application/javascript is usual)")
        return "; ".join([f"GET /bundle.js answered 200 ({len(body)} bytes)" + bundle_note(body, self.meta["id"])]
                         + notes)

    def check_unknown_type(self):
        link, _ = self._connected()
        link.send(envelope(UNKNOWN_TYPE, {"type": UNKNOWN_TYPE, "note": "sent by toru plugin-test; ignore it"},
                           "plugin-test-unknown"))
        self._settle(f"{UNKNOWN_TYPE!r}")
        status, _, _, notes = self.request("GET", "/")
        # Toru itself never sends old plugins other types (DESIGN §6a); a newer core may.
        return "; ".join([f"ignored; GET / still answered {status}"] + notes)

    # --- stopping -------------------------------------------------------------------
    def check_shutdown(self):
        if self.proc.poll() is not None:
            raise CheckFailed(f"already exited ({exit_text(self.proc.returncode)}) before shutdown",
                              "keep running until `shutdown`")
        try:
            link, _ = self._connected()
            link.send(envelope("lifecycle", {"type": "lifecycle", "action": "shutdown"}, None, action="shutdown"))
        except (OSError, CheckFailed) as e:
            raise CheckFailed(f"could not send shutdown: {e}", "keep accepting connections until `shutdown`") \
                from None
        began, grace = time.monotonic(), self.timings.stop_grace
        with gevent.Timeout(grace, False):
            self.proc.wait()
        code = self.proc.poll()
        if code is None:
            raise CheckFailed(f"still running {grace:g} s after `shutdown`",
                              f"on lifecycle `shutdown`, finish and exit within {grace:g} s; Toru then "
                              f"sends SIGTERM to the process group, and SIGKILL {grace:g} s later")
        if code != 0:
            raise CheckFailed(f"exited ({exit_text(code)}) after `shutdown`", "exit with status 0 on `shutdown`")
        self.stopped_cleanly = True
        note = "; it left its socket file behind (harmless: Toru removes it before the next start)" \
            if self.socket_path.exists() else ""
        return f"exited with 0 {time.monotonic() - began:.1f} s after `shutdown`{note}"

    def check_leftovers(self):
        if not self.stopped_cleanly:
            self._stop_leader()
        left = []
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            left = group_members({self.proc.pid}).get(self.proc.pid, [])
            if not left:
                return "no process left in its process group"
            gevent.sleep(0.1)
        names = ", ".join(f"{p.pid} ({name_of(p)})" for p in left[:5])
        return_hint = ("processes the plugin starts must end when it does (Toru kills what is left in the "
                       "group, but a plugin should not rely on it)")
        raise CheckFailed(f"{len(left)} process(es) still running in its group after it exited: {names}", return_hint)

    def _stop_leader(self):
        """After a failed shutdown: end only the plugin's own process, so
        what it started can still be checked for."""
        if self.proc.poll() is None:
            self.proc.kill()
            with gevent.Timeout(5, False):
                self.proc.wait()

    def _clean_up(self):
        if self.link is not None:
            self.link.close()
        if self.proc is not None:
            signal_group(self.proc.pid, signal.SIGKILL)
            if self.proc.poll() is None:
                self.proc.kill()
            with gevent.Timeout(5, False):
                self.proc.wait()
        shutil.rmtree(self.work, ignore_errors=True)


# ---- helpers ------------------------------------------------------------------------

def metadata_hint(reason):
    if "did not answer" in reason:
        return "answer --metadata at once (print the JSON object and exit) before doing any other work"
    if "not JSON" in reason or "printed nothing" in reason or "not UTF-8" in reason:
        return "print exactly one JSON object on stdout for --metadata; send logs to stderr"
    if "exited with" in reason or "killed by" in reason:
        return "`BINARY --metadata` must print the JSON object and exit 0; run it yourself to see the error"
    if "larger than" in reason:
        return "the metadata is a small JSON object; print only that"
    if "cannot run" in reason:
        return "check the shebang line (#!/usr/bin/env python3, node…) and that the interpreter exists"
    return ('fields: "id" matching ^[a-z0-9][a-z0-9_-]{0,63}$, "route" "/" + one such segment, optional '
            '"name", "version", "author", "icon", "description" strings, "concurrent" true/false '
            "(docs/plugins.md, Fields)")


def bundle_note(body, plugin_id):
    text = body.decode("utf-8", "replace")
    if "ToruPlugins" in text or f"toru_plugin_{plugin_id}" in text:
        return ""
    return (f"; note: it never mentions window.ToruPlugins — a bundle registers "
            f"window.ToruPlugins[{plugin_id!r}] = {{mount(container, api), unmount(container)}}")


def header(headers, name):
    return next((v for k, v in headers.items() if k.lower() == name), None)


def name_of(process):
    try:
        return process.name()
    except psutil.Error:
        return "?"

