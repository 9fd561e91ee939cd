"""Test helpers: a real Toru server as a subprocess, an HTTP client with a
cookie jar, and `wait_for` instead of sleeps."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
ADMIN_PASSWORD = "test-admin-pass-4f9c2a"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout=10.0, interval=0.05, message="condition"):
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def toru_command(pyz=None, python=None):
    """How to start Toru: the checkout's toru.py, or a built pyz."""
    return [python or sys.executable, str(pyz or ROOT / "toru.py")]


def run_cli(args, env=None, cwd=None, pyz=None, timeout=30):
    full_env = base_env()
    full_env.update(env or {})
    return subprocess.run(toru_command(pyz) + list(args), env=full_env, cwd=cwd or ROOT,
                          capture_output=True, text=True, timeout=timeout)


def base_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TORU_", "STEERING_", "ADMIN_")) or k in ("TORU_PYZ",)}
    env.pop("PRODUCTION", None)
    env.pop("SECURE_COOKIES", None)
    env.pop("TRUST_PROXY", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class ServerProcess:
    """A real `toru` process on a free loopback port with its own data dir."""

    clients_made = 0
    started_before = False

    def __init__(self, data_dir, env=None, args=(), pyz=None, cwd=None, port=None, port_via_env=False,
                 python=None):
        self.data_dir = Path(data_dir)
        self.env = base_env()
        self.env["ADMIN_PASSWORD"] = ADMIN_PASSWORD
        # A test server stops without waiting 3 s for a browser's idle keep-alive
        # connections; tests that need other timings pass their own TORU_TIMINGS.
        self.env["TORU_TIMINGS"] = "request_grace=0.5"
        self.env.update(env or {})
        self.args = list(args)
        self.pyz = pyz
        self.python = python
        self.cwd = cwd or self.data_dir
        self.proc = None
        self.port_via_env = port_via_env
        self.port_chosen_here = port is None
        self._use_port(port or free_port())

    def _use_port(self, port):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.output_path = self.data_dir.parent / f"{self.data_dir.name}-console-{port}.txt"
        self.port_args = ["--port", str(port)]
        if self.port_via_env:
            self.env["STEERING_PORT"] = str(port)
            self.port_args = []

    def start(self, timeout=20):
        try:
            return self._start(timeout)
        except AssertionError as e:
            # Another test worker's server may have taken the free port between
            # free_port() and our bind: a first start then simply takes another.
            if not self.port_chosen_here or self.started_before or "is already in use" not in str(e):
                raise
            self._use_port(free_port())
            return self._start(timeout)

    def _start(self, timeout):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._out = open(self.output_path, "ab")
        self._console_start = self._out.tell()
        cmd = toru_command(self.pyz, self.python) + ["--data-dir", str(self.data_dir)] + self.port_args + self.args
        self.proc = subprocess.Popen(cmd, env=self.env, cwd=self.cwd, stdout=self._out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            wait_for(self._ready, timeout=timeout, message=f"toru on port {self.port}")
        except AssertionError:
            self.stop()
            raise AssertionError(f"server did not become ready; console:\n{self.console()}") from None
        self.started_before = True
        return self

    def _ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"server exited with {self.proc.returncode}; console:\n{self.console()}")
        # Our own process must say it listens on the port: another test worker's
        # server that happened to get the same free port would answer /api/health too.
        with open(self.output_path, "rb") as out:
            out.seek(self._console_start)
            if f":{self.port}  (data: ".encode() not in out.read():
                return False
        try:
            status, _, _ = request(self.url, "GET", "/api/health", timeout=1)
            return status == 200
        except OSError:
            return False

    def console(self, tail=5000):
        try:
            text = self.output_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return text[-tail:] if tail else text

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Signal our process by PID and wait; returns its exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"server ignored signal {sig} for {timeout}s")
        self._out.close()
        # CI runs with GEVENT_MONITOR_THREAD_ENABLE=1: anything that blocked
        # the hub is a bug, so it fails the test that caused it.
        if "appears to be blocked" in self.console(tail=None):
            raise AssertionError(f"gevent hub was blocked:\n{self.console()}")
        return self.proc.returncode

    def client(self):
        """A new client; behind TRUST_PROXY each one comes from its own
        address, so one test's failed logins never lock out another's."""
        if self.env.get("TRUST_PROXY") == "1":
            ServerProcess.clients_made += 1
            n = ServerProcess.clients_made
            return Client(self.url, ip=f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}")
        return Client(self.url)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    @property
    def json(self):
        return json.loads(self.body)

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def __repr__(self):
        return f"<Response {self.status} {self.body[:200]!r}>"


