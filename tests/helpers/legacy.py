"""TEMPORARY, while source/handlers/ moves into source/workflows/: the old handler functions by task
type (called with the old TaskContext), and enqueue-time validation through the new registry."""
from __future__ import annotations

import importlib

from source.workflows.legacy import _TYPES
from source.workflows.registry import parse_params


def get_handler(task_type: str):
    module_name, function = _TYPES[task_type].split(":")
    return getattr(importlib.import_module(f"source.handlers.{module_name}"), function)


def validate_params(task_type: str, params: dict) -> None:
    parse_params(task_type, params)
