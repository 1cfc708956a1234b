"""Several worker processes on one queue: every row runs exactly once (counted through a side effect)."""
from __future__ import annotations

import json
import multiprocessing
from collections import Counter

from source.queue.model import NewTask, Status
from tests.helpers.queue import drain_worker, postgres_databases, queue_factory  # noqa: F401 (fixtures)

WORKERS = 4
ROWS = 240


def test_worker_processes_run_every_row_exactly_once(queue_factory, tmp_path):
    queue = queue_factory()
    target = queue.target
    tasks = [NewTask("noop", {"i": i}) for i in range(ROWS)]
    for start in range(0, ROWS, 60):  # several enqueues, some while workers already run
        queue.enqueue(tasks[start:start + 30])
    context = multiprocessing.get_context("spawn")
    log = tmp_path / "executions.jsonl"
    workers = [context.Process(target=drain_worker, args=(target.backend, target.location, f"proc-{n}",
                                                          str(log), 3.0))
               for n in range(WORKERS)]
    for worker in workers:
        worker.start()
    for start in range(0, ROWS, 60):
        queue.enqueue(tasks[start + 30:start + 60])
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0, f"worker exited with {worker.exitcode}"
    executions = [json.loads(line) for line in log.read_text().splitlines()]
    counts = Counter(e["id"] for e in executions)
    assert set(counts) == {t.id for t in tasks}
    assert [task_id for task_id, n in counts.items() if n != 1] == []
    assert len({e["worker"] for e in executions}) >= 2, "the work should have been shared"
    for task in tasks[::37]:
        row = queue.get(task.id)
        assert row.status == Status.COMPLETE and row.attempts == 1 and row.output_location.startswith("done-by-")
