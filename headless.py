#!/usr/bin/env python3
"""Worker: claims rows from the tasks table and renders them. `python headless.py --help`."""
import sys

if __name__ == "__main__":
    try:
        from source.cli.worker_cli import main

        sys.exit(main())
    except ModuleNotFoundError as exc:  # an interpreter without the project's packages: say which, claim nothing
        from source.selfcheck import explain_environment_error

        print(f"error: self-check failed, nothing claimed: {explain_environment_error(exc)}", file=sys.stderr)
        sys.exit(3)
