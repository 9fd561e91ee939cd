"""Application factory: `create_app(config)` opens the store, builds the
services and registers every module's routes on a fresh `App`. Nothing
happens at import time, so tests build one app per temp data dir.
"""

import logging
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import gevent
import gevent.pool

from toru import instance, settings as settings_mod
from toru.accounts import users as accounts_mod
from toru.accounts import auth as auth_mod
from toru.accounts import tokens as tokens_mod
from toru.accounts import audit as audit_mod
from toru.accounts import audit_capture
from toru.tasks import quick_actions as quick_actions_mod
from toru.tasks import scripts as scripts_mod
from toru.monitor import metrics, system
from toru.tasks import history as task_history_mod
from toru.tasks import runner as tasks_mod
from toru.tasks import schedules as schedules_mod
from toru.web import ui
from toru.web import websocket as ws
from toru.accounts.audit import AuditTrail
from toru.accounts.users import Accounts
from toru.accounts.auth import AccessPlugin, Auth
from toru.accounts.credentials import CredentialCache
from toru.accounts.tokens import Tokens
from toru.accounts.two_factor import TwoFactor
from toru.config import Config
from toru.live import Hub
from toru.accounts.login_limits import LoginLimiter
from toru.plugins import api as plugins_api
from toru.plugins.manager import PluginManager
from toru.tasks.arguments import Arguments
from toru.tasks.quick_actions import QuickActions
from toru.tasks.scripts import Scripts
from toru.web.security import SecurityPlugin
from toru.accounts.sessions import Sessions
from toru.settings import Settings
from toru.store import Store
from toru.monitor.system import DEFAULT_SKIP_FSTYPES, Monitor
from toru.tasks.history import TaskHistory
from toru.tasks.runner import TaskRunner
from toru.tasks.scheduler import Scheduler
from toru.tasks.schedules import Schedules
from toru.web.http import App, ErrorsPlugin
from toru.alerts import channels_api as alert_channels_api
from toru.alerts.channels import Channels as AlertChannels
from toru.alerts.delivery import DeliveryLog, Dispatcher
from toru.alerts import api as alerts_api
from toru.alerts.engine import AlertEngine
from toru.alerts.rules import AlertRules
from toru.alerts.sources import AlertSources

log = logging.getLogger("toru.app")
CLEANUP_EVERY = 24 * 3600
PLUGINS_STOP_WITHIN = 10


@dataclass
class Services:
    """Everything long-lived that routes and background work share."""
    config: Config
    store: Store
    instance_id: str
    accounts: Accounts
    sessions: Sessions
    auth: Auth
    tokens: Tokens
    monitor: Monitor
    settings: Settings
    scripts: Scripts
    task_history: TaskHistory
    tasks: TaskRunner
    quick_actions: QuickActions
    schedules: Schedules
    scheduler: Scheduler
    plugins: PluginManager
    hub: Hub
    audit: AuditTrail
    alert_channels: AlertChannels = None     # where alert notifications go (toru/alerts/channels.py)
    alert_dispatcher: Dispatcher = None      # delivers them off the caller's path (toru/alerts/delivery.py)
    alert_rules: AlertRules = None           # what to alert on (toru/alerts/rules.py)
    alerts: AlertEngine = None               # pending/firing alerts and their history (toru/alerts/engine.py)
    alert_sources: AlertSources = None       # metrics, tasks, plugins, sign-ins → the engine
    # The admin password generated on this first start, for the console only.
    generated_admin_password: str = None
    # What an admin should know about how this instance is reached or set up
    # ({"code", "message"}), shown on Settings → Instance.
    notices: list = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    # Long-lived greenlets (samplers, supervisors…) live here so shutdown can
    # kill them all with one bounded call.
    greenlets: gevent.pool.Group = field(default_factory=gevent.pool.Group)
    # Handlers create_app put on loggers (the audit trail's), removed at stop.
    log_handlers: list = field(default_factory=list)

    def start(self):
        """Start background work; called by the server, not by create_app."""
        self.greenlets.spawn(self._cleanup_loop)
        self.greenlets.spawn(self.monitor.run)
        self.greenlets.spawn(self.tasks.sample_loop)
        self.greenlets.spawn(self.tasks.prune_loop)
        self.greenlets.spawn(self.scheduler.run)
        self.greenlets.spawn(self.alert_dispatcher.run)
        self.greenlets.spawn(self.alert_sources.run, self.config.timings.sample_interval)
        self.plugins.rescan("start")
        self.greenlets.spawn(self.plugins.watch)

    def _cleanup_loop(self):
        while True:
            try:
                self.auth.cleanup()
                self.plugins.events.prune()
                self.audit.prune()
                self.alert_dispatcher.deliveries.prune(self.settings.get("alert_history_days"))
                self.alerts.prune()
            except Exception:
                log.exception("cleanup failed")
            gevent.sleep(CLEANUP_EVERY)

    def stop(self, timeout=5):
        # Tasks and plugins stop in parallel: TERM, grace, KILL for each.
        stopping = []
        if self.tasks.running:
            stopping.append(gevent.spawn(self.tasks.shutdown, timeout))
        if self.plugins.processes:
            stopping.append(gevent.spawn(self.plugins.shutdown))
        gevent.joinall(stopping, timeout=PLUGINS_STOP_WITHIN + 1)
        self.greenlets.kill(timeout=timeout)
        while self.log_handlers:
            # Dropped now, not at interpreter exit, where logging's clean-up
            # of a handler would run after gevent's hub is gone.
            self.log_handlers.pop().detach()
        self.store.close()


