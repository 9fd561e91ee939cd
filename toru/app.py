"""Application factory: `create_app(config)` opens the store, builds the
services and registers every module's routes on a fresh `App`. Nothing
happens at import time, so tests build one app per temp data dir.
"""

import logging
import time
from dataclasses import dataclass, field

import gevent
import gevent.pool

from toru import accounts as accounts_mod, auth as auth_mod, instance, system, ui, ws
from toru.accounts import Accounts
from toru.auth import AccessPlugin, Auth
from toru.config import Config
from toru.login_limits import LoginLimiter
from toru.security import SecurityPlugin
from toru.sessions import Sessions
from toru.store import Store
from toru.system import DEFAULT_SKIP_FSTYPES, Monitor
from toru.web import App, ErrorsPlugin

log = logging.getLogger("toru.app")
CLEANUP_EVERY = 24 * 3600


@dataclass
class Services:
    """Everything long-lived that routes and background work share."""
    config: Config
    store: Store
    instance_id: str
    accounts: Accounts
    sessions: Sessions
    auth: Auth
    monitor: Monitor
    # The admin password generated on this first start, for the console only.
    generated_admin_password: str = None
    # WebSocket message type → handler(connection, message); see toru/ws.py.
    ws_handlers: dict = field(default_factory=dict)
    # Topic name → the set of connections subscribed to it (ws "subscribe").
    ws_topics: dict = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)
    # Long-lived greenlets (samplers, supervisors…) live here so shutdown can
    # kill them all with one bounded call.
    greenlets: gevent.pool.Group = field(default_factory=gevent.pool.Group)

    def start(self):
        """Start background work; called by the server, not by create_app."""
        self.greenlets.spawn(self._cleanup_loop)
        self.greenlets.spawn(self.monitor.run)

    def _cleanup_loop(self):
        while True:
            try:
                self.auth.cleanup()
            except Exception:
                log.exception("cleanup failed")
            gevent.sleep(CLEANUP_EVERY)

    def stop(self, timeout=5):
        self.greenlets.kill(timeout=timeout)
        self.store.close()


# Route modules in registration order; the UI's catch-all must come last.
ROUTE_MODULES = [instance, auth_mod, accounts_mod, system, ws, ui]


def build_services(config):
    store = Store(config.db_path)
    accounts = Accounts(store, config)
    sessions = Sessions(store)
    auth = Auth(config, accounts, sessions, LoginLimiter(store))
    monitor = Monitor(config.sample_interval, config.skip_fstypes or DEFAULT_SKIP_FSTYPES,
                      config.skip_interfaces)
    services = Services(config=config, store=store, instance_id=store.instance_id(),
                        accounts=accounts, sessions=sessions, auth=auth, monitor=monitor)
    services.generated_admin_password = accounts.setup_admin()
    return services


def create_app(config):
    services = build_services(config)
    app = App(services)
    # First installed wraps outermost: errors map everything raised inside.
    app.install(ErrorsPlugin(config.max_body_bytes))
    app.install(SecurityPlugin(config))
    app.install(AccessPlugin(services.auth))
    for module in ROUTE_MODULES:
        module.register(app, services)
    auth_mod.check_routes(app)
    return app
