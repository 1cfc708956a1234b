"""Direct PostgreSQL through psycopg 3: the named calls run as SQL, waiting is LISTEN wq_tasks (or polling
the change counter), and the migrations are applied here (also for Supabase, when its connection string
is known).

One connection per process, shared by the worker's threads (psycopg connections are thread-safe; each
call is one autocommit transaction). In LISTEN mode the same connection listens: notifications that
arrive while it runs other calls are kept by psycopg until the next `wait_for_change`. Nothing else is
session state and no statement is prepared on the server, so the connection string may point at a
transaction pooler (pgbouncer in transaction mode, Supabase's port 6543); there LISTEN cannot work and
the worker polls instead (`wakeup`: listen, poll, or auto).

A broken connection is dropped and the call raises DatabaseUnavailable; the next call opens another.
"""
from __future__ import annotations

import logging
from typing import Any

import psycopg
from psycopg import errors
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb, set_json_loads

from ..retry import Backoff, retrying
from .base import Migration
from .connections import ThreadConnections
from .connector import ChangeCounterPoller, Connector
from .model import DatabaseUnavailable, InvalidTask, SchemaTooNew
from .rows import loads_json
from .sqlfiles import (
    CREATE_POSTGRES_MIGRATIONS_TABLE,
    SEED_BEFORE_MIGRATIONS,
    latest_version,
    migration_files,
    newer_schema_message,
    postgres_calls,
)

log = logging.getLogger(__name__)

CHANNEL = "wq_tasks"
# pg_advisory_xact_lock key held while migrating, so workers starting together migrate once.
MIGRATION_LOCK_KEY = 0x77715F6D6967  # "wq_mig"
CONFLICT_BACKOFF = Backoff(attempts=4, first_delay=0.01, max_delay=0.05)
WAKEUP_MODES = ("auto", "listen", "poll")
# Ports where a transaction pooler usually listens (pgbouncer's default, Supabase's pooler): LISTEN
# cannot work through them, so `auto` polls there.
POOLER_PORTS = ("6432", "6543")
POLL_SECONDS = 0.25
# SQLSTATEs that mean "the server is away or full", not "the request was wrong": connection exceptions
# (class 08), operator intervention (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect
# now, 57P05 idle session timeout), too many connections, and a read-only standby after a failover.
OUTAGE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "57P05", "53300", "25006")


def migrate_database(conn: psycopg.Connection) -> Migration:
    """Apply sql/postgres/NNN_*.sql not yet in queue_migrations, in one transaction under an advisory
    lock (transaction-scoped, so it works through a transaction pooler; a legacy table, if
    that is what is there, is converted in the same transaction). A schema newer than these files is
    refused, unchanged. `conn` must not be in autocommit mode."""
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
            raise SchemaTooNew(newer_schema_message("the database", max(done), "postgres"))
        for version, name, path in migration_files("postgres"):
            if version in done:
                continue
            conn.execute(path.read_text(encoding="utf-8"))
            conn.execute("INSERT INTO queue_migrations (version, name) VALUES (%s, %s)", (version, name))
            applied_now.append(version)
    return Migration(before=max(done, default=None), after=max(done | set(applied_now), default=None),
                     applied=tuple(applied_now), original_rows=original_rows)


def is_outage(exc: BaseException) -> bool:
    """A lost or refused connection (the server is down, restarting, full, or the network broke)."""
    if isinstance(exc, psycopg.OperationalError) and not isinstance(exc, psycopg.errors.QueryCanceled):
        return True
    sqlstate = getattr(exc, "sqlstate", None) or ""
    return isinstance(exc, psycopg.Error) and sqlstate.startswith(OUTAGE_SQLSTATES)


# A server that is there but cannot take this connection yet (full, starting, stopping, recovering).
BUSY_MESSAGES = ("too many clients", "remaining connection slots are reserved", "the database system is starting up",
                 "the database system is shutting down", "the database system is in recovery mode",
                 "no more connections allowed")


def server_busy(exc: BaseException) -> bool:
    return any(message in str(exc) for message in BUSY_MESSAGES)


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# Unless the connection string says otherwise: give up connecting after 10 s, and notice a peer that
# vanished without closing (a network cut) within about a minute instead of the system's two hours.
CONNECT_DEFAULTS = {"connect_timeout": "10", "keepalives": "1", "keepalives_idle": "30",
                    "keepalives_interval": "10", "keepalives_count": "3"}


