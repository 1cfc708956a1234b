"""The Supabase queue: the Postgres queue's SQL functions, called as PostgREST RPCs through supabase-py.

Workers hold only SUPABASE_URL and the service-role key. Every operation is one call to the same
versioned function the `postgres` backend runs over psycopg (sql/postgres/002_queue_functions.sql and
friends), so the queue's semantics exist once, in SQL. This module only names the calls, maps rows to
`Task`s and errors to messages a person understands, and polls for changes (PostgREST has no LISTEN).

Schema: PostgREST cannot run DDL, so the migrations are installed with the database connection string
(`DATABASE_URL`, used by `migrate()` when set) or pasted into the SQL editor (`install_sql()`,
scripts/supabase_sql.py). Without DATABASE_URL, `migrate()` only checks the installed version.

The key is never logged and never part of an error message.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Optional, Sequence

import httpx
from postgrest.exceptions import APIError

from ..config import Settings, scrub_secrets
from .base import TaskQueue
from .model import Claim, InvalidTask, NewTask, QueueError, Task, as_list
from .rows import migration_files, new_task_to_json, task_from_row

log = logging.getLogger(__name__)

# An idle worker asks the change counter this often; a busy one never polls.
POLL_SECONDS = 0.25
RPC_TIMEOUT_S = 30.0
CONNECT_RETRIES = 2            # a request that never reached the server is safe to send again
SCHEMA_RELOAD_WAIT_S = 15.0    # after migrating, how long PostgREST may take to see the new functions

HOW_TO_INSTALL = ("install it with `DB_TYPE=postgres DATABASE_URL=<the project's Postgres connection "
                  "string> python headless.py --migrate-only`, or paste the output of "
                  "`python scripts/supabase_sql.py` into the SQL editor")


class SchemaNotInstalled(QueueError):
    """PostgREST does not know a queue function: not installed, or its schema cache is old."""


def latest_schema_version() -> int:
    return max(version for version, _, _ in migration_files("postgres"))


def install_sql() -> str:
    """Every Postgres migration as one script for Supabase's SQL editor (one transaction)."""
    from .postgres_backend import all_migrations_sql

    return ("-- The video-worker queue: table, functions, indexes and policies. Idempotent.\n"
            "BEGIN;\n" + all_migrations_sql() + "\nCOMMIT;\nNOTIFY pgrst, 'reload schema';\n")


