"""noop: a task that renders nothing, for queue smoke tests and benchmarks."""
from .. import TaskType, Workflow

WORKFLOW = Workflow(
    name="noop",
    task_types=(TaskType("noop", handler="steps:handle_noop", params="params:NoopParams",
                         summary="does nothing (queue smoke tests and benchmarks)",
                         example="params:EXAMPLE"),),
    renders=False,
)
