#!/usr/bin/env python3
"""High-level workflows (travel_between_images, ...), run status and cancel. `python steerable_motion.py --help`."""
import sys

from source.cli.steerable_motion_cli import main

if __name__ == "__main__":
    sys.exit(main())