# Route modules in registration order; the UI's catch-all must come last.
ROUTE_MODULES = [instance, auth_mod, tokens_mod, accounts_mod, audit_mod, system, ws, settings_mod, scripts_mod,
                 tasks_mod, task_history_mod, quick_actions_mod, schedules_mod, plugins_api, metrics,
                 alert_channels_api, alerts_api, ui]


def build_services(config, clock=time.time):
    """The services over `config`; `clock` (wall time) is what schedules
    go by: tests pass their own to step it."""
    store = Store(config.db_path)
    credentials = CredentialCache(store)  # sessions' and tokens' users in memory, shared by all three
    accounts = Accounts(store, config, credentials)
    sessions = Sessions(store, credentials)
    settings = Settings(store, config.data_dir)
    tokens = Tokens(store, accounts, credentials)
    limiter = LoginLimiter(store)
    auth = Auth(config, accounts, sessions, limiter, tokens, TwoFactor(store, limiter.clock), settings)
    timings = config.timings
    hub = Hub(auth.user_for_token, timings.revalidate_every)
    monitor = Monitor(hub.topic("resources", public=True), timings.sample_interval,
                      config.skip_fstypes or DEFAULT_SKIP_FSTYPES, config.skip_interfaces)
    scripts = Scripts(settings)
    scripts.create_default_dir()
    history = TaskHistory(store)
    spool_dir = Path(config.data_dir) / "tasks"
    greenlets = gevent.pool.Group()
    quick_actions = QuickActions(store, scripts, Arguments(scripts, timings))
    runner = TaskRunner(scripts, settings, history, quick_actions, spool_dir, greenlets, hub, timings)
    schedules = Schedules(store, quick_actions, clock)
    scheduler = Scheduler(schedules, runner, history, hub.topic("schedules", public=True, admin_only=True),
                          timings, greenlets, clock)
    instance_id = store.instance_id()
    plugins = PluginManager(config, store, instance_id)  # its timings are config.timings
    services = Services(config=config, store=store, instance_id=instance_id,
                        accounts=accounts, sessions=sessions, auth=auth, tokens=tokens, monitor=monitor,
                        settings=settings, scripts=scripts, task_history=history, tasks=runner,
                        quick_actions=quick_actions, schedules=schedules, scheduler=scheduler, plugins=plugins,
                        hub=hub, greenlets=greenlets, audit=AuditTrail(store, settings))
    services.alert_channels = AlertChannels(store)
    services.alert_dispatcher = Dispatcher(services.alert_channels, DeliveryLog(store), timings,
                                           socket.gethostname(), instance_id)
    build_alerts(services, clock)
    # After the alert engine listens: a run a crash left `running` can be a task_failed alert.
    history.mark_interrupted(spool_dir, settings.get("output_cap_bytes"))
    services.generated_admin_password = accounts.setup_admin()
    return services


def build_alerts(services, clock):
    """Alert rules, the engine over them (it goes by `clock`) and its sources."""
    rules = AlertRules(services.store, services.alert_channels, clock)
    engine = AlertEngine(services.store, rules, services.settings, services.hub.topic("alerts", public=True),
                         host=services.monitor.host["hostname"], instance_id=services.instance_id,
                         public_url=services.config.public_url, dispatcher=services.alert_dispatcher, clock=clock)
    sources = AlertSources(engine, services.plugins, clock)
    sources.attach(services.monitor, services.task_history, services.audit)
    services.alert_rules, services.alerts, services.alert_sources = rules, engine, sources


def create_app(config, clock=time.time):
    services = build_services(config, clock)
    app = App(services)
    # First installed wraps outermost: the audit row sees the final status of
    # everything inside, errors map everything raised inside them.
    app.install(audit_capture.AuditPlugin(services.audit, config))
    app.install(ErrorsPlugin(config.max_body_bytes))
    app.install(SecurityPlugin(config, services.notices))
    app.install(AccessPlugin(services.auth))
    for module in ROUTE_MODULES:
        module.register(app, services)
    auth_mod.check_routes(app)
    audit_capture.check_routes(app)
    handler = audit_capture.TrailHandler(services.audit, config)
    handler.attach()
    services.log_handlers.append(handler)
    return app
