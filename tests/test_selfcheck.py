"""The worker's self-check: a worker that cannot run its tasks says what is missing in one line, exits 3
and claims nothing; a missing module that only shows up while a task runs gives the row back and stops
the worker."""
from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from source.queue.model import NewTask, Status
from source.queue.sqlfiles import latest_version

from .helpers.workers import PYTHON, ROOT, make_backend

pytestmark = pytest.mark.timeout(300)


def run_script(backend, script: str, *args: str, block: str = "", **env) -> subprocess.CompletedProcess:
    """A top-level script in a fresh process; `block` names a module that process cannot import (as if
    it were not installed: Python's own way, a None entry in sys.modules)."""
    launcher = (f"import runpy, sys; sys.modules[{block!r}] = None; "
                f"sys.argv = [{script!r}] + sys.argv[1:]; runpy.run_path({script!r}, run_name='__main__')"
                if block else None)
    command = [PYTHON, "-c", launcher, *args] if launcher else [PYTHON, script, *args]
    return subprocess.run(command, cwd=ROOT, env=backend.process_env(**env), capture_output=True, text=True,
                          timeout=240)


def run_worker(backend, *args: str, block: str = "", **env) -> subprocess.CompletedProcess:
    """headless.py in a fresh process (`run_script`)."""
    return run_script(backend, "headless.py", *args, block=block, **env)


@pytest.fixture
def sqlite_backend(tmp_path):
    with make_backend("sqlite", tmp_path) as backend:
        yield backend


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def test_a_missing_module_stops_the_worker_before_it_claims_anything(sqlite_backend):
    queue = sqlite_backend.queue()
    [task_id] = queue.enqueue([NewTask("extract_frame", {"input_video_path": "x.mp4"})])
    result = run_worker(sqlite_backend, "--once", block="av")
    assert result.returncode == 3, result.stderr[-2000:]
    [line] = error_lines(result)
    assert "module 'av' is not installed for " + sys.executable in line
    assert "pip install -r" in line and "requirements.txt" in line
    assert "Traceback" not in result.stderr
    row = queue.get(task_id)
    assert (row.status, row.attempts) == (Status.QUEUED, 0)
    queue.close()


@pytest.mark.parametrize("script,args", [
    ("steerable_motion.py", ("travel_between_images", "--input_images", "samples/anchor_0.png", "samples/anchor_1.png")),
    ("add_task.py", ("--type", "noop", "--params", "{}")),
])
def test_the_clients_on_an_interpreter_without_a_package_say_which_in_one_line(sqlite_backend, script, args):
    result = run_script(sqlite_backend, script, *args, block="pydantic")
    assert result.returncode == 3, result.stderr[-2000:]
    assert result.stderr.splitlines() == [line for line in error_lines(result)]
    [line] = error_lines(result)
    assert line.startswith("error: module 'pydantic' is not installed for " + sys.executable)
    assert "pip install -r" in line and "Traceback" not in result.stderr
    queue = sqlite_backend.queue()
    assert queue.pending_count() == 0                                      # nothing was queued
    queue.close()


def test_an_interpreter_without_the_projects_packages_says_which_and_what_to_install(sqlite_backend):
    result = run_worker(sqlite_backend, "--once", block="pydantic")
    assert result.returncode == 3
    [line] = error_lines(result)
    assert "module 'pydantic' is not installed" in line and sys.executable in line


def test_an_unwritable_output_folder_is_named(sqlite_backend, tmp_path):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    result = run_worker(sqlite_backend, "--once", "--task-types", "noop", MAIN_OUTPUT_DIR=str(not_a_folder))
    assert result.returncode == 3
    [line] = error_lines(result)
    assert f"output folder (MAIN_OUTPUT_DIR) {not_a_folder} is not writable" in line


def test_a_schema_newer_than_the_worker_knows_is_refused(sqlite_backend):
    sqlite_backend.queue().close()
    with sqlite3.connect(sqlite_backend.env["SQLITE_DB_PATH"]) as conn:
        conn.execute("INSERT INTO queue_migrations (version, name, applied_at) VALUES (999, 'future', 'now')")
    result = run_worker(sqlite_backend, "--once", "--task-types", "noop")
    assert result.returncode == 3
    [line] = error_lines(result)
    assert "self-check failed, nothing claimed" in line
    assert f"queue schema version 999, newer than this version of the tool knows ({latest_version('sqlite')})" in line


def test_an_engine_that_cannot_start_says_why(sqlite_backend):
    """The tiny engine needs diffusers: without it, the worker names it before claiming a render."""
    queue = sqlite_backend.queue()
    [task_id] = queue.enqueue([NewTask("noop", {})])
    result = run_worker(sqlite_backend, "--once", "--task-types", "wgp,noop", "--engine", "tiny",
                        block="diffusers")
    assert result.returncode == 3, result.stderr[-2000:]
    [line] = error_lines(result)
    assert "module 'diffusers' is not installed" in line
    assert queue.get(task_id).status == Status.QUEUED
    queue.close()


def test_unknown_task_types_are_named(sqlite_backend):
    result = run_worker(sqlite_backend, "--once", "--task-types", "noop,nonesuch")
    assert result.returncode == 3
    assert "unknown task type(s) nonesuch" in error_lines(result)[0]


def test_a_healthy_noop_worker_reports_its_checks_and_runs(sqlite_backend):
    queue = sqlite_backend.queue()
    [task_id] = queue.enqueue([NewTask("noop", {})])
    result = run_worker(sqlite_backend, "--once", "--task-types", "noop")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "self-check: handlers of 1 task type(s) import" in result.stderr
    assert "self-check: queue schema version" in result.stderr
    assert queue.get(task_id).status == Status.COMPLETE
    queue.close()


def test_a_module_missing_while_a_task_runs_gives_the_row_back_and_stops(sqlite_backend, tmp_path):
    """The upscale handler imports its media module when it runs: blocked, the row is not Failed but
    Queued again with the attempt not counted, and the worker exits 3 (if a later layout imports it
    earlier, the self-check catches it instead: the same outcome)."""
    from source.media.video_io import save_png
    import numpy as np

    image = save_png(np.zeros((32, 32, 3), dtype=np.uint8), tmp_path / "in.png")
    queue = sqlite_backend.queue()
    [task_id] = queue.enqueue([NewTask("upscale", {"upscale_factor": 2, "input_image_path": str(image)})])
    result = run_worker(sqlite_backend, "--task-types", "upscale", block="source.media.upscale")
    assert result.returncode == 3, result.stderr[-3000:]
    assert "source.media.upscale" in result.stderr
    row = queue.get(task_id)
    assert (row.status, row.attempts, row.error_message) == (Status.QUEUED, 0, None)
    queue.close()
