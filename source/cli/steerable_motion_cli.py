"""`python steerable_motion.py`: high-level workflows as subcommands.

The subcommand table is below: each entry names a `register(subparsers)` function that adds one
subcommand and sets `func` (args -> exit code). A workflow adds its line here and keeps its code in
its own module.
"""
from __future__ import annotations

import importlib
from typing import Optional

from .common import CliError, OneLineArgumentParser, die

SUBCOMMANDS: list[str] = [
    "source.travel.client:register_travel",          # travel_between_images
    "source.perspective_client:register",            # different_perspective (alias different_pose)
    "source.cli.runs:register_status",               # status RUN_ID
    "source.cli.runs:register_cancel",               # cancel RUN_ID
]


def build_parser() -> OneLineArgumentParser:
    parser = OneLineArgumentParser(
        prog="steerable_motion.py",
        description="Queue high-level video workflows as rows for headless.py workers, and follow them.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineArgumentParser)
    subparsers.required = True
    for target in SUBCOMMANDS:
        module_name, func_name = target.split(":")
        getattr(importlib.import_module(module_name), func_name)(subparsers)
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CliError as exc:
        die(str(exc))
