"""`python steerable_motion.py`: high-level workflows as subcommands.

Each workflow that has a subcommand names its `register(subparsers)` in its declaration
(`source/workflows/<name>/__init__.py`: `client=`); `status` and `cancel` work on any run. A register
function adds one subcommand and sets `func` (args -> exit code).
"""
from __future__ import annotations

import importlib
from typing import Optional

from ..workflows.registry import client_registrars
from .common import CliError, OneLineArgumentParser, die
from .runs import register_cancel, register_status

# TEMPORARY: clients not yet moved into their workflow packages.
_LEGACY_CLIENTS = ["source.perspective_client:register"]


def build_parser() -> OneLineArgumentParser:
    parser = OneLineArgumentParser(
        prog="steerable_motion.py",
        description="Queue high-level video workflows as rows for headless.py workers, and follow them.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineArgumentParser)
    subparsers.required = True
    registrars = list(client_registrars())
    for target in _LEGACY_CLIENTS:
        module_name, func_name = target.split(":")
        registrars.append(getattr(importlib.import_module(module_name), func_name))
    for register in registrars + [register_status, register_cancel]:
        register(subparsers)
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CliError as exc:
        die(str(exc))
