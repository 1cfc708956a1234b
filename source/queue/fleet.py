"""The fleet's vocabulary: the workers registry (who is up, doing what) and the read-only summaries the
dashboard, the metrics and `steerable_motion.py workers` show.

A worker registers a `WorkerInfo` at start and beats a `WorkerBeat` while idle as well as busy; a clean
exit beats `stopped`. Readers get `WorkerRecord`s; a record whose last beat is older than
`GONE_AFTER_LEASES` of its own lease periods is shown as `gone` (the row itself is never changed on a
clock, so a worker that comes back simply beats again).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, Optional

from .model import Status, Task
from .rows import parse_timestamp


class WorkerState:
    STARTING = "starting"  # registered, its self-check running; claims nothing yet
    IDLE = "idle"
    BUSY = "busy"
    STOPPING = "stopping"
    STOPPED = "stopped"
    GONE = "gone"          # shown only: silent for GONE_AFTER_LEASES lease periods

    WRITTEN = (STARTING, IDLE, BUSY, STOPPING, STOPPED)
    SHOWN = (BUSY, IDLE, STARTING, STOPPING, GONE, STOPPED)


GONE_AFTER_LEASES = 3.0                 # silent this many lease periods: gone
FORGET_AFTER_SECONDS = 7 * 24 * 3600.0  # registry rows not seen for a week are dropped at a registration


def beat_interval(lease_seconds: float) -> float:
    """How often a worker beats its registry row: three times per lease, at most every 10 s."""
    return max(0.05, min(float(lease_seconds) / 3.0, 10.0))


@dataclass(frozen=True)
class WorkerInfo:
    """What a worker says about itself when it registers."""

    worker_id: str
    host: str
    pid: int
    lease_seconds: float
    engine: Optional[str] = None
    version: Optional[str] = None
    task_types: Optional[str] = None
    gpu_name: Optional[str] = None
    gpu_memory_total_mb: Optional[int] = None
    gpu_memory_used_mb: Optional[int] = None
    model: Optional[str] = None
    state: str = "idle"           # `starting` while its self-check runs

    def as_json(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class WorkerBeat:
    """What a worker is doing now."""

    worker_id: str
    state: str
    current_task_id: Optional[str] = None
    model: Optional[str] = None
    gpu_memory_used_mb: Optional[int] = None
    tasks_run: int = 0

    def __post_init__(self) -> None:
        if self.state not in WorkerState.WRITTEN:
            raise ValueError(f"a worker's state is one of {', '.join(WorkerState.WRITTEN)}, got {self.state!r}")


@dataclass(frozen=True)
class WorkerRecord:
    """A registry row as read back, with the task the worker is running (if any)."""

    worker_id: str
    host: str
    state: str
    lease_seconds: float
    silent_seconds: float
    pid: Optional[int] = None
    gpu_name: Optional[str] = None
    gpu_memory_total_mb: Optional[int] = None
    gpu_memory_used_mb: Optional[int] = None
    engine: Optional[str] = None
    model: Optional[str] = None
    version: Optional[str] = None
    task_types: Optional[str] = None
    current_task_id: Optional[str] = None
    tasks_run: int = 0
    started_at: Optional[datetime] = None
    last_seen_at: Optional[datetime] = None
    current_task_type: Optional[str] = None
    current_progress: Optional[float] = None
    current_progress_message: Optional[str] = None
    current_run_id: Optional[str] = None

    @property
    def shown_state(self) -> str:
        """The state a person sees: `gone` when a live-looking row has been silent too long."""
        if self.state != WorkerState.STOPPED and self.silent_seconds > GONE_AFTER_LEASES * self.lease_seconds:
            return WorkerState.GONE
        return self.state

    @property
    def is_up(self) -> bool:
        return self.shown_state in (WorkerState.STARTING, WorkerState.IDLE, WorkerState.BUSY, WorkerState.STOPPING)

    @classmethod
    def from_row(cls, row: Mapping[str, Any], silent_seconds: Optional[float] = None) -> "WorkerRecord":
        """From a row of any backend; `silent_seconds` where the backend did not measure it."""
        values = {name: row.get(name) for name in cls.__dataclass_fields__}
        for name in ("started_at", "last_seen_at"):
            values[name] = parse_timestamp(values[name])
        for name in ("pid", "gpu_memory_total_mb", "gpu_memory_used_mb"):
            values[name] = None if values[name] is None else int(values[name])
        values["tasks_run"] = int(values["tasks_run"] or 0)
        values["lease_seconds"] = float(values["lease_seconds"])
        if values["current_progress"] is not None:
            values["current_progress"] = float(values["current_progress"])
        if silent_seconds is not None:
            values["silent_seconds"] = silent_seconds
        values["silent_seconds"] = max(0.0, float(values["silent_seconds"] or 0.0))
        return cls(**values)


@dataclass(frozen=True)
class StatusCount:
    task_type: str
    status: str
    rows: int

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "StatusCount":
        return cls(row["task_type"], row["status"], int(row["rows"]))


@dataclass(frozen=True)
class FleetOverview:
    """Runs (root rows) in all and lately, rows failed and completed lately, the oldest Queued row."""

    runs: int
    runs_since: int
    failed_since: int
    completed_since: int
    oldest_queued_seconds: Optional[float]

    @classmethod
    def from_row(cls, row: Mapping[str, Any], oldest_queued_seconds: Optional[float]) -> "FleetOverview":
        return cls(int(row["runs"]), int(row["runs_since"]), int(row["failed_since"]),
                   int(row["completed_since"]),
                   None if oldest_queued_seconds is None else max(0.0, float(oldest_queued_seconds)))


@dataclass
class RunSummary:
    """One run as a list shows it: its root row and counts of the rows it fanned out, by status."""

    root: Task
    children_by_status: dict[str, int] = field(default_factory=dict)
    children_progress: float = 0.0      # progress of the children that are not Complete, summed
    last_finished_at: Optional[datetime] = None

    @property
    def children(self) -> int:
        return sum(self.children_by_status.values())

    @property
    def progress(self) -> float:
        """Share done: children averaged (a Complete one counts 1), else the root's own progress."""
        if self.root.status == Status.COMPLETE:
            return 1.0
        if not self.children:
            return float(self.root.progress or 0.0)
        done = self.children_by_status.get(Status.COMPLETE, 0)
        return min(1.0, (done + self.children_progress) / self.children)


