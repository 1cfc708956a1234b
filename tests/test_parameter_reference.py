"""The parameter reference is generated from the params models: docs/TASKS.md is current, it lists every
parameter of every task type, each example is valid params, and `add_task.py --describe` prints the same."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from typing import Optional

import pytest
from pydantic import Field

from source.tasks.params import Int, Params, TaskParams, aliases
from source.workflows.reference import all_references, parameter_docs, task_reference
from source.workflows.registry import known_task_types, params_model
from tests.helpers.workers import ROOT


def _make_reference():
    spec = importlib.util.spec_from_file_location("make_reference", ROOT / "scripts" / "make_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_tasks_md_is_what_the_params_models_say():
    make_reference = _make_reference()
    written = (ROOT / "docs" / "TASKS.md").read_text(encoding="utf-8")
    assert written == make_reference.reference_text(), \
        "docs/TASKS.md is stale: run .venv/bin/python scripts/make_reference.py"


def test_the_reference_covers_every_task_type_and_every_field():
    text = (ROOT / "docs" / "TASKS.md").read_text(encoding="utf-8")
    assert sorted(r.task_type for r in all_references()) == known_task_types()
    for task_type in known_task_types():
        section = text.split(f"\n## {task_type}\n", 1)[1].split("\n## ", 1)[0]
        for name in params_model(task_type).model_fields:
            assert f"| `{name}` |" in section, (task_type, name)
    assert "| `orchestrator_details.segment_frames_expanded` |" in text        # nested groups, expanded
    assert "| `frames` | integer | 81 | >= 1, \\<= MAX_FRAMES (241) |" in text  # type, default, range, limit
    assert "`video_length`" in text and "`model_name`" in text                 # other accepted names
    assert "tiny (random weights, for tests)" in text and "wan2gp:\\<model type>" in text


@pytest.mark.parametrize("task_type", known_task_types())
def test_every_task_type_has_an_example_its_model_accepts_whole(task_type):
    reference = task_reference(task_type)
    assert reference.example, f"{task_type} declares no example"
    parsed = params_model(task_type).parse(reference.example)
    assert parsed.ignored_keys == [], f"the {task_type} example has keys its model does not use"
    # what the worker asks of every row once its run ends (source/workflows/workdirs.py)
    assert parsed.keeps_work_folder in (True, False)


def test_a_field_added_to_a_model_reaches_the_reference_with_its_facts():
    class Group(Params):
        depth: Int = Field(2, ge=1, le=9, description="how deep")

    class Sample(TaskParams):
        count: Int = Field(3, ge=0, validation_alias=aliases("count", "n"), description="how many")
        group: Optional[Group] = Field(None, description="a nested group")

    docs = {doc.name: doc for doc in parameter_docs(Sample)}
    assert docs["count"].aliases == ("n",) and docs["count"].range == ">= 0" and docs["count"].default == 3
    assert docs["group.depth"].range == ">= 1, <= 9" and docs["group.depth"].meaning == "how deep"


def test_add_task_describe_prints_one_type_and_its_example(capsys):
    from source.cli.add_task_cli import main

    assert main(["--type", "wgp", "--describe"]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("wgp: one video from a prompt")
    assert "frames (integer; default 81; >= 1, <= MAX_FRAMES (241))" in shown and "also accepted as video_length" in shown
    assert '"model": "flf2v_720p"' in shown
    with pytest.raises(SystemExit) as refused:
        main(["--type", "wgpp", "--describe"])
    assert refused.value.code == 2 and "unknown task_type 'wgpp'" in capsys.readouterr().err


def test_help_texts_name_every_accepted_model_and_what_one_image_does():
    def help_of(*args: str) -> str:
        done = subprocess.run([sys.executable, *args, "--help"], cwd=ROOT, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        return " ".join(done.stdout.split())

    travel = help_of("steerable_motion.py", "travel_between_images")
    for name in ("vace_14B", "vace_1.3B", "tiny", "wan2gp:<model type>"):
        assert name in travel, name
    assert "one image makes one segment" in travel
    assert "--describe" in help_of("add_task.py")
    assert "preview" in help_of("headless.py")
