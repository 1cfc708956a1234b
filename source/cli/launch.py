"""How every top-level script runs its command: `sys.exit(run_command("source.cli.x_cli"))`.

It imports only the standard library and source/errors.py, so an interpreter without the project's
packages gets one line (which module, which interpreter, what to install) and exit 3, not a traceback.
"""
from __future__ import annotations

import importlib
import os
import sys

from ..errors import EXIT_BROKEN, explain_environment_error

EXIT_INTERRUPTED = 130   # 128 + SIGINT, as shells report a command stopped by Ctrl-C
EXIT_CLOSED_PIPE = 141   # 128 + SIGPIPE, as shells report a command whose reader went away


def run_command(module: str, missing_module_prefix: str = "") -> int:
    """Import a command's module and run its `main` the way every command behaves at the terminal:
    a module missing from this interpreter is one line and exit 3 (`missing_module_prefix` before it);
    Ctrl-C ends it with one line and exit 130 (no traceback, also while it imports); a reader that went
    away (`status RUN | head -3`) ends it quietly."""
    try:
        return importlib.import_module(module).main()
    except ModuleNotFoundError as exc:
        print(f"error: {missing_module_prefix}{explain_environment_error(exc)}", file=sys.stderr)
        return EXIT_BROKEN
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Python would report the failed flush of stdout at exit; point it at nothing instead.
        devnull = os.open(os.devnull, os.O_WRONLY)
        for stream in (sys.stdout, sys.stderr):
            try:
                os.dup2(devnull, stream.fileno())
            except (OSError, ValueError):
                pass
        return EXIT_CLOSED_PIPE
