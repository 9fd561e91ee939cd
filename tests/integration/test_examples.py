"""examples/: `./build.sh plugins DIR` turns them into `.binary` files that
run from anywhere, the hello, licensed and Node plugins work inside a real
Toru (routes, KV kept across a plugin restart, logs with levels, bundle),
the hello page counts in a real browser, and the sample scripts run as
Toru tasks."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import zipfile

import pytest

from helpers import (ADMIN_PASSWORD, ROOT, ServerProcess, TaskSocket, plugin_info as plugin, run_cli, sign_in,
                     wait_plugin)

sys.path.insert(0, str(ROOT / "sdk_py"))
from toru_plugin.license import generate_license  # noqa: E402

EXAMPLES = ROOT / "examples"
LICENSED_SECRET = "toru-example-secret"   # the one compiled into examples/licensed/plugin.py
HAS_NODE = shutil.which("node") is not None
SCRIPTS = ["disk-usage.sh", "service-status.sh", "colours.sh", "progress.py", "backup-data.py"]


def build(out, env=None):
    return subprocess.run(["bash", str(ROOT / "build.sh"), "plugins", str(out)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, PYTHON=sys.executable, **(env or {})))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("built") / "plugins"
    result = build(out)
    assert result.returncode == 0, result.stderr
    return out


# ---- the build --------------------------------------------------------------------

def test_build_makes_one_executable_file_per_example_and_checks_them(built):
    names = sorted(p.name for p in built.glob("*.binary"))
    assert names == (["hello.binary", "licensed.binary", "node-hello.binary"] if HAS_NODE
                     else ["hello.binary", "licensed.binary"])
    for name in ("hello", "licensed"):
        binary = built / f"{name}.binary"
        assert os.access(binary, os.X_OK)
        assert binary.read_bytes().startswith(b"#!/usr/bin/env python3\n")
        with zipfile.ZipFile(binary) as z:
            files = set(z.namelist())
        assert {"__main__.py", "plugin.py", "bundle.js", "toru_plugin/__init__.py",
                "toru_plugin/license.py"} <= files
        assert not [f for f in files if "__pycache__" in f]
    if HAS_NODE:
        assert (built / "node-hello.binary").read_bytes() == (EXAMPLES / "node-hello" / "plugin.js").read_bytes()
        assert (built / "node-hello.binary").read_text().startswith("#!/usr/bin/env node\n")
    again = run_cli(["--metadata-check", str(built)])
    assert again.returncode == 0 and again.stdout.startswith("ok hello 1.0.0 /hello\n"), again


def test_build_fails_when_metadata_check_fails(tmp_path):
    out = tmp_path / "plugins"
    out.mkdir()
    (out / "broken.binary").write_text("#!/bin/sh\necho Error >&2\nexit 1\n")
    (out / "broken.binary").chmod(0o755)
    result = build(out)
    assert result.returncode == 1
    assert "FAIL broken.binary: --metadata exited with 1: Error" in result.stdout
    assert "--metadata-check failed" in result.stderr
    assert (out / "hello.binary").exists()


def test_two_builds_at_once_do_not_trip_over_each_other(tmp_path):
    # Each stages its files in a directory of its own (they shared one once).
    runs = [subprocess.Popen(["bash", str(ROOT / "build.sh"), "plugins", str(tmp_path / f"out{i}")], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env=dict(os.environ, PYTHON=sys.executable)) for i in range(3)]
    for i, run in enumerate(runs):
        output = run.communicate(timeout=300)[0]
        assert run.returncode == 0, output
        assert (tmp_path / f"out{i}" / "licensed.binary").exists()


def test_built_binaries_run_from_another_directory(built, tmp_path):
    elsewhere = tmp_path / "some" / "other place"
    elsewhere.mkdir(parents=True)
    copy = elsewhere / "hello.binary"
    shutil.copy2(built / "hello.binary", copy)
    # Isolated: no PYTHONPATH, no user site; the SDK inside the zip is all it has.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    meta = subprocess.run([sys.executable, "-I", str(copy), "--metadata"], cwd="/", capture_output=True,
                          text=True, timeout=30, env=env)
    assert meta.returncode == 0, meta.stderr
    assert json.loads(meta.stdout)["id"] == "hello"
    direct = subprocess.run([str(copy), "--metadata"], cwd=str(tmp_path), capture_output=True, text=True,
                            timeout=30, env=env)
    assert direct.returncode == 0 and json.loads(direct.stdout)["route"] == "/hello", direct.stderr
    checked = run_cli(["plugin-test", str(copy), "--json"], cwd=str(tmp_path), timeout=90)
    assert checked.returncode == 0, checked.stdout
    bundle = [c for c in json.loads(checked.stdout)["checks"] if c["name"] == "bundle"][0]
    assert bundle["status"] == "pass" and "answered 200" in bundle["detail"]


# ---- inside a real Toru ------------------------------------------------------------

@pytest.fixture(scope="module")
def core(built, tmp_path_factory):
    data = tmp_path_factory.mktemp("examples") / "data"
    (data / "plugins").mkdir(parents=True)
    for binary in built.glob("*.binary"):
        shutil.copy2(binary, data / "plugins" / binary.name)
    (data / "scripts").mkdir()
    for name in SCRIPTS:
        shutil.copy2(EXAMPLES / "scripts" / name, data / "scripts" / name)
    server = ServerProcess(data, env={"TRUST_PROXY": "1", "STEPS": "3", "STEP_SECONDS": "0.05",
                                       "DU_SECONDS": "2"}).start()
    admin = sign_in(server)
    for plugin_id in ("hello", "licensed") + (("node-hello",) if HAS_NODE else ()):
        wait_plugin(admin, plugin_id)
    yield server
    server.stop()


@pytest.fixture
def admin(core):
    return sign_in(core)


@pytest.mark.parametrize("plugin_id", ["hello", "node-hello"])
def test_hello_counts_visits_in_kv_and_keeps_them_across_a_restart(core, admin, plugin_id):
    if plugin_id == "node-hello" and not HAS_NODE:
        pytest.skip("node is not installed (apt-get install nodejs)")
    base = f"/api/plugins/route/{plugin_id}"
    first = admin.get(f"{base}/")
    assert first.status == 200, first
    assert first.json == {"message": "Hello, admin!", "visits": 0}
    assert first.header("content-type").startswith("application/json")
    assert [admin.post(f"{base}/visits").json["visits"] for _ in range(3)] == [1, 2, 3]
    assert admin.get(base).json["visits"] == 3
    old = plugin(admin, plugin_id)["pid"]
    assert admin.post(f"/api/plugins/{plugin_id}/restart").json == {"success": True}
    wait_plugin(admin, plugin_id, not_pid=old)
    assert admin.get(f"{base}/").json["visits"] == 3
    assert admin.post(f"{base}/visits").json["visits"] == 4
    assert admin.get(f"{base}/nothing").status == 404
    bundle = admin.get(f"/api/plugins/{plugin_id}/bundle.js")
    registers = "window.ToruPlugins.hello =" if plugin_id == "hello" else "window.ToruPlugins['node-hello'] ="
    assert bundle.status == 200 and registers in bundle.text
    assert "innerHTML" not in bundle.text
    logs = admin.get(f"/api/plugins/{plugin_id}/logs?level=info").json["logs"]
    counted = [line for line in logs if line["message"].startswith("visit counted")]
    assert counted and counted[0]["level"] == "info" and counted[0]["plugin"] == plugin_id


def test_concurrent_visits_are_all_counted(core, admin):
    import threading
    base = "/api/plugins/route/hello"
    before = admin.get(base).json["visits"]
    threads = [threading.Thread(target=lambda: admin.post(f"{base}/visits")) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert admin.get(base).json["visits"] == before + 8


def test_licensed_shows_missing_wrong_and_valid_keys(core, admin):
    base = "/api/plugins/route/licensed"
    instance = admin.get("/api/instance").json["instance_id"]
    state = admin.get(base).json
    assert state == {"licensed": False, "reason": "missing", "instance_id": instance}
    assert admin.get(f"{base}/report").status == 402
    other = generate_license("another-instance", "never", LICENSED_SECRET)
    assert admin.put(f"{base}/license", json={"key": other}).json["reason"] == "instance"
    forged = generate_license(instance, "never", "not-the-vendors-secret")
    assert admin.put(f"{base}/license", json={"key": forged}).json["reason"] == "signature"
    assert admin.put(f"{base}/license", json={"key": "garbage!"}).json["reason"] == "format"
    expired = generate_license(instance, "2020-01-01", LICENSED_SECRET)
    assert admin.put(f"{base}/license", json={"key": expired}).json["reason"] == "expired"
    good = generate_license(instance, "never", LICENSED_SECRET)
    assert admin.put(f"{base}/license", json={"key": good}).json == {"licensed": True, "reason": None,
                                                                      "instance_id": instance}
    assert admin.get(f"{base}/report").json["report"] == "Everything is fine."
    # Kept in KV: still licensed after a restart.
    old = plugin(admin, "licensed")["pid"]
    admin.post("/api/plugins/licensed/restart")
    wait_plugin(admin, "licensed", not_pid=old)
    assert admin.get(base).json["licensed"] is True
    assert admin.put(f"{base}/license", json={"nokey": 1}).status == 400
    # Only an admin may change it.
    admin.post("/api/users", json={"username": "lic-client", "password": "correct horse battery staple"})
    client = core.client()
    client.post("/api/auth/login", json={"username": "lic-client", "password": "correct horse battery staple"})
    assert client.put(f"{base}/license", json={"key": "x"}).status == 403
    assert client.get(base).json["licensed"] is True
    assert admin.delete(f"{base}/license").json["reason"] == "missing"


# ---- scripts ----------------------------------------------------------------------------

def test_each_sample_script_describes_itself_in_its_first_comment(core, admin):
    listed = {s["name"]: s for s in admin.get("/api/scripts").json["scripts"]}
    for name in SCRIPTS:
        assert listed[name]["description"], name
        assert os.access(EXAMPLES / "scripts" / name, os.X_OK), name
    assert listed["backup-data.py"]["single_instance"] is True


@pytest.mark.parametrize("name", SCRIPTS)
def test_sample_scripts_run_as_tasks(core, admin, name):
    tasks = TaskSocket(core, admin)
    try:
        out, err, end = tasks.run_to_end(name, timeout=120)
    finally:
        tasks.close()
    expected = (0, 1) if name == "service-status.sh" else (0,)   # 1 = a service is down on this machine
    assert end["code"] in expected, (out, err)
    if name == "colours.sh":
        assert "\x1b[31m 31 \x1b[0m" in out and "\x1b[48;2;" in out
    if name == "progress.py":
        assert "100% 3/3" in out and "done" in out
    if name == "disk-usage.sh":
        assert "Disk usage on" in out and "%" in out


def test_backup_script_makes_a_consistent_restorable_archive(core, admin, tmp_path):
    # A data dir that is also a checkout: version control and venvs stay out.
    for junk in (".git/objects/ab", "venv-x/lib", "scripts/.venv/bin", "plugins/node_modules/x"):
        (core.data_dir / junk).mkdir(parents=True, exist_ok=True)
        (core.data_dir / junk / "f").write_text("junk")
    (core.data_dir / "venv-x" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    tasks = TaskSocket(core, admin)
    try:
        out, err, end = tasks.run_to_end("backup-data.py", timeout=120)
    finally:
        tasks.close()
    assert end["code"] == 0, (out, err)
    archives = sorted((core.data_dir / "backups").glob("toru-backup-*.tar.gz"))
    assert archives and oct(archives[-1].stat().st_mode & 0o777) == "0o600"
    with tarfile.open(archives[-1]) as tar:
        names = tar.getnames()
        assert "toru.db" in names and "plugins/hello.binary" in names and "scripts/backup-data.py" in names
        assert not [n for n in names if n.startswith(("backups", "run/", "logs/")) or n.endswith("-wal")]
        assert not [n for n in names if n.startswith((".git", "venv-x", "scripts/.venv", "plugins/node_modules"))]
        (tmp_path / "toru.db").write_bytes(tar.extractfile("toru.db").read())
    db = sqlite3.connect(tmp_path / "toru.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT value FROM plugin_kv WHERE plugin_id = 'hello' AND key = 'visits'").fetchone()
    finally:
        db.close()


# ---- the hello page in a browser --------------------------------------------------------

def test_hello_page_counts_a_visit_in_the_browser(core, browser):
    context = browser.new_context(extra_http_headers={"CF-Connecting-IP": "10.251.0.1"})
    errors = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        res = page.request.post(f"{core.url}/api/auth/login", data={"username": "admin", "password": ADMIN_PASSWORD},
                                headers={"Origin": core.url})
        assert res.status == 200
        page.goto(f"{core.url}/plugin/hello")
        count = page.locator(".hello-visits")
        page.wait_for_function("() => /^\\d+$/.test((document.querySelector('.hello-visits') || {}).textContent)",
                               timeout=30_000)
        before = int(count.text_content())
        assert page.locator(".hello-greeting").text_content() == "Hello, admin!"
        page.locator(".hello-visit").click()
        shows = f"() => (document.querySelector('.hello-visits') || {{}}).textContent === '{before + 1}'"
        page.wait_for_function(shows, timeout=15_000)
        page.reload()   # the count comes back from KV, not from the page
        page.wait_for_function(shows, timeout=30_000)
        assert errors == []
    finally:
        context.close()
