"""The error family: what a failure means for the row, decided by the exception's class.

Three kinds, and every domain error in the project subclasses one of them where it is raised:

- `UserError` (a ValueError): the input is wrong and only a person can fix it (a field, a file, a model
  name). The row fails at once, no retry; the message is one line naming the field or file.
  `InvalidParams` is the common case: a task's params.
- `TransientError` (a RuntimeError): may pass on its own (a download that did not answer, CUDA out of
  memory, a helper process that died). The row is retried with back-off up to `max_attempts`.
- `TaskCancelled`: the row was cancelled or its lease went to another worker; stop, write nothing.

Apart from these, `BrokenEnvironment` (and any ImportError) says the worker itself cannot run the task:
a module is missing or a library does not load. The row goes back to the queue, not Failed, and the
worker stops (source/selfcheck.py catches most of these before the first claim).

Anything else is a bug or an environment problem: the row fails with the exception's kind and message.

This module imports nothing from the project, so every layer (media, storage, engines, queue,
workflows) can raise these.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

EXIT_BROKEN = 3   # exit code of a command or worker that cannot run here (a module missing, a library broken)


class UserError(ValueError):
    """Input a person must fix. `field` names the parameter (or flag) when one is to blame."""

    def __init__(self, message: str = "", *, field: Optional[str] = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidParams(UserError):
    """Bad input in a task's params; the message starts with the field's name."""


class TransientError(RuntimeError):
    """A failure that may pass on a retry."""


class TaskCancelled(Exception):
    """The task was cancelled or its lease lost; stop without writing anything."""


class BrokenEnvironment(Exception):
    """This worker cannot run tasks (a module missing, a library that does not load): give the row
    back and stop."""


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

def is_transient(exc: BaseException) -> bool:
    """Errors worth a retry: declared transient, a lost connection or timeout, CUDA out of memory."""
    if isinstance(exc, (TransientError, ConnectionError, TimeoutError)):
        return True
    torch = sys.modules.get("torch")  # only a process that imported torch can run out of GPU memory
    if torch is not None and isinstance(exc, getattr(torch, "OutOfMemoryError", ())):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def is_broken_environment(exc: BaseException) -> bool:
    return isinstance(exc, (BrokenEnvironment, ImportError))


def is_user_error(exc: BaseException) -> bool:
    return isinstance(exc, UserError) and not is_transient(exc)


def describe(exc: BaseException, max_lines: int = 2, max_chars: int = 1000) -> str:
    """One or two lines a person understands: messages written for a person stand alone, anything
    else is prefixed with its kind (`KeyError: 'x'` says more than `'x'`)."""
    text = str(exc).strip() or type(exc).__name__
    if not isinstance(exc, (UserError, TransientError, TaskCancelled, FileNotFoundError)):
        text = f"{type(exc).__name__}: {text}"
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(lines[:max_lines])[:max_chars]
