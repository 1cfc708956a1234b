"""What a workflow's command-line client hands to steerable_motion.py: the rows of one run.

A workflow's `client.py` turns its subcommand's arguments into a `Submission` (checking them with the
same params models the worker uses, raising `UserError` naming the flag); the program then opens the
queue, enqueues the rows in one transaction, prints the run id and, with --wait, follows the run. So a
workflow never opens the queue itself, and `source/cli/` is the only package that does terminal I/O.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..queue.model import NewTask


@dataclass(frozen=True)
class Submission:
    rows: Sequence[NewTask]   # enqueued together; the first is the run's root (what --wait follows)
    run_id: str
    summary: str              # one line for the person who queued it: "travel run X: 2 segment(s), 30 frames"
