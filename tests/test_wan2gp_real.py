"""The Wan2GP engine against the REAL Wan2GP: `headless.py --engine wan2gp` workers rendering rows with
a CPU test harness's tiny random-weight models (docs/ENGINES.md). Slow (minutes).

Skipped unless WAN2GP_PATH (a Wan2GP checkout with the tiny models) and WAN2GP_PYTHON (its venv's python)
are set; the worker processes inherit both. Prints the per-task timings
(run with -s to see them). Only tiny_t2v and tiny_vace exist in the harness, so the rows name `tiny`
(which picks one of them by the inputs) or `wan2gp:tiny_vace`.
"""
from __future__ import annotations

import os
import re
import signal
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from source.media.video_io import count_frames, video_info
from source.queue.model import NewTask, Status
from tests.helpers.travel import write_anchor_images
from tests.helpers.workers import make_backend, wait_for

pytestmark = [
    pytest.mark.skipif(not (os.environ.get("WAN2GP_PATH") and os.environ.get("WAN2GP_PYTHON")),
                       reason="needs the real Wan2GP: set WAN2GP_PATH and WAN2GP_PYTHON "
                              "(docs/ENGINES.md says how to run it without a GPU)"),
    pytest.mark.timeout(2400),  # minutes per test on 2 shared CPU cores: the random full-size VAE is slow
]

ROOT = Path(__file__).resolve().parents[1]
SIZE = "128x128"   # the harness models take any multiple of 16; the full-size random VAE dominates the time
ENGINE = ("--engine", "wan2gp", "--wgp-attention-mode", "sdpa")


@pytest.fixture
def backend(tmp_path):
    with make_backend("sqlite", tmp_path) as made:
        yield made


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def completion_seconds(log: str, task_id: str) -> list[float]:
    return [float(s) for s in re.findall(rf"\[task {re.escape(task_id)}\] worker: complete in ([\d.]+) s", log)]


def helper_pids(log: str) -> list[int]:
    return [int(pid) for pid in re.findall(r"starting the Wan2GP helper \(pid (\d+)", log)]


def show(log: str, *patterns: str) -> None:
    for line in log.splitlines():
        if any(p in line for p in patterns):
            say("    | " + line[:220])


def test_wgp_rows_reuse_the_helper_and_a_kill_9_is_retried(backend):
    """Two identical t2v rows (the second reuses the loaded model), a single_image row, then a row whose
    helper is killed with SIGKILL mid-render: retried with back-off on a fresh helper, completes; the
    worker never exits until the queue is idle."""
    queue = backend.queue()
    common = {"model": "tiny", "resolution": SIZE, "frames": 9, "steps": 2}
    first = NewTask("wgp", {**common, "prompt": "a red car", "seed": 1}, priority=40)
    second = NewTask("wgp", {**common, "prompt": "a red car", "seed": 2}, priority=30)
    still = NewTask("single_image", {**common, "prompt": "a red car", "seed": 3}, priority=20)
    victim = NewTask("wgp", {**common, "prompt": "a blue boat", "seed": 4, "steps": 6}, priority=10)
    queue.enqueue([first, second, still, victim])
    started = time.monotonic()
    worker = backend.start_worker("--until-idle", *ENGINE)

    def victim_rendering():
        row = queue.get(victim.id)
        return row.status == Status.IN_PROGRESS and (row.progress or 0) > 0 and row

    wait_for(victim_rendering, timeout=900, interval=0.2, what="the fourth row's first denoising step")
    log = worker.log_path.read_text()
    pid = helper_pids(log)[-1]
    say(f"\n  kill -9 {pid} (the Wan2GP helper) while {victim.id} is at "
        f"{queue.get(victim.id).progress_message!r}, {time.monotonic() - started:.1f} s into the run")
    os.kill(pid, signal.SIGKILL)
    assert worker.poll() is None

    assert worker.wait(timeout=900) == 0, worker.log_path.read_text()[-4000:]
    log = worker.log_path.read_text()
    rows = {task.id: queue.get(task.id) for task in (first, second, still, victim)}
    for row in rows.values():
        assert row.status == Status.COMPLETE, (row.task_type, row.error_message)
    for task in (first, second, victim):
        path = rows[task.id].output_location
        assert count_frames(path) == 9 and (video_info(path)["width"], video_info(path)["height"]) == (128, 128)
    assert Image.open(rows[still.id].output_location).size == (128, 128)
    assert rows[victim.id].attempts == 2
    pids = helper_pids(log)
    assert len(pids) == 2 and pids[0] == pid                          # one helper for rows 1-3, a fresh one after
    assert re.search(rf"\[task {victim.id}\] worker: failed: Wan2GP helper was killed by SIGKILL", log)

    t1, t2 = completion_seconds(log, first.id)[0], completion_seconds(log, second.id)[0]
    say(f"  task 1 (starts the helper, loads tiny_t2v): {t1:.1f} s")
    say(f"  task 2 (same worker, helper and model reused): {t2:.1f} s")
    say(f"  single_image (5 frames rendered, first kept as PNG): {completion_seconds(log, still.id)[0]:.1f} s")
    say(f"  task 4 after kill -9: attempt 2 completed in {completion_seconds(log, victim.id)[0]:.1f} s "
        f"(fresh helper pid {pids[1]})")
    show(log, "Wan2GP helper ready", "failed: Wan2GP helper", "complete in", "Wan2GP helper stopped",
         "Loading model", "starting the Wan2GP helper")
    assert t2 < t1


