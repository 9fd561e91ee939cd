"""Child processes Toru starts (task scripts, plugins): their environment
and their process groups."""

import ctypes
import os
import signal
import time

import gevent
import psutil

# Secrets of Toru's own environment that no child ever sees.
PRIVATE_ENV = ("ADMIN_PASSWORD", "TORU_LICENSE_SECRET")
PR_SET_PDEATHSIG = 1


def child_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in PRIVATE_ENV}
    env.update(extra)
    return env


def signal_group(pgid, signum):
    """Signal a process group; False when it no longer exists."""
    try:
        os.killpg(pgid, signum)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:  # the group id was reused by someone else's process
        return False


def end_group(pgid, grace):
    """TERM what is left of a process group, KILL it after `grace` seconds."""
    if not signal_group(pgid, signal.SIGTERM):
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        gevent.sleep(0.05)
        if not signal_group(pgid, 0):
            return
    signal_group(pgid, signal.SIGKILL)


def die_with_parent():
    """A preexec_fn: the child gets SIGKILL when Toru dies, even by SIGKILL.
    The kernel ties it to the *thread* that forked, so children must be
    started from the hub's thread, never from a threadpool worker."""
    libc = ctypes.CDLL(None, use_errno=True)  # loaded before the fork
    parent = os.getpid()

    def preexec():
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)
    return preexec


def group_members(pgids):
    """{pgid: [psutil.Process]} of the live (not zombie) processes in the
    given process groups: one /proc scan, so call it off the hub for many."""
    members = {}
    for proc in psutil.process_iter():
        try:
            pgid = os.getpgid(proc.pid)
            if pgid in pgids and proc.status() != psutil.STATUS_ZOMBIE:
                members.setdefault(pgid, []).append(proc)
        except (psutil.Error, OSError):
            continue
    return members
