"""Direct PostgreSQL through psycopg 3: the named calls run as SQL, waiting is LISTEN wq_tasks, and the
migrations are applied here (also for Supabase, when its connection string is known).

One connection per thread (autocommit: each call is one transaction) plus one dedicated connection for
LISTEN, kept by `ThreadConnections`.
"""
from __future__ import annotations

import time
from typing import Any

import psycopg
from psycopg import errors
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from .base import Migration
from .connections import ThreadConnections
from .connector import Connector
from .model import InvalidTask, QueueError
from .sqlfiles import CREATE_POSTGRES_MIGRATIONS_TABLE, SEED_BEFORE_MIGRATIONS, latest_version, migration_files, \
    newer_schema_message, postgres_calls

CHANNEL = "wq_tasks"
# pg_advisory_xact_lock key held while migrating, so workers starting together migrate once.
MIGRATION_LOCK_KEY = 0x77715F6D6967  # "wq_mig"
RETRIES_ON_CONFLICT = 3


def migrate_database(conn: psycopg.Connection) -> Migration:
    """Apply sql/postgres/NNN_*.sql not yet in queue_migrations, in one transaction under an advisory
    lock (the original tool's table, if that is what is there, is converted in the same transaction). A
    schema newer than these files is refused, unchanged. `conn` must not be in autocommit mode."""
    applied_now = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
        conn.execute(SEED_BEFORE_MIGRATIONS.read_text(encoding="utf-8"))
        original_rows = None
        if conn.execute("SELECT to_regclass('wq_seed_backup.tasks_pending_copy')").fetchone()[0] is not None:
            original_rows = conn.execute("SELECT count(*) FROM wq_seed_backup.tasks_pending_copy").fetchone()[0]
        conn.execute(CREATE_POSTGRES_MIGRATIONS_TABLE)
        done = {row[0] for row in conn.execute("SELECT version FROM queue_migrations")}
        if done and max(done) > latest_version("postgres"):
            raise QueueError(newer_schema_message("the database", max(done), "postgres"))
        for version, name, path in migration_files("postgres"):
            if version in done:
                continue
            conn.execute(path.read_text(encoding="utf-8"))
            conn.execute("INSERT INTO queue_migrations (version, name) VALUES (%s, %s)", (version, name))
            applied_now.append(version)
    return Migration(before=max(done, default=None), after=max(done | set(applied_now), default=None),
                     applied=tuple(applied_now), original_rows=original_rows)


def connect(dsn: str, purpose: str = "", **kwargs: Any) -> psycopg.Connection:
    """A connection, or QueueError naming the server (password hidden) and the driver's first line."""
    try:
        return psycopg.connect(dsn, **kwargs)
    except psycopg.OperationalError as exc:
        from ..config import redact_dsn

        raise QueueError(f"cannot connect to PostgreSQL at {redact_dsn(dsn)}{purpose}: "
                         f"{str(exc).strip().splitlines()[0]}") from None


class PsycopgConnector(Connector):
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._connections: ThreadConnections[psycopg.Connection] = ThreadConnections(
            lambda: connect(self.dsn, autocommit=True, row_factory=dict_row))

    def call(self, name: str, **arguments: Any) -> Any:
        """Run one call; bad input (SQLSTATE class 22) becomes InvalidTask. A deadlock or serialization
        failure is retried; a lost connection is dropped (the next call opens another) and re-raised."""
        call = postgres_calls()[name]
        params = {argument.placeholder: Jsonb(value) if argument.type == "jsonb" else value
                  for argument, value in call.bind(arguments)}
        for attempt in range(RETRIES_ON_CONFLICT + 1):
            try:
                rows = self._connections.get().execute(call.sql, params).fetchall()
                break
            except (errors.DeadlockDetected, errors.SerializationFailure):
                if attempt == RETRIES_ON_CONFLICT:
                    raise
                time.sleep(0.01 * (attempt + 1))
            except psycopg.OperationalError:
                self._connections.discard()
                raise
            except psycopg.Error as exc:
                if (exc.sqlstate or "").startswith("22"):  # data exception: the input was refused
                    raise InvalidTask(exc.diag.message_primary or str(exc)) from None
                raise
        return rows if call.returns_rows else next(iter(rows[0].values()))

    # ---- waking up: LISTEN/NOTIFY -----------------------------------------------------------------
    def _open_listener(self) -> psycopg.Connection:
        listener = connect(self.dsn, autocommit=True)
        listener.execute(f"LISTEN {CHANNEL}")
        return listener

    def start_watching(self) -> None:
        self._connections.dedicated("listen", self._open_listener)

    def wait_for_change(self, timeout: float) -> None:
        """Return on a notification (insert, completion, requeue, cancel), when the earliest retry
        back-off ends, or after `timeout` seconds. Notifications that came while the worker was busy
        make it return at once."""
        listener = self._connections.dedicated("listen", self._open_listener)
        wait = max(0.0, float(timeout))
        backoff = self.call("next_wakeup")
        if backoff is not None:
            wait = min(wait, float(backoff))
        try:
            for _ in listener.notifies(timeout=wait, stop_after=1):
                break
            for _ in listener.notifies(timeout=0.0):  # drain the rest of the burst
                pass
        except psycopg.OperationalError:
            self._connections.discard_dedicated("listen")  # LISTEN again next time; the caller claims anyway
            time.sleep(min(wait, 1.0))

    # ---- set-up -----------------------------------------------------------------------------------
    def migrate(self) -> Migration:
        with connect(self.dsn) as conn:
            return migrate_database(conn)

    def close(self) -> None:
        self._connections.close_all()
