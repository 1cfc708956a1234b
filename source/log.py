"""Logging: every line carries the task id of the thread that wrote it ("-" outside a task)."""
from __future__ import annotations

import logging
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

_state = threading.local()


def current_task_id() -> str:
    return getattr(_state, "task_id", None) or "-"


@contextmanager
def task_logging(task_id: Optional[str]) -> Iterator[None]:
    """Tag every log line written by this thread with `task_id` while inside the block."""
    previous = getattr(_state, "task_id", None)
    _state.task_id = task_id
    try:
        yield
    finally:
        _state.task_id = previous


class _TaskIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.task_id = current_task_id()
        return True


def setup_logging(debug: bool = False, worker_id: str = "-", log_file: Optional[str] = None) -> None:
    """Log lines to stderr, and also to `log_file` (appended; its folder created) when given."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        path = Path(log_file).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(path, encoding="utf-8"))
    formatter = logging.Formatter(f"%(asctime)s %(levelname)-7s [{worker_id}] [task %(task_id)s] %(name)s: %(message)s")
    for handler in handlers:
        handler.addFilter(_TaskIdFilter())
        handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    if not debug:
        for noisy in ("httpx", "httpcore", "urllib3", "PIL", "diffusers", "transformers", "hpack"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
