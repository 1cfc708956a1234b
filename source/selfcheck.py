"""The worker's self-check, run before its first claim: can it run what it is about to claim?

- every handler of the task types it serves imports (through the workflow registry), with its params model;
- video can be encoded and decoded (PyAV with libx264), when those handlers use PyAV;
- the output and work folders are writable;
- the render engine can start, when a served workflow renders (or the reason it cannot);
- the database's schema version is one this code knows.

Any failure is one line naming what is missing (for a missing module: which interpreter runs and what to
install); the worker then exits with code 3 and claims nothing. The same explanation is used when a
missing module still shows up while a task runs (source/worker.py gives that row back and stops).
"""
from __future__ import annotations

import importlib
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

from .config import Settings
from .errors import BrokenEnvironment, explain_environment_error
from .queue.base import QueueSetup
from .queue.sqlfiles import latest_version

log = logging.getLogger("selfcheck")
PROBE_BYTES = 64 * 1024   # written to each folder: a full or read-only disk fails it

class SelfCheckFailed(BrokenEnvironment):
    """One line: what this worker is missing."""


def run_selfcheck(settings: Settings, queue: QueueSetup) -> list[str]:
    """Every check in order; SelfCheckFailed at the first failure. Returns what was checked, one line each."""
    done = []
    for check in (check_handlers, check_video, check_folders, check_engine, check_schema):
        started = time.monotonic()
        what = check(settings, queue)
        if what:
            done.append(f"{what} ({time.monotonic() - started:.2f} s)")
    return done


def served_task_types(settings: Settings) -> list[str]:
    from .workflows.registry import known_task_types

    known = known_task_types()
    chosen = settings.task_type_list
    if chosen is None:
        return known
    unknown = [name for name in chosen if name not in known]
    if unknown:
        raise SelfCheckFailed(f"TASK_TYPES names unknown task type(s) {', '.join(unknown)}; known types: "
                              f"{', '.join(known)}")
    return chosen


def check_handlers(settings: Settings, queue: QueueSetup) -> str:
    from .workflows.registry import get_handler, params_model

    types = served_task_types(settings)
    for task_type in types:
        try:
            get_handler(task_type)
            params_model(task_type)
        except Exception as exc:  # any failure to import is the environment's: say which and why
            raise SelfCheckFailed(f"cannot run {task_type}: {explain_environment_error(exc)}") from None
    return f"handlers of {len(types)} task type(s) import"


def check_video(settings: Settings, queue: QueueSetup) -> Optional[str]:
    """Only when a served handler uses PyAV (it was imported by check_handlers)."""
    if "av" not in sys.modules:
        return None
    import numpy as np

    from .media.video_io import read_frames, write_video

    frames = [np.full((64, 64, 3), 16 * i, dtype=np.uint8) for i in range(8)]
    try:
        with tempfile.TemporaryDirectory(prefix="selfcheck-") as folder:
            path = write_video(frames, Path(folder) / "check.mp4", fps=16)
            decoded = read_frames(path)
    except Exception as exc:  # a PyAV build without libx264 fails here, in several ways
        raise SelfCheckFailed(f"cannot encode and decode video with PyAV and libx264: "
                              f"{explain_environment_error(exc)}") from None
    if len(decoded) != len(frames) or decoded[0].shape != frames[0].shape:
        raise SelfCheckFailed(f"video check: wrote {len(frames)} frames of 64x64, read back {len(decoded)} "
                              f"of {decoded[0].shape[1] if decoded else 0}x{decoded[0].shape[0] if decoded else 0}")
    return "PyAV encodes and decodes H.264 (libx264)"


def check_folders(settings: Settings, queue: QueueSetup) -> str:
    for name, folder in (("output folder (MAIN_OUTPUT_DIR)", settings.output_path),
                         ("work folder (WORK_DIR)", settings.work_path)):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".selfcheck-") as probe:
                probe.write(b"\0" * PROBE_BYTES)  # a full disk still lets an empty file be made
                probe.flush()
                os.fsync(probe.fileno())
        except OSError as exc:
            raise SelfCheckFailed(f"the {name} {folder} is not writable: {exc.strerror or exc}") from None
    return f"{settings.output_path} and {settings.work_path} are writable"


def check_engine(settings: Settings, queue: QueueSetup) -> Optional[str]:
    """Only when a served workflow renders: the engine's packages import and its choice holds."""
    from .workflows.registry import workflows

    served = set(served_task_types(settings))
    if not any(workflow.renders and any(t.name in served for t in workflow.task_types)
               for _, workflow in workflows()):
        return None
    try:
        from .engines.choice import choose_engine

        engine = choose_engine(None, settings)
        if engine in ("diffusers", "tiny"):
            importlib.import_module("diffusers")
        if engine == "preview":  # its optical flow (OpenCV, from the opencv-contrib wheel mediapipe installs)
            importlib.import_module("cv2")
    except ImportError as exc:
        raise SelfCheckFailed(f"the render engine cannot start: {explain_environment_error(exc)}") from None
    except Exception as exc:  # the engine's own reason (e.g. wan2gp without a checkout)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SelfCheckFailed(f"the render engine cannot start: {first}") from None
    return f"engine {engine} can start"


def check_schema(settings: Settings, queue: QueueSetup) -> str:
    dialect = "sqlite" if settings.db_type == "sqlite" else "postgres"
    known = latest_version(dialect)
    version = queue.schema_version()
    if version is None or version < known:
        raise SelfCheckFailed(f"the queue schema is version {version}, this worker needs {known}: run "
                              "`python headless.py --migrate-only`")
    if version > known:
        raise SelfCheckFailed(f"the queue schema is version {version}, newer than this worker knows ({known}): "
                              "update this worker's code")
    return f"queue schema version {version}"
