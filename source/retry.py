"""Retrying with exponential back-off: the one loop for every "try again later" in the project.

`retrying(call, backoff, should_retry=...)` runs `call` until it returns, an error it should not retry is
raised, or the tries are used up (the last error is raised). Between tries it waits
`first_delay * 2**(n - 1)` seconds (capped at `max_delay`) and logs one line saying why and when.
Imports nothing from the project, so every layer can use it.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Optional, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    attempts: int = 3            # total tries
    first_delay: float = 1.0     # seconds before the second try; doubled each time
    max_delay: float = 30.0

    def delay(self, failed_tries: int) -> float:
        return min(self.max_delay, self.first_delay * (2 ** (failed_tries - 1)))


def retrying(call: Callable[[], T], backoff: Backoff, *, should_retry: Callable[[BaseException], bool],
             what: str = "", sleep: Callable[[float], None] = time.sleep,
             logger: Optional[logging.Logger] = None) -> T:
    """`call()`, tried up to `backoff.attempts` times while `should_retry(error)` says so."""
    for attempt in range(1, backoff.attempts + 1):
        try:
            return call()
        except Exception as exc:
            if attempt >= backoff.attempts or not should_retry(exc):
                raise
            delay = backoff.delay(attempt)
            (logger or log).warning("%s%s; retrying in %.1f s (try %d of %d)", f"{what}: " if what else "",
                                    exc, delay, attempt + 1, backoff.attempts)
            sleep(delay)
    raise AssertionError("unreachable")
