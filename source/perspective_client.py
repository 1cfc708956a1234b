"""`steerable_motion.py different_perspective` (alias `different_pose`): queue one different-perspective run.

steerable_motion.py wires it in through its subcommand table (source/cli/steerable_motion_cli.py):
`"source.perspective_client:register"`, which adds different_perspective / different_pose with func=run.

`run(args)` returns the exit code: 0 when queued (or, with --wait, when the run ends Complete), 1 when a
waited-for run fails or is cancelled, 2 on bad arguments.
"""
from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path
from typing import Optional

from .cli.common import CliError, add_queue_arguments, die, open_migrated_queue, settings_from_args
from .handlers.base import InvalidParams
from .handlers.perspective import DEFAULTS, ORCHESTRATOR, PERSPECTIVE_TYPES, STEPS, checked_params, child_id
from .queue.model import NewTask, Status
from .storage.downloads import is_url

COMMAND = "different_perspective"
ALIASES = ["different_pose"]


def add_subcommand(subparsers, with_queue_arguments: bool = True) -> argparse.ArgumentParser:
    """Register the subcommand. Pass with_queue_arguments=False when the parent parser already has
    --db-type/--db-file/--database-url/--main-output-dir (a subparser's defaults would hide them)."""
    parser = subparsers.add_parser(
        COMMAND, aliases=ALIASES, help="re-pose the character of one image as a prompt describes",
        description="Render a still of the prompt, move the input image's pose towards the still's pose "
                    "as an OpenPose skeleton guide, render it with VACE (the input image as reference) and "
                    "save the last frame as a PNG.")
    parser.add_argument("--input_image", required=True, help="the character's image (path or http(s) URL)")
    parser.add_argument("--prompt", required=True, help="what the new view or pose should show")
    parser.add_argument("--negative_prompt", default="", help="what to avoid (default: empty)")
    parser.add_argument("--model_name", default=DEFAULTS["model_name"],
                        help=f"VACE model for the render (default {DEFAULTS['model_name']}); the still uses "
                             "the text-to-video model of the same size")
    parser.add_argument("--resolution", default=DEFAULTS["resolution"],
                        help=f"WxH, floored to multiples of 16 (default {DEFAULTS['resolution']})")
    parser.add_argument("--output_video_frames", type=int, default=DEFAULTS["output_video_frames"],
                        help=f"length of the guided clip, snapped to 4k+1 (default {DEFAULTS['output_video_frames']}); "
                             "more frames give the pose more room to move")
    parser.add_argument("--seed", type=int, default=DEFAULTS["seed"], help="random seed (default 0)")
    parser.add_argument("--steps", type=int, default=None, help="denoising steps (default: the model's)")
    parser.add_argument("--perspective_type", choices=PERSPECTIVE_TYPES, default=DEFAULTS["perspective_type"],
                        help="pose (MediaPipe skeletons; default) or depth (needs DEPTH_MODEL_PATH)")
    parser.add_argument("--run_id", default=None, help="name of the run (default: a new id)")
    parser.add_argument("--skip_cleanup", action="store_true", help="keep the run's work folder")
    parser.add_argument("--wait", action="store_true",
                        help="show progress until the run ends, then print the final PNG's path")
    if with_queue_arguments:
        add_queue_arguments(parser)
    parser.set_defaults(func=run)
    return parser


register = add_subcommand  # the name steerable_motion_cli's table uses


def build_params(args: argparse.Namespace) -> dict:
    """The orchestrator row's params from the arguments; CliError on what can be told here."""
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
        checked_params(params)
    except InvalidParams as exc:
        raise CliError(f"--{str(exc)}") from None
    return params


def run(args: argparse.Namespace) -> int:
    try:
        params = build_params(args)
        settings = settings_from_args(args)
    except CliError as exc:
        die(str(exc))
    task_id = str(uuid.uuid4())
    run_id = args.run_id or task_id
    params["run_id"] = run_id
    try:
        queue = open_migrated_queue(settings)
    except Exception as exc:
        die(f"cannot open the {settings.db_type} queue: {exc}")
    try:
        queue.enqueue([NewTask(task_type=ORCHESTRATOR, params=params, id=task_id, run_id=run_id)])
        print(task_id, flush=True)
        if not args.wait:
            return 0
        return wait_for_run(queue, settings, task_id)
    finally:
        queue.close()


def _describe(queue, task_id: str) -> str:
    """'step 2/4 guide 50%' from the child rows (they exist once the orchestrator has run)."""
    for number, step in reversed(list(enumerate(STEPS, start=1))):
        child = queue.get(child_id(task_id, step))
        if child is not None and child.status != Status.QUEUED:
            name = step.replace("different_perspective_", "")
            percent = f" {child.progress * 100:3.0f}%" if child.progress is not None else ""
            return f"step {number}/{len(STEPS)} {name}{percent} ({child.status})"
    return "waiting for a worker"


def wait_for_run(queue, settings, task_id: str, poll_seconds: float = 0.5,
                 timeout: Optional[float] = None, stream=None) -> int:
    """Show progress on stderr until the orchestrator row ends; print the final path on stdout."""
    from .cli.add_task_cli import resolve_location

    stream = stream or sys.stderr
    started = time.monotonic()
    last = ""
    while True:
        task = queue.get(task_id)
        if task is not None and task.is_terminal:
            break
        line = _describe(queue, task_id)
        if line != last:
            stream.write(f"\r{line:<60}")
            stream.flush()
            last = line
        if timeout is not None and time.monotonic() - started > timeout:
            stream.write("\n")
            print(f"error: still running after {timeout:.0f} s: {task_id}", file=sys.stderr)
            return 1
        time.sleep(poll_seconds)
    stream.write("\n")
    if task.status == Status.COMPLETE:
        print(resolve_location(settings, task.output_location) if task.output_location else "")
        return 0
    print(f"error: run {task_id} {task.status.lower()}: {task.error_message or ''}".rstrip(), file=sys.stderr)
    return 1
