"""`steerable_motion.py join_clips`: the run's details from the flags, validated by the params model the
worker uses, as one join_clips_orchestrator row (steerable_motion.py queues it; --wait follows it).

The flags are generated from the fields of `JoinOrchestratorDetails` that carry `flag(...)` metadata
(source/tasks/command_line.py): name, type, help and default come from the model.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ...config import Settings
from ...errors import UserError
from ...queue.model import NewTask
from ...storage.downloads import is_url
from ...tasks.command_line import add_params_arguments, params_from_args
from ...tasks.ids import new_run_id
from ...tasks.submission import Submission
from . import ORCHESTRATOR
from .params import JoinOrchestratorDetails, JoinOrchestratorParams
from .plan import plan_chain


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "join_clips", help="join clips with generated transitions (VACE), into one video",
        description="Queue a join of N clips: each neighbouring pair is bridged by a generated transition "
                    "(context frames of both clips, a generated gap, cross-faded back), chained so the last "
                    "join's output is the whole video (docs/JOINING.md).")
    add_params_arguments(p, JoinOrchestratorDetails)
    p.add_argument("--project_id", help="owner of the rows")
    p.add_argument("--priority", type=int, default=0, help="higher runs first (default 0)")
    p.set_defaults(build=build_submission)
    return p


def build_submission(args: argparse.Namespace, settings: Settings) -> Submission:
    try:
        raw = params_from_args(args, JoinOrchestratorDetails)
        run_id = raw.get("run_id") or new_run_id()
        raw["run_id"] = run_id
        params = JoinOrchestratorParams.parse({"orchestrator_details": raw}, settings)
        details = params.orchestrator_details
        lengths = local_lengths([c.url for c in details.clip_list], details.fps)
    except UserError as exc:
        raise JoinOrchestratorDetails.for_command_line(unprefixed(exc)) from None
    root = NewTask(task_type=ORCHESTRATOR, params={"orchestrator_details": details.to_json()}, run_id=run_id,
                   project_id=args.project_id, priority=args.priority)
    joins = details.num_joins_planned
    summary = f"join run {run_id}: {joins + 1} clip(s), {joins} join(s)"
    if lengths is not None:
        if details.loop_first_clip:
            lengths.append(lengths[0])
        settings_of = [details.join_settings(i) for i in range(joins)]
        plans = plan_chain(lengths, gaps=[s.gap_frame_count for s in settings_of],
                           replace=[s.replace_mode for s in settings_of],
                           contexts=[s.context_frame_count for s in settings_of])
        summary += f", {plans[-1].final_frames} frames"
    return Submission(rows=[root], run_id=run_id, summary=summary)


def unprefixed(exc: UserError) -> UserError:
    """An error about orchestrator_details.X as one about X (whose flag the user typed)."""
    prefix = "orchestrator_details."
    field = exc.field or ""
    message = str(exc)
    if field.startswith(prefix):
        field = field[len(prefix):]
        message = message.replace(prefix, "", 1)
    return type(exc)(message, field=field or None)


def local_lengths(clips: list[str], fps: float):
    """Each local clip's frame count at the join's rate (None when a clip is a URL)."""
    from ...media.retime import FPS_TOLERANCE, frame_times, resample_indices

    lengths = []
    for clip in clips:
        if is_url(clip):
            return None
        times, rate = frame_times(Path(clip))
        lengths.append(len(resample_indices(times, fps, rate)) if abs(rate - fps) > FPS_TOLERANCE else len(times))
    return lengths
