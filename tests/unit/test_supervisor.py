"""The supervisor's state machine and backoff, driven through its seams
(`popen`, `clock`) without real plugin processes or sleeps of real length."""

import itertools
import os
from pathlib import Path

import gevent
import gevent.event
import pytest

from toru.config import Timings
from toru.plugins.discovery import Discovered
from toru.plugins.supervisor import ALLOWED, IllegalTransition, PluginProcess, PluginState, backoff_delay

S = PluginState
NO_SUCH_PID = 4_194_305  # above Linux's largest pid_max: signalling it finds nobody


class FakeProcess:
    def __init__(self):
        out_r, self.out_w = os.pipe()
        err_r, self.err_w = os.pipe()
        self.stdout, self.stderr = open(out_r, "rb"), open(err_r, "rb")
        self.pid = NO_SUCH_PID
        self.exit = gevent.event.AsyncResult()

    def wait(self):
        return self.exit.get()

    def die(self, code):
        os.close(self.out_w)
        os.close(self.err_w)
        self.exit.set(code)


class Recorder:
    """The events a process records, each with the state it was in when it
    recorded it (what a push would have shown)."""

    def __init__(self):
        self.events = []
        self.states = []
        self.process = None

    def record(self, plugin_id, event_type, **details):
        self.events.append((event_type, details))
        self.states.append(self.process.state.value)

    def types(self):
        return [e for e, _ in self.events]

    def transitions(self):
        return [(e, d["old"], d["new"]) for e, d in self.events if "new" in d]


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class NullLog:
    def write(self, record):
        return True


@pytest.fixture
def rig(tmp_path):
    procs, clock, events, gave_up = [], Clock(), Recorder(), []

    def spawn(*args, **kwargs):
        proc = FakeProcess()
        procs.append(proc)
        return proc

    plugin = Discovered(path=Path(tmp_path / "p.binary"), fingerprint=(1, 2, 3, 4),
                        metadata={"id": "p", "name": "p", "version": "1", "author": "", "icon": "",
                                  "route": "/p", "description": None, "concurrent": False})
    process = PluginProcess(plugin, socket_path=tmp_path / "p.sock", log=NullLog(), data_dir=tmp_path,
                            instance_id="i", log_path=tmp_path / "p.log", events=events,
                            on_kv=lambda *a: None, on_give_up=gave_up.append,
                            timings=Timings(backoff_base=0.001, backoff_cap=0.016, socket_timeout=10),
                            popen=spawn, clock=clock)
    events.process = process
    return process, procs, clock, events, gave_up


def settle():
    gevent.sleep(0.05)


def test_only_the_moves_in_the_table_are_allowed(rig):
    process = rig[0]
    for old, new in itertools.product(S, S):
        process.state = old
        if new in ALLOWED[old]:
            process._transition(new, "test", "test")
            assert process.state is new
        else:
            with pytest.raises(IllegalTransition):
                process._transition(new, "test", "test")
            assert process.state is old


def test_backoff_doubles_and_is_capped():
    timings = Timings()
    assert [backoff_delay(n, timings) for n in range(1, 8)] == [1, 2, 4, 8, 16, 16, 16]


def test_each_crash_backs_off_and_the_tenth_in_a_row_fails_and_disables(rig):
    process, procs, clock, events, gave_up = rig
    process.start()
    assert process.state is S.STARTING
    for n in range(1, 11):
        procs[-1].die(1)
        settle()
        assert process.crashes == n
        if n < 10:
            assert len(procs) == n + 1 and process.state is S.STARTING  # retried after the delay
    assert process.state is S.FAILED and gave_up == ["p"]
    delays = [d["delay"] for e, d in events.events if e == "restarting_with_backoff"]
    assert delays == [0.001, 0.002, 0.004, 0.008, 0.016, 0.016, 0.016, 0.016, 0.016]
    assert [d.get("delay") for e, d in events.events if e == "exited"] == delays + [None]
    assert "disabled_after_max_restarts" in events.types()
    # One event per transition, named for what happened, recorded once the state changed.
    assert events.types() == [e for e, _, _ in events.transitions()]
    assert events.states == [new for _, _, new in events.transitions()]
    assert events.transitions()[:3] == [("starting", "stopped", "starting"), ("exited", "starting", "backoff"),
                                        ("restarting_with_backoff", "backoff", "starting")]
    assert events.transitions()[-2:] == [("exited", "starting", "backoff"),
                                         ("disabled_after_max_restarts", "backoff", "failed")]
    assert events.types().count("exited") == 10
    last_crash = events.events[-2][1]
    assert last_crash["crashes"] == 10 and last_crash["code"] == 1 and "delay" not in last_crash


