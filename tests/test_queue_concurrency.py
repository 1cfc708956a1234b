"""Several worker processes on one queue: every row runs exactly once (counted through a side effect)."""
from __future__ import annotations

import json
import multiprocessing
import time
from collections import Counter

from source.queue.model import NewTask, Status
from tests.helpers.queue import complete_in_order, drain_worker, open_and_migrate

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
    readies, go = [context.Event() for _ in range(WORKERS)], context.Event()
    workers = [context.Process(target=drain_worker, args=(target.backend, target.location, f"proc-{n}",
                                                          str(log), 3.0, 30.0, readies[n], go))
               for n in range(WORKERS)]
    for worker in workers:
        worker.start()
    for ready in readies:
        assert ready.wait(60), "a worker process did not start"
    go.set()
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


def test_processes_starting_together_migrate_once(queue_factory):
    target = queue_factory.target(empty=True)
    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 1.5
    procs = [context.Process(target=open_and_migrate, args=(target.backend, target.location, start_at))
             for _ in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    assert [proc.exitcode for proc in procs] == [0, 0, 0, 0]
    versions = target.execute("SELECT version FROM queue_migrations ORDER BY version",
                              "SELECT version FROM queue_migrations ORDER BY version")
    assert len(versions) == len({v for (v,) in versions}) >= 1
    queue = queue_factory.open(target)
    queue.enqueue([NewTask("t", {})])
    assert queue.claim("w", 30) is not None


def test_children_added_while_parents_complete_all_become_eligible(queue_factory):
    """Dependants inserted while their parent completes in another process are never left waiting."""
    queue = queue_factory()
    target = queue.target
    parents = [NewTask("parent", {"i": i}) for i in range(60)]
    queue.enqueue(parents)
    context = multiprocessing.get_context("spawn")
    completer = context.Process(target=complete_in_order,
                                args=(target.backend, target.location, [p.id for p in parents], 0.002))
    completer.start()
    children = []
    deadline = time.monotonic() + 60
    while completer.is_alive() and time.monotonic() < deadline:
        batch = [NewTask("child", {}, dependant_on=[p.id]) for p in parents]
        queue.enqueue(batch)
        children.extend(batch)
    completer.join(60)
    assert completer.exitcode == 0 and children
    claimed = 0
    while queue.claim("w", 30, task_types=["child"]) is not None:
        claimed += 1
    assert claimed == len(children)


def test_two_enqueues_of_one_id_at_once_refuse_the_second_as_one_line(queue_factory):
    """The second of two overlapping enqueues of one id waits on the first's insert, then is refused
    with the same message as an id that was there before (wq_enqueue_v3's unique_violation path)."""
    import threading

    import pytest

    from source.queue.model import InvalidTask

    queue = queue_factory()
    if queue_factory.backend != "postgres":
        pytest.skip("the race needs two open transactions on one PostgreSQL database")
    import psycopg

    with psycopg.connect(queue.target.settings().database_url) as first:
        first.execute("SELECT wq_enqueue_v3(%s::jsonb)",
                      (json.dumps([{"id": "raced", "task_type": "t"}]),))     # inserted, not committed yet
        outcome = []

        def second() -> None:
            try:
                outcome.append(queue.enqueue([NewTask("t", {}, id="other"), NewTask("t", {}, id="raced")]))
            except InvalidTask as exc:
                outcome.append(str(exc))

        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.5)
        assert thread.is_alive()                      # waiting on the first transaction's row
        first.commit()
        thread.join(timeout=10)
    assert outcome == ["a task with id raced already exists"]
    assert queue.get("other") is None and queue.get("raced") is not None
