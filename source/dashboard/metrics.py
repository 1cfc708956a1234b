"""/metrics in Prometheus text format, read from the table on each scrape (the numbers are the queue's,
not this process's, so any number of dashboards report the same).

headless_tasks{task_type,status}                rows by type and status (every status, zeros included)
headless_tasks_completed_total{task_type}       Complete rows
headless_tasks_failed_total{task_type}          Failed rows
headless_oldest_queued_age_seconds              age of the oldest Queued row (0 when none)
headless_task_duration_seconds{task_type}       histogram of Complete rows' run times (started -> finished)
headless_workers{state}                         workers seen in the last day by state (busy, idle, ...)
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from ..queue.base import QueueReader
from ..queue.fleet import WorkerState
from ..queue.model import Status

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DURATION_BOUNDS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)
WORKERS_SEEN_WITHIN_S = 24 * 3600.0


class QueueCollector:
    def __init__(self, queue: QueueReader) -> None:
        self.queue = queue

    def collect(self):
        counts = self.queue.status_counts()
        types = sorted({count.task_type for count in counts})
        rows = {(count.task_type, count.status): count.rows for count in counts}

        tasks = GaugeMetricFamily("headless_tasks", "Rows of the tasks table by task type and status",
                                  labels=["task_type", "status"])
        completed = CounterMetricFamily("headless_tasks_completed", "Rows that ended Complete, by task type",
                                        labels=["task_type"])
        failed = CounterMetricFamily("headless_tasks_failed", "Rows that ended Failed, by task type",
                                     labels=["task_type"])
        for task_type in types:
            for status in Status.ALL:
                tasks.add_metric([task_type, status], rows.get((task_type, status), 0))
            completed.add_metric([task_type], rows.get((task_type, Status.COMPLETE), 0))
            failed.add_metric([task_type], rows.get((task_type, Status.FAILED), 0))
        yield from (tasks, completed, failed)

        overview = self.queue.fleet_overview(3600.0)
        yield GaugeMetricFamily("headless_oldest_queued_age_seconds", "Age of the oldest Queued row (0: none)",
                                value=overview.oldest_queued_seconds or 0.0)

        durations = HistogramMetricFamily("headless_task_duration_seconds",
                                          "Run time of Complete rows (started_at to finished_at)",
                                          labels=["task_type"])
        by_type: dict[str, dict] = {}
        for bucket in self.queue.task_durations(DURATION_BOUNDS):
            by_type.setdefault(bucket.task_type, {})[bucket.le] = bucket
        for task_type, buckets in sorted(by_type.items()):
            total = buckets.pop(None)
            series = [(_le(le), buckets[le].rows if le in buckets else 0) for le in map(float, DURATION_BOUNDS)]
            durations.add_metric([task_type], series + [("+Inf", total.rows)], sum_value=total.seconds or 0.0)
        yield durations

        workers = GaugeMetricFamily("headless_workers", "Workers seen in the last day by state",
                                    labels=["state"])
        states = [record.shown_state for record in self.queue.list_workers(WORKERS_SEEN_WITHIN_S)]
        for state in WorkerState.SHOWN:
            workers.add_metric([state], states.count(state))
        yield workers


def _le(bound: float) -> str:
    return str(int(bound)) if bound.is_integer() else repr(bound)


def metrics_text(queue: QueueReader) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(QueueCollector(queue))
    return generate_latest(registry)
