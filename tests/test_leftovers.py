"""What users of the original tool hit after the migration, one test each: a `wgp` row without `model`, --wgp-*
flags on another engine, PUBLIC_DIR and a row's own output_dir, an output_dir that does not exist yet, an
orchestrator queued with add_task.py, and "did you mean" hints. (The removed SQL functions answer with a
line naming their replacement: tests/test_original_tool_postgres.py.)"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from source.config import Settings
from source.errors import InvalidParams
from source.queue.factory import open_migrated_queue
from source.storage.outputs import output_folder, publish_output
from source.tasks.params import ignored_key_hint
from source.workflows.registry import params_model, parse_params
from tests.helpers.workers import PYTHON, ROOT


def test_a_wgp_row_without_model_renders_t2v_as_the_original_did():
    assert parse_params("wgp", {"prompt": "a cat"}).model == "t2v"
    assert parse_params("wgp", {"prompt": "a cat", "model": None}).model == "t2v"


def test_wgp_flags_on_another_engine_are_named_in_one_warning(tmp_path):
    result = subprocess.run([PYTHON, "headless.py", "--migrate-only", "--db-file", str(tmp_path / "t.db"),
                             "--engine", "preview", "--wgp-profile", "4", "--wgp-compile", "transformer"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    [line] = [line for line in result.stderr.splitlines() if "WARNING" in line]
    assert line.endswith("--wgp-compile, --wgp-profile apply only for renders on the wan2gp engine; this "
                         "worker's engine is preview (a task may still ask for wan2gp)")


def test_public_dir_keeps_an_artefact_in_the_folder_the_row_chose(tmp_path):
    settings = Settings(db_file=str(tmp_path / "tasks.db"), main_output_dir=str(tmp_path / "outputs"),
                        public_dir=str(tmp_path / "public"))
    chosen = tmp_path / "outputs" / "renders" / "day1"
    chosen.mkdir(parents=True)
    (chosen / "mine.mp4").write_bytes(b"x")
    assert publish_output(settings, "t1", str(chosen / "mine.mp4")) == str(chosen / "mine.mp4")
    assert (chosen / "mine.mp4").is_file()
    (tmp_path / "outputs" / "plain.mp4").write_bytes(b"x")   # the output folder itself: moved for the web app
    assert publish_output(settings, "t2", str(tmp_path / "outputs" / "plain.mp4")) == "files/plain.mp4"
    assert (tmp_path / "public" / "files" / "plain.mp4").is_file()


def test_an_output_dir_that_does_not_exist_is_created_inside_the_output_folder_only(tmp_path):
    settings = Settings(db_file=str(tmp_path / "tasks.db"), main_output_dir=str(tmp_path / "outputs"))
    made = output_folder(settings, str(tmp_path / "outputs" / "steerable_motion_output"), "output_dir")
    assert made.is_dir() and made == tmp_path / "outputs" / "steerable_motion_output"
    assert output_folder(settings, "relative/run", "output_dir") == tmp_path / "outputs" / "relative" / "run"
    with pytest.raises(InvalidParams, match=r"^output_dir is not an existing folder: /path/to/nowhere \(one "
                                            r"inside the worker's output folder"):
        output_folder(settings, "/path/to/nowhere", "output_dir")
    assert not Path("/path/to/nowhere").exists()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert output_folder(settings, str(elsewhere), "output_dir") == elsewhere   # an existing folder, as before


def test_an_orchestrator_queued_with_add_task_gets_a_run_id(tmp_path):
    db = tmp_path / "tasks.db"
    details = {"input_image_paths_resolved": [str(ROOT / "samples" / "anchor_0.png"),
                                              str(ROOT / "samples" / "anchor_1.png")],
               "base_prompts_expanded": ["x"], "segment_frames_expanded": [17], "frame_overlap_expanded": [4]}
    import json

    def add(params):
        result = subprocess.run([PYTHON, "add_task.py", "--type", "travel_orchestrator", "--params",
                                 json.dumps(params), "--db-file", str(db)], cwd=ROOT, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    plain = add({"orchestrator_details": details})
    named = add({"orchestrator_details": {**details, "run_id": "my-run"}})
    queue = open_migrated_queue(Settings(db_type="sqlite", db_file=str(db)))
    assert queue.get(plain).run_id == plain and queue.get(named).run_id == "my-run"
    assert [t.id for t in queue.list_run("my-run")] == [named]
    queue.close()


def test_did_you_mean_never_repeats_the_name_given():
    model = params_model("travel_orchestrator")
    hint = ignored_key_hint(model, "prompt_typo.orchestrator_details")
    assert "did you mean orchestrator_details?" not in hint
    assert hint.endswith("(write orchestrator_details at the top level of params, not inside prompt_typo)")
    assert ignored_key_hint(model, "orchestrator_detail") == "orchestrator_detail (did you mean orchestrator_details?)"


def test_rows_queued_without_a_project_get_the_default_project_id(tmp_path):
    db = tmp_path / "tasks.db"
    env = {**__import__("os").environ}
    env.pop("DEFAULT_PROJECT_ID", None)

    def run(*command, **extra_env):
        result = subprocess.run([PYTHON, *command, "--db-file", str(db)], cwd=ROOT, capture_output=True, text=True,
                                timeout=120, env={**env, **extra_env})
        assert result.returncode == 0, result.stderr
        return result.stdout.strip().splitlines()[-1]

    plain = run("add_task.py", "--type", "noop", "--params", "{}")
    owned = run("add_task.py", "--type", "noop", "--params", "{}", "--project-id", "p1")
    chosen = run("add_task.py", "--type", "noop", "--params", "{}", DEFAULT_PROJECT_ID="studio")
    travel = run("steerable_motion.py", "travel_between_images", "--input_images",
                 str(ROOT / "samples" / "anchor_0.png"), str(ROOT / "samples" / "anchor_1.png"),
                 "--segment_frames", "17", "--frame_overlap", "4")
    queue = open_migrated_queue(Settings(db_type="sqlite", db_file=str(db)))
    assert queue.get(plain).project_id == "default_project_id"
    assert queue.get(owned).project_id == "p1"
    assert queue.get(chosen).project_id == "studio"
    assert {task.project_id for task in queue.list_run(travel)} == {"default_project_id"}
    queue.close()
