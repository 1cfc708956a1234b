"""The different-perspective plan: the four step rows an orchestrator fans out, their ids and their order.

Pure: ids and rows from the orchestrator's row and the steps' params; nothing is read or written.
"""
from __future__ import annotations

from ...queue.model import NewTask, Task
from ...tasks.ids import child_task_id
from . import STEP_FINAL, STEPS


def step_task_id(orchestrator_id: str, run_id: str, step: str) -> str:
    """The id of one step's row (the same orchestrator and run always give the same ids)."""
    return child_task_id(orchestrator_id, run_id, step.rsplit("_", 1)[-1])


def step_task_ids(orchestrator_id: str, run_id: str) -> dict[str, str]:
    """Each step's task type -> its row id."""
    return {step: step_task_id(orchestrator_id, run_id, step) for step in STEPS}


def step_rows(orchestrator: Task, run_id: str, ids: dict[str, str], step_params: dict) -> tuple[list[NewTask], str]:
    """The four step rows, each waiting for the one before, and the id of the awaited (last) one."""
    children: list[NewTask] = []
    previous = None
    for step in STEPS:
        children.append(NewTask(task_type=step, params=dict(step_params), id=ids[step],
                                dependant_on=[previous] if previous else [], run_id=run_id,
                                project_id=orchestrator.project_id, parent_task_id=orchestrator.id,
                                priority=orchestrator.priority))
        previous = ids[step]
    return children, ids[STEP_FINAL]
