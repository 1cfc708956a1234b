"""The original tool's payloads, parameter names and rows keep their meaning; no key is ignored silently.

Runs the README's travel payload and the original different-perspective payload to Complete with the
tiny engine (real worker processes on SQLite), and the README's command lines with sample images. The
sizes the original payloads ask for (832x480 and 81 frames, 700x400) take many minutes per render on a
CPU, so those two runs override the size only (noted where they do).
"""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from source.config import resolve_settings
from source.media import video_io
from source.queue.model import Status
from source.tasks.original_keys import REWARD_LORA_STRENGTH, REWARD_LORA_URL
from source.workflows.registry import parse_params
from tests.helpers.original_tool import DATA, colour_image, perspective_params, readme_travel_params

ROOT = Path(__file__).resolve().parents[1]
# Real worker processes render with the tiny engine on 2 shared CPU cores: minutes, not seconds.
pytestmark = pytest.mark.timeout(1200)
TINY = {"model": "tiny", "prompt": "a red square", "resolution": "64x64", "frames": 5}


def run(script: str, *args: str, db: Path, timeout: float = 900, cwd: Path = ROOT, **env) -> subprocess.CompletedProcess:
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
                   "DB_TYPE": "sqlite", "SQLITE_DB_PATH": str(db), "MAIN_OUTPUT_DIR": str(db.parent / "outputs"), **env}
    return subprocess.run([sys.executable, str(ROOT / script), *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=timeout)


def work(db: Path, **env) -> str:
    worker = run("headless.py", "--until-idle", "--engine", "tiny", "--poll-interval", "0.5", db=db, **env)
    assert worker.returncode == 0, worker.stderr[-3000:]
    return worker.stderr


def status(db: Path, task_id: str) -> str:
    return run("add_task.py", "--status", task_id, db=db).stdout


def row(db: Path, task_id: str) -> dict:
    from source.queue.sqlite_backend import SqliteQueue

    queue = SqliteQueue(db)
    try:
        return queue.get(task_id)
    finally:
        queue.close()


# ---- the original payloads run to Complete ------------------------------------------------------------

def test_the_readme_travel_payload_runs_to_complete(tmp_path):
    """The README's params, `//` and `/* */` comments removed, its paths replaced; its size (no
    parsed_resolution_wh: 832x480, 81 frames) overridden to 64x64 for the CPU."""
    assert "//" in (DATA / "readme_travel_params.jsonc").read_text()
    images = [str(colour_image(tmp_path / f"img{i}.png", rgb)) for i, rgb in enumerate([(220, 20, 20), (20, 20, 220)])]
    out = tmp_path / "steerable_motion_output"
    out.mkdir()
    params = readme_travel_params(images, str(out), parsed_resolution_wh="64x64")
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps(params))
    db = tmp_path / "tasks.db"
    allowed = {"EXTRA_OUTPUT_DIRS": str(out)}  # main_output_dir_for_run: a folder the worker's operator allows
    queued = run("add_task.py", "--type", "travel_orchestrator", "--params", f"@{payload}", db=db, **allowed)
    assert queued.returncode == 0, queued.stderr
    for key in ("orchestrator_task_id", "original_task_args", "original_common_args"):
        assert f"warning: travel_orchestrator does not use params key orchestrator_details.{key} (" in queued.stderr
    task_id = queued.stdout.strip()
    log = work(db, **allowed)
    assert "params not used by travel_orchestrator (ignored): orchestrator_details.orchestrator_task_id (" in log
    task = row(db, task_id)
    assert task.status == Status.COMPLETE, task.error_message
    assert task.output_location == str(out / "run_ABC_final.mp4")           # main_output_dir_for_run, run_id
    assert video_io.count_frames(task.output_location) == 81               # one segment of 81 frames
    assert task.ignored_keys == ["orchestrator_details.orchestrator_task_id", "orchestrator_details.original_common_args",
                                 "orchestrator_details.original_task_args"]
    assert "ignored:  orchestrator_details.original_task_args (the original tool's copy" in status(db, task_id)


