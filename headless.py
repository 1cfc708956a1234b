#!/usr/bin/env python3
"""Worker: claims rows from the tasks table and renders them. `.venv/bin/python headless.py --help`."""
import sys

if __name__ == "__main__":
    try:
        from source.cli.common import run_command

        sys.exit(run_command("source.cli.worker_cli"))
    except ModuleNotFoundError as exc:  # an interpreter without the project's packages: say which, claim nothing
        from source.selfcheck import explain_environment_error

        print(f"error: self-check failed, nothing claimed: {explain_environment_error(exc)}", file=sys.stderr)
        sys.exit(3)