def request(base_url, method, path, body=None, headers=None, timeout=10):
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        res = conn.getresponse()
        data = res.read()
        hdrs = {}
        for k, v in res.getheaders():
            k = k.lower()
            hdrs[k] = f"{hdrs[k]}, {v}" if k in hdrs and k != "set-cookie" else v
        hdrs["set-cookie-list"] = [v for k, v in res.getheaders() if k.lower() == "set-cookie"]
        return res.status, hdrs, data
    finally:
        conn.close()


class Client:
    """HTTP client for one browser-like user: keeps cookies, sends a
    same-origin Origin on state-changing requests and JSON bodies."""

    def __init__(self, base_url, origin=True, ip=None, headers=None):
        self.base_url = base_url
        self.cookies = {}
        self.headers = dict(headers or {})  # sent with every request (e.g. Authorization)
        self.origin = base_url if origin is True else origin
        self.ip = ip  # sent as CF-Connecting-IP (honoured only under TRUST_PROXY)

    def request(self, method, path, json_body=None, data=None, headers=None, timeout=10):
        hdrs = dict(self.headers, **({"CF-Connecting-IP": self.ip} if self.ip else {}))
        if self.origin and method in ("POST", "PUT", "PATCH", "DELETE"):
            hdrs["Origin"] = self.origin
        if json_body is not None:
            data = json.dumps(json_body).encode()
            hdrs["Content-Type"] = "application/json"
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        hdrs.update(headers or {})
        status, res_headers, body = request(self.base_url, method, path, data, hdrs, timeout)
        for raw in res_headers["set-cookie-list"]:
            cookie = SimpleCookie(raw)
            for name, morsel in cookie.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return Response(status, res_headers, body)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.request("POST", path, json_body=json, **kw)

    def put(self, path, json=None, **kw):
        return self.request("PUT", path, json_body=json, **kw)

    def patch(self, path, json=None, **kw):
        return self.request("PATCH", path, json_body=json, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


def token_client(server, secret):
    """A script's client: `Authorization: Bearer <secret>`, no cookie, no Origin, its own address."""
    c = server.client()
    c.origin = None
    c.headers["Authorization"] = f"Bearer {secret}"
    return c


def call_wsgi(app, method, path, body=b"", headers=None):
    """Call a WSGI app in-process (for the in-process `app` fixture)."""
    import io
    from wsgiref.util import setup_testing_defaults
    path, _, query = path.partition("?")
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
               "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
               "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1"}
    for k, v in (headers or {}).items():
        key = k.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key] = v
    setup_testing_defaults(environ)
    captured = {}

    def start_response(status, hdrs, exc_info=None):
        captured["status"] = int(status.split()[0])
        captured["headers"] = {k.lower(): v for k, v in hdrs}

    out = b"".join(app(environ, start_response))
    return Response(captured["status"], captured["headers"], out)


def ws_connect(server, client, **kw):
    """A real WebSocket to `server` with `client`'s session cookie."""
    import websocket
    cookie = f"toru_session={client.cookies['toru_session']}"
    kw.setdefault("timeout", 10)
    return websocket.create_connection(server.url.replace("http", "ws") + "/api/ws", origin=server.url,
                                       header=[f"Cookie: {cookie}"], **kw)


class TaskSocket:
    """A WebSocket client speaking the task messages (run, subscribe…)."""

    def __init__(self, server, client):
        self.ws = ws_connect(server, client)

    def send(self, **message):
        self.ws.send(json.dumps(message))

    def recv(self, timeout=10):
        """The next message: a JSON message as a dict, a binary output frame
        (docs/tasks.md#binary-output-frames) as {"type": "frame", "tag",
        "channel", "payload"}."""
        self.ws.settimeout(timeout)
        raw = self.ws.recv()
        if isinstance(raw, bytes):
            return {"type": "frame", "tag": raw[0], "channel": int.from_bytes(raw[1:5], "big"),
                    "payload": raw[5:]}
        return json.loads(raw)

    def until(self, predicate, timeout=30):
        """Messages received until (and including) one matching `predicate`."""
        messages, deadline = [], time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no matching message in {timeout}s; got {messages[-5:]}"
            message = self.recv(remaining)
            messages.append(message)
            if predicate(message):
                return messages

    def run(self, script=None, **fields):
        """Start a script (or quick action); returns its `started` message."""
        if script is not None:
            fields["script"] = script
        ref = f"r{time.monotonic_ns()}"
        self.send(type="run", ref=ref, **fields)
        reply = self.until(lambda m: m.get("ref") == ref)[-1]
        assert reply["type"] == "started", reply
        return reply

    def run_to_end(self, script, timeout=30):
        """(stdout, stderr, exit message) of one whole run."""
        task_id = self.run(script)["task_id"]
        return self.output_until_exit(task_id, timeout)

    def output_until_exit(self, task_id, timeout=30):
        messages = self.until(lambda m: m["type"] == "exit" and m["task_id"] == task_id, timeout)
        mine = [m for m in messages if m.get("task_id") == task_id]
        out = "".join(m["data"] for m in mine if m["type"] == "stdout")
        err = "".join(m["data"] for m in mine if m["type"] == "stderr")
        return out, err, mine[-1]

    def frames_until_exit(self, task_id, channel, timeout=30):
        """(stdout bytes, stderr bytes, exit message) of a task watched with
        binary frames on `channel`; a JSON stdout/stderr for it fails."""
        messages = self.until(lambda m: m["type"] == "exit" and m.get("task_id") == task_id, timeout)
        assert not [m for m in messages if m["type"] in ("stdout", "stderr") and m.get("task_id") == task_id]
        frames = [m for m in messages if m["type"] == "frame" and m["channel"] == channel]
        assert {f["tag"] for f in frames} <= {1, 2}, "tag 1 = stdout, 2 = stderr"
        out = b"".join(f["payload"] for f in frames if f["tag"] == 1)
        err = b"".join(f["payload"] for f in frames if f["tag"] == 2)
        return out, err, messages[-1]

    def close(self):
        self.ws.close()


