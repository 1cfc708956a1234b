"""Queue fixtures (registered as a plugin in tests/conftest.py): fresh queues on every backend, raw
SQL access, and workers for subprocesses.

`queue_factory` is parametrized over BACKENDS; each call returns a fresh, empty, migrated queue
(`queue.target` says where it lives, so other processes and raw clients can open the same one).
`sqlite_queue` is one such queue on SQLite only, at tmp_path/tasks.db.
SQLite: a file in tmp_path. PostgreSQL: a database created for the call (from a migrated template made
once per test session) on 127.0.0.1:5432 as user postgres; all are dropped at the end of the session.
Supabase: such a database behind its own PostgREST and gateway (tests/helpers/supabase.py).
pgbouncer: such a database reached through the session's pgbouncer in transaction mode
(tests/helpers/pgbouncer.py), the worker waking up by polling: the postgres backend as a large fleet runs it.
PostgreSQL absent: the postgres cases skip with the reason, or fail when REQUIRE_SERVICES=1.

Adding a backend: its settings in `QueueTarget.settings`, its locations in `QueueFactory.target`, and
its name in BACKENDS.
"""
from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

from source.config import Settings
from source.queue.base import TaskQueue
from source.queue.factory import open_migrated_queue

from .services import PG_ADMIN_DSN as POSTGRES_ADMIN_DSN
from .services import dsn_for, skip_or_fail


@dataclass(frozen=True)
class QueueTarget:
    """Where one test queue lives: backend name and location (SQLite file or Postgres DSN)."""

    backend: str
    location: str

    def settings(self) -> Settings:
        if self.backend == "sqlite":
            return Settings(db_type="sqlite", db_file=self.location)
        if self.backend == "supabase":
            from tests.helpers.supabase import target_settings

            return target_settings(self.location)
        if self.backend == "pgbouncer":
            return Settings(db_type="postgres", database_url=self.location, queue_wakeup="poll")
        return Settings(db_type=self.backend, database_url=self.location)

    def open(self) -> TaskQueue:
        """The queue there, migrated as every command does it."""
        return open_migrated_queue(self.settings())

    def execute(self, sqlite_sql: str, postgres_sql: str, params: tuple = ()) -> list[tuple]:
        """Raw SQL as a client app would run it (its own connection, committed)."""
        if self.backend == "sqlite":
            import sqlite3

            conn = sqlite3.connect(self.location, timeout=30, isolation_level=None)
            try:
                return conn.execute(sqlite_sql, params).fetchall()
            finally:
                conn.close()
        import psycopg

        dsn = self.settings().database_url  # supabase: the database behind PostgREST
        with psycopg.connect(dsn, autocommit=True) as conn:
            cur = conn.execute(postgres_sql, params)
            return cur.fetchall() if cur.description else []

    def insert_raw(self, task_type: str, params_text: str, dependant_on: Optional[str] = None) -> str:
        """INSERT with only task_type, params and dependant_on, as a client app may write rows."""
        rows = self.execute(
            "INSERT INTO tasks (task_type, params, dependant_on) VALUES (?, ?, ?) RETURNING id",
            "INSERT INTO tasks (task_type, params, dependant_on) VALUES (%s, %s, %s) RETURNING id",
            (task_type, params_text, dependant_on))
        return rows[0][0]


BACKENDS = ("sqlite", "postgres", "supabase", "pgbouncer")


class PostgresDatabases:
    """Creates uniquely named databases (from one migrated template) and drops them all at the end."""

    def __init__(self, admin_dsn: str = POSTGRES_ADMIN_DSN) -> None:
        self.admin_dsn = admin_dsn
        self.prefix = f"wq_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.created: list[str] = []
        self.template: Optional[str] = None
        self.unavailable: Optional[str] = None

    def _admin(self):
        import psycopg

        return psycopg.connect(self.admin_dsn, autocommit=True, connect_timeout=3)

    def check(self) -> Optional[str]:
        """None when PostgreSQL answers, else why not."""
        if self.unavailable is None and self.template is None:
            try:
                with self._admin() as conn:
                    conn.execute("SELECT 1")
            except Exception as exc:  # any failure to connect means "absent" here
                self.unavailable = f"PostgreSQL not reachable at {self.admin_dsn}: {str(exc).strip()[:160]}"
        return self.unavailable

    def create(self, empty: bool = False) -> str:
        """A fresh database with the queue schema (or none, `empty=True`); returns its DSN."""
        if empty:
            name = f"{self.prefix}_{len(self.created)}"
            with self._admin() as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            self.created.append(name)
            return dsn_for(name, self.admin_dsn)
        if self.template is None:
            self.template = f"{self.prefix}_template"
            with self._admin() as conn:
                conn.execute(f'CREATE DATABASE "{self.template}"')
            self.created.append(self.template)
            QueueTarget("postgres", dsn_for(self.template, self.admin_dsn)).open().close()
        name = f"{self.prefix}_{len(self.created)}"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self.created.append(name)
        return dsn_for(name, self.admin_dsn)

    def drop(self, dsn: str) -> None:
        from psycopg.conninfo import conninfo_to_dict

        name = conninfo_to_dict(dsn)["dbname"]
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.created:
            self.created.remove(name)

    def drop_all(self) -> None:
        if not self.created:
            return
        with self._admin() as conn:
            for name in reversed(self.created):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created = []


