"""What an operator does to rows (retry, requeue past a lease) and the filtered runs list, the same tests on
every backend (`queue_factory`, tests/helpers/queue.py)."""
from __future__ import annotations

import time

from source.dashboard.metrics import metrics_text
from source.queue.fleet import RunFilter, WorkerBeat, WorkerInfo
from source.queue.model import NewTask, Status

LEASE = 30.0


def failed_run(queue):
    """An orchestrator that fanned out seg -> stitch (awaited) plus an independent `side` row; seg failed,
    so stitch and the orchestrator failed with it; side is Complete."""
    orch = NewTask("orchestrator", {"prompt": "a red fox at dawn"}, run_id="run-r", project_id="proj")
    queue.enqueue([orch])
    claim = queue.claim("w", LEASE)
    side = NewTask("side", {}, id="run-r-side")
    seg = NewTask("seg", {}, id="run-r-seg", max_attempts=1)
    stitch = NewTask("stitch", {}, id="run-r-stitch", dependant_on=[seg.id, side.id])
    assert queue.fan_out(claim, [side, seg, stitch], stitch.id)
    side_claim = queue.claim("w", LEASE, task_types=["side"])
    assert queue.complete(side_claim, "/side.mp4")
    seg_claim = queue.claim("w", LEASE, task_types=["seg"])
    assert queue.fail(seg_claim, "decoder exploded")
    assert queue.get(orch.id).status == Status.FAILED
    return orch, side, seg, stitch


def test_retry_of_a_failed_row_puts_back_what_ended_through_it_and_the_run_completes(queue_factory):
    queue = queue_factory()
    orch, side, seg, stitch = failed_run(queue)
    assert queue.retry(side.id) == 0, "a Complete row has nothing to retry"
    assert queue.retry(seg.id, "retried by test") == 3
    row = queue.get(seg.id)
    assert (row.status, row.attempts, row.worker_id, row.finished_at) == (Status.QUEUED, 0, None, None)
    assert row.error_message == "decoder exploded", "the last error stays as history"
    assert row.progress_message == "retried by test"
    assert queue.get(stitch.id).status == Status.QUEUED
    root = queue.get(orch.id)
    assert (root.status, root.awaiting_task_id, root.worker_id) == (Status.IN_PROGRESS, stitch.id, None)
    assert queue.get(side.id).output_location == "/side.mp4"
    assert queue.retry(seg.id) == 0, "nothing has ended any more"
    # the stitch still waits for seg (its dependency counter was kept), so seg runs first
    claim = queue.claim("w2", LEASE)
    assert (claim.task_id, claim.attempt) == (seg.id, 1)
    assert queue.complete(claim, "/seg.mp4")
    claim = queue.claim("w2", LEASE)
    assert claim.task_id == stitch.id
    assert queue.complete(claim, "/final.mp4")
    root = queue.get(orch.id)
    assert (root.status, root.output_location, root.error_message) == (Status.COMPLETE, "/final.mp4", None)


def test_retry_of_a_cancelled_run_from_its_root(queue_factory):
    queue = queue_factory()
    orch = NewTask("orchestrator", {}, run_id="run-c")
    queue.enqueue([orch])
    claim = queue.claim("w", LEASE)
    seg = NewTask("seg", {}, id="run-c-seg")
    assert queue.fan_out(claim, [seg], seg.id)
    assert queue.cancel(orch.id) == 2
    assert queue.retry(orch.id) == 2
    assert queue.get(orch.id).status == Status.IN_PROGRESS
    assert queue.get(seg.id).status == Status.QUEUED
    # a row that failed before fanning out is simply Queued again
    single = NewTask("t", {}, max_attempts=1)
    queue.enqueue([single])
    claim = queue.claim("w", LEASE, task_types=["t"])
    assert queue.fail(claim, "bad luck")
    assert queue.retry(single.id) == 1
    assert queue.get(single.id).status == Status.QUEUED


def test_requeue_only_a_row_past_its_lease(queue_factory):
    queue = queue_factory()
    task = NewTask("t", {})
    queue.enqueue([task])
    claim = queue.claim("lost", 0.2)
    assert queue.requeue_expired(task.id) == 0, "the lease still runs"
    time.sleep(0.3)
    assert queue.requeue_expired(task.id, "requeued by test") == 1
    row = queue.get(task.id)
    assert (row.status, row.worker_id, row.attempts) == (Status.QUEUED, None, 1)
    assert row.error_message == "worker lost was lost (lease expired)"
    assert not queue.complete(claim, "zombie"), "the lost worker's write is fenced off"
    assert queue.requeue_expired(task.id) == 0


