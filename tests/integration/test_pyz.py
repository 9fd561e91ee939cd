"""The built artifact: dist/toru.pyz copied anywhere and started from any
directory serves the UI and API from inside itself; the universal build
carries the compiled modules of every supported Python and CPU."""

import glob
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from helpers import ADMIN_PASSWORD, ROOT, Client, ServerProcess, request, run_cli

# What ./build.sh --universal targets (UNIVERSAL_PYTHONS, UNIVERSAL_MACHINES).
PYTHONS = ("3.10", "3.11", "3.12", "3.13", "3.14")
MACHINES = ("x86_64", "aarch64")


@pytest.fixture(scope="module")
def pyz():
    path = os.environ.get("TORU_PYZ")
    if not path:
        pytest.fail("TORU_PYZ is not set: run the suite with ./build.sh test, which builds dist/toru.pyz first")
    return Path(path)


@pytest.fixture
def shiv_root(tmp_path):
    # A fresh unpack directory per test: proves the pyz brings everything.
    return {"SHIV_ROOT": str(tmp_path / "shiv")}


def test_pyz_copied_elsewhere_runs_from_any_directory(pyz, tmp_path, shiv_root):
    elsewhere = tmp_path / "x"
    elsewhere.mkdir()
    copy = elsewhere / "toru.pyz"
    shutil.copy(pyz, copy)
    proc = ServerProcess(tmp_path / "d", pyz=copy, cwd="/", env=dict(shiv_root, PYTHONDONTWRITEBYTECODE="1"))
    proc.start(timeout=60)
    try:
        status, headers, body = request(proc.url, "GET", "/")
        assert status == 200 and b'src="/static/js/app.js"' in body
        status, headers, body = request(proc.url, "GET", "/static/js/app.js")
        assert status == 200 and headers["content-type"].startswith("text/javascript")
        assert body == (ROOT / "static/js/app.js").read_bytes()
        status, _, body = request(proc.url, "GET", "/api/health")
        assert status == 200 and b'"ok"' in body
        assert "listening on " + proc.url in proc.console()
    finally:
        assert proc.stop() == 0
    # The served files came from the unpacked pyz, not from this checkout.
    assert list(Path(shiv_root["SHIV_ROOT"]).glob("*/site-packages/toru/static/index.html"))
    assert (tmp_path / "d" / "toru.db").exists()


def test_pyz_and_checkout_share_one_cli(pyz, tmp_path, shiv_root):
    from_pyz = run_cli(["--help"], pyz=pyz, env=shiv_root)
    from_checkout = run_cli(["--help"])
    assert from_pyz.returncode == from_checkout.returncode == 0
    assert from_pyz.stdout == from_checkout.stdout
    assert run_cli(["--version"], pyz=pyz, env=shiv_root).stdout == run_cli(["--version"]).stdout


def test_pyz_records_what_it_runs_on(pyz):
    import json
    with zipfile.ZipFile(pyz) as z:
        info = json.loads(z.read("site-packages/toru/_build.json"))
    assert info["pythons"] == ["%d.%d" % sys.version_info[:2]]


def test_pyz_carries_every_module_of_the_checkout(pyz):
    """setup.cfg lists toru's packages by hand: one left off the list would
    leave the pyz without it (the server fails at its first import)."""
    with zipfile.ZipFile(pyz) as z:
        shipped = {n[len("site-packages/"):] for n in z.namelist() if n.startswith("site-packages/toru/")}
    checkout = {str(p.relative_to(ROOT)) for p in (ROOT / "toru").rglob("*.py")}
    assert checkout - shipped == set()


# The flags word of a .pyc header: 0 = checked against the source's mtime,
# 0b01 = hash-based, never checked (what build.sh writes).
UNCHECKED_HASH = 1


def pyc_flags(data):
    return int.from_bytes(data[4:8], "little")


def test_pyz_carries_bytecode_compiled_for_its_python(pyz):
    """Bytecode is compiled by ./build.sh, not at the first start: for every
    module in the pyz, this Python's .pyc is there, hash-based, so that an
    unpacked file's fresh modification time does not make Python compile it
    again."""
    import json
    tag = sys.implementation.cache_tag
    with zipfile.ZipFile(pyz) as z:
        names = set(z.namelist())
        assert "%d.%d" % sys.version_info[:2] in json.loads(z.read("site-packages/toru/_build.json"))["bytecode"]
        modules = [n for n in names if n.startswith("site-packages/") and n.endswith(".py")]
        assert len(modules) > 200
        for module in modules:
            folder, _, file = module.rpartition("/")
            pyc = f"{folder}/__pycache__/{file[:-3]}.{tag}.pyc"
            assert pyc in names, module
        assert {pyc_flags(z.read(n)) for n in names if n.endswith(f".{tag}.pyc")} == {UNCHECKED_HASH}
        env = json.loads(z.read("environment.json"))
    assert not env["compile_pyc"], "shiv would compile everything again at the first start"


