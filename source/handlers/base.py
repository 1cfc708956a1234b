"""What a handler receives and may return.

A handler is `def handle(ctx: TaskContext) -> HandlerResult` registered under one or more task types
in `source/handlers/registry.py`. It reads `ctx.params`, writes files only under `ctx.task_dir` (its
own folder) or `ctx.run_dir(run_id)` (a workflow's shared work folder) or `ctx.output_dir` (final
artefacts), reports progress with `ctx.report_progress`, and raises to fail:

- `InvalidParams`: the input is wrong; the row fails at once, no retry.
- `TransientError`: may pass (a lost download, CUDA out of memory); retried with back-off.
- `TaskCancelled`: the worker lost the row (cancelled, or the lease went to someone else).
- any other exception: the row fails with its message.
"""
from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

from ..errors import InvalidParams, TaskCancelled, TransientError  # noqa: F401 (old names, same classes)
from ..queue.model import Claim, Task
from ..storage.outputs import absolute_location, safe_name  # noqa: F401
from ..tasks.context import Done, FanOut  # noqa: F401


@dataclass
class TaskContext:
    task: Task
    claim: Claim
    output_dir: Path            # final artefacts (absolute), --main-output-dir
    work_dir: Path              # root of per-task and per-run work folders (absolute)
    db_dir: Path                # folder relative output_locations resolve against
    engine: str = "diffusers"   # render engine name (diffusers | tiny | wan2gp)
    debug: bool = False
    settings: dict = field(default_factory=dict)      # extra worker settings (offload, compile, ...)
    queue: Any = None                                  # the TaskQueue (for reading earlier rows)
    lost: threading.Event = field(default_factory=threading.Event)  # set when the row is no longer ours
    _progress: Optional[Callable[[float, str], None]] = None
    log: logging.LoggerAdapter = None                  # carries the task id on every line

    @property
    def params(self) -> dict:
        return self.task.params

    @property
    def task_dir(self) -> Path:
        path = self.work_dir / "tasks" / safe_name(self.task.id)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def run_dir(self, run_id: str) -> Path:
        path = self.work_dir / "runs" / safe_name(run_id)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def report_progress(self, progress: float, message: str = "") -> None:
        """Record progress; raises TaskCancelled if the row is no longer ours."""
        if self.lost.is_set():
            raise TaskCancelled(f"task {self.task.id} was cancelled or lost its lease")
        if self._progress is not None:
            self._progress(progress, message)

    def check_cancelled(self) -> None:
        if self.lost.is_set():
            raise TaskCancelled(f"task {self.task.id} was cancelled or lost its lease")

    def get_task(self, task_id: str) -> Optional[Task]:
        return self.queue.get(task_id) if self.queue is not None else None

    def resolve_output(self, location: Optional[str]) -> Optional[str]:
        """An earlier row's output_location as an absolute path (URLs are returned unchanged)."""
        return absolute_location(location, self.db_dir)
