"""noop: a task that renders nothing, for queue smoke tests and benchmarks.

Files: `params.py`, `steps.py`. No `plan.py`: there is no arithmetic (the task sleeps or spins for as
long as it is told). No `client.py`: rows are queued with `add_task.py --type noop` or by a program.
"""
from .. import TaskType, Workflow

WORKFLOW = Workflow(
    name="noop",
    task_types=(TaskType("noop", handler="steps:handle_noop", params="params:NoopParams",
                         summary="does nothing (queue smoke tests and benchmarks)",
                         example="params:EXAMPLE"),),
    renders=False,
)
