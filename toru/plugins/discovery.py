"""Plugin discovery: find `<plugins>/*.binary`, ask each for `--metadata`,
validate the answer, and report every file as valid or invalid with a reason.

Nothing here starts a plugin; the supervisor does that with what `scan`
returns. A hanging, crashing or lying binary only makes itself invalid:
the `--metadata` calls run concurrently, each bounded in time and output.
"""

import json
import logging
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import gevent
import gevent.pool

from toru.config import Timings
from toru.errors import NotFound
from toru.processes import describe_exit, run_briefly

log = logging.getLogger("toru.plugins")

PLUGIN_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
SUFFIX = ".binary"
METADATA_TIMEOUT = Timings.metadata_timeout  # the default; a server passes its config.timings
METADATA_CAP = 64 * 1024
ICON_MAX = 32
TEXT_MAX = 200              # name, version, author: one line in the UI
DESCRIPTION_MAX = 4096
# Bounds how many `--metadata` processes run at once; far above any real
# plugin count, so in practice every call runs at the same time.
CONCURRENT_CALLS = 32

class MetadataError(Exception):
    """A binary's metadata cannot be used; `reason` is a sentence for people."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def is_plugin_id(value):
    return isinstance(value, str) and PLUGIN_ID_RE.fullmatch(value) is not None


def check_plugin_id(value):
    """`value` if it is a well-formed plugin id, else NotFound (404) — a
    malformed id in a URL names no plugin, and is never used as a path."""
    if not is_plugin_id(value):
        raise NotFound("Plugin not found")
    return value


@dataclass
class Discovered:
    """One `*.binary` file and what discovery concluded about it."""
    path: Path
    fingerprint: tuple = None   # (st_dev, st_ino, st_size, st_mtime_ns) or None
    metadata: dict = None       # validate_metadata's result, or None
    reason: str = None          # why it is invalid, or None

    @property
    def file(self):
        return self.path.name

    @property
    def valid(self):
        return self.reason is None and self.metadata is not None

    @property
    def id(self):
        # An invalid file may claim another plugin's id (duplicates), so it
        # is known by its file name instead.
        if self.valid:
            return self.metadata["id"]
        return self.file[:-len(SUFFIX)] if self.file.endswith(SUFFIX) else self.file


# ---- metadata validation -------------------------------------------------

def validate_metadata(data):
    """Normalized metadata dict from a binary's parsed `--metadata` JSON, or
    MetadataError. Unknown keys are ignored; null counts as absent."""
    if not isinstance(data, dict):
        raise MetadataError(f"metadata is a JSON {json_type(data)}, not an object")
    plugin_id = required_text(data, "id")
    if not is_plugin_id(plugin_id):
        raise MetadataError(f'id {plugin_id!r} must match {PLUGIN_ID_RE.pattern}')
    route = required_text(data, "route")
    if not (route.startswith("/") and is_plugin_id(route[1:])):
        raise MetadataError(f'route {route!r} must be "/" followed by one segment matching '
                            f'{PLUGIN_ID_RE.pattern}')
    description = optional_text(data, "description", None, DESCRIPTION_MAX)
    concurrent = data.get("concurrent")
    if concurrent is None:
        concurrent = False
    elif not isinstance(concurrent, bool):
        raise MetadataError(f'"concurrent" must be true or false, not {json_type(concurrent)}')
    return {
        "id": plugin_id,
        "name": optional_text(data, "name", "", TEXT_MAX) or plugin_id,
        "version": optional_text(data, "version", "", TEXT_MAX) or "unknown",
        "author": optional_text(data, "author", "", TEXT_MAX),
        "icon": optional_text(data, "icon", "", ICON_MAX),
        "route": route,
        "description": description,
        "concurrent": concurrent,
    }


def required_text(data, key):
    value = data.get(key)
    if value is None:
        raise MetadataError(f'metadata has no "{key}"')
    if not isinstance(value, str):
        raise MetadataError(f'"{key}" must be a string, not {json_type(value)}')
    return value


def optional_text(data, key, default, limit):
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise MetadataError(f'"{key}" must be a string, not {json_type(value)}')
    if len(value) > limit:
        raise MetadataError(f'"{key}" is {len(value)} characters long (at most {limit})')
    return value.strip()


def json_type(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


# ---- running `<binary> --metadata` ----------------------------------------

def read_metadata(path, timeout=METADATA_TIMEOUT, cap=METADATA_CAP):
    """Run `<path> --metadata` and return its validated metadata, or raise
    MetadataError. Bounded: `timeout` seconds, `cap` bytes of stdout; its
    whole process group is killed after it (processes.run_briefly), so what
    a binary forked (a shell script's children, say) never outlives the call."""
    path = Path(path).absolute()   # it runs with the plugins dir as cwd
    try:
        code, out, err = run_briefly([path, "--metadata"], cwd=path.parent, timeout=timeout, cap=cap)
    except TimeoutError:  # before OSError, of which it is a kind
        raise MetadataError(f"--metadata did not answer within {timeout:g} s") from None
    except OverflowError:
        raise MetadataError(f"metadata output larger than {cap} bytes") from None
    except OSError as e:
        raise MetadataError(f"cannot run it: {e.strerror or e}") from None
    if code != 0:
        raise MetadataError(exit_reason(code, err))
    return validate_metadata(parse_json(out))


def exit_reason(code, err):
    first = next((line.strip() for line in err.decode("utf-8", "replace").splitlines() if line.strip()), "")
    ended = describe_exit(code)
    text = f"--metadata was killed by {ended['signal']}" if "signal" in ended else f"--metadata exited with {code}"
    return f"{text}: {first[:200]}" if first else text


def parse_json(out):
    try:
        text = out.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MetadataError("--metadata output is not UTF-8") from None
    if not text.strip():
        raise MetadataError("--metadata printed nothing")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise MetadataError(f"--metadata output is not JSON ({e.msg} at line {e.lineno} "
                            f"column {e.colno})") from None


# ---- scanning the directory ---------------------------------------------

def binary_names(plugins_dir):
    """Names of the `*.binary` entries directly in `plugins_dir`, sorted;
    [] when the directory does not exist (every plugin was removed)."""
    try:
        names = os.listdir(plugins_dir)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if n.endswith(SUFFIX))


