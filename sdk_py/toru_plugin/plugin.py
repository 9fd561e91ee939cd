"""`Plugin`: metadata, routes and hooks, and `run()`, which speaks the Toru
plugin protocol on the socket Toru names in `TORU_PLUGIN_SOCKET`.

Threads: the main thread accepts connections; one reader thread per
connection reads frames; each `http` request runs in its own thread, so
requests overlap (the metadata says `"concurrent": true`) and a handler may
make KV calls, whose replies the reader thread hands back by `request_id`.
"""

import json
import mimetypes
import os
import re
import selectors
import signal
import socket
import stat
import sys
import threading
import traceback
import zipfile

from toru_plugin.context import Context, Link, Logger
from toru_plugin.http import HTTPError, Request, Response, Router, to_response
from toru_plugin.protocol import (FrameError, MalformedFrame, encode_frame, envelope, read_frame,
                                  reply_request_id)

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
INTERNAL_ERROR = "Internal error in the plugin (details are in its log)"


class Connection:
    """One connection from Toru; replies and KV requests are written whole
    under a lock, so threads never interleave frames."""

    def __init__(self, sock):
        self.sock = sock
        self.lock = threading.Lock()

    def send(self, message):
        frame = encode_frame(message)
        with self.lock:
            self.sock.sendall(frame)

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class Plugin:
    """A Toru plugin: `Plugin(...)`, routes and hooks, then `plugin.run()`."""

    max_in_flight = 64     # concurrent requests; more are answered 503 at once
    init_wait = 30.0       # a request arriving during on_init waits this long for it

    def __init__(self, id, name, version, author="", icon="", route=None, description=None):
        if not isinstance(id, str) or not ID_PATTERN.match(id):
            raise ValueError(f"plugin id {id!r} must match {ID_PATTERN.pattern}")
        route = "/" + id if route is None else route
        if not isinstance(route, str) or not route.startswith("/") or not ID_PATTERN.match(route[1:]):
            raise ValueError(f"plugin route {route!r} must be '/' plus one segment matching {ID_PATTERN.pattern}")
        for field, value in (("name", name), ("version", version), ("author", author), ("icon", icon)):
            if not isinstance(value, str):
                raise ValueError(f"plugin {field} must be a string, not {type(value).__name__}")
        if description is not None and not isinstance(description, str):
            raise ValueError("plugin description must be a string or None")
        self.id, self.name, self.version, self.author, self.icon = id, name, version, author, icon
        self.route_path, self.description = route, description
        self.router = Router()
        self._init_hooks, self._shutdown_hooks, self._config_hooks = [], [], []
        self._config_lock = threading.Lock()  # config hooks run one change at a time, in order
        self._has_bundle = False
        self.link = Link()
        self.log = Logger()
        self.ctx = Context(id, os.environ, self.link, self.log)
        self._init_started = threading.Event()
        self._init_done = threading.Event()
        self._init_once = threading.Lock()
        self._in_flight = 0
        self._count_lock = threading.Lock()
        self._connections = set()
        self._stop_reason = None
        self._wake = None
        self._wake_lock = threading.Lock()
        self._bound = None     # (path, inode) of the socket we created

    # --- declaring ---------------------------------------------------------------
    def metadata(self):
        data = {"id": self.id, "name": self.name, "version": self.version, "author": self.author,
                "icon": self.icon, "route": self.route_path, "concurrent": True}
        if self.description is not None:
            data["description"] = self.description
        if self._has_bundle:
            data["bundle"] = True
        return data

    def route(self, method, pattern):
        """Decorator: `@plugin.route("GET", "/items/<name>")`. `method` is a
        name, a list of names, or "*"; `<name>` matches one path segment and
        `<name:path>` the rest of the path."""
        def register(handler):
            self.router.add(method, pattern, handler)
            return handler
        return register

    def get(self, pattern):
        return self.route("GET", pattern)

    def post(self, pattern):
        return self.route("POST", pattern)

    def put(self, pattern):
        return self.route("PUT", pattern)

    def delete(self, pattern):
        return self.route("DELETE", pattern)

    def on_init(self, hook):
        """Decorator: `hook(ctx)` runs once, when Toru's `init` arrives."""
        self._init_hooks.append(hook)
        return hook

    def on_config(self, hook):
        """Decorator: `hook(ctx)` runs each time an admin changes the
        plugin's config in Toru while it runs; `ctx.config` is already the
        new object. (At start the config comes with `init`: read it in
        `on_init`.)"""
        self._config_hooks.append(hook)
        return hook

    def on_shutdown(self, hook):
        """Decorator: `hook(ctx)` runs once before the plugin exits (on
        Toru's `shutdown`, SIGTERM or SIGINT)."""
        self._shutdown_hooks.append(hook)
        return hook

    def bundle(self, path, route="/bundle.js", content_type=None):
        """Serve the file `path` (relative to the calling module's file, also
        inside a zipapp) on `GET <route>`: by default the frontend bundle
        Toru loads from `GET /bundle.js`. The file is read per request."""
        caller = sys._getframe(1).f_globals.get("__file__") or sys.argv[0]
        full = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(caller)), path))
        kind = content_type or ("application/javascript; charset=utf-8" if full.endswith(".js")
                                else mimetypes.guess_type(full)[0] or "application/octet-stream")

        def serve_file(request):
            try:
                data = read_resource(full)
            except OSError as e:
                self.log.error(f"cannot read {path}", error=str(e))
                raise HTTPError(404, f"{path} is missing from the plugin") from None
            try:
                data = data.decode("utf-8")  # text on the wire when it can be: old cores know no base64
            except UnicodeDecodeError:
                pass
            return Response(data, headers={"Content-Type": kind, "Cache-Control": "no-cache"})

        self.router.add("GET", route, serve_file)
        if route == "/bundle.js":
            self._has_bundle = True
        return full

    # --- running -----------------------------------------------------------------
    def run(self, argv=None, environ=None):
        """Handle `--metadata` and `--help`, or serve Toru on the socket in
        `TORU_PLUGIN_SOCKET` until told to stop. Never returns: exits 0 after
        a clean shutdown, 2 on a usage error, 1 when the socket cannot be bound."""
        argv = sys.argv[1:] if argv is None else list(argv)
        environ = os.environ if environ is None else environ
        if "--metadata" in argv:
            print(json.dumps(self.metadata()), flush=True)
            raise SystemExit(0)
        if "--help" in argv or "-h" in argv:
            print(self.usage(), flush=True)
            raise SystemExit(0)
        if argv:
            print(f"{self.id}: unknown argument {argv[0]!r} (try --help)", file=sys.stderr, flush=True)
            raise SystemExit(2)
        socket_path = environ.get("TORU_PLUGIN_SOCKET")
        if not socket_path:
            print(f"{self.id}: TORU_PLUGIN_SOCKET is not set: Toru starts this plugin; "
                  f"copy it to <data-dir>/plugins/ as a .binary (or try --metadata)", file=sys.stderr, flush=True)
            raise SystemExit(2)
        try:
            code = self.serve(socket_path)
        except OSError as e:
            self.log.error(f"cannot listen on {socket_path}", error=str(e))
            code = 1
        sys.stdout.flush()
        raise SystemExit(code)

    def usage(self):
        return (f"{self.name} {self.version} ({self.id}): a Toru plugin.\n\n"
                f"usage: {os.path.basename(sys.argv[0]) or self.id} [--metadata | --help]\n\n"
                "  --metadata  print this plugin's metadata as JSON and exit\n"
                "  --help      show this help and exit\n\n"
                "Toru runs the plugin with TORU_PLUGIN_SOCKET set and talks to it over that\n"
                "Unix socket. Install it as <data-dir>/plugins/<name>.binary (executable).")

    def serve(self, socket_path):
        """Listen on `socket_path` and serve until `shutdown` or a signal;
        returns 0. Removes the socket file on the way out."""
        listener = self._bind(socket_path)
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        self._wake = wake_w
        previous = self._install_signals()
        selector = selectors.DefaultSelector()
        selector.register(listener, selectors.EVENT_READ)
        selector.register(wake_r, selectors.EVENT_READ)
        self.log.debug("listening", socket=socket_path)
        try:
            while self._stop_reason is None:
                for key, _ in selector.select():
                    if key.fileobj is listener:
                        self._accept(listener)
            self.log.info(f"shutting down ({self._stop_reason})")
            self._run_hooks(self._shutdown_hooks, "on_shutdown")
        finally:
            selector.close()
            listener.close()
            self._unlink_socket()
            for connection in list(self._connections):
                connection.close()
            self._restore_signals(previous)
            with self._wake_lock:
                self._wake = None  # before closing: a late stop() must not write to a reused fd
            os.close(wake_r)
            os.close(wake_w)
        return 0

    def stop(self, reason="stop"):
        """Ask `serve` to finish (from any thread)."""
        if self._stop_reason is None:
            self._stop_reason = reason
        with self._wake_lock:
            self._poke()

    def _poke(self):
        if self._wake is not None:
            try:
                os.write(self._wake, b"x")
            except OSError:
                pass

    def _bind(self, socket_path):
        try:
            if stat.S_ISSOCK(os.lstat(socket_path).st_mode):
                os.unlink(socket_path)  # left over from a previous run of ours
        except FileNotFoundError:
            pass
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(socket_path)
            os.chmod(socket_path, 0o600)
            listener.listen(16)
        except OSError:
            listener.close()
            raise
        self._bound = (socket_path, os.stat(socket_path).st_ino)
        return listener

    def _unlink_socket(self):
        """Remove our socket file, unless it was already replaced by another."""
        if self._bound is None:
            return
        path, inode = self._bound
        self._bound = None
        try:
            if os.stat(path).st_ino == inode:
                os.unlink(path)
        except OSError:
            pass

    def _install_signals(self):
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous = {}
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, self._on_signal)
        return previous

    def _restore_signals(self, previous):
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    def _on_signal(self, signum, frame):
        if self._stop_reason is not None:
            # A second signal while on_shutdown runs (Toru's grace is over):
            # leave now, but still tidy the socket.
            self._unlink_socket()
            sys.stderr.flush()
            os._exit(0)
        # No lock here: the handler runs on the main thread, which may hold it.
        if self._stop_reason is None:
            self._stop_reason = signal.Signals(signum).name
        self._poke()

    def _accept(self, listener):
        try:
            sock, _ = listener.accept()
        except OSError:
            return
        sock.setblocking(True)
        connection = Connection(sock)
        self._connections.add(connection)
        self.link.attach(connection)
        threading.Thread(target=self._read_loop, args=(connection,), name="toru-plugin-reader",
                         daemon=True).start()

    # --- receiving ---------------------------------------------------------------
    def _read_loop(self, connection):
        try:
            while True:
                try:
                    message = read_frame(connection.sock)
                except MalformedFrame as e:
                    self.log.warn(f"ignored a frame: {e}")
                    continue
                if message is None:
                    break
                self.dispatch(connection, message)
        except FrameError as e:
            self.log.error(f"dropping the connection: {e}")
        except OSError:
            pass  # closed, by Toru or by our shutdown
        finally:
            self.link.detach(connection)
            self._connections.discard(connection)
            connection.close()

    def dispatch(self, connection, message):
        """Act on one message from Toru (called by the reader thread)."""
        payload = message.get("payload") if isinstance(message.get("payload"), dict) else {}
        kind = message.get("type") or payload.get("type")
        if kind == "kv":
            if not self.link.deliver(reply_request_id(message), message):
                self.log.debug("kv reply nobody waits for", request_id=reply_request_id(message))
        elif kind == "http":
            self._start_request(connection, reply_request_id(message), payload)
        elif kind == "lifecycle":
            action = payload.get("action") or message.get("action")
            if action == "init":
                self.ctx._apply_init(payload)  # here, in frame order: a later `config` frame wins
                self._init_started.set()
                threading.Thread(target=self._init, name="toru-plugin-init", daemon=True).start()
            elif action == "shutdown":
                self.stop("shutdown")
            elif action == "config":
                # Applied here, in the order frames arrive; hooks run in a thread.
                if self.ctx._apply_config(payload):
                    threading.Thread(target=self._config_changed, name="toru-plugin-config", daemon=True).start()
                else:
                    self.log.warn("ignored a config message without a config object")
            else:
                self.log.debug("ignored lifecycle action", action=str(action))
        else:
            self.log.debug("ignored a message of unknown type", type=str(kind))

    def _init(self):
        if not self._init_once.acquire(blocking=False):
            return  # hooks run once per process, even if Toru sends init again
        try:
            self._run_hooks(self._init_hooks, "on_init")
        finally:
            self._init_done.set()

    def _config_changed(self):
        with self._config_lock:
            if self._init_started.is_set():
                self._init_done.wait(self.init_wait)  # on_init first, then the changes after it
            self._run_hooks(self._config_hooks, "on_config")

    def _run_hooks(self, hooks, what):
        for hook in hooks:
            try:
                hook(self.ctx)
            except Exception as e:
                self.log.error(f"{what} hook {getattr(hook, '__name__', hook)} failed: {e!r}",
                               error=traceback.format_exc())

    def _start_request(self, connection, request_id, payload):
        with self._count_lock:
            busy = self._in_flight >= self.max_in_flight
            if not busy:
                self._in_flight += 1
        if busy:
            self._reply(connection, request_id, Response({"error": "Plugin is busy; try again"}, status=503))
            return
        threading.Thread(target=self._handle, args=(connection, request_id, payload), name="toru-plugin-request",
                         daemon=True).start()

    def _handle(self, connection, request_id, payload):
        try:
            self._reply(connection, request_id, self.respond(payload, request_id))
        finally:
            with self._count_lock:
                self._in_flight -= 1

    def respond(self, payload, request_id=None):
        """The Response to an `http` payload: routing, the handler, errors."""
        request = None
        try:
            if self._init_started.is_set():
                self._init_done.wait(self.init_wait)
            request = Request.from_payload(payload, ctx=self.ctx, request_id=request_id)
            handler, params = self.router.resolve(request.method, request.path)
            request.params = params
            return to_response(handler(request))
        except HTTPError as e:
            return e.response()
        except Exception as e:
            where = f"{request.method} {request.path}" if request else "request"
            self.log.error(f"{where} failed: {e!r}", error=traceback.format_exc())
            return Response({"error": INTERNAL_ERROR}, status=500)

    def _reply(self, connection, request_id, response):
        try:
            message = envelope("http", response.payload(), request_id)
            try:
                frame = encode_frame(message)
            except FrameError as e:
                self.log.error(f"reply too large: {e}")
                frame = encode_frame(envelope("http", Response({"error": "Reply too large"}, 500).payload(),
                                              request_id))
            with connection.lock:
                connection.sock.sendall(frame)
        except OSError as e:
            self.log.debug("reply not delivered (connection closed)", request_id=request_id, error=str(e))
        except (TypeError, ValueError) as e:  # a body json cannot encode
            self.log.error(f"cannot encode the reply: {e!r}", error=traceback.format_exc())
            self._reply(connection, request_id, Response({"error": INTERNAL_ERROR}, status=500))


def read_resource(path):
    """The bytes of `path`, which may lie inside a zip archive (a zipapp
    plugin: `/plugins/hello.binary/bundle.js`)."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except (FileNotFoundError, NotADirectoryError):
        head = path
        while os.path.dirname(head) != head:
            head = os.path.dirname(head)
            if os.path.isfile(head):
                if not zipfile.is_zipfile(head):
                    break
                member = os.path.relpath(path, head).replace(os.sep, "/")
                with zipfile.ZipFile(head) as archive:
                    try:
                        return archive.read(member)
                    except KeyError:
                        raise FileNotFoundError(f"{member} is not in {head}") from None
        raise
