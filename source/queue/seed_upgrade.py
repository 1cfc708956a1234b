"""Upgrading the original tool's SQLite queue in place (the Postgres one: sql/postgres/seed/ and
sql/postgres/100_seed_compat.sql).

The original tool kept its rows in `tasks (id, task_type, params, status, dependant_on, output_location,
created_at, updated_at, project_id)`. `SqliteQueue.migrate()` recognises that table (no
`queue_migrations`, no `priority` column) and, inside its one write transaction:

1. `SeedTable.find` copies the whole database file first (`<db>.original-<UTC time>`, named in the log),
   then moves the old table aside;
2. the numbered migrations create this queue's tables;
3. `SeedTable.copy_rows` copies every row over and drops the old table.

What a row becomes (`convert_row`): the same id, task type, params, project and output; statuses
mapped; a Failed row's output_location (where the original tool wrote the reason) becomes its
error_message; timestamps converted to UTC text (the original tool wrote `created_at` in local time
without a zone, `updated_at` as UTC with a `Z`); run_id from the params; a row that was In Progress
gets an expired lease, so the first sweep puts it back in the queue. Dependencies become edges; a Queued
row waiting on a row that does not exist or that failed ends Failed saying so (the original tool left
such rows queued forever). A database that is neither the original tool's nor this queue's is refused,
unchanged.
"""
from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

from .model import InvalidTask, QueueError, Status, normalise_dependencies
from .rows import parse_params, to_db_text, utc_now

log = logging.getLogger("queue")

PENDING_TABLE = "seed_tasks_pending_copy"
# The columns the original tool's SQLite table had (depends_on: an early spelling of dependant_on).
SEED_COLUMNS = {"id", "task_type", "params", "status", "dependant_on", "depends_on", "output_location",
                "created_at", "updated_at", "project_id", "worker_id"}
STATUS_SPELLINGS = {
    "queued": Status.QUEUED, "pending": Status.QUEUED,
    "in progress": Status.IN_PROGRESS, "in_progress": Status.IN_PROGRESS, "running": Status.IN_PROGRESS,
    "complete": Status.COMPLETE, "completed": Status.COMPLETE,
    "failed": Status.FAILED, "error": Status.FAILED,
    "cancelled": Status.CANCELLED, "canceled": Status.CANCELLED,
}
DEFAULT_TASK_TYPE = "standard_wgp_task"   # what the original tool's own migration gave rows without one
LOST_WORKER = "original-tool"


def table_columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def has_table(conn: sqlite3.Connection, table: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone() is not None


@dataclass
class SeedTable:
    """The original tool's table, moved aside, waiting for its rows to be copied."""

    columns: list[str]
    backup: Path

    @classmethod
    def find(cls, conn: sqlite3.Connection, db_path: Path) -> Optional["SeedTable"]:
        """None for a new database or this queue's own; for the original tool's: back it up, move its
        table aside and return it. Must run inside the migration's write transaction."""
        if has_table(conn, "queue_migrations") or not has_table(conn, "tasks"):
            return None
        columns = table_columns(conn, "tasks")
        if not {"id", "params", "status"} <= set(columns) or "priority" in columns:
            raise QueueError(f"{db_path} has a tasks table this tool does not know (columns: {', '.join(columns)}); "
                             "nothing was changed")
        if has_table(conn, PENDING_TABLE):
            raise QueueError(f"{db_path} holds {PENDING_TABLE} from an upgrade that stopped half way; "
                             "restore the backup copy beside it, then run again")
        backup = backup_copy(db_path)
        log.warning("upgrading the original tool's queue in %s; backup copy first: %s", db_path, backup)
        dropped = sorted(set(columns) - SEED_COLUMNS)
        if dropped:
            log.warning("column(s) %s are not carried over (their values stay in the backup copy)",
                        ", ".join(dropped))
        conn.execute(f"ALTER TABLE tasks RENAME TO {PENDING_TABLE}")
        return cls(columns=columns, backup=backup)

    def copy_rows(self, conn: sqlite3.Connection) -> int:
        """Every row of the old table into the new one, dependencies as edges; then the old table goes.
        Returns how many rows were copied."""
        rows = [dict(zip(["rowid", *self.columns], values, strict=True)) for values in conn.execute(
            f"SELECT rowid, {', '.join(self.columns)} FROM {PENDING_TABLE} ORDER BY rowid")]
        now = utc_now()
        converted = [convert_row(row, now) for row in rows]
        converted.sort(key=lambda row: row["created_at"])  # stable: ties keep the old table's order
        end_unrunnable_rows(converted)

        # This queue's rule "params.task_id is the row id" (100_seed_compat.sql) must not rename rows
        # being copied: their ids are what other rows depend on. Set aside while copying.
        trigger = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = "
                               "'tasks_id_from_params'").fetchone()
        if trigger:
            conn.execute("DROP TRIGGER tasks_id_from_params")
        columns = [c for c in converted[0] if c != "dependencies"] if converted else []
        for row in converted:
            conn.execute(f"INSERT INTO tasks ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
                         [row[c] for c in columns])
        if trigger:
            conn.execute(trigger[0])
        ids = {row["id"] for row in converted}
        for row in converted:
            if not row["dependencies"]:
                continue
            conn.execute("UPDATE tasks SET dependant_on = ? WHERE id = ?", (json.dumps(row["dependencies"]), row["id"]))
            conn.executemany("INSERT OR IGNORE INTO task_dependencies (task_id, depends_on) VALUES (?, ?)",
                             [(row["id"], dep) for dep in row["dependencies"] if dep in ids])
        conn.execute("""UPDATE tasks SET unmet_dependencies = (
                            SELECT count(*) FROM task_dependencies AS d JOIN tasks AS p ON p.id = d.depends_on
                            WHERE d.task_id = tasks.id AND p.status <> 'Complete')
                        WHERE dependant_on IS NOT NULL""")
        conn.execute(f"DROP TABLE {PENDING_TABLE}")
        return len(converted)


