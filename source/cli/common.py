"""Options shared by every command line, and turning them into Settings (flag > env > .env > default)."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import NoReturn, Optional

from ..config import DB_TYPES, Settings, resolve_settings, scrub_secrets
from ..config import options as config_options
from ..errors import UserError
from ..queue.base import TaskQueue
from ..queue.factory import open_migrated_queue
from ..queue.model import InvalidTask
from ..tasks.command_line import BothSpellingsParser

EXIT_BAD_ARGS = 2


class CliError(UserError):
    """A one-line reason for exit code 2."""


def add_setting_argument(parser, flag: str, name: str, help: Optional[str] = None, **options) -> argparse.Action:
    """A flag for the setting `name` (source/config.py): its help (the setting's, or `help`) ends with the
    environment variable and the default, both read from the Settings field; the value given lands at
    `name`, and None (not given) leaves the setting to the environment, .env or that default."""
    option = config_options()[name]
    facts = f"env {option.env}"
    if option.default is not None and option.default is not False:
        facts += f"; default {_shown(option.default)}"
    if "action" not in options and "type" not in options and option.kind in (int, float):
        options["type"] = option.kind
    text = f"{help or option.help} ({facts})".replace("%", "%%")
    return parser.add_argument(flag, dest=name, help=text, **options)


def _shown(value) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def add_queue_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("queue (flag > environment > .env > default)")
    add_setting_argument(group, "--db-type", "db_type", choices=DB_TYPES)
    add_setting_argument(group, "--db-file", "db_file")
    add_setting_argument(group, "--database-url", "database_url", help="PostgreSQL connection string")
    add_setting_argument(group, "--main-output-dir", "main_output_dir")


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



def script_command(script: str) -> str:
    """How to run one of the project's scripts from here with the interpreter running now, as a person
    types it (`.venv/bin/python steerable_motion.py`): paths relative to the current folder when inside it."""
    path = Path(__file__).resolve().parents[2] / script
    here = Path.cwd()
    return f"{_relative(Path(sys.executable), here)} {_relative(path, here)}"


def worker_command() -> str:
    """How to start a worker from here (`.venv/bin/python headless.py`); on a machine without an NVIDIA
    GPU with `--engine preview`, since the default there renders noise (source/engines/choice.py)."""
    command = script_command("headless.py")
    return command if has_nvidia_gpu() else f"{command} --engine preview"


def has_nvidia_gpu() -> bool:
    """Whether this machine shows an NVIDIA driver, without importing torch (seconds) in a client."""
    return Path("/dev/nvidiactl").exists() or Path("/proc/driver/nvidia/version").exists()


def _relative(path: Path, here: Path) -> str:
    try:
        return os.path.relpath(path, here) if path.is_absolute() and path.is_relative_to(here) else str(path)
    except ValueError:
        return str(path)
