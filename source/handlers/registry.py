"""task_type -> handler. The one list of known task types.

Each handler module is imported lazily so that a worker serving only queue tasks does not import torch.
"""
from __future__ import annotations

import importlib
from typing import Callable

# task_type -> "module:function" under source.handlers
_HANDLERS: dict[str, str] = {
    "noop": "demo:handle_noop",
    # issue 3 (render bridge)
    "wgp": "wgp:handle_wgp",
    "standard_wgp_task": "wgp:handle_wgp",
    "single_image": "wgp:handle_single_image",
    # issue 4 (travel)
    "travel_orchestrator": "travel:handle_orchestrator",
    "travel_segment": "travel:handle_segment",
    "travel_stitch": "travel:handle_stitch",
    # issue 5
    "different_perspective_orchestrator": "perspective:handle_orchestrator",
    "different_perspective_still": "perspective:handle_still",
    "different_perspective_guide": "perspective:handle_guide",
    "different_perspective_render": "perspective:handle_render",
    "different_perspective_final": "perspective:handle_final",
    "generate_openpose": "utilities:handle_generate_openpose",
    "extract_frame": "utilities:handle_extract_frame",
    "rife_interpolate_images": "utilities:handle_rife_interpolate_images",
    "upscale": "utilities:handle_upscale",
}


def known_task_types() -> list[str]:
    return sorted(_HANDLERS)


class UnknownTaskType(ValueError):
    """A task_type no handler serves; the message lists the known ones."""


def _target(task_type: str) -> tuple[str, str]:
    """(module, function) serving a task type; UnknownTaskType otherwise."""
    target = _HANDLERS.get(task_type)
    if target is None:
        raise UnknownTaskType(
            f"unknown task_type {task_type!r}; known types: {', '.join(known_task_types())}"
        )
    module_name, func_name = target.split(":")
    return module_name, func_name


def get_handler(task_type: str) -> Callable:
    """The handler for a task type; UnknownTaskType with the list of known types otherwise."""
    module_name, func_name = _target(task_type)
    module = importlib.import_module(f"source.handlers.{module_name}")
    return getattr(module, func_name)


def validate_params(task_type: str, params: dict) -> None:
    """Checks that can be made before a row is written (add_task.py, clients).

    A handler module may define `validate_params(task_type, params)` raising InvalidParams (or
    ValueError) with a message naming the field; modules must keep that import cheap (no torch at
    import time). Unknown task types raise UnknownTaskType listing the known ones.
    """
    module = importlib.import_module(f"source.handlers.{_target(task_type)[0]}")
    validator = getattr(module, "validate_params", None)
    if validator is not None:
        validator(task_type, params)
