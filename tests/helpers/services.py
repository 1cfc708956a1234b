"""External services the tests use: PostgreSQL at 127.0.0.1:5432. Missing -> skip with a reason,
unless REQUIRE_SERVICES=1 (CI), where missing is a failure."""
from __future__ import annotations

import os
import subprocess
import uuid
from contextlib import contextmanager
from typing import Iterator, Optional

import pytest

PG_ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def services_required() -> bool:
    return os.environ.get("REQUIRE_SERVICES") == "1"


def skip_or_fail(reason: str) -> None:
    if services_required():
        pytest.fail(f"{reason} (REQUIRE_SERVICES=1)")
    pytest.skip(reason)


def stop_process(process: Optional["subprocess.Popen"], grace: float = 5.0) -> None:
    """SIGTERM a service process we started, SIGKILL it after `grace` seconds; None or ended: nothing."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(grace)


def dsn_for(database: str, admin_dsn: str = PG_ADMIN_DSN) -> str:
    """The admin DSN pointed at another database."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(admin_dsn)
    params["dbname"] = database
    return make_conninfo(**params)


@contextmanager
def temporary_postgres_database(prefix: str = "wq_test") -> Iterator[str]:
    """Create a uniquely named database, yield its DSN, drop it afterwards."""
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=3)
    except Exception as exc:  # no server here
        skip_or_fail(f"PostgreSQL not reachable at {PG_ADMIN_DSN}: {type(exc).__name__}")
        return
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield dsn_for(name)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