@dataclass(frozen=True)
class RunFilter:
    """Which runs a list shows (None: any). `since_seconds`: created at most that long ago; `search`: a row
    id or run id of the run, or text in the root's params (its prompt, say), in any case."""

    status: Optional[str] = None
    task_type: Optional[str] = None
    project_id: Optional[str] = None
    since_seconds: Optional[float] = None
    search: Optional[str] = None

    @property
    def narrows(self) -> bool:
        """Whether anything but the status is asked for (the plain list has a cheaper query)."""
        return any(value is not None for value in (self.task_type, self.project_id, self.since_seconds,
                                                   self.search))


@dataclass(frozen=True)
class EventCount:
    """How many times `event` happened to rows of `task_type` (sql/*/181_task_events.sql); only grows."""

    EVENTS = ("completed", "failed", "cancelled", "retried", "lease_expired", "operator_retried")

    event: str
    task_type: str
    n: int

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "EventCount":
        return cls(row["event"], row["task_type"], int(row["n"]))


@dataclass(frozen=True)
class DurationBucket:
    """Complete rows of one task type that ran at most `le` seconds (le None: all of them, with `seconds`
    their run times summed)."""

    task_type: str
    le: Optional[float]
    rows: int
    seconds: Optional[float] = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "DurationBucket":
        return cls(row["task_type"], None if row["le"] is None else float(row["le"]), int(row["rows"] or 0),
                   None if row["seconds"] is None else float(row["seconds"]))


ABOVE_ALL_BOUNDS = 1e308   # the bucket of run times above every bound (sql/*/181_task_events.sql)


def cumulative_durations(rows: list[Mapping[str, Any]]) -> list[DurationBucket]:
    """Per-bucket counts (task_type, le, n, seconds) as `DurationBucket`s: for each bound how many took at
    most that long, and (le None) how many in all with their seconds summed."""
    by_type: dict[str, list[tuple[float, int, float]]] = {}
    for row in rows:
        by_type.setdefault(row["task_type"], []).append((float(row["le"]), int(row["n"]), float(row["seconds"])))
    buckets = []
    for task_type, counted in sorted(by_type.items()):
        running = 0
        for le, n, _ in sorted(counted):
            running += n
            if le < ABOVE_ALL_BOUNDS:
                buckets.append(DurationBucket(task_type, le, running))
        buckets.append(DurationBucket(task_type, None, running, sum(s for _, _, s in counted)))
    return buckets


def run_summaries(roots: list[Task], count_rows: list[Mapping[str, Any]]) -> list[RunSummary]:
    """Root rows joined with the per-run, per-status counts of their children (`run_counts`)."""
    by_run: dict[str, list[Mapping[str, Any]]] = {}
    for row in count_rows:
        by_run.setdefault(row["run_id"], []).append(row)
    summaries = []
    for root in roots:
        summary = RunSummary(root)
        for row in by_run.get(root.run_id, []) if root.run_id else []:
            rows = int(row["rows"])
            summary.children_by_status[row["status"]] = rows
            if row["status"] != Status.COMPLETE:
                summary.children_progress += float(row["progress"] or 0.0)
            finished = parse_timestamp(row["last_finished_at"])
            if finished and (summary.last_finished_at is None or finished > summary.last_finished_at):
                summary.last_finished_at = finished
        summaries.append(summary)
    return summaries
