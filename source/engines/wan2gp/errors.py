"""How the Wan2GP engine's failures are classified, in the project's error family (source/errors.py).

  bad_input        the task asked for something this model or checkout cannot do  -> UserError
                   (failed at once, no retry)
  helper_failed    the helper process died, hung, or broke the protocol           -> TransientError
                   (retried with back-off; the next attempt starts a fresh helper)
  render_failed    Wan2GP ran and reported an error                                -> RuntimeError,
                   or TransientError when it ran out of memory: an exception the helper caught is
                   told by its type's name (torch's OutOfMemoryError); a failure Wan2GP reports
                   itself carries only a message (its GenerationError), so there the text decides
  cancelled        the row was cancelled or its lease lost while Wan2GP ran         -> TaskCancelled
  EngineUnavailable  this worker cannot run Wan2GP at all (no checkout, no interpreter, Wan2GP does not
                   import under that interpreter): a UserError whose message says what to set
"""
from __future__ import annotations

from ...errors import TaskCancelled, TransientError, UserError


class EngineUnavailable(UserError):
    """The chosen engine cannot run here; the message says why and what to do."""


def one_line(text: object, limit: int = 400) -> str:
    """A message on one line (Wan2GP's errors can carry tracebacks)."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    line = " | ".join(lines[:2]) if lines else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def bad_input(message: str) -> UserError:
    return UserError(one_line(message, 900))


def helper_failed(message: str) -> TransientError:
    return TransientError(one_line(message, 900))


def render_failed(message: str, error_type: str = "") -> Exception:
    """`error_type`: the name of the exception's type when the helper caught one."""
    text = one_line(message, 900)
    if error_type == "OutOfMemoryError" or (not error_type and "out of memory" in text.lower()):
        return TransientError(f"Wan2GP ran out of memory: {text}")
    return RuntimeError(f"Wan2GP: {text}")


def cancelled(message: str) -> TaskCancelled:
    return TaskCancelled(message)
