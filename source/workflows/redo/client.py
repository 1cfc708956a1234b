"""`steerable_motion.py redo_segment RUN_ID --segment I [--seed N] [--prompt ...]`: one travel_redo row.
The worker reads the finished run's rows, renders the leg again and stitches a new final video under a
new run id (`<RUN_ID>_v<time>`); the run's earlier videos stay."""
from __future__ import annotations

import argparse
import time

from ...config import Settings
from ...errors import UserError
from ...queue.model import NewTask
from ...tasks.submission import Submission
from . import REDO
from .params import RedoParams


def register(subparsers) -> argparse.ArgumentParser:
    fields = RedoParams.model_fields
    p = subparsers.add_parser(
        "redo_segment", help="render one leg of a finished travel again and stitch a new final video",
        description="Render leg I of the finished travel run RUN_ID again with the run's own plan and "
                    "settings (a new seed or prompt if given), then stitch the run's legs again into a new "
                    "final video: a new version of the run, under a new run id printed here; the earlier "
                    "final video stays.")
    p.add_argument("source_run_id", metavar="RUN_ID", help=fields["source_run_id"].description)
    p.add_argument("--segment", dest="segment_index", type=int, required=True, metavar="I",
                   help=fields["segment_index"].description)
    p.add_argument("--seed", type=int, help=fields["seed"].description)
    p.add_argument("--prompt", help=fields["prompt"].description)
    p.add_argument("--project_id", help="owner of the rows")
    p.add_argument("--priority", type=int, default=0, help="higher runs first (default 0)")
    p.set_defaults(build=build_submission)
    return p


def build_submission(args: argparse.Namespace, settings: Settings) -> Submission:
    run_id = f"{args.source_run_id}_v{time.strftime('%Y%m%d%H%M%S', time.gmtime())}"
    raw = {"source_run_id": args.source_run_id, "run_id": run_id, "segment_index": args.segment_index,
           "seed": args.seed, "prompt": args.prompt}
    try:
        params = RedoParams.parse({k: v for k, v in raw.items() if v is not None}, settings)
    except UserError as exc:
        raise RedoParams.for_command_line(exc) from None
    root = NewTask(task_type=REDO, params=params.to_json(), run_id=run_id, project_id=args.project_id,
                   priority=args.priority)
    return Submission(rows=[root], run_id=run_id,
                      summary=f"redo of segment {args.segment_index} of run {args.source_run_id} as {run_id}")
