"""The command line: precedence of CLI, env and defaults, and every bad value
ending in one clear line on stderr with exit status 2."""

import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from helpers import ROOT, ServerProcess, base_env, request, run_cli
from toru.store import Store


def unit_for(args, env=None, tmp_path=None):
    result = run_cli(["--print-systemd-unit"] + args, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return next(line for line in result.stdout.splitlines() if line.startswith("ExecStart="))


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_defaults_are_loopback_3000_and_the_current_directory(tmp_path):
    line = unit_for([], tmp_path=tmp_path)
    assert f"--data-dir {tmp_path.resolve()} --host 127.0.0.1 --port 3000" in line


def test_env_beats_default(tmp_path):
    env = {"STEERING_HOST": "127.0.0.2", "STEERING_PORT": "4001", "TORU_DATA_DIR": str(tmp_path / "envdata")}
    line = unit_for([], env=env, tmp_path=tmp_path)
    assert f"--data-dir {tmp_path / 'envdata'} --host 127.0.0.2 --port 4001" in line


def test_cli_beats_env(tmp_path):
    env = {"STEERING_HOST": "127.0.0.2", "STEERING_PORT": "4001", "TORU_DATA_DIR": str(tmp_path / "envdata")}
    line = unit_for(["--host", "127.0.0.3", "--port", "4002", "--data-dir", str(tmp_path / "cli")], env=env)
    assert f"--data-dir {tmp_path / 'cli'} --host 127.0.0.3 --port 4002" in line


def test_systemd_unit_names_the_program_by_absolute_path(tmp_path):
    result = run_cli(["--print-systemd-unit", "--data-dir", str(tmp_path)])
    assert "[Service]" in result.stdout and "WantedBy=multi-user.target" in result.stdout
    exec_start = next(l for l in result.stdout.splitlines() if l.startswith("ExecStart="))
    program = exec_start.split()[1]
    assert os.path.isabs(program) and program.endswith("toru.py")
    assert f"WorkingDirectory={tmp_path}" in result.stdout


def test_server_listens_where_the_cli_says_not_the_env(fresh_server, tmp_path):
    env_port = ServerProcess(tmp_path).port  # a free port the env points at
    proc = fresh_server(env={"STEERING_PORT": str(env_port)}).start()  # --port given by the fixture
    assert request(proc.url, "GET", "/api/health")[0] == 200
    with pytest.raises(OSError):
        request(f"http://127.0.0.1:{env_port}", "GET", "/api/health", timeout=1)


def test_env_port_is_used_without_a_flag(fresh_server):
    proc = fresh_server(port_via_env=True).start()
    assert "--port" not in proc.proc.args
    assert request(proc.url, "GET", "/api/health")[0] == 200


def test_version(tmp_path):
    result = run_cli(["--version"])
    assert result.returncode == 0
    assert result.stdout.startswith("toru ")


@pytest.mark.parametrize("port", ["99999", "0", "-1", "abc", ""])
def test_bad_port_flag(port, tmp_path):
    result = run_cli(["--port", port, "--data-dir", str(tmp_path)])
    assert_one_line_error(result, "port")
    assert not (tmp_path / "toru.db").exists()


def test_bad_port_env(tmp_path):
    result = run_cli(["--data-dir", str(tmp_path)], env={"STEERING_PORT": "70000"})
    assert_one_line_error(result, "port 70000 is out of range")


def test_unknown_flag(tmp_path):
    result = run_cli(["--frobnicate", "--data-dir", str(tmp_path)])
    assert_one_line_error(result, "--frobnicate", "--help")
    assert not (tmp_path / "toru.db").exists()


def test_bad_log_level(tmp_path):
    assert_one_line_error(run_cli(["--log-level", "loud", "--data-dir", str(tmp_path)]), "log level")


def test_data_dir_that_is_a_file(tmp_path):
    target = tmp_path / "file"
    target.write_text("keep me")
    result = run_cli(["--data-dir", str(target)])
    assert_one_line_error(result, "data directory", str(target))
    assert target.read_text() == "keep me"


def test_data_dir_that_cannot_be_created(tmp_path):
    # Root may write anywhere on disk, but nobody can create directories in /proc.
    result = run_cli(["--data-dir", "/proc/toru-cannot-exist/data"])
    assert_one_line_error(result, "cannot create data directory")


def test_port_already_in_use(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(["--port", str(port), "--data-dir", str(tmp_path / "new")])
    assert_one_line_error(result, f"port {port}", "already in use")
    assert not (tmp_path / "new").exists()  # a failed start leaves no folder behind


def run_unprivileged(args):
    """toru.py as a user without root: as nobody when the suite runs as root (CI)."""
    cmd = [sys.executable, str(ROOT / "toru.py"), *args]
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv to drop to an unprivileged user")
        cmd = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=base_env(), cwd="/")


def test_a_privileged_port_without_root_says_what_to_do_instead(tmp_path):
    port = 443
    if int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text()) <= port:
        pytest.skip("this machine lets anyone bind ports below 1024")
    open_dir = Path(tempfile.mkdtemp(prefix="toru-port-"))  # one nobody may look into
    try:
        open_dir.chmod(0o755)
        result = run_unprivileged(["--port", str(port), "--data-dir", str(open_dir / "new")])
        assert_one_line_error(result, f"127.0.0.1:{port}", "ports below 1024 need root", "reverse proxy")
        assert not (open_dir / "new").exists()
    finally:
        shutil.rmtree(open_dir)


