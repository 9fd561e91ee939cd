"""The task runner: starts scripts in their own process group, streams their
output through the hub in batches, cancels and times them out, and records
each run in the history.

One task = one script process group (started by `processes.spawn`, stopped by
`processes.stop_group`), one hub topic `task:<id>` its watchers are added to,
one thread that reads both pipes (`pipes.PipeReader`), and two greenlets: a
pump that batches output to the topic (one batch every BATCH_INTERVAL,
sooner when BATCH_BYTES are waiting), and a waiter that blocks on the
process and then finishes the task. The thread hands chunks to the pump
through one small queue (CHUNK_QUEUE), in the order it read them, or lends
it a flooding pipe to read itself while the other is silent; the pump
waits for a watcher that is behind (`Topic.send` with a backlog) — so a
flood of output fills the pipe and slows the script, never the server's
memory. Waits come from
`config.timings` (kill_grace, drain_after_exit, subscriber_stall).
Watchers that asked for binary frames (`"binary": true`) get the bytes as
read, with a 5-byte header instead of JSON (docs/tasks.md#binary-output-frames).

Order across stdout and stderr: a batch is one ordered sequence of segments
(a run of one stream each), stored and sent in the order the chunks were
read, so lines of both streams never regroup by stream within a batch. Two
pipes carry no timestamps, so the order read is the order written only if
each write is read before the next one lands in the other pipe: the reader
is a thread of its own, woken by the kernel within microseconds whatever
the hub is doing, so writes 1 ms apart keep their order while a CPU is
free. It still needs a CPU and the GIL: on a machine with every CPU busy,
or while other work holds the GIL (a garbage collection, another thread for
up to its 5 ms switch interval), it can be late, and what was written into
both pipes by then comes out the pipe read longer ago first (pipes.py).
`exec 2>&1` in the script is exact whatever the load.
"""

import json
import logging
import time
import uuid

import gevent
import gevent.event
import gevent.queue

from toru.accounts.auth import current_user, is_admin
from toru.errors import Conflict, Forbidden, Invalid, NotFound, RateLimited
from toru.live import binary_frame
from toru.processes import describe_exit, group_members, spawn, stop_group
from toru.tasks.arguments import NO_VALUES
from toru.tasks.history import exit_text, summary
from toru.tasks.output import TaskOutput, size_of
from toru.tasks.pipes import PipeReader

log = logging.getLogger("toru.tasks")
audit = logging.getLogger("toru.audit")

# A task's pipes are widened to READ_SIZE (pipes.py) and read in one go, and a
# message or frame carries up to BATCH_BYTES: the costs per read and per
# message (the thread's wake-up, a turn of the hub, a frame's header and
# send) were most of the server's CPU per MiB of output at 64 KiB; at 256 KiB
# it is about half (docs/benchmarks.md, Script output).
READ_SIZE = 256 * 1024
BATCH_BYTES = 256 * 1024
BATCH_INTERVAL = 0.05
CHUNK_QUEUE = 8            # chunks between the reader and the pump
SUBSCRIBER_BACKLOG = 16    # messages a subscriber may have queued before the pump waits
SAMPLE_EVERY = 0.5
PRUNE_EVERY = 3600
FELL_BEHIND = "This connection fell behind the task's output; subscribe again to catch up"
# The tag byte of a binary output frame (live.FRAME_HEADER, docs/tasks.md#binary-output-frames).
STREAM_TAGS = {"stdout": 1, "stderr": 2}


def exit_message(task_id, status, code, signal, finished_at):
    """The `exit` message, live or replayed: `code` is None when `signal` ended the script."""
    return {"type": "exit", "task_id": task_id, "code": code, "signal": signal,
            "exit_text": exit_text(status, code, signal), "status": status, "finished_at": finished_at}