FIXTURE_PLUGINS = ROOT / "tests" / "fixtures" / "plugins"


def install_plugin(data_dir, fixture_name, binary_name=None):
    """Copy fixture plugin `fixture_name` (e.g. "hello_python") to
    `<data_dir>/plugins/<binary_name>.binary`, executable; returns its path.
    `binary_name` defaults to the fixture's name."""
    stem = fixture_name[:-3] if fixture_name.endswith(".py") else fixture_name
    plugins = Path(data_dir) / "plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    target = plugins / f"{binary_name or stem}.binary"
    source = (FIXTURE_PLUGINS / f"{stem}.py").read_text()
    # Run on this interpreter, not `/usr/bin/env python3`: a pyenv shim costs
    # a second or more per start on a loaded machine, and tests start many.
    target.write_text(source.replace("#!/usr/bin/env python3", f"#!{sys.executable}", 1))
    target.chmod(0o755)
    return target


def sign_in(server, username="admin", password=None):
    """A new client of `server`, signed in (the env admin by default)."""
    c = server.client()
    res = c.post("/api/auth/login", json={"username": username, "password": password or ADMIN_PASSWORD})
    assert res.status == 200, res
    return c


def plugin_info(client, plugin_id):
    """GET /api/plugins/<id>'s card, or None when there is no such plugin."""
    res = client.get(f"/api/plugins/{plugin_id}")
    return res.json["plugin"] if res.status == 200 else None


def wait_plugin(client, plugin_id, state="running", timeout=60, not_pid=None):
    """Wait until the plugin is in `state` (with a pid other than `not_pid`); its card."""
    def reached():
        info = plugin_info(client, plugin_id) or {}
        return info.get("state") == state and (not_pid is None or info.get("pid") != not_pid)
    wait_for(reached, timeout=timeout, message=f"{plugin_id} {state}: {plugin_info(client, plugin_id)}")
    return plugin_info(client, plugin_id)


def write_script(server, name, body, executable=True):
    """A script in `server`'s scripts directory (executable unless told)."""
    path = server.data_dir / "scripts" / name
    path.write_text(body)
    path.chmod(0o755 if executable else 0o644)
    return path



def app_routes(sample_int="1"):
    """Every route of a freshly built app, as (route, path with sample values:
    `sample_int` for <…:int>, x/y for <path:…>, x otherwise)."""
    import re
    import tempfile
    from toru.app import create_app
    from toru.config import Config
    with tempfile.TemporaryDirectory() as data:
        app = create_app(Config(data_dir=data, admin_password="x" * 16))
        try:
            found = []
            for route in app.routes:
                path = re.sub(r"<[^>]*:int>", sample_int, route.rule)
                path = re.sub(r"<path:[^>]*>", "x/y", path)
                found.append((route, re.sub(r"<[^>]*>", "x", path)))
            return found
        finally:
            app.services.stop(timeout=1)


def fresh_totp_step(margin=6.0):
    """The current TOTP step, once at least `margin` seconds of it are left
    (waited for by computing, so a code made now stays valid for the test)."""
    from toru.accounts import totp
    wait_for(lambda: totp.STEP - time.time() % totp.STEP >= margin, timeout=margin + 1,
             message="a TOTP step with time left")
    return totp.step_at(time.time())


def totp_code(secret, step):
    from toru.accounts import totp
    return totp.hotp(totp.secret_key(secret), step)
