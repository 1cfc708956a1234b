"""Editing a video's frames: the window arithmetic, the splice, and runs by a real worker (in this
process, SQLite, the preview engine); frames counted and compared by decoding."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from source.media.video_io import count_frames, read_frames
from source.queue.factory import open_migrated_queue
from source.queue.model import NewTask, Status
from source.workflows.edit.plan import EditPlanError, check_portions, plan_inpaint, portion_bounds, splice_layout
from tests.helpers.clips import serve_until_idle, sqlite_settings, value_clip

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.timeout(600)


def test_window_is_widened_to_4n_plus_1_never_shortened():
    plan = plan_inpaint(81, 20, 73, 8)                       # the original's example: already 69
    assert (plan.before, plan.after, plan.length) == (8, 8, 69) and list(plan.window) == list(range(12, 81))
    plan = plan_inpaint(81, 45, 61, 8)                       # 8 + 16 + 8 = 32: the original lost 3 frames
    assert plan.length == 33 and (plan.start, plan.end) == (45, 61) and plan.before + plan.after == 17
    for start in range(8, 40):
        for length in range(1, 20):
            plan = plan_inpaint(81, start, start + length, 8)
            assert (plan.length - 1) % 4 == 0 and plan.before >= 8 and plan.after >= 8
            assert plan.kept_in_guide == list(range(plan.before)) + list(range(plan.before + length, plan.length))


def test_the_issue_example_portions_and_their_windows():
    bounds = [portion_bounds(20, 30, False), portion_bounds(50, 55, False)]
    assert bounds == [(20, 31), (50, 56)]
    plans = check_portions(81, bounds, 8)
    assert [(p.window.start, p.window.stop) for p in plans] == [(11, 40), (41, 66)]
    assert all((p.length - 1) % 4 == 0 for p in plans)
    layout = splice_layout(81, plans)
    assert len(layout) == 81
    assert [f for f, role in enumerate(layout) if role[0] == "source"] == list(range(11)) + [40] + list(range(66, 81))
    assert [f for f, role in enumerate(layout) if role[0] == "render"] == list(range(20, 31)) + list(range(50, 56))
    assert portion_bounds(417, 427, True) == (418, 427)       # replace mode keeps the two anchors


@pytest.mark.parametrize("portions, message", [
    ([(20, 31), (25, 40)], "overlaps"),
    ([(70, 90)], "not inside the video's 81 frames"),
    ([(3, 10)], "too little context"),
    ([(60, 78)], "too little context"),
    ([(20, 31), (33, 40)], "too close"),
])
def test_bad_portions_are_refused_in_one_line(portions, message):
    with pytest.raises(EditPlanError, match=message) as info:
        check_portions(81, portions, 8)
    assert "\n" not in str(info.value)


def _run(settings, rows):
    queue = open_migrated_queue(settings)
    queue.enqueue(rows)
    queue.close()
    serve_until_idle(settings)
    return open_migrated_queue(settings)


def test_edit_video_keeps_the_frame_count_and_the_frames_outside_portions(tmp_path):
    video = value_clip(tmp_path / "source.mp4", 30, 81)
    settings = sqlite_settings(tmp_path)
    row = NewTask(task_type="edit_video_orchestrator", id="edit", run_id="er", params={"orchestrator_details": {
        "run_id": "er", "source_video_url": str(video), "context_frame_count": 8,
        "portions_to_regenerate": [{"start_frame": 20, "end_frame": 30, "prompt": "a flash"},
                                   {"start_frame": 50, "end_frame": 55}]}})
    queue = _run(settings, [row])
    root = queue.get("edit")
    assert root.status == Status.COMPLETE, root.error_message
    rows = queue.list_run("er")
    inpaints = sorted((t for t in rows if t.task_type == "inpaint_frames"), key=lambda t: t.params["portion_index"])
    assert [count_frames(t.output_location) for t in inpaints] == [29, 25]     # windows with their context
    assert inpaints[0].params["prompt"] == "a flash"
    edited, source = read_frames(root.output_location), read_frames(video)
    assert len(edited) == len(source) == 81
    untouched = list(range(11)) + [40] + list(range(66, 81))
    diffs = [float(np.abs(edited[f].astype(int) - source[f].astype(int)).mean()) for f in untouched]
    assert max(diffs) <= 2, diffs
    queue.close()


def test_inpaint_frames_row_as_written_returns_the_window(tmp_path):
    video = value_clip(tmp_path / "source.mp4", 30, 81)
    settings = sqlite_settings(tmp_path)
    row = NewTask(task_type="inpaint_frames", id="inp", params={
        "task_id": "inp", "video_path": str(video), "inpaint_start_frame": 45, "inpaint_end_frame": 61,
        "context_frame_count": 8, "prompt": "", "model": "wan_2_2_vace_lightning_baseline_2_2_2", "seed": -1,
        "fps": None, "priority": 0})
    queue = _run(settings, [row])
    task = queue.get("inp")
    assert task.status == Status.COMPLETE, task.error_message
    window = read_frames(task.output_location)
    assert len(window) == 33                                  # 8 + 16 + 8 = 32, widened to 33
    source = read_frames(video)
    plan = plan_inpaint(81, 45, 61, 8)
    assert np.abs(window[0].astype(int) - source[plan.window.start].astype(int)).mean() <= 2
    assert np.abs(window[-1].astype(int) - source[plan.window.stop - 1].astype(int)).mean() <= 2
    queue.close()


def _cli(tmp_path, *args):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "DB_TYPE": "sqlite",
           "SQLITE_DB_PATH": str(tmp_path / "tasks.db"), "MAIN_OUTPUT_DIR": str(tmp_path / "outputs")}
    return subprocess.run([sys.executable, str(ROOT / "steerable_motion.py"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_edit_video_command_line_and_its_refusals(tmp_path):
    video = str(value_clip(tmp_path / "source.mp4", 30, 81))
    ok = _cli(tmp_path, "edit_video", "--video", video, "--portion", "20:30", "--portion", "50:55", "--run_id", "ev")
    assert ok.returncode == 0, ok.stderr
    assert "windows 11..39, 41..65" in ok.stderr + ok.stdout
    for args, message in [(["--portion", "20:30", "--portion", "25:40"], "overlaps"),
                          (["--portion", "70:90"], "not inside the video's 81 frames"),
                          (["--portion", "2:10"], "too little context"),
                          (["--portion", "30:20"], "end_frame 20 is before start_frame 30"),
                          (["--portion", "20:30", "--gap_frame_count", "5"], "unrecognized arguments")]:
        bad = _cli(tmp_path, "edit_video", "--video", video, *args)
        assert bad.returncode == 2 and message in bad.stderr, (args, bad.stderr)
        assert len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    queue = open_migrated_queue(sqlite_settings(tmp_path))
    try:
        assert len(queue.list_run("ev")) == 1 and queue.pending_count() == 1
    finally:
        queue.close()
