"""Model residency: one pipeline per worker process, kept across tasks for the same model.

A different model frees the previous pipeline first (and returns its GPU memory) before loading the
next, so two big models never sit in memory together. `loads` and `last_freed` let tests observe it.
"""
from __future__ import annotations

import gc
import logging
import weakref
from typing import Any, Callable, Hashable, Optional

from .loras import AdapterState
from .quiet import quiet_loading_bars

log = logging.getLogger(__name__)


class Residency:
    def __init__(self) -> None:
        self.key: Optional[Hashable] = None
        self.pipeline: Any = None
        self.adapters = AdapterState()
        self.loads = 0                         # pipelines loaded by this process
        self.last_freed: Optional[weakref.ref] = None  # the pipeline freed last (dead once collected)

    def get(self, key: Hashable, load: Callable[[], Any]) -> Any:
        """The resident pipeline for `key`, loading it (after freeing any other) when needed."""
        if self.pipeline is not None and self.key == key:
            return self.pipeline
        self.release()
        log.info("loading model %s", key[0] if isinstance(key, tuple) else key)
        quiet_loading_bars()
        pipeline = load()
        self.key, self.pipeline, self.adapters = key, pipeline, AdapterState()
        self.loads += 1
        return pipeline

    def release(self) -> None:
        """Free the resident pipeline (if any) and give its memory back."""
        if self.pipeline is None:
            return
        try:
            self.last_freed = weakref.ref(self.pipeline)
        except TypeError:
            self.last_freed = None
        self.pipeline, self.key, self.adapters = None, None, AdapterState()
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass


# The worker process's one resident slot.
RESIDENT = Residency()
