"""A parameter is declared once, in its params model: the command lines, --help, the reference and the
rows all come from it, and a command line and a row read the same values the same way."""
from __future__ import annotations

import argparse
import sys
import types
from pathlib import Path

import pytest
from pydantic import Field

from source.cli import add_task_cli, steerable_motion_cli, worker_cli
from source.config import resolve_settings
from source.errors import UserError
from source.queue.sqlite_backend import SqliteQueue
from source.tasks.command_line import (UNSET, cli_default, flagged_fields, one_row_client, other_spelling,
                                       params_from_args)
from source.tasks.params import Int, TaskParams, flag
from source.workflows import registry
from source.workflows.perspective.params import PerspectiveParams
from source.workflows.reference import all_references, markdown
from source.workflows.travel import ORCHESTRATOR
from source.workflows.travel.client import build_submission as travel_submission
from source.workflows.travel.params import OrchestratorDetails
from source.workflows.travel.plan import TravelPlan, build_plan
from tests.helpers.original_tool import colour_image

CLIENT_MODELS = {"travel_between_images": OrchestratorDetails, "different_perspective": PerspectiveParams}


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def sample(action: argparse.Action) -> list[str]:
    """A value argparse accepts for an option (the spelling test compares what two spellings parse to)."""
    if action.nargs == 0:
        return []
    if action.choices:
        return [str(list(action.choices)[0])]
    if action.metavar == "PATH=STRENGTH" or action.metavar == "KEY=VALUE":
        return ["k=1"]
    if action.type in (int, float):
        return ["1"]
    if action.metavar == "JSON":
        return ["{}"]
    return ["x"]


def required_argv(parser: argparse.ArgumentParser) -> list[str]:
    argv = []
    for action in parser._actions:
        if not action.option_strings and action.nargs not in ("?", "*") and action.dest != "help" \
                and not isinstance(action, argparse._SubParsersAction):
            argv.append("x")
        if action.required and action.option_strings:
            argv += [action.option_strings[0], *sample(action)]
    return argv


