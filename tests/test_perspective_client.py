"""The `different_perspective` subcommand's arguments (wired into steerable_motion.py by one call)."""
from __future__ import annotations

import argparse

import pytest

from source.cli.steerable_motion_cli import build_parser
from source.errors import InvalidParams, UserError as CliError
from source.workflows.perspective.client import build_params, build_submission
from tests.helpers.perspective import astronaut_png, make_context


def _parser() -> argparse.ArgumentParser:
    return build_parser()


def test_alias_and_defaults(tmp_path):
    image = astronaut_png(tmp_path)
    for name in ("different_perspective", "different_pose"):
        args = _parser().parse_args([name, "--input_image", str(image), "--prompt", "from behind",
                                     "--resolution", "72x60", "--output_video_frames", "10", "--wait"])
        assert args.build is build_submission and args.wait is True
        params = build_params(args)
        assert params["input_image_path"] == str(image.resolve())
        assert params["model_name"] == "vace_14B" and params["perspective_type"] == "pose"
        assert params["output_video_frames"] == 10 and params["resolution"] == "72x60"


def test_missing_image_is_a_one_line_error_with_the_path(tmp_path):
    args = _parser().parse_args(["different_pose", "--input_image", str(tmp_path / "none.png"),
                                 "--prompt", "x"])
    with pytest.raises(CliError, match=f"--input_image: file not found: {tmp_path / 'none.png'}"):
        build_params(args)


def test_bad_values_name_the_flag(tmp_path):
    image = astronaut_png(tmp_path)
    args = _parser().parse_args(["different_pose", "--input_image", str(image), "--prompt", "x",
                                 "--resolution", "huge"])
    with pytest.raises(CliError, match="--resolution"):
        build_params(args)
    with pytest.raises(SystemExit) as exit_info:
        _parser().parse_args(["different_pose", "--input_image", str(image), "--prompt", "x",
                              "--perspective_type", "sideways"])
    assert exit_info.value.code == 2


def test_help_explains_every_flag(capsys):
    with pytest.raises(SystemExit):
        _parser().parse_args(["different_perspective", "--help"])
    text = capsys.readouterr().out
    for flag in ("--input_image", "--prompt", "--model_name", "--resolution", "--output_video_frames",
                 "--seed", "--perspective_type", "--wait", "--db-file"):
        assert flag in text


def test_steerable_motion_has_the_subcommand(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    shown = subprocess.run([sys.executable, "steerable_motion.py", "different_pose", "--help"], cwd=root,
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and "--input_image" in shown.stdout and "--perspective_type" in shown.stdout
    missing = tmp_path / "no.png"
    bad = subprocess.run([sys.executable, "steerable_motion.py", "different_perspective", "--input_image",
                          str(missing), "--prompt", "x", "--db-file", str(tmp_path / "t.db")], cwd=root,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.strip() == f"error: --input_image: file not found: {missing}"
    assert not (tmp_path / "t.db").exists()   # nothing was queued


@pytest.mark.parametrize("flag, value", [
    ("--resolution", "huge"),
    ("--resolution", "8x8"),
    ("--output_video_frames", "3"),
    ("--model_name", "wan_9000"),
    ("--prompt", "   "),
])
def test_client_and_worker_refuse_bad_params_with_the_same_words(tmp_path, flag, value):
    """One params model: the client's one line is the worker's message, with the field as its flag."""
    image = astronaut_png(tmp_path)
    argv = ["different_perspective", "--input_image", str(image), flag, value]
    if flag != "--prompt":
        argv += ["--prompt", "x"]
    with pytest.raises(CliError) as on_client:
        build_params(_parser().parse_args(argv))

    row = {"input_image_path": str(image), "prompt": "x", flag[2:]: int(value) if value.isdigit() else value}
    with pytest.raises(InvalidParams) as in_worker:
        make_context(tmp_path, "different_perspective_orchestrator", row)
    assert str(in_worker.value).startswith(flag[2:])
    assert str(on_client.value) == "--" + str(in_worker.value)
