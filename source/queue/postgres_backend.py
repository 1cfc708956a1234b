"""The PostgreSQL queue: psycopg 3 calling the versioned SQL functions of sql/postgres/.

The semantics live in those functions (the supabase backend calls the same ones over PostgREST RPC);
this module applies the migrations, calls the functions, maps rows to `Task`s, and waits on
LISTEN wq_tasks. One connection per thread (autocommit: each call is one transaction), plus one
dedicated connection for LISTEN.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Any, Optional, Sequence

import psycopg
from psycopg import errors
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from .base import TaskQueue
from .model import Claim, InvalidTask, NewTask, QueueError, Task, as_list
from .rows import migration_files, new_task_to_json, task_from_row

CHANNEL = "wq_tasks"
# pg_advisory_xact_lock key held while migrating, so workers starting together migrate once.
MIGRATION_LOCK_KEY = 0x77715F6D6967  # "wq_mig"
RETRIES_ON_CONFLICT = 3

CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS queue_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now())"""

# The calls this backend makes: one function each (see sql/postgres/002_queue_functions.sql).
CALLS = {
    "enqueue": "SELECT wq_enqueue_v1(p_tasks => %(tasks)s) AS ids",
    "get": "SELECT * FROM wq_get_v1(p_task_id => %(task_id)s::text)",
    "list_run": "SELECT * FROM wq_list_run_v1(p_run_id => %(run_id)s::text)",
    "cancel": "SELECT wq_cancel_v1(p_task_id => %(task_id)s::text, p_reason => %(reason)s::text) AS n",
    "claim": ("SELECT * FROM wq_claim_v1(p_worker_id => %(worker_id)s::text,"
              " p_lease_seconds => %(lease_seconds)s::float8, p_task_types => %(task_types)s::text[],"
              " p_prefer_model => %(prefer_model)s::text)"),
    "heartbeat": ("SELECT wq_heartbeat_v1(p_task_id => %(task_id)s::text, p_worker_id => %(worker_id)s::text,"
                  " p_attempt => %(attempt)s::integer, p_lease_seconds => %(lease_seconds)s::float8) AS ok"),
    "progress": ("SELECT wq_progress_v1(p_task_id => %(task_id)s::text, p_worker_id => %(worker_id)s::text,"
                 " p_attempt => %(attempt)s::integer, p_progress => %(progress)s::float8,"
                 " p_message => %(message)s::text) AS ok"),
    "complete": ("SELECT wq_complete_v1(p_task_id => %(task_id)s::text, p_worker_id => %(worker_id)s::text,"
                 " p_attempt => %(attempt)s::integer, p_output_location => %(output_location)s::text) AS ok"),
    "fail": ("SELECT wq_fail_v1(p_task_id => %(task_id)s::text, p_worker_id => %(worker_id)s::text,"
             " p_attempt => %(attempt)s::integer, p_error_message => %(error_message)s::text,"
             " p_retry => %(retry)s::boolean, p_retry_delay_seconds => %(delay)s::float8) AS ok"),
    "release": ("SELECT wq_release_v1(p_task_id => %(task_id)s::text, p_worker_id => %(worker_id)s::text,"
                " p_attempt => %(attempt)s::integer) AS ok"),
    "fan_out": ("SELECT wq_fan_out_v1(p_task_id => %(task_id)s::text, p_worker_id => %(worker_id)s::text,"
                " p_attempt => %(attempt)s::integer, p_children => %(children)s::jsonb,"
                " p_awaited_task_id => %(awaited_task_id)s::text) AS ok"),
    "sweep_expired": "SELECT wq_sweep_expired_v1() AS n",
    "next_wakeup": "SELECT wq_next_wakeup_v1() AS seconds",
    "pending_count": "SELECT wq_pending_count_v1(p_task_types => %(task_types)s::text[]) AS n",
}


