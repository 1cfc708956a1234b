"""TEMPORARY: the handlers of source/handlers/ served through the workflow registry while they move
into their own workflow packages. Removed when the last one has moved."""
from .. import TaskType, Workflow

_TYPES = {
    "wgp": "wgp:handle_wgp", "standard_wgp_task": "wgp:handle_wgp", "single_image": "wgp:handle_single_image",
    "different_perspective_orchestrator": "perspective:handle_orchestrator",
    "different_perspective_still": "perspective:handle_still",
    "different_perspective_guide": "perspective:handle_guide",
    "different_perspective_render": "perspective:handle_render",
    "different_perspective_final": "perspective:handle_final",
    "generate_openpose": "utilities:handle_generate_openpose", "extract_frame": "utilities:handle_extract_frame",
    "rife_interpolate_images": "utilities:handle_rife_interpolate_images", "upscale": "utilities:handle_upscale",
}

WORKFLOW = Workflow(
    name="legacy",
    task_types=tuple(TaskType(name, handler=f"shim:handle_{name}", params=f"shim:Params_{name}")
                     for name in _TYPES),
    client=None,
)
