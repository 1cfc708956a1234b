"""`steerable_motion.py join_clips`: the run's details from the flags, validated by the params model the
worker uses, as one join_clips_orchestrator row (steerable_motion.py queues it; --wait follows it).

The flags are made from the fields of `JoinOrchestratorDetails` that carry `flag(...)` metadata
(`add_model_flags`): name, type, help and default come from the model, so they cannot disagree.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, get_args, get_origin

from ...config import Settings
from ...errors import UserError
from ...queue.model import NewTask
from ...storage.downloads import is_url
from ...tasks.ids import new_run_id
from ...tasks.params import Params
from ...tasks.submission import Submission
from . import ORCHESTRATOR
from .params import JoinOrchestratorDetails, JoinOrchestratorParams
from .plan import plan_chain


def _base_type(annotation: Any) -> Any:
    while get_origin(annotation) is not None and get_origin(annotation) is not list:
        args = [a for a in get_args(annotation) if a is not type(None)]
        annotation = args[0] if args else str
    return annotation


def add_model_flags(parser: argparse.ArgumentParser, model: type[Params], skip: tuple[str, ...] = ()) -> list[str]:
    """One flag per field of `model` with `flag(...)` metadata: booleans are switches, lists take one or
    more values, numbers are typed; the default shown is the model's, an unset flag leaves it to the
    model. Returns the field names added (their values are `args.<field>`)."""
    added = []
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        flag = extra.get("flag")
        if not flag or name in skip:
            continue
        annotation = _base_type(info.annotation)
        default = None if info.is_required() else info.get_default(call_default_factory=True)
        shown = "" if default in (None, "", [], {}) or isinstance(default, bool) else f" (default {default})"
        kwargs: dict[str, Any] = {"dest": name, "help": (info.description or "") + shown}
        if annotation is bool:
            kwargs.update(action="store_true", default=None)
        elif get_origin(annotation) is list:
            kwargs.update(nargs="+", required=info.is_required(), default=None)
        else:
            kwargs.update(type=int if annotation is int else float if annotation is float else str, default=None,
                          required=info.is_required())
        spellings = [flag] + ([flag.replace("_", "-")] if "_" in flag else [])
        parser.add_argument(*spellings, **kwargs)
        added.append(name)
    return added


def given(args: argparse.Namespace, names: list[str]) -> dict:
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def absolute(path: str) -> str:
    return path if is_url(path) else str(Path(path).expanduser().resolve())


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "join_clips", help="join clips with generated transitions (VACE), into one video",
        description="Queue a join of N clips: each neighbouring pair is bridged by a generated transition "
                    "(context frames of both clips, a generated gap, cross-faded back), chained so the last "
                    "join's output is the whole video (docs/JOINING.md).")
    names = add_model_flags(p, JoinOrchestratorDetails)
    p.add_argument("--project_id", help="owner of the rows")
    p.add_argument("--priority", type=int, default=0, help="higher runs first (default 0)")
    p.set_defaults(build=build_submission, model_flags=names)
    return p


def build_submission(args: argparse.Namespace, settings: Settings) -> Submission:
    run_id = args.run_id or new_run_id()
    raw = given(args, args.model_flags)
    raw["run_id"] = run_id
    raw["clip_list"] = [{"url": absolute(c)} for c in args.clip_list]
    if raw.get("audio_url"):
        raw["audio_url"] = absolute(raw["audio_url"])
    try:
        params = JoinOrchestratorParams.parse({"orchestrator_details": raw}, settings, command_line=True)
        details = params.orchestrator_details
        lengths = _local_lengths([c.url for c in details.clip_list], details.fps)
    except UserError as exc:
        raise JoinOrchestratorDetails.for_command_line(_unprefixed(exc)) from None
    root = NewTask(task_type=ORCHESTRATOR, params={"orchestrator_details": details.to_json()}, run_id=run_id,
                   project_id=args.project_id, priority=args.priority)
    clips = len(details.clip_list) + (1 if details.loop_first_clip else 0)
    summary = f"join run {run_id}: {clips} clip(s), {clips - 1} join(s)"
    if lengths is not None:
        if details.loop_first_clip:
            lengths.append(lengths[0])
        plans = plan_chain(lengths, gaps=[details.join_settings(i).gap_frame_count for i in range(clips - 1)],
                           replace=[details.join_settings(i).replace_mode for i in range(clips - 1)],
                           contexts=[details.join_settings(i).context_frame_count for i in range(clips - 1)])
        summary += f", {plans[-1].final_frames} frames"
    return Submission(rows=[root], run_id=run_id, summary=summary)


def _unprefixed(exc: UserError) -> UserError:
    """An error about orchestrator_details.X as one about X (whose flag the user typed)."""
    prefix = "orchestrator_details."
    field = exc.field or ""
    message = str(exc)
    if field.startswith(prefix):
        field = field[len(prefix):]
        message = message.replace(prefix, "", 1)
    return type(exc)(message, field=field or None)


def _local_lengths(clips: list[str], fps: float):
    """Each local clip's frame count at the join's rate (None when a clip is a URL); a missing or
    unreadable file is refused here."""
    from ...media.retime import frame_times, resample_indices

    lengths = []
    for i, clip in enumerate(clips):
        if is_url(clip):
            return None
        if not Path(clip).is_file():
            raise UserError(f"clip_list[{i}]: file not found: {clip}", field="clip_list")
        times, rate = frame_times(clip)
        lengths.append(len(resample_indices(times, fps, rate)) if abs(rate - fps) > 0.01 else len(times))
    return lengths
