"""`steerable_motion.py edit_video`: regenerate portions of a video, as one edit_video_orchestrator row.

Flags are generated from `EditDetails` (source/tasks/command_line.py); `--portion START:END` (end
inclusive) is repeated, one per portion. A local video is opened here, so portions outside it,
overlapping or without enough context are refused before anything is queued.
"""
from __future__ import annotations

import argparse

from ...config import Settings
from ...errors import UserError
from ...media.video_io import count_frames, video_info
from ...queue.model import NewTask
from ...storage.downloads import is_url
from ...tasks.command_line import add_params_arguments, params_from_args
from ...tasks.ids import new_run_id
from ...tasks.submission import Submission
from ..join.client import unprefixed
from . import ORCHESTRATOR
from .params import EditDetails, EditParams

PORTIONS = "portions_to_regenerate"


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "edit_video", help="regenerate frame ranges of a video (VACE) and splice them back",
        description="Queue an edit of a video: each --portion START:END (end inclusive) is regenerated with "
                    "context_frame_count source frames on each side and spliced back with a cross-fade over "
                    "that context; the edited video keeps the source's frame count (docs/JOINING.md).")
    add_params_arguments(p, EditDetails)
    p.add_argument("--portion", dest=PORTIONS, action="append", required=True, metavar="START:END",
                   help="a range to regenerate, end inclusive; repeat the flag for more (" +
                        (EditDetails.model_fields[PORTIONS].description or "") + ")")
    p.add_argument("--project_id", help="owner of the rows")
    p.add_argument("--priority", type=int, default=0, help="higher runs first (default 0)")
    p.set_defaults(build=build_submission)
    return p


def build_submission(args: argparse.Namespace, settings: Settings) -> Submission:
    try:
        raw = params_from_args(args, EditDetails)
        run_id = raw.get("run_id") or new_run_id()
        raw.update(run_id=run_id, **{PORTIONS: args.portions_to_regenerate})
        details = EditParams.parse({"orchestrator_details": raw}, settings).orchestrator_details
        summary = f"edit run {run_id}: {len(details.portions_to_regenerate)} portion(s)"
        video = details.source_video_url
        if not is_url(video):
            total = count_frames(video)
            plans = details.plans(total, video_info(video)["fps"])
            summary += f" of a {total}-frame video; windows " + ", ".join(
                f"{p.window.start}..{p.window.stop - 1}" for p in plans)
    except UserError as exc:
        exc = unprefixed(exc)
        if (exc.field or "").startswith(PORTIONS):
            raise UserError(str(exc).replace(PORTIONS, "--portion"), field="--portion") from None
        raise EditDetails.for_command_line(exc) from None
    root = NewTask(task_type=ORCHESTRATOR, params={"orchestrator_details": details.to_json()}, run_id=run_id,
                   project_id=args.project_id, priority=args.priority)
    return Submission(rows=[root], run_id=run_id, summary=summary)
