"""A task's output, kept bounded however much the script prints.

In memory: the first and the last half of the output cap, as (stream, text)
chunks, so a late subscriber gets head + marker + tail with stdout and stderr
still apart. On disk: a spool file with the same head and a tail that is
trimmed whenever the file grows past SPOOL_FACTOR × cap, so a crash loses
neither the start nor the end of what a task printed, and a runaway script
cannot fill the disk.
"""

import codecs
import os
from collections import deque

SPOOL_FACTOR = 4
REPLAY_CHUNK = 64 * 1024


def size_of(text):
    # isascii() is O(1) for CPython strings: the common case costs no encoding.
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def marker(omitted):
    return f"\n… {omitted} bytes omitted …\n"


def cut(text, limit, keep_end=False):
    """The first (or last) part of `text` of at most `limit` UTF-8 bytes."""
    if text.isascii():
        return text[-limit:] if keep_end else text[:limit]
    data = text.encode("utf-8", "surrogatepass")
    part = data[-limit:] if keep_end else data[:limit]
    return part.decode("utf-8", "ignore")


class TaskOutput:
    def __init__(self, spool_path, cap):
        self.half = max(cap // 2, 1)
        self.decoders = {stream: codecs.getincrementaldecoder("utf-8")("replace")
                         for stream in ("stdout", "stderr")}
        self.head, self.head_bytes = [], 0
        self.tail, self.tail_bytes = deque(), 0
        self.total_bytes = 0
        self.spool_path = spool_path
        self.spool = open(spool_path, "wb")
        self.spool_bytes = 0

    def decode(self, stream, data, final=False):
        """Bytes read from a pipe → (raw, text) of whole characters: a
        character split between two reads is kept for the next one (in both),
        invalid UTF-8 stays as it is in `raw` and becomes U+FFFD in `text`.
        `raw` is what binary watchers get, `text` what is stored and sent as
        JSON: the same characters, so a replay (from `text`) and the live
        frames that follow it meet at a character boundary."""
        decoder = self.decoders[stream]
        carried = decoder.getstate()[0]
        text = decoder.decode(data, final)
        held = len(decoder.getstate()[0])
        raw = carried + data if carried else data
        return (raw[:len(raw) - held] if held else raw), text

    def add(self, stream, text):
        size = size_of(text)
        self.total_bytes += size
        if self.head_bytes < self.half:
            room = self.half - self.head_bytes
            part = text if size <= room else cut(text, room)
            part_size = size if size <= room else size_of(part)
            self.head.append((stream, part))
            self.head_bytes += part_size
            self._spool(part)
            if part_size == size:
                return
            text = text[len(part):]
            size = size_of(text)
        self.tail.append((stream, text))
        self.tail_bytes += size
        self._spool(text)
        while self.tail and self.tail_bytes - size_of(self.tail[0][1]) >= self.half:
            self.tail_bytes -= size_of(self.tail.popleft()[1])
        if self.tail_bytes > self.half:
            first_stream, first = self.tail[0]
            trimmed = cut(first, size_of(first) - (self.tail_bytes - self.half), keep_end=True)
            self.tail[0] = (first_stream, trimmed)
            self.tail_bytes -= size_of(first) - size_of(trimmed)

    @property
    def omitted(self):
        return self.total_bytes - self.head_bytes - self.tail_bytes

    def replay(self):
        """(stream, text) messages: head, a marker line if anything was
        omitted, tail; neighbours of one stream are merged up to REPLAY_CHUNK."""
        chunks = list(self.head)
        if self.omitted:
            chunks.append(("stdout", marker(self.omitted)))
        chunks.extend(self.tail)
        merged = []
        for stream, text in chunks:
            if merged and merged[-1][0] == stream and len(merged[-1][1]) + len(text) <= REPLAY_CHUNK:
                merged[-1] = (stream, merged[-1][1] + text)
            else:
                merged.append((stream, text))
        return merged

    def text(self):
        """The output to store: all of it, or head + marker + tail."""
        parts = [t for _, t in self.head]
        if self.omitted:
            parts.append(marker(self.omitted))
        parts.extend(t for _, t in self.tail)
        return "".join(parts)

    def close(self, remove=True):
        if not self.spool.closed:
            self.spool.close()
        if remove:
            try:
                os.unlink(self.spool_path)
            except FileNotFoundError:
                pass

    def _spool(self, text):
        if self.spool.closed:
            return
        data = text.encode("utf-8", "surrogatepass")
        self.spool.write(data)
        self.spool_bytes += len(data)
        if self.spool_bytes > SPOOL_FACTOR * 2 * self.half:
            # Keep the file bounded: head, a marker, then the tail we hold.
            self.spool.truncate(self.head_bytes)
            self.spool.seek(self.head_bytes)
            self.spool.write(b"\n... output omitted ...\n")
            for _, chunk in self.tail:
                self.spool.write(chunk.encode("utf-8", "surrogatepass"))
            self.spool_bytes = self.spool.tell()
        self.spool.flush()


def recover_spool(path, cap):
    """(text, truncated, size) from the spool of a task that a crash left
    running: all of it if it fits the cap, else head + marker + tail."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            if size <= cap:
                return f.read().decode("utf-8", "replace"), False, size
            half = cap // 2
            head = f.read(half)
            f.seek(size - half)
            tail = f.read(half)
    except OSError:
        return "", False, 0
    text = (head.decode("utf-8", "ignore") + "\n… output omitted (the server stopped mid-task) …\n"
            + tail.decode("utf-8", "ignore"))
    return text, True, size


def cap_text(text, cap):
    """(text, truncated, size in bytes) of a whole output kept the way a
    task's is: all of it if it fits `cap` bytes, else head + marker + tail."""
    size = size_of(text)
    if size <= cap:
        return text, False, size
    half = cap // 2
    head, tail = cut(text, half), cut(text, half, keep_end=True)
    return head + marker(size - size_of(head) - size_of(tail)) + tail, True, size
