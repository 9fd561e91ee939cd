"""Plugin logs: what plugins print and what the supervisor does to them.

Both kinds are JSON lines (`{"timestamp", "level", "plugin", "message", ...}`)
in `<logs>/plugins/<id>.log` and `<logs>/plugin-supervisor.log`, rotated at
10 MB keeping 5 older files (`.1` newest … `.5` oldest), so disk use stays
bounded whatever a plugin prints. Levels are written lowercase and read
case-insensitively.

Writing happens on the hub's thread: a write is one small `os.write` that
lands in the page cache and never yields, so two greenlets writing the same
log cannot interleave half lines.

Reading (`read_logs`) walks the files backwards from the end in blocks, newest
first, so the first page of a huge log costs a few blocks, not the file.
"""

import json
import logging
import os
import re
from datetime import datetime, timezone
from pathlib import Path

import gevent.os
import gevent.socket

log = logging.getLogger("toru.plugins.logs")

ROTATE_BYTES = 10 * 1024 * 1024
ROTATE_KEEP = 5
MAX_LINE_BYTES = 64 * 1024      # a captured line longer than this is truncated
READ_CHUNK = 64 * 1024          # one cooperative read from a plugin's pipe
READ_BLOCK = 64 * 1024          # one backwards read when serving the logs API
MAX_RECORD_BYTES = 1024 * 1024  # a stored line longer than this is skipped on read
MAX_PAGE_SIZE = 1000

LEVELS = ("trace", "debug", "info", "warn", "error")
_RANKS = {name: rank for rank, name in enumerate(LEVELS)}
# Spellings other loggers use; fatal/critical sort above error.
_RANKS.update({"warning": _RANKS["warn"], "fatal": len(LEVELS), "critical": len(LEVELS)})
INFO_RANK = _RANKS["info"]

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")
# The top-level level of a line we wrote: `level` is the second key, and a
# `"level"` inside a string value is escaped (`\"level\"`), so it cannot match.
_LEVEL_FIELD = re.compile(rb'"level"\s*:\s*"([^"\\]{0,16})"')


# ── levels and timestamps ────────────────────────────────────────────────

def level_rank(name):
    """Rank of a level name (any case), or None when it is not a level."""
    if not isinstance(name, str):
        return None
    return _RANKS.get(name.strip().lower())


def normalize_level(name):
    """The level as written to a log: lowercase, "warning" → "warn"; an
    unknown string is kept (lowercased) so nothing the plugin said is lost."""
    name = name.strip().lower()
    return "warn" if name == "warning" else name


def now_rfc3339():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def is_rfc3339(text):
    """True for an RFC 3339 timestamp with an offset; the regex alone would
    accept a 31st of February, so the fields go through datetime as well."""
    if not isinstance(text, str):
        return False
    match = _RFC3339.fullmatch(text)
    if not match:
        return False
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    offset = match.group(8)
    if offset not in ("Z", "z") and (int(offset[1:3]) > 23 or int(offset[4:6]) > 59):
        return False
    try:
        datetime(year, month, day, hour, minute, min(second, 59))  # 60 = leap second
    except ValueError:
        return False
    return second <= 60


# ── writing ──────────────────────────────────────────────────────────────

def plugin_log_path(log_dir, plugin_id):
    """`<logs>/plugins/<id>.log`; the id must already be validated (it is a
    path component)."""
    return Path(log_dir) / "plugins" / f"{plugin_id}.log"


def supervisor_log_path(log_dir):
    return Path(log_dir) / "plugin-supervisor.log"


def rotated_paths(path):
    """The live file first, then `.1` … `.5`: newest to oldest."""
    path = Path(path)
    return [path] + [path.with_name(f"{path.name}.{n}") for n in range(1, ROTATE_KEEP + 1)]


class RotatingJsonLog:
    """Appends JSON lines to `path`, rotating before a write would pass
    `max_bytes`, so at most `backups + 1` files of about `max_bytes` exist.

    One instance per file: two writers on one path would rotate under each
    other. The file stays open; its size is tracked, not stat-ed per write.
    """

    def __init__(self, path, max_bytes=ROTATE_BYTES, backups=ROTATE_KEEP):
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = backups
        self.fd = None
        self.size = 0
        self.failing = False

    def write(self, record):
        """Append one record; False if the disk refused it (logged once per
        failure streak: a log that cannot be written must not stop the plugin
        whose output it captures)."""
        data = (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode("utf-8", "replace")
        try:
            if self.fd is None:
                self._open()
            if self.size and self.size + len(data) > self.max_bytes:
                self._rotate()
            self._write_all(data)
        except OSError as exc:
            self.close()  # reopen on the next write: the file may be back by then
            if not self.failing:
                log.warning("plugin log write failed", extra={"path": str(self.path), "error": str(exc)})
            self.failing = True
            return False
        self.failing = False
        return True

    def close(self):
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)

    def _open(self):
        self.path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self.size = os.fstat(self.fd).st_size

    def _rotate(self):
        self.close()
        names = [self.path.with_name(f"{self.path.name}.{n}") for n in range(1, self.backups + 1)]
        if names:
            # Oldest first, so each rename lands on a name just freed.
            names[-1].unlink(missing_ok=True)
            for older, newer in zip(reversed(names[1:]), reversed(names[:-1])):
                if newer.exists():
                    newer.rename(older)
            self.path.rename(names[0])
        else:
            self.path.unlink(missing_ok=True)
        self._open()

    def _write_all(self, data):
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            self.size += written
            view = view[written:]