def test_a_data_dir_this_user_may_not_look_into_is_one_line(tmp_path):
    closed = tmp_path / "closed"
    closed.mkdir()
    closed.chmod(0)  # nobody but root may look into it
    try:
        result = run_unprivileged(["--data-dir", str(closed / "data")])
    finally:
        closed.chmod(0o700)
    assert_one_line_error(result, f"cannot read {closed / 'data' / '.env'}: Permission denied")


def test_a_database_this_user_may_not_write_is_refused_naming_its_owner():
    # A first run as root, then a start as a service user: the file is root's.
    open_dir = Path(tempfile.mkdtemp(prefix="toru-owner-"))
    try:
        Store(open_dir / "toru.db").close()
        if os.geteuid() == 0:
            shutil.chown(open_dir, "nobody")  # the directory is the service user's, the file is not
            open_dir.chmod(0o755)
            owner, user = "root", "nobody"
        else:
            (open_dir / "toru.db").chmod(0o444)
            owner = user = pwd.getpwuid(os.geteuid()).pw_name
        before = (open_dir / "toru.db").read_bytes()
        result = run_unprivileged(["--data-dir", str(open_dir)])
        assert_one_line_error(result, f"{open_dir / 'toru.db'} is not writable by {user}",
                              f"belongs to {owner}: run Toru as {owner}")
        assert (open_dir / "toru.db").read_bytes() == before
    finally:
        shutil.rmtree(open_dir)


def test_corrupt_database_is_refused_and_left_untouched(tmp_path):
    db = tmp_path / "toru.db"
    garbage = b"this is not a database\n" * 100
    db.write_bytes(garbage)
    result = run_cli(["--data-dir", str(tmp_path)])
    assert_one_line_error(result, str(db), "not a usable SQLite database", "left untouched")
    assert db.read_bytes() == garbage
    assert not (tmp_path / "toru.db-wal").exists()


def test_database_from_a_newer_toru_is_refused(tmp_path):
    db = tmp_path / "toru.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE schema_migrations(version INTEGER PRIMARY KEY, name TEXT, applied_at REAL)")
    conn.execute("INSERT INTO schema_migrations VALUES(9999, 'future', 0)")
    conn.commit()
    conn.close()
    result = run_cli(["--data-dir", str(tmp_path)])
    assert_one_line_error(result, "newer than this Toru knows")


@pytest.mark.parametrize("value", ["0", "61", "fast"])
def test_bad_sample_interval(tmp_path, value):
    result = run_cli(["--data-dir", str(tmp_path)], env={"TORU_SAMPLE_INTERVAL": value})
    assert_one_line_error(result, "sample interval")
    assert not (tmp_path / "toru.db").exists()


@pytest.mark.parametrize("value, fragment", [("kill_grace", "not name=seconds"), ("nap_time=3", "not name=seconds"),
                                             ("kill_grace=soon", "kill_grace 'soon' is not a number"),
                                             ("socket_timeout=0", "out of range")])
def test_bad_timings_stop_the_start_with_one_line(tmp_path, value, fragment):
    result = run_cli(["--data-dir", str(tmp_path)], env={"TORU_TIMINGS": value})
    assert_one_line_error(result, fragment)
    assert not (tmp_path / "toru.db").exists()


def test_timings_come_from_the_environment_over_the_defaults():
    from toru.config import Config, Timings
    config = Config.load({"data_dir": "/tmp"}, {"TORU_TIMINGS": "kill_grace=0.5, rescan_interval=2",
                                                "TORU_PLUGIN_BACKOFF_BASE": "0.1"})
    assert config.timings == Timings(kill_grace=0.5, rescan_interval=2, backoff_base=0.1, backoff_cap=1.6)
    assert Config.load({"data_dir": "/tmp"}, {}).timings == Timings()


def test_systemd_unit_for_a_pyz_uses_the_system_python_and_a_state_directory(tmp_path):
    import shutil
    import sys
    copy = tmp_path / "toru.pyz"
    shutil.copy(os.environ["TORU_PYZ"], copy)
    result = run_cli(["--print-systemd-unit", "--data-dir", "/var/lib/toru-unit-test"], pyz=copy,
                     env={"SHIV_ROOT": str(tmp_path / "shiv")})
    assert result.returncode == 0, result.stderr
    unit = result.stdout.splitlines()
    assert "StateDirectory=toru-unit-test" in unit and "WorkingDirectory=/var/lib/toru-unit-test" in unit
    assert not os.path.exists("/var/lib/toru-unit-test")  # printing a unit creates nothing
    exec_start = next(line for line in unit if line.startswith("ExecStart="))
    if sys.prefix != sys.base_prefix and os.path.exists("/usr/bin/python3"):  # the suite runs in a venv
        assert exec_start.startswith(f"ExecStart=/usr/bin/python3 {copy} ")
        assert any(line.startswith(f"# {sys.executable} (this shell's Python)") for line in unit)
    # Elsewhere than /var/lib, systemd is not asked to make the directory.
    other = run_cli(["--print-systemd-unit", "--data-dir", str(tmp_path / "d")], pyz=copy,
                    env={"SHIV_ROOT": str(tmp_path / "shiv")})
    assert not any(line.startswith("StateDirectory=") for line in other.stdout.splitlines())
