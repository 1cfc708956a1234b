"""`steerable_motion.py travel_between_images`: the run's settings from the flags, validated, its plan
computed, as one travel_orchestrator row (steerable_motion.py queues it and, with --wait, follows it).

Everything is checked before a row is written (exit 2 with a one-line reason naming the flag, nothing
written). The plan is computed here, once, and persisted on the row, where the orchestrator checks and
uses it; only a continued video given as a URL (its length known once it is fetched) leaves the plan to
the orchestrator.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional

from ...config import Settings
from ...engines.models import model_names
from ...errors import UserError
from ...media.frames import parse_resolution
from ...queue.model import NewTask
from ...storage.downloads import is_url
from ...storage.outputs import prepare_output_folder
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
    p.add_argument("--input_images", nargs="+", required=True, metavar="IMAGE",
                   help="anchor images in order (paths or http(s) URLs); N images make N-1 segments; one image "
                        "makes one segment that starts at it and whose end the model decides (not anchored)")
    p.add_argument("--base_prompts", nargs="+", default=[""], metavar="PROMPT",
                   help="prompt per segment (one value: used for all)")
    p.add_argument("--negative_prompts", nargs="+", default=[""], metavar="PROMPT",
                   help="negative prompt per segment (one value: used for all)")
    p.add_argument("--resolution", default="832x480",
                   help="WxH, floored to multiples of 16 (default 832x480)")
    p.add_argument("--segment_frames", nargs="+", type=int, default=[81], metavar="N",
                   help="frames per segment, snapped to 4k+1 (default 81)")
    p.add_argument("--frame_overlap", nargs="+", type=int, default=[16], metavar="N",
                   help="frames shared where one segment hands over to the next: one value for every join, "
                        "or one per join (N images: N-2 joins; with --continue_from_video: N). Made even "
                        "and at most one less than either segment (default 16; 0 concatenates)")
    p.add_argument("--model_name", default="vace_14B",
                   help=f"the VACE model (default vace_14B): {model_names('vace')}")
    p.add_argument("--seed", type=int, default=0, help="segment i renders with seed + i (default 0)")
    p.add_argument("--continue_from_video", metavar="VIDEO",
                   help="continue this video: its last frames start segment 0")
    p.add_argument("--use_causvid_lora", action="store_true",
                   help="CausVid LoRA (9 steps, guidance 1.0, flow shift 1.0)")
    p.add_argument("--use_lighti2x_lora", action="store_true",
                   help="LightX2V LoRA (5 steps, guidance 1.0, flow shift 5.0)")
    p.add_argument("--use_lightning_lora", action="store_true",
                   help="Wan 2.2 A14B: Lightning's HIGH/LOW LoRAs on their experts (2 + 2 steps, guidance 1.0)")
    p.add_argument("--loras", nargs="+", default=[], metavar="PATH=STRENGTH",
                   help="extra LoRAs (paths or URLs), each with its strength (two-expert models: 'a;b', one "
                        "per phase)")
    p.add_argument("--text_before_prompts", help="text put before every segment's prompt (one space between)")
    p.add_argument("--text_after_prompts", help="text put after every segment's prompt (one space between)")
    p.add_argument("--show_input_images", action="store_true",
                   help="also write each segment with its anchor images as a banner above it")
    p.add_argument("--upscale_factor", type=float, help="upscale the final video by this factor (Lanczos)")
    p.add_argument("--independent_segments", action="store_true",
                   help="anchor each segment only on its own two images so all segments render at once "
                        "on several workers (no chaining); joined by the stitch")
    p.add_argument("--output_dir", help="folder for this run's videos (created if missing; default: the "
                                        "worker's --main-output-dir)")
    p.add_argument("--steps", type=int, help="denoising steps (default: the model's)")
    p.add_argument("--guidance_scale", type=float, help="classifier-free guidance (default: the model's)")
    p.add_argument("--flow_shift", type=float, help="flow shift (default: the model's)")
    p.add_argument("--colour_match_videos", action="store_true",
                   help="match each segment's colours to its anchors (LAB mean/std, start to end)")
    p.add_argument("--after_first_post_generation_saturation", type=float, metavar="S",
                   help="saturation of segments after the first (1 keeps)")
    p.add_argument("--after_first_post_generation_brightness", type=float, metavar="B",
                   help="brightness of segments after the first (0 keeps; -0.1 is 10%% darker)")
    p.add_argument("--subsequent_starting_strength_adjustment", type=float, metavar="S",
                   help="carried overlap frames: contrast toward mid-gray (0 keeps, -0.2 weaker)")
    p.add_argument("--desaturate_subsequent_starting_frames", type=float, metavar="D",
                   help="carried overlap frames: desaturate 0..1")
    p.add_argument("--adjust_brightness_subsequent_starting_frames", type=float, metavar="B",
                   help="carried overlap frames: brightness (0 keeps)")
    p.add_argument("--fade_in_params", metavar="JSON",
                   help='end anchor fading in: {"low_point":0,"high_point":1,"curve_type":"ease_in_out",'
                        '"duration_factor":0.5}')
    p.add_argument("--fade_out_params", metavar="JSON", help="start anchor fading out (same keys)")
    p.add_argument("--crossfade_sharp_amt", type=float, default=0.3,
                   help="sharpening of cross-faded frames (default 0.3; 0 = off)")
    p.add_argument("--run_id", help="name the run (default: time + random suffix)")
    p.add_argument("--project_id", help="owner of the rows")
    p.add_argument("--priority", type=int, default=0, help="higher runs first (default 0)")
    p.add_argument("--debug", action="store_true", help="keep the run's work folder (guides, masks, raw renders)")
    p.add_argument("--skip_cleanup", action="store_true", help="keep the run's work folder")
    add_original_flags(p)
    p.set_defaults(build=build_submission)
    return p


def add_original_flags(p: argparse.ArgumentParser) -> None:
    """The original tool's travel flags (docs/MIGRATING.md): hidden aliases, or a one-line reason."""
    add_alias(p, "--fade_in_duration", "fade_in_params")
    add_alias(p, "--fade_out_duration", "fade_out_params")
    add_alias(p, "--fps_helpers", "fps_helpers", type=int)
    add_alias(p, "--cfg_star_switch", "cfg_star_switch", type=int, choices=(0, 1))
    add_alias(p, "--cfg_zero_step", "cfg_zero_step", type=int)
    add_alias(p, "--params_json_str", "params_json_str")
    add_retired(p, "--output_video_frames", "a travel's length is --segment_frames (frames per segment)")
    for flag in ("--initial_image_strength", "--final_image_strength"):
        add_retired(p, flag, "anchors are not VACE reference images here, they sit in the guide video; "
                    "--fade_out_params / --fade_in_params set how strongly they show", off=("0",))


