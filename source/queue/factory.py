"""Open the queue the settings name (`DB_TYPE`): sqlite, postgres or supabase.

`open_migrated_queue` is what a command runs before it uses the queue (the schema is created or
upgraded once); `open_queue` leaves the schema alone (then `queue.migrate()` says what it did).
"""
from __future__ import annotations

import logging

from ..config import Settings
from .base import TaskQueue

log = logging.getLogger("queue")


def open_queue(settings: Settings) -> TaskQueue:
    """The queue for `settings.db_type`, its schema untouched."""
    if settings.db_type == "sqlite":
        from .sqlite_backend import SqliteQueue

        return SqliteQueue(settings.db_path)
    if settings.db_type == "postgres":
        from .postgres_backend import PostgresQueue
        from .psycopg_connector import PsycopgConnector

        if not settings.database_url:
            raise ValueError("DB_TYPE=postgres needs DATABASE_URL (a PostgreSQL connection string)")
        return PostgresQueue(PsycopgConnector(settings.database_url, wakeup=settings.queue_wakeup))
    if settings.db_type == "supabase":
        from .postgres_backend import PostgresQueue
        from .postgrest_connector import PostgrestConnector

        return PostgresQueue(PostgrestConnector(settings))
    raise ValueError(f"DB_TYPE must be sqlite, postgres or supabase, got {settings.db_type!r}")


def open_migrated_queue(settings: Settings) -> TaskQueue:
    """The queue for `settings.db_type` with its schema created or upgraded (with DATABASE_URL, also
    Supabase's; without it, Supabase's schema is only checked); `queue.migration` says what was done.
    Closed again if that fails."""
    queue = open_queue(settings)
    try:
        queue.migration = queue.migrate()
        if queue.migration.original_rows is not None:  # a legacy queue, upgraded: said once, loudly
            log.warning("%s", queue.migration)
    except BaseException:
        queue.close()
        raise
    return queue
