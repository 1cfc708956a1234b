"""single: one generation through the render bridge, as a video (`wgp`, `standard_wgp_task`) or one
frame as a PNG (`single_image`).

Files: `params.py`, `steps.py`. No `plan.py`: one render, whose frame count and resolution the render
bridge snaps (source/wgp_utils.py). No `client.py`: rows are queued with `add_task.py --type wgp`.
"""
from .. import TaskType, Workflow

WORKFLOW = Workflow(
    name="single",
    task_types=(
        TaskType("wgp", handler="steps:handle_wgp", params="params:WgpParams",
                 summary="one video from a prompt and optional images, guide and mask", example="params:EXAMPLE"),
        TaskType("standard_wgp_task", handler="steps:handle_wgp", params="params:WgpParams",
                 summary="the same as wgp (the original tool's name)", example="params:EXAMPLE"),
        TaskType("single_image", handler="steps:handle_single_image", params="params:WgpParams",
                 summary="one frame as a PNG (wgp's params; frames is ignored)", example="params:EXAMPLE_IMAGE"),
    ),
)
