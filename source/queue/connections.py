"""Connections of one queue object, for drivers whose connections are not shared between threads
(sqlite3, psycopg): one per thread, opened on first use, plus named dedicated ones that every thread
shares (the LISTEN connection, SQLite's change watcher).

A forked child never uses its parent's connections: the first use after a fork forgets them (without
closing them, which would end the parent's sessions) and opens new ones. `close_all()` closes every
connection any thread opened.
"""
from __future__ import annotations

import os
import threading
from typing import Callable, Generic, Optional, TypeVar

C = TypeVar("C")


def _closed(conn: object) -> bool:
    return bool(getattr(conn, "closed", False))  # psycopg has `closed`; sqlite3 connections do not


def _close_quietly(conn: object) -> None:
    try:
        conn.close()  # type: ignore[attr-defined]
    except Exception:  # best effort: a connection the server already dropped may refuse to close
        pass


class ThreadConnections(Generic[C]):
    def __init__(self, open_connection: Callable[[], C]) -> None:
        self._open = open_connection
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()            # guards _all
        self._dedicated_lock = threading.Lock()  # one thread opens a dedicated connection
        self._local = threading.local()
        self._all: list[C] = []
        self._dedicated: dict[str, C] = {}

    def _forget_if_forked(self) -> None:
        if os.getpid() != self._pid:  # a forked child: the parent's connections and locks are not its own
            self._reset()

    def _track(self, conn: C) -> C:
        with self._lock:
            self._all.append(conn)
        return conn

    def get(self) -> C:
        """This thread's connection, opened now if it has none (or it was closed)."""
        self._forget_if_forked()
        conn = getattr(self._local, "conn", None)
        if conn is None or _closed(conn):
            conn = self._local.conn = self._track(self._open())
        return conn

    def discard(self) -> None:
        """This thread's connection is broken: close it; the next `get()` opens another."""
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            self._close(conn)

    def dedicated(self, key: str, open_connection: Callable[[], C]) -> C:
        """The process's connection named `key`, opened with `open_connection` if there is none yet (or
        it was closed or discarded, or the process forked)."""
        self._forget_if_forked()
        with self._dedicated_lock:
            conn = self._dedicated.get(key)
            if conn is None or _closed(conn):
                conn = self._dedicated[key] = self._track(open_connection())
            return conn

    def discard_dedicated(self, key: str, broken: Optional[C] = None) -> None:
        """The connection named `key` is broken: close it; the next `dedicated(key, ...)` opens another.
        With `broken`: only if that is still the connection named `key` (another thread sharing it may
        have replaced it already)."""
        with self._dedicated_lock:
            if broken is not None and self._dedicated.get(key) is not broken:
                return
            conn = self._dedicated.pop(key, None)
        if conn is not None:
            self._close(conn)

    def _close(self, conn: C) -> None:
        with self._lock:
            if conn in self._all:
                self._all.remove(conn)
        _close_quietly(conn)

    def close_all(self) -> None:
        self._forget_if_forked()
        with self._dedicated_lock, self._lock:
            connections, self._all = self._all, []
            self._local = threading.local()
            self._dedicated = {}
        for conn in connections:
            _close_quietly(conn)
