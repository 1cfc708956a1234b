"""What each page shows, from queue reads: plain data for the templates (no HTML here).

The run graph: a run's rows laid out in columns by depth. The root (the orchestrator) is column 0; a row
fanned out with no dependency inside the run sits in column 1; any other row sits one column right of
the deepest row it waits for. A chain of segments reads left to right; independent segments stack in one
column before the stitch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Mapping, Optional
from urllib.parse import urlencode

from ..queue.base import QueueReader, TaskQueue
from ..queue.fleet import FleetOverview, RunFilter, RunSummary, StatusCount, WorkerRecord, WorkerState
from ..queue.model import Status, Task
from .files import Output, OutputRoots

RUNS_PER_PAGE = 50
# what a person may do to a row from a page: the verb shown after it is done
ACTIONS = {"cancel": "cancelled", "retry": "put back in the queue", "requeue": "requeued"}
RECENT_SECONDS = 3600.0                 # "in the last hour" on the overview
WORKERS_SEEN_WITHIN_S = 24 * 3600.0     # the workers page lists workers seen in the last day


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def span(seconds: Optional[float]) -> str:
    """A duration as a person reads it: 42 s, 3 min 5 s, 2 h 10 min, 3 d 4 h."""
    if seconds is None:
        return ""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds and minutes < 10 else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def seconds_between(start: Optional[datetime], end: Optional[datetime]) -> Optional[float]:
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def row_label(task: Task) -> str:
    """travel_segment[1], or the task type alone."""
    index = task.params.get("segment_index") if isinstance(task.params, dict) else None
    return f"{task.task_type}[{index}]" if isinstance(index, int) else task.task_type


@dataclass
class RowView:
    task: Task
    label: str
    output: Optional[Output]
    waits_for: list[str] = field(default_factory=list)   # labels of the rows it depends on
    age: str = ""
    took: str = ""

    @property
    def progress(self) -> float:
        return 1.0 if self.task.status == Status.COMPLETE else float(self.task.progress or 0.0)

    @property
    def can_cancel(self) -> bool:
        return self.task.status not in Status.TERMINAL

    @property
    def can_retry(self) -> bool:
        return self.task.status in (Status.FAILED, Status.CANCELLED)

    @property
    def stuck(self) -> bool:
        """Running under a lease that has expired: its worker is gone, and requeue may put it back now."""
        return self.task.status == Status.IN_PROGRESS and (self.lease_expired_for or 0) > 0

    @property
    def lease_expired_for(self) -> Optional[float]:
        lease = self.task.lease_expires_at
        return None if lease is None else (now_utc() - lease).total_seconds()


@dataclass
class RunView:
    summary: RunSummary
    output: Optional[Output]
    age: str
    took: str

    @property
    def root(self) -> Task:
        return self.summary.root

    @property
    def key(self) -> str:
        return self.root.run_id or self.root.id


def took(task: Task, now: datetime, end: Optional[datetime] = None) -> str:
    """How long a row ran (or has been running); nothing for a row that never started."""
    finish = end or task.finished_at or (now if task.status not in Status.TERMINAL else None)
    return span(seconds_between(task.started_at, finish))


def run_views(summaries: list[RunSummary], roots: OutputRoots, now: datetime) -> list[RunView]:
    return [RunView(summary, roots.describe(summary.root.output_location, _thumbnail(summary.root)),
                    span(seconds_between(summary.root.created_at, now)),
                    took(summary.root, now, summary.root.finished_at or (
                        summary.last_finished_at if summary.root.is_terminal else None)))
            for summary in summaries]


# the runs page's "queued within" choices: (query value, label, seconds)
SINCE_CHOICES = (("1h", "the last hour", 3600.0), ("24h", "the last day", 86400.0),
                 ("7d", "the last week", 7 * 86400.0), ("30d", "the last 30 days", 30 * 86400.0))
FILTER_KEYS = ("status", "type", "project", "since", "q")


def run_filter(query: Mapping[str, str]) -> RunFilter:
    """The runs page's filters from its query string; a value it does not know is left out."""
    def text(key: str) -> Optional[str]:
        value = (query.get(key) or "").strip()
        return value[:200] or None

    status = text("status")
    since = {key: seconds for key, _, seconds in SINCE_CHOICES}.get(text("since") or "")
    return RunFilter(status=status if status in Status.ALL else None, task_type=text("type"),
                     project_id=text("project"), since_seconds=since, search=text("q"))