class Task:
    def __init__(self, task_id, script, user, trigger, quick_action_id, timeout, output, quick_action_name=None,
                 schedule_id=None):
        self.id = task_id
        self.schedule_id = schedule_id
        self.script = script
        self.user = user
        self.trigger = trigger
        self.quick_action_id = quick_action_id
        self.quick_action_name = quick_action_name
        self.timeout = timeout
        self.output = output
        self.started_at = time.time()
        self.process = None
        self.stop_reason = None   # "cancelled" / "timed_out" / "interrupted" once asked to stop
        self.stopper = None       # the greenlet running stop_group once asked to stop
        self.topic = None         # the hub topic `task:<id>` its watchers are on
        self.chunks = None        # a pipes.PipeReader once it runs: its output, in the order read
        self.pending, self.pending_bytes = [], 0  # the next batch: [[stream, [bytes, …], at EOF], …] in read order
        self.peak_rss = None
        self.cpu_by_pid = {}
        self.done = gevent.event.Event()

    @property
    def pgid(self):
        return self.process.pid  # start_new_session: the leader's pid is the group id

    def started_message(self, **extra):
        return dict({"type": "started", "task_id": self.id, "script": self.script,
                     "trigger": self.trigger, "started_by": self.user["username"],
                     "started_at": self.started_at, "quick_action_name": self.quick_action_name}, **extra)

    def record_usage(self, rss, processes):
        """One sample of the group: total RSS and {pid: (ppid, cpu seconds
        incl. reaped children)}. A process that vanished while its parent is
        still here was reaped by it: its time now counts in the parent's."""
        self.peak_rss = max(self.peak_rss or 0, rss)
        for pid, (ppid, _) in list(self.cpu_by_pid.items()):
            if pid not in processes and ppid in processes:
                del self.cpu_by_pid[pid]
        self.cpu_by_pid.update(processes)

    def cpu_seconds(self):
        return round(sum(cpu for _, cpu in self.cpu_by_pid.values()), 3) if self.cpu_by_pid else None


