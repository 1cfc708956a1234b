"""`steerable_motion.py different_perspective` (alias `different_pose`): one different-perspective run.

The flags are the orchestrator's params (`--input_image` is `input_image_path`), checked by the same
model the worker uses (params.py), so a bad value is refused here with the worker's words, the field
written as its flag. steerable_motion.py queues the row and, with --wait, follows the run.
"""
from __future__ import annotations

import argparse
import json
from typing import Optional

from ...config import Settings
from ...errors import UserError
from ...media.frames import parse_resolution, snap_frames, snap_resolution
from ...queue.model import NewTask
from ...tasks.command_line import add_params_arguments, params_from_args
from ...tasks.ids import new_run_id
from ...tasks.original_flags import add_alias, add_retired
from ...tasks.submission import Submission, changed_note
from . import ORCHESTRATOR
from .params import PerspectiveParams

COMMAND = "different_perspective"
ALIASES = ["different_pose"]


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        COMMAND, aliases=ALIASES, help="re-pose the character of one image as a prompt describes",
        description="Render a still of the prompt, move the input image's pose towards the still's pose "
                    "as an OpenPose skeleton guide, render it with VACE (the input image as reference) and "
                    "save the last frame as a PNG.")
    add_params_arguments(parser, PerspectiveParams)  # every flagged field of the model (params.py)
    add_original_flags(parser)
    parser.set_defaults(build=build_submission)
    return parser


# Legacy travel flags that a different_pose command line may carry and that mean nothing here: their
# "off" values are accepted, anything else is refused (docs/MIGRATING.md).
TRAVEL_ONLY_FLAGS = {
    "--fade_in_duration": None, "--fade_out_duration": None, "--initial_image_strength": ("0",),
    "--final_image_strength": ("0",), "--cfg_star_switch": ("0",), "--cfg_zero_step": ("-1",),
    "--subsequent_starting_strength_adjustment": ("0",), "--desaturate_subsequent_starting_frames": ("0",),
    "--adjust_brightness_subsequent_starting_frames": ("0",), "--after_first_post_generation_saturation": ("1",),
    "--after_first_post_generation_brightness": ("0",),
}


def add_original_flags(parser: argparse.ArgumentParser) -> None:
    add_alias(parser, "--fps_helpers", "fps_helpers", type=int)
    add_alias(parser, "--params_json_str", "params_json_str")
    for flag, off in TRAVEL_ONLY_FLAGS.items():
        add_retired(parser, flag, "it applies to travel_between_images only", off=off or ())


def build_params(args: argparse.Namespace, settings: Optional[Settings] = None) -> dict:
    """The orchestrator row's params from the arguments, checked as the worker will check them: the
    validated, normalised dump of the model."""
    return parse_args(args, settings).to_json()


def parse_args(args: argparse.Namespace, settings: Optional[Settings] = None) -> PerspectiveParams:
    """The validated params of the arguments."""
    params = params_from_args(args, PerspectiveParams)
    if getattr(args, "fps_helpers", None) is not None:
        params["fps_helpers"] = args.fps_helpers
    params.update(json_override(getattr(args, "params_json_str", None)))
    try:
        return PerspectiveParams.parse(params, settings)
    except UserError as exc:
        raise PerspectiveParams.for_command_line(exc) from None


def json_override(text: Optional[str]) -> dict:
    """--params_json_str (legacy, docs/MIGRATING.md): a JSON object of params applied over the flags."""
    if not text:
        return {}
    try:
        override = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"--params_json_str is not valid JSON: {exc.msg}", field="--params_json_str") from None
    if not isinstance(override, dict):
        raise UserError("--params_json_str must be a JSON object of params", field="--params_json_str")
    return override


def build_submission(args: argparse.Namespace, settings: Settings) -> Submission:
    parsed = parse_args(args, settings)
    params = parsed.to_json()
    run_id = params["run_id"] or new_run_id()
    params["run_id"] = run_id
    root = NewTask(task_type=ORCHESTRATOR, params=params, run_id=run_id)
    resolution, frames = params["resolution"], params["output_video_frames"]
    notes = (changed_note("--resolution", "{}x{}".format(*parse_resolution(resolution)),
                          "{}x{}".format(*snap_resolution(resolution)), "sides floored to multiples of 16"),
             changed_note("--output_video_frames", frames, snap_frames(frames),
                          "Wan renders 4k+1 frames"))
    return Submission(rows=[root], run_id=run_id, summary=f"different perspective run {run_id}",
                      notes=tuple(note for note in notes if note), ignored=tuple(parsed.ignored_key_hints()))