def filter_query(where: RunFilter) -> dict[str, str]:
    """The query string that asks for `where` again (for the pager and the status links)."""
    since = next((key for key, _, seconds in SINCE_CHOICES if seconds == where.since_seconds), None)
    pairs = {"status": where.status, "type": where.task_type, "project": where.project_id, "since": since,
             "q": where.search}
    return {key: value for key, value in pairs.items() if value}


def runs_page(queue: QueueReader, roots: OutputRoots, page: int, where: RunFilter) -> dict:
    page = max(1, page)
    summaries = queue.list_runs(RUNS_PER_PAGE + 1, (page - 1) * RUNS_PER_PAGE, where=where)
    now = now_utc()
    query = filter_query(where)
    return {"runs": run_views(summaries[:RUNS_PER_PAGE], roots, now), "page": page,
            "has_older": len(summaries) > RUNS_PER_PAGE, "status": where.status, "statuses": Status.ALL,
            "where": where, "query": query, "since": query.get("since", ""), "since_choices": SINCE_CHOICES,
            "task_types": sorted({count.task_type for count in queue.status_counts()}),
            "with_status": lambda status: "/runs?" + urlencode(
                {**{k: v for k, v in query.items() if k != "status"}, **({"status": status} if status else {})}),
            "page_link": lambda number: "/runs?" + urlencode({**query, "page": number})}


@dataclass
class StatusTable:
    """Rows by task type (lines) and status (columns), with totals."""

    types: list[str]
    cells: dict[tuple[str, str], int]

    @classmethod
    def of(cls, counts: list[StatusCount]) -> "StatusTable":
        return cls(sorted({c.task_type for c in counts}), {(c.task_type, c.status): c.rows for c in counts})

    def row_total(self, task_type: str) -> int:
        return sum(self.cells.get((task_type, status), 0) for status in Status.ALL)

    def column_total(self, status: str) -> int:
        return sum(self.cells.get((task_type, status), 0) for task_type in self.types)

    @property
    def total(self) -> int:
        return sum(self.cells.values())


def worker_counts(workers: list[WorkerRecord]) -> dict[str, int]:
    states = [w.shown_state for w in workers]
    return {state: states.count(state) for state in WorkerState.SHOWN}


def overview_page(queue: QueueReader, roots: OutputRoots) -> dict:
    overview: FleetOverview = queue.fleet_overview(RECENT_SECONDS)
    workers = queue.list_workers(WORKERS_SEEN_WITHIN_S)
    now = now_utc()
    return {"overview": overview, "oldest_queued": span(overview.oldest_queued_seconds),
            "table": StatusTable.of(queue.status_counts()), "statuses": Status.ALL,
            "workers": worker_counts(workers), "workers_up": sum(w.is_up for w in workers),
            "runs": run_views(queue.list_runs(10), roots, now)}


def workers_page(queue: QueueReader) -> dict:
    order = {state: i for i, state in enumerate(WorkerState.SHOWN)}
    workers = sorted(queue.list_workers(WORKERS_SEEN_WITHIN_S),
                     key=lambda w: (order[w.shown_state], -(w.last_seen_at or now_utc()).timestamp()))
    return {"workers": workers, "counts": worker_counts(workers), "now": now_utc()}


