"""Supervision of one plugin process: an explicit state machine in the manner
of supervisord, with death noticed at once (a greenlet blocks on the
process) instead of a polling tick.

    STOPPED ─start─▶ STARTING ─socket accepts, init sent─▶ RUNNING
    STARTING/RUNNING ─exits─▶ BACKOFF ─delay─▶ STARTING   (delay 1, 2, 4, 8, 16 s)
    BACKOFF ─10th crash in a row─▶ FAILED (and disabled)
    STARTING/RUNNING ─stop─▶ STOPPING ─exits─▶ STOPPED

Only `_transition` changes `state`; it refuses moves not in ALLOWED, logs
each one and records it as an event.
"""

import enum
import logging
import os
import signal
import time
from dataclasses import dataclass

import gevent
import gevent.event
from gevent import subprocess

from toru.plugins.logs import capture_lines, line_writer
from toru.plugins.protocol import PROTOCOL_VERSION, PluginConnection
from toru.processes import child_env, die_with_parent, signal_group

log = logging.getLogger("toru.plugins")


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


class IllegalTransition(Exception):
    def __init__(self, plugin_id, old, new):
        super().__init__(f"plugin {plugin_id}: {old.value} → {new.value} is not allowed")


@dataclass(frozen=True)
class Timing:
    socket_timeout: float = 10.0   # STARTING → socket must accept within this
    backoff_base: float = 1.0      # first retry delay; doubles per crash
    backoff_cap: float = 16.0
    stable_after: float = 60.0     # up this long: the crash count starts again
    max_crashes: int = 10          # in a row → FAILED and disabled
    stop_grace: float = 3.0        # after `shutdown`, and again after TERM


def backoff_delay(crashes, timing):
    return min(timing.backoff_base * 2 ** (crashes - 1), timing.backoff_cap)


def exit_text(code):
    """'exit code 1', 'killed by SIGKILL': for reasons people read."""
    described = describe_exit(code)
    if "signal" in described:
        return f"killed by {described['signal']}"
    return "no exit status" if described["code"] is None else f"exit code {described['code']}"


def describe_exit(code):
    if code is None:
        return {"code": None}
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return {"code": None, "signal": name}
    return {"code": code}


