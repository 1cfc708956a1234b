"""While a run's children work, its orchestrator row tells the run's truth (sql/*/130_run_summary.sql):
no worker id once it has fanned out, the children's mean progress, and the message of the child that
reported (or how many steps are done). And the work folder of a run that ended goes, however it ended.
"""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from source.queue.model import NewTask, Status
from source.tasks.ids import child_task_id
from tests.helpers.workers import ROOT, make_backend


def _fan_out(queue, run_id: str = "run-s"):
    (root,) = queue.enqueue([NewTask("travel_orchestrator", {}, run_id=run_id)])
    claim = queue.claim("orchestrating-worker", 60, ["travel_orchestrator"])
    assert queue.set_progress(claim, 0.1, "checking inputs")
    segments = [child_task_id(root, run_id, "segment", i) for i in range(2)]
    stitch = child_task_id(root, run_id, "stitch")
    children = [NewTask("travel_segment", {"segment_index": i}, id=segments[i], run_id=run_id,
                        dependant_on=[segments[i - 1]] if i else []) for i in range(2)]
    children.append(NewTask("travel_stitch", {}, id=stitch, run_id=run_id, dependant_on=segments))
    assert queue.fan_out(claim, children, stitch)
    return root, segments, stitch


def test_the_orchestrator_row_follows_its_children(queue_factory):
    queue = queue_factory()
    root, segments, stitch = _fan_out(queue)
    row = queue.get(root)
    assert row.status == Status.IN_PROGRESS and row.worker_id is None        # nobody holds it any more
    assert row.progress == 0.0 and row.progress_message == "0 of 3 steps done"

    first = queue.claim("w1", 60, ["travel_segment"])
    assert queue.set_progress(first, 0.45, "segment 1/2 rendering: step 9/20")
    row = queue.get(root)
    assert row.progress_message == "segment 1/2 rendering: step 9/20"
    assert row.progress == pytest.approx(0.45 / 3)

    assert queue.complete(first, "/out/seg00.mp4")
    row = queue.get(root)
    assert row.progress_message == "1 of 3 steps done" and row.progress == pytest.approx(1 / 3)
    assert row.worker_id is None

    second = queue.claim("w2", 60, ["travel_segment"])
    assert queue.set_progress(second, 0.5, "segment 2/2 rendering: step 2/4")
    assert queue.get(root).progress == pytest.approx((1 + 0.5) / 3)
    assert queue.complete(second, "/out/seg01.mp4")
    assert queue.complete(queue.claim("w3", 60, ["travel_stitch"]), "/out/final.mp4")
    row = queue.get(root)
    assert row.status == Status.COMPLETE and row.progress == 1.0 and row.output_location == "/out/final.mp4"


def test_a_childs_progress_write_never_waits_for_a_locked_orchestrator(queue_factory):
    queue = queue_factory()
    if queue.target.backend == "sqlite":
        pytest.skip("SQLite writes one transaction at a time: no row locks to wait for")
    import psycopg

    root, segments, _ = _fan_out(queue)
    claim = queue.claim("w1", 60, ["travel_segment"])
    with psycopg.connect(queue.target.settings().database_url) as holder:   # e.g. a cancel walking the run
        holder.execute("SELECT 1 FROM tasks WHERE id = %s FOR UPDATE", (root,))
        written = []
        writer = threading.Thread(target=lambda: written.append(queue.set_progress(claim, 0.3, "busy")))
        writer.start()
        writer.join(timeout=10)
        assert not writer.is_alive() and written == [True]
        holder.rollback()
    assert queue.get(root).progress_message == "0 of 3 steps done"          # skipped this once ...
    assert queue.set_progress(claim, 0.6, "segment 1/2 rendering: step 6/10")
    assert queue.get(root).progress_message == "segment 1/2 rendering: step 6/10"   # ... and caught up


# ---- the run's work folder -------------------------------------------------------------------------------

@pytest.fixture
def sqlite_backend(tmp_path):
    with make_backend("sqlite", tmp_path) as backend:
        yield backend


def _queue_travel(backend, images, *extra):
    done = backend.run_cli("steerable_motion.py", "travel_between_images", "--input_images", *images,
                           "--resolution", "64x64", "--segment_frames", "9", "--frame_overlap", "2", *extra)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _anchors(folder: Path) -> list[str]:
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    return [shutil.copy(ROOT / "samples" / f"anchor_{i}.png", folder / f"a{i}.png") for i in range(3)]


def test_a_failed_runs_work_folder_goes_and_a_kept_one_stays(sqlite_backend, tmp_path):
    backend = sqlite_backend
    runs = tmp_path / "outputs" / "_work" / "runs"
    for keep in ([], ["--skip_cleanup"]):
        images = _anchors(tmp_path / f"in{len(keep)}")
        run_id = _queue_travel(backend, images, *keep)
        assert backend.start_worker("--once", "--engine", "preview").wait(timeout=60) == 0    # orchestrator
        assert backend.start_worker("--once", "--engine", "preview").wait(timeout=60) == 0    # segment 0
        assert (runs / run_id / "seg00").is_dir()          # guide and mask files only with --debug
        Path(images[2]).unlink()                                       # segment 1 cannot read its anchor
        assert backend.start_worker("--until-idle", "--engine", "preview").wait(timeout=60) == 0
        rows = backend.queue().list_run(run_id)
        assert {row.status for row in rows} == {Status.COMPLETE, Status.FAILED}
        assert (runs / run_id).exists() == bool(keep), run_id


def test_a_run_cancelled_between_its_steps_loses_its_folder_at_the_next_sweep(sqlite_backend, tmp_path):
    backend = sqlite_backend
    run_id = _queue_travel(backend, _anchors(tmp_path / "in"))
    assert backend.start_worker("--once", "--engine", "preview").wait(timeout=60) == 0
    assert backend.start_worker("--once", "--engine", "preview").wait(timeout=60) == 0
    folder = tmp_path / "outputs" / "_work" / "runs" / run_id
    assert folder.is_dir()
    cancelled = backend.run_cli("steerable_motion.py", "cancel", run_id)
    assert cancelled.returncode == 0, cancelled.stderr
    assert folder.is_dir()                                             # no task of it ran since
    assert backend.start_worker("--until-idle", "--engine", "preview").wait(timeout=60) == 0   # a worker starts
    assert not folder.exists()