def test_first_start_compiles_nothing(pyz, tmp_path, shiv_root):
    """A first start on a fresh SHIV_ROOT unpacks the pyz's bytecode and runs
    on it: the server answers, and every .pyc in the unpacked copy is one the
    build wrote (Python would have written timestamp-checked ones)."""
    proc = ServerProcess(tmp_path / "d", pyz=pyz, env=shiv_root)
    proc.start(timeout=60)
    try:
        assert request(proc.url, "GET", "/api/health")[0] == 200
        # Signing in loads argon2, the sessions, the whole request path.
        assert Client(proc.url).post("/api/auth/login", json={"username": "admin",
                                                              "password": ADMIN_PASSWORD}).status == 200
    finally:
        assert proc.stop() == 0
    unpacked = list(Path(shiv_root["SHIV_ROOT"]).glob("*/site-packages"))
    assert len(unpacked) == 1
    pycs = list(unpacked[0].rglob("*.pyc"))
    with zipfile.ZipFile(pyz) as z:
        assert len(pycs) == len([n for n in z.namelist() if n.endswith(".pyc")])
    assert {pyc_flags(p.read_bytes()[:16]) for p in pycs} == {UNCHECKED_HASH}
    tag = "cpython-%d%d-%s-linux-gnu" % (sys.version_info[:2] + (os.uname().machine,))
    assert (unpacked[0].parent / f".unpacked-{tag}").exists()


def other_pythons(versions=PYTHONS):
    """Interpreters other than this one that happen to be installed here:
    `pythonX.Y` on PATH, else a pyenv build."""
    found = {}
    roots = [os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))]
    for version in versions:
        candidates = [shutil.which(f"python{version}")] + sorted(
            glob.glob(f"{roots[0]}/versions/{version}.*/bin/python{version}"))
        for exe in candidates:
            if exe and "shims" not in exe and os.access(exe, os.X_OK):
                found[version] = exe
                break
    return found


