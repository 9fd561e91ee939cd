"""Plugin discovery and the enabled-state file: metadata validation, the
`--metadata` call against real fixture binaries, the scan, and config.json
(load, save, corrupt files, unknown keys, atomic writes)."""

import json
import os
import stat
import time

import pytest

from helpers import install_plugin, wait_for
from toru.errors import ConfigError, NotFound
from toru.plugins import discovery
from toru.plugins.config import PluginConfig
from toru.plugins.discovery import MetadataError, check_plugin_id, read_metadata, scan, validate_metadata

GOOD = {"id": "hello", "name": "Hello", "version": "1.2.3", "author": "Me", "icon": "H", "route": "/hello"}


def reason_of(data):
    with pytest.raises(MetadataError) as caught:
        validate_metadata(data)
    return caught.value.reason


# ---- validate_metadata ----------------------------------------------------

def test_full_metadata_is_normalized():
    assert validate_metadata(dict(GOOD, description="Says hi")) == {
        "id": "hello", "name": "Hello", "version": "1.2.3", "author": "Me", "icon": "H",
        "route": "/hello", "description": "Says hi", "concurrent": False}


def test_minimal_metadata_gets_defaults():
    meta = validate_metadata({"id": "x1", "route": "/x1"})
    assert meta == {"id": "x1", "name": "x1", "version": "unknown", "author": "", "icon": "",
                    "route": "/x1", "description": None, "concurrent": False}


def test_null_and_empty_optional_fields_count_as_absent():
    meta = validate_metadata({"id": "x", "route": "/x", "name": "", "version": None, "author": None,
                              "icon": None, "description": None, "concurrent": None})
    assert (meta["name"], meta["version"], meta["author"], meta["icon"]) == ("x", "unknown", "", "")


def test_unknown_keys_are_ignored():
    meta = validate_metadata(dict(GOOD, homepage="https://example.org", permissions=["kv"]))
    assert "homepage" not in meta and "permissions" not in meta


def test_concurrent_flag():
    assert validate_metadata(dict(GOOD, concurrent=True))["concurrent"] is True
    assert '"concurrent" must be true or false, not string' in reason_of(dict(GOOD, concurrent="yes"))


def test_emoji_icon_is_kept_and_long_icon_refused():
    assert validate_metadata(dict(GOOD, icon="\U0001F40D"))["icon"] == "\U0001F40D"
    assert '"icon" is 33 characters long (at most 32)' in reason_of(dict(GOOD, icon="x" * 33))


@pytest.mark.parametrize("data, expected", [
    ([1, 2], "metadata is a JSON array, not an object"),
    ("hello", "metadata is a JSON string, not an object"),
    ({"route": "/x"}, 'metadata has no "id"'),
    ({"id": 7, "route": "/x"}, '"id" must be a string, not number'),
    ({"id": "Hello", "route": "/x"}, "id 'Hello' must match"),
    ({"id": "-x", "route": "/x"}, "id '-x' must match"),
    ({"id": "a" * 65, "route": "/x"}, "must match"),
    ({"id": "../etc", "route": "/x"}, "must match"),
    ({"id": "x\n", "route": "/x"}, "must match"),
    ({"id": "x"}, 'metadata has no "route"'),
    ({"id": "x", "route": ["/x"]}, '"route" must be a string, not array'),
    ({"id": "x", "route": "x"}, "route 'x' must be \"/\" followed by one segment"),
    ({"id": "x", "route": "/a/b"}, "route '/a/b' must be"),
    ({"id": "x", "route": "/x/"}, "route '/x/' must be"),
    ({"id": "x", "route": "/"}, "route '/' must be"),
    ({"id": "x", "route": "/X"}, "route '/X' must be"),
    ({"id": "x", "route": "/x", "name": 5}, '"name" must be a string, not number'),
    ({"id": "x", "route": "/x", "version": 1.0}, '"version" must be a string, not number'),
    ({"id": "x", "route": "/x", "author": {}}, '"author" must be a string, not object'),
    ({"id": "x", "route": "/x", "icon": True}, '"icon" must be a string, not boolean'),
    ({"id": "x", "route": "/x", "description": ["a"]}, '"description" must be a string, not array'),
    ({"id": "x", "route": "/x", "name": "n" * 201}, '"name" is 201 characters long (at most 200)'),
])
def test_bad_metadata_has_a_precise_reason(data, expected):
    assert expected in reason_of(data)