def backup_copy(db_path: Path) -> Path:
    """A consistent copy of the database file beside it (SQLite's backup API: committed data, WAL
    included), named after the time; never overwrites an earlier copy."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    target = db_path.with_name(f"{db_path.name}.original-{stamp}")
    source = sqlite3.connect(db_path)
    try:
        destination = sqlite3.connect(target)
        try:
            source.backup(destination)
        finally:
            destination.close()
    finally:
        source.close()
    return target


def seed_timestamp(value: Any) -> Optional[datetime]:
    """A timestamp as the original tool wrote it, in UTC: ISO text with a zone (`...Z`) as given; without
    one it was `datetime.now()`, this machine's local time. Unreadable: None."""
    if value is None or not str(value).strip():
        return None
    try:
        moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # a naive datetime read as local time
    return moment.astimezone(timezone.utc)


def run_id_of(params: dict) -> Optional[str]:
    """The run a row belongs to, where the original tool's params say it."""
    details = params.get("orchestrator_details")
    for value in ((details or {}).get("run_id") if isinstance(details, dict) else None,
                  params.get("orchestrator_run_id"), params.get("run_id")):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def convert_row(row: dict, now: datetime) -> dict:
    """One row of the original table as a row of this queue's (plus `dependencies`, the ids it waits on)."""
    params_text = row.get("params")
    params = parse_params(params_text)
    original_status = row.get("status")
    status = STATUS_SPELLINGS.get(str(original_status or "").strip().lower())
    error = None
    output = row.get("output_location")
    if status is None:
        status, error = Status.FAILED, f"the original queue gave this row the status {original_status!r}"
    elif status == Status.FAILED:
        output, error = None, output or "failed in the original tool (no reason recorded)"
    raw_deps = row.get("dependant_on") if row.get("dependant_on") is not None else row.get("depends_on")
    try:
        dependencies = normalise_dependencies(raw_deps)
    except InvalidTask:
        dependencies = [str(raw_deps).strip()]
    created = seed_timestamp(row.get("created_at")) or seed_timestamp(row.get("updated_at")) or now
    updated = seed_timestamp(row.get("updated_at")) or created
    claimed = status in (Status.IN_PROGRESS, Status.COMPLETE, Status.FAILED)
    task_type = row.get("task_type") or params.get("task_type") or DEFAULT_TASK_TYPE
    project = row.get("project_id") or params.get("project_id")
    row_id = row.get("id") if row.get("id") not in (None, "") else params.get("task_id")
    return {
        "id": str(row_id) if row_id not in (None, "") else f"original-row-{row['rowid']}",
        "task_type": str(task_type),
        "params": params_text if isinstance(params_text, str) else json.dumps(params),
        "status": status,
        "run_id": run_id_of(params),
        "project_id": str(project) if project else None,
        "attempts": 1 if claimed else 0,
        "worker_id": (row.get("worker_id") or LOST_WORKER) if status == Status.IN_PROGRESS else row.get("worker_id"),
        "lease_expires_at": to_db_text(now) if status == Status.IN_PROGRESS else None,
        "output_location": output,
        "error_message": error,
        "created_at": to_db_text(created),
        "updated_at": to_db_text(updated),
        "finished_at": to_db_text(updated) if status in Status.TERMINAL else None,
        "dependencies": dependencies,
    }


def end_unrunnable_rows(rows: list[dict]) -> None:
    """A Queued row waiting on a row that does not exist, or (transitively) on one that failed or was
    cancelled, ends the same way, naming it: nothing stays Queued forever."""
    by_id = {row["id"]: row for row in rows}
    changed = True
    while changed:
        changed = False
        for row in rows:
            if row["status"] != Status.QUEUED:
                continue
            for dep in row["dependencies"]:
                parent = by_id.get(dep)
                if parent is None:
                    row["status"] = Status.FAILED
                    row["error_message"] = f"dependency {dep} does not exist (it was not in the original queue)"
                elif parent["status"] in (Status.FAILED, Status.CANCELLED):
                    row["status"] = parent["status"]
                    row["error_message"] = (f"dependency {dep} {parent['status'].lower()}: "
                                            f"{parent['error_message'] or parent['status'].lower()}")
                else:
                    continue
                row["finished_at"] = row["updated_at"]
                changed = True
                break