def migrate_database(conn: psycopg.Connection) -> list[int]:
    """Apply sql/postgres/NNN_*.sql not yet in queue_migrations, in one transaction under an advisory
    lock; returns the versions applied now. `conn` must not be in autocommit mode."""
    applied_now = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
        conn.execute(CREATE_MIGRATIONS_TABLE)
        done = {row[0] for row in conn.execute("SELECT version FROM queue_migrations")}
        for version, name, path in migration_files("postgres"):
            if version in done:
                continue
            conn.execute(path.read_text(encoding="utf-8"))
            conn.execute("INSERT INTO queue_migrations (version, name) VALUES (%s, %s)", (version, name))
            applied_now.append(version)
    return applied_now


def all_migrations_sql() -> str:
    """Every migration as one script (for a SQL editor, e.g. Supabase's), recording its versions."""
    parts = [CREATE_MIGRATIONS_TABLE.strip() + ";"]
    for version, name, path in migration_files("postgres"):
        parts.append(f"-- ---- {path.name} ----\n" + path.read_text(encoding="utf-8"))
        parts.append(f"INSERT INTO queue_migrations (version, name) VALUES ({version}, '{name}') "
                     "ON CONFLICT (version) DO NOTHING;")
    return "\n".join(parts)


class PostgresQueue(TaskQueue):
    def __init__(self, dsn: str, migrate: bool = True) -> None:
        self.dsn = dsn
        self._local = threading.local()
        self._connections: list[psycopg.Connection] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._listener: Optional[psycopg.Connection] = None
        if migrate:
            self.migrate()

    # ---- connections ------------------------------------------------------------------------------
    def _connect(self, **kwargs: Any) -> psycopg.Connection:
        try:
            conn = psycopg.connect(self.dsn, **kwargs)
        except psycopg.OperationalError as exc:
            from ..config import redact_dsn

            raise QueueError(f"cannot connect to PostgreSQL at {redact_dsn(self.dsn)}: "
                             f"{str(exc).strip().splitlines()[0]}") from None
        with self._lock:
            self._connections.append(conn)
        return conn

    def _conn(self) -> psycopg.Connection:
        if os.getpid() != self._pid:  # forked: never share a connection with the parent
            self._local, self._connections, self._listener = threading.local(), [], None
            self._pid = os.getpid()
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._local.conn = self._connect(autocommit=True, row_factory=dict_row)
        return conn

    def _call(self, name: str, **params: Any) -> list[dict]:
        """Run one function call; bad input (SQLSTATE class 22) becomes InvalidTask."""
        for attempt in range(RETRIES_ON_CONFLICT + 1):
            try:
                cur = self._conn().execute(CALLS[name], params)
                return cur.fetchall()
            except (errors.DeadlockDetected, errors.SerializationFailure):
                if attempt == RETRIES_ON_CONFLICT:
                    raise
                time.sleep(0.01 * (attempt + 1))
            except psycopg.OperationalError:
                self._local.conn = None  # reconnect on the next call
                raise
            except psycopg.Error as exc:
                if (exc.sqlstate or "").startswith("22"):  # data exception: the input was refused
                    raise InvalidTask(exc.diag.message_primary or str(exc)) from None
                raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            try:
                conn.close()
            except psycopg.Error:
                pass
        self._local = threading.local()
        self._listener = None

    # ---- set-up -----------------------------------------------------------------------------------
    def migrate(self) -> None:
        conn = self._connect(autocommit=False)
        try:
            migrate_database(conn)
        finally:
            conn.close()

    # ---- clients ----------------------------------------------------------------------------------
    def enqueue(self, tasks: Sequence[NewTask]) -> list[str]:
        payload = [new_task_to_json(task) for task in tasks]
        rows = self._call("enqueue", tasks=jsonb(payload))
        return list(rows[0]["ids"] or [])

    def get(self, task_id: str) -> Optional[Task]:
        rows = self._call("get", task_id=task_id)
        return task_from_row(rows[0]) if rows else None

    def list_run(self, run_id: str) -> list[Task]:
        return [task_from_row(row) for row in self._call("list_run", run_id=run_id)]

    def cancel(self, task_id: str, reason: str = "cancelled by user") -> int:
        return int(self._call("cancel", task_id=task_id, reason=reason)[0]["n"])

    # ---- workers ----------------------------------------------------------------------------------
    def pending_count(self, task_types: Optional[Sequence[str]] = None) -> int:
        return int(self._call("pending_count", task_types=as_list(task_types))[0]["n"])

    def claim(self, worker_id: str, lease_seconds: float, task_types: Optional[Sequence[str]] = None,
              prefer_model: Optional[str] = None) -> Optional[Claim]:
        self._start_listening()
        rows = self._call("claim", worker_id=worker_id, lease_seconds=float(lease_seconds),
                          task_types=as_list(task_types), prefer_model=prefer_model)
        if not rows:
            return None
        task = task_from_row(rows[0])
        return Claim(task=task, worker_id=worker_id, attempt=task.attempts)

    def _fenced(self, name: str, claim: Claim, **params: Any) -> bool:
        params.update(task_id=claim.task_id, worker_id=claim.worker_id, attempt=claim.attempt)
        return bool(self._call(name, **params)[0]["ok"])

    def heartbeat(self, claim: Claim, lease_seconds: float) -> bool:
        return self._fenced("heartbeat", claim, lease_seconds=float(lease_seconds))

    def set_progress(self, claim: Claim, progress: float, message: str = "") -> bool:
        return self._fenced("progress", claim, progress=float(progress), message=message)

    def complete(self, claim: Claim, output_location: Optional[str]) -> bool:
        return self._fenced("complete", claim, output_location=output_location)

    def fail(self, claim: Claim, error_message: str, retry: bool = False,
             retry_delay_seconds: float = 0.0) -> bool:
        return self._fenced("fail", claim, error_message=error_message, retry=bool(retry),
                            delay=float(retry_delay_seconds))

    def release(self, claim: Claim) -> bool:
        return self._fenced("release", claim)

    def fan_out(self, claim: Claim, children: Sequence[NewTask], awaited_task_id: str) -> bool:
        payload = [new_task_to_json(child) for child in children]
        return self._fenced("fan_out", claim, children=jsonb(payload), awaited_task_id=awaited_task_id)

    def sweep_expired(self) -> int:
        return int(self._call("sweep_expired")[0]["n"])

    # ---- waking up --------------------------------------------------------------------------------
    def _start_listening(self) -> psycopg.Connection:
        """LISTEN before the first claim, so a row added between a fruitless claim and the next wait
        is never missed."""
        if self._listener is None or self._listener.closed or os.getpid() != self._pid:
            self._conn()
            self._listener = self._connect(autocommit=True)
            self._listener.execute(f"LISTEN {CHANNEL}")
        return self._listener

    def wait_for_change(self, timeout: float) -> None:
        """Return on a notification (insert, completion, requeue, cancel), when the earliest retry
        back-off ends, or after `timeout` seconds. Notifications that came while the worker was busy
        make it return at once."""
        listener = self._start_listening()
        wait = max(0.0, float(timeout))
        backoff = self._call("next_wakeup")[0]["seconds"]
        if backoff is not None:
            wait = min(wait, float(backoff))
        try:
            for _ in listener.notifies(timeout=wait, stop_after=1):
                break
            for _ in listener.notifies(timeout=0.0):  # drain the rest of the burst
                pass
        except psycopg.OperationalError:
            self._listener = None  # reconnect next time; the caller claims anyway
            time.sleep(min(wait, 1.0))


def jsonb(value: Any) -> Jsonb:
    try:
        import json

        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidTask(f"params cannot be stored as JSON: {exc}") from None
    return Jsonb(value)