def test_check_plugin_id_accepts_ids_and_refuses_paths():
    assert check_plugin_id("hello-plugin_2") == "hello-plugin_2"
    for bad in ("", "..", "../x", "a/b", "A", "x\n", "x" * 65, None, 3):
        with pytest.raises(NotFound):
            check_plugin_id(bad)


# ---- read_metadata against real binaries ------------------------------------

def test_pretty_printed_multiline_metadata_is_read(tmp_path):
    path = install_plugin(tmp_path, "hello_python")
    assert "\n" in os.popen(f"{path} --metadata").read().strip()  # it really is multi-line
    meta = read_metadata(path)
    assert meta["id"] == "hello-plugin-python" and meta["route"] == "/hello-python"
    assert meta["name"] == "Hello Plugin (Python)" and meta["icon"] == "\U0001F40D"


def test_metadata_call_gets_no_secrets_no_stdin_and_the_plugins_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ADMIN_PASSWORD", "hunter2")
    monkeypatch.setenv("TORU_LICENSE_SECRET", "s3cret")
    monkeypatch.setenv("PLUGIN_SETTING", "kept")
    path = install_plugin(tmp_path, "env_metadata")
    seen = json.loads(read_metadata(path)["description"])
    assert seen == {"secrets": [], "cwd": str(path.parent), "stdin": "", "kept": "kept"}


def test_failing_metadata_reports_exit_code_and_first_stderr_line(tmp_path):
    with pytest.raises(MetadataError, match=r"^--metadata exited with 1: Error$"):
        read_metadata(install_plugin(tmp_path, "metadata_fails"))


def test_garbage_metadata(tmp_path):
    with pytest.raises(MetadataError, match="--metadata output is not JSON"):
        read_metadata(install_plugin(tmp_path, "garbage_metadata"))


def test_output_cap(tmp_path):
    with pytest.raises(MetadataError, match="^metadata output larger than 1000 bytes$"):
        read_metadata(install_plugin(tmp_path, "huge_metadata"), cap=1000)


def test_hanging_metadata_is_killed_with_its_children(tmp_path, monkeypatch):
    pid_file = tmp_path / "pids"
    monkeypatch.setenv("HANG_PID_FILE", str(pid_file))
    started = time.monotonic()
    with pytest.raises(MetadataError, match=r"^--metadata did not answer within 1\.5 s$"):
        read_metadata(install_plugin(tmp_path, "hangs_metadata"), timeout=1.5)
    assert time.monotonic() - started < 4
    pids = [int(p) for p in pid_file.read_text().split()]
    assert len(pids) == 2   # the binary and the child it forked
    # SIGKILL went to the whole group; the child dies a moment later.
    wait_for(lambda: not any(map(pid_alive, pids)), timeout=5, message=f"{pids} to die")


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_unrunnable_file_is_a_metadata_error(tmp_path):
    path = tmp_path / "plugins" / "bad.binary"
    path.parent.mkdir()
    path.write_bytes(b"\x7fELF not really")
    path.chmod(0o755)
    with pytest.raises(MetadataError, match="cannot run it"):
        read_metadata(path)


# ---- scan and fingerprints ---------------------------------------------------

def test_scan_sorts_by_name_and_marks_invalid_files(tmp_path):
    install_plugin(tmp_path, "never_socket", "b")
    install_plugin(tmp_path, "hello_python", "a")
    install_plugin(tmp_path, "metadata_fails", "c")
    (tmp_path / "plugins" / "notes.txt").write_text("not a plugin")
    (tmp_path / "plugins" / "dir.binary").mkdir()
    found = scan(tmp_path / "plugins")
    assert [d.file for d in found] == ["a.binary", "b.binary", "c.binary", "dir.binary"]
    assert [d.valid for d in found] == [True, True, False, False]
    assert [d.id for d in found] == ["hello-plugin-python", "never-socket", "c", "dir"]
    assert found[2].reason == "--metadata exited with 1: Error" and found[2].metadata is None
    assert found[3].reason == "not a regular file"
    assert all(d.fingerprint for d in found)


