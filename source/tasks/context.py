"""What a handler receives (`TaskContext`) and may return (`Done`, `FanOut`).

A handler is `def handle(ctx: TaskContext) -> Done | FanOut`, declared by its workflow
(`source/workflows/<name>/__init__.py`). It reads `ctx.params` (its validated params model), writes
files only under `ctx.task_dir` (its own folder), `ctx.run_dir(run_id)` (a workflow's shared work
folder) or `ctx.output_dir` (final artefacts), reports progress with `ctx.report_progress`, turns
inputs into local files with `ctx.local_file`, and raises to fail (see `source/errors.py`).
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

from ..config import Settings
from ..errors import InvalidParams, TaskCancelled
from ..queue.model import Claim, NewTask, Status, Task
from ..storage.downloads import DownloadError, UnreachableURL, is_url, resolve_input
from ..storage.outputs import readable_location, safe_name
from ..storage.roots import read_problem


@dataclass
class Done:
    """Finished: the artefact's path (absolute) or URL, or None for tasks with no artefact."""

    output_location: Optional[str]


@dataclass
class FanOut:
    """An orchestrator's result: insert `children` (one transaction, idempotent by id) and let this
    row stay In Progress until `awaited_task_id` ends; that row's end becomes this row's end."""

    children: Sequence[NewTask]
    awaited_task_id: str


HandlerResult = Union[Done, FanOut]


@dataclass
class TaskContext:
    task: Task
    claim: Claim
    params: Any                                        # the task type's validated params model
    settings: Settings                                 # the worker's settings, unchanged
    queue: Any = None                                  # the TaskQueue (for reading earlier rows)
    lost: threading.Event = field(default_factory=threading.Event)  # set when the row is no longer ours
    progress_sink: Optional[Callable[[float, str], None]] = None
    # Asks the database, at that moment, whether this attempt still holds its claim (the worker's fenced
    # heartbeat); None (a handler run outside a worker): always.
    claim_check: Optional[Callable[[], bool]] = None
    log: logging.LoggerAdapter = field(
        default_factory=lambda: logging.LoggerAdapter(logging.getLogger("task"), {}))

    # ---- folders --------------------------------------------------------------------------------------
    @property
    def output_dir(self) -> Path:
        """Final artefacts (absolute): --main-output-dir."""
        path = self.settings.output_path
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def work_dir(self) -> Path:
        """Root of the per-task and per-run work folders (absolute)."""
        return self.settings.work_path

    @property
    def task_dir(self) -> Path:
        path = self.work_dir / "tasks" / safe_name(self.task.id)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def run_dir(self, run_id: str) -> Path:
        path = self.work_dir / "runs" / safe_name(run_id)
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def debug(self) -> bool:
        return self.settings.debug

    # ---- progress and cancellation --------------------------------------------------------------------
    def report_progress(self, progress: float, message: str = "") -> None:
        """Record progress; raises TaskCancelled if the row is no longer ours."""
        self.check_cancelled()
        if self.progress_sink is not None:
            self.progress_sink(progress, message)

    @property
    def attempt_tag(self) -> str:
        """A name part of this attempt's own (worker and attempt): its files never collide with another's."""
        return safe_name(f"{self.claim.worker_id}-{self.claim.attempt}")

    def publish_file(self, source: Path, target: Path) -> Path:
        """Move this attempt's file into place, only while the attempt still holds its claim (asked at this
        moment); else the file is discarded and TaskCancelled raised."""
        self.check_cancelled()
        if self.claim_check is not None and not self.claim_check():
            self.lost.set()
            Path(source).unlink(missing_ok=True)
            raise TaskCancelled(f"task {self.task.id}: this attempt no longer holds its claim; its file is "
                                "not published")
        import os

        os.replace(source, target)
        return Path(target)

    def check_cancelled(self) -> None:
        if self.lost.is_set():
            raise TaskCancelled(f"task {self.task.id} was cancelled or lost its lease")

    def step_progress(self, what: str, start: float = 0.0, end: float = 1.0) -> Callable[[int, int], None]:
        """A render callback (step, total) that reports `what: step k/n` between `start` and `end`
        (`what: preview (no model), frame k/n` on a worker rendering with the preview engine)."""
        unit = "preview (no model), frame" if self.settings.engine == "preview" else "step"

        def on_step(step: int, total: int) -> None:
            self.report_progress(start + (end - start) * step / max(total, 1), f"{what}: {unit} {step}/{total}")
        return on_step

    # ---- earlier rows and input files -----------------------------------------------------------------
    def get_task(self, task_id: str) -> Optional[Task]:
        return self.queue.get(task_id) if self.queue is not None else None

    def local_file(self, field: str, value: Optional[str] = None, *, task_id: Optional[str] = None,
                   dest: Optional[Path] = None) -> Path:
        """A local file for an input: `value` (a path or an http(s) URL, downloaded into `dest`,
        default the task's own folder), or else the output of the earlier row `task_id` (which must be
        Complete). Errors name `field`: a missing file or row is InvalidParams, a download that did not
        answer is transient (DownloadError)."""
        dest = dest or self.task_dir / "inputs"
        if value is None and task_id is None:
            raise InvalidParams(f"{field}: no file given", field=field)
        if value is None:
            value = self._earlier_output(field, task_id)
        if not isinstance(value, str) or not value.strip():
            raise InvalidParams(f"{field} must be a file path or URL, got {value!r}", field=field)
        problem = read_problem(self.settings, value.strip())
        if problem:
            what = f"the output of task {task_id}" if task_id else field
            raise InvalidParams(f"{field}: {what} {problem}", field=field)
        value = readable_location(self.settings, value.strip())
        if not is_url(value) and not Path(value).expanduser().is_file():
            what = f"the output of task {task_id} is missing" if task_id else "file not found"
            raise InvalidParams(f"{field}: {what}: {value}", field=field)
        try:
            return resolve_input(value, dest)
        except DownloadError as exc:
            raise DownloadError(f"{self.said_as(field)}: {exc}") from None
        except UnreachableURL as exc:
            raise UnreachableURL(f"{self.said_as(field)}: {exc}", field=field) from None

    def said_as(self, field: str) -> str:
        """A params field as the person who queued the row wrote it: the flag of a workflow's command
        and the row's key (`--input_images #2 (input_image_paths_resolved[1])`), or the key alone."""
        from .params import flag_of

        said = flag_of(type(self.params), field) if self.params is not None else None
        return f"{said} ({field})" if said else field

    def _earlier_output(self, field: str, task_id: str) -> str:
        task = self.get_task(task_id)
        if task is None:
            raise InvalidParams(f"{field}: no task with id {task_id}", field=field)
        if task.status != Status.COMPLETE:
            raise InvalidParams(f"{field}: task {task_id} is {task.status}, not {Status.COMPLETE}", field=field)
        if not task.output_location:
            raise InvalidParams(f"{field}: task {task_id} has no output", field=field)
        return task.output_location
