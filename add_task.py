#!/usr/bin/env python3
"""Queue one task row, or show / cancel one. `.venv/bin/python add_task.py --help`."""
import sys

from source.cli.launch import run_command

if __name__ == "__main__":
    sys.exit(run_command("source.cli.add_task_cli"))
