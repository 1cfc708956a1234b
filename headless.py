#!/usr/bin/env python3
"""Worker: claims rows from the tasks table and renders them. `.venv/bin/python headless.py --help`."""
import sys

from source.cli.common import run_command

if __name__ == "__main__":
    sys.exit(run_command("source.cli.worker_cli"))
