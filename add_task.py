#!/usr/bin/env python3
"""Queue one task row, or show / cancel one. `python add_task.py --help`."""
import sys

from source.cli.add_task_cli import main

if __name__ == "__main__":
    sys.exit(main())
