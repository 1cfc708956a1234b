"""`steerable_motion.py different_perspective` (alias `different_pose`): one different-perspective run.

The flags are the orchestrator's params (`--input_image` is `input_image_path`), checked by the same
model the worker uses (params.py), so a bad value is refused here with the worker's words, the field
written as its flag. steerable_motion.py queues the row and, with --wait, follows the run.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Optional

from ...config import Settings
from ...engines.models import model_names
from ...errors import UserError
from ...queue.model import NewTask
from ...storage.downloads import is_url
from ...storage.outputs import prepare_output_folder
from ...tasks.ids import new_run_id
from ...media.frames import parse_resolution, snap_frames, snap_resolution
from ...tasks.original_flags import add_alias, add_retired
from ...tasks.submission import Submission, changed_note
from . import ORCHESTRATOR
from .params import PERSPECTIVE_TYPES, PerspectiveParams

COMMAND = "different_perspective"
ALIASES = ["different_pose"]


def _default(name: str):
    return PerspectiveParams.model_fields[name].default


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        COMMAND, aliases=ALIASES, help="re-pose the character of one image as a prompt describes",
        description="Render a still of the prompt, move the input image's pose towards the still's pose "
                    "as an OpenPose skeleton guide, render it with VACE (the input image as reference) and "
                    "save the last frame as a PNG.")
    parser.add_argument("--input_image", required=True, help="the character's image (path or http(s) URL)")
    parser.add_argument("--prompt", required=True, help="what the new view or pose should show")
    parser.add_argument("--negative_prompt", default=_default("negative_prompt"), help="what to avoid (default: empty)")
    parser.add_argument("--model_name", default=_default("model_name"),
                        help=f"VACE model for the render (default {_default('model_name')}): "
                             f"{model_names('vace')}; the still uses the text-to-video model of the same size")
    parser.add_argument("--resolution", default=_default("resolution"),
                        help=f"WxH, floored to multiples of 16 (default {_default('resolution')})")
    parser.add_argument("--output_video_frames", type=int, default=_default("output_video_frames"),
                        help=f"length of the guided clip, snapped to 4k+1 (default {_default('output_video_frames')}); "
                             "more frames give the pose more room to move")
    parser.add_argument("--seed", type=int, default=_default("seed"), help=f"random seed (default {_default('seed')})")
    parser.add_argument("--steps", type=int, default=None, help="denoising steps (default: the model's)")
    parser.add_argument("--perspective_type", choices=PERSPECTIVE_TYPES, default=_default("perspective_type"),
                        help="pose (MediaPipe skeletons; default) or depth (needs DEPTH_MODEL_PATH)")
    parser.add_argument("--run_id", default=None, help="name of the run (default: a new id)")
    parser.add_argument("--skip_cleanup", action="store_true", help="keep the run's work folder")
    parser.add_argument("--debug", action="store_true", help="keep the run's work folder (guides, renders)")
    parser.add_argument("--use_causvid_lora", action="store_true",
                        help="CausVid LoRA for both renders (9 steps, guidance 1.0, flow shift 1.0)")
    parser.add_argument("--output_dir", help="folder for the final PNG (created if missing; default: the "
                                             "worker's --main-output-dir)")
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
    """The orchestrator row's params from the arguments, checked as the worker will check them."""
    image = args.input_image
    if not is_url(image):
        path = Path(image).expanduser()
        if not path.is_file():
            raise UserError(f"--input_image: file not found: {image}", field="--input_image")
        image = str(path.resolve())
    params = {
        "input_image_path": image, "prompt": args.prompt, "negative_prompt": args.negative_prompt,
        "model_name": args.model_name, "resolution": args.resolution,
        "output_video_frames": args.output_video_frames, "seed": args.seed,
        "perspective_type": args.perspective_type, "skip_cleanup": args.skip_cleanup,
    }
    if args.steps is not None:
        params["steps"] = args.steps
    if args.debug:
        params["debug_mode"] = True
    if args.use_causvid_lora:
        params["use_causvid_lora"] = True
    if args.output_dir is not None:
        params["output_dir"] = prepare_output_folder(args.output_dir, "--output_dir")
    if getattr(args, "fps_helpers", None) is not None:
        params["fps_helpers"] = args.fps_helpers
    params.update(json_override(getattr(args, "params_json_str", None)))
    try:
        PerspectiveParams.parse(params, settings)
    except UserError as exc:
        raise PerspectiveParams.for_command_line(exc) from None
    return params


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
    params = build_params(args, settings)
    run_id = args.run_id or new_run_id()
    params["run_id"] = run_id
    root = NewTask(task_type=ORCHESTRATOR, params=params, run_id=run_id)
    notes = (changed_note("--resolution", "{}x{}".format(*parse_resolution(args.resolution)),
                          "{}x{}".format(*snap_resolution(args.resolution)), "sides floored to multiples of 16"),
             changed_note("--output_video_frames", args.output_video_frames, snap_frames(args.output_video_frames),
                          "Wan renders 4k+1 frames"))
    return Submission(rows=[root], run_id=run_id, summary=f"different perspective run {run_id}",
                      notes=tuple(note for note in notes if note))
