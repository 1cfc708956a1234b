"""The guide and final steps in-process, reading earlier rows from a real SQLite queue."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from source.errors import InvalidParams
from source.media import video_io
from source.media.pose import detect_pose, render_skeleton
from source.queue.model import NewTask
from source.workflows.perspective import STEP_FINAL, STEP_GUIDE, STEP_RENDER, STEP_STILL
from source.workflows.perspective.steps import handle_final, handle_guide, handle_orchestrator
from tests.helpers.perspective import astronaut, astronaut_png, make_context

SIZE = (128, 128)


def _completed_row(queue, output: str) -> str:
    """A real row, claimed and completed with `output` as its output_location."""
    (task_id,) = queue.enqueue([NewTask("noop", {})])
    claim = queue.claim("test-worker", 60)
    assert claim is not None and claim.task_id == task_id
    assert queue.complete(claim, output)
    return task_id


def _step_params(tmp_path, queue, step_outputs: dict) -> dict:
    image = astronaut_png(tmp_path)
    fan_out = handle_orchestrator(make_context(tmp_path, "different_perspective_orchestrator", {
        "input_image_path": str(image), "prompt": "x", "resolution": "128x128", "output_video_frames": 9,
        "run_id": "run-a"}, task_id="orch"))
    params = dict(fan_out.children[0].params)
    ids = dict(params["step_task_ids"])
    for step, output in step_outputs.items():
        ids[step] = _completed_row(queue, str(output))
    params["step_task_ids"] = ids
    return params


def test_guide_moves_from_the_input_pose_to_the_still_pose(tmp_path, sqlite_queue):
    still = video_io.save_png(np.asarray(Image.fromarray(astronaut()[:, ::-1]).resize(SIZE)), tmp_path / "s.png")
    params = _step_params(tmp_path, sqlite_queue, {STEP_STILL: still})
    ctx = make_context(tmp_path, STEP_GUIDE, params, task_id="guide", queue=sqlite_queue)
    guide = handle_guide(ctx).output_location
    frames = video_io.read_frames(guide)
    assert len(frames) == 9 and frames[0].shape == (128, 128, 3)
    real = np.asarray(Image.fromarray(astronaut()).resize(SIZE, Image.LANCZOS)).astype(int)
    assert np.abs(frames[0].astype(int) - real).mean() < 6              # frame 0: the real input image
    notes = json.loads((ctx.run_dir("run-a") / "poses.json").read_text())
    assert notes["target_pose_fallback"] is False
    mirrored = detect_pose(np.asarray(Image.fromarray(astronaut()[:, ::-1]).resize(SIZE)))
    expected_last = render_skeleton(mirrored, 128, 128).astype(int)
    assert np.abs(frames[-1].astype(int) - expected_last).mean() < 3     # last frame: the still's pose
    assert np.abs(frames[1].astype(int) - frames[-1].astype(int)).mean() > 1  # and it moved on the way


def test_guide_falls_back_to_a_static_input_pose_when_the_still_has_nobody(tmp_path, sqlite_queue, caplog):
    noise = np.random.default_rng(1).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    still = video_io.save_png(noise, tmp_path / "noise.png")
    params = _step_params(tmp_path, sqlite_queue, {STEP_STILL: still})
    ctx = make_context(tmp_path, STEP_GUIDE, params, task_id="guide", queue=sqlite_queue)
    reported = []
    ctx.progress_sink = lambda progress, message: reported.append(message)
    with caplog.at_level("WARNING"):
        frames = video_io.read_frames(handle_guide(ctx).output_location)
    assert "no person found in the generated still" in caplog.text
    # and on the row, where status, --wait and the dashboard show it to the person who queued the run
    assert reported[-1].startswith("warning: no person found in the generated still")
    assert json.loads((ctx.run_dir("run-a") / "poses.json").read_text())["target_pose_fallback"] is True
    assert len(frames) == 9
    for frame in frames[2:]:   # a static skeleton (up to H.264 noise)
        assert np.abs(frame.astype(int) - frames[1].astype(int)).mean() < 0.5
    assert frames[1].mean() > 1   # and a skeleton is there


def test_final_saves_the_last_frame(tmp_path, sqlite_queue):
    render = video_io.write_video([np.full((48, 64, 3), 20 * k, np.uint8) for k in range(5)],
                                  tmp_path / "render.mp4")
    params = _step_params(tmp_path, sqlite_queue, {STEP_RENDER: render})
    ctx = make_context(tmp_path, STEP_FINAL, params, task_id="final", queue=sqlite_queue)
    out = handle_final(ctx).output_location
    assert out == str(tmp_path / "outputs" / "run-a_final.png")
    frame = np.asarray(Image.open(out))
    assert frame.shape == (48, 64, 3) and abs(frame.mean() - 80) < 3


def test_a_step_whose_earlier_row_is_not_complete_fails_clearly(tmp_path, sqlite_queue):
    params = _step_params(tmp_path, sqlite_queue, {})
    (pending,) = sqlite_queue.enqueue([NewTask("noop", {})])
    params["step_task_ids"][STEP_RENDER] = pending
    ctx = make_context(tmp_path, STEP_FINAL, params, task_id="final", queue=sqlite_queue)
    with pytest.raises(InvalidParams, match=f"task {pending} is Queued, not Complete"):
        handle_final(ctx)
