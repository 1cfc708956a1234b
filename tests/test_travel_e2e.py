"""Travel runs end to end: steerable_motion.py queues, real headless.py workers render with the tiny
random-weight VACE model, the stitch joins; frames counted by decoding."""
import subprocess
import sys
from pathlib import Path

import pytest

import source.wgp_utils  # noqa: F401  (the render bridge the workers run: if it cannot import, this fails)
from source.media.video_io import count_frames
from source.queue.model import Status
from tests.helpers.travel import solid_clip, write_anchor_images
from tests.helpers.workers import make_backend, wait_for, wait_terminal

ROOT = Path(__file__).resolve().parents[1]
TRAVEL = ["--resolution", "64x64", "--segment_frames", "17", "--frame_overlap", "4",
          "--model_name", "vace_14B", "--base_prompts", "hills at dawn", "hills at noon"]


@pytest.fixture
def sqlite_backend(tmp_path):
    with make_backend("sqlite", tmp_path) as backend:
        yield backend


def _queue_run(backend, images, *extra, **env):
    result = backend.run_cli("steerable_motion.py", "travel_between_images", "--input_images", *images,
                             *TRAVEL, *extra, **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[0]


def _root(queue, run_id):
    rows = queue.list_run(run_id)
    (root,) = [t for t in rows if t.task_type == "travel_orchestrator"]
    return root, rows


def test_three_images_make_30_frames_and_cleanup_leaves_only_artefacts(sqlite_backend, tmp_path):
    backend = sqlite_backend
    images = write_anchor_images(tmp_path / "in", 3)
    client = subprocess.Popen(
        [sys.executable, "steerable_motion.py", "travel_between_images", "--input_images", *images, *TRAVEL,
         "--seed", "7", "--run_id", "run_one", "--wait", "--wait_timeout", "240"],
        cwd=ROOT, env=backend.process_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    queue = backend.queue()
    wait_for(lambda: queue.list_run("run_one") or client.poll() is not None, timeout=60, what="the run's row")
    worker = backend.start_worker("--until-idle", "--engine", "tiny")
    try:
        stdout, stderr = client.communicate(timeout=300)
    finally:
        client.kill()
    assert client.returncode == 0, stderr + worker.log_path.read_text()
    assert "%" in stderr                                               # the progress bar was drawn
    run_id, final_line = stdout.strip().splitlines()[0], stdout.strip().splitlines()[-1]
    assert run_id == "run_one"
    final = Path(final_line)
    assert final.is_absolute() and final.name == "run_one_final.mp4"
    assert count_frames(final) == 30                                   # 17 + 17 - 4
    assert worker.wait(timeout=60) == 0

    root, rows = _root(queue, run_id)
    assert root.status == Status.COMPLETE and Path(root.output_location) == final
    segments = sorted((t for t in rows if t.task_type == "travel_segment"),
                      key=lambda t: t.params["segment_index"])
    assert [t.params["seed"] for t in segments] == [7, 8]
    assert all(count_frames(t.output_location) == 17 for t in segments)
    outputs = tmp_path / "outputs"
    assert sorted(p.name for p in outputs.iterdir() if p.is_file()) == \
        ["run_one_final.mp4", "run_one_final_poster.jpg", "run_one_seg00.mp4", "run_one_seg00_poster.jpg",
         "run_one_seg01.mp4", "run_one_seg01_poster.jpg"]
    assert root.params["thumbnail_url"] == str(outputs / "run_one_final_poster.jpg")
    assert not (outputs / "_work" / "runs" / "run_one").exists()       # the run's work folder is gone

    status = backend.run_cli("steerable_motion.py", "status", run_id)
    assert status.returncode == 0 and str(final) in status.stdout
    assert status.stdout.count("Complete") == 4


def test_failing_segment_fails_stitch_and_orchestrator_naming_it(sqlite_backend, tmp_path):
    backend = sqlite_backend
    images = write_anchor_images(tmp_path / "in", 3)
    run_id = _queue_run(backend, images, "--run_id", "run_fail")
    # orchestrator, then segment 0; then the image segment 1 needs disappears
    assert backend.start_worker("--once", "--engine", "tiny").wait(timeout=120) == 0
    assert backend.start_worker("--once", "--engine", "tiny").wait(timeout=120) == 0
    Path(images[2]).unlink()
    assert backend.start_worker("--until-idle", "--engine", "tiny").wait(timeout=120) == 0

    queue = backend.queue()
    root, rows = _root(queue, run_id)
    by_type = {}
    for t in rows:
        by_type.setdefault(t.task_type, []).append(t)
    seg1 = [t for t in by_type["travel_segment"] if t.params["segment_index"] == 1][0]
    assert seg1.status == Status.FAILED and "segment 1 of 2" in seg1.error_message
    (stitch,) = by_type["travel_stitch"]
    assert stitch.status == Status.FAILED and "segment 1 of 2" in stitch.error_message
    assert root.status == Status.FAILED and "segment 1 of 2" in root.error_message
    assert "anchor_2.png" in root.error_message
    assert not (tmp_path / "outputs" / "run_fail_final.mp4").exists()


def test_two_runs_with_two_workers_do_not_collide(sqlite_backend, tmp_path):
    backend = sqlite_backend
    images = write_anchor_images(tmp_path / "in", 3)
    first = _queue_run(backend, images, "--seed", "1")
    second = _queue_run(backend, list(reversed(images)), "--seed", "2", "--independent_segments")
    assert first != second
    workers = [backend.start_worker("--until-idle", "--engine", "tiny") for _ in range(2)]
    queue = backend.queue()
    for run_id in (first, second):
        root, _ = _root(queue, run_id)
        ended = wait_terminal(queue, root.id, timeout=240)
        assert ended.status == Status.COMPLETE, ended.error_message
        assert Path(ended.output_location).name == f"{run_id}_final.mp4"
        assert count_frames(ended.output_location) == 30
    for worker in workers:
        assert worker.wait(timeout=60) == 0
    names = sorted(p.name for p in (tmp_path / "outputs").iterdir() if p.is_file())
    assert names == sorted(f"{r}_{s}{end}" for r in (first, second) for s in ("final", "seg00", "seg01")
                           for end in (".mp4", "_poster.jpg"))
    workers_used = {t.worker_id for r in (first, second) for t in queue.list_run(r) if t.worker_id}
    assert len(workers_used) >= 1


def test_continue_from_video_adds_segment_frames_minus_overlap(sqlite_backend, tmp_path):
    backend = sqlite_backend
    images = write_anchor_images(tmp_path / "in", 1)
    video = solid_clip(tmp_path / "earlier.mp4", (90, 120, 150), 21, (64, 64))
    out_dir = tmp_path / "chosen"
    allowed = {"EXTRA_OUTPUT_DIRS": str(out_dir)}  # the worker's operator allows the run's folder
    run_id = _queue_run(backend, images, "--continue_from_video", str(video), "--output_dir", str(out_dir),
                        "--upscale_factor", "2", "--base_prompts", "more hills", **allowed)
    assert backend.start_worker("--until-idle", "--engine", "tiny", **allowed).wait(timeout=180) == 0
    root, _ = _root(backend.queue(), run_id)
    assert root.status == Status.COMPLETE, root.error_message
    final = Path(root.output_location)
    assert final.parent == out_dir and final.name == f"{run_id}_final.mp4"
    assert count_frames(final) == 21 + 17 - 4
    from source.media.video_io import video_info
    assert (video_info(final)["width"], video_info(final)["height"]) == (128, 128)


def test_cancel_a_queued_run(sqlite_backend, tmp_path):
    backend = sqlite_backend
    images = write_anchor_images(tmp_path / "in", 3)
    run_id = _queue_run(backend, images)
    result = backend.run_cli("steerable_motion.py", "cancel", run_id)
    assert result.returncode == 0 and "cancelled 1 row" in result.stderr
    root, _ = _root(backend.queue(), run_id)
    assert root.status == Status.CANCELLED