class TaskRunner:
    def __init__(self, scripts, settings, history, quick_actions, spool_dir, greenlets, hub, timings):
        self.hub = hub
        self.timings = timings
        self.scripts = scripts
        self.settings = settings
        self.history = history
        self.quick_actions = quick_actions
        settings.listeners.append(self.settings_changed)
        self.spool_dir = spool_dir
        self.greenlets = greenlets
        self.running = {}  # task id → Task

    # --- starting ---------------------------------------------------------------
    def start(self, script, user, trigger, quick_action_id=None, timeout=None, values=NO_VALUES,
              quick_action_name=None, schedule_id=None):
        """Start `script` as `user`; `values` (arguments.Values) go after the
        script's own argv and into its environment, `values.record` into
        the history row."""
        limit = self.settings.get("max_concurrent_tasks")
        if len(self.running) >= limit:
            raise RateLimited(f"{len(self.running)} tasks are running, the limit (max_concurrent_tasks) is "
                              f"{limit}: wait for one to finish or raise the limit in Settings")
        argv, path = self.scripts.command(script)
        if self.scripts.is_single_instance(script) and any(t.script == script for t in self.running.values()):
            raise Conflict(f"{script} is single-instance and already running")
        if timeout is None:
            timeout = self.settings.get("task_timeout_seconds")
        task_id = str(uuid.uuid4())
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        output = TaskOutput(self.spool_dir / f"{task_id}.out", self.settings.get("output_cap_bytes"))
        task = Task(task_id, script, user, trigger, quick_action_id, timeout, output, quick_action_name, schedule_id)
        # Take the slot before spawning: starting a process yields to other greenlets.
        self.running[task_id] = task
        task.topic = self.hub.topic(f"task:{task_id}")  # not public: watchers are added after a visibility check
        try:
            # die_with_core=False: a script is the admin's own work (a backup, an
            # upgrade); a Toru crash must not cut it off halfway. PDEATHSIG would
            # only reach the leader anyway, and the run is recorded `interrupted`
            # at the next start.
            task.process = spawn(argv + values.argv, cwd=path.parent, die_with_core=False,
                                 env=dict(values.env, TORU_TASK_ID=task_id, TORU_USER=user["username"]))
        except OSError as e:
            del self.running[task_id]
            self.hub.drop_topic(task.topic.name)
            output.close()
            raise Invalid(f"Cannot start {script}: {e.strerror or e}") from None
        self.history.create(task_id, script, user, trigger, quick_action_id, task.started_at, values.record,
                            schedule_id)
        log.info("task started", extra={"task_id": task_id, "script": script, "user": user["username"],
                                        "trigger": trigger, "pid": task.process.pid})
        self.greenlets.spawn(self._run, task)
        return task

    def run_action(self, user, action_id, values, confirmed, trigger="quick_action", schedule_id=None):
        """Run quick action `action_id` as `user`: grant (404), values (400
        with `fields`), confirmation (409 with `confirm`), then start. REST
        execute, WebSocket `run`, re-run and schedules all come through here."""
        action, checked = self.quick_actions.prepare(action_id, user, values, confirmed)
        task = self.start(action["script"], user, trigger, action["id"], action["timeout"], checked,
                          quick_action_name=action["name"], schedule_id=schedule_id)
        audit.info("quick action run", extra={"actor": user["username"], "quick_action": action["id"],
                                              "task_id": task.id, "trigger": trigger,
                                              "arguments": checked.record})  # passwords masked
        return task

    def run_for(self, user, message):
        """A WebSocket `run`: a raw script (admins) or a quick action (anyone it is granted to)."""
        if message.get("quick_action_id") is not None:
            return self.run_action(user, message["quick_action_id"], message.get("arguments"),
                                   message.get("confirmed"))
        if not is_admin(user):
            raise Forbidden("Only an admin can run scripts; clients run quick actions")
        return self.start(message.get("script"), user, "ws")

    def rerun(self, row, user, values=None, confirmed=None):
        """Run `row` again as `user` — the caller, with the caller's grant,
        never as whoever ran it first. Without `values` the stored ones are
        used, less passwords (never stored): a required one must be sent."""
        stored = json.loads(row["arguments"] or "{}")
        if row["quick_action_id"] is not None:
            try:
                action = self.quick_actions.get(row["quick_action_id"], user)
            except NotFound:
                if not is_admin(user):
                    raise
                if stored:
                    raise Conflict("That quick action was deleted: its arguments can no longer be checked; "
                                   "run the script from Scripts instead") from None
            else:
                if values is None:
                    secret = {d["name"] for d in action["arguments"] if d["type"] == "password"}
                    values = {k: v for k, v in stored.items() if k not in secret}
                return self.run_action(user, row["quick_action_id"], values, confirmed, trigger="rerun")
        if values:
            raise Invalid("This run was not a quick action: a script runs without arguments")
        return self.start(row["script"], user, "rerun")

    # --- watching ---------------------------------------------------------------
    def visible(self, task_id, user):
        """The running task if `user` may watch it: admins, or the client
        who started it while the action is still granted to them."""
        task = self.running.get(task_id)
        if task is None or not self.may_see(task, user):
            return None
        return task

    def may_see(self, task, user):
        return is_admin(user) or (task.user["id"] == user["id"]
                                  and self.quick_actions.allows(task.quick_action_id, user))

    def drop_unallowed_watchers(self, action_id):
        """After a grant changed: watchers of the action's runs who may no
        longer see them leave (a closed or deactivated user's socket is gone already)."""
        for task in [t for t in self.running.values() if t.quick_action_id == action_id]:
            for conn in list(task.topic.subscribers):
                self._drop_if_unallowed(task, conn)

    def recheck_watcher(self, conn):
        """After conn's user was re-read (a role or grant may have changed):
        it leaves the runs it may no longer watch."""
        for task in list(self.running.values()):
            if task.topic is not None and conn in task.topic.subscribers:
                self._drop_if_unallowed(task, conn)

    def _drop_if_unallowed(self, task, conn):
        if conn.user is None or not self.may_see(task, conn.user):
            task.topic.discard(conn)
            conn.send({"type": "error", "task_id": task.id, "code": "forbidden",
                       "data": "You may no longer watch this run: its output is no longer sent to you"})

    def subscribe(self, conn, task_id, binary=False):
        """Replay what the task printed so far, then stream it live (as
        binary frames when asked). Nothing here yields, so no batch can slip
        between the replay and the live part."""
        task = self.visible(task_id, conn.user)
        row = self.history.visible_row(task_id, conn.user) if task is None else None  # finished: 404 or its row
        # Numbered only once the task is known to exist: made-up ids take no numbers.
        channel = conn.channel(task_id) if binary else None
        if task is None:  # replay the stored output
            text = row["output"] or ""
            conn.send(with_channel({
                "type": "started", "task_id": row["id"], "script": row["script"], "trigger": row["trigger"],
                "started_by": row["started_by"], "started_at": row["started_at"],
                "quick_action_name": row["quick_action_name"], "replay": True,
                "output_bytes": row["output_bytes"], "replay_bytes": size_of(text)}, channel))
            for start in range(0, len(text), BATCH_BYTES):
                send_output(conn, row["id"], channel, "stdout", text[start:start + BATCH_BYTES])
            conn.send(exit_message(row["id"], row["status"], row["exit_code"], row["exit_signal"],
                                   row["finished_at"]))
            return
        chunks = task.output.replay()
        # output_bytes: what the script printed so far; replay_bytes: how much
        # of the text that follows is this replay (head, marker, tail), so a
        # client can count the live size on from there.
        conn.send(with_channel(task.started_message(replay=True, output_bytes=task.output.total_bytes,
                                                    replay_bytes=sum(size_of(text) for _, text in chunks)),
                               channel))
        for stream, text in chunks:
            send_output(conn, task.id, channel, stream, text)
        task.topic.add(conn, channel=channel)

    def unsubscribe(self, conn, task_id):
        task = self.running.get(task_id)
        if task:
            task.topic.discard(conn)

    def running_tasks(self, user):
        return [self.live_summary(summary(self.history.row(t.id))) for t in self.running.values()
                if self.may_see(t, user)]

    def live_summary(self, task):
        """A history summary with a running task's output size so far (its
        row says 0 until the task ends)."""
        live = self.running.get(task["id"]) if task["status"] == "running" else None
        if live is not None:
            task["output_bytes"] = live.output.total_bytes
        return task

    def output_so_far(self, task_id):
        """A running task's output as it would be stored now (head, marker,
        tail), or None when it is not running."""
        task = self.running.get(task_id)
        return None if task is None else task.output.text()

    # --- stopping ---------------------------------------------------------------
    def cancel(self, task_id, user):
        task = self.visible(task_id, user)
        if task is None:
            self.history.visible_row(task_id, user)  # 404 for tasks the user may not see
            raise Conflict("The task is not running")
        if task.stop_reason or task.process is None or task.process.poll() is not None:
            return task  # already stopping, or the script exited and its `exit` is on the way
        self._stop(task, "cancelled")
        audit.info("task cancelled", extra={"actor": user["username"], "task_id": task.id, "script": task.script})
        task.topic.send({"type": "cancelled", "task_id": task.id})
        return task

    def shutdown(self, timeout=5):
        """Server stop: end every running task (recorded as interrupted)."""
        for task in list(self.running.values()):
            if task.process and not task.stop_reason and task.process.poll() is None:
                self._stop(task, "interrupted", grace=min(timeout, self.timings.kill_grace))
        deadline = time.monotonic() + timeout + 1
        for task in list(self.running.values()):
            task.done.wait(max(0, deadline - time.monotonic()))

    def _stop(self, task, reason, grace=None):
        """TERM the task's group now and KILL it after the grace period, in a
        greenlet of its own so the caller (a WebSocket handler) never waits."""
        task.stop_reason = reason
        task.stopper = self.greenlets.spawn(self._stop_group, task, self.timings.kill_grace if grace is None else grace)

    def _stop_group(self, task, grace):
        if stop_group(task.pgid, grace) == "SIGKILL":
            log.warning("the task's process group ignored TERM; killed it", extra={"task_id": task.id})

    def _end_group(self, task):
        """After the script exited: whatever it left running in its group goes
        with it — by the stop already under way, or by one started now."""
        if task.stopper is None:
            self._stop_group(task, self.timings.kill_grace)
        else:
            task.stopper.join()

    # --- the life of a task -----------------------------------------------------
    def _run(self, task):
        proc = task.process
        pump = timer = code = None
        try:
            # One thread reads both pipes, so that lines keep the order they
            # were written in across stdout and stderr (pipes.py says why).
            task.chunks = PipeReader(proc.stdout, proc.stderr, CHUNK_QUEUE, READ_SIZE)
            pump = gevent.spawn(self._pump, task)
            timer = gevent.spawn_later(task.timeout, self._expire, task) if task.timeout else None
            code = proc.wait()
            self._end_group(task)
            self._drain(task)
            task.chunks.end()
            pump.join(timeout=self.timings.subscriber_stall + 5)
        finally:
            if timer:
                timer.kill(block=False)
            if task.chunks:
                task.chunks.stop()  # ends its thread, which closes its own copies of the pipes
            if pump:
                pump.kill(block=False)
            for pipe in (proc.stdout, proc.stderr):
                pipe.close()
            self._finish(task, code)

    def _drain(self, task):
        """Wait for the pipes' EOF. While the pump is behind (queue full) the
        output is still moving; otherwise a process that escaped the group
        (setsid) holds a pipe open, and after timings.drain_after_exit we stop reading."""
        while not task.chunks.finished.wait(self.timings.drain_after_exit):
            if not task.chunks.full():
                task.chunks.stop()
                log.warning("a process outside the task's group holds its output open; stopped reading",
                            extra={"task_id": task.id})
                return

    def _pump(self, task):
        last_flush = 0.0
        while True:
            item = task.chunks.get()
            if item is None:
                break
            self._take(task, item)
            while task.pending_bytes < BATCH_BYTES:
                wait = last_flush + BATCH_INTERVAL - time.monotonic()
                if wait <= 0:
                    break
                try:
                    item = task.chunks.get(timeout=wait)
                except gevent.queue.Empty:
                    break
                if item is None:
                    self._flush(task)
                    return
                self._take(task, item)
            self._flush(task)
            last_flush = time.monotonic()
        self._flush(task)

    def _take(self, task, item):
        """Add a chunk (bytes as read) to the batch: to its last segment when
        the stream is the same, else as a new segment (the order across
        streams is kept). A pipe's EOF marks its segment: the decoder then
        lets go of a character the script never finished."""
        stream, data, at_eof = item[0], item[1], len(item) == 3
        if task.pending and task.pending[-1][0] == stream:
            segment = task.pending[-1]
        else:
            segment = [stream, [], False]
            task.pending.append(segment)
        segment[1].append(data)
        segment[2] = at_eof
        task.pending_bytes += len(data)

    def _flush(self, task):
        """Send the batch, segment by segment, in parts of at most
        BATCH_BYTES: a binary frame to watchers that asked for one (the bytes
        as read), a `stdout`/`stderr` message to the others (its JSON made
        only if one of them is watching). Each part, decoded once (the stored
        text), is added to the output
        just before it is sent, so a watcher joining at a yield here gets it
        once (in its replay or live, never both)."""
        segments, task.pending, task.pending_bytes = task.pending, [], 0
        for stream, chunks, at_eof in segments:
            data = b"".join(chunks)
            last = max(len(data) - 1, 0) // BATCH_BYTES * BATCH_BYTES
            for start in range(0, last + 1, BATCH_BYTES):
                raw, part = task.output.decode(stream, data[start:start + BATCH_BYTES], at_eof and start == last)
                if not raw:
                    continue  # only the start of a character: it goes with the next part
                task.output.add(stream, part)
                stalled = task.topic.send({"type": stream, "task_id": task.id, "data": part},
                                          backlog=SUBSCRIBER_BACKLOG, stall=self.timings.subscriber_stall,
                                          frame=(STREAM_TAGS[stream], raw))
                for conn in stalled:  # already off the topic; they may subscribe again
                    conn.send({"type": "error", "task_id": task.id, "code": "fell_behind", "data": FELL_BEHIND})
                # A full pipe never makes the reader wait: yield here so requests
                # (and other tasks) get the hub between messages.
                gevent.sleep(0)

    def _expire(self, task):
        if task.process.poll() is None and not task.stop_reason:
            log.info("task timed out", extra={"task_id": task.id, "timeout": task.timeout})
            self._stop(task, "timed_out")

    def _finish(self, task, code):
        output = task.output
        if code is None:  # the waiter itself was killed (server stop)
            task.stop_reason = task.stop_reason or "interrupted"
        status = task.stop_reason or ("success" if code == 0 else "failed")
        ended = describe_exit(code)  # a signal is named, never stored as a negative code
        exit_code, exit_signal, finished_at = ended["code"], ended.get("signal"), time.time()
        try:
            self.history.finish(task.id, finished_at, status, exit_code, exit_signal, output.text(),
                                output.omitted > 0, output.total_bytes, task.peak_rss, task.cpu_seconds())
        finally:
            output.close(remove=True)
            self.running.pop(task.id, None)
            task.done.set()
        log.info("task finished", extra={"task_id": task.id, "script": task.script, "status": status,
                                         "exit_code": exit_code, "exit_signal": exit_signal,
                                         "output_bytes": output.total_bytes})
        task.topic.send(exit_message(task.id, status, exit_code, exit_signal, finished_at))
        self.hub.drop_topic(task.topic.name)

    # --- background work -------------------------------------------------------
    def sample_loop(self):
        """Peak RSS and CPU seconds of every running task's process group."""
        while True:
            gevent.sleep(SAMPLE_EVERY)
            if not self.running:
                continue
            groups = {t.pgid: t for t in self.running.values() if t.process}
            try:
                usage = gevent.get_hub().threadpool.apply(group_usage, (set(groups),))
            except Exception:
                log.exception("task usage sampling failed")
                continue
            for pgid, (rss, processes) in usage.items():
                groups[pgid].record_usage(rss, processes)

    def prune(self):
        return self.history.prune(self.settings.get("retention_days"), self.settings.get("retention_max_tasks"))

    def prune_loop(self):
        while True:
            try:
                self.prune()
            except Exception:
                log.exception("task history pruning failed")
            gevent.sleep(PRUNE_EVERY)

    def settings_changed(self, keys):
        if keys & {"retention_days", "retention_max_tasks"}:
            self.prune()