def test_the_original_different_perspective_payload_runs_to_complete(tmp_path):
    """generate_test_tasks.py's payload (pose, CausVid, debug_mode, project_id); its 700x400 overridden to
    96x96 for the CPU."""
    from tests.helpers.perspective import astronaut_png

    params = perspective_params(str(astronaut_png(tmp_path)), resolution="96x96", output_video_frames=9)
    db = tmp_path / "tasks.db"
    queued = run("add_task.py", "--type", "different_perspective_orchestrator", "--params", json.dumps(params), db=db)
    assert queued.returncode == 0 and "warning" not in queued.stderr, queued.stderr
    task_id = queued.stdout.strip()
    work(db)
    task = row(db, task_id)
    assert task.status == Status.COMPLETE, task.error_message
    assert task.project_id == "test_suite" and task.run_id == params["run_id"] and task.ignored_keys == []
    assert Path(task.output_location).name == f"{params['run_id']}_final.png"
    # use_causvid_lora: the render ran CausVid's 9 steps (the tiny engine's default is 4)
    from source.queue.sqlite_backend import SqliteQueue

    queue = SqliteQueue(db)
    (render,) = [t for t in queue.list_run(params["run_id"]) if t.task_type == "different_perspective_render"]
    queue.close()
    assert render.progress_message == "render: step 9/9"
    # debug_mode kept the run's work folder, as skip_cleanup
    assert (db.parent / "outputs" / "_work" / "runs" / params["run_id"] / "guide.mp4").is_file()


def test_the_readme_sample_image_commands_run_as_written(tmp_path):
    """README section 3: travel_between_images and different_pose with sample images at 320x240, as
    written (model vace_14B, served here by the tiny engine); paths replaced by this repository's."""
    from tests.helpers.perspective import astronaut_png

    samples = [str(ROOT / "samples" / f"anchor_{i}.png") for i in range(3)]
    db = tmp_path / "tasks.db"
    allowed = {"EXTRA_OUTPUT_DIRS": str(tmp_path / "my_video_outputs")}  # the operator allows --output_dir
    travel = run("steerable_motion.py", "travel_between_images", "--input_images", *samples,
                 "--base_prompts", "Transitioning from red", "Moving to green", "--resolution", "320x240",
                 "--segment_frames", "30", "--frame_overlap", "10", "--model_name", "vace_14B", "--seed", "789",
                 "--output_dir", "./my_video_outputs", "--debug", db=db, cwd=tmp_path, **allowed)
    assert travel.returncode == 0, travel.stderr
    pose = run("steerable_motion.py", "different_pose", "--input_image", str(astronaut_png(tmp_path)),
               "--prompt", "A red square, now animated and waving", "--resolution", "320x240",
               "--output_video_frames", "30", "--model_name", "vace_14B", "--seed", "101",
               "--output_dir", "./my_video_outputs", "--debug", db=db, cwd=tmp_path, **allowed)
    assert pose.returncode == 0, pose.stderr
    work(db, **allowed)
    outputs = tmp_path / "my_video_outputs"
    for run_id in (travel.stdout.strip(), pose.stdout.strip()):
        lines = run("steerable_motion.py", "status", run_id, db=db).stdout
        assert "Complete" in lines.splitlines()[0], lines
    final = outputs / f"{travel.stdout.strip()}_final.mp4"
    assert video_io.count_frames(final) == 29 + 29 - 10                      # 2 segments, 10 frames shared
    assert (outputs / f"{pose.stdout.strip()}_final.png").is_file()


# ---- rows in the original format ---------------------------------------------------------------------

def test_params_task_id_and_project_id_give_the_row_its_id_and_owner(tmp_path):
    db = tmp_path / "tasks.db"
    first = run("add_task.py", "--type", "wgp", "--params", json.dumps({"task_id": "wgp_seedstyle_1",
                                                                         "project_id": "p1", **TINY}), db=db)
    assert first.stdout.strip() == "wgp_seedstyle_1"
    second = run("add_task.py", "--type", "wgp", "--params", json.dumps(TINY), "--dependant-on", "wgp_seedstyle_1", db=db)
    assert second.returncode == 0, second.stderr
    assert row(db, "wgp_seedstyle_1").project_id == "p1"
    chosen = run("add_task.py", "--type", "wgp", "--id", "mine", "--params", json.dumps({"task_id": "theirs", **TINY}), db=db)
    assert chosen.stdout.strip() == "mine" and "--id mine replaces params.task_id 'theirs'" in chosen.stderr
    assert row(db, "mine").params["task_id"] == "mine"

    # an app writing task_type and params only, straight into the table
    conn = sqlite3.connect(db)
    changed = conn.execute("INSERT INTO tasks (task_type, params) VALUES ('wgp', ?)",
                           (json.dumps({"task_id": "app_1", "project_id": "p2", **TINY}),)).rowcount
    conn.execute("INSERT INTO tasks (task_type, params, dependant_on) VALUES ('wgp', ?, 'app_1')", (json.dumps(TINY),))
    conn.commit()
    conn.close()
    assert changed == 0  # SQLite: the row was inserted again under its id (docs/MIGRATING.md)
    app = row(db, "app_1")
    assert app is not None and app.project_id == "p2" and app.status == Status.QUEUED
    work(db)
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*), sum(status = 'Complete') FROM tasks").fetchone() == (5, 5)
    conn.close()


