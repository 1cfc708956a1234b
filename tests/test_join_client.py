"""`steerable_motion.py join_clips`: flags from the params model, checked before anything is queued."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from source.queue.factory import open_migrated_queue
from tests.helpers.clips import sqlite_settings, value_clip

ROOT = Path(__file__).resolve().parents[1]


def _cli(tmp_path, *args):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "DB_TYPE": "sqlite",
           "SQLITE_DB_PATH": str(tmp_path / "tasks.db"), "MAIN_OUTPUT_DIR": str(tmp_path / "outputs")}
    return subprocess.run([sys.executable, str(ROOT / "steerable_motion.py"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def clips(tmp_path):
    return [str(value_clip(tmp_path / f"c{i}.mp4", 30 + 40 * i, 81)) for i in range(3)]


def test_join_clips_queues_one_orchestrator_row_with_the_chain_length(tmp_path, clips):
    result = _cli(tmp_path, "join_clips", "--clips", *clips, "--context_frame_count", "8", "--gap-frame-count", "16",
                  "--run_id", "jc")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "jc"
    assert "3 clip(s), 2 join(s), 269 frames" in result.stderr + result.stdout
    queue = open_migrated_queue(sqlite_settings(tmp_path))
    try:
        (root,) = queue.list_run("jc")
    finally:
        queue.close()
    details = root.params["orchestrator_details"]
    assert root.task_type == "join_clips_orchestrator"
    assert [c["url"] for c in details["clip_list"]] == clips
    assert details["gap_frame_count"] == 16 and details["replace_mode"] is False
    assert details["model"] == "wan_2_2_vace_lightning_baseline_2_2_2"


@pytest.mark.parametrize("args, message", [
    (["--clips", "{0}"], "--clips needs at least 2 clip(s), got 1"),
    (["--clips", "{0}", "/nowhere/x.mp4"], "file not found: /nowhere/x.mp4"),
    (["--clips", "{0}", "{1}", "--gap_frame_count", "0"], "--gap_frame_count must be >= 1, got 0"),
    (["--clips", "{0}", "{1}", "--context_frame_count", "-2"], "--context_frame_count must be >= 1"),
    (["--clips", "{0}", "{1}", "--aspect_ratio", "wide"], "--aspect_ratio must look like '16:9'"),
    (["--clips", "{0}", "{1}", "--replace_mode", "--gap_frame_count", "200"], "replace mode removes"),
    (["--clips", "{0}", "{1}", "--fps", "0"], "--fps must be > 0"),
    (["--clips", "{0}", "{1}", "--model", "no model!"], "--model must be a model id"),
])
def test_bad_input_is_one_line_exit_2_nothing_queued(tmp_path, clips, args, message):
    result = _cli(tmp_path, "join_clips", *[a.format(*clips) for a in args])
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    if (tmp_path / "tasks.db").exists():
        queue = open_migrated_queue(sqlite_settings(tmp_path))
        try:
            assert queue.pending_count() == 0
        finally:
            queue.close()
