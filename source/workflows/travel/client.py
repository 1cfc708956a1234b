"""`steerable_motion.py travel_between_images`: the run's settings from the flags, validated, its plan
computed, as one travel_orchestrator row (steerable_motion.py queues it and, with --wait, follows it).

Everything is checked before a row is written (exit 2 with a one-line reason naming the flag, nothing
written). The plan is computed here, once, and persisted on the row, where the orchestrator checks and
uses it; only a continued video given as a URL (its length known once it is fetched) leaves the plan to
the orchestrator.
"""
from __future__ import annotations

import argparse

from ...config import Settings
from ...errors import UserError
from ...media.frames import parse_resolution
from ...queue.model import NewTask
from ...tasks.command_line import add_params_arguments, params_from_args
from ...tasks.ids import new_run_id
from ...tasks.original_flags import add_alias, add_retired
from ...tasks.submission import Submission, changed_note
from . import ORCHESTRATOR
from .params import OrchestratorDetails, TravelOrchestratorParams, check_input_files
from .plan import build_plan


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "travel_between_images", help="a video travelling through anchor images (VACE segments + stitch)",
        description="Queue a travel between images: N images make N-1 segments (N after "
                    "--continue_from_video), each rendered with VACE from a guide video, then cross-faded "
                    "into {run_id}_final.mp4. One image makes one segment that starts at it and goes where "
                    "the model takes it. Per-segment lists given one value repeat for every segment.")
    add_params_arguments(p, OrchestratorDetails)  # every flagged field of the run's settings (params.py)
    p.add_argument("--project_id", help="owner of the rows")
    p.add_argument("--priority", type=int, default=NewTask.priority, help=f"higher runs first (default {NewTask.priority})")
    add_original_flags(p)
    p.set_defaults(build=build_submission)
    return p


def add_original_flags(p: argparse.ArgumentParser) -> None:
    """The original tool's travel flags (docs/MIGRATING.md): hidden aliases, or a one-line reason."""
    add_alias(p, "--fade_in_duration", "fade_in_params_json_str")
    add_alias(p, "--fade_out_duration", "fade_out_params_json_str")
    add_alias(p, "--fps_helpers", "fps_helpers", type=int)
    add_alias(p, "--cfg_star_switch", "cfg_star_switch", type=int, choices=(0, 1))
    add_alias(p, "--cfg_zero_step", "cfg_zero_step", type=int)
    add_alias(p, "--params_json_str", "params_json_str")
    add_retired(p, "--output_video_frames", "a travel's length is --segment_frames (frames per segment)")
    for flag in ("--initial_image_strength", "--final_image_strength"):
        add_retired(p, flag, "anchors are not VACE reference images here, they sit in the guide video; "
                    "--fade_out_params / --fade_in_params set how strongly they show", off=("0",))


def details_from_args(args: argparse.Namespace, run_id: str) -> dict:
    """orchestrator_details from the command line: the flagged fields of `OrchestratorDetails` and the
    original tool's flags that are kept (add_original_flags)."""
    details = params_from_args(args, OrchestratorDetails)
    details["run_id"] = run_id
    originals = {"fps_helpers": getattr(args, "fps_helpers", None),
                 "cfg_star_switch": getattr(args, "cfg_star_switch", None),
                 "cfg_zero_step": getattr(args, "cfg_zero_step", None),
                 "params_json_str_override": getattr(args, "params_json_str", None)}
    details.update({key: value for key, value in originals.items() if value is not None})
    return details


def build_submission(args: argparse.Namespace, settings: Settings) -> Submission:
    """The run's orchestrator row from the arguments, checked as the worker will check it, with its plan."""
    run_id = args.run_id or new_run_id()
    try:
        raw = details_from_args(args, run_id)
        # The same model the worker validates the row with: the one check of the flags' values here.
        parsed = TravelOrchestratorParams.parse({"orchestrator_details": raw}, settings)
        details = parsed.orchestrator_details
        video_frames = check_input_files(details)
        plan = None
        if details.continue_from_video_resolved_path is None or video_frames is not None:
            plan = build_plan(len(details.input_image_paths_resolved), details.segment_frames_expanded,
                              details.frame_overlap_expanded, video_frames, details.independent_segments)
    except UserError as exc:
        raise OrchestratorDetails.for_command_line(exc) from None
    params = {"orchestrator_details": details.to_json()}
    if plan is not None:
        params["plan"] = plan.to_json()
    root = NewTask(task_type=ORCHESTRATOR, params=params, run_id=run_id, project_id=args.project_id,
                   priority=args.priority)
    summary = f"travel run {run_id}: {details.num_segments} segment(s)"
    if plan is not None:
        summary += f", {plan.final_frames} frames, anchors at frames {', '.join(map(str, plan.anchor_frames))}"
    if details.num_segments == 1 and len(details.input_image_paths_resolved) == 1 and plan is not None:
        summary += " from one image (its end is not anchored: the model decides where it goes)"
    return Submission(rows=[root], run_id=run_id, summary=summary, notes=snapping_notes(args, details, plan),
                      ignored=tuple(parsed.ignored_key_hints()))


def snapping_notes(args: argparse.Namespace, details: OrchestratorDetails, plan) -> tuple[str, ...]:
    """What the run renders differently from what the flags asked: frames per segment (4k+1),
    overlaps (even, capped by the segments), resolution (multiples of 16)."""
    given = args.parsed_resolution_wh or OrchestratorDetails.model_fields["parsed_resolution_wh"].default
    notes = [changed_note("--resolution", "{}x{}".format(*parse_resolution(given)),
                          "{}x{}".format(*details.parsed_resolution_wh), "sides floored to multiples of 16")]
    if plan is not None:
        notes.append(changed_note("--segment_frames", details.segment_frames_expanded, plan.segment_lengths,
                                  "Wan renders 4k+1 frames"))
        notes.append(changed_note("--frame_overlap", details.frame_overlap_expanded, plan.overlaps,
                                  "overlaps are even and at most one less than either segment they join"))
    return tuple(note for note in notes if note)
