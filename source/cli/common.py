"""Options shared by every command line, and turning them into Settings (flag > env > .env > default)."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import NoReturn

from ..config import DB_TYPES, Settings, resolve_settings, scrub_secrets
from ..queue.base import TaskQueue
from ..queue.factory import open_migrated_queue
from ..queue.model import InvalidTask
from ..tasks.command_line import BothSpellingsParser

EXIT_BAD_ARGS = 2


class CliError(Exception):
    """A one-line reason for exit code 2."""


def add_queue_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("queue (flag > environment > .env > default)")
    group.add_argument("--db-type", dest="db_type", choices=DB_TYPES,
                       help="queue backend (env DB_TYPE; default sqlite)")
    group.add_argument("--db-file", dest="db_file",
                       help="SQLite database file (env SQLITE_DB_PATH; default tasks.db)")
    group.add_argument("--database-url", dest="database_url",
                       help="PostgreSQL connection string (env DATABASE_URL)")
    group.add_argument("--main-output-dir", dest="main_output_dir",
                       help="folder for final artefacts (env MAIN_OUTPUT_DIR; default ./outputs)")


QUEUE_FLAG_NAMES = ("db_type", "db_file", "database_url", "main_output_dir")


def settings_from_args(args: argparse.Namespace, names: tuple[str, ...] = QUEUE_FLAG_NAMES) -> Settings:
    flags = {name: getattr(args, name, None) for name in names}
    try:
        return resolve_settings(flags)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def open_queue_or_exit(settings: Settings) -> TaskQueue:
    """The configured queue, migrated; a queue that cannot be opened (bad DSN, unreachable server,
    unwritable file, schema not installed) is one line (secrets scrubbed) and exit 2."""
    try:
        return open_migrated_queue(settings)
    except Exception as exc:
        die(scrub_secrets(f"cannot open the {settings.db_type} queue: {exc}", settings))


def named_by_flag(exc: Exception, flags: dict[str, str]) -> str:
    """An error about a row's column (`InvalidTask.field`: priority, id, ...) as a command-line user
    reads it: the column's name at its start becomes the flag it was given with. Errors about params
    (which may have keys of the same names) stay as they are."""
    message, field = str(exc), getattr(exc, "field", None)
    if isinstance(exc, InvalidTask) and field in flags and message.startswith(field):
        return flags[field] + message[len(field):]
    return message


def die(message: str, code: int = EXIT_BAD_ARGS) -> NoReturn:
    first_line = str(message).strip().splitlines()[0] if str(message).strip() else "error"
    print(f"error: {first_line}", file=sys.stderr)
    sys.exit(code)


class OneLineArgumentParser(BothSpellingsParser):
    """argparse that reports bad arguments as one line (plus the usage hint) and exits 2; every long flag
    in both spellings (`--db-type` / `--db_type`)."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(EXIT_BAD_ARGS)



def worker_command() -> str:
    """How to start a worker from here, as the README writes it (`.venv/bin/python headless.py`)."""
    script = Path(__file__).resolve().parents[2] / "headless.py"
    here = Path.cwd()
    python = Path(sys.executable)
    return f"{_relative(python, here)} {_relative(script, here)}"


def _relative(path: Path, here: Path) -> str:
    try:
        return os.path.relpath(path, here) if path.is_absolute() and path.is_relative_to(here) else str(path)
    except ValueError:
        return str(path)
