"""The workers registry and the fleet's read-only views, on every backend (SQLite, PostgreSQL, Supabase
over PostgREST): what a worker registers and beats reads back; silence reads as gone; the counts, run
pages and duration buckets match the rows in the table."""
from __future__ import annotations

import time

import pytest

from source.queue.fleet import GONE_AFTER_LEASES, WorkerBeat, WorkerInfo, WorkerState, beat_interval
from source.queue.model import NewTask, Status

WEEK = 7 * 24 * 3600.0


def info(worker_id: str, lease: float = 60.0, **extra) -> WorkerInfo:
    return WorkerInfo(worker_id=worker_id, host="gpu-box-3", pid=4242, lease_seconds=lease, engine="diffusers",
                      version="0.2.0+gabc", task_types="travel_segment,travel_stitch", gpu_name="NVIDIA H100",
                      gpu_memory_total_mb=81559, gpu_memory_used_mb=512, **extra)


def test_a_worker_registers_beats_while_busy_and_idle_and_stops(queue_factory):
    queue = queue_factory()
    queue.register_worker(info("w-1"), WEEK)
    [record] = queue.list_workers(60)
    assert (record.worker_id, record.state, record.shown_state, record.host, record.pid) == \
        ("w-1", WorkerState.IDLE, WorkerState.IDLE, "gpu-box-3", 4242)
    assert (record.gpu_name, record.gpu_memory_total_mb, record.engine, record.task_types) == \
        ("NVIDIA H100", 81559, "diffusers", "travel_segment,travel_stitch")
    assert record.silent_seconds < 5 and record.current_task_id is None and record.is_up

    [task_id] = queue.enqueue([NewTask("travel_segment", {"model_name": "vace_14B"}, run_id="run-a")])
    claim = queue.claim("w-1", 60)
    assert queue.set_progress(claim, 0.4, "step 4/10")
    assert queue.beat_worker(WorkerBeat("w-1", WorkerState.BUSY, task_id, "vace_14B", 30000, 1))
    [busy] = queue.list_workers(60)
    assert (busy.shown_state, busy.current_task_id, busy.current_task_type, busy.current_run_id) == \
        (WorkerState.BUSY, task_id, "travel_segment", "run-a")
    assert (busy.current_progress, busy.current_progress_message) == (0.4, "step 4/10")
    assert (busy.model, busy.gpu_memory_used_mb, busy.tasks_run) == ("vace_14B", 30000, 1)
    assert busy.last_seen_at >= record.last_seen_at

    assert queue.beat_worker(WorkerBeat("w-1", WorkerState.IDLE, None, "vace_14B", 28000, 1))
    assert queue.list_workers(60)[0].shown_state == WorkerState.IDLE
    assert queue.beat_worker(WorkerBeat("w-1", WorkerState.STOPPED, None, "vace_14B", None, 1))
    [stopped] = queue.list_workers(60)
    assert stopped.shown_state == WorkerState.STOPPED and not stopped.is_up
    # a stopped row stays stopped; a worker nobody registered has no row to beat
    assert not queue.beat_worker(WorkerBeat("w-1", WorkerState.BUSY, None, None, None, 2))
    assert not queue.beat_worker(WorkerBeat("nobody", WorkerState.IDLE))
    assert [w.shown_state for w in queue.list_workers(60)] == [WorkerState.STOPPED]


def test_a_silent_worker_reads_as_gone_and_week_old_rows_are_forgotten(queue_factory):
    queue = queue_factory()
    queue.register_worker(info("quick", lease=0.1), WEEK)
    queue.register_worker(info("slow", lease=3600), WEEK)
    queue.register_worker(info("done", lease=0.1), WEEK)
    queue.beat_worker(WorkerBeat("done", WorkerState.STOPPED))
    time.sleep(GONE_AFTER_LEASES * 0.1 + 0.3)
    states = {w.worker_id: w.shown_state for w in queue.list_workers(60)}
    assert states == {"quick": WorkerState.GONE, "slow": WorkerState.IDLE, "done": WorkerState.STOPPED}
    # a gone worker that beats again is back
    assert queue.beat_worker(WorkerBeat("quick", WorkerState.IDLE))
    assert {w.worker_id: w.shown_state for w in queue.list_workers(60)}["quick"] == WorkerState.IDLE
    # only workers seen within the window are listed; a registration forgets rows older than its limit
    time.sleep(0.4)
    queue.beat_worker(WorkerBeat("slow", WorkerState.IDLE))
    assert [w.worker_id for w in queue.list_workers(0.3)] == ["slow"]
    queue.register_worker(info("new"), forget_after_seconds=0.3)
    assert sorted(w.worker_id for w in queue.list_workers(WEEK)) == ["new", "slow"]