def spelled_options(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if action.dest in (argparse.SUPPRESS, "help") or isinstance(action, argparse._SubParsersAction):
            continue
        for option in action.option_strings:
            if option.startswith("--") and other_spelling(option) != option:
                yield action, option


PROGRAMS = [("headless.py", worker_cli.build_parser(), None), ("add_task.py", add_task_cli.build_parser(), None)]
PROGRAMS += [(f"steerable_motion.py {name}", sub, name)
             for name, sub in subcommands(steerable_motion_cli.build_parser()).items()]


@pytest.mark.parametrize("program, parser, command", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_every_flag_parses_the_same_in_both_spellings(program, parser, command):
    checked = 0
    top = steerable_motion_cli.build_parser() if command else parser
    head = [command] if command else []
    if program == "add_task.py":
        head = ["--type", "noop"]
    for action, option in spelled_options(parser):
        if option == "--type":
            continue
        argv = head + required_argv(parser) + [option, *sample(action)]
        other = head + required_argv(parser) + [other_spelling(option), *sample(action)]
        assert vars(top.parse_args(argv)) == vars(top.parse_args(other)), option
        checked += 1
    assert checked > 3


def test_the_help_shows_one_spelling_and_says_both_work(capsys):
    with pytest.raises(SystemExit):
        steerable_motion_cli.build_parser().parse_args(["travel_between_images", "--help"])
    text = capsys.readouterr().out
    assert "--segment_frames N [N ...]" in text and "--segment-frames" not in text
    assert "may also be written --flag-name" in " ".join(text.split())


@pytest.mark.parametrize("command", sorted(CLIENT_MODELS))
def test_command_line_defaults_are_the_row_defaults(command, tmp_path):
    """Every flagged field left off the command line reads as the same field left out of a row (or the
    field declares its command-line default, with the reason, and --help shows it)."""
    model = CLIENT_MODELS[command]
    image = colour_image(tmp_path / "a.png", (200, 10, 10))
    given = {"travel_between_images": ["--input_images", str(image)],
             "different_perspective": ["--input_image", str(image), "--prompt", "p"]}[command]
    args = steerable_motion_cli.build_parser().parse_args([command, *given])
    from_flags = model.parse(params_from_args(args, model)).to_json()
    row = {"travel_between_images": {"input_image_paths_resolved": [str(image)]},
           "different_perspective": {"input_image_path": str(image), "prompt": "p"}}[command]
    from_row = model.parse(row).to_json()
    for name, info, meta in flagged_fields(model):
        if cli_default(info) is UNSET:
            assert from_flags[name] == from_row[name], name
        else:
            assert meta["cli_reason"] and from_flags[name] == cli_default(info), name


# ---- a new parameter touches its model only -----------------------------------------------------------

class ShinyParams(TaskParams):
    """A throwaway task type's params."""

    sparkle: Int = Field(3, ge=0, le=9, json_schema_extra=flag("--sparkle", unit="sparkles"),
                         description="how much the output sparkles")


@pytest.fixture
def shiny_workflow(monkeypatch):
    """A workflow package `shiny` made in the test: one task type, its model, and a generated client."""
    from source.workflows import TaskType, Workflow

    package = types.ModuleType("source.workflows.shiny")
    package.WORKFLOW = Workflow(name="shiny", client="client:register",
                                task_types=(TaskType("shiny_task", handler="params:handle", params="params:ShinyParams",
                                                     summary="a throwaway task type", example="params:EXAMPLE"),))
    params = types.ModuleType("source.workflows.shiny.params")
    params.ShinyParams, params.EXAMPLE, params.handle = ShinyParams, {"sparkle": 4}, None
    client = types.ModuleType("source.workflows.shiny.client")
    client.register = one_row_client("shiny", "shiny_task", ShinyParams, help="queue a shiny row")
    for module in (package, params, client):
        monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(registry, "WORKFLOWS", registry.WORKFLOWS + ("shiny",))
    registry.workflows.cache_clear()
    registry._table.cache_clear()
    yield
    registry.workflows.cache_clear()
    registry._table.cache_clear()


def test_a_new_field_reaches_the_subcommand_help_reference_and_row(shiny_workflow, tmp_path, capsys):
    parser = steerable_motion_cli.build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["shiny", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--sparkle SPARKLE how much the output sparkles (sparkles; >= 0, <= 9; default 3)" in help_text
    assert r"| `sparkle` | integer | 3 | >= 0, \<= 9 | how much the output sparkles |" in markdown(all_references(), "m")

    settings = resolve_settings({"db_file": str(tmp_path / "q.db")})
    for argv, stored in ((["shiny", "--sparkle", "7"], 7), (["shiny"], 3)):
        submission = parser.parse_args(argv).build(parser.parse_args(argv), settings)
        assert submission.rows[0].params == {"sparkle": stored}
    args = parser.parse_args(["shiny", "--sparkle", "12"])
    with pytest.raises(UserError, match=r"^--sparkle must be <= 9, got 12"):
        args.build(args, settings)


# ---- a command line and a row read the same run the same way ------------------------------------------

@pytest.fixture
def images(tmp_path):
    return [str(colour_image(tmp_path / f"a{i}.png", (60 * i, 10, 10))) for i in range(3)]


def travel_from_command_line(images, settings, *flags):
    parser = steerable_motion_cli.build_parser()
    args = parser.parse_args(["travel_between_images", "--input_images", *images, "--segment_frames", "33",
                              "--run_id", "r", *flags])
    return travel_submission(args, settings)


def plan_of_row(details: dict):
    parsed = registry.parse_params(ORCHESTRATOR, {"orchestrator_details": details})
    d = parsed.orchestrator_details
    return parsed, build_plan(len(d.input_image_paths_resolved), d.segment_frames_expanded, d.frame_overlap_expanded)


def test_three_images_give_the_same_plan_from_the_command_line_and_a_row_without_overlaps(images, tmp_path):
    settings = resolve_settings({"db_file": str(tmp_path / "q.db")})
    cli_plan = TravelPlan.parse(travel_from_command_line(images, settings).rows[0].params["plan"])
    _, row_plan = plan_of_row({"input_image_paths_resolved": images, "segment_frames_expanded": [33]})
    assert cli_plan == row_plan
    assert row_plan.overlaps == [16] and row_plan.final_frames == 33 + 33 - 16


def test_one_overlap_per_segment_gets_the_same_answer_both_ways(images, tmp_path):
    """[8, 4] for three images (two segments, one join): accepted both ways as [8], and the 4 is kept
    beside the field, reported at enqueue and on the row as not used."""
    settings = resolve_settings({"db_file": str(tmp_path / "q.db")})
    submission = travel_from_command_line(images, settings, "--frame_overlap", "8", "4")
    details = submission.rows[0].params["orchestrator_details"]
    assert details["frame_overlap_expanded"] == [8] and details["frame_overlap_expanded[1]"] == 4
    assert submission.ignored == ("orchestrator_details.frame_overlap_expanded[1] (one overlap per segment was "
                                  "given: the last segment has no join after it, so its value is not used)",)
    row, row_plan = plan_of_row({"input_image_paths_resolved": images, "segment_frames_expanded": [33],
                                 "frame_overlap_expanded": [8, 4]})
    assert row.orchestrator_details.frame_overlap_expanded == [8]
    assert row.ignored_keys == ["orchestrator_details.frame_overlap_expanded[1]"]
    assert TravelPlan.parse(submission.rows[0].params["plan"]) == row_plan
    # the written row reads back as written: the note stays, nothing is converted twice
    again = registry.parse_params(ORCHESTRATOR, submission.rows[0].params)
    assert again.to_json()["orchestrator_details"] == details and again.ignored_keys == row.ignored_keys


def test_rows_from_add_task_steerable_motion_and_an_app_read_back_the_same(tmp_path, capsys, monkeypatch):
    image = str(colour_image(tmp_path / "p.png", (10, 200, 10)))
    db = tmp_path / "q.db"
    monkeypatch.setenv("SQLITE_DB_PATH", str(db))
    monkeypatch.setenv("DB_TYPE", "sqlite")
    monkeypatch.setenv("MAIN_OUTPUT_DIR", str(tmp_path / "out"))
    steerable_motion_cli.main(["different_perspective", "--input-image", image, "--prompt", "from behind",
                               "--resolution", "64x64", "--output_video_frames", "9", "--run_id", "r1"])
    root = capsys.readouterr().err.split("root row ")[1].split()[0]
    add_task_cli.main(["--type", "different_perspective_orchestrator", "--params",
                       '{"input_image_path": "%s", "prompt": "from behind", "resolution": "64x64", '
                       '"output_video_frames": 9, "run_id": "r1"}' % image])
    added = capsys.readouterr().out.strip()
    queue = SqliteQueue(db)
    try:
        from source.queue.model import NewTask

        # an app writing the original tool's shape: nulls for unset keys, the LoRA keys of Wan2GP
        (app,) = queue.enqueue([NewTask(task_type="different_perspective_orchestrator", params={
            "input_image_path": image, "prompt": "from behind", "resolution": "64x64", "output_video_frames": 9,
            "run_id": "r1", "negative_prompt": None, "seed": None, "activated_loras": [], "loras_multipliers": ""})])
        rows = [queue.get(task_id) for task_id in (root, added, app)]
    finally:
        queue.close()
    read = [registry.parse_params(row.task_type, row.params).to_json() for row in rows]
    assert read[0] == read[1] == read[2]
    assert rows[0].params == read[0] and rows[1].params == read[1]   # the clients wrote the current shape

