"""/metrics in Prometheus text format, read from the queue on each scrape (the numbers are the queue's,
not this process's, so any number of dashboards report the same). Label values are lower_snake_case
(`status="in_progress"`).

Gauges (what is there now; they go down when rows end or are pruned):
headless_tasks{task_type,status}                rows by type and status (every status, zeros included)
headless_oldest_queued_age_seconds              age of the oldest Queued row (0 when none)
headless_workers{state}                         workers seen in the last day by state (busy, idle, ...)
headless_worker_state{worker_id,state}          1 per worker seen in the last day, with its state
headless_worker_current_task_age_seconds{worker_id,task_type}   how long a busy worker's task has run

Counters (from the queue's event counters, sql/*/181_task_events.sql: they never go down, and count from
the migration that added them):
headless_tasks_completed_total{task_type}       rows that ended Complete
headless_tasks_failed_total{task_type}          rows that ended Failed
headless_tasks_cancelled_total{task_type}       rows that were cancelled
headless_task_retries_total{task_type}          failed attempts sent back to the queue for another
headless_task_leases_expired_total{task_type}   rows taken back from a worker whose lease ran out
headless_task_operator_retries_total{task_type} Failed/Cancelled rows put back by `retry` or the dashboard
headless_task_duration_seconds{task_type}       histogram of the run times (started -> finished) of the rows
                                                that completed (counted as they complete, bounds DURATION_BOUNDS)
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from ..queue.base import QueueReader
from ..queue.fleet import EventCount, WorkerState
from ..queue.model import Status
from ..queue.rows import utc_now

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DURATION_BOUNDS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)
WORKERS_SEEN_WITHIN_S = 24 * 3600.0
# event (sql/*/181_task_events.sql) -> counter name (without _total) and help
COUNTERS = {
    "completed": ("headless_tasks_completed", "Rows that ended Complete, by task type"),
    "failed": ("headless_tasks_failed", "Rows that ended Failed, by task type"),
    "cancelled": ("headless_tasks_cancelled", "Rows that were cancelled, by task type"),
    "retried": ("headless_task_retries", "Failed attempts sent back to the queue for another, by task type"),
    "lease_expired": ("headless_task_leases_expired", "Rows taken back from a worker whose lease ran out"),
    "operator_retried": ("headless_task_operator_retries", "Failed or cancelled rows put back by retry"),
}
assert set(COUNTERS) == set(EventCount.EVENTS)


def label(value: str) -> str:
    """A status or state as a label value: In Progress -> in_progress."""
    return value.strip().lower().replace(" ", "_").replace("-", "_")


class QueueCollector:
    def __init__(self, queue: QueueReader) -> None:
        self.queue = queue

    def collect(self):
        counts = self.queue.status_counts()
        types = sorted({count.task_type for count in counts})
        rows = {(count.task_type, count.status): count.rows for count in counts}
        tasks = GaugeMetricFamily("headless_tasks", "Rows of the tasks table by task type and status",
                                  labels=["task_type", "status"])
        for task_type in types:
            for status in Status.ALL:
                tasks.add_metric([task_type, label(status)], rows.get((task_type, status), 0))
        yield tasks

        events = self.queue.event_counts()
        event_types = sorted({e.task_type for e in events} | set(types))
        by_event = {(e.event, e.task_type): e.n for e in events}
        for event, (name, help_text) in COUNTERS.items():
            counter = CounterMetricFamily(name, help_text, labels=["task_type"])
            for task_type in event_types:
                counter.add_metric([task_type], by_event.get((event, task_type), 0))
            yield counter

        overview = self.queue.fleet_overview(3600.0)
        yield GaugeMetricFamily("headless_oldest_queued_age_seconds", "Age of the oldest Queued row (0: none)",
                                value=overview.oldest_queued_seconds or 0.0)
        yield self.durations()
        yield from self.workers()

    def durations(self) -> HistogramMetricFamily:
        durations = HistogramMetricFamily("headless_task_duration_seconds",
                                          "Run time of the rows that completed (started_at to finished_at)",
                                          labels=["task_type"])
        by_type: dict[str, dict] = {}
        for bucket in self.queue.duration_counts():
            by_type.setdefault(bucket.task_type, {})[bucket.le] = bucket
        for task_type, buckets in sorted(by_type.items()):
            total = buckets.pop(None)
            series = [(_le(le), buckets[le].rows if le in buckets else 0) for le in map(float, DURATION_BOUNDS)]
            durations.add_metric([task_type], series + [("+Inf", total.rows)], sum_value=total.seconds or 0.0)
        return durations

    def workers(self):
        records = self.queue.list_workers(WORKERS_SEEN_WITHIN_S)
        by_state = GaugeMetricFamily("headless_workers", "Workers seen in the last day by state", labels=["state"])
        states = [record.shown_state for record in records]
        for state in WorkerState.SHOWN:
            by_state.add_metric([state], states.count(state))
        yield by_state
        each = GaugeMetricFamily("headless_worker_state", "1 per worker seen in the last day, labelled with its state",
                                 labels=["worker_id", "state"])
        age = GaugeMetricFamily("headless_worker_current_task_age_seconds",
                                "How long the task a busy worker runs has been running",
                                labels=["worker_id", "task_type"])
        now = utc_now()
        for record in records:
            each.add_metric([record.worker_id, label(record.shown_state)], 1)
            if record.current_task_id and record.shown_state in (WorkerState.BUSY, WorkerState.STOPPING):
                task = self.queue.get(record.current_task_id)
                if task is not None and task.started_at is not None and task.status == Status.IN_PROGRESS:
                    age.add_metric([record.worker_id, task.task_type],
                                   max(0.0, (now - task.started_at).total_seconds()))
        yield each
        yield age


def _le(bound: float) -> str:
    return str(int(bound)) if bound.is_integer() else repr(bound)


def metrics_text(queue: QueueReader) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(QueueCollector(queue))
    return generate_latest(registry)