def test_scan_of_a_missing_dir_is_empty(tmp_path):
    assert scan(tmp_path / "nope") == [] and discovery.fingerprints(tmp_path / "nope") == {}


def test_duplicates_lose_to_the_earlier_file_name(tmp_path, monkeypatch):
    install_plugin(tmp_path, "hello_python", "a")
    install_plugin(tmp_path, "hello_python", "b")
    monkeypatch.setenv("BAD_METADATA", json.dumps({"id": "other", "route": "/hello-python"}))
    install_plugin(tmp_path, "lying_metadata", "c")
    a, b, c = scan(tmp_path / "plugins")
    assert a.valid and not b.valid and not c.valid
    assert b.reason == "id 'hello-plugin-python' is already used by a.binary"
    assert c.reason == "route '/hello-python' is already used by a.binary"
    assert (b.id, c.id) == ("b", "c")   # invalid files go by their file name


def test_symlinks_must_stay_inside_the_plugins_dir(tmp_path):
    target = install_plugin(tmp_path, "hello_python", "real")
    plugins = target.parent
    (plugins / "real.binary").rename(plugins / "real.py")
    os.symlink("real.py", plugins / "inside.binary")
    outside = tmp_path / "elsewhere.py"
    outside.write_bytes((plugins / "real.py").read_bytes())
    outside.chmod(0o755)
    os.symlink(outside, plugins / "outside.binary")
    os.symlink(plugins / "missing.py", plugins / "dangling.binary")
    found = {d.file: d for d in scan(plugins)}
    assert found["inside.binary"].valid
    assert found["outside.binary"].reason == "symlink points outside the plugins directory"
    assert found["dangling.binary"].reason == "symlink target does not exist"


def test_non_executable_binary(tmp_path):
    path = install_plugin(tmp_path, "hello_python")
    path.chmod(0o644)
    (item,) = scan(path.parent)
    assert item.reason == "not executable (chmod +x)" and not item.valid


def test_one_hanging_binary_costs_one_timeout_not_one_per_binary(tmp_path):
    for n in range(4):
        install_plugin(tmp_path, "hangs_metadata", f"hang{n}")
    install_plugin(tmp_path, "hello_python")
    started = time.monotonic()
    found = scan(tmp_path / "plugins", timeout=2.0)
    assert time.monotonic() - started < 5   # one after another would take 8 s
    assert [d.valid for d in found] == [False] * 4 + [True]
    assert found[0].reason == "--metadata did not answer within 2 s"


def test_fingerprints_change_when_a_binary_is_replaced_added_or_removed(tmp_path):
    path = install_plugin(tmp_path, "hello_python")
    before = discovery.fingerprints(path.parent)
    assert list(before) == ["hello_python.binary"]
    assert before == {d.file: d.fingerprint for d in scan(path.parent)}
    assert discovery.fingerprints(path.parent) == before   # stable when nothing changed
    replacement = path.parent / "new.tmp"
    replacement.write_bytes(path.read_bytes())
    replacement.chmod(0o755)
    os.replace(replacement, path)
    assert discovery.fingerprints(path.parent) != before
    install_plugin(tmp_path, "never_socket")
    assert set(discovery.fingerprints(path.parent)) == {"hello_python.binary", "never_socket.binary"}
    path.unlink()
    assert set(discovery.fingerprints(path.parent)) == {"never_socket.binary"}


# ---- PluginConfig ----------------------------------------------------------------

def config_at(tmp_path):
    return PluginConfig.in_dir(tmp_path / "plugins")


def test_missing_file_means_enabled_and_creates_the_private_dir(tmp_path):
    config = config_at(tmp_path).load()
    assert config.is_enabled("anything") is True and config.problem is None
    meta_dir = tmp_path / "plugins" / ".metadata"
    assert meta_dir.is_dir() and stat.S_IMODE(meta_dir.stat().st_mode) == 0o700
    assert not config.path.exists()   # nothing written until something is set


def test_set_enabled_persists_pretty_printed(tmp_path):
    config = config_at(tmp_path).load()
    config.set_enabled("hello", False)
    config.set_enabled("other", True)
    text = config.path.read_text()
    assert json.loads(text) == {"plugins": {"hello": False, "other": True}}
    assert "\n  " in text   # indented, for people who edit it by hand
    again = config_at(tmp_path).load()
    assert again.is_enabled("hello") is False and again.is_enabled("other") is True
    assert again.states() == {"hello": False, "other": True}


