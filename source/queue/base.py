"""The queue interface every backend implements (sqlite, postgres, supabase), in narrow parts.

Each part is what one kind of caller needs, so a caller names only the part it uses:

- `WorkerQueue`: the worker loop (source/worker.py): claim, renew (`heartbeat`), progress, finish
  (`complete`, `fail`, `fan_out`), give back (`release`), and the sweep and wait around them.
- `QueueClient`: the commands that queue and cancel rows (`add_task.py`, `steerable_motion.py`).
- `QueueReader`: the read side: a row, a run, status, `runs`, the dashboard and `/metrics`.
- `WorkerRegistry`: a worker's presence (source/fleet.py).
- `QueueSetup`: migrations and closing.

`TaskQueue` is all of them: what a backend implements. The parts are protocols, so a wrapper such as
`ReconnectingQueue` (reconnecting.py) serves them without declaring every method again.

Domain words only; how each backend does it lives in its module and its SQL.

Fencing: every write a worker makes after a claim takes the `Claim` and applies only while the row is
still `In Progress` with that `worker_id` and that `attempts` value. Such writes return False (and
change nothing) when the worker no longer owns the attempt: the lease expired and the row was re-run,
or the row was cancelled. A worker treats False as "stop working on this".
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Optional, Protocol, Sequence

from .fleet import (
    DurationBucket,
    EventCount,
    FleetOverview,
    RunFilter,
    RunSummary,
    StatusCount,
    WorkerBeat,
    WorkerInfo,
    WorkerRecord,
)
from .model import Claim, NewTask, Task


@dataclass(frozen=True)
class Migration:
    """What `migrate()` did: the schema version before (None: there was none), after, and the versions
    applied by this call (none: the schema was already current, or was only checked)."""

    before: Optional[int]
    after: Optional[int]
    applied: tuple[int, ...] = ()
    original_rows: Optional[int] = None   # rows copied from a legacy queue (seed_upgrade.py), when upgraded

    def __str__(self) -> str:
        if self.original_rows is not None:
            return (f"the original tool's queue upgraded to schema version {self.after} "
                    f"({self.original_rows} row(s) kept)")
        if not self.applied:
            return f"queue schema is current (version {self.after})"
        if self.before is None:
            return f"queue schema created (version {self.after})"
        return f"queue schema upgraded from version {self.before} to {self.after}"


class QueueSetup(Protocol):
    """The schema and the connections (every command, once)."""

    @abstractmethod
    def migrate(self) -> Migration:
        """Create or upgrade the schema (idempotent, versioned); say what was done."""

    @abstractmethod
    def schema_version(self) -> Optional[int]:
        """The newest migration applied to this database (None: no schema)."""

    def close(self) -> None:
        """Release connections."""


class QueueClient(Protocol):
    """Queueing and cancelling rows (the commands)."""

    @abstractmethod
    def enqueue(self, tasks: Sequence[NewTask]) -> list[str]:
        """Insert rows in one transaction and return their ids.

        Dependencies must name rows that exist (in the database or earlier in `tasks`), else
        InvalidTask and nothing is written. An id that already exists (or comes twice in `tasks`) is
        InvalidTask "a task with id X already exists", nothing written (fan-out, by contrast, leaves
        an existing id as it is). A row that depends on a Failed/Cancelled row ends the same way at once.
        """

    @abstractmethod
    def cancel(self, task_id: str, reason: str = "cancelled by user") -> int:
        """Cancel a row that has not ended (Queued or In Progress), the rows it fanned out
        (parent_task_id), and, transitively, every row depending on any of them. Returns how many rows
        changed. A running row's worker notices through its next fenced write."""

    @abstractmethod
    def retry(self, task_id: str, note: str = "retried") -> int:
        """Put back a row that ended Failed or Cancelled, with every Failed/Cancelled row that ended
        through it or with it (its dependants, orchestrators awaiting it, rows it or they fanned out,
        transitively): attempts reset, ids, params, Complete rows' outputs and the last error kept; an
        orchestrator that had fanned out waits again, any other row is Queued with `note` as its
        progress message. Returns how many rows changed (0: the row had not ended that way)."""

    @abstractmethod
    def requeue_expired(self, task_id: str, note: str = "requeued") -> int:
        """A row In Progress whose lease has expired (its worker is gone) is Queued again now, without
        waiting for a sweep; the attempt counts. Returns 1, or 0 when the row is not such a row."""