def test_a_plugin_up_for_a_minute_starts_counting_crashes_again(rig):
    process, procs, clock, events, _ = rig
    process.start()
    for _ in range(4):
        procs[-1].die(1)
        settle()
    assert process.crashes == 4
    clock.now += 61  # the current run has now been up past stable_after
    procs[-1].die(1)
    settle()
    assert process.crashes == 1


def test_no_socket_within_the_timeout_counts_as_a_failed_start(rig):
    process, procs, clock, events, _ = rig
    process.start()
    settle()
    assert process.state is S.STARTING
    clock.now += 11
    settle()
    assert process.state is S.STARTING  # the supervisor killed its group; the exit makes it a failed start
    procs[-1].die(-9)
    settle()
    assert process.crashes == 1 and process.last_exit["signal"] == "SIGKILL"
    failed = [d for e, d in events.events if e == "start_failed"]
    assert len(failed) == 1 and failed[0]["error"] == "no socket within 10 s" and failed[0]["new"] == "backoff"
    assert "exited" not in events.types()


def test_stop_during_backoff_goes_straight_to_stopped_and_cancels_the_retry(rig):
    process, procs, clock, events, _ = rig
    process.timings = Timings(backoff_base=5, backoff_cap=5)
    process.start()
    procs[-1].die(1)
    settle()
    assert process.state is S.BACKOFF and process.retry is not None
    process.stop("operator")
    assert process.state is S.STOPPED and process.retry is None
    gevent.sleep(0.05)
    assert len(procs) == 1


def test_stop_while_starting_ends_in_stopped_not_a_crash(rig):
    process, procs, clock, events, _ = rig
    process.timings = Timings(stop_grace=0.05)
    process.start()
    stopper = gevent.spawn(process.stop, "operator")
    settle()
    assert process.state is S.STOPPING
    procs[-1].die(0)  # what TERM would have done
    stopper.join(timeout=2)
    assert process.state is S.STOPPED and process.crashes == 0
    assert "exited" not in events.types()
    assert events.transitions()[-2:] == [("stopping", "starting", "stopping"), ("stopped", "stopping", "stopped")]
    assert events.events[-1][1]["code"] == 0 and events.events[-1][1]["reason"] == "operator"


def test_a_spawn_that_fails_is_a_crash_with_its_reason(rig):
    process, procs, clock, events, _ = rig

    def broken(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    process.popen = broken
    process.timings = Timings(backoff_base=5, backoff_cap=5)
    process.start()
    assert process.state is S.BACKOFF and process.crashes == 1
    assert events.events[[e for e, _ in events.events].index("start_failed")][1]["error"].endswith("denied")
    process.stop()


def test_the_condition_the_ui_shows_is_computed_here(rig):
    process, procs, clock, events, _ = rig
    assert process.condition(enabled=True) == "stopped"
    assert process.condition(enabled=False) == "disabled"
    process.timings = Timings(backoff_base=5, backoff_cap=5)
    process.start()
    assert process.condition(True) == "starting"
    procs[-1].die(1)
    settle()
    assert process.condition(True) == "restarting" and process.status(True)["retry_at"]
    process.crashes = 3  # the third crash in a row
    assert process.condition(True) == "crash-looping"
    assert process.status(True)["health"] == "unhealthy" and process.status(False)["health"] == "disabled"
    process.stop()
    assert process.condition(True) == "stopped"
    process.state = S.FAILED
    assert process.condition(False) == "failed"


def test_operator_starts_reset_the_crash_count_through_the_process(rig):
    process, procs, clock, events, _ = rig
    process.timings = Timings(backoff_base=5, backoff_cap=5)
    process.start()
    procs[-1].die(1)
    settle()
    assert process.crashes == 1 and process.state is S.BACKOFF
    process.restart("operator")
    assert process.crashes == 0 and process.state is S.STARTING
    assert events.transitions()[-2:] == [("stopped", "backoff", "stopped"), ("starting", "stopped", "starting")]
    procs[-1].die(1)
    settle()
    process.start_fresh("enabled")  # while it backs off: starts now, counting from zero
    assert process.crashes == 0 and process.state is S.STARTING and process.retry is None
    assert events.transitions()[-1] == ("starting", "backoff", "starting")
    procs[-1].die(1)
    settle()
    process.stop()
