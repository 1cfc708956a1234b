"""Workflows: one package per workflow, each declaring its task types in its `__init__.py`.

A workflow package holds its task-type names, its typed parameter models (`params.py`), its pure
arithmetic where it has some (`plan.py`), its step handlers (`steps.py`) and its
`steerable_motion.py` subcommand (`client.py`) where it has one. Its `__init__.py` declares what it
offers as `WORKFLOW = Workflow(...)` and imports nothing heavy: handlers and models are named as
"module:attribute" inside the package and imported when first needed, so a worker serving only queue
tasks never imports torch.

`registry.py` collects the declarations of the packages listed in `WORKFLOWS`; `reference.py` writes the
parameter reference from them (docs/TASKS.md); `workdirs.py` removes the work folders of runs that have
ended. A new task type is a new package here (or a new entry in an existing one) plus its name in
`WORKFLOWS`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

# The workflow packages, in the order their subcommands appear in steerable_motion.py --help.
WORKFLOWS = ("travel", "perspective", "single", "utilities", "join", "edit", "redo", "noop")


@dataclass(frozen=True)
class TaskType:
    """One task type: the handler that runs it and the model its params are validated with."""

    name: str
    handler: str            # "module:function" inside the workflow package
    params: str             # "module:Class" inside the workflow package (a TaskParams subclass)
    summary: str = ""       # one line for --help and the reference
    internal: bool = False  # written by an orchestrator, not queued by people
    example: str = ""       # "module:name" of an example of its params (a dict, or a function making one)


@dataclass(frozen=True)
class Workflow:
    name: str
    task_types: tuple[TaskType, ...]
    client: Optional[str] = None   # "module:register" adding its steerable_motion.py subcommand
    renders: bool = True           # its handlers use the render engine (the worker checks it can start)
