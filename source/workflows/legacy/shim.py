"""TEMPORARY adapter: new-style registry entries that run the old handlers with their old context."""
from __future__ import annotations

import importlib
from typing import Any

from pydantic import model_validator

from ...tasks.params import TaskParams
from . import _TYPES


def _old_module(task_type: str):
    return importlib.import_module(f"source.handlers.{_TYPES[task_type].split(':')[0]}")


def _params_class(task_type: str) -> type:
    class LegacyParams(TaskParams):
        @model_validator(mode="before")
        @classmethod
        def _old_checks(cls, data: Any) -> Any:
            validator = getattr(_old_module(task_type), "validate_params", None)
            if validator is not None and isinstance(data, dict):
                validator(task_type, data)
            return data

    LegacyParams.__name__ = f"Params_{task_type}"
    return LegacyParams


def _handler(task_type: str):
    def handle(ctx):
        from ...handlers.base import TaskContext as OldContext

        module_name, function = _TYPES[task_type].split(":")
        old = OldContext(task=ctx.task, claim=ctx.claim, output_dir=ctx.output_dir, work_dir=ctx.work_dir,
                         db_dir=ctx.settings.db_dir, engine=ctx.settings.engine, debug=ctx.settings.debug,
                         settings=ctx.settings, queue=ctx.queue, lost=ctx.lost, _progress=ctx.progress_sink,
                         log=ctx.log)
        return getattr(importlib.import_module(f"source.handlers.{module_name}"), function)(old)
    handle.imports = (f"source.handlers.{_TYPES[task_type].split(':')[0]}",)  # imported late; checked early
    return handle


for _name in _TYPES:
    globals()[f"Params_{_name}"] = _params_class(_name)
    globals()[f"handle_{_name}"] = _handler(_name)
