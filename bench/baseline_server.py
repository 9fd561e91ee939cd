"""The baseline for bench/http_bench.py: a bare gevent pywsgi hello-world,
configured as Toru's server is where it costs nothing to match (TCP_NODELAY
on accepted sockets, an unbounded Pool, no access log) and answering every
path with a tiny JSON body like /api/health's.

    python3 bench/baseline_server.py --port 8080
    python3 bench/baseline_server.py --port 8080 --bottle

With `--bottle` the same answer comes from a bare Bottle app (one route, a
dict, Bottle's own JSON plugin, nothing of Toru's): the floor of any Bottle
app on this server, which bench/http_bench.py prints beside Toru.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402  (after patch_all, as in every gevent entry point)
import json  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402
import gevent.pool  # noqa: E402
from gevent import pywsgi  # noqa: E402

STARTED_AT = time.time()


class WSGIServer(pywsgi.WSGIServer):
    def handle(self, sock, address):
        # Same reason as toru/web/server.py: without it every keep-alive response
        # waits for the client's delayed ACK and the baseline measures Nagle.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return super().handle(sock, address)


def app(environ, start_response):
    body = json.dumps({"status": "ok", "version": "baseline",
                       "uptime_s": round(time.time() - STARTED_AT, 3)}).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]


def bottle_app():
    import bottle
    application = bottle.Bottle()

    @application.get("/api/health")
    def health():
        return {"status": "ok", "version": "baseline", "uptime_s": round(time.time() - STARTED_AT, 3)}
    return application


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bottle", action="store_true", help="answer from a bare Bottle app")
    args = parser.parse_args()
    serve(bottle_app() if args.bottle else app, args.host, args.port, "baseline")


def serve(application, host, port, name):
    """Serve `application` until SIGTERM/SIGINT (bench/hop_baseline.py too)."""
    server = WSGIServer((host, port), application, spawn=gevent.pool.Pool(None), log=None)
    server.start()
    stopping = gevent.event.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stopping.set)
    print(f"{name} listening on http://{host}:{port}", flush=True)
    try:
        stopping.wait()
    finally:
        server.stop(timeout=1)


if __name__ == "__main__":
    main()
