"""A task's stdout and stderr, read in the order they were written, by one
OS thread, and handed to the hub.

Why a thread: with a reader greenlet per pipe, a line written to stdout and
another written to stderr a moment later (~1 ms) swapped in nearly every
run — both pipes were ready by the time the hub's loop looked, and libev
woke the readers in its own order. The thread here is a real one (started
with the un-monkey-patched `_thread`, polling with the real `select.poll`)
that only ever blocks in poll(), so the kernel wakes it microseconds after a
write, whatever the hub is doing, and it reads that pipe long before a
script gets round to writing the other one. It still needs a CPU and the
GIL: one look that finds both pipes ready (it was late) cannot say which
was written first, and the pipe read longer ago goes first, which is right
for a script alternating between the two.

Flow: chunks go to the hub through a queue. When the pump is behind (a
quarter of `size` queued) and the thread's last read of a pipe filled its
buffer (the script writes faster than it is read), that pipe is lent to the
hub: the pump reads it itself when it needs more — full reads, no
hand-over between threads, as fast as the greenlet readers were — as long
as the other pipe has nothing, and the thread watches only the other one.
With `size` chunks queued the thread reads nothing: the pipes fill and the
script blocks — a flood never grows the server's memory.

Items: (stream, bytes); at a pipe's EOF (stream, b"", True), which flushes
the decoder's last partial character; the last item is the None the hub
puts with `end()`. `finished` is set once both pipes reached EOF (or the
reader was stopped) and the thread is gone. `stop()` always ends the
thread: it closes the wake-up pipe the thread polls besides the two.
"""

import collections
import fcntl
import os
import select
import time

import gevent
import gevent.event
import gevent.queue
from gevent import monkey

# The app monkey-patches _thread and select (gevent's poll would run a hub
# in the thread): these are the real ones.
_start_thread = monkey.get_original("_thread", "start_new_thread")
_allocate_lock = monkey.get_original("_thread", "allocate_lock")
_poll = monkey.get_original("select", "poll")


