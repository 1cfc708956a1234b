"""Redoing a travel leg: individual_travel_segment rows as the original tool's apps write them, and
`steerable_motion.py redo_segment` on a finished three-image travel (real worker in this process, SQLite,
the preview engine); frames counted by decoding."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from source.media.video_io import count_frames
from source.queue.factory import open_migrated_queue
from source.queue.model import NewTask, Status
from tests.helpers.clips import serve_until_idle, sqlite_settings
from tests.helpers.travel import write_anchor_images
from tests.helpers.workers import wait_for

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.timeout(600)


def _cli(tmp_path, *args):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "DB_TYPE": "sqlite",
           "SQLITE_DB_PATH": str(tmp_path / "tasks.db"), "MAIN_OUTPUT_DIR": str(tmp_path / "outputs"),
           "ENGINE": "preview"}
    return subprocess.run([sys.executable, str(ROOT / "steerable_motion.py"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)


def _pending(settings) -> int:
    queue = open_migrated_queue(settings)
    try:
        return queue.pending_count()
    finally:
        queue.close()


def test_individual_travel_segment_row_as_written_renders_the_raw_leg(tmp_path):
    images = write_anchor_images(tmp_path / "in", 3)
    settings = sqlite_settings(tmp_path)
    row = NewTask(task_type="individual_travel_segment", id="leg", params={
        "task_id": "leg", "segment_index": 1, "project_id": "p1", "child_generation_id": "gen-1",
        "full_orchestrator_payload": {"input_image_paths_resolved": images, "model_name": "vace_14B",
                                      "parsed_resolution_wh": "64x64", "segment_frames_expanded": [17, 17],
                                      "frame_overlap_expanded": [4], "base_prompts_expanded": ["a", "b"],
                                      "shot_id": "s1"},
        "individual_segment_params": {"num_frames": 13, "base_prompt": "green to blue", "seed_to_use": 0},
        "is_first_segment": True, "is_last_segment": True})
    queue = open_migrated_queue(settings)
    queue.enqueue([row])
    queue.close()
    serve_until_idle(settings)
    queue = open_migrated_queue(settings)
    try:
        task = queue.get("leg")
        assert task.status == Status.COMPLETE, task.error_message
        assert count_frames(task.output_location) == 13
        assert queue.list_run(task.run_id) == [] or all(t.task_type == "individual_travel_segment"
                                                        for t in queue.list_run(task.run_id))
    finally:
        queue.close()


def test_redo_segment_makes_a_new_final_of_the_same_length_and_keeps_the_old(tmp_path):
    images = write_anchor_images(tmp_path / "in", 3)
    queued = _cli(tmp_path, "travel_between_images", "--input_images", *images, "--resolution", "64x64",
                  "--segment_frames", "17", "--frame_overlap", "4", "--model_name", "vace_14B", "--run_id", "trip")
    assert queued.returncode == 0, queued.stderr
    settings = sqlite_settings(tmp_path)
    serve_until_idle(settings)
    old_final = tmp_path / "outputs" / "trip_final.mp4"
    assert count_frames(old_final) == 30
    old_bytes = old_final.read_bytes()

    bad = _cli(tmp_path, "redo_segment", "trip", "--segment", "-1")
    assert bad.returncode == 2 and "--segment must be >= 0" in bad.stderr and len(bad.stderr.splitlines()) == 1

    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "DB_TYPE": "sqlite",
           "SQLITE_DB_PATH": str(tmp_path / "tasks.db"), "MAIN_OUTPUT_DIR": str(tmp_path / "outputs")}
    client = subprocess.Popen([sys.executable, str(ROOT / "steerable_motion.py"), "redo_segment", "trip",
                               "--segment", "1", "--seed", "99", "--prompt", "dusk", "--wait", "--wait_timeout", "300"],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: _pending(settings) or client.poll() is not None, timeout=60, what="the redo row")
        serve_until_idle(settings)
        stdout, stderr = client.communicate(timeout=120)
    finally:
        client.kill()
    assert client.returncode == 0, stderr
    version, printed = stdout.strip().splitlines()[0], stdout.strip().splitlines()[-1]
    assert version.startswith("trip_v")
    queue = open_migrated_queue(settings)
    try:
        rows = queue.list_run(version)
        root = [t for t in rows if t.task_type == "travel_redo"][0]
        assert root.status == Status.COMPLETE, root.error_message
        (segment,) = [t for t in rows if t.task_type == "travel_segment"]
        assert segment.params["seed"] == 99 and segment.params["travel"]["base_prompts_expanded"][1] == "dusk"
        new_final = Path(root.output_location)
        assert new_final.name == f"{version}_final.mp4" and Path(printed) == new_final
        assert count_frames(new_final) == 30
        assert old_final.read_bytes() == old_bytes                      # the earlier final is untouched
        old_rows = queue.list_run("trip")
        assert all(t.status == Status.COMPLETE for t in old_rows)
    finally:
        queue.close()
