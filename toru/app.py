"""Application factory: `create_app(config)` opens the store, builds the
services and registers every module's routes on a fresh `App`. Nothing
happens at import time, so tests build one app per temp data dir.
"""

import logging
import time
from dataclasses import dataclass, field

import gevent.pool

from toru import instance, ui
from toru.config import Config
from toru.store import Store
from toru.web import App, ErrorsPlugin

log = logging.getLogger("toru.app")


@dataclass
class Services:
    """Everything long-lived that routes and background work share."""
    config: Config
    store: Store
    instance_id: str
    started_at: float = field(default_factory=time.time)
    # Long-lived greenlets (samplers, supervisors…) live here so shutdown can
    # kill them all with one bounded call.
    greenlets: gevent.pool.Group = field(default_factory=gevent.pool.Group)

    def start(self):
        """Start background work; called by the server, not by create_app."""

    def stop(self, timeout=5):
        self.greenlets.kill(timeout=timeout)
        self.store.close()


# Route modules in registration order; the UI's catch-all must come last.
ROUTE_MODULES = [instance, ui]


def create_app(config):
    store = Store(config.db_path)
    services = Services(config=config, store=store, instance_id=store.instance_id())
    app = App(services)
    app.install(ErrorsPlugin(config.max_body_bytes))
    for module in ROUTE_MODULES:
        module.register(app, services)
    return app