class PipeReader:
    def __init__(self, stdout, stderr, size, read_size):
        self._size, self._read_size = size, read_size
        self._lazy = max(1, size // 4)  # chunks queued from which the hub reads the busy pipe itself
        # The thread's own copies of the pipes, closed by the thread when it
        # ends: whoever closes the task's pipes can never close a number the
        # thread still polls (and that a new file may already reuse).
        self._streams = {}
        try:
            for pipe, stream in ((stdout, "stdout"), (stderr, "stderr")):  # stdout first when all else is equal
                self._streams[os.dup(pipe.fileno())] = stream
            self._wake_r, self._wake_w = os.pipe()
        except OSError:  # out of files: the task cannot run, and leaks none
            for fd in self._streams:
                os.close(fd)
            raise
        for fd in (*self._streams, self._wake_r, self._wake_w):
            os.set_blocking(fd, False)
        for fd in self._streams:
            widen(fd, read_size)
        # One lock for all shared state, and around every read of a task's
        # pipe, by the thread or the hub: they never read one pipe at once.
        self._mutex = _allocate_lock()
        self._items = collections.deque()
        self._open = set(self._streams)  # pipes not at EOF yet
        self._lent = None         # the pipe the hub reads itself (the pump is behind), or None
        self._reads = 0           # reads so far, and when (in reads) each pipe was last read; stdout first
        self._last_read = dict(zip(self._streams, (-2, -1)))
        self._behind = set()      # pipes whose last read filled the buffer: the script writes faster than we read
        self._wake_below = None   # the queue is full: the thread waits until fewer chunks are queued
        self._stopped = False
        self._ended = False       # the thread is gone
        self._arrived = gevent.event.Event()
        self.finished = gevent.event.Event()
        # The thread's way to wake the hub (any thread may send()); active,
        # so the loop waits for the thread as it would for a socket.
        self._wake_hub = gevent.get_hub().loop.async_()  # call from the hub's thread
        self._wake_hub.start(self._woken)
        _start_thread(self._read_all, ())

    # --- the hub's side --------------------------------------------------------
    def get(self, timeout=None):
        """The next item (waits cooperatively); gevent.queue.Empty after `timeout`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._mutex:
                if self._items:
                    item = self._items.popleft()
                    if self._wake_below is not None and len(self._items) < self._wake_below:
                        self._wake_thread()
                    return item
                if self._lent is not None and not self._stopped:
                    # Not while the other pipe has data: the thread, woken
                    # by it, reads both in order (and takes this one back).
                    lent = self._lent
                    item = None if self._other_ready() else self._read_locked(lent)
                    if lent not in self._behind:  # caught up: the thread watches it again
                        self._lent = None
                        self._wake_thread()
                    if item is not None:
                        return item
                self._arrived.clear()
            left = None if deadline is None else deadline - time.monotonic()
            if (left is not None and left <= 0) or not self._arrived.wait(left):
                raise gevent.queue.Empty

    def full(self):
        """The pump is behind: the thread waits for it, or lent it a pipe."""
        return self._wake_below is not None or self._lent is not None

    def end(self):
        """Put the last item (None): the pump stops after what came before it."""
        with self._mutex:
            self._items.append(None)
        self._arrived.set()

    def stop(self):
        """Read no more: the thread drops what it reads from now on and ends
        at once. Never waits; call it once the reader is no longer needed,
        it is what ends the thread."""
        with self._mutex:
            if not self._stopped:
                self._stopped = True
                self._lent = self._wake_below = None
                os.close(self._wake_w)  # under the lock: nothing writes to a closed (reused) number

    def _other_ready(self):
        poller = _poll()
        for fd in self._open - {self._lent}:
            poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))

    def _wake_thread(self):
        self._wake_below = None
        if not self._stopped:
            try:
                os.write(self._wake_w, b"\0")
            except OSError:
                pass  # full: it will wake anyway; or the thread is gone

    def _woken(self):
        self._arrived.set()
        if self._ended:
            self._wake_hub.stop()  # a send() after this one is harmless: libev ignores it
            self.finished.set()

    # --- the thread ------------------------------------------------------------
    def _read_all(self):
        poller = _poll()
        poller.register(self._wake_r, select.POLLIN)
        watched = set()
        last = None
        try:
            while not self._stopped:
                watch, lent = self._watch(last)
                if watch is None:
                    return  # both pipes at EOF
                for fd in watched - watch:
                    poller.unregister(fd)
                for fd in watch - watched:
                    poller.register(fd, select.POLLIN)
                watched = watch
                ready = []
                for fd, _ in poller.poll():
                    if fd == self._wake_r:
                        self._drain_wake_pipe()
                    elif fd in watch:
                        ready.append(fd)
                # Each pipe found ready is read once, then the thread looks
                # again: reading one pipe twice in a row could put its newer
                # data before the other's. Both ready at one look means the
                # thread was late: the pipe read longer ago goes first, as
                # what the other holds was written after it last emptied it.
                # A pipe lent to the hub counts as ready: it is taken back.
                if ready and lent is not None:
                    ready.append(lent)
                ready.sort(key=self._last_read.__getitem__)
                for fd in ready:
                    last = fd
                    if not self._read(fd):
                        return
        finally:
            with self._mutex:
                self._lent = None  # the hub no longer reads them: they are closed now
                self._ended = True
                for fd in (*self._streams, self._wake_r):
                    os.close(fd)
            self._wake_hub.send()

    def _watch(self, last):
        """(pipes to poll, the pipe lent to the hub or None), or (None, None)
        once both are at EOF. While the pump is behind, the pipe read last
        is lent to the hub: it reads it when it needs more, in full pipes,
        and the thread only watches the other one."""
        with self._mutex:
            if not self._open:
                return None, None
            if self._lent is not None:
                return self._open - {self._lent}, self._lent
            queued = len(self._items)
            if queued >= self._size:
                self._wake_below = self._size
                return set(), None
            self._wake_below = None
            if queued >= self._lazy and last in self._behind and last in self._open:
                self._lent = last
                return self._open - {last}, last
            return set(self._open), None

    def _drain_wake_pipe(self):
        try:
            os.read(self._wake_r, 64)  # b"" once stop() closed the other end: the loop ends
        except BlockingIOError:
            pass

    def _read(self, fd):
        """Read one pipe once (taking it back if lent) and queue what came; False once stopped."""
        with self._mutex:
            if self._stopped:
                return False
            if fd == self._lent:
                self._lent = None
            item = self._read_locked(fd)
            if item is None:
                return True
            was_empty = not self._items
            self._items.append(item)
        if was_empty:  # the hub takes all there is before it waits again: one wake-up is enough
            self._wake_hub.send()
        return True

    def _read_locked(self, fd):
        """One read of a pipe as an item, None when it is empty; at EOF the
        pipe is closed for reading and the item is its flush marker."""
        try:
            data = os.read(fd, self._read_size)
        except BlockingIOError:
            self._behind.discard(fd)
            return None
        except OSError:
            data = b""  # as at EOF: nothing more will come from it
        self._reads += 1
        self._last_read[fd] = self._reads
        if len(data) == self._read_size:
            self._behind.add(fd)
        else:
            self._behind.discard(fd)
        if data:
            return (self._streams[fd], data)
        self._open.discard(fd)
        return (self._streams[fd], b"", True)


def widen(fd, size):
    """Let the pipe `fd` hold `size` bytes (Linux; 64 KiB by default), so one
    read takes what a fast script wrote meanwhile. Where the kernel refuses
    (another system, a lower /proc/sys/fs/pipe-max-size), it stays as it is."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if set_size is None:
        return
    try:
        fcntl.fcntl(fd, set_size, size)
    except OSError:
        pass
