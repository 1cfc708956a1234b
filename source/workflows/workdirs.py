"""Run work folders (`<work>/runs/<run_id>`) go once their run has ended, however it ended.

A workflow's intermediates (guides, masks, raw renders, downloaded inputs) live in its run's folder
(`TaskContext.run_dir`). The worker removes that folder when every row of the run has ended, Complete,
Failed or Cancelled alike: after each task it runs (`remove_if_ended`), and now and then for folders
whose run ended while no task of it ran here, such as a run cancelled between two steps
(`sweep_ended_runs`). Kept with --debug or when the run asks (`TaskParams.keeps_work_folder`: travel's
debug_mode_enabled / skip_cleanup_enabled, perspective's skip_cleanup). Final artefacts live elsewhere
and are never touched.
"""
from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Optional

from ..config import Settings
from ..queue.base import QueueReader
from ..queue.model import Status
from ..storage.outputs import safe_name

log = logging.getLogger(__name__)


def runs_folder(settings: Settings) -> Path:
    return settings.work_path / "runs"


def remove_if_ended(queue: QueueReader, settings: Settings, run_id: Optional[str], keep: bool = False) -> bool:
    """Remove the run's folder if it exists, is not kept, and every row of the run has ended."""
    if not run_id or keep or settings.debug:
        return False
    folder = runs_folder(settings)
    path = folder / safe_name(run_id)
    if not path.is_dir() or path.resolve().parent != folder.resolve():
        return False
    rows = queue.list_run(run_id)
    if not rows or any(row.status not in Status.TERMINAL for row in rows) or _run_keeps_folder(rows, settings):
        return False
    shutil.rmtree(path, ignore_errors=True)
    log.debug("removed the work folder of run %s (%s)", run_id, rows[0].status)
    return True


def sweep_ended_runs(queue: QueueReader, settings: Settings) -> int:
    """Remove the folders of runs that have ended; returns how many went. A folder whose run this
    queue does not know (another queue's, or a name changed by safe_name) is left alone."""
    folder = runs_folder(settings)
    if settings.debug or not folder.is_dir():
        return 0
    return sum(remove_if_ended(queue, settings, path.name) for path in sorted(folder.iterdir()) if path.is_dir())


def _run_keeps_folder(rows, settings: Settings) -> bool:
    """Whether any row of the run asks to keep its folder (rows that do not validate keep it too)."""
    from .registry import parse_params

    for row in rows:
        if row.parent_task_id:
            continue  # the run's own settings are on its root row(s)
        try:
            if parse_params(row.task_type, row.params, settings).keeps_work_folder:
                return True
        except Exception:  # an unknown type or params that no longer validate: better kept than lost
            return True
    return False
