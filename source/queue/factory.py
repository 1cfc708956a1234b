"""Open the queue the settings name (`DB_TYPE`): sqlite, postgres or supabase."""
from __future__ import annotations

from ..config import Settings
from .base import TaskQueue


def open_queue(settings: Settings, migrate: bool = True) -> TaskQueue:
    """A ready queue for `settings.db_type`; the schema is created or upgraded first unless
    `migrate=False` (the Supabase schema is applied as SQL migrations, not from the worker)."""
    if settings.db_type == "sqlite":
        from .sqlite_backend import SqliteQueue

        return SqliteQueue(settings.db_path, migrate=migrate)
    if settings.db_type == "postgres":
        from .postgres_backend import PostgresQueue

        if not settings.database_url:
            raise ValueError("DB_TYPE=postgres needs DATABASE_URL (a PostgreSQL connection string)")
        return PostgresQueue(settings.database_url, migrate=migrate)
    if settings.db_type == "supabase":
        from .supabase_backend import SupabaseQueue  # written separately; imported only when asked for

        queue = SupabaseQueue(settings)
        if migrate:
            queue.migrate()
        return queue
    raise ValueError(f"DB_TYPE must be sqlite, postgres or supabase, got {settings.db_type!r}")
