#!/usr/bin/env python3
"""The plugin bench/plugin_bench.py measures: as little work per request as
the wire protocol allows, so what is timed is the path to it. Stdlib only.

    ping_plugin.py --metadata      # the metadata JSON
    TORU_PLUGIN_SOCKET=/path ping_plugin.py

Binds TORU_PLUGIN_SOCKET, serves each connection in its own thread: frames
in, frames out (4-byte big-endian length + UTF-8 JSON). `http` GET `/ping`
answers 200 `pong` (text/plain), anything else 404; the reply echoes the
request's `request_id`. `GET /ping?wait_ms=N` answers after N ms, as a
plugin waiting on a database or a subprocess would. `lifecycle`/`shutdown` exits 0; other frames are
ignored. Installed as `ping.binary` it declares `"concurrent": false` like
the original design's plugins, so the core sends it one request at a time;
as `ping-mux.binary` (any file name with `mux` in it) it is plugin
`ping-mux` and declares `"concurrent": true`: the core then writes requests
without waiting, and the connection's thread answers them in order, each
with its `request_id` (a reader that serves frames as they come is all
multiplexing asks of a plugin whose answers take no time); a request that
waits is answered from a pool of threads, so waits overlap. With
PING_PLUGIN_PARENT=<pid> (the benchmark's standalone instance) it dies
with that parent.
"""

import ctypes
import json
from concurrent.futures import ThreadPoolExecutor
import os
import signal
import socket
import struct
import sys
import threading
import time

HEADER = struct.Struct(">I")
PR_SET_PDEATHSIG = 1
CONCURRENT = "mux" in os.path.basename(sys.argv[0])
PLUGIN_ID = "ping-mux" if CONCURRENT else "ping"
METADATA = {"id": PLUGIN_ID, "name": "Ping (benchmark)", "version": "1.0", "author": "bench/plugin_bench.py",
            "icon": "P", "route": "/" + PLUGIN_ID, "description": "Answers GET /ping with pong.",
            "concurrent": CONCURRENT}
PONG = {"status": 200, "headers": {"Content-Type": "text/plain"}, "body": "pong"}
NOT_FOUND = {"status": 404, "headers": {"Content-Type": "text/plain"}, "body": "not found"}


def frame(message):
    data = json.dumps(message, separators=(",", ":")).encode()
    return HEADER.pack(len(data)) + data


WAITERS = ThreadPoolExecutor(16) if CONCURRENT else None


def requested_wait(message):
    """Seconds an `http` request (either payload shape) asks to wait (`?wait_ms=`)."""
    payload = message.get("payload") or {}
    request = payload.get("payload") if isinstance(payload.get("payload"), dict) else payload
    query = (request.get("path") or "").partition("?")[2]
    wait = next((int(v) for k, _, v in (p.partition("=") for p in query.split("&")) if k == "wait_ms"), 0)
    return wait / 1000.0


def answer(message, wait=0.0):
    """The reply frame to an `http` request (either payload shape), after `wait` s."""
    if wait:
        time.sleep(wait)
    payload = message.get("payload") or {}
    request = payload.get("payload") if isinstance(payload.get("payload"), dict) else payload
    path = (request.get("path") or "/").split("?", 1)[0]
    request_id = message.get("request_id") or payload.get("request_id")
    reply = PONG if request.get("method") == "GET" and path == "/ping" else NOT_FOUND
    return frame({"type": "http", "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "request_id": request_id, "payload": reply})


def answer_later(conn, lock, message, wait):
    data = answer(message, wait)
    with lock:
        conn.sendall(data)


def serve(conn):
    reader = conn.makefile("rb")  # buffered: a frame is usually one recv
    lock = threading.Lock()       # whole frames out, whichever thread writes
    try:
        while True:
            header = reader.read(HEADER.size)
            if len(header) < HEADER.size:
                return
            size = HEADER.unpack(header)[0]
            body = reader.read(size)
            if len(body) < size:
                return
            message = json.loads(body)
            kind = message.get("type")
            wait = requested_wait(message) if kind == "http" else 0.0
            if wait and WAITERS:
                WAITERS.submit(answer_later, conn, lock, message, wait)
            elif kind == "http":
                data = answer(message, wait)
                with lock:
                    conn.sendall(data)
            elif kind == "lifecycle" and (message.get("payload") or {}).get("action") == "shutdown":
                os._exit(0)
    except (OSError, ValueError):
        return
    finally:
        reader.close()
        conn.close()


def main():
    if "--metadata" in sys.argv[1:]:
        print(json.dumps(METADATA))
        return
    parent = os.environ.get("PING_PLUGIN_PARENT")
    if parent:  # the standalone instance of bench/plugin_bench.py: never outlive it
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != int(parent):
            return
    path = os.environ["TORU_PLUGIN_SOCKET"]
    if os.path.exists(path):
        os.unlink(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(64)
    print(json.dumps({"level": "info", "message": f"ping plugin listening on {path}"}), flush=True)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