class WorkerQueue(Protocol):
    """The worker loop's words: claim, renew (`heartbeat`), progress, finish (`complete`, `fail`,
    `fan_out`), give back (`release`); and the sweep of lost leases and the wait for work around them."""

    @abstractmethod
    def claim(
        self,
        worker_id: str,
        lease_seconds: float,
        task_types: Optional[Sequence[str]] = None,
        prefer_model: Optional[str] = None,
    ) -> Optional[Claim]:
        """Atomically take the best eligible row: Queued, not scheduled for later, all dependencies
        Complete; priority desc then created_at asc (rows whose params.model == prefer_model first
        among equals is allowed). Sets worker_id, attempts+1, started_at, lease. None if nothing."""

    @abstractmethod
    def claimed_by(self, worker_id: str) -> list[Task]:
        """Rows In Progress under a lease held by `worker_id`, newest first. A worker that sent a claim
        and lost the answer finds here the row it holds (worker ids are unique per process start)."""

    @abstractmethod
    def heartbeat(self, claim: Claim, lease_seconds: float) -> bool:
        """Extend the lease. False: no longer the owner."""

    @abstractmethod
    def set_progress(self, claim: Claim, progress: float, message: str = "") -> bool:
        """Record progress 0..1 and a short message (also extends nothing). False: no longer owner."""

    @abstractmethod
    def record_ignored_keys(self, claim: Claim, keys: Sequence[str]) -> bool:
        """Record on the row the keys of its params that its task type does not use (`ignored_keys`;
        none: cleared). False: no longer the owner."""

    @abstractmethod
    def record_thumbnail(self, claim: Claim, thumbnail_url: str) -> bool:
        """params.thumbnail_url: the poster of the output (recorded just before `complete`; awaiting
        orchestrators take it when they complete). False: no longer the owner."""

    @abstractmethod
    def complete(self, claim: Claim, output_location: Optional[str]) -> bool:
        """Status Complete and output_location in one transaction; wake dependants; an orchestrator
        awaiting this row completes with the same output_location (transitively)."""

    @abstractmethod
    def fail(self, claim: Claim, error_message: str, retry: bool = False,
             retry_delay_seconds: float = 0.0) -> bool:
        """retry=True and attempts < max_attempts: back to Queued, scheduled after the delay.
        Otherwise Failed with error_message, cascading to dependants and to an awaiting orchestrator."""

    @abstractmethod
    def release(self, claim: Claim) -> bool:
        """Give the row back (shutdown): Queued again, the attempt not counted."""

    @abstractmethod
    def fan_out(self, claim: Claim, children: Sequence[NewTask], awaited_task_id: str) -> bool:
        """One transaction: insert the children (idempotent by id, parent_task_id = this row), then
        leave this row In Progress without a lease, awaiting `awaited_task_id`, whose end becomes this
        row's end. False (and nothing written) if no longer the owner."""

    @abstractmethod
    def sweep_expired(self) -> int:
        """Rows In Progress whose lease expired: back to Queued if attempts < max_attempts, else
        Failed with an error saying the worker was lost. Returns how many rows changed."""

    @abstractmethod
    def pending_count(self, task_types: Optional[Sequence[str]] = None) -> int:
        """Rows that may still run: Queued (eligible or not yet) or In Progress under a lease, optionally
        only of these task types. `--until-idle` exits when this is 0 and nothing is claimable."""

    @abstractmethod
    def wait_for_change(self, timeout: float) -> None:
        """Block until the queue may have new eligible work, or the timeout passes. Cheap when idle
        (Postgres LISTEN/NOTIFY, SQLite PRAGMA data_version polled every few ms)."""

class WorkerRegistry(Protocol):
    """The workers registry (source/queue/fleet.py)."""

    @abstractmethod
    def register_worker(self, info: WorkerInfo, forget_after_seconds: float) -> None:
        """Record a worker at its start, state idle; registry rows not seen for `forget_after_seconds`
        are dropped on the way."""

    @abstractmethod
    def beat_worker(self, beat: WorkerBeat) -> bool:
        """Record what the worker is doing now and that it is alive. False when it has no live row (never
        registered, forgotten, or already stopped)."""



class QueueReader(Protocol):
    """Read-only: a row, a run, and the views of the fleet (`runs`, status, the dashboard, metrics)."""

    @abstractmethod
    def get(self, task_id: str) -> Optional[Task]:
        """The row, or None."""

    @abstractmethod
    def list_run(self, run_id: str) -> list[Task]:
        """All rows of a workflow run, oldest first."""

    @abstractmethod
    def list_workers(self, seen_within_seconds: float) -> list[WorkerRecord]:
        """Workers whose last beat is at most `seen_within_seconds` old, newest beat first, each with the
        task it is running."""

    @abstractmethod
    def status_counts(self) -> list[StatusCount]:
        """Rows by task type and status."""

    @abstractmethod
    def fleet_overview(self, within_seconds: float) -> FleetOverview:
        """Runs in all and in the last `within_seconds`, rows failed and completed then, the age of the
        oldest Queued row."""

    @abstractmethod
    def list_runs(self, limit: int, offset: int = 0, status: Optional[str] = None,
                  where: Optional[RunFilter] = None) -> list[RunSummary]:
        """One page of runs, newest first: each root row (one no orchestrator fanned out) with the counts
        of the rows it fanned out; optionally only runs whose root has `status`, and those `where` lets
        through (its status, when given, wins over `status`)."""

    @abstractmethod
    def event_counts(self) -> list[EventCount]:
        """Counters of what happened to rows since the schema had them (completed, failed, cancelled,
        retried, lease_expired, operator_retried), by task type; they never go down."""

    @abstractmethod
    def duration_counts(self) -> list[DurationBucket]:
        """Run times of the rows that completed since the schema counted them, by task type, for the
        bounds of sql/*/181_task_events.sql (cumulative, as `task_durations` gives them); they never go
        down and need no pass over the rows."""

    @abstractmethod
    def task_durations(self, bounds: Sequence[float]) -> list[DurationBucket]:
        """Complete rows' run times by task type: how many took at most each bound, and in all."""


class TaskQueue(QueueSetup, QueueClient, WorkerQueue, WorkerRegistry, QueueReader, ABC):
    """The whole queue: what a backend implements."""

    migration: Optional[Migration] = None   # what the migrate() of the command that opened it did