def with_channel(started, channel):
    """A `started` message, with the channel number of binary frames if asked for."""
    if channel is not None:
        started["channel"] = channel
    return started


def send_output(conn, task_id, channel, stream, text):
    """Replayed output to one watcher: a binary frame on its channel, or JSON."""
    if channel is None:
        conn.send({"type": stream, "task_id": task_id, "data": text})
    else:
        conn.send(binary_frame(STREAM_TAGS[stream], channel, text.encode("utf-8", "surrogatepass")))


def wants_binary(message):
    binary = message.get("binary", False)
    if not isinstance(binary, bool):
        raise Invalid("binary must be true or false")
    return binary


def group_usage(pgids):
    """{pgid: (total rss, {pid: (ppid, cpu seconds)})} for the given process
    groups; runs in a thread (a /proc scan)."""
    import psutil
    usage = {}
    for pgid, procs in group_members(pgids).items():
        total, processes = 0, {}
        for proc in procs:
            try:
                with proc.oneshot():
                    rss = proc.memory_info().rss
                    times = proc.cpu_times()
                    ppid = proc.ppid()
            except psutil.Error:
                continue
            total += rss
            processes[proc.pid] = (ppid, times.user + times.system + times.children_user + times.children_system)
        usage[pgid] = (total, processes)
    return usage