def test_travel_between_images_with_vace_segments(backend, tmp_path):
    """steerable_motion.py queues a 3-image travel run; two 17-frame VACE segments rendered by the real
    Wan2GP (tiny_vace) and stitched: 17 + 17 - 4 = 30 frames."""
    images = write_anchor_images(tmp_path / "in", 3, size=(128, 128))
    queued = backend.run_cli("steerable_motion.py", "travel_between_images", "--input_images", *images,
                             "--resolution", SIZE, "--segment_frames", "17", "--frame_overlap", "4",
                             "--model_name", "wan2gp:tiny_vace", "--steps", "2", "--seed", "5",
                             "--base_prompts", "hills at dawn", "hills at noon", "--run_id", "real_travel")
    assert queued.returncode == 0, queued.stderr
    queue = backend.queue()
    started = time.monotonic()
    worker = backend.start_worker("--until-idle", *ENGINE)
    assert worker.wait(timeout=1500) == 0, worker.log_path.read_text()[-4000:]
    log = worker.log_path.read_text()
    rows = queue.list_run("real_travel")
    (root,) = [t for t in rows if t.task_type == "travel_orchestrator"]
    assert root.status == Status.COMPLETE, (root.error_message, log[-3000:])
    segments = sorted((t for t in rows if t.task_type == "travel_segment"), key=lambda t: t.params["segment_index"])
    assert len(segments) == 2 and all(count_frames(t.output_location) == 17 for t in segments)
    assert count_frames(root.output_location) == 30
    assert (video_info(root.output_location)["width"], video_info(root.output_location)["height"]) == (128, 128)
    assert len(helper_pids(log)) == 1
    say(f"\n  travel run: {len(rows)} rows, final {root.output_location} (30 frames) in "
        f"{time.monotonic() - started:.1f} s")
    for segment in segments:
        say(f"  segment {segment.params['segment_index']}: 17 frames, "
            f"{completion_seconds(log, segment.id)[0]:.1f} s")
    show(log, "Wan2GP helper ready", "complete in", "Wan2GP helper stopped")


def test_different_perspective_still_and_vace_render(backend, tmp_path):
    """different_perspective: the still from tiny_t2v (1 frame kept of 5), the render from tiny_vace with
    the guide, a keep-the-first-frame mask and the input as reference (9 frames kept of VACE's 17)."""
    from tests.helpers.perspective import astronaut_png

    queue = backend.queue()
    (task_id,) = queue.enqueue([NewTask("different_perspective_orchestrator", {
        "input_image_path": str(astronaut_png(tmp_path)), "prompt": "an astronaut seen from the side",
        "model_name": "tiny", "resolution": SIZE, "output_video_frames": 9, "seed": 3, "steps": 2},
        run_id="real-persp")])
    worker = backend.start_worker("--until-idle", *ENGINE)
    assert worker.wait(timeout=1200) == 0, worker.log_path.read_text()[-4000:]
    log = worker.log_path.read_text()
    task = queue.get(task_id)
    assert task.status == Status.COMPLETE, (task.error_message, log[-3000:])
    assert Image.open(task.output_location).size == (128, 128)
    assert "tiny_vace renders at least 17 frames; rendering 17 and keeping the first 9" in log
    say(f"\n  different_perspective: final {task.output_location}")
    show(log, "complete in", "renders at least")



