"""`steerable_motion.py edit_video`: regenerate portions of a video, as one edit_video_orchestrator row.

Flags come from `EditDetails` (`add_model_flags`); `--portion START:END` (end inclusive) is repeated,
one per portion. A local video is opened here, so portions outside it, overlapping or without enough
context are refused before anything is queued.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ...config import Settings
from ...errors import UserError
from ...media.video_io import count_frames, video_info
from ...queue.model import NewTask
from ...storage.downloads import is_url
from ...tasks.ids import new_run_id
from ...tasks.submission import Submission
from ..join.client import _unprefixed, absolute, add_model_flags, given
from . import ORCHESTRATOR
from .params import EditDetails, EditParams


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "edit_video", help="regenerate frame ranges of a video (VACE) and splice them back",
        description="Queue an edit of a video: each --portion START:END (end inclusive) is regenerated with "
                    "context_frame_count source frames on each side and spliced back with a cross-fade over "
                    "that context; the edited video keeps the source's frame count (docs/JOINING.md).")
    names = add_model_flags(p, EditDetails, skip=("portions_to_regenerate",))
    info = EditDetails.model_fields["portions_to_regenerate"]
    p.add_argument("--portion", dest="portions_to_regenerate", action="append", required=True,
                   metavar="START:END", help=info.description)
    p.add_argument("--project_id", help="owner of the rows")
    p.add_argument("--priority", type=int, default=0, help="higher runs first (default 0)")
    p.set_defaults(build=build_submission, model_flags=names + ["portions_to_regenerate"])
    return p


def build_submission(args: argparse.Namespace, settings: Settings) -> Submission:
    run_id = args.run_id or new_run_id()
    raw = given(args, args.model_flags)
    raw["run_id"] = run_id
    raw["source_video_url"] = absolute(args.source_video_url)
    try:
        details = EditParams.parse({"orchestrator_details": raw}, settings, command_line=True).orchestrator_details
        summary = f"edit run {run_id}: {len(details.portions_to_regenerate)} portion(s)"
        video = details.source_video_url
        if not is_url(video):
            if not Path(video).is_file():
                raise UserError(f"source_video_url: file not found: {video}", field="source_video_url")
            total = count_frames(video)
            plans = details.plans(total, video_info(video)["fps"])
            summary += f" of a {total}-frame video; windows " + ", ".join(
                f"{p.window.start}..{p.window.stop - 1}" for p in plans)
    except UserError as exc:
        raise EditDetails.for_command_line(_unprefixed(exc)) from None
    root = NewTask(task_type=ORCHESTRATOR, params={"orchestrator_details": details.to_json()}, run_id=run_id,
                   project_id=args.project_id, priority=args.priority)
    return Submission(rows=[root], run_id=run_id, summary=summary)
