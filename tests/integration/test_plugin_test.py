"""`toru plugin-test BINARY [--json] [--timeout S]`: the conformance checker,
run through the real CLI against the example plugins (built by
`./build.sh plugins`) and against broken fixture plugins, each of which
must fail the right check with the right hint."""

import json
import os
import shutil
import subprocess
import sys

import psutil
import pytest

from helpers import ROOT, install_plugin, run_cli, wait_for

CHECKS = ["metadata", "socket", "init", "http", "concurrent", "bundle", "unknown-type", "shutdown", "leftovers"]


def plugin_test(binary, *args, env=None, timeout=90):
    return run_cli(["plugin-test", str(binary), *args], env=env, timeout=timeout)


def report(binary, *args, env=None):
    result = plugin_test(binary, "--json", *args, env=env)
    assert result.returncode in (0, 1), result
    data = json.loads(result.stdout)
    assert [c["name"] for c in data["checks"]] == CHECKS
    assert data["ok"] is (result.returncode == 0)
    return {c["name"]: c for c in data["checks"]}, data


def only_failure(checks):
    failed = [name for name, c in checks.items() if c["status"] == "fail"]
    assert len(failed) == 1, checks
    return checks[failed[0]]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The examples as `./build.sh plugins` makes them."""
    out = tmp_path_factory.mktemp("built")
    result = subprocess.run(["bash", str(ROOT / "build.sh"), "plugins", str(out)], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, env=dict(os.environ, PYTHON=sys.executable))
    assert result.returncode == 0, result.stderr
    return out


@pytest.mark.parametrize("name", ["hello", "licensed", "node-hello"])
def test_every_example_passes(built, name):
    if name == "node-hello" and shutil.which("node") is None:
        pytest.skip("node is not installed (apt-get install nodejs): the Node example cannot run")
    checks, data = report(built / f"{name}.binary")
    assert data["ok"], checks
    assert all(c["status"] == "pass" for c in checks.values()), checks
    assert "request_id echoed" in checks["http"]["detail"]
    assert "GET /bundle.js answered 200" in checks["bundle"]["detail"]
    assert "note" not in checks["bundle"]["detail"]


def test_text_output_has_one_line_per_check_and_exit_0(built):
    result = plugin_test(built / "hello.binary")
    assert result.returncode == 0, result
    lines = result.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines[:-1]] == [f"PASS {name}" for name in CHECKS]
    assert lines[-1].endswith("9 passed, 0 failed, 0 skipped")
    assert result.stderr == ""


def test_no_socket_fails_the_socket_check_and_the_plugin_is_killed(tmp_path):
    binary = install_plugin(tmp_path, "never_socket")
    # The socket wait is the supervisor's (10 s); TORU_TIMINGS shortens it here as for a server.
    result = plugin_test(binary, env={"TORU_TIMINGS": "socket_timeout=1"})
    assert result.returncode == 1, result
    assert "FAIL socket: no socket within 1 s" in result.stdout
    assert "hint: bind and listen on a Unix socket at the path in TORU_PLUGIN_SOCKET" in result.stdout
    assert "  | started" in result.stdout        # the plugin's own output, for the author
    assert "PASS metadata: never-socket 1.0.0 /never-socket" in result.stdout
    assert "1 passed, 1 failed, 7 skipped" in result.stdout
    for name in CHECKS[2:]:
        assert f"SKIP {name}" in result.stdout, name
    assert not [p for p in psutil.process_iter(["cmdline"]) if str(binary) in " ".join(p.info["cmdline"] or [])]


@pytest.mark.parametrize("fixture, reason, hint", [
    ("metadata_fails", "--metadata exited with 1: Error", "must print the JSON object and exit 0"),
    ("garbage_metadata", "--metadata output is not JSON", "print exactly one JSON object on stdout"),
    ("lying_metadata", "id 'Bad_ID' must match", '"id" matching ^[a-z0-9][a-z0-9_-]{0,63}$'),
])
def test_bad_metadata_fails_the_metadata_check(tmp_path, fixture, reason, hint):
    checks, _ = report(install_plugin(tmp_path, fixture))
    failed = only_failure(checks)
    assert failed["name"] == "metadata" and failed["detail"].startswith(reason), failed
    assert hint in failed["hint"]
    assert all(checks[name]["status"] == "skip" for name in CHECKS[1:])


def test_a_hanging_metadata_call_is_cut_off(tmp_path):
    checks, _ = report(install_plugin(tmp_path, "hangs_metadata"), env={"TORU_TIMINGS": "metadata_timeout=1"})
    failed = only_failure(checks)
    assert failed["detail"] == "--metadata did not answer within 1 s"
    assert "answer --metadata at once" in failed["hint"]


def test_not_executable(tmp_path):
    binary = install_plugin(tmp_path, "hello_python")
    binary.chmod(0o644)
    failed = only_failure(report(binary)[0])
    assert failed["detail"] == "not executable (chmod +x)" and "chmod +x" in failed["hint"]


def test_a_plugin_that_never_answers_fails_http_and_still_gets_shut_down(tmp_path):
    binary = install_plugin(tmp_path, "toolbox", "silent")   # toolbox's `silent` mode ignores http
    checks, _ = report(binary, "--timeout", "2")
    failed = only_failure(checks)
    assert failed["name"] == "http" and failed["detail"] == "GET /: no answer within 2 s"
    assert "carrying the same request_id" in failed["hint"]
    assert [checks[n]["status"] for n in ("concurrent", "bundle", "unknown-type")] == ["skip"] * 3
    assert checks["shutdown"]["status"] == "pass" and checks["leftovers"]["status"] == "pass"


def test_the_original_rust_sdk_reply_shape_is_accepted_and_named(tmp_path):
    binary = install_plugin(tmp_path, "toolbox", "rustsdk")  # replies inside payload.payload.body
    result = plugin_test(binary)
    assert result.returncode == 0, result.stdout
    http = next(line for line in result.stdout.splitlines() if line.startswith("PASS http:"))
    assert "GET / answered 200" in http and "legacy Rust-SDK reply shape: accepted" in http


def test_ignoring_shutdown_fails_the_shutdown_check(tmp_path):
    binary = install_plugin(tmp_path, "ignores_shutdown")
    short = {"TORU_TIMINGS": "stop_grace=0.5"}  # the supervisor's grace (3 s by default)
    result = plugin_test(binary, env=short)
    assert result.returncode == 1
    assert "FAIL shutdown: still running 0.5 s after `shutdown`" in result.stdout
    assert ("hint: on lifecycle `shutdown`, finish and exit within 0.5 s; Toru then sends SIGTERM to the process "
            "group, and SIGKILL 0.5 s later") in result.stdout
    checks, _ = report(binary, env=short)
    assert only_failure(checks)["name"] == "shutdown"
    # The checker killed it (it ignores SIGTERM too).
    assert not [p for p in psutil.process_iter(["cmdline"]) if str(binary) in " ".join(p.info["cmdline"] or [])]


def test_processes_left_in_the_group_fail_the_leftovers_check(tmp_path):
    binary = install_plugin(tmp_path, "ignores_shutdown")
    checks, _ = report(binary, env={"LEAVE_CHILD": "1"})
    failed = only_failure(checks)
    assert failed["name"] == "leftovers" and "still running in its group" in failed["detail"]
    assert "must end when it does" in failed["hint"]
    pid = int(failed["detail"].split(": ")[1].split()[0])
    wait_for(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE,
             timeout=10, message="the leftover child killed by the checker")


def test_the_original_reference_plugin_fails_only_on_its_missing_bundle(tmp_path):
    """hello_python never answers GET /bundle.js when its file is missing
    (an original-design quirk): exactly that is reported."""
    binary = install_plugin(tmp_path, "hello_python")
    checks, _ = report(binary, "--timeout", "2")
    failed = only_failure(checks)
    assert failed["name"] == "bundle" and failed["detail"] == "GET /bundle.js: no answer within 2 s"
    assert checks["concurrent"]["status"] == "skip" and "not declared" in checks["concurrent"]["detail"]


def test_a_bundle_file_next_to_the_binary_is_what_toru_serves(tmp_path):
    binary = install_plugin(tmp_path, "toolbox", "echo")
    bundle = binary.parent / "echo" / "bundle.js"
    bundle.parent.mkdir()
    bundle.write_text("window.ToruPlugins = window.ToruPlugins || {}; window.ToruPlugins.echo = {};\n")
    checks, data = report(binary)
    assert data["ok"], checks
    assert checks["bundle"]["detail"].startswith(f"{bundle} exists")


def test_no_bundle_is_a_skip_not_a_failure(tmp_path):
    binary = install_plugin(tmp_path, "hello_python")
    # Its /bundle.js branch switched off: the path falls through to its 404.
    source = binary.read_text().replace('if path == "/bundle.js":', 'if path == "/bundle.js" and False:')
    binary.write_text(source)
    checks, data = report(binary)
    assert data["ok"], checks
    assert checks["bundle"]["status"] == "skip" and "answered 404" in checks["bundle"]["detail"]


def test_usage_errors_exit_2(tmp_path):
    missing = run_cli(["plugin-test", str(tmp_path / "nope.binary")])
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    bad = run_cli(["plugin-test", str(tmp_path), "--timeout", "0"])
    assert bad.returncode == 2 and "--timeout" in bad.stderr
    none = run_cli(["plugin-test"])
    assert none.returncode == 2 and "BINARY" in none.stderr
    helped = run_cli(["plugin-test", "--help"])
    assert helped.returncode == 0 and "--timeout S" in helped.stdout
