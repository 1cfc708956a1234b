"""The original tool's later pitfalls (its notes' list) as rows queued with add_task.py: each a one-line
error, exit 2, nothing queued."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from source.queue.factory import open_migrated_queue
from tests.helpers.clips import sqlite_settings

ROOT = Path(__file__).resolve().parents[1]
CLIPS = [{"url": "/v/a.mp4"}, {"url": "/v/b.mp4"}]
EDIT = {"source_video_url": "/v/s.mp4", "portions_to_regenerate": [{"start_frame": 20, "end_frame": 30}]}


@pytest.mark.parametrize("task_type, params, message", [
    ("join_clips_orchestrator", {"orchestrator_details": {"clip_list": CLIPS[:1]}}, "clip_list needs at least 2"),
    ("join_clips", {"orchestrator_details": {"clip_list": CLIPS, "enhance_prompt": True}},
     "enhance_prompt: VLM-written prompts are not available"),
    ("join_clips", {"orchestrator_details": {"clip_list": CLIPS, "per_join_settings": [{}, {}]}},
     "per_join_settings has 2 entries for 1 join(s)"),
    ("join_clips", {"orchestrator_details": {"clip_list": CLIPS, "per_join_settings": [{"gap_frames": 9}]}},
     "per_join_settings[0].gap_frames is not a join setting"),
    ("join_clips", {"orchestrator_details": {"clip_list": CLIPS, "per_join_settings": [{"gap_frame_count": 0}]}},
     "per_join_settings[0].gap_frame_count must be >= 1"),
    ("join_clips_segment", {"ending_video_path": "/v/b.mp4", "context_frame_count": 0}, "context_frame_count must be >= 1"),
    ("join_clips_segment", {"starting_video_path": "/v/a.mp4"}, "ending_video_path"),
    ("join_clips_segment", {"ending_video_path": "/v/b.mp4", "aspect_ratio": "wide"}, "aspect_ratio must look like"),
    ("inpaint_frames", {"video_path": "/v/s.mp4", "inpaint_start_frame": 30, "inpaint_end_frame": 30},
     "inpaint_end_frame (30) must be after inpaint_start_frame (30)"),
    ("edit_video_orchestrator", {"orchestrator_details": {**EDIT, "portions_to_regenerate": [
        {"start_frame": 20, "end_frame": 30}, {"start_frame": 25, "end_frame": 40}], "source_video_total_frames": 81}},
     "overlaps"),
    ("edit_video_orchestrator", {"orchestrator_details": {**EDIT, "source_video_total_frames": 25}},
     "not inside the video's 25 frames"),
    ("edit_video_orchestrator", {"orchestrator_details": {**EDIT, "source_video_total_frames": 34}},
     "too little context"),
    ("edit_video_orchestrator", {"orchestrator_details": {**EDIT, "portions_to_regenerate": [
        {"start_frame": 20, "end_frame": 30, "gap_frame_count": 53}]}}, "gap_frame_count 53 differs"),
    ("edit_video_orchestrator", {"orchestrator_details": {**EDIT, "portions_to_regenerate": [
        {"start_frame": 20, "end_frame": 30, "frame_count": 10}]}}, "frame_count 10 is not the range's length 11"),
    ("edit_video_orchestrator", {"orchestrator_details": {**EDIT, "replace_mode": True, "portions_to_regenerate": [
        {"start_frame": 20, "end_frame": 21}]}}, "leaving nothing to regenerate"),
    ("edit_video_orchestrator", {"orchestrator_details": {**EDIT, "gap_frame_count": 9}}, "gap_frame_count is a join setting"),
    ("individual_travel_segment", {"orchestrator_details": {}, "use_svi": True}, "use_svi: SVI chaining"),
])
def test_a_pitfall_is_one_line_at_enqueue_and_nothing_is_queued(tmp_path, task_type, params, message):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "DB_TYPE": "sqlite",
           "SQLITE_DB_PATH": str(tmp_path / "tasks.db"), "MAIN_OUTPUT_DIR": str(tmp_path / "outputs")}
    result = subprocess.run([sys.executable, str(ROOT / "add_task.py"), "--type", task_type, "--params",
                             json.dumps(params)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    if (tmp_path / "tasks.db").exists():
        queue = open_migrated_queue(sqlite_settings(tmp_path))
        try:
            assert queue.pending_count() == 0
        finally:
            queue.close()


def test_an_explicit_null_fps_is_the_default():
    from source.workflows.registry import parse_params

    assert parse_params("join_clips_segment", {"ending_video_path": "/v/b.mp4", "fps": None}).fps == 16
    assert parse_params("join_clips", {"orchestrator_details": {"clip_list": CLIPS, "fps": None}}) \
        .orchestrator_details.fps == 16