class SupabaseQueue(TaskQueue):
    def __init__(self, settings: Settings, poll_seconds: float = POLL_SECONDS) -> None:
        if not (settings.supabase_url and settings.supabase_service_key):
            raise QueueError("DB_TYPE=supabase needs SUPABASE_URL and SUPABASE_SERVICE_KEY")
        self.settings = settings
        self.url = settings.supabase_url.rstrip("/")
        self.poll_seconds = float(poll_seconds)
        self._client = self._make_client(settings)
        # one request at a time per queue object: the worker's heartbeat thread and task thread share it
        self._lock = threading.Lock()
        self._seen_change: Optional[int] = None

    @staticmethod
    def _make_client(settings: Settings):
        from supabase import create_client
        from supabase.lib.client_options import SyncClientOptions

        options = SyncClientOptions(postgrest_client_timeout=RPC_TIMEOUT_S, auto_refresh_token=False,
                                    persist_session=False)
        try:
            return create_client(settings.supabase_url.rstrip("/"), settings.supabase_service_key, options)
        except Exception as exc:  # supabase-py validates the URL and key shapes
            raise QueueError(f"cannot use Supabase at {settings.supabase_url}: "
                             f"{scrub_secrets(str(exc), settings)}") from None

    # ---- the one way this backend talks to the database --------------------------------------------
    def _rpc(self, function: str, **args: Any) -> Any:
        """Call one SQL function; bad input (SQLSTATE class 22) becomes InvalidTask."""
        for attempt in range(CONNECT_RETRIES + 1):
            try:
                with self._lock:
                    return self._client.rpc(function, args).execute().data
            except APIError as exc:
                raise self._explain(function, exc) from None
            except httpx.ConnectError as exc:
                if attempt == CONNECT_RETRIES:
                    raise QueueError(f"cannot reach Supabase at {self.url} ({type(exc).__name__}) "
                                     f"calling {function}") from None
                time.sleep(0.2 * (attempt + 1))
            except httpx.HTTPError as exc:
                raise QueueError(f"Supabase at {self.url} did not answer {function} "
                                 f"({type(exc).__name__}: {self._scrub(str(exc))})") from None
        raise AssertionError("unreachable")

    def _scrub(self, text: str) -> str:
        return scrub_secrets(text, self.settings)

    def _explain(self, function: str, exc: APIError) -> Exception:
        code = str(exc.code or "")
        message = self._scrub(exc.message or str(exc))
        if code.startswith("22"):  # data exception raised by the function: the input was refused
            return InvalidTask(message)
        if code == "PGRST202":      # no such function in PostgREST's schema cache
            return SchemaNotInstalled(f"the queue's SQL function {function} is not installed in this Supabase "
                              f"project: {HOW_TO_INSTALL}")
        if code == "42501":
            return QueueError(f"permission denied for {function}: SUPABASE_SERVICE_KEY must be the "
                              "project's service_role key (the anon key cannot use the queue)")
        if code.startswith("PGRST3"):  # JWT problems
            return QueueError(f"Supabase refused the key ({message}); check SUPABASE_SERVICE_KEY")
        return QueueError(f"{function} failed: {message}" + (f" [{code}]" if code else ""))

    # ---- set-up -----------------------------------------------------------------------------------
    def migrate(self) -> None:
        """With DATABASE_URL: apply the Postgres migrations over it (the postgres backend's runner) and
        have PostgREST reload its schema cache. Always: check through PostgREST that the installed
        schema is the version this code needs."""
        dsn = self.settings.database_url
        if dsn:
            self._migrate_over_postgres(dsn)
        # without DATABASE_URL, a short grace: the schema may have been installed just now
        self._check_schema(wait=SCHEMA_RELOAD_WAIT_S if dsn else 3.0)

    def _migrate_over_postgres(self, dsn: str) -> None:
        import psycopg

        from ..config import redact_dsn
        from .postgres_backend import migrate_database

        try:
            with psycopg.connect(dsn) as conn:
                applied = migrate_database(conn)
                # also when nothing was applied here: whoever applied it may not have told PostgREST
                conn.execute("NOTIFY pgrst, 'reload schema'")
                conn.commit()
        except psycopg.OperationalError as exc:
            raise QueueError(f"cannot connect to PostgreSQL at {redact_dsn(dsn)} to migrate: "
                             f"{self._scrub(str(exc).strip().splitlines()[0])}") from None
        if applied:
            log.info("installed queue migrations %s", ", ".join(map(str, applied)))

    def _check_schema(self, wait: float = 0.0) -> None:
        deadline = time.monotonic() + wait
        while True:
            try:
                version = self._rpc("wq_schema_version_v1")
                break
            except SchemaNotInstalled:
                if time.monotonic() >= deadline:
                    raise SchemaNotInstalled("the queue schema is not installed in this Supabase project "
                                             f"(or PostgREST has not reloaded it): {HOW_TO_INSTALL}") from None
                time.sleep(0.1)  # PostgREST is (re)loading its schema cache
        needed = latest_schema_version()
        if version is None or int(version) < needed:
            raise QueueError(f"the queue schema in this Supabase project is version {version}, this worker "
                             f"needs {needed}: {HOW_TO_INSTALL}")

    # ---- clients ----------------------------------------------------------------------------------
    def enqueue(self, tasks: Sequence[NewTask]) -> list[str]:
        payload = [new_task_to_json(task) for task in tasks]
        return list(self._rpc("wq_enqueue_v1", p_tasks=payload) or [])

    def get(self, task_id: str) -> Optional[Task]:
        rows = self._rpc("wq_get_v1", p_task_id=task_id)
        return task_from_row(rows[0]) if rows else None

    def list_run(self, run_id: str) -> list[Task]:
        return [task_from_row(row) for row in self._rpc("wq_list_run_v1", p_run_id=run_id) or []]

    def cancel(self, task_id: str, reason: str = "cancelled by user") -> int:
        return int(self._rpc("wq_cancel_v1", p_task_id=task_id, p_reason=reason))

    def pending_count(self, task_types: Optional[Sequence[str]] = None) -> int:
        return int(self._rpc("wq_pending_count_v1", p_task_types=as_list(task_types)))

    # ---- workers ----------------------------------------------------------------------------------
    def claim(self, worker_id: str, lease_seconds: float, task_types: Optional[Sequence[str]] = None,
              prefer_model: Optional[str] = None) -> Optional[Claim]:
        if self._seen_change is None:  # read before the first claim, so no change slips between them
            self._poll()
        rows = self._rpc("wq_claim_v1", p_worker_id=worker_id, p_lease_seconds=float(lease_seconds),
                         p_task_types=as_list(task_types), p_prefer_model=prefer_model)
        if not rows:
            return None
        task = task_from_row(rows[0])
        return Claim(task=task, worker_id=worker_id, attempt=task.attempts)

    def _fenced(self, function: str, claim: Claim, **args: Any) -> bool:
        return bool(self._rpc(function, p_task_id=claim.task_id, p_worker_id=claim.worker_id,
                              p_attempt=claim.attempt, **args))

    def heartbeat(self, claim: Claim, lease_seconds: float) -> bool:
        return self._fenced("wq_heartbeat_v1", claim, p_lease_seconds=float(lease_seconds))

    def set_progress(self, claim: Claim, progress: float, message: str = "") -> bool:
        return self._fenced("wq_progress_v1", claim, p_progress=float(progress), p_message=message)

    def complete(self, claim: Claim, output_location: Optional[str]) -> bool:
        return self._fenced("wq_complete_v1", claim, p_output_location=output_location)

    def fail(self, claim: Claim, error_message: str, retry: bool = False,
             retry_delay_seconds: float = 0.0) -> bool:
        return self._fenced("wq_fail_v1", claim, p_error_message=error_message, p_retry=bool(retry),
                            p_retry_delay_seconds=float(retry_delay_seconds))

    def release(self, claim: Claim) -> bool:
        return self._fenced("wq_release_v1", claim)

    def fan_out(self, claim: Claim, children: Sequence[NewTask], awaited_task_id: str) -> bool:
        payload = [new_task_to_json(child) for child in children]
        return self._fenced("wq_fan_out_v1", claim, p_children=payload, p_awaited_task_id=awaited_task_id)

    def sweep_expired(self) -> int:
        return int(self._rpc("wq_sweep_expired_v1"))

    # ---- waking up --------------------------------------------------------------------------------
    def _poll(self) -> tuple[int, Optional[float]]:
        rows = self._rpc("wq_poll_v1")
        row = rows[0] if isinstance(rows, list) else rows
        counter = int(row["change_counter"] or 0)
        wakeup = row["next_wakeup"]
        if self._seen_change is None:
            self._seen_change = counter
        return counter, (None if wakeup is None else float(wakeup))

    def wait_for_change(self, timeout: float) -> None:
        """Poll the change counter every POLL_SECONDS (PostgREST has no LISTEN) until rows were added
        or changed status since the last look, a retry back-off ends, or `timeout` passes. Changes
        made while the worker was busy make it return at once."""
        deadline = time.monotonic() + max(0.0, float(timeout))
        while True:
            counter, wakeup = self._poll()
            if counter != self._seen_change:
                self._seen_change = counter
                return
            if wakeup is not None:  # a row in retry back-off becomes eligible then
                deadline = min(deadline, time.monotonic() + wakeup)
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(self.poll_seconds, left))

    def close(self) -> None:
        try:
            self._client.postgrest.session.close()
        except Exception:  # closing is best effort; nothing is pending
            pass
