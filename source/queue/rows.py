"""Shared by the backends: reading rows into `Task`s, new rows as JSON, UTC timestamps.

A backend reads a row as a mapping (column -> value) and calls `task_from_row`; extra columns (internal
counters) are ignored, so every transport (sqlite3, psycopg, PostgREST JSON) maps rows the same way.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, Optional, Sequence

from .model import (
    COLUMNS,
    DEFAULT_MAX_ATTEMPTS,
    PARAMS_TOO_DEEP,
    InvalidTask,
    NewTask,
    Task,
    UnreadableParams,
    normalise_dependencies,
)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def to_db_text(moment: Optional[datetime]) -> Optional[str]:
    """SQLite's timestamp form: UTC 'YYYY-MM-DD HH:MM:SS.ffffff' (sorts as text)."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def after(moment: datetime, seconds: float) -> datetime:
    return moment + timedelta(seconds=float(seconds))


def parse_timestamp(value: Any) -> Optional[datetime]:
    """A timestamp from any transport as an aware UTC datetime (naive values are taken as UTC)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value).strip().replace("Z", "+00:00")
        moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def parse_params(value: Any) -> dict:
    """params as a dict; text that is not a JSON object reads as {} (the claim fails such rows), text
    nested too deeply to decode as UnreadableParams (the claim fails it, saying so)."""
    if isinstance(value, dict):
        return value
    if isinstance(value, (str, bytes)):
        try:
            loaded = json.loads(value)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return {}
        except RecursionError:
            return UnreadableParams(PARAMS_TOO_DEEP)
        return loaded if isinstance(loaded, dict) else {}
    return {}


def loads_json(text: Any) -> Any:
    """JSON as a driver decodes a column (psycopg's jsonb loader): text nested too deeply for the
    decoder reads as UnreadableParams, for the claim to fail, rather than raising in the driver."""
    try:
        return json.loads(text)
    except RecursionError:
        return UnreadableParams(PARAMS_TOO_DEEP)


def parse_dependencies(value: Any) -> list[str]:
    try:
        return normalise_dependencies(value)
    except InvalidTask:
        return [str(value)]


def parse_key_list(value: Any) -> list[str]:
    """ignored_keys as stored: a JSON list (text in SQLite, jsonb in Postgres), or NULL."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return [value]
    return [str(item) for item in value] if isinstance(value, list) else []


def task_from_row(row: Mapping[str, Any]) -> Task:
    """A `Task` from a row mapping of any backend (unknown keys ignored)."""
    values = {name: row.get(name) for name in COLUMNS}
    values["params"] = parse_params(values["params"])
    values["dependant_on"] = parse_dependencies(values["dependant_on"])
    values["ignored_keys"] = parse_key_list(values["ignored_keys"])
    for name in ("created_at", "updated_at", "started_at", "finished_at", "lease_expires_at",
                 "scheduled_at"):
        values[name] = parse_timestamp(values[name])
    if values["progress"] is not None:
        values["progress"] = float(values["progress"])
    for name, default in (("priority", 0), ("attempts", 0), ("max_attempts", DEFAULT_MAX_ATTEMPTS)):
        values[name] = default if values[name] is None else int(values[name])
    return Task(**values)


def tasks_json(tasks: Sequence[NewTask]) -> list[dict]:
    """New rows as the JSON array the Postgres enqueue and fan-out functions take (InvalidTask when a
    row's params are not JSON: NaN, infinities, objects JSON cannot hold)."""
    payload = [new_task_to_json(task) for task in tasks]
    try:
        json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidTask(f"params cannot be stored as JSON: {exc}") from None
    return payload


def new_task_to_json(task: NewTask) -> dict:
    """A `NewTask` as the JSON object the Postgres enqueue/fan-out functions take."""
    return {
        "id": task.id,
        "task_type": task.task_type,
        "params": task.params,
        "dependant_on": list(task.dependant_on),
        "run_id": task.run_id,
        "project_id": task.project_id,
        "parent_task_id": task.parent_task_id,
        "priority": task.priority,
        "max_attempts": task.max_attempts,
    }
