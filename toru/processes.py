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
STDERR_KEEP = 4096   # what run_briefly keeps of a helper's stderr
REAP_WITHIN = 2     # run_briefly: a KILLed helper is reaped within this


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


class _Late(Exception):
    """run_briefly's own timeout (a caught gevent.Timeout must be yours)."""


def run_briefly(argv, *, cwd, env=None, timeout, cap):
    """Run a short helper to its end (a quick action's `choices_from`
    script, the pattern checker): (returncode, stdout, first bytes of
    stderr). Bounded: TimeoutError after `timeout` seconds, OverflowError
    past `cap` bytes of stdout; either way, and after a normal exit too, its
    whole group is killed (a helper has nothing to save, and what it left
    running must not outlive it). OSError if it cannot start."""
    proc = spawn(argv, cwd=cwd, env=env)
    errors = gevent.spawn(_read_head, proc.stderr, STDERR_KEEP)
    try:
        with gevent.Timeout(timeout, _Late):
            out = proc.stdout.read(cap + 1)
            if len(out) > cap:
                raise OverflowError(f"printed more than {cap} bytes")
            code = proc.wait()
            err = errors.get()
    except _Late:
        raise TimeoutError(f"did not finish within {timeout:g} s") from None
    finally:
        signal_group(proc.pid, signal.SIGKILL)
        with gevent.Timeout(REAP_WITHIN, False):
            proc.wait()
        # The reader must be gone before its pipe is closed: greenlets share
        # a thread, so closing under a pending read is a "reentrant call".
        errors.kill(timeout=1)
        proc.stdout.close()
        if errors.dead:
            proc.stderr.close()
    return code, out, err


def _read_head(pipe, keep):
    """The first `keep` bytes of a pipe; the rest is drained so a chatty
    child never blocks on a full pipe."""
    kept = b""
    while True:
        chunk = pipe.read(8192)
        if not chunk:
            return kept
        if len(kept) < keep:
            kept += chunk[:keep - len(kept)]


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
