"""The supervisor's state machine and backoff, driven through its seams
(`spawn`, `clock`) without real plugin processes or sleeps of real length."""

import itertools
import os
from pathlib import Path

import gevent
import gevent.event
import pytest

from toru.plugins.discovery import Discovered
from toru.plugins.supervisor import (ALLOWED, IllegalTransition, PluginProcess, PluginState, Timing,
                                     backoff_delay)

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
    def __init__(self):
        self.events = []

    def record(self, plugin_id, event_type, **details):
        self.events.append((event_type, details))

    def types(self):
        return [e for e, _ in self.events]


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
                            timing=Timing(backoff_base=0.001, backoff_cap=0.016, socket_timeout=10),
                            spawn=spawn, clock=clock)
    return process, procs, clock, events, gave_up


def settle():
    gevent.sleep(0.05)


def test_only_the_moves_in_the_table_are_allowed(rig):
    process = rig[0]
    for old, new in itertools.product(S, S):
        process.state = old
        if new in ALLOWED[old]:
            process._transition(new, "test")
            assert process.state is new
        else:
            with pytest.raises(IllegalTransition):
                process._transition(new, "test")
            assert process.state is old


def test_backoff_doubles_and_is_capped():
    timing = Timing()
    assert [backoff_delay(n, timing) for n in range(1, 8)] == [1, 2, 4, 8, 16, 16, 16]


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
    assert "disabled_after_max_restarts" in events.types()
    transitions = [(d["old"], d["new"]) for e, d in events.events if e == "state"]
    assert transitions[-2:] == [("starting", "backoff"), ("backoff", "failed")]


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
    assert "start_failed" in events.types()  # the supervisor killed it (pid group); the exit follows
    procs[-1].die(-9)
    settle()
    assert process.crashes == 1 and process.last_exit["signal"] == "SIGKILL"


def test_stop_during_backoff_goes_straight_to_stopped_and_cancels_the_retry(rig):
    process, procs, clock, events, _ = rig
    process.timing = Timing(backoff_base=5, backoff_cap=5)
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
    process.timing = Timing(stop_grace=0.05)
    process.start()
    stopper = gevent.spawn(process.stop, "operator")
    settle()
    assert process.state is S.STOPPING
    procs[-1].die(0)  # what TERM would have done
    stopper.join(timeout=2)
    assert process.state is S.STOPPED and process.crashes == 0
    assert "exited" not in events.types() and "stopped" in events.types()


def test_a_spawn_that_fails_is_a_crash_with_its_reason(rig):
    process, procs, clock, events, _ = rig

    def broken(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    process.spawn = broken
    process.timing = Timing(backoff_base=5, backoff_cap=5)
    process.start()
    assert process.state is S.BACKOFF and process.crashes == 1
    assert events.events[[e for e, _ in events.events].index("start_failed")][1]["error"].endswith("denied")
    process.stop()
