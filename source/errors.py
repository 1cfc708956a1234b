"""The error family: every error the project raises is a `ProjectError`, and its class says what the
failure means for the row. Three kinds:

- `TransientError` (a RuntimeError): may pass on its own (a download that did not answer, the database
  away, CUDA out of memory, a helper process that died). The row is retried with back-off
  (source/retry.py `TASK_RETRY`) up to its `max_attempts`.
- `UserError` (a ValueError), a bad input: only a person can fix it (a field, a file, a model name). The
  row fails at once, no retry; the message is one line naming the field or file. `InvalidParams` is the
  common case: a task's params.
- `MachineFault`: a fault of this machine, not of the task (a module missing or a library that does not
  load: `BrokenEnvironment`; disk full, a read-only or failing disk). The row goes back to the queue, not
  Failed, for a worker that can run it.

Apart from these, `TaskCancelled` says the row was cancelled or its lease went to another worker: stop,
write nothing. Errors of other libraries are classified by their type too (`kind_of`): a lost connection
or a timeout (ConnectionError, TimeoutError) and torch's `OutOfMemoryError` are transient, an ImportError is
a machine fault. Anything else is a bug: the row fails with the exception's type and message. No message
text is read to decide.

The queue's errors (`QueueError` and kin) live here too, re-exported by source/queue/model.py.

This module imports nothing from the project, so every layer (media, storage, engines, queue,
workflows) can raise these.
"""
from __future__ import annotations

import errno
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

EXIT_BROKEN = 3   # exit code of a command or worker that cannot run here (a module missing, a library broken)


class ProjectError(Exception):
    """The root of the family: an error raised by this project's code."""


# ---- the three kinds ---------------------------------------------------------------------------------

class TransientError(ProjectError, RuntimeError):
    """A failure that may pass on a retry."""


class UserError(ProjectError, ValueError):
    """Input a person must fix. `field` names the parameter (or flag) when one is to blame."""

    def __init__(self, message: str = "", *, field: Optional[str] = None) -> None:
        super().__init__(message)
        self.field = field


class MachineFault(ProjectError):
    """A fault of this machine, not of the task: the row goes back to the queue, not Failed."""


class TaskCancelled(ProjectError):
    """The task was cancelled or its lease lost; stop without writing anything."""


# ---- common cases ------------------------------------------------------------------------------------

class InvalidParams(UserError):
    """Bad input in a task's params; the message starts with the field's name."""


class BrokenEnvironment(MachineFault):
    """This worker cannot run tasks (a module missing, a library that does not load): give the row
    back and stop."""


class StitchError(ProjectError, RuntimeError):
    """Clips that do not match the stitch plan (source/media/stitch.py); the message names the clip. A bug
    in the plan or the engine, not an input: the row fails without a retry."""


class UploadError(ProjectError, RuntimeError):
    """An artefact that could not be stored (source/storage/supabase_storage.py); the message names the
    file and the bucket, never the key. Raised as one of its kinds below; raised as itself (a handler's
    output file missing) it is a bug and fails the row."""


class UploadUnanswered(UploadError, TransientError):
    """The storage did not answer, or answered 429/5xx, through every try: the row is retried."""


class UploadRefused(UploadError, MachineFault):
    """This worker's storage settings are missing or the storage refused them (4xx): the row goes back
    for a worker that can store it."""


class UnstorableName(UploadError, UserError):
    """An object name the storage cannot hold (the task's id or file name): the row fails."""


# ---- the queue's errors (re-exported by source/queue/model.py) ----------------------------------------

class QueueError(ProjectError):
    """Something the queue refused, with a message a person understands."""


class SchemaTooNew(QueueError, MachineFault):
    """The database was migrated by a newer version of this tool; it is left unchanged and this worker
    cannot use it."""


class InvalidTask(QueueError, UserError):
    """A new row that cannot be accepted (bad field, unknown dependency, ...). `field` names the row's
    column to blame (`priority`, `id`), so a command line can name its flag instead."""


class DatabaseUnavailable(QueueError, TransientError):
    """The database could not be reached or the connection broke: an outage, not a refusal. Raised by
    the connectors and the SQLite queue; `ReconnectingQueue` (source/queue/reconnecting.py) waits it out.

    `maybe_applied`: the request may have reached the database before the connection broke, so the
    change may have been made although no answer came back (a claim may hold a row, a complete may
    have landed)."""

    def __init__(self, message: str, *, maybe_applied: bool) -> None:
        super().__init__(message)
        self.maybe_applied = maybe_applied


