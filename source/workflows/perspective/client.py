"""`steerable_motion.py different_perspective` (alias `different_pose`): queue one different-perspective run.

The flags are the orchestrator's params (`--input_image` is `input_image_path`), checked by the same
model the worker uses (params.py), so a bad value is refused here with the worker's words.
`run(args)` returns the exit code: 0 when queued (or, with --wait, when the run ends Complete), 1 when a
waited-for run fails or is cancelled, 2 on bad arguments.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

from ...cli.common import CliError, add_queue_arguments, die, open_migrated_queue, settings_from_args
from ...cli.runs import wait_for_run
from ...config import Settings
from ...errors import InvalidParams
from ...queue.model import NewTask
from ...storage.downloads import is_url
from ...storage.outputs import absolute_location
from ...tasks.ids import new_run_id
from . import ORCHESTRATOR
from .params import PERSPECTIVE_TYPES, PerspectiveParams

COMMAND = "different_perspective"
ALIASES = ["different_pose"]
FLAG_FOR_FIELD = {"input_image_path": "--input_image"}   # where a flag's name differs from its param's


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
                        help=f"VACE model for the render (default {_default('model_name')}); the still uses "
                             "the text-to-video model of the same size")
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
    parser.add_argument("--wait", action="store_true",
                        help="show progress until the run ends, then print the final PNG's path")
    add_queue_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def as_flag_message(exc: InvalidParams) -> str:
    """The params model's message with the field written as the flag a command-line user typed."""
    message, field = str(exc), exc.field
    if field and message.startswith(field):
        return FLAG_FOR_FIELD.get(field, f"--{field}") + message[len(field):]
    return message


def build_params(args: argparse.Namespace, settings: Optional[Settings] = None) -> dict:
    """The orchestrator row's params from the arguments, checked as the worker will check them."""
    image = args.input_image
    if not is_url(image):
        path = Path(image).expanduser()
        if not path.is_file():
            raise CliError(f"--input_image: file not found: {image}")
        image = str(path.resolve())
    params = {
        "input_image_path": image, "prompt": args.prompt, "negative_prompt": args.negative_prompt,
        "model_name": args.model_name, "resolution": args.resolution,
        "output_video_frames": args.output_video_frames, "seed": args.seed,
        "perspective_type": args.perspective_type, "skip_cleanup": args.skip_cleanup,
    }
    if args.steps is not None:
        params["steps"] = args.steps
    try:
        PerspectiveParams.parse(params, settings)
    except InvalidParams as exc:
        raise CliError(as_flag_message(exc)) from None
    return params


def run(args: argparse.Namespace) -> int:
    try:
        settings = settings_from_args(args)
        params = build_params(args, settings)
    except CliError as exc:
        die(str(exc))
    run_id = args.run_id or new_run_id()
    params["run_id"] = run_id
    try:
        queue = open_migrated_queue(settings)
    except Exception as exc:
        die(f"cannot open the {settings.db_type} queue: {exc}")
    try:
        (task_id,) = queue.enqueue([NewTask(task_type=ORCHESTRATOR, params=params, run_id=run_id)])
        print(f"queued different perspective run {run_id}; orchestrator row {task_id}", file=sys.stderr)
        print(run_id, flush=True)
        if not args.wait:
            return 0
        return wait_for_run(queue, task_id, lambda location: absolute_location(location, settings.db_dir))
    finally:
        queue.close()
