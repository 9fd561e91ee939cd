"""The scheduler's rules with an injected wall clock, on the real app: real
store, real task runner, real script processes. Each test steps the clock
and calls the scheduler's round (`tick`) or its start-up pass (`catch_up`)
the way its loop does."""

import json
import sqlite3

import gevent
import pytest

from toru.app import create_app
from toru.config import Config

T0 = 1_900_000_000.0  # in 2030: due times come after every real run in the tests


def minute(n):
    """The epoch second n whole minutes after a fixed start."""
    return (T0 // 60 + n) * 60


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def toru(tmp_path):
    """Build (and rebuild, for a restart) the app on one data dir with a stepped clock."""
    clock = Clock(minute(0) + 1)
    built = []

    def build():
        if built:
            built[-1].services.stop(timeout=2)
        app = create_app(Config(data_dir=tmp_path, admin_password="x" * 16), clock=clock)
        built.append(app)
        return app.services

    services = build()
    (tmp_path / "scripts" / "gate.sh").write_text(
        '#!/bin/sh\necho "run $TORU_USER"\nwhile [ ! -e "$0.open" ]; do sleep 0.05; done\n')
    (tmp_path / "scripts" / "gate.sh").chmod(0o755)
    (tmp_path / "scripts" / "quick.sh").write_text("#!/bin/sh\necho quick \"$@\"\n")
    (tmp_path / "scripts" / "quick.sh").chmod(0o755)
    yield services, clock, build
    (tmp_path / "scripts" / "gate.sh.open").touch()
    built[-1].services.stop(timeout=5)


def action(services, script="quick.sh", **fields):
    return services.quick_actions.create(dict(name=script, script=script, **fields))["id"]


def schedule(services, action_id, cron="* * * * *", **fields):
    return services.schedules.create(dict(name=f"s{len(services.schedules.rows())}", quick_action_id=action_id,
                                          cron=cron, timezone="UTC", **fields), "admin")


def runs(services, schedule_id):
    return services.task_history.page({"id": 0, "role": "admin"}, 0, 100, schedule_id=schedule_id)["tasks"][::-1]


def settle(services):
    for task in list(services.tasks.running.values()):
        task.done.wait(10)


def wait_for(condition, message, timeout=10.0):
    """helpers.wait_for for this in-process app: it sleeps in gevent, so the app's greenlets run meanwhile."""
    with gevent.Timeout(timeout, AssertionError(f"timed out after {timeout}s waiting for {message}")):
        while not condition():
            gevent.sleep(0.02)


def open_gate(services):
    (services.config.data_dir / "scripts" / "gate.sh.open").touch()


def test_a_due_schedule_runs_once_as_a_normal_task_in_history(toru):
    services, clock, _ = toru
    made = schedule(services, action(services))
    assert services.scheduler.tick(clock.now) == minute(1)  # nothing due yet; wakes at the next minute
    clock.now = minute(1)
    services.scheduler.tick(clock.now)
    services.scheduler.tick(clock.now)  # the same due time again: nothing
    settle(services)
    [run] = runs(services, made["id"])
    assert (run["trigger"], run["started_by"], run["status"]) == ("schedule", f"schedule:{made['name']}", "success")
    assert services.task_history.row(run["id"])["output"] == "quick\n"
    assert services.schedules.get(made["id"])["last_run"]["task_id"] == run["id"]


def test_overlap_skip_records_skipped_runs_while_one_is_going(toru):
    services, clock, _ = toru
    made = schedule(services, action(services, "gate.sh"))
    for n in (1, 2, 3):
        clock.now = minute(n)
        services.scheduler.tick(clock.now)
    open_gate(services)
    settle(services)
    statuses = sorted(r["status"] for r in runs(services, made["id"]))
    assert statuses == ["skipped", "skipped", "success"]
    skipped = [r for r in runs(services, made["id"]) if r["status"] == "skipped"][0]
    assert skipped["reason"] == "the previous run was still running (overlap: skip)"
    assert skipped["exit_text"].startswith("Skipped — the previous run")
    assert skipped["started_at"] == minute(2)  # when it was due


def test_overlap_queue_keeps_at_most_one_waiting_and_runs_it_after(toru):
    services, clock, _ = toru
    made = schedule(services, action(services, "gate.sh"), overlap="queue")
    for n in (1, 2, 3):
        clock.now = minute(n)
        services.scheduler.tick(clock.now)
    assert len(services.tasks.running) == 1 and made["id"] in services.scheduler.waiting
    open_gate(services)
    # (started_at of a run is real time, of a skipped one the injected due time: compare unordered)
    wait_for(lambda: sorted(r["status"] for r in runs(services, made["id"])) == ["skipped", "success", "success"],
             message="the queued run to follow the first")
    [skipped] = [r for r in runs(services, made["id"]) if r["status"] == "skipped"]
    assert "already waiting" in skipped["reason"]
    first, queued = sorted((r for r in runs(services, made["id"]) if r["status"] == "success"),
                           key=lambda r: r["started_at"])
    assert queued["started_at"] >= first["finished_at"]


def test_overlap_allow_runs_side_by_side(toru):
    services, clock, _ = toru
    made = schedule(services, action(services, "gate.sh"), overlap="allow")
    for n in (1, 2):
        clock.now = minute(n)
        services.scheduler.tick(clock.now)
    assert len([t for t in services.tasks.running.values() if t.schedule_id == made["id"]]) == 2
    open_gate(services)
    settle(services)


def test_a_clock_jump_forward_runs_once_and_a_jump_back_repeats_nothing(toru):
    services, clock, _ = toru
    made = schedule(services, action(services))
    clock.now = minute(1)
    services.scheduler.tick(clock.now)
    clock.now = minute(61) + 5  # an NTP step of an hour: 60 due times passed at once
    services.scheduler.tick(clock.now)
    settle(services)
    assert len(runs(services, made["id"])) == 2
    clock.now = minute(30)  # stepped back: 03:30 came "again"; nothing runs twice
    services.scheduler.tick(clock.now)
    clock.now = minute(61) + 30
    services.scheduler.tick(clock.now)
    settle(services)
    assert len(runs(services, made["id"])) == 2
    clock.now = minute(62)
    services.scheduler.tick(clock.now)
    settle(services)
    assert len(runs(services, made["id"])) == 3


@pytest.mark.parametrize("catch_up", ["skip", "once"])
def test_restart_across_due_times_follows_catch_up_and_never_repeats_one(toru, catch_up):
    services, clock, build = toru
    made = schedule(services, action(services), catch_up=catch_up)
    clock.now = minute(1)
    services.scheduler.tick(clock.now)
    settle(services)
    services = build()  # a restart that ran minute 1 already: nothing to catch up
    services.scheduler.catch_up(clock.now)
    services.scheduler.tick(clock.now)
    settle(services)
    assert len(runs(services, made["id"])) == 1
    clock.now = minute(5) + 20  # down across minutes 2–5
    services = build()
    services.scheduler.catch_up(clock.now)
    services.scheduler.tick(clock.now)
    settle(services)
    after = runs(services, made["id"])
    assert len(after) == 2
    if catch_up == "once":
        assert after[1]["status"] == "success"
    else:
        assert after[1]["status"] == "skipped"
        assert after[1]["reason"].startswith("Toru was not running at ")
        assert "(and 3 earlier due times); catch-up is off" in after[1]["reason"]
    clock.now = minute(6)
    services.scheduler.tick(clock.now)
    settle(services)
    assert len(runs(services, made["id"])) == 3


def test_a_deleted_action_disables_the_schedule_with_a_reason(toru):
    services, clock, _ = toru
    action_id = action(services)
    made = schedule(services, action_id)
    services.quick_actions.delete(action_id)
    clock.now = minute(1)
    services.scheduler.tick(clock.now)
    found = services.schedules.get(made["id"])
    assert (found["enabled"], found["disabled_reason"]) == (False, "its quick action was deleted")
    assert found["quick_action_id"] is None and found["next_runs"] == []
    assert runs(services, made["id"]) == []


def test_arguments_that_no_longer_fit_disable_the_schedule(toru):
    services, clock, _ = toru
    action_id = action(services, arguments=[{"name": "target", "type": "choice", "choices": ["a", "b"],
                                             "required": True}])
    made = schedule(services, action_id, arguments={"target": "b"})
    services.quick_actions.update(action_id, {"arguments": [{"name": "target", "type": "choice",
                                                             "choices": ["a", "c"], "required": True}]})
    clock.now = minute(1)
    services.scheduler.tick(clock.now)
    found = services.schedules.get(made["id"])
    assert not found["enabled"]
    assert found["disabled_reason"].startswith("its arguments no longer fit the action (target: ")
    services.schedules.update(made["id"], {"arguments": {"target": "c"}, "enabled": True})
    clock.now = minute(2)
    services.scheduler.tick(clock.now)
    settle(services)
    [run] = runs(services, made["id"])
    assert run["status"] == "success" and run["arguments"] == {"target": "c"}
    assert services.task_history.row(run["id"])["output"] == "quick c\n"


def test_the_loop_sleeps_until_the_next_due_time_and_wakes_on_a_change(toru):
    services, clock, _ = toru
    loop = gevent.spawn(services.scheduler.run)
    try:
        gevent.sleep(0.05)
        assert not loop.dead  # asleep: the next check is schedule_recheck (60 s) away
        clock.now = minute(1) + 0.5
        made = schedule(services, action(services), cron="* * * * *")  # a change wakes it: minute 1 is due…
        gevent.sleep(0.2)
        settle(services)
        assert runs(services, made["id"]) == []  # …but came before the schedule existed
        services.schedules.update(made["id"], {"cron": "*/1 * * * *"})
        clock.now = minute(2)
        services.scheduler.wake.set()
        wait_for(lambda: len(runs(services, made["id"])) == 1, message="a run once minute 2 is due")
    finally:
        loop.kill()


def test_the_database_refuses_an_unknown_overlap(toru):
    services, _, _ = toru
    with pytest.raises(sqlite3.IntegrityError):
        services.store.execute("INSERT INTO schedules(name, cron, timezone, overlap, last_due, created_by, "
                               "created_at, updated_at) VALUES('x', '* * * * *', 'UTC', 'often', 0, 'a', 0, 0)")
    assert json.loads(services.store.one("SELECT count(*) AS n FROM schedules")["n"].__str__()) == 0

