"""What scripts and habits from the original Toru rely on (issue 15,
DESIGN §6a): its API field names and shapes next to ours, the start-up log
lines, and the `.env` file."""

import json
import re
from datetime import datetime

import pytest

from helpers import ADMIN_PASSWORD, TaskSocket, sign_in, wait_for
from toru.envfile import parse
from toru.errors import ConfigError

GOOD = "correct horse battery staple"


# --- API shapes -------------------------------------------------------------------

def test_put_one_setting_in_the_originals_shape(server, admin):
    before = admin.get("/api/settings").json["settings"]
    res = admin.put("/api/settings/retention_days", json={"value": 45})
    assert res.status == 200 and res.json["settings"]["retention_days"] == 45
    assert admin.get("/api/settings").json["settings"]["retention_days"] == 45
    for path, body in [("/api/settings/retention_days", {"value": 0}), ("/api/settings/retention_days", {}),
                       ("/api/settings/retention_days", {"value": 3, "extra": 1}),
                       ("/api/settings/no_such_key", {"value": 1}), ("/api/settings/instance_id", {"value": "x"})]:
        res = admin.put(path, json=body)
        assert res.status == 400 and res.json["error"], (path, body)
    assert admin.get("/api/settings").json["settings"]["retention_days"] == 45
    admin.put("/api/settings/retention_days", json={"value": before["retention_days"]})


def test_users_take_and_return_is_active(server, admin):
    res = admin.post("/api/users", json={"username": "legacy1", "password": GOOD, "is_active": False})
    assert res.status == 201
    user = res.json["user"]
    assert user["active"] is False and user["is_active"] is False and isinstance(user["id"], int)
    login = server.client().post("/api/auth/login", json={"username": "legacy1", "password": GOOD})
    assert login.status == 401  # inactive from the start
    res = admin.patch(f"/api/users/{user['id']}", json={"is_active": True})
    assert res.status == 200 and res.json["user"]["is_active"] is True and res.json["user"]["active"] is True
    for bad in ({"is_active": "yes"}, {"is_active": True, "active": False}):
        res = admin.patch(f"/api/users/{user['id']}", json=bad)
        assert res.status == 400 and res.json["error"], bad
    listed = {u["username"]: u for u in admin.get("/api/users").json["users"]}
    assert listed["legacy1"]["is_active"] is True and listed["admin"]["is_active"] is True


def test_login_history_carries_the_originals_fields(server, admin):
    assert server.client().post("/api/auth/login", json={"username": "admin", "password": "wrong-pass"}).status == 401
    attempts = admin.get("/api/auth/login-history?page_size=5").json["attempts"]
    failed = next(a for a in attempts if not a["success"])
    assert failed["ip_address"] == failed["ip"] and failed["failure_reason"] == failed["reason"]
    assert datetime.fromisoformat(failed["attempted_at"].replace("Z", "+00:00")).timestamp() == \
        pytest.approx(failed["created_at"], abs=0.01)
    ok = next(a for a in attempts if a["success"])
    assert ok["failure_reason"] is None


def test_resources_carry_cpu_cores_and_disk_names(server, admin):
    snapshot = wait_for(lambda: (s := admin.get("/api/resources").json) and not s["warming_up"] and s,
                        message="a first sample")
    assert [c["usage"] for c in snapshot["cpu_cores"]] == snapshot["cpu_per_core"]
    assert snapshot["disks"] and all(d["name"] == d["device"] for d in snapshot["disks"])


# --- start-up lines and .env -------------------------------------------------------------

def log_lines(proc):
    return [json.loads(line) for line in (proc.data_dir / "logs" / "toru.log").read_text().splitlines()]


def test_start_logs_the_instance_id_and_warns_about_insecure_cookies(fresh_server):
    proc = fresh_server().start()
    instance_id = sign_in(proc).get("/api/instance").json["instance_id"]
    lines = log_lines(proc)
    assert any(line["message"] == "listening" and line["instance_id"] == instance_id for line in lines)
    assert any(line["level"] == "warn" and "not marked Secure" in line["message"] for line in lines)
    proc.stop()
    secure = fresh_server(env={"PRODUCTION": "1"}).start()
    assert not any("not marked Secure" in line["message"] for line in log_lines(secure))


def test_a_dotenv_in_the_data_dir_configures_toru_and_its_children(fresh_server, tmp_path):
    data = tmp_path / "envdata"
    (data / "scripts").mkdir(parents=True)
    env_file = data / ".env"
    env_file.write_text('# settings for this box\nexport ADMIN_DISPLAY_NAME="Ops Team"\n'
                        "TORU_DEMO='from the file'\nTORU_OVERRIDE=file # the real env wins\n"
                        "TORU_LICENSE_SECRET=not-for-children\n")
    env_file.chmod(0o644)
    (data / "scripts" / "show.sh").write_text('#!/bin/sh\necho "$TORU_DEMO|$TORU_OVERRIDE|${TORU_LICENSE_SECRET:-none}"\n')
    (data / "scripts" / "show.sh").chmod(0o755)
    proc = fresh_server(data_dir=data, env={"TORU_OVERRIDE": "real"}).start()
    admin = sign_in(proc)
    assert admin.get("/api/auth/me").json["user"]["display_name"] == "Ops Team"
    sock = TaskSocket(proc, admin)
    try:
        out, _, exit_message = sock.run_to_end("show.sh")
    finally:
        sock.close()
    assert out == "from the file|real|none\n" and exit_message["status"] == "success"
    assert re.search(r"warning: .*\.env holds TORU_LICENSE_SECRET and other users can read it", proc.console())


def test_a_broken_dotenv_stops_the_start_with_its_line(tmp_path):
    from helpers import run_cli
    (tmp_path / ".env").write_text("GOOD=1\nthis line is wrong\n")
    result = run_cli(["--data-dir", str(tmp_path)], env={"ADMIN_PASSWORD": ADMIN_PASSWORD})
    assert result.returncode == 2 and ".env line 2: expected NAME=value" in result.stderr
    assert not (tmp_path / "toru.db").exists()


@pytest.mark.parametrize("text, expected", [
    ("A=1\n\n# c\nB = two words \n", {"A": "1", "B": "two words"}),
    ('A="x\\ny\\"z\\\\"', {"A": 'x\ny"z\\'}),
    ("A='$HOME \\n' # note", {"A": "$HOME \\n"}),
    ("export A=1 # note\nA=2", {"A": "2"}),
    ("A=", {"A": ""}),
    ("A=x#not-a-comment", {"A": "x#not-a-comment"}),
])
def test_dotenv_format(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize("text, fragment", [
    ("JUSTWORDS", "line 1: expected NAME=value"), ("1A=x", "line 1: expected NAME=value"),
    ("A='open", "line 1: the single quote is not closed"), ('\nA="open', "line 2: the double quote is not closed"),
    ('A="x" y', "text after the closing quote"),
])
def test_dotenv_mistakes_name_their_line(text, fragment):
    with pytest.raises(ConfigError, match=fragment):
        parse(text)
