"""Supervision of one plugin process: an explicit state machine in the manner
of supervisord, with death noticed at once (a greenlet blocks on the
process) instead of a polling tick.

    STOPPED ─start─▶ STARTING ─socket accepts, init sent─▶ RUNNING
    STARTING/RUNNING ─exits─▶ BACKOFF ─delay─▶ STARTING   (delay 1, 2, 4, 8, 16 s)
    BACKOFF ─10th crash in a row─▶ FAILED (and disabled)
    STARTING/RUNNING ─stop─▶ STOPPING ─exits─▶ STOPPED

Only `_transition` changes `state`; it refuses moves not in ALLOWED and
records the move as exactly one event (a `plugin_events` row, a
`plugin-supervisor.log` line and a push to the UI), after the state and
the figures the event reports have changed. Which event names which move:

    → STARTING   starting (first start, enable, restart) · restarting_with_backoff (after BACKOFF)
    → RUNNING    started
    → BACKOFF    exited (it ended by itself) · start_failed (could not run, or no socket in time)
    → FAILED     disabled_after_max_restarts
    → STOPPING   stopping
    → STOPPED    stopped (by itself after `shutdown`, or nothing was running) · killed (TERM/KILL needed)

Timings (socket timeout, stop grace, backoff, stable run) are
`toru.config.Timings`; processes start and stop through `toru.processes`.
"""

import enum
import logging
import os
import signal
import time

import gevent
import gevent.event
from gevent import subprocess
from toru_plugin.protocol import PROTOCOL_VERSION

from toru.config import Timings
from toru.errors import PluginTimeout
from toru.plugins.logs import capture_lines, line_writer
from toru.plugins.protocol import PluginConnection, PluginUnavailable
from toru.processes import describe_exit, exit_text, signal_group, spawn, stop_group

log = logging.getLogger("toru.plugins")

MAX_CRASHES = 10  # in a row → FAILED and disabled (a count, not a timing)
CRASH_LOOP = 3    # crashes in a row from which a restarting plugin reads as crash-looping