def test_runs_list_filters(queue_factory):
    queue = queue_factory()
    orch, side, seg, stitch = failed_run(queue)
    other = NewTask("noop", {"prompt": "a blue whale"}, run_id="run-o", project_id="other")
    queue.enqueue([other])

    def keys(**where):
        return [s.root.id for s in queue.list_runs(10, where=RunFilter(**where))]

    assert keys() == [other.id, orch.id]
    assert keys(status=Status.FAILED) == [orch.id]
    assert keys(task_type="noop") == [other.id]
    assert keys(project_id="proj") == [orch.id]
    assert keys(since_seconds=3600) == [other.id, orch.id]
    assert keys(search="RED FOX") == [orch.id], "prompt text, in any case"
    assert keys(search=stitch.id) == [orch.id], "a row id of the run finds the run"
    assert keys(search="run-o") == [other.id]
    assert keys(search="nothing like it") == []
    assert keys(task_type="noop", status=Status.FAILED) == []
    [summary] = queue.list_runs(10, where=RunFilter(search="fox"))
    assert summary.children_by_status == {Status.COMPLETE: 1, Status.FAILED: 2}


def test_event_counters_only_grow_and_metrics_show_them(queue_factory):
    from tests.helpers.dashboard import parse_metrics

    queue = queue_factory()
    orch, side, seg, stitch = failed_run(queue)          # side completed; seg, stitch, orch failed
    flaky = NewTask("flaky", {}, max_attempts=3)
    queue.enqueue([flaky])
    assert queue.fail(queue.claim("w", LEASE, ["flaky"]), "blip", retry=True)          # retried
    queue.claim("lost", 0.05, ["flaky"])
    time.sleep(0.1)
    assert queue.sweep_expired() == 1                                                  # lease expired
    assert queue.retry(seg.id) == 3                                                    # operator retried
    counts = {(e.event, e.task_type): e.n for e in queue.event_counts()}
    assert counts[("completed", "side")] == 1 and counts[("failed", "seg")] == 1
    assert counts[("failed", "orchestrator")] == 1 and counts[("retried", "flaky")] == 1
    assert counts[("lease_expired", "flaky")] == 1 and ("retried", "seg") not in counts
    assert counts[("operator_retried", "seg")] == 1 and counts[("operator_retried", "orchestrator")] == 1

    queue.register_worker(WorkerInfo("w-1", "host", 1, 30.0), 3600)
    claim = queue.claim("w-1", LEASE, ["flaky"])
    assert queue.beat_worker(WorkerBeat("w-1", "busy", current_task_id=claim.task_id))
    samples = parse_metrics(metrics_text(queue).decode())
    assert samples[("headless_tasks", (("status", "in_progress"), ("task_type", "flaky")))] == 1
    assert samples[("headless_tasks_failed_total", (("task_type", "seg"),))] == 1
    assert samples[("headless_task_retries_total", (("task_type", "flaky"),))] == 1
    assert samples[("headless_task_leases_expired_total", (("task_type", "flaky"),))] == 1
    assert samples[("headless_task_operator_retries_total", (("task_type", "seg"),))] == 1
    assert samples[("headless_worker_state", (("state", "busy"), ("worker_id", "w-1")))] == 1
    assert 0 <= samples[("headless_worker_current_task_age_seconds",
                         (("task_type", "flaky"), ("worker_id", "w-1")))] < 60
    # pruning rows takes nothing back from the counters (the gauges follow the rows)
    queue.target.execute("DELETE FROM tasks WHERE task_type = 'side'", "DELETE FROM tasks WHERE task_type = 'side'")
    samples = parse_metrics(metrics_text(queue).decode())
    assert samples[("headless_tasks_completed_total", (("task_type", "side"),))] == 1
    assert samples[("headless_task_duration_seconds_count", (("task_type", "side"),))] == 1
    assert samples[("headless_task_duration_seconds_bucket", (("le", "1"), ("task_type", "side")))] == 1
    assert ("headless_tasks", (("status", "complete"), ("task_type", "side"))) not in samples


def test_the_duration_bounds_are_declared_once(queue_factory):
    from source.dashboard.metrics import DURATION_BOUNDS

    queue = queue_factory()
    stored = queue.target.execute("SELECT le FROM wq_duration_bounds ORDER BY le",
                                  "SELECT le FROM wq_duration_bounds ORDER BY le")
    assert [float(le) for (le,) in stored] == [float(b) for b in DURATION_BOUNDS] + [1e308]


def test_a_worker_registers_as_starting_then_beats_idle(queue_factory):
    from source.queue.fleet import WorkerState

    queue = queue_factory()
    queue.register_worker(WorkerInfo("w-s", "host", 1, 30.0, state=WorkerState.STARTING), 3600)
    [record] = queue.list_workers(60)
    assert record.shown_state == WorkerState.STARTING and record.is_up
    assert queue.beat_worker(WorkerBeat("w-s", WorkerState.IDLE))
    assert queue.list_workers(60)[0].shown_state == WorkerState.IDLE
    queue.register_worker(WorkerInfo("w-i", "host", 2, 30.0), 3600)     # the default stays idle
    assert {w.worker_id: w.state for w in queue.list_workers(60)}["w-i"] == WorkerState.IDLE
