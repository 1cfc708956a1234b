"""The worker as users run it: real headless.py processes on real SQLite files and PostgreSQL."""
from __future__ import annotations

import os
import signal
import time
from collections import Counter

import pytest

from source.queue.model import NewTask, Status

from .helpers.workers import make_backend, read_marker, wait_for, wait_for_status, wait_terminal


def test_four_workers_run_every_row_exactly_once(backend):
    queue = backend.queue()
    marker = backend.tmp / "outputs" / "executions.txt"
    # all four serving before the rows arrive (a slow start must not leave one worker all the work)
    workers = [backend.start_worker() for _ in range(4)]
    wait_for(lambda: len([w for w in queue.list_workers(600) if w.state == "idle"]) == 4, timeout=180,
             what="four idle workers in the registry")
    ids = queue.enqueue([NewTask("noop", {"marker_file": str(marker), "output": "done-{worker}"})
                         for _ in range(200)])
    wait_for(lambda: all(queue.get(i).status == Status.COMPLETE for i in ids), timeout=180,
             what="every row Complete")
    for proc in workers:
        proc.send_signal(signal.SIGTERM)
    for proc in workers:
        assert proc.wait(timeout=60) == 0, proc.log_path.read_text()[-2000:]
    runs = Counter(line[0] for line in read_marker(marker))
    assert set(runs) == set(ids)
    assert max(runs.values()) == 1, [i for i, n in runs.items() if n > 1]
    statuses = Counter(queue.get(i).status for i in ids)
    assert statuses == {Status.COMPLETE: 200}
    # the work was shared: more than one worker process did some of it
    assert len({line[1] for line in read_marker(marker)}) > 1


def test_sigkilled_worker_row_fails_after_max_attempts_saying_the_worker_was_lost(backend):
    queue = backend.queue()
    marker = backend.tmp / "outputs" / "executions.txt"
    (task_id,) = queue.enqueue([NewTask("noop", {"sleep": 30, "marker_file": str(marker)}, max_attempts=2)])
    for attempt in (1, 2):
        victim = backend.start_worker("--lease-seconds", "1")
        wait_for(lambda: (t := queue.get(task_id)).status == Status.IN_PROGRESS and t.attempts == attempt,
                 what=f"attempt {attempt} to start")
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
        time.sleep(1.2)  # the lease runs out; any live worker's sweep (here: ours) reclaims the row
        assert queue.sweep_expired() == 1
    task = queue.get(task_id)
    assert task.status == Status.FAILED, task
    assert "lost" in task.error_message and "2" in task.error_message
    assert read_marker(marker) == []  # no execution ever finished


def test_killed_worker_row_completes_on_another_worker(backend):
    queue = backend.queue()
    marker = backend.tmp / "outputs" / "executions.txt"
    (task_id,) = queue.enqueue([NewTask("noop", {"sleep": 1.5, "marker_file": str(marker)})])
    victim = backend.start_worker("--lease-seconds", "1")
    wait_for_status(queue, task_id, Status.IN_PROGRESS)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)
    rescuer = backend.start_worker("--until-idle", "--lease-seconds", "1")
    assert rescuer.wait(timeout=60) == 0, rescuer.log_path.read_text()[-2000:]
    task = queue.get(task_id)
    assert task.status == Status.COMPLETE and task.attempts == 2
    assert len(read_marker(marker)) == 1


def test_stalled_worker_that_wakes_late_changes_nothing(backend):
    """SIGSTOP a worker past its lease; another worker re-claims the row; the stalled one wakes while
    the row is In Progress again under the new attempt. Only the fencing token (worker_id + attempt)
    tells the two apart: the late worker's writes must change nothing."""
    queue = backend.queue()
    marker = backend.tmp / "outputs" / "executions.txt"
    (task_id,) = queue.enqueue([NewTask("noop", {"sleep": 2.0, "marker_file": str(marker),
                                                  "output": "by-{worker}-attempt-{attempt}"})])
    sleeper = backend.start_worker("--lease-seconds", "1", "--worker-id", "sleeper")
    wait_for_status(queue, task_id, Status.IN_PROGRESS)
    os.kill(sleeper.pid, signal.SIGSTOP)
    time.sleep(1.5)  # the lease expires while the worker is frozen
    rescuer = backend.start_worker("--until-idle", "--lease-seconds", "1", "--worker-id", "rescuer")
    wait_for(lambda: (t := queue.get(task_id)).status == Status.IN_PROGRESS and t.attempts == 2,
             what="the rescuer to claim attempt 2")
    os.kill(sleeper.pid, signal.SIGCONT)  # wakes past its own deadline: it tries to finish at once
    assert rescuer.wait(timeout=60) == 0, rescuer.log_path.read_text()[-2000:]
    done = queue.get(task_id)
    assert done.status == Status.COMPLETE and done.attempts == 2
    assert done.output_location.startswith("by-rescuer-") and done.output_location.endswith("attempt-2")
    time.sleep(1.0)  # give the late worker every chance to write
    after = queue.get(task_id)
    assert (after.status, after.output_location, after.attempts, after.worker_id, after.finished_at) == (
        done.status, done.output_location, done.attempts, done.worker_id, done.finished_at)
    assert [line[1].split("-")[0] for line in read_marker(marker)] == ["rescuer"]
    assert "taken over" in sleeper.log_path.read_text()  # the late worker noticed and stopped