def _absolute(path: Optional[str]) -> Optional[str]:
    """Paths as absolute (the worker may run elsewhere in the tree); URLs unchanged."""
    if path is None or is_url(path):
        return path
    return str(Path(path).expanduser().resolve())


def _parse_loras(items: list[str]) -> dict[str, float]:
    loras = {}
    for item in items:
        path, sep, strength = item.rpartition("=")
        if not sep or not path:
            raise UserError(f"--loras takes PATH=STRENGTH, got {item!r}", field="--loras")
        try:
            loras[_absolute(path)] = float(strength) if ";" not in strength else strength  # "1;0": per phase
        except ValueError:
            raise UserError(f"--loras: strength of {path} must be a number (or 'a;b', one per phase), got "
                            f"{strength!r}", field="--loras") from None
        if not is_url(path) and not Path(path).expanduser().is_file():
            raise UserError(f"--loras: file not found: {path}", field="--loras")
    return loras


def details_from_args(args, run_id: str) -> dict:
    """orchestrator_details from the command line (the fields of `OrchestratorDetails`)."""
    images = [_absolute(p) for p in args.input_images]
    details = {
        "run_id": run_id,
        "input_image_paths_resolved": images,
        "base_prompts_expanded": args.base_prompts,
        "negative_prompts_expanded": args.negative_prompts,
        "segment_frames_expanded": args.segment_frames,
        "frame_overlap_expanded": args.frame_overlap,
        "parsed_resolution_wh": args.resolution,
        "model_name": args.model_name,
        "seed_base": args.seed,
        "fade_in_params_json_str": args.fade_in_params,
        "fade_out_params_json_str": args.fade_out_params,
        "continue_from_video_resolved_path": _absolute(args.continue_from_video),
        "apply_causvid": args.use_causvid_lora,
        "apply_lighti2x": args.use_lighti2x_lora,
        "apply_lightning": args.use_lightning_lora,
        "text_before_prompts": args.text_before_prompts,
        "text_after_prompts": args.text_after_prompts,
        "show_input_images": args.show_input_images,
        "additional_loras": _parse_loras(args.loras),
        "colour_match_videos": args.colour_match_videos,
        "after_first_post_generation_saturation": args.after_first_post_generation_saturation,
        "after_first_post_generation_brightness": args.after_first_post_generation_brightness,
        "subsequent_starting_strength_adjustment": args.subsequent_starting_strength_adjustment,
        "desaturate_subsequent_starting_frames": args.desaturate_subsequent_starting_frames,
        "adjust_brightness_subsequent_starting_frames": args.adjust_brightness_subsequent_starting_frames,
        "crossfade_sharp_amt": args.crossfade_sharp_amt,
        "upscale_factor": args.upscale_factor,
        "debug_mode_enabled": args.debug,
        "skip_cleanup_enabled": args.skip_cleanup,
        "independent_segments": args.independent_segments,
        "steps": args.steps,
        "guidance_scale": args.guidance_scale,
        "flow_shift": args.flow_shift,
        # the original tool's flags (add_original_flags)
        "fps_helpers": getattr(args, "fps_helpers", None),
        "cfg_star_switch": getattr(args, "cfg_star_switch", None),
        "cfg_zero_step": getattr(args, "cfg_zero_step", None),
        "params_json_str_override": getattr(args, "params_json_str", None),
    }
    return {k: v for k, v in details.items() if v is not None}


