"""task_type -> handler and params model, collected from the workflows' declarations.

The one list of known task types. Declarations are cheap to import; a handler's module is imported
only when a row of its type runs, a params module when a row of its type is validated.
"""
from __future__ import annotations

import importlib
from functools import lru_cache
from typing import Any, Callable, Optional

from ..config import Settings
from ..errors import InvalidParams, UserError
from ..queue.model import Claim, Task, params_problem
from ..tasks.context import TaskContext
from ..tasks.params import TaskParams
from . import WORKFLOWS, TaskType, Workflow


class UnknownTaskType(UserError):
    """A task_type no handler serves; the message lists the known ones."""


@lru_cache(maxsize=None)
def workflows() -> tuple[tuple[str, Workflow], ...]:
    """(package, declaration) of every workflow, in WORKFLOWS order."""
    found = []
    for package in WORKFLOWS:
        module = importlib.import_module(f"{__package__}.{package}")
        found.append((package, module.WORKFLOW))
    return tuple(found)


@lru_cache(maxsize=None)
def _table() -> dict[str, tuple[str, TaskType]]:
    table: dict[str, tuple[str, TaskType]] = {}
    for package, workflow in workflows():
        for task_type in workflow.task_types:
            if task_type.name in table:
                raise RuntimeError(f"task type {task_type.name} is declared twice "
                                   f"({table[task_type.name][0]} and {package})")
            table[task_type.name] = (package, task_type)
    return table


def known_task_types() -> list[str]:
    return sorted(_table())


def lookup(task_type: str) -> tuple[str, TaskType]:
    """(workflow package, declaration) of a task type; UnknownTaskType listing the known ones."""
    entry = _table().get(task_type)
    if entry is None:
        from ..tasks.original_keys import RETIRED_TASK_TYPES

        why = f" ({RETIRED_TASK_TYPES[task_type]})" if task_type in RETIRED_TASK_TYPES else ""
        raise UnknownTaskType(f"unknown task_type {task_type!r}{why}; known types: {', '.join(known_task_types())}",
                              field="task_type")
    return entry


def _resolve(package: str, target: str) -> Any:
    module_name, attribute = target.split(":")
    module = importlib.import_module(f"{__package__}.{package}.{module_name}")
    return getattr(module, attribute)


def params_model(task_type: str) -> type[TaskParams]:
    package, declaration = lookup(task_type)
    return _resolve(package, declaration.params)


def example_params(task_type: str) -> Optional[dict]:
    """The example of a task type's params its workflow declares (docs/TASKS.md shows it), or None."""
    package, declaration = lookup(task_type)
    if not declaration.example:
        return None
    example = _resolve(package, declaration.example)
    return example() if callable(example) else example


def get_handler(task_type: str) -> Callable[[TaskContext], Any]:
    package, declaration = lookup(task_type)
    return _resolve(package, declaration.handler)


def parse_params(task_type: str, params: Any, settings: Optional[Settings] = None) -> TaskParams:
    """The row's params validated by its task type's model (InvalidParams naming the field). A row an app
    wrote past the size limits fails with the message its enqueue would have given."""
    problem = params_problem(params)
    if problem:
        raise InvalidParams(problem, field="params")
    return params_model(task_type).parse(params, settings)


def context_for(task: Task, settings: Settings, *, queue: Any = None, claim: Optional[Claim] = None,
                worker_id: str = "local") -> TaskContext:
    """The context a handler runs with: the row's params validated once, the settings unchanged."""
    claim = claim or Claim(task=task, worker_id=worker_id, attempt=max(task.attempts, 1))
    return TaskContext(task=task, claim=claim, params=parse_params(task.task_type, task.params, settings),
                       settings=settings, queue=queue)


def client_registrars() -> list[Callable]:
    """The `register(subparsers)` functions of the workflows that have a steerable_motion subcommand."""
    return [_resolve(package, workflow.client) for package, workflow in workflows() if workflow.client]
