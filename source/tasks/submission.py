"""What a workflow's command-line client hands to steerable_motion.py: the rows of one run.

A workflow's `client.py` turns its subcommand's arguments into a `Submission` (checking them with the
same params models the worker uses, raising `UserError` naming the flag); the program then opens the
queue, enqueues the rows in one transaction, prints the run id and, with --wait, follows the run. So a
workflow's client never opens the queue itself and never prints: the terminal is `source/cli/`'s.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

from ..queue.model import NewTask


@dataclass(frozen=True)
class Submission:
    rows: Sequence[NewTask]   # enqueued together; the first is the run's root (what --wait follows)
    run_id: str
    summary: str              # one line for the person who queued it: "travel run X: 2 segment(s), 30 frames"
    notes: Sequence[str] = ()  # what was changed from what was asked ("--resolution 130x100 renders at 128x96 ...")
    ignored: Sequence[str] = ()  # params keys of the root row its task type does not use, with hints


def changed_note(flag: str, given: Any, used: Any, why: str) -> Optional[str]:
    """A note when a value was snapped on the way to the rows (None when it was kept as given)."""
    if given == used:
        return None
    return f"{flag} {_shown(given)} is used as {_shown(used)} ({why})"


def _shown(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        if len(set(value)) == 1:
            return _shown(value[0])
        return " ".join(_shown(v) for v in value)
    return str(value)