class PluginState(str, enum.Enum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    BACKOFF = "backoff"
    FAILED = "failed"
    STOPPING = "stopping"


S = PluginState
ALLOWED = {
    S.STOPPED: {S.STARTING},
    S.STARTING: {S.RUNNING, S.BACKOFF, S.STOPPING},
    S.RUNNING: {S.BACKOFF, S.STOPPING},
    S.BACKOFF: {S.STARTING, S.FAILED, S.STOPPED},
    S.STOPPING: {S.STOPPED},
    S.FAILED: {S.STARTING, S.STOPPED},
}
UP = (S.STARTING, S.RUNNING, S.STOPPING)  # a process exists (or is being made)


class IllegalTransition(Exception):
    def __init__(self, plugin_id, old, new):
        super().__init__(f"plugin {plugin_id}: {old.value} → {new.value} is not allowed")


def backoff_delay(crashes, timings):
    return min(timings.backoff_base * 2 ** (crashes - 1), timings.backoff_cap)


class PluginProcess:
    """One valid plugin binary and, while it runs, its process. Its counters
    (crashes, restarts) change only through its own methods."""

    def __init__(self, plugin, *, socket_path, log, data_dir, instance_id, log_path, events, on_kv,
                 on_give_up, timings=None, max_crashes=MAX_CRASHES, popen=subprocess.Popen,
                 clock=time.monotonic, config_of=None):
        self.plugin = plugin            # discovery.Discovered (path, metadata)
        self.id = plugin.metadata["id"]
        self.socket_path = str(socket_path)
        self.log = log                  # RotatingJsonLog of this plugin's output
        self.data_dir = data_dir
        self.instance_id = instance_id
        self.log_path = str(log_path)
        self.events = events
        self.on_kv = on_kv              # fn(plugin_id, message) → reply frame
        self.on_give_up = on_give_up    # fn(plugin_id): disable it in the config
        self.config_of = config_of or (lambda plugin_id: {})  # fn(plugin_id) → its config object
        self.config_sender = None       # the greenlet delivering a changed config
        self.config_changed = False
        self.timings = timings or Timings()
        self.max_crashes = max_crashes
        self.popen = popen              # the seam unit tests replace
        self.clock = clock
        self.state = S.STOPPED
        self.proc = None
        self.connection = None
        self.crashes = 0
        self.restarts = 0
        self.started_at = None          # clock() of the last start
        self.started_wall = None
        self.retry_at = None
        self.retry = None
        self.last_exit = None
        self.reason = None              # why FAILED, for the API
        self.failure = None             # why the current start is being abandoned (we killed it)
        self.stop_reason = None
        self.signalled = None           # the last signal a stop needed ("SIGTERM"/"SIGKILL")
        self.ok_at = None               # last time the socket accepted or a reply came
        self.problem_at = None          # last protocol problem or timeout
        self.stopped = gevent.event.Event()
        self.stopped.set()

    # --- the state machine -------------------------------------------------------
    def _transition(self, new, event_type, reason, **details):
        """Move to `new` and record it as one `event_type` event (details
        carry old, new and reason). Callers update what the event and the
        pushed card report *before* calling this."""
        if new not in ALLOWED[self.state]:
            raise IllegalTransition(self.id, self.state, new)
        old, self.state = self.state, new
        log.info("plugin transition", extra={"plugin": self.id, "old": old.value, "new": new.value,
                                             "event": event_type, "reason": reason})
        self.events.record(self.id, event_type, old=old.value, new=new.value, reason=reason, **details)

    # --- starting ----------------------------------------------------------------
    def start(self, reason="start"):
        """Start it unless a process is already up or on its way."""
        if self.state in UP:
            return
        self._cancel_retry()
        self.reason = None
        self._launch("starting", reason)

    def start_fresh(self, reason):
        """An operator's start (enable, restart): the crash count starts again."""
        self.crashes = 0
        self.start(reason)

    def restart(self, reason="restart"):
        self.stop(reason)
        self.start_fresh(reason)

    def _launch(self, event_type, reason, **details):
        self.stopped.clear()
        self.failure = self.signalled = None
        try:
            os.unlink(self.socket_path)
        except FileNotFoundError:
            pass
        self._transition(S.STARTING, event_type, reason, **details)
        env = {"TORU_PLUGIN_SOCKET": self.socket_path, "TORU_PLUGIN_ID": self.id,
               "TORU_INSTANCE_ID": self.instance_id, "TORU_LOG_PATH": self.log_path}
        try:
            proc = spawn([self.plugin.path], cwd=self.data_dir, env=env, popen=self.popen)
        except OSError as e:
            if self.state is S.STOPPING:  # stopped while the fork was under way
                self._transition(S.STOPPED, "stopped", self.stop_reason)
                self.stopped.set()
            else:
                self._crashed(None, f"cannot start: {e}")
            return
        self.proc = proc
        self.started_at = self.clock()
        self.started_wall = time.time()
        self.ok_at = self.problem_at = None
        self.connection = PluginConnection(self.id, self.socket_path,
                                           concurrent=self.plugin.metadata.get("concurrent", False),
                                           on_request=lambda conn, message: self.on_kv(self.id, message),
                                           on_problem=self._connection_problem)
        for pipe, stream in ((proc.stdout, "stdout"), (proc.stderr, "stderr")):
            gevent.spawn(capture_lines, pipe, line_writer(self.log, self.id, stream, proc.pid))
        gevent.spawn(self._wait, proc)
        # spawn() yields while the child execs: a stop may have come meanwhile.
        gevent.spawn(self._shut_down if self.state is S.STOPPING else self._await_socket, proc)

    def _await_socket(self, proc):
        deadline = self.clock() + self.timings.socket_timeout
        connection = self.connection
        while proc is self.proc and self.state is S.STARTING:
            if os.path.exists(self.socket_path) and connection.try_connect():
                try:
                    connection.lifecycle("init", instance_id=self.instance_id, plugin_socket=self.socket_path,
                                         socket_path=self.socket_path, log_path=self.log_path,
                                         protocol_version=PROTOCOL_VERSION, config=self.config_of(self.id))
                except Exception as e:  # it closed at once or is dying: try again until the deadline
                    log.info("init not delivered", extra={"plugin": self.id, "error": str(e)})
                else:
                    self.ok_at = time.time()
                    self._transition(S.RUNNING, "started", "socket accepted, init sent", pid=proc.pid)
                    return
            if self.clock() >= deadline:
                self.failure = f"no socket within {self.timings.socket_timeout:g} s"
                signal_group(proc.pid, signal.SIGKILL)  # _wait sees the exit and backs off
                return
            gevent.sleep(0.02)

    # --- exits ----------------------------------------------------------------------
    def _wait(self, proc):
        code = proc.wait()
        signal_group(proc.pid, signal.SIGKILL)  # what the plugin left in its group goes with it
        if proc is not self.proc:
            return
        self.proc = None
        if self.connection:
            self.connection.close()
        self.last_exit = dict(describe_exit(code), at=time.time())
        if self.state is S.STOPPING:
            details = describe_exit(code)
            if self.signalled:
                details["signal"] = self.signalled
            self._transition(S.STOPPED, "killed" if self.signalled else "stopped", self.stop_reason, **details)
            self.stopped.set()
            return
        self._crashed(code, self.failure)

    def _crashed(self, code, failure=None):
        """It ended without being asked to (`failure`: we gave up on the
        start): back off and retry, or after `max_crashes` in a row give up."""
        if self.started_at is not None and self.clock() - self.started_at >= self.timings.stable_after:
            self.crashes = 0  # it had been up long enough: a fresh run of bad luck
        self.crashes += 1
        event_type = "start_failed" if failure else "exited"
        details = dict(describe_exit(code), crashes=self.crashes)
        if failure:
            details["error"] = failure
        giving_up = self.crashes >= self.max_crashes
        self.retry_at = None
        if not giving_up:
            details["delay"] = backoff_delay(self.crashes, self.timings)
            self.retry_at = time.time() + details["delay"]
        self._transition(S.BACKOFF, event_type, failure or exit_text(code), **details)
        if giving_up:
            self.reason = (f"failed {self.crashes} times in a row; disabled "
                           f"(last: {failure or 'exited'}, {exit_text(code)})")
            self.on_give_up(self.id)
            self._transition(S.FAILED, "disabled_after_max_restarts", self.reason, crashes=self.crashes)
            self.stopped.set()
            return
        self.retry = gevent.spawn_later(details["delay"], self._retry, details["delay"])

    def _retry(self, delay):
        self.retry = None
        if self.state is S.BACKOFF:
            self.restarts += 1
            self._launch("restarting_with_backoff", "backoff over", delay=delay, crashes=self.crashes)

    def _cancel_retry(self):
        if self.retry:
            self.retry.kill(block=False)
            self.retry = None

    # --- stopping -------------------------------------------------------------------
    def stop(self, reason="stop"):
        """Ask the plugin to shut down, then TERM, then KILL its group; returns
        when it is stopped."""
        if self.state is S.BACKOFF:
            # Nothing runs: cancel the retry and stop at once (no process to signal).
            self._cancel_retry()
            self._transition(S.STOPPED, "stopped", reason)
            self.stopped.set()
            return
        if self.state is S.FAILED:
            self._transition(S.STOPPED, "stopped", reason)
            return
        if self.state in (S.STARTING, S.RUNNING):
            self.stop_reason = reason
            self._transition(S.STOPPING, "stopping", reason)
            self._shut_down(self.proc)
        self.stopped.wait(3 * self.timings.stop_grace + 2)

    def _shut_down(self, proc):
        if proc is None:
            return  # still being spawned: _launch shuts it down once it exists
        try:
            if self.connection and self.connection.sock is not None:
                self.connection.lifecycle("shutdown")
        except Exception as e:  # a dying plugin: go on to signals
            log.info("shutdown message not delivered", extra={"plugin": self.id, "error": str(e)})
        if self.stopped.wait(self.timings.stop_grace):
            return
        # Set first: _wait may see the exit while stop_group is still waiting.
        self.signalled = "SIGTERM"
        self.signalled = stop_group(proc.pid, self.timings.stop_grace, done=self.stopped.is_set)

    # --- requests and health ------------------------------------------------------------
    def request(self, kind, payload, timeout):
        """Send a request to the running plugin and return its reply.
        PluginUnavailable when it is not running; a timeout counts against
        its health, a reply for it."""
        connection = self.connection
        if self.state is not S.RUNNING or connection is None:
            raise PluginUnavailable(f"Plugin {self.id} is not running (state: {self.state.value})")
        try:
            reply = connection.request(kind, payload, timeout)
        except PluginTimeout:
            self.problem_at = time.time()
            raise
        self.ok_at = time.time()
        return reply

    def deliver_config(self, timeout):
        """Send the current config to the running plugin in a `lifecycle`
        frame with action `config`, in the background (a lockstep plugin may
        be busy with a request). Changes made while one is on its way are
        sent once more afterwards: the plugin always ends with the newest.
        A plugin that is not running gets it with its next `init`."""
        self.config_changed = True
        if self.config_sender is None or self.config_sender.dead:
            self.config_sender = gevent.spawn(self._send_config, timeout)

    def _send_config(self, timeout):
        while self.config_changed:
            self.config_changed = False
            connection = self.connection
            if self.state is not S.RUNNING or connection is None:
                return
            try:
                connection.notify("config", timeout, config=self.config_of(self.id))
            except Exception as e:  # a dying or busy plugin: it gets the config with its next init
                log.warning("config not delivered", extra={"plugin": self.id, "error": str(e)})

    def _connection_problem(self, reason):
        self.problem_at = time.time()
        self.events.record(self.id, "connection_problem", reason=reason)

    @property
    def running(self):
        return self.state is S.RUNNING

    @property
    def wants_to_run(self):
        """Up, or coming back by itself (a replaced binary restarts)."""
        return self.state in (S.STARTING, S.RUNNING, S.BACKOFF)

    @property
    def healthy(self):
        return self.state is S.RUNNING and (self.problem_at is None or (self.ok_at or 0) > self.problem_at)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def condition(self, enabled):
        """The one word the UI shows (DESIGN §6a keeps `health` to three):
        running, unhealthy, starting, restarting, crash-looping, failed,
        disabled, stopping or stopped (`invalid` is discovery's)."""
        if self.state is S.FAILED:
            return "failed"
        if not enabled:
            return "disabled"
        if self.state is S.RUNNING:
            return "running" if self.healthy else "unhealthy"
        if self.state in (S.STARTING, S.BACKOFF):
            if self.crashes >= CRASH_LOOP:
                return "crash-looping"
            return "starting" if self.state is S.STARTING else "restarting"
        return self.state.value

    def status(self, enabled):
        """The runtime half of the plugin's card in the API."""
        return {
            "enabled": enabled, "state": self.state.value, "running": self.running,
            "health": "disabled" if not enabled else "healthy" if self.healthy else "unhealthy",
            "condition": self.condition(enabled), "pid": self.pid, "restarts": self.restarts,
            "crashes": self.crashes, "last_exit": self.last_exit,
            "started_at": self.started_wall if self.proc else None,
            "retry_at": self.retry_at if self.state is S.BACKOFF else None, "reason": self.reason,
            "socket_path": self.socket_path,
        }
