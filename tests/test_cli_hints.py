"""What the commands tell a person: the top-level help lists each command's main flags; hints print the
interpreter and script as run (and --engine preview without an NVIDIA GPU); the system interpreter is
pointed at a virtual environment; a step's warning reaches `status`."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from source.cli.common import has_nvidia_gpu, script_command, worker_command
from source.cli.runs import format_run
from source.cli.steerable_motion_cli import build_parser
from source.queue.model import Status, Task
from tests.helpers.workers import ROOT

SYSTEM_PYTHON = Path("/usr/bin/python3")


def test_the_top_level_help_lists_each_command_with_its_main_flags():
    text = build_parser().format_help()
    for command, flags in {"travel_between_images": ["--input_images", "--base_prompts"],
                           "different_perspective": ["--prompt", "--input_image"],
                           "runs": ["--status", "--type", "--project", "--since", "--limit", "--json"],
                           "status": ["RUN_ID"], "retry": ["RUN_ID"], "dashboard": ["--host", "--port"]}.items():
        [line] = [line for line in text.splitlines() if line.startswith(f"  {command} ")]
        for flag in flags:
            assert flag in line, (command, flag, line)
    assert "--db-file" not in text.split("main flags of each command")[1].split("every command also")[0]


def test_hints_print_the_interpreter_and_script_as_run(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert script_command("steerable_motion.py").endswith(" steerable_motion.py")
    assert script_command("steerable_motion.py").split()[0] in (sys.executable,
                                                                 str(Path(sys.executable).relative_to(ROOT))
                                                                 if Path(sys.executable).is_relative_to(ROOT) else "")
    hint = worker_command()
    assert hint.startswith(script_command("headless.py"))
    assert hint.endswith("--engine preview") != has_nvidia_gpu()


@pytest.mark.skipif(not SYSTEM_PYTHON.exists() or sys.prefix == sys.base_prefix,
                    reason="needs a system /usr/bin/python3 beside this virtual environment")
def test_the_system_interpreter_is_pointed_at_a_virtual_environment():
    probe = subprocess.run([str(SYSTEM_PYTHON), "-c", "import pydantic"], capture_output=True)
    if probe.returncode == 0:
        pytest.skip("the system interpreter has the project's packages")
    result = subprocess.run([str(SYSTEM_PYTHON), "add_task.py", "--type", "noop", "--params", "{}"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 3
    [line] = result.stderr.strip().splitlines()
    assert "which is not a virtual environment" in line and " -m venv " in line
    assert f"{SYSTEM_PYTHON} -m pip install" not in line, "never pip install into the system interpreter"


def test_status_shows_a_warning_a_step_left_on_its_row():
    guide = Task(id="g", task_type="different_perspective_guide", params={}, status=Status.COMPLETE,
                 progress=1.0, progress_message="warning: no person found in the generated still; ...",
                 output_location="/nowhere/guide.mp4")
    text = format_run([guide], str)
    assert "    warning: no person found in the generated still" in text
    assert "(removed: an intermediate file" in text
