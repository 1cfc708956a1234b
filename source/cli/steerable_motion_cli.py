"""`python steerable_motion.py`: high-level workflows as subcommands.

Each workflow that has a subcommand names its `register(subparsers)` in its declaration
(`source/workflows/<name>/__init__.py`: `client=`). A register function adds the subcommand's own flags
and sets `build` (args, settings -> Submission: the run's rows, checked). This program adds the queue
flags and --wait to each, queues the rows in one transaction, prints the run id (stdout) and, with
--wait, follows the run. `status` and `cancel` work on any run; `workers` and `dashboard` show the fleet
(source/cli/fleet_cli.py).
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional

from ..errors import UserError
from ..storage.outputs import absolute_location
from ..workflows.registry import client_registrars
from .common import (CliError, OneLineArgumentParser, add_queue_arguments, die, open_queue_or_exit,
                     settings_from_args)
from .fleet_cli import register_dashboard, register_workers
from .runs import register_cancel, register_status, register_wait, wait_for_run, worker_hint_for


def add_wait_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("following the run")
    group.add_argument("--wait", action="store_true",
                       help="show a progress bar until the run ends, then print the final artefact's path "
                            "(exit 0) or the failure (exit 1)")
    group.add_argument("--wait_timeout", type=float, metavar="SECONDS",
                       help="with --wait: give up waiting after this many seconds (the run goes on)")


def submit_command(args: argparse.Namespace) -> int:
    """Queue the rows a workflow's client built from the arguments; optionally wait for the run."""
    try:
        settings = settings_from_args(args)
        submission = args.build(args, settings)
    except (CliError, UserError) as exc:
        die(str(exc))
    queue = open_queue_or_exit(settings)
    try:
        ids = queue.enqueue(list(submission.rows))
        print(f"queued {submission.summary}; root row {ids[0]}", file=sys.stderr)
        for note in submission.notes:
            print(f"note: {note}", file=sys.stderr)
        print(submission.run_id, flush=True)
        if not args.wait:
            return 0
        return wait_for_run(queue, ids[0], lambda location: absolute_location(location, settings.db_dir),
                            timeout=args.wait_timeout, worker_hint=worker_hint_for(args))
    finally:
        queue.close()


def build_parser() -> OneLineArgumentParser:
    parser = OneLineArgumentParser(
        prog="steerable_motion.py",
        description="Queue high-level video workflows as rows for headless.py workers, and follow them.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineArgumentParser)
    subparsers.required = True
    for register in client_registrars():
        workflow_parser = register(subparsers)
        add_wait_arguments(workflow_parser)
        add_queue_arguments(workflow_parser)
        workflow_parser.set_defaults(func=submit_command)
    for register in (register_status, register_wait, register_cancel, register_workers, register_dashboard):
        register(subparsers)
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CliError as exc:
        die(str(exc))