def run_rows(queue: QueueReader, run_id: str) -> list[Task]:
    """A run's rows; the id may also be one row's own id (a row without a run is a run of one)."""
    rows = queue.list_run(run_id)
    if rows:
        return rows
    task = queue.get(run_id)
    if task is None:
        return []
    return queue.list_run(task.run_id) if task.run_id else [task]


def graph_columns(rows: list[Task]) -> list[list[Task]]:
    """The run's rows in columns by depth (see the module docstring), each column oldest first."""
    by_id = {task.id: task for task in rows}
    depth: dict[str, int] = {}

    def depth_of(task: Task, seen: frozenset = frozenset()) -> int:
        if task.id in depth:
            return depth[task.id]
        inside = [by_id[d] for d in task.dependant_on if d in by_id and d not in seen]
        if inside:
            value = 1 + max(depth_of(dep, seen | {task.id}) for dep in inside)
        else:
            value = 1 if task.parent_task_id in by_id else 0
        depth[task.id] = value
        return value

    columns: dict[int, list[Task]] = {}
    for task in rows:
        columns.setdefault(depth_of(task), []).append(task)
    return [columns[d] for d in sorted(columns)]


def run_page(queue: QueueReader, roots: OutputRoots, run_id: str) -> Optional[dict]:
    rows = run_rows(queue, run_id)
    if not rows:
        return None
    now = now_utc()
    labels = {task.id: row_label(task) for task in rows}
    ids = set(labels)
    root = next((t for t in rows if not t.parent_task_id or t.parent_task_id not in ids), rows[0])
    children = [t for t in rows if t.id != root.id]
    counts: dict[str, int] = {}
    for task in children:
        counts[task.status] = counts.get(task.status, 0) + 1
    summary = RunSummary(root, counts, sum(float(t.progress or 0) for t in children
                                           if t.status != Status.COMPLETE))
    columns = [[RowView(task, labels[task.id], roots.describe(task.output_location, _thumbnail(task)),
                        [labels.get(dep, dep) for dep in task.dependant_on],
                        span(seconds_between(task.created_at, now)), took(task, now))
                for task in column] for column in graph_columns(rows)]
    return {"run_id": root.run_id or root.id, "root": root, "summary": summary, "columns": columns,
            "final": roots.describe(root.output_location, _thumbnail(root)), "rows": len(rows),
            "age": span(seconds_between(root.created_at, now)), "took": took(root, now)}


def act(queue: TaskQueue, action: str, task_id: str) -> Optional[list[str]]:
    """Do `action` to the row `task_id` (cancel: it and what it fanned out or what waits on it; retry: it
    and what ended through it; requeue: it, when past its lease). The ids of the rows of its run that
    changed; None when there is no such row."""
    before = run_rows(queue, task_id)
    if not any(task.id == task_id for task in before):
        return None
    if action == "cancel":
        queue.cancel(task_id, "cancelled from the dashboard")
    elif action == "retry":
        queue.retry(task_id, "retried from the dashboard")
    elif action == "requeue":
        queue.requeue_expired(task_id, "requeued from the dashboard (its lease had expired)")
    else:
        raise ValueError(action)
    after = {task.id: task for task in run_rows(queue, task_id)}
    return [task.id for task in before if task.id in after
            and (after[task.id].status, after[task.id].attempts) != (task.status, task.attempts)]


def action_notice(action: Optional[str], rows: Optional[str]) -> Optional[str]:
    """The line a page shows after an action sent the browser back to it."""
    if action not in ACTIONS or rows is None or not rows.isdigit():
        return None
    count = int(rows)
    if count == 0:
        return f"Nothing to {action}: the rows had changed already."
    return f"{count} row{'s' if count != 1 else ''} {ACTIONS[action]}."
def _thumbnail(task) -> Optional[str]:
    """The row's poster (params.thumbnail_url), when it has one."""
    params = task.params if isinstance(getattr(task, "params", None), dict) else {}
    value = params.get("thumbnail_url")
    return value if isinstance(value, str) else None