@pytest.fixture(scope="session")
def postgres_databases():
    databases = PostgresDatabases()
    yield databases
    databases.drop_all()


class QueueFactory:
    """`factory()` -> a fresh empty queue of this backend; `factory.target()` -> a fresh location only."""

    def __init__(self, backend: str, tmp_path: Path, databases: PostgresDatabases) -> None:
        self.backend = backend
        self.tmp_path = tmp_path
        self.databases = databases
        self.opened: list[TaskQueue] = []
        self.dsns: list[str] = []
        self.rest = None  # supabase: PostgREST + gateway per database (tests/helpers/supabase.py)

    def target(self, empty: bool = False) -> QueueTarget:
        """A fresh location; migrated unless `empty` (SQLite files always start empty)."""
        if self.backend == "sqlite":
            return QueueTarget("sqlite", str(self.tmp_path / f"tasks-{uuid.uuid4().hex[:8]}.db"))
        if self.backend in ("postgres", "supabase", "pgbouncer"):
            reason = self.databases.check()
            if reason:
                skip_or_fail(reason)
            dsn = self.databases.create(empty=empty)
            self.dsns.append(dsn)
            if self.backend == "pgbouncer":
                from tests.helpers.pgbouncer import session_pgbouncer

                return QueueTarget("pgbouncer", session_pgbouncer().dsn(dsn))
            if self.backend == "supabase":
                from tests.helpers.supabase import RestEndpoints

                self.rest = self.rest or RestEndpoints()
                return QueueTarget("supabase", self.rest.location_for(dsn))
            return QueueTarget("postgres", dsn)
        raise ValueError(f"unknown test backend {self.backend}")

    def open(self, target: QueueTarget) -> TaskQueue:
        queue = target.open()
        queue.target = target  # type: ignore[attr-defined]
        self.opened.append(queue)
        return queue

    def __call__(self) -> TaskQueue:
        return self.open(self.target())

    def close(self) -> None:
        for queue in self.opened:
            queue.close()
        if self.rest is not None:
            self.rest.stop_all()
        for dsn in self.dsns:
            self.databases.drop(dsn)


@pytest.fixture(params=BACKENDS)
def queue_factory(request, tmp_path, postgres_databases):
    factory = QueueFactory(request.param, tmp_path, postgres_databases)
    yield factory
    factory.close()


@pytest.fixture
def sqlite_queue(tmp_path) -> TaskQueue:
    """One migrated SQLite queue at tmp_path/tasks.db, for tests about something other than the queue."""
    queue = QueueTarget("sqlite", str(tmp_path / "tasks.db")).open()
    yield queue
    queue.close()


# ---- functions run in subprocesses -------------------------------------------------------------------
def open_and_migrate(backend: str, location: str, start_at: float) -> None:
    """Open (and so migrate) the queue at `start_at` (time.time()), to make several processes collide."""
    time.sleep(max(0.0, start_at - time.time()))
    QueueTarget(backend, location).open().close()


def complete_in_order(backend: str, location: str, task_ids: list, pause_seconds: float) -> None:
    """Claim and complete exactly the given rows, one by one, pausing between them."""
    queue = QueueTarget(backend, location).open()
    types = ["parent"]
    for _ in task_ids:
        claim = None
        while claim is None:
            claim = queue.claim("completer", 30, task_types=types)
        queue.complete(claim, None)
        time.sleep(pause_seconds)
    queue.close()


def drain_worker(backend: str, location: str, worker_id: str, side_effect_file: str,
                 idle_seconds: float = 1.0, lease_seconds: float = 30.0, ready=None, go=None,
                 work_seconds: float = 0.002) -> None:
    """Claim and complete rows until nothing came for `idle_seconds`; append each claimed id to
    `side_effect_file` (one line per execution) and "work" `work_seconds` before completing it. With
    `ready`/`go` events: say when connected, then wait for the start signal."""
    queue = QueueTarget(backend, location).open()
    queue.claim(worker_id, lease_seconds, task_types=["(connect only)"])
    if ready is not None:
        ready.set()
        go.wait(60)
    last_work = time.monotonic()
    with open(side_effect_file, "a", encoding="utf-8") as log:
        while time.monotonic() - last_work < idle_seconds:
            claim = queue.claim(worker_id, lease_seconds)
            if claim is None:
                queue.wait_for_change(0.05)
                continue
            log.write(json.dumps({"id": claim.task_id, "worker": worker_id}) + "\n")
            log.flush()
            time.sleep(work_seconds)
            if not queue.complete(claim, f"done-by-{worker_id}"):
                raise RuntimeError(f"worker {worker_id} lost {claim.task_id}")
            last_work = time.monotonic()
    queue.close()
