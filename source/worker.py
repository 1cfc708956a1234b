"""The worker loop: claim a row, run its handler in a task thread, keep the lease alive, report.

The main thread never runs handler code. While a task runs it waits on the task thread in short slices,
renewing the lease between them, so the lease keeps beating during long GPU calls, and it stays free to
react to signals:

- first SIGTERM/SIGINT: claim nothing more; the running task may finish within the grace period, else it
  is told to stop (its next progress report raises TaskCancelled) and the row goes back to `Queued`
  without counting the attempt;
- second signal: the row goes back at once and the process exits;
- a signal while idle ends the wait for new work at once.

Once the row is given back, the process waits at most `EXIT_AFTER_LOST_TASK_S` for the task thread to
stop at its next step (its progress report raises TaskCancelled); a thread inside one long call (a model
load, one render step on a CPU) is left behind and the process exits without it.

The queue is wrapped in a ReconnectingQueue (queue/reconnecting.py): while the database is away the
worker waits for it (one log line when it goes, one when it is back) and a finished result is written
once it returns. A task that fails because this worker cannot run it (a module missing: ImportError,
BrokenEnvironment) goes back to the queue and the worker stops with exit code 3.

A machine fault (disk full or read-only, an I/O error, the output folder gone: errors.is_machine_fault) is
not the task's: the row goes back without counting the attempt, the worker logs one line, claims nothing
and re-runs its self-check with back-off (1 s, 2 s, ... up to a minute), and resumes when it passes, or
exits with code 3 after MACHINE_FAULT_GIVE_UP_SECONDS. Tasks failing SAME_FAILURE_LIMIT times in a row
with the same error (not a params error) stop the worker (code 3) before it fails the whole queue.
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import threading
import time
import traceback
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .config import Settings
from .errors import (
    EXIT_BROKEN,
    TaskCancelled,
    TransientError,
    describe,
    explain_environment_error,
    is_broken_environment,
    is_machine_fault,
    is_transient,
    is_user_error,
)
from .log import task_logging
from .media.posters import write_poster
from .memory import release_memory
from .queue.base import TaskQueue
from .queue.model import Claim, Task
from .queue.reconnecting import ReconnectingQueue, StoppedWaiting
from .retry import TASK_RETRY
from .storage.outputs import publish_output, safe_name
from .tasks.context import Done, FanOut, TaskContext
from .workflows import workdirs
from .workflows.registry import get_handler, parse_params

# what the last progress message of a row made on the preview engine ends with
PREVIEW_NOTE = " (preview engine: no model)"
PROGRESS_MESSAGE_MAX = 200   # characters of a progress message written to the row
log = logging.getLogger("worker")

PROGRESS_MIN_INTERVAL_S = 0.5      # progress writes are throttled to this
SWEEP_INTERVAL_S = 5.0             # how often an idle or busy worker reclaims expired leases
RUN_FOLDER_SWEEP_S = 600.0         # how often it removes work folders of runs that ended elsewhere
EXIT_AFTER_LOST_TASK_S = 1.0       # after the row is given back, how long to wait for the thread
FAULT_RECHECK_FIRST_S = 1.0        # after a machine fault, the self-check runs again after 1 s, 2 s, 4 s, ...
FAULT_RECHECK_MAX_S = 60.0


def make_worker_id(prefix: Optional[str]) -> str:
    """Unique per process start, so a restarted worker never passes for its former self."""
    base = prefix or socket.gethostname().split(".")[0] or "worker"
    return f"{base}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class _StopWaiting(BaseException):
    """Raised by the signal handler into the idle wait for new work, so an idle worker stops at once (a
    BaseException, like KeyboardInterrupt: no `except Exception` on the way swallows it)."""


@dataclass
class _Outcome:
    result: object = None
    error: Optional[BaseException] = None
    trace: str = ""


class Worker:
    def __init__(self, settings: Settings, queue: TaskQueue | ReconnectingQueue, worker_id: Optional[str] = None):
        self.settings = settings
        self.worker_id = worker_id or make_worker_id(settings.worker_id)
        self.stop_requested = threading.Event()
        self.stop_now = threading.Event()
        # the worker's queue: the worker side (claim, renew, progress, finish, give back) that waits out outages
        self.queue: ReconnectingQueue = queue if isinstance(queue, ReconnectingQueue) else ReconnectingQueue(
            queue, stop_waiting=self.stop_requested, stop_writing=self.stop_now)
        self.exit_code = 0
        self._stop_deadline: Optional[float] = None
        self._last_sweep = 0.0
        self._last_folder_sweep: Optional[float] = None
        self._last_model: Optional[str] = None
        self.tasks_run = 0           # tasks that ended here (complete, failed, fanned out, stopped)
        self.tasks_given_back = 0    # tasks handed back to the queue at shutdown
        self.running = False         # a task is running now
        self._idle = False           # the main thread waits for new work (a signal may cut it short)
        self.current_task: Optional[Task] = None  # the row being run (the workers registry shows it)
        self.abandoned_task = False  # a given-back task whose thread is still running
        self.machine_fault: Optional[str] = None   # a fault of this machine: nothing is claimed until it passes
        self._fault_since = 0.0
        self._failures_in_a_row: tuple[str, int] = ("", 0)  # the last failure's message, and how often
        self._folders_before: list = []   # the output and work folders that existed when the task started
        # One long-lived thread runs every handler: models loaded by one task stay usable by the next,
        # and the queue backends' per-thread connections are opened once, not once per task.
        self._task_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="task")

    # ---- signals -------------------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum, _frame) -> None:
        name = signal.Signals(signum).name
        if self.stop_requested.is_set():
            if self.running:
                log.warning("second %s: giving the running task back now", name)
            self.stop_now.set()
            return
        if self.running:
            log.info("%s: no new tasks; the running task may finish within %.0f s", name,
                     self.settings.shutdown_grace_seconds)
        else:
            log.info("%s: stopping (no task is running)", name)
        self._stop_deadline = time.monotonic() + self.settings.shutdown_grace_seconds
        self.stop_requested.set()
        if self._idle:
            raise _StopWaiting()

    # ---- the loop ------------------------------------------------------------------------------
    def run(self, once: bool = False, until_idle: bool = False) -> int:
        """Serve tasks until stopped (or after one task with `once`, or when idle with `until_idle`)."""
        log.info("worker %s started (db %s, engine %s)", self.worker_id, self.settings.db_type,
                 self.settings.engine)
        task_types = self.settings.task_type_list
        while not self.stop_requested.is_set():
            try:
                if self._serve_once(task_types, once, until_idle):
                    break
            except StoppedWaiting as exc:
                log.warning("stopping while the database is away (%s)", exc)
                self.abandoned_task = True  # a task thread may still run: do not wait for it at exit
                break
        given_back = f" ({self.tasks_given_back} given back to the queue)" if self.tasks_given_back else ""
        log.info("worker %s stopped after %d task(s)%s", self.worker_id, self.tasks_run, given_back)
        self._task_thread.shutdown(wait=False, cancel_futures=True)
        _stop_engine_processes()
        return self.exit_code

    def _serve_once(self, task_types: Optional[list[str]], once: bool, until_idle: bool) -> bool:
        """Claim and run one task, or wait for one. True when the loop should end."""
        if self.machine_fault is not None:
            return self._wait_out_machine_fault()
        self._maybe_sweep()
        claim = self.queue.claim(self.worker_id, self.settings.lease_seconds, task_types,
                                 prefer_model=self._last_model)
        if claim is not None:
            self.current_task = claim.task
            try:
                self.execute(claim)
            finally:
                self.current_task = None
                release_memory()  # the task's frames are freed; give their pages back (source/memory.py)
            return once
        if (once or until_idle) and self.queue.pending_count(task_types) == 0:
            log.info("queue idle; exiting")
            return True
        wait = self.settings.poll_interval
        if once or until_idle:
            wait = min(wait, 1.0)  # someone else's leased row may free work at any moment
        self._idle = True
        try:
            self.queue.wait_for_change(min(wait, SWEEP_INTERVAL_S))
            self._idle = False
        except _StopWaiting:  # a signal while idle: stop now, not when the wait ends
            pass
        self._idle = False
        return False

    def _maybe_sweep(self) -> None:
        now = time.monotonic()
        if now - self._last_sweep >= SWEEP_INTERVAL_S:
            self._last_sweep = now
            swept = self.queue.sweep_expired()
            if swept:
                log.warning("reclaimed %d row(s) whose worker was lost", swept)
        if self._last_folder_sweep is None or now - self._last_folder_sweep >= RUN_FOLDER_SWEEP_S:
            self._last_folder_sweep = now
            try:
                workdirs.sweep_ended_runs(self.queue, self.settings)
            except Exception as exc:  # only tidying
                log.warning("run folders not checked: %s", exc)

    # ---- one task ------------------------------------------------------------------------------
    def execute(self, claim: Claim) -> None:
        task = claim.task
        model = task.params.get("model") or task.params.get("model_name")
        self._last_model = model if isinstance(model, str) else self._last_model
        with task_logging(task.id):
            log.info("claimed %s (attempt %d/%d)", task.task_type, claim.attempt, task.max_attempts)
            ctx = self._context(claim)
            self._folders_before = [p for p in (self.settings.output_path, self.settings.work_path) if p.is_dir()]
            outcome = _Outcome()
            started = time.monotonic()
            future = self._task_thread.submit(self._run_handler, ctx, outcome)
            self.running = True
            try:
                if self._supervise(claim, ctx, future) or self._finish(claim, ctx, outcome,
                                                                       time.monotonic() - started):
                    self.tasks_given_back += 1
                    return
                self.tasks_run += 1
                self._cleanup_run_dir(ctx)
            finally:
                self.running = False

    def _context(self, claim: Claim) -> TaskContext:
        """The handler's context; its params are validated on the task thread (`_run_handler`)."""
        ctx = TaskContext(task=claim.task, claim=claim, params=None, settings=self.settings, queue=self.queue)
        last_write = [0.0]
        held: list = []  # the last report the throttle held back
        said = [""]      # the handler's last word, written or held

        def report(progress: float, message: str) -> None:
            said[0] = message
            now = time.monotonic()
            if progress < 1.0 and now - last_write[0] < PROGRESS_MIN_INTERVAL_S:
                held[:] = [(progress, message)]
                return
            held.clear()
            last_write[0] = now
            try:
                owned = self.queue.set_progress(claim, max(0.0, min(1.0, float(progress))), message[:PROGRESS_MESSAGE_MAX])
            except Exception as exc:  # progress is best-effort: a database blip must not fail the task
                log.warning("progress not recorded: %s", exc)
                return
            if not owned:
                ctx.lost.set()
                raise TaskCancelled(f"task {claim.task_id} was cancelled or lost its lease")

        def flush() -> None:
            """Write the report the throttle held back, so the row keeps the handler's last word."""
            if held:
                last_write[0] = 0.0
                report(*held[0])

        report.flush = flush
        report.last = lambda: said[0]
        ctx.progress_sink = report
        ctx.claim_check = lambda: self._claim_confirmed(claim)
        return ctx

    def _claim_confirmed(self, claim: Claim) -> bool:
        """Whether the database, asked now, says this attempt still holds its row (False while it cannot
        be asked: a file is published only on a yes)."""
        try:
            owned = self.queue.heartbeat(claim, self.settings.lease_seconds)
        except Exception:
            return False
        return owned and self.queue.outage.away_since is None

    def _run_handler(self, ctx: TaskContext, outcome: _Outcome) -> None:
        with task_logging(ctx.task.id):
            try:
                handler = get_handler(ctx.task.task_type)
                ctx.params = parse_params(ctx.task.task_type, ctx.task.params, self.settings)
                if ctx.params.ignored_keys:
                    self._report_ignored_keys(ctx)
                result = handler(ctx)
                ctx.progress_sink.flush()
                if isinstance(result, Done):
                    # publishing (an upload in Supabase mode) happens here, on the task thread, so the
                    # main thread keeps the lease alive however long it takes
                    ctx.check_cancelled()
                    output = result.output_location
                    is_file = output is not None and "://" not in output and os.path.exists(output)
                    if is_file and ctx.claim_check is not None and not ctx.claim_check():  # a late attempt's file is not published
                        ctx.lost.set()
                        raise TaskCancelled(f"task {ctx.task.id}: this attempt no longer holds its claim; its "
                                            "output is not published")
                    poster = self._publish_poster(ctx, result.output_location)
                    result = Done(publish_output(self.settings, ctx.task.id, result.output_location))
                    if poster is not None:
                        self.queue.record_thumbnail(ctx.claim, poster)
                outcome.result = result
            except BaseException as exc:  # the worker must survive any handler error
                outcome.error = exc
                outcome.trace = traceback.format_exc()

    def _publish_poster(self, ctx: TaskContext, location: Optional[str]) -> Optional[str]:
        """A video output's poster (first frame, small JPEG beside it) published like the output; its
        location goes into params.thumbnail_url. A poster that cannot be made is only logged."""
        if not location or "://" in location or not Path(location).is_file():
            return None
        try:
            poster = write_poster(location)
            return publish_output(self.settings, ctx.task.id, str(poster)) if poster is not None else None
        except Exception as exc:
            log.warning("no poster for %s: %s", Path(location).name, exc)
            return None

    def _report_ignored_keys(self, ctx: TaskContext) -> None:
        """Params keys the task type does not use: a log line (with the closest known names) and the
        row's ignored_keys, where `add_task.py --status`, `steerable_motion.py status` and apps see them."""
        log.warning("params not used by %s (ignored): %s", ctx.task.task_type,
                    "; ".join(ctx.params.ignored_key_hints()))
        try:
            self.queue.record_ignored_keys(ctx.claim, ctx.params.ignored_keys)
        except Exception as exc:  # the record is best-effort: the task runs either way
            log.warning("ignored keys not recorded on the row: %s", exc)

    def _supervise(self, claim: Claim, ctx: TaskContext, future: Future) -> bool:
        """Beat the lease until the task ends. True when the row was given back (shutdown)."""
        beat = max(0.05, min(self.settings.lease_seconds / 3.0, 10.0))
        next_beat = time.monotonic() + beat
        confirmed = time.monotonic()  # the last renewal the database itself answered
        while not future.done():
            try:
                future.result(timeout=0.05)
                break
            except FutureTimeout:
                pass
            if self.stop_now.is_set() or (
                self._stop_deadline is not None and time.monotonic() > self._stop_deadline
            ):
                return self._give_back(claim, ctx, future)
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + beat
                try:
                    if not self.queue.heartbeat(claim, self.settings.lease_seconds):
                        if not ctx.lost.is_set():
                            log.warning("row is no longer ours (cancelled, or lease taken over); stopping")
                        ctx.lost.set()
                    elif self.queue.outage.away_since is None:
                        confirmed = time.monotonic()
                except Exception as exc:  # a blip in the database must not kill the task
                    log.warning("heartbeat failed: %s", exc)
                if time.monotonic() - confirmed > self.settings.lease_seconds and not ctx.lost.is_set():
                    # unrenewed past its length, the lease has certainly expired: another worker may run
                    # the row now; this attempt stops at its next step rather than finish blind
                    log.warning("no renewal confirmed for %.0f s (longer than the lease): stopping at the next "
                                "step", time.monotonic() - confirmed)
                    ctx.lost.set()
        return False

    def _give_back(self, claim: Claim, ctx: TaskContext, future: Future) -> bool:
        ctx.lost.set()
        if self.queue.release(claim):
            log.info("shutdown: row given back to the queue (attempt not counted)")
        try:
            future.result(timeout=EXIT_AFTER_LOST_TASK_S)
        except FutureTimeout:
            log.warning("the task did not stop within %.0f s (it is inside one long call: a model load or a "
                        "render step); exiting without it", EXIT_AFTER_LOST_TASK_S)
            self.abandoned_task = True
        except Exception:
            pass
        self.stop_requested.set()
        return True

    def _finish(self, claim: Claim, ctx: TaskContext, outcome: _Outcome, seconds: float) -> bool:
        """Record how the task ended. True when the row was given back instead (this worker cannot run it)."""
        task = claim.task
        error = outcome.error
        if error is None and isinstance(outcome.result, FanOut):
            if self.queue.fan_out(claim, list(outcome.result.children), outcome.result.awaited_task_id):
                log.info("fanned out %d row(s); waiting for %s", len(outcome.result.children),
                         outcome.result.awaited_task_id)
                self._cleanup_task_dir(ctx)
            else:
                log.warning("fan-out discarded: the row is no longer ours")
            return False
        if error is None:
            location = outcome.result.output_location if isinstance(outcome.result, Done) else None
            if location is not None and self.settings.engine == "preview":
                # the row (and the run, whose root shows its last child's message) keeps saying so
                last = getattr(ctx.progress_sink, "last", lambda: "")()
                # the handler's words are shortened, never the start of them ("warning: ..." stays one)
                said = last[:PROGRESS_MESSAGE_MAX - len(PREVIEW_NOTE)] if last else "done"
                self.queue.set_progress(claim, 1.0, said + PREVIEW_NOTE)
            if self.queue.complete(claim, location):
                if location is None:
                    log.info("complete in %.2f s (no output)", seconds)
                else:
                    log.info("complete in %.2f s: %s", seconds, location)
                self._cleanup_task_dir(ctx)
            else:
                log.warning("result discarded: the row is no longer ours (%s)", location)
            return False
        if isinstance(error, TaskCancelled) or ctx.lost.is_set():
            log.info("stopped: the row was cancelled or taken over")
            return False
        if is_broken_environment(error):
            log.error("this worker cannot run %s: %s; the row goes back to the queue and the worker stops",
                      task.task_type, explain_environment_error(error))
            self.queue.release(claim)
            self.exit_code = EXIT_BROKEN
            self.stop_requested.set()
            return True
        if is_machine_fault(error) or (isinstance(error, OSError) and _folders_gone(self._folders_before)):
            self.machine_fault = describe(error, max_lines=1)
            self._fault_since = time.monotonic()
            given_back = self.queue.release(claim)
            log.error("machine fault: %s; %s; this worker claims nothing until its self-check passes",
                      self.machine_fault, "the row goes back to the queue (attempt not counted)" if given_back
                      else "the row is no longer ours")
            return True
        message = describe(error)
        transient = is_transient(error)
        if self.settings.debug or not (is_user_error(error) or isinstance(error, TransientError)):
            log.error("failed: %s\n%s", message, outcome.trace.rstrip())
        else:
            log.error("failed: %s", message)
        delay = TASK_RETRY.delay(max(1, claim.attempt))  # the queue waits it out before the next attempt
        if not self.queue.fail(claim, message, retry=transient, retry_delay_seconds=delay):
            log.warning("failure not recorded: the row is no longer ours")
        self._count_failure(error, message)
        return False

    def _count_failure(self, error: BaseException, message: str) -> None:
        """The same error again and again (not the params' fault) is this worker's: stop before every row
        of the queue has failed with it."""
        if is_user_error(error):
            self._failures_in_a_row = ("", 0)
            return
        last, count = self._failures_in_a_row
        count = count + 1 if message == last else 1
        self._failures_in_a_row = (message, count)
        if count >= self.settings.same_failure_limit:
            log.error("%d tasks in a row failed with the same error (%s): this worker stops claiming and exits "
                      "(SAME_FAILURE_LIMIT)", count, message.splitlines()[0])
            self.exit_code = EXIT_BROKEN
            self.stop_requested.set()

    def _wait_out_machine_fault(self) -> bool:
        """Re-run the self-check with back-off until it passes (False: claim again) or the time set by
        MACHINE_FAULT_GIVE_UP_SECONDS is over (True: the worker exits with code 3)."""
        from .selfcheck import SelfCheckFailed, run_selfcheck

        delay, reason = FAULT_RECHECK_FIRST_S, self.machine_fault
        while not self.stop_requested.is_set():
            waited = time.monotonic() - self._fault_since
            if waited >= self.settings.machine_fault_give_up_seconds:
                log.error("the machine fault did not pass in %.0f s (%s); exiting so that a supervisor can "
                          "restart this worker (MACHINE_FAULT_GIVE_UP_SECONDS)", waited, reason)
                self.exit_code = EXIT_BROKEN
                return True
            self._idle = True
            try:
                self.stop_requested.wait(min(delay, self.settings.machine_fault_give_up_seconds - waited))
            except _StopWaiting:
                return True
            finally:
                self._idle = False
            delay = min(delay * 2, FAULT_RECHECK_MAX_S)
            try:
                run_selfcheck(self.settings, self.queue)
            except SelfCheckFailed as exc:
                if str(exc) != reason:  # one line per new reason, not one per try
                    reason = str(exc)
                    log.warning("self-check still fails: %s", reason)
                continue
            except Exception as exc:  # a database blip while checking: try again later
                log.debug("self-check not run: %s", exc)
                continue
            log.info("self-check passes again after %.0f s; claiming resumes", time.monotonic() - self._fault_since)
            self.machine_fault = None
            return False
        return True

    def _cleanup_run_dir(self, ctx: TaskContext) -> None:
        """The run's work folder goes if this task's end ended the run (source/workflows/workdirs.py)."""
        try:
            workdirs.remove_if_ended(self.queue, self.settings, ctx.task.run_id,
                                     keep=ctx.params is not None and ctx.params.keeps_work_folder)
        except Exception as exc:  # only tidying: a database blip leaves the folder for the next sweep
            log.warning("run folder not checked: %s", exc)

    def _cleanup_task_dir(self, ctx: TaskContext) -> None:
        """A finished task's own work folder goes, unless debugging (final artefacts live elsewhere)."""
        if self.settings.debug:
            return
        folder = ctx.work_dir / "tasks"
        path = folder / safe_name(ctx.task.id)
        if path.is_dir() and path.resolve().parent == folder.resolve():
            shutil.rmtree(path, ignore_errors=True)


def _folders_gone(folders: list) -> bool:
    """An output or work folder that existed when the task started is gone (its mount went away): an
    OSError is then the machine's."""
    return any(not folder.is_dir() for folder in folders)


def _stop_engine_processes() -> None:
    """wan2gp engine: its helper process lives as long as the worker, not longer."""
    import sys

    if "source.engines.wan2gp" in sys.modules:  # only if a render could have started one
        from .engines.wan2gp import stop_helper

        stop_helper()