def test_sigterm_gives_the_running_row_back_without_counting_the_attempt(backend):
    queue = backend.queue()
    (task_id,) = queue.enqueue([NewTask("noop", {"sleep": 30})])
    proc = backend.start_worker("--shutdown-grace-seconds", "0.5")
    wait_for_status(queue, task_id, Status.IN_PROGRESS)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, proc.log_path.read_text()[-2000:]
    task = queue.get(task_id)
    assert task.status == Status.QUEUED and task.attempts == 0 and task.worker_id is None


def test_sigterm_lets_a_short_task_finish_within_grace(backend):
    queue = backend.queue()
    (task_id,) = queue.enqueue([NewTask("noop", {"sleep": 1.0, "output": "finished"})])
    proc = backend.start_worker("--shutdown-grace-seconds", "20")
    wait_for_status(queue, task_id, Status.IN_PROGRESS)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    task = queue.get(task_id)
    assert task.status == Status.COMPLETE and task.output_location == "finished" and task.attempts == 1


def _interrupted_twice_while_running(backend, params):
    """A worker running one noop task (60 s grace) gets SIGINT twice and exits 0."""
    queue = backend.queue()
    (task_id,) = queue.enqueue([NewTask("noop", params)])
    proc = backend.start_worker("--shutdown-grace-seconds", "60")
    wait_for_status(queue, task_id, Status.IN_PROGRESS)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 0
    return queue, task_id, proc


def test_second_signal_gives_back_at_once(backend):
    queue, task_id, proc = _interrupted_twice_while_running(backend, {"sleep": 60})
    task = queue.get(task_id)
    assert task.status == Status.QUEUED and task.attempts == 0


def test_handler_errors_and_unknown_types_fail_the_row_and_the_worker_goes_on(backend):
    queue = backend.queue()
    bad_type, boom, good = queue.enqueue([
        NewTask("render_my_dreams", {}, priority=3),
        NewTask("noop", {"fail": "the GPU caught fire"}, priority=2, max_attempts=1),
        NewTask("noop", {"output": "still serving"}, priority=1),
    ])
    proc = backend.start_worker("--until-idle")
    assert proc.wait(timeout=60) == 0
    task = queue.get(bad_type)
    assert task.status == Status.FAILED
    assert "unknown task_type 'render_my_dreams'" in task.error_message and "noop" in task.error_message
    task = queue.get(boom)
    assert task.status == Status.FAILED and "the GPU caught fire" in task.error_message
    assert queue.get(good).status == Status.COMPLETE
    log = proc.log_path.read_text()
    assert f"[task {bad_type}]" in log and f"[task {good}]" in log  # every task line carries its id


def test_dependency_chain_runs_in_order_across_workers(backend):
    queue = backend.queue()
    marker = backend.tmp / "outputs" / "order.txt"
    first = NewTask("noop", {"marker_file": str(marker)})
    second = NewTask("noop", {"marker_file": str(marker)}, dependant_on=[first.id], priority=9)
    third = NewTask("noop", {"marker_file": str(marker)}, dependant_on=[first.id, second.id], priority=9)
    queue.enqueue([first, second, third])
    workers = [backend.start_worker("--until-idle") for _ in range(2)]
    for proc in workers:
        assert proc.wait(timeout=60) == 0
    assert [line[0] for line in read_marker(marker)] == [first.id, second.id, third.id]


def test_cancel_of_a_running_row_stops_it(backend):
    queue = backend.queue()
    marker = backend.tmp / "outputs" / "executions.txt"
    (task_id,) = queue.enqueue([NewTask("noop", {"sleep": 30, "marker_file": str(marker)})])
    proc = backend.start_worker("--lease-seconds", "1")
    wait_for_status(queue, task_id, Status.IN_PROGRESS)
    result = backend.run_cli("add_task.py", "--cancel", task_id)
    assert result.returncode == 0, result.stderr
    task = wait_terminal(queue, task_id, timeout=10)
    assert task.status == Status.CANCELLED
    time.sleep(1.5)  # the worker notices at its next heartbeat and drops the task
    assert read_marker(marker) == []
    assert queue.get(task_id).status == Status.CANCELLED
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0


# ---- what the worker says at shutdown (the loop, not the backend: SQLite only) ------------------------

@pytest.fixture
def sqlite_backend(tmp_path):
    with make_backend("sqlite", tmp_path) as backend:
        yield backend


def _worker_lines(proc) -> list[str]:
    return [line.split("worker: ", 1)[1] for line in proc.log_path.read_text().splitlines() if "worker: " in line]


