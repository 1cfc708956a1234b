"""The SQLite queue: stdlib sqlite3, WAL, one connection per thread, every write in BEGIN IMMEDIATE.

What the database does is in sql/sqlite/: the schema with its triggers (dependency counters, cascades,
awaiting orchestrators) and queries.sql (every statement, named). This module only sequences them.

A locked database (another process holding the write lock past the busy timeout), a disk I/O error or
a file that cannot be opened raises DatabaseUnavailable (the broken connection is dropped); the
worker's ReconnectingQueue waits it out like a lost PostgreSQL connection.

Why BEGIN IMMEDIATE: a deferred transaction that reads and then writes fails with SQLITE_BUSY under
concurrent writers (WAL cannot upgrade a stale read snapshot) even with a busy timeout; an immediate one
waits for the write lock up front and never fails that way.
"""
from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Iterator, Optional, Sequence

from .base import Migration, TaskQueue
from .connections import ThreadConnections
from .fleet import (
    DurationBucket,
    EventCount,
    FleetOverview,
    RunFilter,
    RunSummary,
    StatusCount,
    WorkerBeat,
    WorkerInfo,
    WorkerRecord,
    cumulative_durations,
    run_summaries,
)
from .model import Claim, DatabaseUnavailable, InvalidTask, NewTask, QueueError, SchemaTooNew, Task
from .rows import after, parse_params, parse_timestamp, task_from_row, to_db_text, utc_now
from .seed_upgrade import SeedTable, has_table
from .sqlfiles import latest_version, migration_files, named_queries, newer_schema_message

QUERIES = {name: query.sql for name, query in named_queries("sqlite/queries.sql").items()}
BUSY_TIMEOUT_SECONDS = 30.0
CHANGE_CHECK_SECONDS = 0.005   # PRAGMA data_version poll period while idle
PREFER_MODEL_WINDOW = 32       # candidates looked at when a worker prefers its loaded model
# sqlite3.OperationalError messages that mean "the database cannot be used right now", not "the
# statement is wrong"
OUTAGE_MESSAGES = ("database is locked", "database table is locked", "disk i/o error",
                   "unable to open database file", "database or disk is full", "database is busy")

CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS queue_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"""


def split_statements(script: str) -> list[str]:
    """Complete SQL statements of a script (trigger bodies with inner semicolons stay whole)."""
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            if pending.strip():
                statements.append(pending.strip())
            pending = ""
    if pending.strip() and not all(l.strip().startswith("--") or not l.strip()
                                   for l in pending.splitlines()):
        raise QueueError(f"incomplete SQL statement at the end of a migration: {pending[:80]!r}")
    return statements


def is_outage(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and str(exc).lower().startswith(OUTAGE_MESSAGES)

def apply_statement(conn: sqlite3.Connection, statement: str) -> None:
    """One migration statement. SQLite has no `ADD COLUMN IF NOT EXISTS`: an `ALTER TABLE ... ADD COLUMN`
    of a column that exists is skipped, so every migration may run again, as the Postgres ones can."""
    try:
        conn.execute(statement)
    except sqlite3.OperationalError as exc:
        code = "\n".join(line for line in statement.splitlines() if not line.lstrip().startswith("--"))
        if not (code.lstrip().upper().startswith("ALTER TABLE") and "duplicate column name" in str(exc)):
            raise


class SqliteQueue(TaskQueue):
    def __init__(self, path: str | os.PathLike, busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> None:
        self.busy_timeout = float(busy_timeout)
        self.path = Path(path).expanduser().resolve()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connections: ThreadConnections[sqlite3.Connection] = ThreadConnections(self._open)
        self._seen_version: Optional[int] = None

    # ---- connections ------------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None,
                               check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode: a crash of the process loses nothing; a power cut may lose the last commits.
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    @contextmanager
    def _unavailable_as_outage(self, maybe_applied: bool = False, dedicated: Optional[str] = None) -> Iterator[None]:
        """A locked, unreadable or unopenable database: drop the connection in use (this thread's, or
        the dedicated one named), raise DatabaseUnavailable."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            if not is_outage(exc):
                raise
            if dedicated:
                self._connections.discard_dedicated(dedicated)
            else:
                self._connections.discard()
            raise DatabaseUnavailable(f"SQLite database {self.path}: {exc}", maybe_applied=maybe_applied) from None

    def _read(self, query: str, params: dict) -> list[sqlite3.Row]:
        with self._unavailable_as_outage():
            return self._connections.get().execute(QUERIES[query], params).fetchall()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._unavailable_as_outage():
            conn = self._connections.get()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                with contextlib.suppress(sqlite3.Error):  # an I/O error may have rolled it back already
                    conn.execute("ROLLBACK")
                raise
        with self._unavailable_as_outage(maybe_applied=True):  # the commit may have reached the disk
            conn.execute("COMMIT")

    def close(self) -> None:
        self._connections.close_all()

    # ---- set-up -----------------------------------------------------------------------------------
    def migrate(self) -> Migration:
        """Apply sql/sqlite/NNN_*.sql not yet recorded in queue_migrations, in one immediate transaction
        (several processes starting at once apply each version exactly once). A legacy queue
        (docs/MIGRATING.md) is upgraded in the same transaction, after a backup copy (seed_upgrade.py); a schema newer than
        these files is refused, unchanged."""
        applied_now = []
        with self._write() as conn:
            if has_table(conn, "queue_migrations"):
                newest = conn.execute("SELECT max(version) FROM queue_migrations").fetchone()[0]
                if newest is not None and newest > latest_version("sqlite"):
                    raise SchemaTooNew(newer_schema_message(str(self.path), newest, "sqlite"))
            seed = SeedTable.find(conn, self.path)
            conn.execute(CREATE_MIGRATIONS_TABLE)
            done = {row[0] for row in conn.execute("SELECT version FROM queue_migrations")}
            for version, name, path in migration_files("sqlite"):
                if version in done:
                    continue
                for statement in split_statements(path.read_text(encoding="utf-8")):
                    apply_statement(conn, statement)
                conn.execute("INSERT INTO queue_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                             (version, name, to_db_text(utc_now())))
                applied_now.append(version)
            copied = seed.copy_rows(conn) if seed is not None else None
        return Migration(before=max(done, default=None), after=max(done | set(applied_now), default=None),
                         applied=tuple(applied_now), original_rows=copied)

    def schema_version(self) -> Optional[int]:
        [row] = self._read("schema_version", {})
        return None if row[0] is None else int(row[0])

    # ---- clients ----------------------------------------------------------------------------------
    def enqueue(self, tasks: Sequence[NewTask]) -> list[str]:
        tasks = list(tasks)
        with self._write() as conn:
            self._insert(conn, tasks, new_ids_only=True)
        return [task.id for task in tasks]

    def _insert(self, conn: sqlite3.Connection, tasks: list[NewTask], new_ids_only: bool = False) -> None:
        """Insert rows; an existing id is refused (new_ids_only: enqueue) or left as it is (fan-out)."""
        referenced = sorted({dep for task in tasks for dep in task.dependant_on})
        existing = {row[0] for row in conn.execute(QUERIES["existing_ids"], {"ids": json.dumps(referenced)})}
        check_dependencies(tasks, existing)
        now = to_db_text(utc_now())
        for task in tasks:
            inserted = conn.execute(QUERIES["insert"], {
                "id": task.id, "task_type": task.task_type, "params": params_json(task),
                "dependant_on": json.dumps(task.dependant_on) if task.dependant_on else None,
                "run_id": task.run_id, "project_id": task.project_id,
                "parent_task_id": task.parent_task_id, "priority": task.priority,
                "max_attempts": task.max_attempts, "now": now,
            }).rowcount
            if new_ids_only and not inserted:
                raise InvalidTask(f"a task with id {task.id} already exists", field="id")

    def get(self, task_id: str) -> Optional[Task]:
        rows = self._read("get", {"task_id": task_id})
        return task_from_row(dict(rows[0])) if rows else None

    def list_run(self, run_id: str) -> list[Task]:
        return [task_from_row(dict(row)) for row in self._read("list_run", {"run_id": run_id})]

    def cancel(self, task_id: str, reason: str = "cancelled by user") -> int:
        with self._write() as conn:
            # the rows the cascade trigger cancelled too, as the event counters saw them (181_task_events.sql)
            before = conn.execute(QUERIES["cancelled_count"]).fetchone()[0]
            conn.execute(QUERIES["cancel"], {"task_id": task_id, "reason": reason,
                                             "now": to_db_text(utc_now())})
            return conn.execute(QUERIES["cancelled_count"]).fetchone()[0] - before

    def retry(self, task_id: str, note: str = "retried") -> int:
        with self._write() as conn:
            ids = [row[0] for row in conn.execute(QUERIES["retry_reach"], {"task_id": task_id})]
            if not ids:
                return 0
            values = {"ids": json.dumps(ids), "note": note, "now": to_db_text(utc_now())}
            conn.execute(QUERIES["retry_awaiting"], values)
            conn.execute(QUERIES["retry_queued"], values)
            return len(ids)

    def requeue_expired(self, task_id: str, note: str = "requeued") -> int:
        with self._write() as conn:
            return conn.execute(QUERIES["requeue_expired"], {"task_id": task_id, "note": note,
                                                               "now": to_db_text(utc_now())}).rowcount

    def pending_count(self, task_types: Optional[Sequence[str]] = None) -> int:
        [row] = self._read("pending_count", {"task_types": types_json(task_types)})
        return int(row[0])

    # ---- workers ----------------------------------------------------------------------------------
    def claim(self, worker_id: str, lease_seconds: float, task_types: Optional[Sequence[str]] = None,
              prefer_model: Optional[str] = None) -> Optional[Claim]:
        with self._unavailable_as_outage(dedicated="watch"):
            self._start_watching()
        with self._write() as conn:
            while True:
                now = utc_now()
                row = conn.execute(QUERIES["claim"], {
                    "worker_id": worker_id, "now": to_db_text(now),
                    "lease_until": to_db_text(after(now, lease_seconds)),
                    "task_types": types_json(task_types),
                    "prefer_model": prefer_model,
                    "window": 1 if prefer_model is None else PREFER_MODEL_WINDOW,
                }).fetchone()
                if row is None:
                    return None
                row = dict(row)
                if row["params_kind"] != "object":
                    # nested past SQLite's JSON depth: the message the enqueue would have given
                    problem = getattr(parse_params(row["params"]), "problem", None)
                    conn.execute(QUERIES["fail_unreadable_params"], {
                        "task_id": row["id"], "now": to_db_text(now),
                        "error_message": problem or f"params must be a JSON object, got {row['params_kind']}"})
                    continue
                task = task_from_row(row)
                return Claim(task=task, worker_id=worker_id, attempt=task.attempts)

    def claimed_by(self, worker_id: str) -> list[Task]:
        return [task_from_row(dict(row)) for row in self._read("claimed_by", {"worker_id": worker_id})]

    def _fenced(self, name: str, claim: Claim, **values) -> bool:
        values.update(task_id=claim.task_id, worker_id=claim.worker_id, attempt=claim.attempt,
                      now=to_db_text(utc_now()))
        with self._write() as conn:
            return conn.execute(QUERIES[name], values).rowcount == 1

    def heartbeat(self, claim: Claim, lease_seconds: float) -> bool:
        return self._fenced("heartbeat", claim, lease_until=to_db_text(after(utc_now(), lease_seconds)))

    def set_progress(self, claim: Claim, progress: float, message: str = "") -> bool:
        return self._fenced("progress", claim, progress=float(progress), message=message)

    def record_thumbnail(self, claim: Claim, thumbnail_url: str) -> bool:
        return self._fenced("record_thumbnail", claim, thumbnail_url=thumbnail_url)

    def record_ignored_keys(self, claim: Claim, keys: Sequence[str]) -> bool:
        return self._fenced("record_ignored_keys", claim, keys=json.dumps(list(keys)) if keys else None)

    def complete(self, claim: Claim, output_location: Optional[str]) -> bool:
        return self._fenced("complete", claim, output_location=output_location)

    def fail(self, claim: Claim, error_message: str, retry: bool = False,
             retry_delay_seconds: float = 0.0) -> bool:
        return self._fenced("fail", claim, error_message=error_message, retry=bool(retry),
                            delay_until=to_db_text(after(utc_now(), max(0.0, retry_delay_seconds))))

    def release(self, claim: Claim) -> bool:
        return self._fenced("release", claim)

    def fan_out(self, claim: Claim, children: Sequence[NewTask], awaited_task_id: str) -> bool:
        fence = {"task_id": claim.task_id, "worker_id": claim.worker_id, "attempt": claim.attempt}
        with self._write() as conn:
            if conn.execute(QUERIES["owns"], fence).fetchone() is None:
                return False
            parent = claim.task
            self._insert(conn, [adopt(child, parent) for child in children])
            if awaited_task_id == claim.task_id:
                raise InvalidTask(f"task {claim.task_id} cannot await itself")
            if conn.execute(QUERIES["get"], {"task_id": awaited_task_id}).fetchone() is None:
                raise InvalidTask(f"awaited task {awaited_task_id} does not exist and is not a child")
            now = to_db_text(utc_now())
            conn.execute(QUERIES["await"], dict(fence, awaited_task_id=awaited_task_id, now=now))
            conn.execute(QUERIES["end_if_awaited_ended"], {"task_id": claim.task_id, "now": now})
            return True

    def sweep_expired(self) -> int:
        with self._write() as conn:
            return conn.execute(QUERIES["sweep_expired"], {"now": to_db_text(utc_now())}).rowcount

    # ---- the workers registry ---------------------------------------------------------------------
    def register_worker(self, info: WorkerInfo, forget_after_seconds: float) -> None:
        now = utc_now()
        with self._write() as conn:
            conn.execute(QUERIES["forget_workers"], {"before": to_db_text(after(now, -forget_after_seconds))})
            conn.execute(QUERIES["register_worker"], dict(info.as_json(), now=to_db_text(now)))

    def beat_worker(self, beat: WorkerBeat) -> bool:
        with self._write() as conn:
            return conn.execute(QUERIES["beat_worker"], dict(beat.__dict__, now=to_db_text(utc_now()))).rowcount == 1

    def list_workers(self, seen_within_seconds: float) -> list[WorkerRecord]:
        now = utc_now()
        rows = self._connections.get().execute(QUERIES["list_workers"], {
            "since": to_db_text(after(now, -seen_within_seconds))}).fetchall()
        return [WorkerRecord.from_row(dict(row), silent_seconds=(
            now - parse_timestamp(row["last_seen_at"])).total_seconds()) for row in rows]

    # ---- read-only views of the fleet -------------------------------------------------------------
    def status_counts(self) -> list[StatusCount]:
        rows = self._connections.get().execute(QUERIES["status_counts"]).fetchall()
        return [StatusCount.from_row(row) for row in rows]

    def fleet_overview(self, within_seconds: float) -> FleetOverview:
        now = utc_now()
        row = self._connections.get().execute(QUERIES["fleet_overview"], {
            "since": to_db_text(after(now, -within_seconds))}).fetchone()
        oldest = parse_timestamp(row["oldest_queued_at"])
        return FleetOverview.from_row(row, None if oldest is None else (now - oldest).total_seconds())

    def list_runs(self, limit: int, offset: int = 0, status: Optional[str] = None,
                  where: Optional[RunFilter] = None) -> list[RunSummary]:
        conn = self._connections.get()
        where = where or RunFilter()
        page = {"status": where.status or status, "limit": max(0, int(limit)), "offset": max(0, int(offset))}
        if where.narrows:
            since = None if where.since_seconds is None else to_db_text(after(utc_now(), -where.since_seconds))
            rows = conn.execute(QUERIES["list_roots_filtered"], dict(
                page, task_type=where.task_type, project_id=where.project_id, since=since, search=where.search))
        else:
            rows = conn.execute(QUERIES["list_roots"], page)
        roots = [task_from_row(dict(row)) for row in rows]
        run_ids = sorted({root.run_id for root in roots if root.run_id})
        counts = [dict(row) for row in conn.execute(QUERIES["run_counts"], {"run_ids": json.dumps(run_ids)})]
        return run_summaries(roots, counts)

    def event_counts(self) -> list[EventCount]:
        return [EventCount.from_row(row) for row in self._connections.get().execute(QUERIES["event_counts"])]

    def duration_counts(self) -> list[DurationBucket]:
        return cumulative_durations(self._connections.get().execute(QUERIES["duration_counts"]).fetchall())

    def task_durations(self, bounds: Sequence[float]) -> list[DurationBucket]:
        rows = self._connections.get().execute(QUERIES["task_durations"], {
            "bounds": json.dumps([float(b) for b in bounds])}).fetchall()
        return [DurationBucket.from_row(row) for row in rows]

    # ---- waking up --------------------------------------------------------------------------------
    def _start_watching(self) -> sqlite3.Connection:
        """The change-check connection; its first data_version is read before the first claim, so a
        change made between a fruitless claim and the next wait is never missed."""
        return self._connections.dedicated("watch", self._open_watch)

    def _open_watch(self) -> sqlite3.Connection:
        watch = self._open()
        self._seen_version = data_version(watch)
        return watch

    def wait_for_change(self, timeout: float) -> None:
        """Return when another connection committed since the last return (or the first claim), when
        the earliest retry back-off ends, or after `timeout` seconds."""
        with self._unavailable_as_outage(dedicated="watch"):
            self._wait_for_change(timeout)

    def _wait_for_change(self, timeout: float) -> None:
        watch = self._start_watching()
        deadline = time.monotonic() + max(0.0, timeout)
        now = utc_now()
        earliest = watch.execute(QUERIES["next_scheduled"], {"now": to_db_text(now)}).fetchone()[0]
        if earliest is not None:
            wait = (parse_timestamp(earliest) - now).total_seconds()
            deadline = min(deadline, time.monotonic() + max(0.0, wait))
        while True:
            version = data_version(watch)
            if version != self._seen_version:
                self._seen_version = version
                return
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(CHANGE_CHECK_SECONDS, left))


