"""Reading the queue's SQL files (sql/<dialect>/): named queries, the Postgres calls, the migrations.

A queries file holds statements under `-- name: <name>` headers, each followed by a one-line
description. In sql/postgres/queries.sql every statement is one call of a versioned function with
named arguments (`SELECT * FROM wq_claim_v1(p_worker_id => %(worker_id)s::text, ...)`); `FunctionCall`
reads from that one text both what psycopg runs and what PostgREST calls (the function name and its
`p_` arguments), so the two transports cannot drift apart.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

SQL_DIR = Path(__file__).resolve().parent / "sql"

_NAME_HEADER = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)
_CALL = re.compile(r"SELECT\s+(?P<rows>\*\s+FROM\s+)?(?P<function>wq_\w+)\s*\((?P<arguments>.*)\)", re.DOTALL)
_ARGUMENT = re.compile(r"(?P<name>p_\w+)\s*=>\s*%\((?P<placeholder>\w+)\)s::(?P<type>\w+(?:\[\])?)")


@dataclass(frozen=True)
class NamedQuery:
    name: str
    description: str
    sql: str


@lru_cache(maxsize=None)
def named_queries(relative_path: str) -> dict[str, NamedQuery]:
    """The statements of a queries file (relative to sql/), by the name in their `-- name: x` header."""
    text = (SQL_DIR / relative_path).read_text(encoding="utf-8")
    parts = _NAME_HEADER.split(text)
    queries: dict[str, NamedQuery] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        lines = body.strip().splitlines()
        comments = [line.lstrip()[2:].strip() for line in lines if line.lstrip().startswith("--")]
        sql = "\n".join(line for line in lines if not line.lstrip().startswith("--")).strip().rstrip(";")
        if name in queries:
            raise ValueError(f"{relative_path}: two queries are named {name}")
        queries[name] = NamedQuery(name, " ".join(comments), sql)
    return queries


@dataclass(frozen=True)
class Argument:
    name: str          # the function's parameter, e.g. p_worker_id (PostgREST's JSON key)
    placeholder: str   # the value's name in the call, e.g. worker_id (psycopg's %(worker_id)s)
    type: str          # the SQL type it is cast to, e.g. text, jsonb, text[]


@dataclass(frozen=True)
class FunctionCall:
    """One named call: the SQL text, the function it calls, its arguments, and whether it returns rows
    (`SELECT * FROM f(...)`) or one value (`SELECT f(...)`)."""

    name: str
    sql: str
    function: str
    arguments: tuple[Argument, ...]
    returns_rows: bool

    @classmethod
    def parse(cls, query: NamedQuery) -> "FunctionCall":
        match = _CALL.fullmatch(query.sql)
        if match is None:
            raise ValueError(f"query {query.name} is not `SELECT [* FROM] wq_..._vN(p_x => %(x)s::type, ...)`")
        arguments = []
        text = match["arguments"].strip()
        for part in (p.strip() for p in text.split(",")) if text else ():
            argument = _ARGUMENT.fullmatch(part)
            if argument is None:
                raise ValueError(f"query {query.name}: argument {part!r} is not `p_x => %(x)s::type`")
            if argument["name"] != "p_" + argument["placeholder"]:
                raise ValueError(f"query {query.name}: {argument['name']} must take %(" +
                                 argument["name"][2:] + ")s")
            arguments.append(Argument(argument["name"], argument["placeholder"], argument["type"]))
        return cls(query.name, query.sql, match["function"], tuple(arguments), bool(match["rows"]))

    def bind(self, values: Mapping[str, Any]) -> list[tuple[Argument, Any]]:
        """Each argument with its value from `values` (keyed by placeholder); exactly these names."""
        expected = {a.placeholder for a in self.arguments}
        if set(values) != expected:
            raise TypeError(f"call {self.name} takes {sorted(expected)}, got {sorted(values)}")
        return [(argument, values[argument.placeholder]) for argument in self.arguments]


@lru_cache(maxsize=None)
def postgres_calls() -> dict[str, FunctionCall]:
    """The calls of sql/postgres/queries.sql, by name."""
    return {name: FunctionCall.parse(query) for name, query in named_queries("postgres/queries.sql").items()}


def migration_files(dialect: str) -> list[tuple[int, str, Path]]:
    """(version, name, path) of sql/<dialect>/NNN_name.sql, in version order."""
    found = []
    for path in sorted((SQL_DIR / dialect).glob("[0-9][0-9][0-9]_*.sql")):
        version = int(path.name[:3])
        found.append((version, path.stem, path))
    versions = [v for v, _, _ in found]
    if len(versions) != len(set(versions)):
        raise RuntimeError(f"two migrations share a version number in {SQL_DIR / dialect}")
    return found


def latest_version(dialect: str) -> int:
    return max(version for version, _, _ in migration_files(dialect))


def newer_schema_message(where: str, version: int, dialect: str) -> str:
    """Why a database migrated by a newer version of this tool is refused (it is never changed)."""
    return (f"{where} has queue schema version {version}, newer than this version of the tool knows "
            f"({latest_version(dialect)}): upgrade the tool; nothing was changed")


# Moves a `tasks` table in the legacy shape (docs/MIGRATING.md) aside before the numbered migrations run (the rows
# are copied in by 100_seed_compat.sql). Run by every migration and first in `install_sql()`.
SEED_BEFORE_MIGRATIONS = SQL_DIR / "postgres" / "seed" / "before_migrations.sql"


# The Postgres migrations' own bookkeeping: which versions are applied.
CREATE_POSTGRES_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS queue_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now())"""


def install_sql() -> str:
    """Every Postgres migration as one script for a SQL editor (Supabase's): one transaction, recording
    its versions, then telling PostgREST to reload its schema cache. Idempotent."""
    parts = ["-- The video-worker queue: table, functions, indexes and policies. Idempotent.",
             "BEGIN;", f"-- ---- {SEED_BEFORE_MIGRATIONS.name} ----\n" + SEED_BEFORE_MIGRATIONS.read_text(encoding="utf-8"),
             CREATE_POSTGRES_MIGRATIONS_TABLE.strip() + ";"]
    for version, name, path in migration_files("postgres"):
        parts.append(f"-- ---- {path.name} ----\n" + path.read_text(encoding="utf-8"))
        parts.append(f"INSERT INTO queue_migrations (version, name) VALUES ({version}, '{name}') "
                     "ON CONFLICT (version) DO NOTHING;")
    parts += ["COMMIT;", "NOTIFY pgrst, 'reload schema';", ""]
    return "\n".join(parts)
