"""The queue as a worker uses it: a database that goes away is an outage to wait out, not a crash.

`ReconnectingQueue` wraps any backend. When a call raises DatabaseUnavailable (a lost or refused
PostgreSQL connection, PostgREST or its gateway unreachable, SQLite locked or failing I/O), the call is
tried again with back-off (50 ms doubling to 1 s, jittered) until the database answers. One line is
logged when the database goes away and one when it is back, however many tries it took.

What each operation does while the database is away:

- claim: retried. A claim whose answer was lost may have taken a row; the row carries this worker's id
  (unique per process start), so the next try first asks for the rows this worker holds
  (`claimed_by`) and takes that one up, instead of leaving it held until its lease runs out.
- complete, fail, fan_out: retried until they land or the fence says the row is no longer ours (the
  fence makes the retry safe). When an earlier try may have landed, a "not ours" answer is checked
  against the row: our own write, already there, counts as landed.
- heartbeat, set_progress: tried once; while the database is away the running task keeps running
  (the owner is unknown, so True is returned) and the fenced final write decides, as when a lease is lost.
- wait_for_change: waits one back-off step and returns (the claim that follows does the waiting).
- set-up, the sweep, counts and reads (`RETRIED`): retried.
- the workers registry and the read-only views of the fleet: passed through, not retried (a beat missed
  in an outage is made up by the next one; the presence thread logs nothing per failed beat).

The operations with a rule of their own are methods here; the others are wrapped by name (`RETRIED`,
`ADVISORY`) in `__getattr__`, so a method added to the interface (source/queue/base.py) needs a line here
only when a lost database should not simply pass its error on.

The worker hands in two events: once `stop_waiting` is set, calls made while idle (claim, sweep,
counts) stop waiting for the database and raise StoppedWaiting; once `stop_writing` is set, so do the
final writes of a task (a result then waits for its lease to expire and runs again).
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import threading
import time
from typing import Any, Callable, Optional, Sequence, TypeVar

from ..errors import TransientError
from ..retry import Backoff, retrying
from .base import TaskQueue
from .model import Claim, DatabaseUnavailable, NewTask, QueueError, Status, Task

log = logging.getLogger("queue")

T = TypeVar("T")

# until the database answers: 50 ms doubling to 1 s (recovery after it returns takes at most about
# that long), each wait shortened by up to half at random so a fleet does not come back in step
RECONNECT = Backoff(attempts=None, first_delay=0.05, max_delay=1.0, jitter=0.5)
BACKOFF_MAX_S = RECONNECT.max_delay
RELEASE_GIVE_UP_S = 10.0      # giving a row back is a courtesy: its lease expires anyway

# Retried until the database answers, and the event that ends the wait: calls made while idle stop waiting
# once the worker stops (`stop_waiting`), reads a task makes once it must stop at once (`stop_writing`).
RETRIED = {"migrate": "stop_waiting", "schema_version": "stop_waiting", "pending_count": "stop_waiting",
           "claimed_by": "stop_waiting", "sweep_expired": "stop_waiting",
           "get": "stop_writing", "list_run": "stop_writing", "cancel": "stop_writing",
           "retry": "stop_writing", "requeue_expired": "stop_writing"}
# Advisory writes, tried once: while the database is away the owner is unknown, so True.
ADVISORY = ("heartbeat", "set_progress", "record_ignored_keys", "record_thumbnail")


class StoppedWaiting(QueueError, TransientError):
    """The worker is stopping and the database is away: the call was given up."""


class OutageLog:
    """One line when the database goes away, one when it is back (shared by the worker's threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.away_since: Optional[float] = None
        self.outages = 0

    def away(self, exc: BaseException) -> None:
        with self._lock:
            if self.away_since is None:
                self.away_since = time.monotonic()
                self.outages += 1
                log.warning("database unavailable: %s; retrying until it is back", exc)

    def back(self) -> None:
        if self.away_since is None:
            return
        with self._lock:
            if self.away_since is not None:
                log.warning("database back after %.1f s", time.monotonic() - self.away_since)
                self.away_since = None


class ReconnectingQueue:
    """A queue (any `TaskQueue`) that waits out outages; it serves `WorkerQueue`, `QueueClient`,
    `QueueReader`, `WorkerRegistry` and `QueueSetup` (source/queue/base.py)."""

    def __init__(self, queue: TaskQueue, stop_waiting: Optional[threading.Event] = None,
                 stop_writing: Optional[threading.Event] = None) -> None:
        self.queue = queue
        self.stop_waiting = stop_waiting or threading.Event()
        self.stop_writing = stop_writing or threading.Event()
        self.outage = OutageLog()

    # ---- the retry loop ---------------------------------------------------------------------------
    def _retry(self, operation: Callable[[], T], stop: threading.Event, give_up_after: Optional[float] = None,
               on_unavailable: Callable[[DatabaseUnavailable], None] = lambda exc: None) -> T:
        """`operation()` until it does not raise DatabaseUnavailable (the `RECONNECT` policy). StoppedWaiting
        once `stop` is set (or `give_up_after` seconds passed) while the database is still away."""
        def should_retry(exc: BaseException) -> bool:
            if not isinstance(exc, DatabaseUnavailable):
                return False
            self.outage.away(exc)
            on_unavailable(exc)
            return not stop.is_set()

        policy = dataclasses.replace(RECONNECT, deadline=give_up_after)
        try:
            result = retrying(operation, policy, should_retry=should_retry, sleep=stop.wait, announce=False)
        except DatabaseUnavailable as exc:
            raise StoppedWaiting(f"gave up waiting for the database: {exc}") from None
        self.outage.back()
        return result

    def _once(self, operation: Callable[[], bool]) -> bool:
        """One try of an advisory write; while the database is away the owner is unknown: True."""
        try:
            result = operation()
        except DatabaseUnavailable as exc:
            self.outage.away(exc)
            return True
        self.outage.back()
        return result

    def _final_write(self, operation: Callable[[], bool], landed: Callable[[Task], bool], claim: Claim,
                     give_up_after: Optional[float] = None) -> bool:
        """A fenced write retried until it lands; False only when the row is no longer ours."""
        maybe_landed = [False]

        def noticed(exc: DatabaseUnavailable) -> None:
            maybe_landed[0] = maybe_landed[0] or exc.maybe_applied

        if self._retry(operation, self.stop_writing, give_up_after, noticed):
            return True
        if not maybe_landed[0]:
            return False
        row = self._retry(lambda: self.queue.get(claim.task_id), self.stop_writing, give_up_after)
        return row is not None and landed(row)

    # ---- clients ----------------------------------------------------------------------------------
    def enqueue(self, tasks: Sequence[NewTask]) -> list[str]:
        tasks = list(tasks)  # ids are fixed before the first try, so a retry inserts nothing twice
        answer_lost = [False]

        def noticed(exc: DatabaseUnavailable) -> None:
            answer_lost[0] = answer_lost[0] or exc.maybe_applied

        def attempt() -> list[str]:
            # one transaction: when the lost answer's rows are all there, that try landed (a retry would be
            # refused as "already exists")
            if answer_lost[0] and all(self.queue.get(task.id) is not None for task in tasks):
                return [task.id for task in tasks]
            return self.queue.enqueue(tasks)

        return self._retry(attempt, self.stop_writing, on_unavailable=noticed)

    # ---- workers ----------------------------------------------------------------------------------
    def claim(self, worker_id: str, lease_seconds: float, task_types: Optional[Sequence[str]] = None,
              prefer_model: Optional[str] = None) -> Optional[Claim]:
        answer_lost = [False]

        def noticed(exc: DatabaseUnavailable) -> None:
            answer_lost[0] = answer_lost[0] or exc.maybe_applied

        def attempt() -> Optional[Claim]:
            if answer_lost[0]:
                held = self.queue.claimed_by(worker_id)
                if held:
                    log.info("the answer to a claim was lost; taking up %s, which it claimed", held[0].id)
                    return Claim(task=held[0], worker_id=worker_id, attempt=held[0].attempts)
            return self.queue.claim(worker_id, lease_seconds, task_types, prefer_model)

        return self._retry(attempt, self.stop_waiting, on_unavailable=noticed)

    def complete(self, claim: Claim, output_location: Optional[str]) -> bool:
        return self._final_write(
            lambda: self.queue.complete(claim, output_location),
            lambda row: (row.status == Status.COMPLETE and row.worker_id == claim.worker_id
                         and row.attempts == claim.attempt and row.output_location == output_location),
            claim)

    def fail(self, claim: Claim, error_message: str, retry: bool = False,
             retry_delay_seconds: float = 0.0) -> bool:
        return self._final_write(
            lambda: self.queue.fail(claim, error_message, retry, retry_delay_seconds),
            lambda row: (row.status in (Status.FAILED, Status.QUEUED) and row.attempts == claim.attempt
                         and row.error_message == error_message),
            claim)

    def release(self, claim: Claim) -> bool:
        return self._final_write(
            lambda: self.queue.release(claim),
            lambda row: row.status == Status.QUEUED and row.attempts == claim.attempt - 1,
            claim, give_up_after=RELEASE_GIVE_UP_S)

    def fan_out(self, claim: Claim, children: Sequence[NewTask], awaited_task_id: str) -> bool:
        children = list(children)
        return self._final_write(
            lambda: self.queue.fan_out(claim, children, awaited_task_id),
            lambda row: (row.awaiting_task_id == awaited_task_id and row.worker_id == claim.worker_id
                         and row.attempts == claim.attempt),
            claim)

    # ---- waking up --------------------------------------------------------------------------------
    def wait_for_change(self, timeout: float) -> None:
        try:
            self.queue.wait_for_change(timeout)
        except DatabaseUnavailable as exc:
            self.outage.away(exc)
            self.stop_waiting.wait(min(max(0.0, timeout), BACKOFF_MAX_S))
            return
        self.outage.back()

    # ---- everything else, by name ------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        """The wrapped queue's `name`: retried (`RETRIED`), tried once (`ADVISORY`), or as it is (the
        workers registry, the read-only views, `close`, a backend's own attributes such as `target`)."""
        if name == "queue":  # not set yet (a copy being made): no wrapped queue to look in
            raise AttributeError(name)
        target = getattr(self.queue, name)
        if name in RETRIED:
            stop: threading.Event = getattr(self, RETRIED[name])

            @functools.wraps(target)
            def retried(*args: Any, **kwargs: Any) -> Any:
                return self._retry(lambda: target(*args, **kwargs), stop)
            return retried
        if name in ADVISORY:
            @functools.wraps(target)
            def once(*args: Any, **kwargs: Any) -> bool:
                return self._once(lambda: target(*args, **kwargs))
            return once
        return target