# OSError numbers that are the machine's fault whatever the task asked for.
MACHINE_FAULT_ERRNOS = frozenset(code for code in (
    errno.ENOSPC, errno.EROFS, errno.EIO, getattr(errno, "EDQUOT", None), errno.ENODEV, errno.ENXIO,
    getattr(errno, "ESTALE", None), errno.ENOTCONN, getattr(errno, "EREMOTEIO", None), errno.EMFILE,
    errno.ENFILE, errno.ENOMEM) if code is not None)


# Import names whose pip package has another name (what to install for a missing module).
PIP_NAMES = {"cv2": "opencv-python", "PIL": "pillow", "yaml": "PyYAML", "skimage": "scikit-image",
             "dotenv": "python-dotenv", "jwt": "PyJWT", "psycopg": "psycopg[binary]"}


def explain_environment_error(exc: BaseException) -> str:
    """One line for an import or environment error: the missing module, the interpreter, what to install."""
    interpreter = f"{sys.executable} (Python {sys.version.split()[0]})"
    missing = getattr(exc, "name", None) if isinstance(exc, ModuleNotFoundError) else None
    if missing and missing.split(".")[0] == "source":
        return f"this project's module {missing} cannot be imported by {interpreter}; is the checkout complete?"
    if missing:
        top = missing.split(".")[0]
        requirements = Path(__file__).resolve().parents[1] / "requirements.txt"
        if sys.prefix == sys.base_prefix:  # the system's interpreter: the project's packages go in a venv
            venv = Path(__file__).resolve().parents[1] / ".venv"
            return (f"module {top!r} is not installed for {interpreter}, which is not a virtual environment; "
                    f"make one and run the scripts with it: `{sys.executable} -m venv {venv} && "
                    f"{venv}/bin/python -m pip install -r {requirements}`, then `{venv}/bin/python <script> ...`")
        return (f"module {top!r} is not installed for {interpreter}; install the project's packages with "
                f"`{sys.executable} -m pip install -r {requirements}` (or `pip install {PIP_NAMES.get(top, top)}`)")
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return f"{type(exc).__name__}: {first} (interpreter {interpreter})"


# ---- classification ------------------------------------------------------------------------------------

class Kind(Enum):
    """What a failure means for the row."""

    TRANSIENT = "transient"          # retried with back-off
    BAD_INPUT = "bad input"          # failed at once, one line
    MACHINE_FAULT = "machine fault"  # given back to the queue
    CANCELLED = "cancelled"          # nothing written
    BUG = "bug"                      # failed with the exception's type and message


def _torch_out_of_memory() -> tuple[type[BaseException], ...]:
    """torch's OutOfMemoryError (CUDA and the other backends), when torch is loaded: only a process that
    imported torch can run out of GPU memory."""
    torch = sys.modules.get("torch")
    error = getattr(torch, "OutOfMemoryError", None) if torch is not None else None
    return (error,) if isinstance(error, type) else ()


def kind_of(exc: BaseException) -> Kind:
    """The kind of `exc`, by its type alone."""
    if isinstance(exc, TaskCancelled):
        return Kind.CANCELLED
    if is_machine_fault(exc):
        return Kind.MACHINE_FAULT
    if isinstance(exc, (TransientError, ConnectionError, TimeoutError) + _torch_out_of_memory()):
        return Kind.TRANSIENT
    if isinstance(exc, UserError):
        return Kind.BAD_INPUT
    return Kind.BUG


def is_transient(exc: BaseException) -> bool:
    """Errors worth a retry: declared transient, a lost connection or timeout, torch out of memory."""
    return kind_of(exc) is Kind.TRANSIENT


def is_machine_fault(exc: BaseException) -> bool:
    """MachineFault (BrokenEnvironment among them), an ImportError, or an OSError with one of MACHINE_FAULT_ERRNOS, raised or behind the exception raised
    (its __cause__ / __context__ chain: a library may wrap the disk's error in its own)."""
    seen = set()
    current: Optional[BaseException] = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (MachineFault, ImportError)) or (isinstance(current, OSError)
                                                                and current.errno in MACHINE_FAULT_ERRNOS):
            return True
        current = current.__cause__ or current.__context__
    return False


def is_broken_environment(exc: BaseException) -> bool:
    return isinstance(exc, (BrokenEnvironment, ImportError))


def is_user_error(exc: BaseException) -> bool:
    return kind_of(exc) is Kind.BAD_INPUT


def describe(exc: BaseException, max_lines: int = 2, max_chars: int = 1000) -> str:
    """One or two lines a person understands: messages written for a person stand alone, anything
    else is prefixed with its kind (`KeyError: 'x'` says more than `'x'`)."""
    text = str(exc).strip() or type(exc).__name__
    if not isinstance(exc, (UserError, TransientError, TaskCancelled, FileNotFoundError)):
        text = f"{type(exc).__name__}: {text}"
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(lines[:max_lines])[:max_chars]