class SupervisorLog:
    """`plugin-supervisor.log`: one line per supervisor event, with the
    original design's message pattern `Plugin <id>: <event> - <details>`."""

    def __init__(self, path, max_bytes=ROTATE_BYTES, backups=ROTATE_KEEP):
        self.file = RotatingJsonLog(path, max_bytes, backups)

    def event(self, plugin_id, event, details, level="info"):
        text = details if isinstance(details, str) else json.dumps(details, ensure_ascii=False, default=str)
        return self.file.write({
            "timestamp": now_rfc3339(),
            "level": normalize_level(level),
            "plugin": plugin_id,
            "message": f"Plugin {plugin_id}: {event} - {text}",
            "event": event,
            "details": details,
        })

    def close(self):
        self.file.close()


# ── capturing a plugin's stdout/stderr ──────────────────────────────────

def truncation_marker(dropped):
    return f" … [truncated {dropped} bytes]".encode("utf-8")


def truncate_line(head, total_len, limit=MAX_LINE_BYTES):
    """A line of `total_len` bytes starting with `head`, cut so that the kept
    part plus the marker fit in `limit` bytes (so truncating twice changes
    nothing). The cut backs off to a UTF-8 character boundary."""
    room = limit - len(truncation_marker(total_len))
    keep = max(0, min(room, len(head)))
    while 0 < keep < len(head) and head[keep] & 0xC0 == 0x80:
        keep -= 1
    return head[:keep] + truncation_marker(total_len - keep)


class LineSplitter:
    """Bytes in, complete lines out (without the newline), holding at most
    `max_line` bytes of an unfinished line.

    A line that outgrows `max_line` keeps its head; the rest is counted and
    dropped until its newline, then the head goes out with the marker and the
    exact number of bytes dropped. So such a line reaches the log when it ends
    (or at EOF), and a plugin flooding one endless line costs 64 KiB.
    """

    def __init__(self, on_line, max_line=MAX_LINE_BYTES):
        self.on_line = on_line
        self.max_line = max_line
        self.pending = bytearray()
        self.dropped = 0

    def feed(self, data):
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                self._hold(data, start, len(data))
                return
            if self.pending or self.dropped:
                self._hold(data, start, end)
                self._emit_pending()
            else:
                line = data[start:end]
                if len(line) > self.max_line:
                    line = truncate_line(line, len(line), self.max_line)
                self.on_line(line)
            start = end + 1

    def finish(self):
        """End of stream: a last line without newline still counts."""
        if self.pending or self.dropped:
            self._emit_pending()

    def _hold(self, data, start, end):
        take = min(self.max_line - len(self.pending), end - start)
        self.pending += data[start:start + take]
        self.dropped += (end - start) - take

    def _emit_pending(self):
        line = bytes(self.pending)
        total = len(line) + self.dropped
        self.pending.clear()
        self.dropped = 0
        self.on_line(line if total <= self.max_line else truncate_line(line, total, self.max_line))


def capture_lines(fd_or_pipe, on_line, max_line=MAX_LINE_BYTES):
    """Greenlet body: read a pipe (fd or object with fileno()) until EOF,
    calling `on_line(bytes)` for each line, newline removed. The caller owns
    and closes the pipe. An exception from `on_line` ends the loop, so keep it
    from raising (RotatingJsonLog.write does not on disk errors)."""
    fd = fd_or_pipe if isinstance(fd_or_pipe, int) else fd_or_pipe.fileno()
    gevent.os.make_nonblocking(fd)
    splitter = LineSplitter(on_line, max_line)
    while True:
        data = gevent.os.nb_read(fd, READ_CHUNK)
        if not data:
            break
        splitter.feed(data)
        # nb_read only yields when the pipe is empty: a plugin that keeps it
        # full would otherwise hold the hub and freeze every other greenlet.
        # sleep(0) is not enough (it may resume us before the loop polls I/O
        # or runs timers); waiting for readability costs one loop cycle, in
        # which everyone else's I/O and timers run.
        gevent.socket.wait_read(fd)
    splitter.finish()


def line_writer(log_file, plugin_id, stream, pid):
    """The `on_line` for `capture_lines`: one plugin stream into its log."""
    def on_line(line):
        log_file.write(plugin_line_record(plugin_id, line, stream, pid))
    return on_line