class PluginProcess:
    """One valid plugin binary and, while it runs, its process."""

    def __init__(self, plugin, *, socket_path, log, data_dir, instance_id, log_path, events, on_kv,
                 on_give_up, timing=Timing(), spawn=subprocess.Popen, clock=time.monotonic):
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
        self.timing = timing
        self.spawn = spawn
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
        self.ok_at = None               # last time the socket accepted or a reply came
        self.problem_at = None          # last protocol problem or timeout
        self.stopped = gevent.event.Event()
        self.stopped.set()

    # --- the state machine -------------------------------------------------------
    def _transition(self, new, reason):
        if new not in ALLOWED[self.state]:
            raise IllegalTransition(self.id, self.state, new)
        old, self.state = self.state, new
        log.info("plugin transition", extra={"plugin": self.id, "old": old.value, "new": new.value,
                                             "reason": reason})
        self.events.record(self.id, "state", old=old.value, new=new.value, reason=reason)

    # --- starting ----------------------------------------------------------------
    def start(self, reason="start"):
        if self.state in (S.STARTING, S.RUNNING, S.STOPPING):
            return
        if self.retry:
            self.retry.kill(block=False)
            self.retry = None
        self._transition(S.STARTING, reason)
        self.stopped.clear()
        try:
            os.unlink(self.socket_path)
        except FileNotFoundError:
            pass
        env = child_env(TORU_PLUGIN_SOCKET=self.socket_path, TORU_PLUGIN_ID=self.id,
                        TORU_INSTANCE_ID=self.instance_id, TORU_LOG_PATH=self.log_path)
        try:
            proc = self.spawn([str(self.plugin.path)], cwd=str(self.data_dir), env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              start_new_session=True, preexec_fn=die_with_parent(), close_fds=True)
        except OSError as e:
            self.events.record(self.id, "start_failed", error=str(e))
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
        gevent.spawn(self._await_socket, proc)

    def _await_socket(self, proc):
        deadline = self.clock() + self.timing.socket_timeout
        connection = self.connection
        while proc is self.proc and self.state is S.STARTING:
            if os.path.exists(self.socket_path) and connection.try_connect():
                try:
                    connection.lifecycle("init", instance_id=self.instance_id, plugin_socket=self.socket_path,
                                         socket_path=self.socket_path, log_path=self.log_path,
                                         protocol_version=PROTOCOL_VERSION)
                except Exception as e:  # the plugin may die right now; its exit is handled by _wait
                    log.warning("init not delivered", extra={"plugin": self.id, "error": str(e)})
                    return
                self.ok_at = time.time()
                self._transition(S.RUNNING, "socket accepted, init sent")
                self.events.record(self.id, "started", pid=proc.pid)
                return
            if self.clock() >= deadline:
                self.events.record(self.id, "start_failed",
                                   error=f"no socket within {self.timing.socket_timeout:g} s")
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
            self._transition(S.STOPPED, "stopped")
            self.events.record(self.id, "stopped", **describe_exit(code))
            self.stopped.set()
            return
        self.events.record(self.id, "exited", **describe_exit(code))
        self._crashed(code, "exited")

    def _crashed(self, code, why):
        if self.started_at is not None and self.clock() - self.started_at >= self.timing.stable_after:
            self.crashes = 0  # it had been up long enough: a fresh run of bad luck
        self.crashes += 1
        self._transition(S.BACKOFF, why)
        if self.crashes >= self.timing.max_crashes:
            self.reason = f"failed {self.crashes} times in a row; disabled (last: {why}, {exit_text(code)})"
            self._transition(S.FAILED, self.reason)
            self.events.record(self.id, "disabled_after_max_restarts", crashes=self.crashes)
            self.stopped.set()
            self.on_give_up(self.id)
            return
        delay = backoff_delay(self.crashes, self.timing)
        self.retry_at = time.time() + delay
        self.events.record(self.id, "restarting_with_backoff", delay=delay, crashes=self.crashes)
        self.retry = gevent.spawn_later(delay, self._retry)

    def _retry(self):
        self.retry = None
        if self.state is S.BACKOFF:
            self.restarts += 1
            self.start("backoff over")

    # --- stopping -------------------------------------------------------------------
    def stop(self, reason="stop"):
        """Ask the plugin to shut down, then TERM, then KILL its group; returns
        when it is stopped."""
        if self.state is S.BACKOFF:
            # Nothing runs: cancel the retry and stop at once (no process to signal).
            if self.retry:
                self.retry.kill(block=False)
                self.retry = None
            self._transition(S.STOPPED, reason)
            self.stopped.set()
            return
        if self.state is S.FAILED:
            self._transition(S.STOPPED, reason)
            return
        if self.state in (S.STARTING, S.RUNNING):
            self._transition(S.STOPPING, reason)
            self._shut_down(self.proc)
        self.stopped.wait(3 * self.timing.stop_grace + 2)

    def _shut_down(self, proc):
        if proc is None:
            return
        try:
            if self.connection and self.connection.sock is not None:
                self.connection.lifecycle("shutdown")
        except Exception as e:  # a dying plugin: go on to signals
            log.info("shutdown message not delivered", extra={"plugin": self.id, "error": str(e)})
        if self.stopped.wait(self.timing.stop_grace):
            return
        self.events.record(self.id, "killed", signal="SIGTERM")
        signal_group(proc.pid, signal.SIGTERM)
        if self.stopped.wait(self.timing.stop_grace):
            return
        self.events.record(self.id, "killed", signal="SIGKILL")
        signal_group(proc.pid, signal.SIGKILL)

    # --- health -----------------------------------------------------------------------
    def _connection_problem(self, reason):
        self.problem_at = time.time()
        self.events.record(self.id, "connection_problem", reason=reason)

    def note_ok(self):
        self.ok_at = time.time()

    def note_problem(self):
        self.problem_at = time.time()

    @property
    def healthy(self):
        return self.state is S.RUNNING and (self.problem_at is None or (self.ok_at or 0) > self.problem_at)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None
