"""What a pyz accepts at start (toru/platform_check.py reads the
toru/_build.json that build.sh writes): every Python and CPU of the
universal build, and one clear line for anything else."""

import json
import re
import sys

import pytest

from helpers import ROOT
from toru import platform_check
from toru.platform_check import UNIVERSAL_MACHINES, UNIVERSAL_PYTHONS, problem_for

GNU = [".cpython-3X-x86_64-linux-gnu.so", ".abi3.so", ".so"]
UNIVERSAL = {"pythons": list(UNIVERSAL_PYTHONS), "machines": list(UNIVERSAL_MACHINES)}


def build_sh_list(name):
    match = re.search(rf'^{name}="([^"]*)"$', (ROOT / "build.sh").read_text(), re.M)
    return tuple(match.group(1).split())


def check(version, machine="x86_64", info=UNIVERSAL, implementation="CPython", abiflags="", suffixes=GNU):
    return problem_for(version, machine, implementation, abiflags, suffixes, info)


def one_line(message):
    assert message and "\n" not in message, message
    return message


def test_platform_check_knows_what_build_sh_builds():
    assert build_sh_list("UNIVERSAL_PYTHONS") == UNIVERSAL_PYTHONS
    assert build_sh_list("UNIVERSAL_MACHINES") == UNIVERSAL_MACHINES
    assert "3.14" in UNIVERSAL_PYTHONS


@pytest.mark.parametrize("machine", UNIVERSAL_MACHINES)
@pytest.mark.parametrize("version", UNIVERSAL_PYTHONS)
def test_universal_build_accepts_every_target(version, machine):
    assert check(tuple(map(int, version.split("."))), machine) is None


@pytest.mark.parametrize("machine", UNIVERSAL_MACHINES)
def test_universal_build_refuses_a_newer_python_in_one_line(machine):
    message = one_line(check((3, 15), machine))
    assert message == (f"this toru.pyz was built for CPython 3.10/3.11/3.12/3.13/3.14 on x86_64/aarch64, "
                       f"but this is Python 3.15 on {machine}; ./build.sh --universal covers CPython "
                       f"3.10-3.14 on x86_64 and aarch64 only; build one on this machine")


def test_universal_build_refuses_another_cpu():
    assert "but this is Python 3.14 on riscv64" in one_line(check((3, 14), "riscv64"))


def test_a_single_target_build_points_at_the_universal_one():
    message = one_line(check((3, 14), info={"pythons": ["3.11"], "machines": ["x86_64"]}))
    assert message == ("this toru.pyz was built for CPython 3.11 on x86_64, but this is Python 3.14 on x86_64; "
                       "build one with ./build.sh --universal (3.10-3.14, x86_64 and aarch64) or on this machine")


def test_too_old_and_not_cpython_are_refused_even_from_a_checkout():
    assert one_line(check((3, 9), info=None)) == "Python 3.9 is too old: Toru needs CPython 3.10 or newer"
    assert one_line(check((3, 14), implementation="PyPy", info=None)) == "Toru needs CPython, not PyPy"
    assert check((3, 14), info=None) is None


def test_free_threaded_314_is_refused_in_one_line():
    # python3.14t loads only cpython-314t modules; the pyz carries cpython-314 ones.
    message = one_line(check((3, 14), abiflags="t", suffixes=[".cpython-314t-x86_64-linux-gnu.so", ".so"]))
    assert "free-threaded build of Python 3.14 (python3.14t)" in message and "python3.14" in message


def test_musl_is_refused_in_one_line():
    message = one_line(check((3, 14), suffixes=[".cpython-314-x86_64-linux-musl.so", ".abi3.so", ".so"]))
    assert "musl libc" in message


def test_reads_the_build_info_build_sh_writes(tmp_path, monkeypatch):
    info = tmp_path / "_build.json"
    info.write_text(json.dumps({"pythons": ["2.0"], "machines": ["pdp11"]}))
    monkeypatch.setattr(platform_check, "BUILD_INFO", str(info))
    running = "%d.%d" % sys.version_info[:2]
    assert f"built for CPython 2.0 on pdp11, but this is Python {running}" in one_line(platform_check.problem())
    info.write_text(json.dumps(UNIVERSAL))
    assert platform_check.problem() is None  # this interpreter is one of the universal targets
    monkeypatch.setattr(platform_check, "BUILD_INFO", str(tmp_path / "absent.json"))
    assert platform_check.problem() is None  # a checkout


def test_gevent_patching_reads_plugins_once_and_still_runs_them(tmp_path):
    """patch_for_gevent answers gevent's 25 plugin look-ups from one reading
    of the installed distributions; a plugin is still called as before."""
    import subprocess
    site = tmp_path / "site"
    dist = site / "patchprobe-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: patchprobe\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[gevent.plugins.monkey.did_patch_all]\nprobe = patchprobe:hook\n")
    (site / "patchprobe.py").write_text("def hook(event):\n    print('plugin ran', flush=True)\n")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2])\n"
            "from importlib import metadata\n"
            "calls, real = [], metadata.entry_points\n"
            "def counted(**params):\n    calls.append(params)\n    return real(**params)\n"
            "metadata.entry_points = counted\n"
            "from toru.__main__ import patch_for_gevent\n"
            "patch_for_gevent()\n"
            "print('look-ups', len(calls), 'restored', metadata.entry_points is counted)\n")
    result = subprocess.run([sys.executable, "-c", code, str(site), str(ROOT)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["plugin ran", "look-ups 1 restored True"]