def data_version(conn: sqlite3.Connection) -> int:
    """Changes when another connection commits to the database."""
    return conn.execute("PRAGMA data_version").fetchone()[0]


def types_json(task_types: Optional[Sequence[str]]) -> Optional[str]:
    """A task-type filter as the queries take it: a JSON list, or NULL for all types."""
    return None if task_types is None else json.dumps(list(task_types))


def params_json(task: NewTask) -> str:
    try:
        return json.dumps(task.params, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidTask(f"task {task.id}: params cannot be stored as JSON: {exc}") from None


def check_dependencies(tasks: Sequence[NewTask], existing: set[str]) -> None:
    """Each dependency names a row that exists or comes earlier in the batch (else InvalidTask)."""
    earlier: set[str] = set()
    for task in tasks:
        for dep in task.dependant_on:
            if dep == task.id:
                raise InvalidTask(f"task {task.id} lists itself in dependant_on")
            if dep not in earlier and dep not in existing:
                raise InvalidTask(f"task {task.id}: dependant_on names task {dep}, which does not exist "
                                  "(it must exist already or come earlier in the same batch)")
        earlier.add(task.id)


def adopt(child: NewTask, parent: Task) -> NewTask:
    """A fanned-out child: parent_task_id is the orchestrator; run and project default to its own."""
    return replace(child, parent_task_id=parent.id, run_id=child.run_id or parent.run_id,
                   project_id=child.project_id or parent.project_id)