def test_both_entry_shapes_and_unknown_keys_survive_a_write(tmp_path):
    path = tmp_path / "plugins" / ".metadata" / "config.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"version": 3, "plugins": {
        "a": True, "b": {"enabled": False, "note": "off for now"}, "c": {"enabled": True}},
        "ui": {"order": ["b", "a"]}}))
    config = PluginConfig(path).load()
    assert (config.is_enabled("a"), config.is_enabled("b"), config.is_enabled("c")) == (True, False, True)
    config.set_enabled("b", True)
    config.set_enabled("a", False)
    assert json.loads(path.read_text()) == {"version": 3, "plugins": {
        "a": False, "b": {"enabled": True, "note": "off for now"}, "c": {"enabled": True}},
        "ui": {"order": ["b", "a"]}}


@pytest.mark.parametrize("content, what", [
    (b'{"plugins": {"a": fal', "bad JSON"),
    (b"[1, 2]", "not a JSON object"),
    (b'{"plugins": ["a"]}', '"plugins" is not an object'),
    (b"\xff\xfe junk", "not UTF-8"),
])
def test_corrupt_file_is_moved_aside_and_reported_never_overwritten(tmp_path, content, what):
    path = tmp_path / "plugins" / ".metadata" / "config.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    config = PluginConfig(path).load()
    assert not path.exists()
    (aside,) = path.parent.glob("config.json.corrupt-*")
    assert aside.read_bytes() == content
    stamp = int(aside.name.rsplit("-", 1)[1])
    assert abs(stamp - time.time()) < 60
    assert what in config.problem and aside.name in config.problem
    assert config.is_enabled("a") is True
    config.set_enabled("a", False)   # a fresh file; the corrupt one stays aside
    assert json.loads(path.read_text()) == {"plugins": {"a": False}}
    assert aside.read_bytes() == content


def test_two_corrupt_files_in_one_second_both_kept(tmp_path):
    path = tmp_path / "plugins" / ".metadata" / "config.json"
    path.parent.mkdir(parents=True)
    path.write_text("{bad")
    PluginConfig(path).load()
    path.write_text("{worse")
    PluginConfig(path).load()
    kept = sorted(p.read_text() for p in path.parent.glob("config.json.corrupt-*"))
    assert kept == ["{bad", "{worse"]


def test_odd_entry_is_reported_and_kept_but_counts_as_enabled(tmp_path):
    path = tmp_path / "plugins" / ".metadata" / "config.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"plugins": {"a": "no", "b": False}}))
    config = PluginConfig(path).load()
    assert config.is_enabled("a") is True and config.is_enabled("b") is False
    assert "a" in config.problem and path.exists()
    assert not list(path.parent.glob("*.corrupt-*"))
    config.set_enabled("b", True)
    assert json.loads(path.read_text()) == {"plugins": {"a": "no", "b": True}}


def test_write_replaces_the_file_atomically(tmp_path):
    config = config_at(tmp_path).load()
    config.set_enabled("a", True)
    with open(config.path) as old:   # a reader holding the old file
        inode = os.fstat(old.fileno()).st_ino
        config.set_enabled("a", False)
        # Written to a new file and renamed over: the old one is untouched.
        assert json.load(old) == {"plugins": {"a": True}}
    assert config.path.stat().st_ino != inode
    assert sorted(p.name for p in config.path.parent.iterdir()) == ["config.json"]


def test_failed_write_changes_nothing(tmp_path):
    config = config_at(tmp_path).load()
    config.path.mkdir()   # os.replace onto a directory fails
    with pytest.raises(OSError):
        config.set_enabled("a", False)
    assert config.is_enabled("a") is True   # memory still matches disk
    assert [p.name for p in config.path.parent.iterdir()] == ["config.json"]   # no temp file left


def test_unreadable_file_refuses_to_start(tmp_path):
    path = tmp_path / "plugins" / ".metadata" / "config.json"
    path.parent.mkdir(parents=True)
    os.symlink("config.json", path)   # a loop: reading it fails with ELOOP
    with pytest.raises(ConfigError, match="cannot read plugin config"):
        PluginConfig(path).load()
