"""Different perspective and the utility tasks through real worker processes (headless.py) on SQLite.

The render steps use the `tiny` engine (random-weight Wan models on the CPU), so the still is noise and
the pose fallback (static skeleton) is what runs; the point here is the rows, the files and the sizes.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from source.media import video_io
from source.media.images import load_image
from source.queue.model import NewTask, Status
from source.workflows.perspective import STEP_FINAL, STEPS
from source.workflows.perspective.plan import step_task_id
from tests.helpers.perspective import astronaut, astronaut_png


@pytest.fixture
def sqlite_backend(tmp_path):
    from tests.helpers.workers import make_backend

    with make_backend("sqlite", tmp_path) as backend:
        yield backend


def _run_worker(backend, timeout=240):
    proc = backend.start_worker("--until-idle", "--engine", "tiny")
    assert proc.wait(timeout=timeout) == 0, proc.log_path.read_text()[-3000:]
    return proc.log_path.read_text()


def test_utility_rows_chain_through_earlier_outputs(sqlite_backend, tmp_path):
    """rife_interpolate_images -> extract_frame(-1) -> generate_openpose -> upscale, each reading the
    row before it by id."""
    queue = sqlite_backend.queue()
    first = astronaut_png(tmp_path)
    second = video_io.save_png(astronaut()[:, ::-1], tmp_path / "mirrored.png")
    rife = NewTask("rife_interpolate_images", {"input_image_path1": str(first), "input_image_path2": str(second),
                                               "frames": 6, "resolution": "256x256"})
    last = NewTask("extract_frame", {"input_video_task_id": rife.id, "frame_index": -1}, dependant_on=[rife.id])
    pose = NewTask("generate_openpose", {"input_image_task_id": last.id}, dependant_on=[last.id])
    bigger = NewTask("upscale", {"input_image_task_id": pose.id, "upscale_factor": 2}, dependant_on=[pose.id])
    queue.enqueue([rife, last, pose, bigger])
    _run_worker(sqlite_backend)
    rows = {t.id: queue.get(t.id) for t in (rife, last, pose, bigger)}
    assert all(r.status == Status.COMPLETE for r in rows.values()), \
        {r.task_type: (r.status, r.error_message) for r in rows.values()}
    assert video_io.count_frames(rows[rife.id].output_location) == 6
    frame = load_image(rows[last.id].output_location)
    expected = load_image(second, (256, 256), fit="stretch").astype(int)
    assert frame.shape == (256, 256, 3) and np.abs(frame.astype(int) - expected).mean() < 4
    skeleton = Image.open(rows[pose.id].output_location)
    assert skeleton.size == (256, 256)
    assert Image.open(rows[bigger.id].output_location).size == (512, 512)


def test_extract_frame_out_of_range_fails_the_row_naming_the_range(sqlite_backend, tmp_path):
    queue = sqlite_backend.queue()
    video = video_io.write_video([np.zeros((32, 32, 3), np.uint8)] * 3, tmp_path / "three.mp4")
    (task_id,) = queue.enqueue([NewTask("extract_frame", {"input_video_path": str(video), "frame_index": 3})])
    _run_worker(sqlite_backend)
    task = queue.get(task_id)
    assert task.status == Status.FAILED and task.attempts == 1
    assert "frame_index 3 is out of range" in task.error_message and "-3..2" in task.error_message


def test_missing_input_image_fails_the_orchestrator_at_once(sqlite_backend, tmp_path):
    queue = sqlite_backend.queue()
    missing = tmp_path / "nowhere" / "hero.png"
    (task_id,) = queue.enqueue([NewTask("different_perspective_orchestrator", {
        "input_image_path": str(missing), "prompt": "a hero", "resolution": "64x64",
        "output_video_frames": 9})])
    _run_worker(sqlite_backend, timeout=60)
    task = queue.get(task_id)
    assert task.status == Status.FAILED and task.attempts == 1
    assert str(missing) in task.error_message
    assert all(queue.get(step_task_id(task_id, task_id, step)) is None for step in STEPS)  # nothing was fanned out


def test_different_perspective_with_the_tiny_model_ends_complete_with_a_png(sqlite_backend, tmp_path):
    queue = sqlite_backend.queue()
    image = astronaut_png(tmp_path)
    (task_id,) = queue.enqueue([NewTask("different_perspective_orchestrator", {
        "input_image_path": str(image), "prompt": "an astronaut seen from the side", "model_name": "vace_14B",
        "resolution": "72x60", "output_video_frames": 10, "seed": 3, "steps": 2, "skip_cleanup": True},
        run_id="persp-e2e")])
    log = _run_worker(sqlite_backend, timeout=280)
    task = queue.get(task_id)
    assert task.status == Status.COMPLETE, (task.error_message, log[-3000:])
    rows = [queue.get(step_task_id(task_id, "persp-e2e", step)) for step in STEPS]
    assert [r.status for r in rows] == [Status.COMPLETE] * 4
    assert task.output_location == rows[-1].output_location
    assert rows[-1].id == step_task_id(task_id, "persp-e2e", STEP_FINAL)
    assert task.output_location.endswith("persp-e2e_final.png")
    assert Image.open(task.output_location).size == (64, 48)  # 72x60 floored to multiples of 16
    guide = video_io.read_frames(rows[1].output_location)
    assert len(guide) == 9 and guide[0].shape == (48, 64, 3)  # 10 frames snapped to 4k+1
    notes = json.loads((sqlite_backend.settings.work_path / "runs" / "persp-e2e" / "poses.json").read_text())
    assert notes["perspective_type"] == "pose" and "target_pose_fallback" in notes
    if notes["target_pose_fallback"]:
        assert "no person found in the generated still" in log
    assert video_io.count_frames(rows[2].output_location) == 9


def test_command_line_wait_prints_the_final_png(sqlite_backend, tmp_path, capsys, monkeypatch):
    from source.cli.steerable_motion_cli import build_parser

    for key, value in sqlite_backend.env.items():
        monkeypatch.setenv(key, value)
    worker = sqlite_backend.start_worker("--engine", "tiny")   # serves until the fixture stops it
    args = build_parser().parse_args(["different_pose", "--input_image", str(astronaut_png(tmp_path)),
                              "--prompt", "a side view", "--model_name", "vace_1.3B", "--resolution", "64x64",
                              "--output_video_frames", "5", "--steps", "2", "--wait"])
    assert args.func(args) == 0, worker.log_path.read_text()[-3000:]
    task_id, final = capsys.readouterr().out.split()
    assert final.endswith(f"{task_id}_final.png") and Image.open(final).size == (64, 64)
