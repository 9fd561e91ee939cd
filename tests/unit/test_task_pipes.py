"""The thread that reads a task's two pipes (toru/tasks/pipes.py), on real
pipes: what it hands over, its bound, and that it always ends and closes
what it opened, and that the order across streams does not wait for the
hub. Writes 1 ms apart through a real server are in tests/integration/test_tasks.py
(that one can only judge on a machine with a free CPU)."""

import os

import gevent
import gevent.queue
import pytest

from toru.tasks.pipes import PipeReader

SIZE = 4


def ends(pipe):
    """How many descriptors this process has on `pipe` (a file object or fd):
    other tests may open and close files meanwhile, so only these count."""
    fd = pipe if isinstance(pipe, int) else pipe.fileno()
    target = os.readlink(f"/proc/self/fd/{fd}")
    count = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{name}") == target
        except OSError:
            pass  # closed meanwhile
    return count


@pytest.fixture
def pipes():
    """(stdout read end, stderr read end, stdout write fd, stderr write fd)."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    ends = [open(out_r, "rb", buffering=0), open(err_r, "rb", buffering=0), out_w, err_w]
    yield ends
    ends[0].close()
    ends[1].close()
    for fd in (out_w, err_w):
        try:
            os.close(fd)
        except OSError:
            pass  # the test closed it


def take_all(reader, timeout=5):
    items = []
    while True:
        item = reader.get(timeout=timeout)
        if item is None:
            return items
        items.append(item)


def test_chunks_come_with_their_stream_then_one_flush_marker_per_stream(pipes):
    out, err, out_w, err_w = pipes
    reader = PipeReader(out, err, SIZE, 65536)
    assert ends(out) == 3  # the test's two ends and the reader's copy
    os.write(out_w, b"one\n")
    assert reader.get(timeout=5) == ("stdout", b"one\n")
    os.write(err_w, b"two\n")
    assert reader.get(timeout=5) == ("stderr", b"two\n")
    os.close(out_w)
    os.close(err_w)
    assert reader.finished.wait(5)
    reader.end()
    assert sorted(take_all(reader)) == [("stderr", b"", True), ("stdout", b"", True)]
    reader.stop()
    assert ends(out) == 1 and ends(err) == 1  # the thread closed its copies (the test closed the write ends)


def test_get_gives_up_after_its_timeout(pipes):
    reader = PipeReader(pipes[0], pipes[1], SIZE, 65536)
    with pytest.raises(gevent.queue.Empty):
        reader.get(timeout=0.05)
    reader.stop()
    assert reader.finished.wait(5)


def fill(fd, chunk=1024):
    """Write to `fd` until it stays full (whoever reads it stopped); bytes written."""
    os.set_blocking(fd, False)
    written = 0
    with gevent.Timeout(10):
        for _ in range(3):  # full three times in a row, 0.1 s apart
            while True:
                try:
                    written += os.write(fd, b"x" * chunk)
                except BlockingIOError:
                    break
            gevent.sleep(0.1)
    return written


def test_a_flood_fills_the_pipe_not_the_queue_and_nothing_is_lost(pipes):
    out, err, out_w, err_w = pipes
    reader = PipeReader(out, err, SIZE, 1024)
    written = fill(out_w)
    assert reader.full()
    assert written <= 64 * 1024 + SIZE * 1024  # the pipe and the queue hold it all: the thread waits
    os.close(out_w)
    os.close(err_w)
    assert sum(len(data) for _, data, *_ in take_all_after_eof(reader)) == written
    reader.stop()


def take_all_after_eof(reader):
    """Items until both flush markers came (the thread then ends)."""
    items = []
    while not {("stdout", b"", True), ("stderr", b"", True)} <= set(items):
        items.append(reader.get(timeout=5))
    return items


def test_stop_ends_a_thread_waiting_in_poll(pipes):
    reader = PipeReader(pipes[0], pipes[1], SIZE, 65536)  # nothing written: it waits in poll()
    gevent.sleep(0.05)
    reader.stop()
    assert reader.finished.wait(5)
    assert ends(pipes[0]) == 2 and ends(pipes[1]) == 2


def test_stop_ends_a_thread_waiting_for_the_pump(pipes):
    out, err, out_w, _ = pipes
    reader = PipeReader(out, err, 1, 1024)
    fill(out_w)
    assert reader.full()
    reader.stop()
    assert reader.finished.wait(5)
    assert ends(out) == 2 and ends(err) == 2


def test_order_across_streams_does_not_wait_for_a_busy_hub(pipes):
    """The point of the thread: while the hub is busy (here: blocked outright
    by a plain time.sleep), each write is still read as it lands, so the
    order handed over is the order written. Greenlet readers would find both
    pipes full when the hub came back, and read them in libev's order."""
    import time
    out, err, out_w, err_w = pipes
    reader = PipeReader(out, err, 16, 65536)
    written = []
    for n in range(8):  # the hub does not run at all during this loop
        fd, stream = (out_w, "stdout") if n % 2 == 0 else (err_w, "stderr")
        os.write(fd, f"{n}\n".encode())
        written.append((stream, f"{n}\n".encode()))
        time.sleep(0.02)
    os.close(out_w)
    os.close(err_w)
    assert reader.finished.wait(5)
    reader.end()
    got = [item for item in take_all(reader) if item[1]]
    assert got == written
    reader.stop()


def test_the_pipes_are_widened_to_the_read_size(pipes):
    """One read takes what a fast script wrote meanwhile: the pipes hold
    256 KiB, not the kernel's default 64 KiB (where the kernel allows it)."""
    import fcntl
    get_size = getattr(fcntl, "F_GETPIPE_SZ", None)
    if get_size is None:
        pytest.skip("no F_GETPIPE_SZ on this system")
    assert fcntl.fcntl(pipes[0].fileno(), get_size) == 64 * 1024  # the kernel's default, before
    reader = PipeReader(pipes[0], pipes[1], SIZE, 256 * 1024)
    try:
        assert fcntl.fcntl(pipes[0].fileno(), get_size) == 256 * 1024
        assert fcntl.fcntl(pipes[1].fileno(), get_size) == 256 * 1024
    finally:
        reader.stop()
        assert reader.finished.wait(5)
