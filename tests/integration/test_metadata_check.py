"""`toru --metadata-check [DIR] [--json]`: the real CLI against real fixture
binaries — what plugin authors run in their CI."""

import json
import os
import time

from helpers import install_plugin, run_cli, wait_for


def check(args, **kw):
    return run_cli(["--metadata-check"] + [str(a) for a in args], **kw)


def lines(result):
    return result.stdout.strip().splitlines()


def test_all_valid_exits_0_with_one_line_each(tmp_path):
    install_plugin(tmp_path, "hello_python")
    install_plugin(tmp_path, "never_socket")
    result = check([tmp_path / "plugins"])
    assert result.returncode == 0, result
    assert lines(result) == ["ok hello-plugin-python 1.0.0 /hello-python",
                             "ok never-socket 1.0.0 /never-socket",
                             "2 plugins checked: 2 ok, 0 failed"]
    assert result.stderr == ""


def test_default_dir_is_the_data_dirs_plugins(tmp_path):
    install_plugin(tmp_path, "hello_python")
    result = check(["--data-dir", tmp_path])
    assert result.returncode == 0 and lines(result)[0] == "ok hello-plugin-python 1.0.0 /hello-python"
    result = check([], env={"TORU_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0 and lines(result)[0] == "ok hello-plugin-python 1.0.0 /hello-python"
    assert not (tmp_path / "toru.db").exists()   # checked without starting anything


def test_relative_dir(tmp_path):
    install_plugin(tmp_path, "hello_python")
    result = check(["plugins"], cwd=tmp_path)
    assert result.returncode == 0, result
    assert lines(result)[0] == "ok hello-plugin-python 1.0.0 /hello-python"


def test_failures_exit_1_and_say_what_is_wrong(tmp_path):
    install_plugin(tmp_path, "hello_python", "a-hello")
    install_plugin(tmp_path, "metadata_fails", "b-fails")
    install_plugin(tmp_path, "garbage_metadata", "c-garbage")
    install_plugin(tmp_path, "never_socket", "d-noexec").chmod(0o644)
    install_plugin(tmp_path, "lying_metadata", "e-lying")
    result = check([tmp_path / "plugins"])
    assert result.returncode == 1, result
    assert lines(result) == [
        "ok hello-plugin-python 1.0.0 /hello-python",
        "FAIL b-fails.binary: --metadata exited with 1: Error",
        "FAIL c-garbage.binary: --metadata output is not JSON (Expecting value at line 1 column 1)",
        "FAIL d-noexec.binary: not executable (chmod +x)",
        "FAIL e-lying.binary: id 'Bad_ID' must match ^[a-z0-9][a-z0-9_-]{0,63}$",
        "5 plugins checked: 1 ok, 4 failed",
    ]


def test_json_output(tmp_path):
    install_plugin(tmp_path, "hello_python")
    install_plugin(tmp_path, "metadata_fails")
    result = check([tmp_path / "plugins", "--json"])
    assert result.returncode == 1
    assert json.loads(result.stdout) == {"valid": False, "plugins": [
        {"file": "hello_python.binary", "valid": True, "id": "hello-plugin-python", "version": "1.0.0",
         "route": "/hello-python", "reason": None},
        {"file": "metadata_fails.binary", "valid": False, "id": "metadata_fails", "version": None,
         "route": None, "reason": "--metadata exited with 1: Error"},
    ]}
    (tmp_path / "plugins" / "metadata_fails.binary").unlink()
    # --json may also come first; DIR must directly follow --metadata-check.
    result = run_cli(["--json", "--metadata-check", str(tmp_path / "plugins")])
    assert result.returncode == 0 and json.loads(result.stdout)["valid"] is True


def test_empty_dir_says_so_and_exits_0(tmp_path):
    result = check([tmp_path])
    assert result.returncode == 0
    assert lines(result) == [f"no *.binary files in {tmp_path}: nothing to check"]
    result = check([tmp_path, "--json"])
    assert result.returncode == 0 and json.loads(result.stdout) == {"plugins": [], "valid": True}


def test_missing_dir_is_one_line_and_exit_2(tmp_path):
    result = check([tmp_path / "nope"])
    assert result.returncode == 2, result
    assert result.stdout == "" and result.stderr.strip().splitlines() == [
        f"toru: {tmp_path / 'nope'} does not exist (give a plugin directory or one plugin binary)"]


def test_one_binary_is_checked_on_its_own(tmp_path):
    good = install_plugin(tmp_path, "hello_python")
    result = check([good])
    assert result.returncode == 0, result
    assert lines(result) == ["ok hello-plugin-python 1.0.0 /hello-python", "1 plugin checked: 1 ok, 0 failed"]
    bad = install_plugin(tmp_path, "lying_metadata", "lying")
    result = check([bad, "--json"])
    assert result.returncode == 1
    assert json.loads(result.stdout)["plugins"][0]["reason"].startswith("id 'Bad_ID' must match")
    result = check([__file__])  # any file: here one that is not executable
    assert result.returncode == 1 and lines(result)[0] == f"FAIL {os.path.basename(__file__)}: not executable (chmod +x)"


def test_hanging_binaries_cost_one_timeout_together_and_leave_no_process(tmp_path):
    pid_file = tmp_path / "pids"
    for n in range(3):
        install_plugin(tmp_path, "hangs_metadata", f"hang{n}")
    install_plugin(tmp_path, "hello_python")
    started = time.monotonic()
    # TORU_TIMINGS shortens the metadata timeout (5 s by default) as for the server.
    result = check([tmp_path / "plugins"], env={"HANG_PID_FILE": str(pid_file), "TORU_TIMINGS": "metadata_timeout=2"})
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert 2 <= elapsed < 5, elapsed   # 2 s timeout, run side by side (6 s one by one)
    assert lines(result)[:4] == [f"FAIL hang{n}.binary: --metadata did not answer within 2 s" for n in range(3)] + \
        ["ok hello-plugin-python 1.0.0 /hello-python"]
    pids = [int(p) for p in pid_file.read_text().split()]
    assert len(pids) == 6   # each binary and the child it forked
    wait_for(lambda: not any(map(alive, pids)), timeout=5, message=f"{pids} to die")


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_output_flood_is_capped(tmp_path):
    install_plugin(tmp_path, "huge_metadata")
    result = check([tmp_path / "plugins"])
    assert result.returncode == 1
    assert lines(result)[0] == "FAIL huge_metadata.binary: metadata output larger than 65536 bytes"


def test_symlinks_inside_are_fine_outside_are_refused(tmp_path):
    plugins = install_plugin(tmp_path, "hello_python", "real").parent
    os.rename(plugins / "real.binary", plugins / "hello.py")
    os.symlink("hello.py", plugins / "inside.binary")
    os.symlink("/bin/true", plugins / "outside.binary")
    result = check([plugins])
    assert result.returncode == 1
    assert lines(result) == ["ok hello-plugin-python 1.0.0 /hello-python",
                             "FAIL outside.binary: symlink points outside the plugins directory",
                             "2 plugins checked: 1 ok, 1 failed"]


def test_duplicate_id_and_route_the_later_file_loses(tmp_path):
    install_plugin(tmp_path, "hello_python", "a")
    install_plugin(tmp_path, "hello_python", "b")
    install_plugin(tmp_path, "lying_metadata", "c")
    same_route = json.dumps({"id": "another", "route": "/hello-python", "version": "2"})
    result = check([tmp_path / "plugins"], env={"BAD_METADATA": same_route})
    assert result.returncode == 1
    assert lines(result) == [
        "ok hello-plugin-python 1.0.0 /hello-python",
        "FAIL b.binary: id 'hello-plugin-python' is already used by a.binary",
        "FAIL c.binary: route '/hello-python' is already used by a.binary",
        "3 plugins checked: 1 ok, 2 failed",
    ]
