"""Ids of workflow runs and of the rows an orchestrator fans out."""
from __future__ import annotations

import time
import uuid

# Fixed namespace: the same orchestrator, run, role and index always give the same child id, so a
# re-run orchestrator (after a crash) inserts nothing twice.
_CHILD_NAMESPACE = uuid.UUID("6f1d8c52-7d0b-4c8e-9a53-2f1e0b7c4a11")


def new_run_id() -> str:
    """Sortable by creation time, unique, and safe in file names: 20261126_101500_1a2b3c4d."""
    return time.strftime("%Y%m%d_%H%M%S", time.gmtime()) + "_" + uuid.uuid4().hex[:8]


def child_task_id(orchestrator_id: str, run_id: str, role: str, index: int = 0) -> str:
    """The deterministic id of an orchestrator's child row."""
    return str(uuid.uuid5(_CHILD_NAMESPACE, f"{orchestrator_id}/{run_id}/{role}/{index}"))