def plugin_line_record(plugin_id, line, stream, pid):
    """A captured line → the record written to the plugin's log.

    A line that is a JSON object carrying `level` and/or `message` (or `msg`)
    keeps them, and its `error`, integer `pid` and RFC 3339 `timestamp`;
    other keys are dropped. `plugin` is always the real id. Any other line is
    level `info` — stderr too: many programs log everything there.
    """
    line = line.rstrip(b"\r\n")
    if len(line) > MAX_LINE_BYTES:
        line = truncate_line(line, len(line))
    text = line.decode("utf-8", "replace")
    record = {"timestamp": now_rfc3339(), "level": "info", "plugin": plugin_id,
              "message": text, "pid": pid, "stream": stream}
    fields = _json_log_fields(text)
    if fields is None:
        return record
    if isinstance(fields.get("level"), str):
        record["level"] = normalize_level(fields["level"]) or "info"
    message = fields.get("message", fields.get("msg"))
    if message is not None:
        record["message"] = message if isinstance(message, str) else json.dumps(message, ensure_ascii=False)
    if is_rfc3339(fields.get("timestamp")):
        record["timestamp"] = fields["timestamp"]
    if "error" in fields and fields["error"] is not None:
        error = fields["error"]
        record["error"] = error if isinstance(error, str) else json.dumps(error, ensure_ascii=False)
    if isinstance(fields.get("pid"), int) and not isinstance(fields["pid"], bool):
        record["pid"] = fields["pid"]
    return record


def _json_log_fields(text):
    """The object if `text` is a JSON log line of the plugin's own, else None."""
    if not text.startswith("{"):
        return None  # cheap: most plain lines never reach the parser
    try:
        fields = json.loads(text)
    except ValueError:
        return None
    if not isinstance(fields, dict):
        return None
    if not ({"level", "message", "msg"} & fields.keys()):
        return None
    return fields


# ── reading, newest first ────────────────────────────────────────────────

def lines_backwards(path, block_size=None, max_line=MAX_RECORD_BYTES):
    """Yield the non-empty lines of a file last to first, reading
    `block_size` blocks from the end; a missing file yields nothing (rotated
    files appear only once a log has grown, and may vanish mid-read). A line
    longer than `max_line` is skipped rather than assembled, so memory stays
    bounded on any file."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return
    with f:
        yield from _backwards(f, block_size or READ_BLOCK, max_line)


def _backwards(f, block_size, max_line):
    pos = f.seek(0, os.SEEK_END)
    carry = b""        # the start-less tail of a line that began further back
    oversized = False  # carry was dropped: the line it belongs to is skipped
    while pos > 0:
        step = min(block_size, pos)
        pos -= step
        f.seek(pos)
        parts = f.read(step).split(b"\n")
        if len(parts) == 1:
            if not oversized:
                carry = parts[0] + carry
                if len(carry) > max_line:
                    carry, oversized = b"", True
            continue
        last = parts[-1] + carry
        if last and not oversized:
            yield last
        for line in reversed(parts[1:-1]):
            if line:
                yield line
        carry, oversized = parts[0], False
        if len(carry) > max_line:
            carry, oversized = b"", True
    if carry and not oversized:
        yield carry


def read_logs(path, page=0, page_size=100, level=None):
    """Records newest first across `path`, `path.1` … `path.5`.

    `page` is 0-based; `page_size` is clamped to 1…1000. `level` keeps that
    level and above (trace < debug < info < warn < error < fatal/critical),
    any case; an unknown level means no filter. A record without a known
    level counts as info. Lines that are not a JSON object (a torn write, a
    hand edit) are skipped, so every result is a dict we wrote.

    Cost: proportional to the lines walked to fill the page, newest first —
    a few blocks when matches are recent; one read of the files when rare.
    A rotation during the read may show or skip a page's worth of lines.
    """
    page = max(0, int(page))
    page_size = min(max(1, int(page_size)), MAX_PAGE_SIZE)
    min_rank = level_rank(level)
    skip = page * page_size
    found = []
    for file_path in rotated_paths(path):
        for raw in lines_backwards(file_path):
            if min_rank is not None and not _may_reach(raw, min_rank):
                continue
            record = _parse_record(raw)
            if record is None:
                continue
            if min_rank is not None and _record_rank(record) < min_rank:
                continue
            if skip:
                skip -= 1
                continue
            found.append(record)
            if len(found) >= page_size:
                return found
    return found


def _may_reach(raw, min_rank):
    """Cheap pre-filter on the raw bytes, so a level filter over a big file
    does not parse every line: False only when the line's level is a known
    one below `min_rank`. Anything unclear goes on to the real parse."""
    match = _LEVEL_FIELD.search(raw)
    if not match:
        return True
    rank = level_rank(match.group(1).decode("ascii", "replace"))
    return rank is None or rank >= min_rank


def _parse_record(raw):
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _record_rank(record):
    rank = level_rank(record.get("level"))
    return INFO_RANK if rank is None else rank