def test_a_misspelt_key_is_warned_about_at_enqueue_recorded_on_the_row_and_shown(tmp_path):
    db = tmp_path / "tasks.db"
    image = colour_image(tmp_path / "start.png", (0, 200, 0), (64, 64))
    queued = run("add_task.py", "--type", "wgp", "--params", json.dumps({**TINY, "image_start": str(image)}), db=db)
    assert queued.returncode == 0
    assert queued.stderr.strip() == "warning: wgp does not use params key image_start (did you mean image_start_paths?)"
    task_id = queued.stdout.strip()
    assert "ignored:  image_start (did you mean image_start_paths?)" in status(db, task_id)   # before it runs
    # an app's row with the same slip still runs, and says so on the row and in the log
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO tasks (id, task_type, params) VALUES ('app_row', 'wgp', ?)",
                 (json.dumps({**TINY, "image_start": str(image), "lora_multiplier": 1}),))
    conn.commit()
    conn.close()
    log = work(db)
    assert "params not used by wgp (ignored): image_start (did you mean image_start_paths?); lora_multiplier" in log
    app = row(db, "app_row")
    assert app.status == Status.COMPLETE and app.ignored_keys == ["image_start", "lora_multiplier"]
    shown = status(db, "app_row")
    assert "ignored:  image_start (did you mean image_start_paths?)" in shown and "ignored:  lora_multiplier" in shown
    assert row(db, task_id).ignored_keys == ["image_start"]


# ---- parameter names -----------------------------------------------------------------------------------

def test_the_original_lora_keys_become_additional_loras():
    params = parse_params("wgp", {**TINY, "lora_name": "my_style", "activated_loras": "a.safetensors,b",
                                  "loras_multipliers": "0.7 0.3", "apply_reward_lora": True,
                                  "additional_loras": {"b.safetensors": 0.9}})
    assert params.additional_loras == {"my_style.safetensors": 1.0, "a.safetensors": 0.7,
                                       "b.safetensors": 0.9, REWARD_LORA_URL: REWARD_LORA_STRENGTH}
    assert params.ignored_keys == []
    with pytest.raises(ValueError, match="need a two-expert model"):  # tests/test_phases.py: on A14B it works
        parse_params("wgp", {**TINY, "activated_loras": ["a"], "loras_multipliers": "1;0.5"})
    travel = parse_params("travel_orchestrator", {"orchestrator_details": {
        "input_image_paths_resolved": ["a.png", "b.png"], "base_prompts_expanded": ["x"], "segment_frames_expanded": [17],
        "use_causvid_lora": True, "num_inference_steps": 6, "apply_reward_lora": True, "upscale_factor": 0.0,
        "vace_image_refs_to_prepare_by_headless": None, "fps_helpers": 16}})
    details = travel.orchestrator_details
    assert (details.apply_causvid, details.steps, details.upscale_factor) == (True, 6, None)
    assert details.additional_loras == {REWARD_LORA_URL: REWARD_LORA_STRENGTH} and travel.ignored_keys == []
    with pytest.raises(ValueError, match="reference images are not used by travel segments"):
        parse_params("travel_orchestrator", {"orchestrator_details": {
            "input_image_paths_resolved": ["a.png", "b.png"], "base_prompts_expanded": ["x"],
            "segment_frames_expanded": [17], "vace_image_refs_to_prepare_by_headless": ["a.png"]}})


