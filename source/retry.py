"""The retry policy: how often, how long apart and for how long anything in the project is tried again.

`Backoff` is the policy (tries, first and longest wait, jitter, deadline) and `retrying(call, backoff,
should_retry=...)` the loop: it runs `call` until it returns, raises an error `should_retry` turns down, or
the policy is spent (the last error is raised). Between tries it waits `backoff.delay(n)`:
`first_delay * 2**(n - 1)` seconds capped at `max_delay`, shortened by up to `jitter` of itself at random
(so workers that failed together do not come back together), and logs one line saying why and when.

Every retry in the project goes through it: HTTP requests of the storage and downloads, the PostgREST
connector's unanswered requests, psycopg's serialization conflicts, the worker's outages
(`queue/reconnecting.py`), a worker waiting for a full database server (`cli/worker_cli.py`); and the
delay before a failed row runs again (`TASK_RETRY`, used by `worker.py`; the queue waits it out).

Imports nothing from the project, so every layer can use it.
"""
from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Callable, Optional, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    attempts: Optional[int] = 3      # total tries; None: no limit (until the deadline, or should_retry says no)
    first_delay: float = 1.0         # seconds before the second try; doubled each time
    max_delay: float = 30.0
    jitter: float = 0.0              # each wait is shortened by a random fraction up to this (0..1)
    deadline: Optional[float] = None  # seconds after the first try: no try starts later than this

    def __post_init__(self) -> None:
        if self.attempts is not None and self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter must be between 0 and 1, got {self.jitter}")

    def delay(self, failed_tries: int, random_fraction: Callable[[], float] = random.random) -> float:
        """Seconds to wait after `failed_tries` tries failed: between (1 - jitter) and 1 times the
        exponential step."""
        step = min(self.max_delay, self.first_delay * (2 ** (failed_tries - 1)))
        return step * (1.0 - self.jitter * random_fraction())

    def another_try(self, failed_tries: int, elapsed: float, delay: float) -> bool:
        """Whether a try may follow `failed_tries` failed ones, `elapsed` seconds after the first began,
        after waiting `delay`."""
        if self.attempts is not None and failed_tries >= self.attempts:
            return False
        return self.deadline is None or elapsed + delay <= self.deadline


RetryPolicy = Backoff   # the name the issue tracker and docs use for it

# A failed row's next attempt (worker.py): 5 s, 10 s, 20 s, ... at most 5 minutes; how many attempts is
# the row's own `max_attempts`, counted by the queue.
TASK_RETRY = Backoff(attempts=None, first_delay=5.0, max_delay=300.0)


def retrying(call: Callable[[], T], backoff: Backoff, *, should_retry: Callable[[BaseException], bool],
             what: str = "", sleep: Callable[[float], object] = time.sleep,
             clock: Callable[[], float] = time.monotonic, random_fraction: Callable[[], float] = random.random,
             logger: Optional[logging.Logger] = None, announce: bool = True) -> T:
    """`call()`, tried again while `should_retry(error)` says so and `backoff` allows. `announce`: log a
    line before each retry (off for retries too quick and too common to be news, or logged by the caller).
    `sleep` may return early (an Event's `wait`: the caller's `should_retry` then decides)."""
    started = clock()
    failed = 0
    while True:
        try:
            return call()
        except Exception as exc:
            failed += 1
            if not should_retry(exc):
                raise
            delay = backoff.delay(failed, random_fraction)
            if not backoff.another_try(failed, clock() - started, delay):
                raise
            if announce:
                of = f" of {backoff.attempts}" if backoff.attempts is not None else ""
                (logger or log).warning("%s%s; retrying in %.1f s (try %d%s)", f"{what}: " if what else "",
                                        exc, delay, failed + 1, of)
            sleep(delay)
