"""The original tool's command-line flags, kept working or refused with what replaced them.

A script written for the original tool keeps running: a flag whose meaning exists here is a hidden
alias of today's flag (`add_alias`); a flag whose meaning is gone stops the command with one line naming
its replacement, exit 2 (`add_retired`), never "unrecognized arguments". A retired flag given its "off"
value (what the original tool did without it) is accepted: it asks for nothing. The aliases are hidden
from --help; docs/MIGRATING.md lists every flag of the original tool and what it is now.

Used by the three programs (source/cli/) and the workflows' clients, which must not import source/cli.
"""
from __future__ import annotations

import argparse
import sys
from typing import Iterable, NoReturn


def refuse(parser: argparse.ArgumentParser, message: str) -> NoReturn:
    """One line on stderr, exit 2 (as every bad argument here)."""
    print(f"error: {message} (see {parser.prog} --help, docs/MIGRATING.md)", file=sys.stderr)
    sys.exit(2)


def add_alias(parser: argparse.ArgumentParser, flag: str, dest: str, **options) -> None:
    """`flag` (the original tool's spelling) sets `dest`, as today's flag does; not shown in --help."""
    parser.add_argument(flag, dest=dest, help=argparse.SUPPRESS, **options)


class _Retired(argparse.Action):
    def __init__(self, option_strings, dest, reason: str = "", off: Iterable[str] = (), **kwargs):
        self.reason = reason
        self.off = {str(value) for value in off}
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        value = values if isinstance(values, str) or values is None else " ".join(map(str, values))
        if value is not None and (value in self.off or _same_number(value, self.off)):
            return
        refuse(parser, f"{option_string} is gone: {self.reason}")


def _same_number(value: str, off: set[str]) -> bool:
    try:
        number = float(value)
    except ValueError:
        return False
    return any(_number(o) == number for o in off)


def _number(text: str):
    try:
        return float(text)
    except ValueError:
        return None


def add_retired(parser: argparse.ArgumentParser, flag: str, reason: str, *, takes_value: bool = True,
                off: Iterable[str] = ()) -> None:
    """`flag` stops the command: '<flag> is gone: <reason>', exit 2, unless given one of the `off` values
    (numbers compare as numbers: 0 and 0.0 alike). `takes_value`: the original flag took a value (it may
    still be left out)."""
    parser.add_argument(flag, action=_Retired, reason=reason, off=off, nargs="?" if takes_value else 0,
                        dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