def test_wgp_output_dir_and_sub_dir_stay_inside_the_output_folder(tmp_path):
    db = tmp_path / "tasks.db"
    inside = run("add_task.py", "--type", "wgp", "--params", json.dumps({**TINY, "output_dir": "renders",
                                                                          "output_sub_dir": "day1"}), db=db)
    outside = run("add_task.py", "--type", "wgp", "--params", json.dumps({**TINY, "output_dir": str(tmp_path / "elsewhere")}), db=db)
    assert outside.returncode == 2 and outside.stdout == ""
    assert outside.stderr.startswith("error: output_dir must be inside the worker's output folders (")
    work(db)
    done = row(db, inside.stdout.strip())
    assert done.status == Status.COMPLETE
    assert Path(done.output_location).parent == tmp_path / "outputs" / "renders" / "day1"
    assert not (tmp_path / "elsewhere").exists()


def test_public_dir_writes_outputs_for_a_web_app_and_stores_relative_urls(tmp_path):
    db = tmp_path / "site" / "tasks.db"
    db.parent.mkdir()
    queued = run("add_task.py", "--type", "wgp", "--params", json.dumps(TINY), db=db)
    work(db, PUBLIC_DIR="public")
    task = row(db, queued.stdout.strip())
    assert task.output_location == f"files/{queued.stdout.strip()}_tiny.mp4"
    assert (db.parent / "public" / "files" / f"{queued.stdout.strip()}_tiny.mp4").is_file()
    assert str(db.parent / "public" / task.output_location) in status(db, task.id)
    # the default stays: absolute paths under the output folder
    plain = run("add_task.py", "--type", "wgp", "--params", json.dumps(TINY), db=db)
    work(db)
    assert row(db, plain.stdout.strip()).output_location == str(db.parent / "outputs" / f"{plain.stdout.strip()}_tiny.mp4")


# ---- environment keys and .env ----------------------------------------------------------------------

def test_sqlite_db_path_env_is_read_as_sqlite_db_path_with_one_warning(tmp_path, caplog):
    import source.config as config

    config._said.clear()
    dotenv = tmp_path / ".env"
    dotenv.write_text('SQLITE_DB_PATH_ENV="../local.db"\n')
    for _ in range(2):
        settings = config.resolve_settings({}, env={}, dotenv_path=dotenv)
        assert settings.db_file == "../local.db"
    warnings = [r.getMessage() for r in caplog.records if "SQLITE_DB_PATH_ENV" in r.getMessage()]
    assert warnings == ["SQLITE_DB_PATH_ENV is the original tool's name: read as SQLITE_DB_PATH (rename it)"]
    assert config.resolve_settings({}, env={"SQLITE_DB_PATH": "new.db"}, dotenv_path=dotenv).db_file == "new.db"
    assert config.resolve_settings({"db_file": "flag.db"}, env={}, dotenv_path=dotenv).db_file == "flag.db"


def test_postgres_table_name_other_than_tasks_is_refused(tmp_path):
    env = {"DB_TYPE": "postgres", "DATABASE_URL": "postgresql://x@127.0.0.1/none", "POSTGRES_TABLE_NAME": "jobs"}
    with pytest.raises(ValueError, match="POSTGRES_TABLE_NAME=jobs: this queue keeps its rows in the table tasks"):
        resolve_settings({}, env=env, dotenv_path=tmp_path / "none")
    assert resolve_settings({}, env={**env, "POSTGRES_TABLE_NAME": "tasks"}, dotenv_path=tmp_path / "none")
    result = run("add_task.py", "--status", "x", db=tmp_path / "t.db", **env)
    assert result.returncode == 2 and result.stderr.startswith("error: POSTGRES_TABLE_NAME=jobs")


def test_dotenv_is_found_in_the_working_directory_else_beside_the_scripts(tmp_path, monkeypatch):
    import source.config as config

    scripts = tmp_path / "checkout"
    scripts.mkdir()
    (scripts / ".env").write_text("SQLITE_DB_PATH=beside_scripts.db\n")
    monkeypatch.setattr(config, "PROJECT_ROOT", scripts)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert config.default_dotenv_path() == scripts / ".env"
    assert config.resolve_settings({}, env={}).db_file == "beside_scripts.db"
    (elsewhere / ".env").write_text("SQLITE_DB_PATH=working_dir.db\n")
    assert config.default_dotenv_path() == elsewhere / ".env"
    assert config.resolve_settings({}, env={}).db_file == "working_dir.db"
