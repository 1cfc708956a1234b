#!/usr/bin/env python3
"""Worker: claims rows from the tasks table and renders them. `python headless.py --help`."""
import sys

from source.cli.worker_cli import main

if __name__ == "__main__":
    sys.exit(main())