def build_submission(args: argparse.Namespace, settings: Settings) -> Submission:
    """The run's orchestrator row from the arguments, checked as the worker will check it, with its plan."""
    run_id = args.run_id or new_run_id()
    try:
        raw = details_from_args(args, run_id)
        output_dir = prepare_output_folder(args.output_dir, "--output_dir")
        if output_dir is not None:
            raw["output_dir"] = output_dir
        # The same model the worker validates the row with: the one check of the flags' values here.
        details = TravelOrchestratorParams.parse({"orchestrator_details": raw}, settings,
                                                 command_line=True).orchestrator_details
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
    return Submission(rows=[root], run_id=run_id, summary=summary, notes=snapping_notes(args, details, plan))


def snapping_notes(args: argparse.Namespace, details: OrchestratorDetails, plan) -> tuple[str, ...]:
    """What the run renders differently from what the flags asked: frames per segment (4k+1),
    overlaps (even, capped by the segments), resolution (multiples of 16)."""
    notes = [changed_note("--resolution", "{}x{}".format(*parse_resolution(args.resolution)),
                          "{}x{}".format(*details.parsed_resolution_wh), "sides floored to multiples of 16")]
    if plan is not None:
        notes.append(changed_note("--segment_frames", details.segment_frames_expanded, plan.segment_lengths,
                                  "Wan renders 4k+1 frames"))
        notes.append(changed_note("--frame_overlap", details.frame_overlap_expanded, plan.overlaps,
                                  "overlaps are even and at most one less than either segment they join"))
    return tuple(note for note in notes if note)
