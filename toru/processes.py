"""Child processes Toru starts (task scripts, plugins, `--metadata` calls,
the `plugin-test` checker): the one way to start them, stop them and say
how they ended.

- `spawn()` starts a process in its own process group (so a stop reaches
  everything it started), stdin from /dev/null, stdout and stderr piped,
  Toru's secrets removed from its environment and, where asked, killed by
  the kernel if Toru dies (PR_SET_PDEATHSIG).
- `stop_group()` is the stop sequence: TERM the group, wait `grace`, KILL it.
- `describe_exit()` / `exit_text()` turn a return code into words: a
  negative code is the signal that ended the process, never "exit code -15".
"""

import ctypes
import os
import signal
import time

import gevent
import psutil
from gevent import subprocess

# Secrets of Toru's own environment that no child ever sees.
PRIVATE_ENV = ("ADMIN_PASSWORD", "TORU_LICENSE_SECRET")
PR_SET_PDEATHSIG = 1
POLL_FIRST, POLL_MAX = 0.01, 0.25  # stop_group's checks: often at first, then less


def child_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in PRIVATE_ENV}
    env.update(extra)
    return env


def spawn(argv, *, cwd, env=None, die_with_core=True, popen=subprocess.Popen):
    """Start `argv` as the leader of a new process group with piped
    stdout/stderr. `env` adds variables to the cleaned environment.
    `popen` is the seam unit tests replace. Raises OSError if it cannot start.

    Call from the hub's thread: PR_SET_PDEATHSIG is tied to the thread that
    forked, so a child forked by a threadpool worker would die with it."""
    return popen([str(a) for a in argv], cwd=str(cwd), env=child_env(**(env or {})),
                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                 start_new_session=True, close_fds=True,
                 preexec_fn=die_with_parent() if die_with_core else None)


def signal_group(pgid, signum):
    """Signal a process group; False when it no longer exists."""
    try:
        os.killpg(pgid, signum)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:  # the group id was reused by someone else's process
        return False


def stop_group(pgid, grace, done=None):
    """The stop sequence: TERM the group, wait up to `grace` seconds for
    `done()` (default: the group is gone), then KILL the group. Returns the
    signal that ended it ("SIGTERM"/"SIGKILL"), or None if it was already gone."""
    done = done or (lambda: group_gone(pgid))
    if not signal_group(pgid, signal.SIGTERM):
        return None
    deadline = time.monotonic() + grace
    pause = POLL_FIRST
    while (left := deadline - time.monotonic()) > 0:
        gevent.sleep(min(pause, left))
        if done():
            return "SIGTERM"
        pause = min(pause * 2, POLL_MAX)
    signal_group(pgid, signal.SIGKILL)
    return "SIGKILL"


def group_gone(pgid):
    """No live process is left in the group. killpg(pgid, 0) alone is not
    enough: a member that died after its parent stays a zombie until init
    reaps it, which some inits (a container's) do only every second or two;
    counting it made every stop wait the whole grace and then "KILL". So a
    yes from killpg is checked against /proc: a scan, so in the threadpool,
    never on the hub."""
    if not signal_group(pgid, 0):
        return True
    return not gevent.get_hub().threadpool.apply(group_members, ({pgid},))


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


def describe_exit(code):
    """{"code": int or None, "signal": "SIGTERM" (only when a signal ended it)}."""
    if code is None:
        return {"code": None}
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return {"code": None, "signal": name}
    return {"code": code}


def exit_text(code):
    """'exit code 1', 'killed by SIGKILL', 'no exit status': for reasons people read."""
    return ended_text(**describe_exit(code))


def ended_text(code=None, signal=None):
    """exit_text() for an exit already described (e.g. read back from a row)."""
    if signal:
        return f"killed by {signal}"
    return "no exit status" if code is None else f"exit code {code}"


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
