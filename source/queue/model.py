"""The queue's vocabulary: status strings, the row, a new row, a claim, and the errors (defined in
source/errors.py with the rest of the family, and importable from here).

Defined once here; every backend, handler and command line imports these names.
"""
from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Optional

from ..errors import DatabaseUnavailable as DatabaseUnavailable  # the queue's errors, importable from here too
from ..errors import InvalidTask
from ..errors import QueueError as QueueError
from ..errors import SchemaTooNew as SchemaTooNew


class Status:
    QUEUED = "Queued"
    IN_PROGRESS = "In Progress"
    COMPLETE = "Complete"
    FAILED = "Failed"
    CANCELLED = "Cancelled"

    ALL = (QUEUED, IN_PROGRESS, COMPLETE, FAILED, CANCELLED)
    TERMINAL = (COMPLETE, FAILED, CANCELLED)


DEFAULT_MAX_ATTEMPTS = 3

# The columns of the tasks table, in order (both backends create exactly these).
COLUMNS = (
    "id", "task_type", "params", "status", "dependant_on", "run_id", "project_id",
    "parent_task_id", "awaiting_task_id", "priority", "attempts", "max_attempts",
    "worker_id", "lease_expires_at", "scheduled_at", "progress", "progress_message",
    "output_location", "error_message", "created_at", "updated_at", "started_at", "finished_at",
    "ignored_keys",
)


# The integer columns (priority, max_attempts) are 32-bit on every backend.
INT_LIMIT = 2 ** 31
# Ids (id, run_id, project_id, parent_task_id): run ids name files and folders, every id is shown in logs.
MAX_ID_LENGTH = 128
# Params of one row: a travel run of hundreds of images and prompts is a few hundred kilobytes, and no
# task type nests more than a few levels. These bound what a reader of the row must decode. PostgreSQL
# refuses rows past them with the same messages (sql/postgres/150_params_limits.sql).
MAX_PARAMS_BYTES = 1024 * 1024
MAX_PARAMS_DEPTH = 32
PARAMS_TOO_DEEP = f"params are nested more than {MAX_PARAMS_DEPTH} levels deep (the limit)"


class UnreadableParams(dict):
    """Params read back from a row that could not be decoded (nested too deeply for the JSON reader):
    empty, with `problem`, the one line the worker fails the row with."""

    def __init__(self, problem: str) -> None:
        super().__init__()
        self.problem = problem