def register(app, services):
    runner = services.tasks

    def task_id_of(message):
        task_id = message.get("task_id")
        if not isinstance(task_id, str) or not task_id:
            raise Invalid("task_id is required")
        return task_id

    def ws_run(conn, message):
        user = services.hub.current_user(conn)  # re-validated on every run
        if user is None:
            return
        binary = wants_binary(message)
        task = runner.run_for(user, message)
        channel = conn.channel(task.id) if binary else None
        task.topic.add(conn, channel=channel)  # before `started` is queued; nothing yields in between
        reply = with_channel(task.started_message(), channel)
        if isinstance(message.get("ref"), str):
            reply["ref"] = message["ref"][:100]
        conn.send(reply)

    hub = services.hub
    hub.handle("run", ws_run)
    hub.handle("cancel", lambda conn, message: runner.cancel(task_id_of(message), conn.user))
    hub.handle("subscribe", lambda conn, message: runner.subscribe(conn, task_id_of(message), wants_binary(message)),
               key="task_id")
    hub.handle("unsubscribe", lambda conn, message: runner.unsubscribe(conn, task_id_of(message)), key="task_id")
    hub.on_user_change(runner.recheck_watcher)  # an admin made client stops watching others' runs

    @app.get("/api/tasks/running", role="user", scope="run")
    def running():
        return {"tasks": runner.running_tasks(current_user())}
