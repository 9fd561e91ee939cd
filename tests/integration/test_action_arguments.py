"""Quick action arguments through a real server and real scripts: the
definitions an admin may save, every type's value checks (all bad fields at
once, nothing runs), values reaching the script literally as argv and
TORU_ARG_* (injection strings stay text), passwords never stored or logged,
confirmation over REST and WebSocket, `choices_from` lists (cache, refresh,
failure, timeout) and a catastrophic pattern that cannot hang the server.

The server runs with short timings (pattern_timeout, choices_timeout) so the
bounds are what is checked, never slept through."""

import sys
import threading
import time
from pathlib import Path

import pytest

from helpers import ServerProcess, TaskSocket, sign_in, wait_for, write_script

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "scripts" / "show-arguments.py"
TIMINGS = "request_grace=0.5,kill_grace=0.5,pattern_timeout=0.5,choices_timeout=0.5"
SECRET = "pw-Zq81-never-stored"
EVERY_TYPE = [
    {"name": "name", "type": "text", "required": True, "max_length": 10, "pattern": "[a-z]+"},
    {"name": "count", "type": "int", "min": 1, "max": 5, "default": 2},
    {"name": "env", "type": "choice", "choices": ["dev", "prod"], "required": True},
    {"name": "force", "type": "bool"},
    {"name": "token", "type": "password"},
    {"name": "notes", "type": "multiline", "max_length": 20},
    {"name": "branch", "type": "choice", "choices_from": "branches.sh"},
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc = ServerProcess(tmp_path_factory.mktemp("data") / "data",
                         env={"TRUST_PROXY": "1", "TORU_TIMINGS": TIMINGS}).start()
    yield proc
    proc.stop()



@pytest.fixture(scope="module")
def admin(server):
    """One signed-in admin for the module: each sign-in costs an argon2 hash."""
    return sign_in(server)




@pytest.fixture(scope="module", autouse=True)
def scripts(server):
    # The example itself, on this interpreter (a pyenv shim costs a second a start).
    write_script(server, "show-arguments.py",
                 EXAMPLE.read_text().replace("#!/usr/bin/env python3", f"#!{sys.executable}", 1))
    counter = server.data_dir / "branches-runs"
    write_script(server, "branches.sh", f"#!/bin/sh\necho run >> '{counter}'\n"
                 "printf 'main\\nfeature/x\\n\\n  spaced  \\nmain\\n'\n")
    write_script(server, "failing.sh", "#!/bin/sh\necho 'cannot reach git' >&2\nexit 3\n")
    write_script(server, "slow.sh", "#!/bin/sh\nsleep 30\necho late\n")
    write_script(server, "secret.sh", "#!/bin/sh\necho \"token: ${#TORU_ARG_TOKEN} characters, argv2=[$2]\"\n")


def create(admin, **fields):
    fields.setdefault("script", "show-arguments.py")
    res = admin.post("/api/quick-actions", json=fields)
    assert res.status == 201, res
    return res.json["quick_action"]


def finished(client, task_id):
    wait_for(lambda: client.get(f"/api/history/{task_id}").json["task"]["status"] != "running")
    return client.get(f"/api/history/{task_id}").json["task"]


def total_runs(admin):
    return admin.get("/api/history").json["total"]


# ---- definitions ------------------------------------------------------------------------

@pytest.mark.parametrize("arguments, key, message", [
    ("name", "arguments", "must be a list"),
    ([{"name": f"a{i}", "type": "bool"} for i in range(33)], "arguments", "at most 32"),
    (["text"], "arguments.0", "must be an object"),
    ([{"name": "Name", "type": "text"}], "arguments.0.name", "lowercase letter"),
    ([{"name": "a" * 33, "type": "text"}], "arguments.0.name", "1-32 characters"),
    ([{"name": "a", "type": "date"}], "arguments.0.type", "must be one of text, int, choice"),
    ([{"name": "a", "type": "text"}, {"name": "a", "type": "int"}], "arguments.1.name", "another argument"),
    ([{"name": "a", "type": "text", "pattern": "("}], "arguments.0.pattern", "not a valid regular expression"),
    ([{"name": "a", "type": "text", "max_length": 0}], "arguments.0.max_length", "at least 1"),
    ([{"name": "a", "type": "text", "max_length": 4097}], "arguments.0.max_length", "at most 4096"),
    ([{"name": "a", "type": "int", "min": 5, "max": 1}], "arguments.0.max", "at least min"),
    ([{"name": "a", "type": "int", "min": 1.5}], "arguments.0.min", "whole number"),
    ([{"name": "a", "type": "int", "pattern": "x"}], "arguments.0.pattern", "does not apply to int"),
    ([{"name": "a", "type": "text", "colour": "red"}], "arguments.0.colour", "unknown key"),
    ([{"name": "a", "type": "bool", "required": "yes"}], "arguments.0.required", "true or false"),
    ([{"name": "a", "type": "choice"}], "arguments.0.choices", "either choices"),
    ([{"name": "a", "type": "choice", "choices": ["x"], "choices_from": "branches.sh"}], "arguments.0.choices",
     "not both"),
    ([{"name": "a", "type": "choice", "choices": ["x", "x"]}], "arguments.0.choices", "must not repeat"),
    ([{"name": "a", "type": "choice", "choices": []}], "arguments.0.choices", "list of 1 to 1000"),
    ([{"name": "a", "type": "choice", "choices_from": "../toru.db"}], "arguments.0.choices_from", "plain file"),
    ([{"name": "a", "type": "choice", "choices_from": "missing.sh"}], "arguments.0.choices_from", "No script"),
    ([{"name": "a", "type": "password", "default": "hunter2"}], "arguments.0.default", "no default"),
    ([{"name": "a", "type": "text", "default": "x\ny"}], "arguments.0.default", "single line"),
    ([{"name": "a", "type": "int", "default": True}], "arguments.0.default", "whole number"),
    ([{"name": "a", "type": "choice", "choices": ["x"], "default": "y"}], "arguments.0.default", "one of: x"),
    ([{"name": "a", "type": "text", "pattern": "[0-9]+", "default": "abc"}], "arguments.0.default",
     "Must match the pattern"),
    ([{"name": "a", "type": "text", "label": "bad\x07label"}], "arguments.0.label", "control characters"),
])
def test_bad_definitions_name_the_field_and_nothing_is_saved(admin, arguments, key, message):
    before = admin.get("/api/quick-actions").json["quick_actions"]
    res = admin.post("/api/quick-actions", json={"name": "x", "script": "show-arguments.py", "arguments": arguments})
    assert res.status == 400 and message in res.json["fields"][key], res
    assert key in res.json["error"]
    assert admin.get("/api/quick-actions").json["quick_actions"] == before


def test_every_bad_definition_is_listed_at_once_and_an_update_changes_nothing(admin):
    action = create(admin, name="Defs", arguments=[{"name": "a", "type": "text"}])
    res = admin.put(f"/api/quick-actions/{action['id']}", json={"name": "Renamed", "arguments": [
        {"name": "ok", "type": "bool"}, {"name": "B", "type": "int", "min": "1"}, {"type": "text"}]})
    assert res.status == 400
    assert set(res.json["fields"]) == {"arguments.1.name", "arguments.1.min", "arguments.2.name"}
    assert admin.get(f"/api/quick-actions/{action['id']}").json["quick_action"] == action
    res = admin.put(f"/api/quick-actions/{action['id']}", json={"confirm": "x\u0000y"})
    assert res.status == 400 and "confirm" in res.json["fields"]
    admin.delete(f"/api/quick-actions/{action['id']}")


def test_a_definition_is_returned_whole_with_its_types_keys(admin):
    action = create(admin, name="Every type", arguments=EVERY_TYPE, confirm="  Really?  ")
    assert action["confirm"] == "Really?" and action["allowed_users"] is None
    by_name = {a["name"]: a for a in action["arguments"]}
    assert [a["name"] for a in action["arguments"]] == [a["name"] for a in EVERY_TYPE]
    assert by_name["name"] == {"name": "name", "label": "name", "type": "text", "required": True,
                               "default": None, "description": None, "max_length": 10, "pattern": "[a-z]+"}
    assert by_name["count"] == {"name": "count", "label": "count", "type": "int", "required": False,
                                "default": 2, "description": None, "min": 1, "max": 5}
    assert by_name["branch"]["choices"] is None and by_name["branch"]["choices_from"] == "branches.sh"
    assert set(by_name["force"]) == {"name", "label", "type", "required", "default", "description"}
    res = admin.put(f"/api/quick-actions/{action['id']}", json={"arguments": [], "confirm": None})
    assert res.json["quick_action"]["arguments"] == [] and res.json["quick_action"]["confirm"] is None
    admin.delete(f"/api/quick-actions/{action['id']}")


# ---- values -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def every_type(admin):
    action = create(admin, name="All types", script="secret.sh", arguments=EVERY_TYPE)
    yield action
    admin.delete(f"/api/quick-actions/{action['id']}")


GOOD = {"name": "abc", "env": "dev"}


@pytest.mark.parametrize("values, fields", [
    ({}, {"name": "Required", "env": "Required"}),
    ({"name": "abc1", "count": 6, "env": "test", "force": "yes", "notes": "x" * 21, "branch": "nope"},
     {"name": "Must match the pattern [a-z]+", "count": "Must be at most 5", "env": "Must be one of: dev, prod",
      "force": "Must be true or false", "notes": "Must be at most 20 characters",
      "branch": "Must be one of the current choices (the list may have changed: reload it)"}),
    ({**GOOD, "name": "abcdefghijk"}, {"name": "Must be at most 10 characters"}),
    ({**GOOD, "name": "ab\0c", "notes": "a\0"}, {"name": "Must not contain NUL characters",
                                                 "notes": "Must not contain NUL characters"}),
    ({**GOOD, "name": "ab\nc", "token": "a\rb"}, {"name": "Must be a single line", "token": "Must be a single line"}),
    ({**GOOD, "count": 0}, {"count": "Must be at least 1"}),
    ({**GOOD, "count": True}, {"count": "Must be a whole number"}),
    ({**GOOD, "count": 2.0}, {"count": "Must be a whole number"}),
    ({**GOOD, "count": "3"}, {"count": "Must be a whole number"}),
    ({**GOOD, "name": 5}, {"name": "Must be a string"}),
    ({**GOOD, "name": "", "env": None}, {"name": "Required", "env": "Required"}),
    ({**GOOD, "name": "ab\ud800"}, {"name": "Must be valid Unicode text"}),
    ({**GOOD, "token": "x" * 1025}, {"token": "Must be at most 1024 characters"}),
    ({**GOOD, "extra": 1}, {"extra": "Unknown argument"}),
])
def test_bad_values_are_all_listed_and_nothing_runs(admin, every_type, values, fields):
    before = total_runs(admin)
    res = admin.post(f"/api/quick-actions/{every_type['id']}/execute", json={"arguments": values})
    assert res.status == 400 and res.json["fields"] == fields, res
    assert res.json["error"].startswith("Invalid arguments: ")
    assert total_runs(admin) == before


def test_values_at_the_boundaries_run(admin, every_type):
    for values in ({"name": "abcdefghij", "count": 1, "env": "prod", "force": True, "notes": "line 1\nline 2\r\nend!",
                    "branch": "feature/x", "token": "t" * 1024},
                   {"name": "a", "count": 5, "env": "dev", "force": False, "notes": ""}):
        res = admin.post(f"/api/quick-actions/{every_type['id']}/execute", json={"arguments": values})
        assert res.status == 201, res
        assert finished(admin, res.json["task_id"])["status"] == "success"
    assert admin.post(f"/api/quick-actions/{every_type['id']}/execute",
                      json={"arguments": "name=abc"}).json["error"] == "arguments must be an object {name: value}"


def test_values_reach_the_script_literally_as_argv_and_env(server, admin):
    action = create(admin, name="Show", arguments=[
        {"name": "cmd", "type": "text"}, {"name": "sub", "type": "multiline"}, {"name": "n", "type": "int"},
        {"name": "yes", "type": "bool"}, {"name": "pick", "type": "choice", "choices": ["a b", "$(c)"]},
        {"name": "empty", "type": "text"}, {"name": "secret_token", "type": "password"},
        {"name": "dflt", "type": "text", "default": "from default"}, {"name": "no", "type": "bool"}])
    nasty = {"cmd": "; touch x", "sub": "$(touch y)\n`touch z` 'q' \"dq\" \\ $HOME *", "n": -3, "yes": True,
             "pick": "$(c)", "secret_token": "s3cr3t"}
    res = admin.post(f"/api/quick-actions/{action['id']}/execute", json={"arguments": nasty})
    assert res.status == 201, res
    task = finished(admin, res.json["task_id"])
    argv = ["; touch x", nasty["sub"], "-3", "true", "$(c)", "", "", "from default", "false"]
    expected = "".join(f"argv[{i}]=[{v}]\n" for i, v in enumerate(argv, 1)) + "9 positional arguments\n"
    env = {"CMD": "; touch x", "DFLT": "from default", "EMPTY": "", "N": "-3", "NO": "false", "PICK": "$(c)",
           "SECRET_TOKEN": "(6 characters)", "SUB": nasty["sub"], "YES": "true"}
    expected += "".join(f"TORU_ARG_{k}={v if k == 'SECRET_TOKEN' else '[' + v + ']'}\n" for k, v in sorted(env.items()))
    assert task["status"] == "success" and task["output"] == expected
    assert task["arguments"] == {"cmd": "; touch x", "sub": nasty["sub"], "n": -3, "yes": True, "pick": "$(c)",
                                 "empty": None, "secret_token": "••••", "dflt": "from default", "no": False}
    for name in ("x", "y", "z"):
        assert not list(server.data_dir.rglob(name)), name
    admin.delete(f"/api/quick-actions/{action['id']}")


def test_a_password_is_never_stored_logged_or_shown(server, admin):
    action = create(admin, name="Secret", script="secret.sh", arguments=[
        {"name": "user", "type": "text"}, {"name": "token", "type": "password", "required": True}])
    res = admin.post(f"/api/quick-actions/{action['id']}/execute",
                     json={"arguments": {"user": "bob", "token": SECRET}})
    task = finished(admin, res.json["task_id"])
    assert task["output"] == f"token: {len(SECRET)} characters, argv2=[]\n"
    assert task["arguments"] == {"user": "bob", "token": "••••"}
    listed = next(t for t in admin.get("/api/history").json["tasks"] if t["id"] == task["id"])
    assert listed["arguments"] == {"user": "bob", "token": "••••"}

    # A re-run cannot reuse what was never stored: the password is asked for again.
    res = admin.post(f"/api/history/{task['id']}/rerun")
    assert res.status == 400 and res.json["fields"] == {"token": "Required"}
    res = admin.post(f"/api/history/{task['id']}/rerun", json={"arguments": {"user": "eve", "token": "other"}})
    assert res.status == 201
    assert finished(admin, res.json["task_id"])["arguments"] == {"user": "eve", "token": "••••"}
    res = admin.post(f"/api/history/{task['id']}/rerun", json={"arguments": {"token": "x\0"}})
    assert res.status == 400 and res.json["fields"] == {"token": "Must not contain NUL characters"}

    audit = [line for path in (server.data_dir / "logs").glob("*.log") for line in path.read_text().splitlines()
             if "quick action run" in line and task["id"] in line]
    assert audit and "••••" in audit[0] and "bob" in audit[0]
    leaks = [str(p) for p in server.data_dir.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    console = server.output_path.read_bytes()
    assert leaks == [] and SECRET.encode() not in console
    admin.delete(f"/api/quick-actions/{action['id']}")


def test_a_catastrophic_pattern_is_cut_off_and_the_server_keeps_answering(server, admin):
    action = create(admin, name="Slow pattern", arguments=[{"name": "word", "type": "text", "pattern": "(a+)+"}])
    answers = []
    worker = threading.Thread(target=lambda: answers.append(admin.post(
        f"/api/quick-actions/{action['id']}/execute", json={"arguments": {"word": "a" * 40 + "!"}})))
    began = time.monotonic()
    worker.start()
    health = []
    while worker.is_alive():  # the hub is free while the pattern runs in its own process
        t = time.monotonic()
        assert server.client().get("/api/health").status == 200
        health.append(time.monotonic() - t)
    worker.join()
    assert time.monotonic() - began < 3
    res = answers[0]
    assert res.status == 400 and res.json["fields"]["word"].startswith("Could not be checked within 0.5 s"), res
    assert health and max(health) < 1  # never waits for the match (it would never end in-process)
    ok = admin.post(f"/api/quick-actions/{action['id']}/execute", json={"arguments": {"word": "aaaa"}})
    assert ok.status == 201
    finished(admin, ok.json["task_id"])
    admin.delete(f"/api/quick-actions/{action['id']}")


# ---- confirmation -----------------------------------------------------------------------

def test_confirmation_is_required_over_rest_websocket_and_rerun(server, admin):
    action = create(admin, name="Restart", script="secret.sh", confirm="This restarts the production web server",
                    arguments=[{"name": "token", "type": "password", "required": True}])
    url = f"/api/quick-actions/{action['id']}/execute"
    before = total_runs(admin)
    for body in ({"arguments": {"token": "t"}}, {"arguments": {"token": "t"}, "confirmed": "yes"},
                 {"arguments": {"token": "t"}, "confirmed": 1}):
        res = admin.post(url, json=body)
        assert res.status == 409 and res.json["confirm"] == "This restarts the production web server", res
    res = admin.post(url, json={"arguments": {}})  # values are checked first: a 409 means only confirm is missing
    assert res.status == 400 and res.json["fields"] == {"token": "Required"}
    assert total_runs(admin) == before

    sock = TaskSocket(server, admin)
    try:
        sock.send(type="run", quick_action_id=action["id"], arguments={"token": "t"}, ref="a")
        reply = sock.until(lambda m: m.get("ref") == "a")[-1]
        assert reply["type"] == "error" and reply["confirm"] == action["confirm"]
        sock.send(type="run", quick_action_id=action["id"], arguments={"token": "a\nb"}, confirmed=True, ref="b")
        reply = sock.until(lambda m: m.get("ref") == "b")[-1]
        assert reply["type"] == "error" and reply["fields"] == {"token": "Must be a single line"}
        assert total_runs(admin) == before
        started = sock.run(quick_action_id=action["id"], arguments={"token": "t"}, confirmed=True)
        assert sock.output_until_exit(started["task_id"])[2]["status"] == "success"
    finally:
        sock.close()
    res = admin.post(f"/api/history/{started['task_id']}/rerun", json={"arguments": {"token": "t"}})
    assert res.status == 409 and res.json["confirm"] == action["confirm"]
    res = admin.post(f"/api/history/{started['task_id']}/rerun", json={"arguments": {"token": "t"}, "confirmed": True})
    assert res.status == 201
    finished(admin, res.json["task_id"])
    admin.delete(f"/api/quick-actions/{action['id']}")


# ---- choices ----------------------------------------------------------------------------

def test_choices_from_a_script_are_cached_and_refreshed(server, admin, every_type):
    counter = server.data_dir / "branches-runs"
    counter.unlink(missing_ok=True)
    url = f"/api/quick-actions/{every_type['id']}/choices/branch"
    runs = lambda: len(counter.read_text().splitlines()) if counter.exists() else 0  # noqa: E731
    assert admin.get(url + "?refresh=1").json == {"choices": ["main", "feature/x", "spaced"]}
    assert runs() == 1
    assert admin.get(url).json["choices"] == ["main", "feature/x", "spaced"]
    res = admin.post(f"/api/quick-actions/{every_type['id']}/execute",
                     json={"arguments": {**GOOD, "branch": "spaced"}})
    assert res.status == 201
    assert runs() == 1  # both answered from the cache
    assert admin.get(url + "?refresh=1").status == 200
    assert runs() == 2
    finished(admin, res.json["task_id"])
    assert admin.get(f"/api/quick-actions/{every_type['id']}/choices/env").json == {"choices": ["dev", "prod"]}
    for name in ("name", "nope"):
        res = admin.get(f"/api/quick-actions/{every_type['id']}/choices/{name}")
        assert res.status == 404 and "no choice argument named" in res.json["error"]


def test_a_failing_or_slow_choices_script_answers_a_clear_error(server, admin):
    action = create(admin, name="Bad lists", arguments=[
        {"name": "fails", "type": "choice", "choices_from": "failing.sh"},
        {"name": "slow", "type": "choice", "choices_from": "slow.sh"}])
    base = f"/api/quick-actions/{action['id']}/choices"
    res = admin.get(f"{base}/fails")
    assert res.status == 502
    assert res.json["error"] == ("The choices script failing.sh failed (exit code 3); fix the script, "
                                 "or change the action's choices_from")
    began = time.monotonic()
    res = admin.get(f"{base}/slow")
    assert res.status == 504 and "did not finish within 0.5 s" in res.json["error"]
    assert time.monotonic() - began < 3
    res = admin.post(f"/api/quick-actions/{action['id']}/execute", json={"arguments": {"slow": "x"}})
    assert res.status == 504  # nothing runs when the list cannot be had
    slow = str(server.data_dir / "scripts" / "slow.sh").encode()
    wait_for(lambda: not any(slow in line for line in cmdlines()), timeout=5,
             message="the slow choices script to be killed")
    (server.data_dir / "scripts" / "gone.sh").write_text("#!/bin/sh\necho a\n")
    admin.put(f"/api/quick-actions/{action['id']}", json={"arguments": [
        {"name": "gone", "type": "choice", "choices_from": "gone.sh"}]})
    (server.data_dir / "scripts" / "gone.sh").unlink()
    res = admin.get(f"{base}/gone?refresh=1")
    assert res.status == 502 and "No script named 'gone.sh'" in res.json["error"]
    admin.delete(f"/api/quick-actions/{action['id']}")


def cmdlines():
    for path in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            yield path.read_bytes()
        except OSError:
            continue


def test_runs_without_arguments_keep_an_empty_record(admin):
    action = create(admin, name="Plain", script="secret.sh")
    assert action["arguments"] == [] and action["confirm"] is None
    res = admin.post(f"/api/quick-actions/{action['id']}/execute")
    assert res.status == 201
    assert finished(admin, res.json["task_id"])["arguments"] == {}
    admin.delete(f"/api/quick-actions/{action['id']}")