def connect(dsn: str, purpose: str = "", **kwargs: Any) -> psycopg.Connection:
    """A connection without server-side prepared statements (safe behind a transaction pooler).
    Refused: DatabaseUnavailable (a QueueError) naming the server (password hidden) and the driver's
    first line."""
    try:
        given = conninfo_to_dict(dsn)
        defaults = {key: value for key, value in CONNECT_DEFAULTS.items() if key not in given}
        conn = psycopg.connect(dsn, prepare_threshold=None, **defaults, **kwargs)
        set_json_loads(loads_json, conn)  # a row nested past the decoder's depth fails, not the worker
        return conn
    except psycopg.Error as exc:
        from ..config import redact_dsn

        raise DatabaseUnavailable(f"cannot connect to PostgreSQL at {redact_dsn(dsn)}{purpose}: "
                                  f"{first_line(exc)}", maybe_applied=False) from None


def behind_pooler(dsn: str) -> bool:
    try:
        return str(conninfo_to_dict(dsn).get("port", "")) in POOLER_PORTS
    except psycopg.ProgrammingError:
        return False


class PsycopgConnector(Connector):
    def __init__(self, dsn: str, wakeup: str = "auto", poll_seconds: float = POLL_SECONDS) -> None:
        if wakeup not in WAKEUP_MODES:
            raise ValueError(f"wake-up must be one of {', '.join(WAKEUP_MODES)}, got {wakeup!r}")
        self.dsn = dsn
        self.listening = wakeup == "listen" or (wakeup == "auto" and not behind_pooler(dsn))
        self._poller = ChangeCounterPoller(self, poll_seconds)
        # the process's one connection (ThreadConnections' named connection is shared by all threads)
        self._connections: ThreadConnections[psycopg.Connection] = ThreadConnections(self._open)

    def _open(self) -> psycopg.Connection:
        conn = connect(self.dsn, autocommit=True, row_factory=dict_row)
        if self.listening:
            try:
                conn.execute(f"LISTEN {CHANNEL}")
            except psycopg.Error as exc:
                if is_outage(exc):
                    conn.close()
                    raise DatabaseUnavailable(f"PostgreSQL connection lost: {first_line(exc)}",
                                              maybe_applied=False) from None
                log.warning("LISTEN is not available here (%s); waking up by polling every %.2f s",
                            first_line(exc), self._poller.poll_seconds)
                self.listening = False
        return conn

    def _connection(self) -> psycopg.Connection:
        return self._connections.dedicated("session", self._open)

    def call(self, name: str, **arguments: Any) -> Any:
        """Run one call; bad input (SQLSTATE class 22) becomes InvalidTask. A deadlock or serialization
        failure is retried; a lost connection is dropped (the next call opens another) and raises
        DatabaseUnavailable."""
        call = postgres_calls()[name]
        params = {argument.placeholder: Jsonb(value) if argument.type == "jsonb" else value
                  for argument, value in call.bind(arguments)}
        def once() -> list:
            conn = self._connection()
            try:
                return conn.execute(call.sql, params).fetchall()
            except (errors.DeadlockDetected, errors.SerializationFailure):
                raise
            except psycopg.Error as exc:
                if is_outage(exc) or conn.closed:
                    self._connections.discard_dedicated("session", conn)
                    raise DatabaseUnavailable(f"PostgreSQL connection lost during {name}: {first_line(exc)}",
                                              maybe_applied=True) from None
                if (exc.sqlstate or "").startswith("22"):  # data exception: the input was refused
                    raise InvalidTask(exc.diag.message_primary or str(exc)) from None
                raise

        # two transactions that collided: one was rolled back whole, so running it again is safe
        rows = retrying(once, CONFLICT_BACKOFF, should_retry=lambda exc: isinstance(
            exc, (errors.DeadlockDetected, errors.SerializationFailure)), what=name, announce=False)
        return rows if call.returns_rows else next(iter(rows[0].values()))

    # ---- waking up: LISTEN/NOTIFY, or polling the change counter ------------------------------------
    def start_watching(self) -> None:
        if self.listening:
            self._connection()  # LISTEN is issued when it opens
        if not self.listening:
            self._poller.start()

    def wait_for_change(self, timeout: float) -> None:
        """Return on a notification (insert, completion, requeue, cancel), when the earliest retry
        back-off ends, or after `timeout` seconds. Notifications that came while the worker was busy
        make it return at once."""
        if not self.listening:
            self._poller.wait(timeout)
            return
        wait = max(0.0, float(timeout))
        backoff = self.call("next_wakeup")
        if backoff is not None:
            wait = min(wait, float(backoff))
        conn = self._connection()
        try:
            for _ in conn.notifies(timeout=wait, stop_after=1):
                break
            for _ in conn.notifies(timeout=0.0):  # drain the rest of the burst
                pass
        except psycopg.Error as exc:
            self._connections.discard_dedicated("session", conn)  # LISTEN again on the next connection
            raise DatabaseUnavailable(f"PostgreSQL connection lost while waiting: {first_line(exc)}",
                                      maybe_applied=False) from None

    # ---- set-up -----------------------------------------------------------------------------------
    def migrate(self) -> Migration:
        with connect(self.dsn) as conn:
            return migrate_database(conn)

    def close(self) -> None:
        self._connections.close_all()