def test_a_beat_names_a_known_state_and_comes_at_least_every_ten_seconds():
    with pytest.raises(ValueError, match="starting, idle, busy, stopping, stopped"):
        WorkerBeat("w", "sleeping")
    assert beat_interval(60) == 10.0 and beat_interval(3) == 1.0


def _raw_counts(target) -> dict[tuple[str, str], int]:
    rows = target.execute("SELECT task_type, status, count(*) FROM tasks GROUP BY 1, 2",
                          "SELECT task_type, status, count(*) FROM tasks GROUP BY 1, 2")
    return {(t, s): int(n) for t, s, n in rows}


def _make_runs(queue):
    """A travel-shaped run (orchestrator, 2 segments, stitch) half done, a failed row, queued rows."""
    [orchestrator] = queue.enqueue([NewTask("travel_orchestrator", {}, run_id="run-travel")])
    claim = queue.claim("w", 60)
    assert claim.task_id == orchestrator
    children = [NewTask("travel_segment", {"segment_index": 0}, id="seg0"),
                NewTask("travel_segment", {"segment_index": 1}, id="seg1", dependant_on=["seg0"]),
                NewTask("travel_stitch", {}, id="stitch", dependant_on=["seg0", "seg1"])]
    assert queue.fan_out(claim, children, "stitch")
    seg0 = queue.claim("w", 60)
    time.sleep(0.02)
    assert queue.complete(seg0, "/out/seg0.mp4")
    seg1 = queue.claim("w", 60)
    assert queue.set_progress(seg1, 0.5, "half")
    [broken] = queue.enqueue([NewTask("extract_frame", {}, run_id="run-broken")])
    assert queue.fail(queue.claim("w", 60, task_types=["extract_frame"]), "no such video")
    queue.enqueue([NewTask("noop", {"i": i}) for i in range(3)])
    return orchestrator, broken


def test_fleet_reads_count_what_the_table_holds(queue_factory):
    queue = queue_factory()
    orchestrator, broken = _make_runs(queue)

    counts = {(c.task_type, c.status): c.rows for c in queue.status_counts()}
    assert counts == _raw_counts(queue.target)
    assert counts == {("travel_orchestrator", Status.IN_PROGRESS): 1, ("travel_segment", Status.COMPLETE): 1,
                      ("travel_segment", Status.IN_PROGRESS): 1, ("travel_stitch", Status.QUEUED): 1,
                      ("extract_frame", Status.FAILED): 1, ("noop", Status.QUEUED): 3}

    overview = queue.fleet_overview(3600)
    assert (overview.runs, overview.runs_since, overview.failed_since, overview.completed_since) == (5, 5, 1, 1)
    assert overview.oldest_queued_seconds is not None and 0 <= overview.oldest_queued_seconds < 60
    assert queue.fleet_overview(0.0).runs_since == 0

    runs = queue.list_runs(10)
    assert [r.root.task_type for r in runs] == ["noop"] * 3 + ["extract_frame", "travel_orchestrator"]
    travel = runs[-1]
    assert travel.root.id == orchestrator and travel.children == 3
    assert travel.children_by_status == {Status.COMPLETE: 1, Status.IN_PROGRESS: 1, Status.QUEUED: 1}
    assert travel.progress == pytest.approx((1 + 0.5) / 3)
    assert travel.last_finished_at is not None
    assert runs[3].root.id == broken and runs[3].children == 0 and runs[3].root.status == Status.FAILED

    # pages: newest first, no overlap, nothing lost
    page1, page2 = queue.list_runs(2, 0), queue.list_runs(2, 2)
    assert [r.root.id for r in page1 + page2 + queue.list_runs(2, 4)] == [r.root.id for r in runs]
    assert [r.root.id for r in queue.list_runs(10, status=Status.FAILED)] == [broken]
    assert queue.list_runs(10, 5) == []


def test_durations_are_bucketed_per_task_type(queue_factory):
    queue = queue_factory()
    queue.enqueue([NewTask("quick", {}), NewTask("quick", {}), NewTask("slow", {})])
    for _ in range(2):
        assert queue.complete(queue.claim("w", 60, task_types=["quick"]), None)
    slow = queue.claim("w", 60, task_types=["slow"])
    time.sleep(0.3)
    assert queue.complete(slow, None)
    buckets = {(b.task_type, b.le): b for b in queue.task_durations([0.2, 10])}
    assert buckets[("quick", 0.2)].rows == 2 and buckets[("quick", 10.0)].rows == 2
    assert buckets[("slow", 0.2)].rows == 0 and buckets[("slow", 10.0)].rows == 1
    assert buckets[("quick", None)].rows == 2 and buckets[("slow", None)].rows == 1
    assert 0.25 <= buckets[("slow", None)].seconds < 10
