#!/usr/bin/env python3
"""High-level workflows (travel_between_images, ...), run status and cancel. `.venv/bin/python steerable_motion.py --help`."""
import sys

from source.cli.launch import run_command

if __name__ == "__main__":
    sys.exit(run_command("source.cli.steerable_motion_cli"))
