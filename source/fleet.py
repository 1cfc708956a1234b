"""A worker's presence in the workers registry: it registers at start, beats while idle as well as busy,
and is marked stopped on a clean exit.

`WorkerPresence` watches a `Worker` from the outside (its id, `current_task`, `stop_requested`) on its own
thread, so the worker loop knows nothing about it. It beats every `beat_interval(lease)` seconds, and at
once when the worker's state changes (idle -> busy -> idle, stopping), so a dashboard sees a claim within
a fraction of a second. A beat is one small UPDATE of the worker's own row; a failed beat is logged and
retried at the next one (the registry must never stop a worker from working).
"""
from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from functools import lru_cache
from typing import Optional

from . import __version__
from .config import PROJECT_ROOT
from .queue.fleet import FORGET_AFTER_SECONDS, WorkerBeat, WorkerInfo, WorkerState, beat_interval

log = logging.getLogger("fleet")

WATCH_SECONDS = 0.1          # how often the worker's in-memory state is looked at (no database access)
WARN_EVERY_SECONDS = 60.0    # a failing beat is logged at most this often


@lru_cache(maxsize=1)
def software_version() -> str:
    """This checkout's version, with its git commit where git can tell."""
    try:
        commit = subprocess.run(["git", "-C", str(PROJECT_ROOT), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=2).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{__version__}+g{commit}" if commit else __version__


def gpu_from_nvidia_smi() -> tuple[Optional[str], Optional[int], Optional[int]]:
    """(name, total MiB, used MiB) of the first GPU nvidia-smi lists, or Nones where there is none."""
    if shutil.which("nvidia-smi") is None:
        return None, None, None
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,memory.used",
                              "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=5).stdout
        name, total, used = [part.strip() for part in out.strip().splitlines()[0].split(",")]
        return name, int(float(total)), int(float(used))
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None, None, None


def gpu_from_torch() -> tuple[Optional[str], Optional[int], Optional[int]]:
    """(name, total MiB, used MiB) of this process's CUDA device, only once the worker has initialised
    CUDA itself (never imports torch or starts CUDA for the registry's sake)."""
    torch = sys.modules.get("torch")
    try:
        if torch is None or not torch.cuda.is_initialized():
            return None, None, None
        device = torch.cuda.current_device()
        free, total = torch.cuda.mem_get_info(device)
        return torch.cuda.get_device_name(device), total // 2**20, (total - free) // 2**20
    except Exception:  # a driver hiccup must not stop the beat
        return None, None, None


def task_model(params: object) -> Optional[str]:
    """The model a task names (`model` or `model_name`), as the worker prefers it when claiming."""
    if not isinstance(params, dict):
        return None
    model = params.get("model") or params.get("model_name")
    return model if isinstance(model, str) else None


class WorkerPresence:
    def __init__(self, worker) -> None:
        self.worker = worker
        self.queue = worker.queue
        self.interval = beat_interval(worker.settings.lease_seconds)
        self.model: Optional[str] = None
        self._done = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._last_warning = 0.0
        self._gpu = gpu_from_nvidia_smi()
        self.starting = False   # registered before the worker's self-check: `starting` until `started()`

    def info(self) -> WorkerInfo:
        settings = self.worker.settings
        torch_gpu = gpu_from_torch()
        name, total, used = torch_gpu if torch_gpu[0] else self._gpu
        return WorkerInfo(worker_id=self.worker.worker_id, host=socket.gethostname(), pid=os.getpid(),
                          lease_seconds=settings.lease_seconds, engine=settings.engine,
                          version=software_version(), task_types=settings.task_types, gpu_name=name,
                          gpu_memory_total_mb=total, gpu_memory_used_mb=used, model=self.model,
                          state=WorkerState.STARTING if self.starting else WorkerState.IDLE)

    def state(self) -> tuple[str, Optional[object]]:
        """The worker's state and the row it runs, from its memory (cheap: looked at every 0.1 s)."""
        task = self.worker.current_task
        if self.worker.stop_requested.is_set():
            return WorkerState.STOPPING, task
        if self.starting:
            return WorkerState.STARTING, None
        return (WorkerState.BUSY if task is not None else WorkerState.IDLE), task

    def beat(self) -> WorkerBeat:
        """What the worker is doing now, as written to its registry row."""
        state, task = self.state()
        if task is not None:
            self.model = task_model(task.params) or self.model
        used = gpu_from_torch()[2]
        return WorkerBeat(self.worker.worker_id, state, task.id if task is not None else None, self.model,
                          used if used is not None else self._gpu[2], self.worker.tasks_run)

    # ---- life -----------------------------------------------------------------------------------------
    def start(self, starting: bool = False) -> None:
        """Register (now, so `steerable_motion.py workers` shows the worker at once) and start beating;
        `starting`: as `starting` (its self-check runs) until `started()`."""
        self.starting = starting
        self._safely(lambda: self.queue.register_worker(self.info(), FORGET_AFTER_SECONDS))
        self._thread = threading.Thread(target=self._run, name="presence", daemon=True)
        self._thread.start()

    def started(self) -> None:
        """The self-check passed: the next beat (within WATCH_SECONDS) says idle."""
        self.starting = False

    def stop(self) -> None:
        """Stop beating and mark the worker stopped (a clean exit)."""
        self._done.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        final = self.beat()
        self._safely(lambda: self.queue.beat_worker(WorkerBeat(
            final.worker_id, WorkerState.STOPPED, None, final.model, final.gpu_memory_used_mb, final.tasks_run)))

    def _run(self) -> None:
        last_sent: Optional[tuple] = None
        next_due = 0.0
        while not self._done.is_set():
            state, task = self.state()
            shown = (state, None if task is None else task.id)
            if shown != last_sent or time.monotonic() >= next_due:
                if self._safely(lambda: self._send(self.beat())):
                    last_sent = shown
                next_due = time.monotonic() + self.interval
            self._done.wait(WATCH_SECONDS)

    def _send(self, beat: WorkerBeat) -> None:
        if not self.queue.beat_worker(beat) and not self._done.is_set():
            # no live row (forgotten, or the database was replaced): register again, then say it all
            self.queue.register_worker(self.info(), FORGET_AFTER_SECONDS)
            self.queue.beat_worker(beat)

    def _safely(self, action) -> bool:
        try:
            action()
            return True
        except Exception as exc:  # the registry is informational: the worker goes on
            if time.monotonic() - self._last_warning > WARN_EVERY_SECONDS:
                self._last_warning = time.monotonic()
                log.warning("workers registry not updated: %s", exc)
            return False
