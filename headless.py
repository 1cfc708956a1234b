#!/usr/bin/env python3
"""Worker: claims rows from the tasks table and renders them. `.venv/bin/python headless.py --help`."""
import sys

from source.cli.launch import run_command

if __name__ == "__main__":
    # an interpreter without the project's packages: one line saying which, and nothing claimed
    sys.exit(run_command("source.cli.worker_cli", missing_module_prefix="self-check failed, nothing claimed: "))