@pytest.mark.parametrize("params, stops", [({"sleep": 60}, True), ({"busy": 60}, False)])
def test_after_giving_a_row_back_the_worker_says_whether_the_task_stopped(sqlite_backend, params, stops):
    queue, task_id, proc = _interrupted_twice_while_running(sqlite_backend, params)
    lines = _worker_lines(proc)
    assert "SIGINT: no new tasks; the running task may finish within 60 s" in lines
    assert "shutdown: row given back to the queue (attempt not counted)" in lines
    assert any(line.startswith("the task did not stop within 1 s") for line in lines) == (not stops), lines
    assert lines[-1].endswith("stopped after 0 task(s) (1 given back to the queue)")
    assert queue.get(task_id).status == Status.QUEUED


def test_an_idle_worker_says_it_stops_and_a_task_without_output_says_so(sqlite_backend):
    queue = sqlite_backend.queue()
    (task_id,) = queue.enqueue([NewTask("noop", {})])
    proc = sqlite_backend.start_worker()
    wait_for_status(queue, task_id, Status.COMPLETE)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 0
    lines = _worker_lines(proc)
    assert any(line.startswith("complete in ") and line.endswith(" s (no output)") for line in lines), lines
    assert "SIGINT: stopping (no task is running)" in lines
    assert lines[-1].endswith("stopped after 1 task(s)")


def test_an_idle_worker_stops_at_a_signal_on_every_backend(backend):
    proc = backend.start_worker("--poll-interval", "30")
    wait_for(lambda: "started" in proc.log_path.read_text(), timeout=60, what="the worker to start")
    time.sleep(0.5)                                                    # inside its wait for new work
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 0
    log = proc.log_path.read_text()
    assert "SIGINT: stopping (no task is running)" in log and "Traceback" not in log, log[-2000:]
    assert _worker_lines(proc)[-1].endswith("stopped after 0 task(s)")


def test_a_stale_worker_resumed_past_its_lease_publishes_nothing(tmp_path):
    """The stale-worker race with files: a worker frozen (SIGSTOP) while it renders a travel segment, its
    lease expired, a second worker runs the segment and the run to the end; the first wakes (SIGCONT).
    The run completes once with a valid video, and the late attempt's file replaces nothing."""
    from pathlib import Path

    from source.media import video_io

    root = Path(__file__).resolve().parents[1]
    with make_backend("sqlite", tmp_path) as backend:
        queue = backend.queue()
        queued = backend.run_cli("steerable_motion.py", "travel_between_images", "--input_images",
                                 str(root / "samples" / "anchor_0.png"), str(root / "samples" / "anchor_1.png"),
                                 "--resolution", "64x64", "--segment_frames", "17", "--model_name", "vace_14B",
                                 "--base_prompts", "hills", "--params_json_str", '{"steps": 60}')
        assert queued.returncode == 0, queued.stderr
        run_id = queued.stdout.strip().splitlines()[0]
        stale = backend.start_worker("--engine", "tiny", "--lease-seconds", "2", "--worker-id", "stale")

        def segment():
            return next((t for t in queue.list_run(run_id) if t.task_type == "travel_segment"), None)

        wait_for(lambda: (s := segment()) is not None and "rendering: step" in (s.progress_message or ""),
                 timeout=120, what="the stale worker to render the segment")
        os.kill(stale.pid, signal.SIGSTOP)
        time.sleep(2.5)  # its lease expires while it is frozen
        rescuer = backend.start_worker("--until-idle", "--engine", "tiny", "--lease-seconds", "2",
                                       "--worker-id", "rescuer")
        assert rescuer.wait(timeout=180) == 0, rescuer.log_path.read_text()[-3000:]
        outputs = Path(backend.env["MAIN_OUTPUT_DIR"])
        seg_file = outputs / f"{run_id}_seg00.mp4"
        before = seg_file.stat()
        os.kill(stale.pid, signal.SIGCONT)
        wait_for(lambda: "no longer ours" in stale.log_path.read_text(), timeout=30,
                 what="the stale worker to notice")
        time.sleep(2.0)  # every chance to publish late
        rows = queue.list_run(run_id)
        assert all(t.status == Status.COMPLETE for t in rows), [(t.task_type, t.status, t.error_message) for t in rows]
        seg = segment()
        assert seg.attempts == 2 and seg.worker_id.startswith("rescuer")
        after = seg_file.stat()
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # not replaced
        assert video_io.count_frames(seg_file) == 17
        assert sorted(p.name for p in outputs.iterdir() if p.is_file()) == \
            sorted([f"{run_id}_seg00.mp4", f"{run_id}_final.mp4",     # and their posters (params.thumbnail_url)
                    f"{run_id}_seg00_poster.jpg", f"{run_id}_final_poster.jpg"])
        assert "complete in" not in stale.log_path.read_text()  # the late attempt finished nothing
        print(stale.log_path.read_text()[-1500:])
        stale.terminate()
