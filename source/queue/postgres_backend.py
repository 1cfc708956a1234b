"""The queue on PostgreSQL: domain words over the versioned SQL functions of sql/postgres/.

The semantics live in those functions; `PostgresQueue` only says which named call of
sql/postgres/queries.sql each operation is and turns the answers into `Task`s and `Claim`s. The
connector it is given is the transport: psycopg for `DB_TYPE=postgres`, PostgREST RPC (supabase-py) for
`DB_TYPE=supabase`. Both call the same functions, so both backends behave the same.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

from .base import Migration, TaskQueue
from .connector import Connector
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
    cumulative_durations,
    run_summaries,
)
from .model import Claim, NewTask, Task
from .rows import task_from_row, tasks_json


class PostgresQueue(TaskQueue):
    def __init__(self, connector: Connector) -> None:
        self.connector = connector

    # ---- set-up -----------------------------------------------------------------------------------
    def migrate(self) -> Migration:
        return self.connector.migrate()

    def schema_version(self) -> Optional[int]:
        version = self.connector.call("schema_version")
        return None if version is None else int(version)

    def close(self) -> None:
        self.connector.close()

    # ---- clients ----------------------------------------------------------------------------------
    def enqueue(self, tasks: Sequence[NewTask]) -> list[str]:
        return list(self.connector.call("enqueue", tasks=tasks_json(tasks)) or [])

    def get(self, task_id: str) -> Optional[Task]:
        rows = self.connector.call("get", task_id=task_id)
        return task_from_row(rows[0]) if rows else None

    def list_run(self, run_id: str) -> list[Task]:
        return [task_from_row(row) for row in self.connector.call("list_run", run_id=run_id)]

    def cancel(self, task_id: str, reason: str = "cancelled by user") -> int:
        return int(self.connector.call("cancel", task_id=task_id, reason=reason))

    def retry(self, task_id: str, note: str = "retried") -> int:
        return int(self.connector.call("retry", task_id=task_id, note=note) or 0)

    def requeue_expired(self, task_id: str, note: str = "requeued") -> int:
        return int(self.connector.call("requeue_expired", task_id=task_id, note=note) or 0)

    def pending_count(self, task_types: Optional[Sequence[str]] = None) -> int:
        return int(self.connector.call("pending_count", task_types=type_list(task_types)))

    # ---- workers ----------------------------------------------------------------------------------
    def claim(self, worker_id: str, lease_seconds: float, task_types: Optional[Sequence[str]] = None,
              prefer_model: Optional[str] = None) -> Optional[Claim]:
        self.connector.start_watching()
        rows = self.connector.call("claim", worker_id=worker_id, lease_seconds=float(lease_seconds),
                                   task_types=type_list(task_types), prefer_model=prefer_model)
        if not rows:
            return None
        task = task_from_row(rows[0])
        return Claim(task=task, worker_id=worker_id, attempt=task.attempts)

    def claimed_by(self, worker_id: str) -> list[Task]:
        return [task_from_row(row) for row in self.connector.call("claimed_by", worker_id=worker_id)]

    def _fenced(self, name: str, claim: Claim, **arguments: Any) -> bool:
        return bool(self.connector.call(name, task_id=claim.task_id, worker_id=claim.worker_id,
                                        attempt=claim.attempt, **arguments))

    def heartbeat(self, claim: Claim, lease_seconds: float) -> bool:
        return self._fenced("heartbeat", claim, lease_seconds=float(lease_seconds))

    def set_progress(self, claim: Claim, progress: float, message: str = "") -> bool:
        return self._fenced("progress", claim, progress=float(progress), message=message)

    def record_thumbnail(self, claim: Claim, thumbnail_url: str) -> bool:
        return self._fenced("record_thumbnail", claim, thumbnail_url=thumbnail_url)

    def record_ignored_keys(self, claim: Claim, keys: Sequence[str]) -> bool:
        return self._fenced("record_ignored_keys", claim, keys=list(keys))

    def complete(self, claim: Claim, output_location: Optional[str]) -> bool:
        return self._fenced("complete", claim, output_location=output_location)

    def fail(self, claim: Claim, error_message: str, retry: bool = False,
             retry_delay_seconds: float = 0.0) -> bool:
        return self._fenced("fail", claim, error_message=error_message, retry=bool(retry),
                            retry_delay_seconds=float(retry_delay_seconds))

    def release(self, claim: Claim) -> bool:
        return self._fenced("release", claim)

    def fan_out(self, claim: Claim, children: Sequence[NewTask], awaited_task_id: str) -> bool:
        return self._fenced("fan_out", claim, children=tasks_json(children), awaited_task_id=awaited_task_id)

    def sweep_expired(self) -> int:
        return int(self.connector.call("sweep_expired"))

    # ---- the workers registry ---------------------------------------------------------------------
    def register_worker(self, info: WorkerInfo, forget_after_seconds: float) -> None:
        self.connector.call("register_worker", worker=info.as_json(),
                            forget_after_seconds=float(forget_after_seconds))

    def beat_worker(self, beat: WorkerBeat) -> bool:
        return bool(self.connector.call("beat_worker", **beat.__dict__))

    def list_workers(self, seen_within_seconds: float) -> list[WorkerRecord]:
        rows = self.connector.call("list_workers", seen_within_seconds=float(seen_within_seconds))
        return [WorkerRecord.from_row(row) for row in rows]

    # ---- read-only views of the fleet -------------------------------------------------------------
    def status_counts(self) -> list[StatusCount]:
        return [StatusCount.from_row(row) for row in self.connector.call("status_counts")]

    def fleet_overview(self, within_seconds: float) -> FleetOverview:
        [row] = self.connector.call("fleet_overview", within_seconds=float(within_seconds))
        return FleetOverview.from_row(row, row["oldest_queued_seconds"])

    def list_runs(self, limit: int, offset: int = 0, status: Optional[str] = None,
                  where: Optional[RunFilter] = None) -> list[RunSummary]:
        where = where or RunFilter()
        page = {"status": where.status or status, "limit": max(0, int(limit)), "offset": max(0, int(offset))}
        if where.narrows:
            rows = self.connector.call("list_roots_filtered", task_type=where.task_type,
                                       project_id=where.project_id, search=where.search,
                                       since_seconds=None if where.since_seconds is None
                                       else float(where.since_seconds), **page)
        else:
            rows = self.connector.call("list_roots", **page)
        roots = [task_from_row(row) for row in rows]
        run_ids = sorted({root.run_id for root in roots if root.run_id})
        counts = self.connector.call("run_counts", run_ids=run_ids) if run_ids else []
        return run_summaries(roots, counts)

    def event_counts(self) -> list[EventCount]:
        return [EventCount.from_row(row) for row in self.connector.call("event_counts")]

    def duration_counts(self) -> list[DurationBucket]:
        return cumulative_durations(self.connector.call("duration_counts"))

    def task_durations(self, bounds: Sequence[float]) -> list[DurationBucket]:
        rows = self.connector.call("task_durations", bounds=[float(b) for b in bounds])
        return [DurationBucket.from_row(row) for row in rows]

    # ---- waking up --------------------------------------------------------------------------------
    def wait_for_change(self, timeout: float) -> None:
        self.connector.wait_for_change(timeout)


def type_list(task_types: Optional[Sequence[str]]) -> Optional[list[str]]:
    """A task-type filter as the functions take it: a text[] (a JSON list over PostgREST), or NULL."""
    return None if task_types is None else list(task_types)