def fingerprint_of(path):
    """(st_dev, st_ino, st_size, st_mtime_ns) of what `path` runs: the
    symlink's target if it has one, else the link itself; None if gone."""
    for follow in (True, False):
        try:
            st = os.stat(path, follow_symlinks=follow)
        except OSError:
            continue
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    return None


def fingerprints(plugins_dir):
    """{file name: fingerprint} by stat alone — the cheap periodic check:
    rescan when this differs from the last scan's."""
    plugins_dir = Path(plugins_dir)
    return {name: fingerprint_of(plugins_dir / name) for name in binary_names(plugins_dir)}


def file_problem(path, real_dir):
    """Why `path` cannot be run as a plugin, or None."""
    try:
        lst = os.lstat(path)
    except FileNotFoundError:
        return "file disappeared during the scan"
    if stat.S_ISLNK(lst.st_mode):
        target = os.path.realpath(path)
        if not target.startswith(real_dir + os.sep):
            return "symlink points outside the plugins directory"
        if not os.path.exists(target):
            return "symlink target does not exist"
    try:
        st = os.stat(path)
    except OSError as e:
        return f"cannot stat it: {e.strerror}"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    # os.access alone says yes to root for any file; the mode bits must agree.
    if not (st.st_mode & 0o111) or not os.access(path, os.X_OK):
        return "not executable (chmod +x)"
    return None


def scan(plugins_dir, timeout=METADATA_TIMEOUT):
    """Every `*.binary` in `plugins_dir` as a Discovered, sorted by file name.
    All `--metadata` calls run at once, so the scan takes about as long as
    the slowest binary (at most `timeout`). Of two files with the same id or
    route, the later by name is invalid."""
    plugins_dir = Path(plugins_dir)
    real_dir = os.path.realpath(plugins_dir)
    found = []
    for name in binary_names(plugins_dir):
        path = plugins_dir / name
        found.append(Discovered(path, fingerprint_of(path), reason=file_problem(path, real_dir)))
    pool = gevent.pool.Pool(CONCURRENT_CALLS)
    for item in found:
        if item.reason is None:
            pool.spawn(ask_metadata, item, timeout)
    pool.join()
    mark_duplicates(found)
    for item in found:
        if not item.valid:
            log.info("plugin invalid", extra={"plugin": item.id, "file": item.file, "reason": item.reason})
    return found


def scan_file(path, timeout=METADATA_TIMEOUT):
    """One binary checked as `scan` would check it in its directory
    (`--metadata-check FILE`)."""
    path = Path(path)
    item = Discovered(path, fingerprint_of(path), reason=file_problem(path, os.path.realpath(path.parent)))
    if item.reason is None:
        ask_metadata(item, timeout)
    return [item]


def ask_metadata(item, timeout):
    try:
        item.metadata = read_metadata(item.path, timeout)
    except MetadataError as e:
        item.reason = e.reason
    except Exception as e:  # a greenlet top: one odd binary must not stop the scan
        log.exception("metadata check failed", extra={"file": item.file})
        item.reason = f"metadata check failed: {e}"


def mark_duplicates(found):
    owner_of_id, owner_of_route = {}, {}
    for item in found:
        if not item.valid:
            continue
        plugin_id, route = item.metadata["id"], item.metadata["route"]
        if plugin_id in owner_of_id:
            item.reason = f"id {plugin_id!r} is already used by {owner_of_id[plugin_id]}"
        elif route in owner_of_route:
            item.reason = f"route {route!r} is already used by {owner_of_route[route]}"
        else:
            owner_of_id[plugin_id] = item.file
            owner_of_route[route] = item.file