def test_pyz_refuses_an_interpreter_it_was_not_built_for(pyz, shiv_root):
    running = "%d.%d" % sys.version_info[:2]
    others = {v: exe for v, exe in other_pythons().items() if v != running}
    if not others:
        pytest.skip("no other CPython 3.10-3.13 installed here")
    version, exe = sorted(others.items())[0]
    result = subprocess.run([exe, str(pyz), "--version"], capture_output=True, text=True,
                            env=dict(os.environ, **shiv_root), timeout=60)
    assert result.returncode == 2
    assert f"built for CPython {running}" in result.stderr and f"this is Python {version}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def universal_pyz(tmp_path_factory):
    out = tmp_path_factory.mktemp("universal") / "toru.pyz"
    result = subprocess.run([str(ROOT / "build.sh"), "--universal", "--output", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


@pytest.mark.slow
def test_universal_pyz_carries_every_python_and_cpu(universal_pyz):
    with zipfile.ZipFile(universal_pyz) as z:
        names = set(z.namelist())
    for version in PYTHONS:
        for machine in MACHINES:
            tag = f"cpython-{version.replace('.', '')}-{machine}-linux-gnu.so"
            for module in ("greenlet/_greenlet", "gevent/_gevent_cgreenlet", "gevent/libev/corecext",
                           "psutil/_psutil_linux", "_argon2_cffi_bindings/_ffi", "_cffi_backend"):
                assert f"site-packages/{module}.{tag}" in names, (module, tag)
    assert not [n for n in names if n.endswith(".so") and not n.endswith(tuple(
        f"cpython-{v.replace('.', '')}-{m}-linux-gnu.so" for v in PYTHONS for m in MACHINES))]
    assert not [n for n in names if n.endswith(".abi3.so")], "abi3 modules would clash between CPUs"


@pytest.fixture(scope="module")
def universal_shiv_root(tmp_path_factory):
    # One unpack of the universal pyz, shared by every interpreter below.
    return str(tmp_path_factory.mktemp("universal-shiv"))


def loaded_extension_modules(pid):
    """File names of the version-tagged extension modules a running process has mapped."""
    with open(f"/proc/{pid}/maps") as maps:
        paths = {line.split(None, 5)[5].strip() for line in maps if len(line.split(None, 5)) == 6}
    return sorted(os.path.basename(p) for p in paths if ".cpython-" in os.path.basename(p))


@pytest.mark.slow
@pytest.mark.parametrize("version", PYTHONS)
def test_universal_pyz_starts_on_each_installed_python(universal_pyz, universal_shiv_root, tmp_path, version):
    running = "%d.%d" % sys.version_info[:2]
    exe = sys.executable if version == running else other_pythons([version]).get(version)
    if exe is None:
        pytest.skip(f"no CPython {version} on this machine (looked for python{version} on PATH and in "
                    f"pyenv): the universal pyz was not started on {version} here")
    proc = ServerProcess(tmp_path / "d", pyz=universal_pyz, python=exe, cwd="/",
                         env={"SHIV_ROOT": universal_shiv_root})
    proc.start(timeout=60)
    try:
        status, _, body = request(proc.url, "GET", "/api/health")
        assert status == 200, (version, body)
        # Signing in runs argon2 (cffi) and the session store on this interpreter.
        admin = Client(proc.url)
        res = admin.post("/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert res.status == 200, (version, res)
        assert admin.get("/api/auth/me").status == 200
        # Only this target's compiled modules are loaded, not the other nine.
        tag = f".cpython-{version.replace('.', '')}-{os.uname().machine}-linux-gnu.so"
        loaded = loaded_extension_modules(proc.proc.pid)
        assert any(name.startswith("_greenlet.") for name in loaded), loaded
        assert all(name.endswith(tag) for name in loaded), (tag, loaded)
    finally:
        assert proc.stop() == 0, f"Python {version}: {proc.console()}"
    # Only the targets started so far were unpacked: nothing for another CPU.
    unpacked = list(Path(universal_shiv_root).glob("*/site-packages"))
    assert len(unpacked) == 1
    assert (unpacked[0].parent / f".unpacked-{tag[1:-3]}").exists()
    other = "aarch64" if os.uname().machine == "x86_64" else "x86_64"
    assert not list(unpacked[0].rglob(f"*-{other}-linux-gnu.so"))


@pytest.mark.slow
def test_universal_pyz_refuses_a_python_outside_its_list(universal_pyz, universal_shiv_root):
    old = other_pythons(["3.9", "3.8"])
    if not old:
        pytest.skip("no CPython 3.8 or 3.9 on this machine to start the universal pyz on")
    version, exe = sorted(old.items())[-1]
    result = subprocess.run([exe, str(universal_pyz), "--version"], capture_output=True, text=True,
                            env=dict(os.environ, SHIV_ROOT=universal_shiv_root), timeout=60)
    assert result.returncode == 2, result
    assert result.stderr == f"toru: Python {version} is too old: Toru needs CPython 3.10 or newer\n"


def test_pyz_ignores_packages_installed_on_the_host(pyz, tmp_path, shiv_root):
    """A package in the interpreter's site-packages that registers a gevent
    plugin must not run inside Toru (and must not cost start-up time)."""
    venv = tmp_path / "hostvenv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    site = next((venv / "lib").glob("python3*/site-packages"))
    marker = tmp_path / "host-plugin-ran"
    (site / "hostplugin.py").write_text(
        f"def hook(event):\n    open({str(marker)!r}, 'w').write('ran')\n")
    dist = site / "hostplugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: hostplugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[gevent.plugins.monkey.will_patch_all]\nhostplugin = hostplugin:hook\n")
    # The plugin really is live for that interpreter: gevent calls it there.
    check = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "from importlib.metadata import entry_points; "
                            "print([e.name for e in entry_points(group='gevent.plugins.monkey.will_patch_all')])"],
                           capture_output=True, text=True, timeout=60)
    assert "hostplugin" in check.stdout, check
    proc = ServerProcess(tmp_path / "d", pyz=pyz, python=str(venv / "bin" / "python"), env=shiv_root)
    proc.start(timeout=60)
    try:
        assert request(proc.url, "GET", "/api/health")[0] == 200
    finally:
        assert proc.stop() == 0
    assert not marker.exists(), "a host package's gevent plugin ran inside toru.pyz"
