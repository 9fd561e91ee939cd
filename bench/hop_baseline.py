"""The floor of the plugin proxy hop, for bench/plugin_bench.py: a bare
gevent pywsgi server (bench/baseline_server.py's) where `GET /hello`
answers at once and `GET /ping` first makes one round trip to a plugin's
Unix socket — the `http` frame Toru sends for that request, the reply read
and checked — in the request's own greenlet, on one kept connection:
no sessions, no Bottle, no routing, no reader of any kind. `/ping` − `/hello`
is what the extra Unix-socket round trip costs a gevent server on this
machine, with nothing else around it. `GET /conn` makes the same round trip
through Toru's own `PluginConnection` (toru/plugins/protocol.py, lockstep):
`/conn` − `/ping` is what that class costs over the bare minimum.

    python3 bench/hop_baseline.py --port 8080 --plugin-socket /path/to/ping.sock
"""

from baseline_server import monkey, serve  # noqa: F401  (patch_all ran on import)

import argparse  # noqa: E402
import itertools  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
import gevent.lock  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "sdk_py")]
from toru_plugin.protocol import FrameReader, encode_frame, envelope  # noqa: E402

from toru.plugins.protocol import PluginConnection  # noqa: E402

# The headers Toru forwards for the benchmark's request (plugin_bench.FORWARDED_HEADERS).
HEADERS = {"accept-encoding": "identity", "x-toru-user": "admin", "x-toru-role": "admin"}
HELLO = b'{"status": "ok"}'


class PluginLink:
    """One connection to the plugin, one request at a time."""

    def __init__(self, path):
        self.path = path
        self.sock = None
        self.frames = None
        self.lock = gevent.lock.Semaphore(1)
        self.ids = itertools.count(1)

    def ping(self):
        with self.lock:
            if self.sock is None:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(self.path)
                self.frames = FrameReader(self.sock)
            request_id = f"hop-{next(self.ids)}"
            request = {"method": "GET", "path": "/ping", "headers": HEADERS, "body": None}
            payload = dict(request, payload=dict(request), type="http", request_id=request_id)
            self.sock.sendall(encode_frame(envelope("http", payload, request_id)))
            reply = self.frames.next()
        if reply is None or reply.get("request_id") != request_id:
            raise RuntimeError(f"unexpected reply {reply!r}")
        return reply["payload"]["body"].encode()


def make_app(link, connection):
    request = {"method": "GET", "path": "/ping", "headers": HEADERS, "body": None}
    payload = dict(request, payload=request)

    def app(environ, start_response):
        path = environ["PATH_INFO"]
        if path == "/ping":
            body = link.ping()
        elif path == "/conn":
            body = connection.request("http", payload, 30)["payload"]["body"].encode()
        else:
            body = HELLO
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    return app


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--plugin-socket", required=True)
    args = parser.parse_args()
    application = make_app(PluginLink(args.plugin_socket), PluginConnection("ping", args.plugin_socket))
    serve(application, args.host, args.port, "hop baseline")


if __name__ == "__main__":
    main()
