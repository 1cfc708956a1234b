"""How the Postgres-family queue reaches its SQL functions: the connector interface, and waiting by
polling the change counter (for a transport without LISTEN).

`PostgresQueue` (postgres_backend.py) speaks domain words and runs the named calls of
sql/postgres/queries.sql through a connector; a connector knows one transport: psycopg (direct
PostgreSQL, psycopg_connector.py) or PostgREST RPC (Supabase, postgrest_connector.py). The transport's
errors become the queue's own errors in the connector, and so does the way to wait for new work.
"""
from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import Any, Optional

from .base import Migration


class Connector(ABC):
    @abstractmethod
    def call(self, name: str, **arguments: Any) -> Any:
        """Run the named call of sql/postgres/queries.sql with exactly its arguments. A row call
        (`SELECT * FROM f(...)`) returns a list of column -> value dicts, a value call (`SELECT f(...)`)
        the value. Input the function refused (SQLSTATE class 22) raises InvalidTask."""

    @abstractmethod
    def start_watching(self) -> None:
        """Begin noticing changes (called before every claim; cheap once started), so a change made
        between a fruitless claim and the next `wait_for_change` is never missed."""

    @abstractmethod
    def wait_for_change(self, timeout: float) -> None:
        """Block until rows may have become eligible since the last return (or `start_watching`), the
        earliest retry back-off ends, or `timeout` seconds pass."""

    @abstractmethod
    def migrate(self) -> Migration:
        """Install or upgrade the schema where this transport can; check that it is current."""

    def close(self) -> None:  # noqa: B027 (optional: a transport without connections keeps this no-op)
        """Release connections."""


class ChangeCounterPoller:
    """`wait_for_change` by asking the `poll` call (wq_poll_v1) every `poll_seconds`: its change counter
    moves on every insert and status change, and it says when the earliest retry back-off ends. For a
    transport without LISTEN; an idle worker polls, a busy one never does."""

    def __init__(self, connector: Connector, poll_seconds: float) -> None:
        self.connector = connector
        self.poll_seconds = float(poll_seconds)
        self._seen: Optional[int] = None

    def _poll(self) -> tuple[int, Optional[float]]:
        [row] = self.connector.call("poll")
        counter = int(row["change_counter"] or 0)
        wakeup = row["next_wakeup"]
        if self._seen is None:
            self._seen = counter
        return counter, (None if wakeup is None else float(wakeup))

    def start(self) -> None:
        if self._seen is None:  # read before the first claim, so no change slips between them
            self._poll()

    def wait(self, timeout: float) -> None:
        """Changes made while the worker was busy make it return at once."""
        deadline = time.monotonic() + max(0.0, float(timeout))
        while True:
            counter, wakeup = self._poll()
            if counter != self._seen:
                self._seen = counter
                return
            if wakeup is not None:  # a row in retry back-off becomes eligible then
                deadline = min(deadline, time.monotonic() + wakeup)
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(self.poll_seconds, left))
