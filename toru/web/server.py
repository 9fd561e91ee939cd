"""The server process: gevent's WSGI server with WebSocket support, TCP_NODELAY
on every connection, and a graceful stop on SIGTERM/SIGINT.
"""

import errno
import logging
import signal
import socket

import gevent
import gevent.event
import gevent.pool
import gevent.socket
from gevent import pywsgi
from geventwebsocket.handler import WebSocketHandler

from toru import __version__
from toru.web import websocket as ws
from toru.config import command_prefix
from toru.errors import ConfigError

log = logging.getLogger("toru.server")
access_log = logging.getLogger("toru.access")


class WSGIServer(pywsgi.WSGIServer):
    def handle(self, sock, address):
        # Without TCP_NODELAY a keep-alive response waits ~40 ms for the
        # client's delayed ACK (Nagle): measured 228 vs ~13,000 requests/s.
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return super().handle(sock, address)


class Handler(WebSocketHandler):
    def run_application(self):
        # Plain HTTP goes straight to the app: geventwebsocket's upgrade checks
        # (and their debug log calls) were ~5 % of a small request's time, and
        # for a request that is not an upgrade they end there anyway.
        if self.environ.get("HTTP_UPGRADE", "").lower() != "websocket":
            return pywsgi.WSGIHandler.run_application(self)
        return super().run_application()

    def log_request(self):
        # The access line is formatted only when it is written (debug level):
        # formatting and logging it at info for every request, as both pywsgi
        # and geventwebsocket do, was ~7 % of a small request's server time.
        if access_log.isEnabledFor(logging.DEBUG) and "101" not in str(self.status):
            access_log.debug(self.format_request())


def listen(host, port, backlog=1024):
    """Bind the listening socket first, before any other start-up work, so a
    taken port is reported at once and nothing else is touched."""
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
    except socket.gaierror as e:
        raise ConfigError(f"cannot listen on {host!r}: {e.strerror}") from None
    sock = gevent.socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {port} on {host} is already in use; stop the other process "
                              "or choose another with --port") from None
        if e.errno == errno.EADDRNOTAVAIL:
            raise ConfigError(f"cannot listen on {host}: no such address on this machine") from None
        if e.errno == errno.EACCES and port < 1024:
            raise ConfigError(f"cannot listen on {host}:{port}: ports below 1024 need root (or the "
                              "CAP_NET_BIND_SERVICE capability); use a port from 1024 up, behind a reverse "
                              "proxy for 80/443 (docs/deploy.md)") from None
        raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror}") from None
    return sock


def make_server(app, listener):
    server = WSGIServer(listener, app, handler_class=Handler,
                        spawn=gevent.pool.Pool(None), log=None, error_log=log)
    server.pre_start_hook = ws.handshake_hook(app.services)  # refuse bad upgrades before handshaking
    return server


def url_for(host, port):
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def admin_sign_in(services):
    """How the operator signs in. A generated password goes to the console
    once, never to a log file."""
    config = services.config
    if config.admin_password:
        return ""
    if services.generated_admin_password:
        return (f"\n  Sign in as '{config.admin_username}' with this generated password "
                f"(shown once, only here):\n\n      {services.generated_admin_password}\n\n"
                f"  Set ADMIN_PASSWORD to choose your own, or reset it with:\n"
                f"      {reset_command(config)}\n")
    return (f"Admin '{config.admin_username}' signs in with the password kept (hashed) in the database, "
            f"generated at first start or by reset-admin-password; forgot it? {reset_command(config)}")


def reset_command(config):
    return f"{command_prefix()} reset-admin-password --data-dir {config.data_dir}"


def serve(app, listener, announce=print):
    """Run until SIGTERM/SIGINT; then stop accepting, give in-flight requests
    `timings.request_grace` seconds, stop background work and return 0."""
    config, services = app.services.config, app.services
    server = make_server(app, listener)
    stopping = gevent.event.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stopping.set)
    server.start()
    services.start()
    host, port = server.address[:2]
    log.info("listening", extra={"url": url_for(host, port), "version": __version__,
                                 "data_dir": str(config.data_dir), "instance_id": services.instance_id})
    if not config.secure_cookies:
        # The original logged this too: over plain HTTP a cookie can be read on the wire.
        log.warning("session cookies are not marked Secure; set PRODUCTION=1 (or SECURE_COOKIES=1) "
                    "when Toru is served over HTTPS")
    # One write: whoever sees the address also sees how to sign in.
    sign_in = admin_sign_in(services)
    announce(f"Toru {__version__} listening on {url_for(host, port)}  (data: {config.data_dir})"
             + (f"\n{sign_in}" if sign_in else ""), flush=True)
    try:
        stopping.wait()
        log.info("shutting down")
    finally:
        grace = config.timings.request_grace
        server.stop(timeout=grace)
        services.stop(timeout=grace)
        log.info("stopped")
    return 0
