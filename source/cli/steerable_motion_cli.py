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
import textwrap
from dataclasses import replace
from typing import Optional

from ..errors import UserError
from ..queue.model import InvalidTask
from ..storage.outputs import readable_location
from ..tasks.original_flags import add_alias, add_retired
from ..workflows.registry import client_registrars
from .common import (
    CliError,
    OneLineArgumentParser,
    add_queue_arguments,
    die,
    named_by_flag,
    open_queue_or_exit,
    settings_from_args,
)
from .fleet_cli import register_dashboard, register_workers
from .runs import (
    register_cancel,
    register_retry,
    register_runs,
    register_status,
    register_wait,
    wait_for_run,
    worker_hint_for,
)

# The row's columns given by the subcommands' flags, for messages about them.
COLUMN_FLAGS = {"priority": "--priority", "run_id": "--run_id", "project_id": "--project_id"}


def add_wait_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("following the run")
    group.add_argument("--wait", action="store_true",
                       help="show a progress bar until the run ends, then print the final artefact's path "
                            "(exit 0) or the failure (exit 1)")
    group.add_argument("--wait_timeout", type=float, metavar="SECONDS",
                       help="with --wait: give up waiting after this many seconds (the run goes on)")
    group.add_argument("--wait_interval", type=float, metavar="SECONDS",
                       help="with --wait: seconds between looks at the run (default 0.5)")


def add_original_flags(parser: argparse.ArgumentParser) -> None:
    """Legacy flags common to the subcommands (docs/MIGRATING.md)."""
    add_alias(parser, "--db_path", "db_file")
    add_alias(parser, "--poll_timeout", "wait_timeout", type=float)
    add_alias(parser, "--poll_interval", "wait_interval", type=float)
    add_retired(parser, "--execution_engine", "rows render with the worker's engine (headless.py --engine "
                "diffusers | wan2gp | tiny); ComfyUI is not supported", off=("wgp",))
    add_retired(parser, "--booster_loras", "give the LoRAs you want with --loras PATH=STRENGTH (or "
                "additional_loras in params)", takes_value=False)
    add_retired(parser, "--upscale_model_name", "upscaling is Lanczos, by --upscale_factor; no model is used")
    add_retired(parser, "--last_frame_duplication", "the stitch keeps every frame; nothing is duplicated")


def submit_command(args: argparse.Namespace) -> int:
    """Queue the rows a workflow's client built from the arguments; optionally wait for the run."""
    try:
        settings = settings_from_args(args)
        submission = args.build(args, settings)
    except (CliError, UserError, InvalidTask) as exc:
        die(named_by_flag(exc, COLUMN_FLAGS))
    for hint in submission.ignored:  # as the client's one validation found them
        print(f"warning: {submission.rows[0].task_type} does not use params key {hint}", file=sys.stderr)
    if not args.wait and (args.wait_timeout is not None or args.wait_interval is not None):
        print("warning: --wait_timeout / --wait_interval (--poll_timeout / --poll_interval) apply with --wait; "
              "the run was queued without following it", file=sys.stderr)
    queue = open_queue_or_exit(settings)
    try:
        try:
            ids = queue.enqueue([row if row.project_id else replace(row, project_id=settings.default_project_id)
                                 for row in submission.rows])
        except InvalidTask as exc:
            die(named_by_flag(exc, COLUMN_FLAGS))
        print(f"queued {submission.summary}; root row {ids[0]}", file=sys.stderr)
        for note in submission.notes:
            print(f"note: {note}", file=sys.stderr)
        print(submission.run_id, flush=True)
        if not args.wait:
            return 0
        return wait_for_run(queue, ids[0], lambda location: readable_location(settings, location),
                            timeout=args.wait_timeout, worker_hint=worker_hint_for(args),
                            poll_seconds=max(0.05, args.wait_interval or 0.5))
    finally:
        queue.close()


SHARED_GROUPS = ("following the run", "queue (flag > environment > .env > default)")
MAIN_FLAGS_SHOWN = 8


def main_flags(parser: argparse.ArgumentParser) -> list[str]:
    """A subcommand's own arguments as its usage names them (the queue and --wait flags every command
    shares, and hidden ones, left out)."""
    shared = {id(action) for group in parser._action_groups if group.title in SHARED_GROUPS
              for action in group._group_actions}
    shown = []
    for action in parser._actions:
        if id(action) in shared or action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
            continue
        if not action.option_strings:
            metavar = action.metavar
            shown.append(metavar if isinstance(metavar, str) else action.dest.upper())
        elif action.required:
            shown.insert(len([s for s in shown if not s.startswith("-")]), action.option_strings[-1])
        else:
            shown.append(action.option_strings[-1])
    return shown


def commands_epilog(subparsers) -> str:
    """The top-level help's list of each command's main flags."""
    lines = ["main flags of each command (COMMAND --help for all of them and what they do):"]
    seen = set()
    for name, sub in subparsers.choices.items():
        if id(sub) in seen:
            continue
        seen.add(id(sub))
        flags = main_flags(sub)
        more = " ..." if len(flags) > MAIN_FLAGS_SHOWN else ""
        text = f"{name} {' '.join(flags[:MAIN_FLAGS_SHOWN])}{more}"
        lines += textwrap.wrap(text, 100, initial_indent="  ", subsequent_indent="      ")
    lines += ["", "every command also takes the queue flags --db-type, --db-file, --database-url, "
                  "--main-output-dir;", "a workflow's command takes --wait to follow its run."]
    return "\n".join(lines)


def build_parser() -> OneLineArgumentParser:
    parser = OneLineArgumentParser(
        prog="steerable_motion.py", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Queue high-level video workflows as rows for headless.py workers, and follow them.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineArgumentParser)
    subparsers.required = True
    for register in client_registrars():
        workflow_parser = register(subparsers)
        add_wait_arguments(workflow_parser)
        add_queue_arguments(workflow_parser)
        add_original_flags(workflow_parser)
        workflow_parser.set_defaults(func=submit_command)
    for register in (register_runs, register_status, register_wait, register_cancel, register_retry, register_workers,
                     register_dashboard):
        register(subparsers)
    parser.epilog = commands_epilog(subparsers)
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CliError as exc:
        die(str(exc))
