"""What a newcomer runs into in the first hour (issue 22): hints that print
commands which work as printed, and one clear line where Python alone
cannot run Toru."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT, ServerProcess, base_env


def test_the_reset_hint_names_the_file_that_was_started(fresh_server, tmp_path):
    data = tmp_path / "hint"
    fresh_server(data_dir=data, env={"ADMIN_PASSWORD": ""}).start().stop()
    second = fresh_server(data_dir=data, env={"ADMIN_PASSWORD": ""}).start()
    assert f"python3 {ROOT / 'toru.py'} reset-admin-password --data-dir {data}" in second.console()
    assert "generated at first start or by reset-admin-password" in second.console()


def test_the_reset_hint_of_a_copied_pyz_names_its_real_path(tmp_path):
    copy = tmp_path / "opt" / "toru.pyz"
    copy.parent.mkdir()
    shutil.copy(os.environ["TORU_PYZ"], copy)
    data = tmp_path / "data"
    proc = ServerProcess(data, pyz=copy, cwd="/", env={"ADMIN_PASSWORD": "", "SHIV_ROOT": str(tmp_path / "shiv")})
    proc.start(timeout=60)
    try:
        assert f"python3 {copy} reset-admin-password --data-dir {data}" in proc.console()
    finally:
        assert proc.stop() == 0


def test_toru_py_without_its_libraries_says_how_to_run_it(tmp_path):
    # -S: this Python without any site-packages, as a plain system python3 is.
    result = subprocess.run([sys.executable, "-S", str(ROOT / "toru.py"), "--data-dir", str(tmp_path)],
                            env=base_env(), capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "gevent" in lines[0] and "./build.sh run" in lines[0], result.stderr
    assert not Path(tmp_path / "toru.db").exists()


def test_a_proxy_without_trust_proxy_is_noticed_once(fresh_server):
    import json as json_mod
    from helpers import request, sign_in
    proc = fresh_server().start()  # TRUST_PROXY off
    admin = sign_in(proc)
    assert admin.get("/api/instance").json["notices"] == []
    for _ in range(3):
        status, _, _ = request(proc.url, "GET", "/api/health", headers={"X-Forwarded-For": "203.0.113.9"})
        assert status == 200
    notices = admin.get("/api/instance").json["notices"]
    assert [n["code"] for n in notices] == ["untrusted_proxy"]
    assert "TRUST_PROXY" in notices[0]["message"] and "127.0.0.1" in notices[0]["message"]
    logged = [json_mod.loads(line) for line in (proc.data_dir / "logs" / "toru.log").read_text().splitlines()]
    assert len([line for line in logged if "TRUST_PROXY is off" in line["message"]]) == 1
    trusted = fresh_server(env={"TRUST_PROXY": "1"}).start()
    request(trusted.url, "GET", "/api/health", headers={"X-Forwarded-For": "203.0.113.9"})
    assert sign_in(trusted).get("/api/instance").json["notices"] == []


def test_forms_get_every_bad_field_at_once_in_words(server, admin):
    before = len(admin.get("/api/users").json["users"])
    res = admin.post("/api/users", json={"username": "bad name!", "role": "root", "password": "short",
                                         "display_name": "x\u202ey"})
    assert res.status == 400
    fields = res.json["fields"]
    assert set(fields) == {"username", "role", "password", "display_name"}, fields
    assert all("_" not in text.split(":")[0] for text in fields.values())  # no internal keys in the words
    assert len(admin.get("/api/users").json["users"]) == before
    res = admin.put("/api/settings", json={"retention_days": 0, "max_concurrent_tasks": "many", "nope": 1,
                                           "scripts_dir": "/no/such/dir"})
    assert res.status == 400
    fields = res.json["fields"]
    assert set(fields) == {"retention_days", "max_concurrent_tasks", "nope", "scripts_dir"}, fields
    assert fields["retention_days"] == "Must be a whole number from 1 to 3,650"
    assert not any("retention_days" in text or "scripts_dir" in text for text in fields.values())
    res = admin.put("/api/me/password", json={})
    assert res.status == 400 and set(res.json["fields"]) == {"current_password", "new_password"}


def test_the_pyz_starts_for_a_user_whose_home_is_not_writable(tmp_path):
    copy = tmp_path / "toru.pyz"
    shutil.copy(os.environ["TORU_PYZ"], copy)
    env = dict(base_env(), HOME="/proc/toru-no-home")  # nobody, not even root, can create this
    env.pop("SHIV_ROOT", None)
    result = subprocess.run([sys.executable, str(copy), "--version"], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and result.stdout.startswith("toru "), result.stderr
    fallback = Path(f"/tmp/toru-{os.getuid()}/shiv")
    assert fallback.is_dir() and oct(fallback.stat().st_mode & 0o777) == "0o700"


def test_build_help_names_every_command_and_option_it_takes():
    import re
    script = (ROOT / "build.sh").read_text()
    parsed = re.search(r'^while \[ \$# -gt 0 \]; do\n  case "\$1" in\n(.*?)^  esac', script, re.M | re.S).group(1)
    accepted = set(re.findall(r"(?:^    |\|)([a-z-]+)(?=[|)])", parsed, re.M)) - {"-h", "--help"}
    assert {"build", "run", "test", "plugins", "--universal", "--output", "--check"} <= accepted, accepted
    result = subprocess.run([str(ROOT / "build.sh"), "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and result.stdout.startswith("Build, run and test Toru.")
    shown = set(re.findall(r"^  \./build\.sh(?: ([a-z-]+))?", result.stdout, re.M))
    assert accepted - {"build"} <= shown, f"not in --help: {sorted(accepted - {'build'} - shown)}"


def test_build_run_says_a_taken_port_before_building(tmp_path):
    import socket
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([str(ROOT / "build.sh"), "run", "--port", str(port), "--data-dir", str(tmp_path)],
                                capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "writing" not in result.stderr and not (tmp_path / "toru.db").exists()


@pytest.mark.slow
def test_build_run_in_a_checkout_keeps_its_data_in_the_ignored_data_dir():
    from helpers import ADMIN_PASSWORD, free_port, request, wait_for
    port = free_port()
    env = dict(base_env(), ADMIN_PASSWORD=ADMIN_PASSWORD)
    proc = subprocess.Popen([str(ROOT / "build.sh"), "run", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
    try:
        def up():
            try:
                return request(f"http://127.0.0.1:{port}", "GET", "/api/health", timeout=1)[0] == 200
            except OSError:
                return False
        wait_for(up, timeout=90, message="./build.sh run")
        assert (ROOT / "data" / "toru.db").is_file()
        status = subprocess.run(["git", "status", "--porcelain", "--ignored=no"], cwd=ROOT, capture_output=True,
                                text=True).stdout
        assert not [line for line in status.splitlines() if line[3:].startswith(("data", "toru.db", "logs/"))]
    finally:
        proc.terminate()  # exec'd: this pid is the server itself
        proc.wait(timeout=20)
