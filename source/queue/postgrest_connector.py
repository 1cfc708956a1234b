"""Supabase: the named calls as PostgREST RPCs through supabase-py, for workers that hold only
SUPABASE_URL and the service-role key.

Each call is the function of its declaration in sql/postgres/queries.sql, with the same `p_` arguments
psycopg passes. PostgREST's errors become messages a person understands, and the key never appears in
one. PostgREST has no LISTEN, so an idle worker polls the change counter (`ChangeCounterPoller`).

Schema: PostgREST cannot run DDL, so the migrations are installed with the database connection string
(`DATABASE_URL`, used by `migrate()` when set) or pasted into the SQL editor
(`sqlfiles.install_sql()`, scripts/supabase_sql.py). Without DATABASE_URL, `migrate()` only checks the
installed version.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

import httpx
from postgrest.exceptions import APIError

from ..config import Settings, scrub_secrets
from ..errors import MachineFault
from ..retry import Backoff, retrying
from .base import Migration
from .connector import ChangeCounterPoller, Connector
from .model import DatabaseUnavailable, InvalidTask, QueueError
from .sqlfiles import latest_version, postgres_calls

log = logging.getLogger(__name__)

# An idle worker asks the change counter this often; a busy one never polls.
POLL_SECONDS = 0.25
RPC_TIMEOUT_S = 30.0
CONNECT_BACKOFF = Backoff(attempts=3, first_delay=0.2, max_delay=0.4)  # tries of a request that never arrived
SCHEMA_RELOAD_WAIT_S = 15.0    # after migrating, how long PostgREST may take to see the new functions

# Answers meaning "the service is away", not "the request was wrong": HTTP statuses a gateway gives
# (as the error code when the body is not PostgREST's JSON), PostgREST's connection errors, and the
# SQLSTATEs of a dropped or refused database connection.
GATEWAY_UNAVAILABLE = ("500", "502", "503", "504")
OUTAGE_CODES = ("PGRST000", "PGRST001", "PGRST002", "PGRST003", "08", "57P0", "53300", "25006")

HOW_TO_INSTALL = ("install it with `DB_TYPE=postgres DATABASE_URL=<the project's Postgres connection "
                  "string> python headless.py --migrate-only`, or paste the output of "
                  "`.venv/bin/python scripts/supabase_sql.py` into the SQL editor")


class SchemaNotInstalled(QueueError, MachineFault):
    """PostgREST does not know a queue function: not installed, or its schema cache is old."""


class PostgrestConnector(Connector):
    def __init__(self, settings: Settings, poll_seconds: float = POLL_SECONDS) -> None:
        if not (settings.supabase_url and settings.supabase_service_key):
            raise QueueError("DB_TYPE=supabase needs SUPABASE_URL and SUPABASE_SERVICE_KEY")
        self.settings = settings
        self.url = settings.supabase_url.rstrip("/")
        self._client = self._make_client(settings)
        # one request at a time per queue object: the worker's heartbeat thread and task thread share it
        self._lock = threading.Lock()
        self._poller = ChangeCounterPoller(self, poll_seconds)

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

    # ---- the one way this connector talks to the database ------------------------------------------
    def call(self, name: str, **arguments: Any) -> Any:
        call = postgres_calls()[name]
        return self._rpc(call.function, {argument.name: value for argument, value in call.bind(arguments)})

    def _rpc(self, function: str, args: dict) -> Any:
        """Call one SQL function; bad input (SQLSTATE class 22) becomes InvalidTask; an unreachable
        PostgREST or database DatabaseUnavailable."""
        def once() -> Any:
            with self._lock:
                return self._client.rpc(function, args).execute().data

        try:
            # a request that never reached the server is safe to send again
            return retrying(once, CONNECT_BACKOFF, should_retry=lambda exc: isinstance(exc, httpx.ConnectError),
                            what=function, announce=False)
        except APIError as exc:
            raise self._explain(function, exc) from None
        except httpx.ConnectError as exc:
            raise DatabaseUnavailable(f"cannot reach Supabase at {self.url} ({type(exc).__name__}) "
                                      f"calling {function}", maybe_applied=False) from None
        except httpx.TransportError as exc:  # sent, but the answer never came: it may have run
            raise DatabaseUnavailable(f"Supabase at {self.url} did not answer {function} "
                                      f"({type(exc).__name__}: {self._scrub(str(exc))})",
                                      maybe_applied=True) from None
        except httpx.HTTPError as exc:
            raise QueueError(f"Supabase at {self.url} did not answer {function} "
                             f"({type(exc).__name__}: {self._scrub(str(exc))})") from None

    def _scrub(self, text: str) -> str:
        return scrub_secrets(text, self.settings)

    def _explain(self, function: str, exc: APIError) -> Exception:
        code = str(exc.code or "")
        message = self._scrub(exc.message or str(exc))
        if code.startswith("22"):  # data exception raised by the function: the input was refused
            return InvalidTask(message)
        if code in GATEWAY_UNAVAILABLE or code.startswith(OUTAGE_CODES):
            # a gateway without its PostgREST (500, 502, 504: the request may have run) or PostgREST without
            # its database (PGRST000-003, 503; connection-class SQLSTATEs): nothing was committed
            return DatabaseUnavailable(f"Supabase at {self.url} is unavailable ({code}: {message}) calling "
                                       f"{function}", maybe_applied=code in ("500", "502", "504"))
        if code == "PGRST202":      # no such function in PostgREST's schema cache
            return SchemaNotInstalled(f"the queue's SQL function {function} is not installed in this Supabase "
                                      f"project: {HOW_TO_INSTALL}")
        if code == "42501":
            return QueueError(f"permission denied for {function}: SUPABASE_SERVICE_KEY must be the "
                              "project's service_role key (the anon key cannot use the queue)")
        if code.startswith("PGRST3"):  # JWT problems
            return QueueError(f"Supabase refused the key ({message}); check SUPABASE_SERVICE_KEY")
        return QueueError(f"{function} failed: {message}" + (f" [{code}]" if code else ""))

    # ---- waking up: polling the change counter ----------------------------------------------------
    def start_watching(self) -> None:
        self._poller.start()

    def wait_for_change(self, timeout: float) -> None:
        self._poller.wait(timeout)

    # ---- set-up -----------------------------------------------------------------------------------
    def migrate(self) -> Migration:
        """With DATABASE_URL: apply the Postgres migrations over it (psycopg's runner) and have
        PostgREST reload its schema cache. Always: check through PostgREST that the installed schema is
        the version this code needs."""
        dsn = self.settings.database_url
        migration = self._migrate_over_postgres(dsn) if dsn else None
        # without DATABASE_URL, a short grace: the schema may have been installed just now
        version = self._installed_version(wait=SCHEMA_RELOAD_WAIT_S if dsn else 3.0)
        return migration or Migration(before=version, after=version)

    def _migrate_over_postgres(self, dsn: str) -> Migration:
        from .psycopg_connector import connect, migrate_database

        try:
            with connect(dsn, " to migrate") as conn:
                migration = migrate_database(conn)
                # also when nothing was applied here: whoever applied it may not have told PostgREST
                conn.execute("NOTIFY pgrst, 'reload schema'")
                conn.commit()
        except QueueError as exc:
            raise QueueError(self._scrub(str(exc))) from None
        if migration.applied:
            log.info("installed queue migrations %s", ", ".join(map(str, migration.applied)))
        return migration

    def _installed_version(self, wait: float = 0.0) -> int:
        deadline = time.monotonic() + wait
        while True:
            try:
                version = self.call("schema_version")
                break
            except SchemaNotInstalled:
                if time.monotonic() >= deadline:
                    raise SchemaNotInstalled("the queue schema is not installed in this Supabase project "
                                             f"(or PostgREST has not reloaded it): {HOW_TO_INSTALL}") from None
                time.sleep(0.1)  # PostgREST is (re)loading its schema cache
        needed = latest_version("postgres")
        if version is None or int(version) < needed:
            raise QueueError(f"the queue schema in this Supabase project is version {version}, this worker "
                             f"needs {needed}: {HOW_TO_INSTALL}")
        return int(version)

    def close(self) -> None:
        try:
            self._client.postgrest.session.close()
        except Exception:  # closing is best effort; nothing is pending
            pass