def params_depth(params: Any) -> int:
    """How deeply objects and lists nest (a flat object is 1), counted without recursion."""
    deepest, pending = 0, [(params, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            items = value.values()
        elif isinstance(value, (list, tuple)):
            items = value
        else:
            continue
        deepest = max(deepest, depth)
        if depth > MAX_PARAMS_DEPTH:
            break
        pending.extend((item, depth + 1) for item in items)
    return deepest


def _size_problem(text: str) -> Optional[str]:
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_PARAMS_BYTES:
        return f"params are {size} bytes of JSON, above the limit of {MAX_PARAMS_BYTES} (give large inputs as files)"
    return None


def params_problem(params: Any) -> Optional[str]:
    """Why a row's params are beyond the size limits (nesting, bytes of JSON), or None: for rows an app
    wrote itself, which no `NewTask` checked (`check_storable`)."""
    problem = getattr(params, "problem", None)
    if problem:
        return problem
    if params_depth(params) > MAX_PARAMS_DEPTH:
        return PARAMS_TOO_DEEP
    import json

    try:
        return _size_problem(json.dumps(params, ensure_ascii=False, default=str))
    except (TypeError, ValueError):
        return None  # not JSON at all: the params model says what is wrong


def _non_finite_key(value: Any, path: str = "") -> Optional[str]:
    """The key path (`a.b[2]`) of the first NaN or infinity inside `value`, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return path or "params"
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _non_finite_key(item, f"{path}[{key}]" if isinstance(key, int) else
                                f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


def where_value(params: Any, path: str) -> Any:
    """The value at a key path `_non_finite_key` gave."""
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        params = params[int(part[1:-1])] if part.startswith("[") else params[part]
    return params


def check_storable(params: dict) -> None:
    """InvalidTask unless every backend can store these params the same: within the size limits, JSON
    without NaN or infinities, without NUL characters (PostgreSQL's jsonb refuses them) and without lone
    surrogates (not UTF-8)."""
    import json

    if params_depth(params) > MAX_PARAMS_DEPTH:
        raise InvalidTask(PARAMS_TOO_DEEP, field="params")
    try:
        text = json.dumps(params, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        where = _non_finite_key(params)
        if where is not None:
            raise InvalidTask(f"{where} must be a finite number, got {where_value(params, where)!r} "
                              "(NaN and infinities cannot be stored)", field=where) from None
        raise InvalidTask(f"params cannot be stored as JSON: {exc}") from None
    problem = _size_problem(text)
    if problem:
        raise InvalidTask(problem, field="params")
    if re.search(r"(?<!\\)(\\\\)*\\u0000", text):  # an escaped NUL, not an escaped backslash before "u0000"
        raise InvalidTask("params contain a NUL character (\\u0000), which cannot be stored")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidTask("params contain a lone surrogate (e.g. \\ud800), which is not valid text") from None


def new_task_id() -> str:
    return str(uuid.uuid4())


def check_id(value: Any, field: str = "id") -> str:
    """An id as every backend stores and every log shows it: a non-empty string of printable
    characters, without spaces at either end, at most MAX_ID_LENGTH long (else InvalidTask)."""
    if not isinstance(value, str):
        raise InvalidTask(f"{field} must be a string, got {type(value).__name__}", field=field)
    if not value.strip():
        raise InvalidTask(f"{field} must not be empty", field=field)
    if value != value.strip():
        raise InvalidTask(f"{field} {value!r} has spaces at its start or end", field=field)
    if len(value) > MAX_ID_LENGTH:
        raise InvalidTask(f"{field} is {len(value)} characters long, above the limit of {MAX_ID_LENGTH}", field=field)
    if not value.isprintable():
        bad = next(ch for ch in value if not ch.isprintable())
        raise InvalidTask(f"{field} {value!r} contains a character that is not printable ({bad!r})", field=field)
    return value


def normalise_dependencies(value: Any) -> list[str]:
    """`dependant_on` as clients write it: None, one id, a list of ids, or a JSON list in a string."""
    import json

    if value is None or value == "" or value == []:
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InvalidTask(f"dependant_on is not valid JSON: {exc.msg}") from None
        else:
            return [text]
    if isinstance(value, (list, tuple)):
        ids = []
        for item in value:
            if not isinstance(item, str) or not item.strip():
                raise InvalidTask(f"dependant_on must hold task ids (strings), got {item!r}")
            ids.append(item.strip())
        return list(dict.fromkeys(ids))
    raise InvalidTask(f"dependant_on must be a task id or a list of ids, got {type(value).__name__}")


@dataclass
class NewTask:
    """A row to insert. `id` is generated (UUID4) unless given; fan-out children give deterministic ids."""

    task_type: str
    params: dict
    id: Optional[str] = None
    dependant_on: list[str] = field(default_factory=list)
    run_id: Optional[str] = None
    project_id: Optional[str] = None
    parent_task_id: Optional[str] = None
    priority: int = 0
    max_attempts: int = DEFAULT_MAX_ATTEMPTS

    def __post_init__(self) -> None:
        if not isinstance(self.task_type, str) or not self.task_type.strip():
            raise InvalidTask("task_type must be a non-empty string", field="task_type")
        if not isinstance(self.params, dict):
            raise InvalidTask(f"params must be a JSON object, got {type(self.params).__name__}", field="params")
        self.dependant_on = normalise_dependencies(self.dependant_on)
        if self.id is None:
            # the queue makes a non-empty params.task_id the row's id (sql/*/100_seed_compat.sql)
            given = self.params.get("task_id")
            self.id = given.strip() if isinstance(given, str) and given.strip() else new_task_id()
        for name in ("id", "run_id", "project_id", "parent_task_id"):
            if name == "id" or getattr(self, name) is not None:
                check_id(getattr(self, name), name)
        if not isinstance(self.priority, int) or isinstance(self.priority, bool):
            raise InvalidTask("priority must be an integer", field="priority")
        if not -INT_LIMIT <= self.priority < INT_LIMIT:
            raise InvalidTask(f"priority must be between {-INT_LIMIT} and {INT_LIMIT - 1}, got {self.priority}",
                              field="priority")
        if not isinstance(self.max_attempts, int) or not 1 <= self.max_attempts < INT_LIMIT:
            raise InvalidTask(f"max_attempts must be an integer from 1 to {INT_LIMIT - 1}", field="max_attempts")
        check_storable(self.params)


@dataclass
class Task:
    """One row of the tasks table as read back from a backend."""

    id: str
    task_type: str
    params: dict
    status: str
    dependant_on: list[str] = field(default_factory=list)
    run_id: Optional[str] = None
    project_id: Optional[str] = None
    parent_task_id: Optional[str] = None
    awaiting_task_id: Optional[str] = None
    priority: int = 0
    attempts: int = 0
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    worker_id: Optional[str] = None
    lease_expires_at: Optional[datetime] = None
    scheduled_at: Optional[datetime] = None
    progress: Optional[float] = None
    progress_message: Optional[str] = None
    output_location: Optional[str] = None
    error_message: Optional[str] = None
    created_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None
    started_at: Optional[datetime] = None
    finished_at: Optional[datetime] = None
    ignored_keys: list[str] = field(default_factory=list)  # params keys its task type does not use

    @property
    def is_terminal(self) -> bool:
        return self.status in Status.TERMINAL


@dataclass(frozen=True)
class Claim:
    """The fencing token of one attempt: every later write names (task_id, worker_id, attempt)."""

    task: Task
    worker_id: str
    attempt: int

    @property
    def task_id(self) -> str:
        return self.task.id