def test_travel_with_a_canny_structure_video(backend, tmp_path):
    """A tiny_vace travel whose unguided frames carry OpenCV edges of a moving square (the original's
    legacy structure keys, as a row): two 17-frame segments, 30 frames stitched. The harness has no
    two-expert model, so phased strengths are checked on the stand-in and the tiny diffusers engine only."""
    import json

    import numpy as np

    from source.media.video_io import write_video

    images = write_anchor_images(tmp_path / "in", 3, size=(128, 128))
    square = []
    for t in range(30):
        frame = np.zeros((128, 128, 3), np.uint8)
        frame[52:76, 8 + 3 * t:32 + 3 * t] = 255
        square.append(frame)
    video = write_video(square, tmp_path / "square.mp4")
    details = {"input_image_paths_resolved": images, "base_prompts_expanded": ["hills"], "run_id": "real_canny",
               "segment_frames_expanded": [17], "frame_overlap_expanded": [4], "parsed_resolution_wh": SIZE,
               "model_name": "wan2gp:tiny_vace", "steps": 2, "seed_base": 5, "debug_mode_enabled": True,
               "structure_video_path": str(video), "structure_type": "canny"}
    queued = backend.run_cli("add_task.py", "--type", "travel_orchestrator", "--run-id", "real_canny",
                             "--params", json.dumps({"orchestrator_details": details}))
    assert queued.returncode == 0, queued.stderr
    started = time.monotonic()
    worker = backend.start_worker("--until-idle", *ENGINE)
    assert worker.wait(timeout=1500) == 0, worker.log_path.read_text()[-4000:]
    rows = backend.queue().list_run("real_canny")
    (root,) = [t for t in rows if t.task_type == "travel_orchestrator"]
    assert root.status == Status.COMPLETE, (root.error_message, worker.log_path.read_text()[-3000:])
    segments = sorted((t for t in rows if t.task_type == "travel_segment"), key=lambda t: t.params["segment_index"])
    assert all(count_frames(t.output_location) == 17 for t in segments)
    assert count_frames(root.output_location) == 30
    guide = Path(segments[0].params["structure_guide"])
    assert count_frames(guide) == 30
    say(f"\n  canny-guided travel: final {root.output_location} (30 frames) in {time.monotonic() - started:.1f} s")


def test_join_clips_with_a_vace_transition(backend, tmp_path):
    """steerable_motion.py join_clips queues a join of two 17-frame 128x128 clips; the transition (4 + 9 + 4
    = 17 frames) is rendered by the real Wan2GP (tiny_vace) and stitched: 17 + 17 + 9 = 43 frames."""
    from tests.helpers.clips import value_clip

    clips = [str(value_clip(tmp_path / f"clip{i}.mp4", 40 + 80 * i, 17, size=(128, 128))) for i in range(2)]
    queued = backend.run_cli("steerable_motion.py", "join_clips", "--clips", *clips, "--context_frame_count", "4",
                             "--gap_frame_count", "9", "--model", "wan2gp:tiny_vace", "--steps", "2", "--seed", "5",
                             "--prompt", "a smooth transition", "--run_id", "real_join")
    assert queued.returncode == 0, queued.stderr
    queue = backend.queue()
    started = time.monotonic()
    worker = backend.start_worker("--until-idle", *ENGINE)
    assert worker.wait(timeout=1500) == 0, worker.log_path.read_text()[-4000:]
    log = worker.log_path.read_text()
    rows = queue.list_run("real_join")
    (root,) = [t for t in rows if t.task_type == "join_clips_orchestrator"]
    assert root.status == Status.COMPLETE, (root.error_message, log[-3000:])
    (join,) = [t for t in rows if t.task_type == "join_clips_segment"]
    assert count_frames(root.output_location) == 43
    assert root.params["thumbnail_url"].endswith("_poster.jpg")
    say(f"\n  join run: final {root.output_location} (43 frames) in {time.monotonic() - started:.1f} s; "
        f"the join row {completion_seconds(log, join.id)[0]:.1f} s")
    show(log, "Wan2GP helper ready", "complete in", "Wan2GP helper stopped")
