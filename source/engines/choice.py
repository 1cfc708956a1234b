"""Which engine renders: the one place that decides (the engines themselves: source/engines/registry.py).

  diffusers  Hugging Face diffusers Wan pipelines; serves every model, `tiny` included
  tiny       any model name is served by the tiny random-weight model of the same kind (CPU tests, demos)
  wan2gp     a Wan2GP checkout (WAN2GP_PATH or ./Wan2GP) run by its own interpreter in a helper process
  preview    no model: the known frames morphed into each other (a run's timing on a CPU; engines/preview.py)
  auto       diffusers when a CUDA device exists, else tiny (with a loud warning: outputs are noise)
"""
from __future__ import annotations

import logging
from typing import Optional

from ..config import Settings
from ..errors import UserError
from .registry import engine_named, engine_names

log = logging.getLogger(__name__)

_warned_auto_tiny = False


class EngineChoiceError(UserError):
    """An engine name nobody serves."""


def choose_engine(requested: Optional[str], settings: Settings, cuda: Optional[bool] = None) -> str:
    """The engine for a render: `requested` (a task's choice) > the worker's --engine > auto."""
    global _warned_auto_tiny
    name = (requested or settings.engine or "auto").strip().lower()
    if name == "auto":
        if cuda is None:
            import torch

            cuda = torch.cuda.is_available()
        if cuda:
            return "diffusers"
        if not _warned_auto_tiny:
            log.warning("engine auto: no CUDA device, rendering with the TINY random-weight engine; outputs "
                        "are noise. --engine preview shows a run's timing with its known frames instead; "
                        "--engine diffusers forces real models on the CPU.")
            _warned_auto_tiny = True
        return "tiny"
    if name not in engine_names():
        raise EngineChoiceError(f"unknown engine {name!r}; engines: auto, {', '.join(engine_names())}")
    engine_named(name).check(settings)  # e.g. wan2gp: a checkout and its interpreter are where settings say
    return name

