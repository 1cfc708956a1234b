"""Engines by name: what each one is and the small protocol every one implements.

An engine loads (or reuses) what a render needs, renders a `RenderRequest` (source/engines/request.py)
with a progress callback that may raise to cancel, and says whether it can serve a request:

    class Engine(Protocol):
        name: str
        def check(self, settings) -> None            # can it run here at all (EngineUnavailable / UserError)
        def serves(self, request) -> Optional[str]    # None, or one line: why this engine cannot render it
        def load(self, request, settings) -> Any      # load or reuse the model (resident between renders)
        def render(self, request, settings, progress_callback) -> Path

Built-in engines are registered here by name, as "module:attribute" so that naming one imports nothing
heavy; `register_engine` adds another (a test's stand-in, a new backend). The names are `config.ENGINES`.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable, Optional, Protocol, Union

from ..config import Settings
from .request import RenderRequest

ProgressCallback = Optional[Callable[[int, int], None]]


class Engine(Protocol):
    name: str

    def check(self, settings: Settings) -> None: ...

    def serves(self, request: RenderRequest) -> Optional[str]: ...

    def load(self, request: RenderRequest, settings: Settings) -> Any: ...

    def render(self, request: RenderRequest, settings: Settings, progress_callback: ProgressCallback) -> Path: ...


_ENGINES: dict[str, Union[str, Engine]] = {
    "diffusers": "source.engines.local:DIFFUSERS",
    "tiny": "source.engines.local:TINY",
    "wan2gp": "source.engines.wan2gp.engine:ENGINE",
    "preview": "source.engines.preview:ENGINE",
}


def engine_names() -> tuple[str, ...]:
    return tuple(_ENGINES)


def register_engine(name: str, engine: Union[str, Engine]) -> None:
    """Serve `name` with `engine` (an object following `Engine`, or "module:attribute" naming one)."""
    _ENGINES[name] = engine


def engine_named(name: str) -> Engine:
    """The engine registered as `name` (KeyError for a name nobody registered: choose_engine checks first)."""
    entry = _ENGINES[name]
    if isinstance(entry, str):
        module, attribute = entry.split(":")
        entry = getattr(importlib.import_module(module), attribute)
        _ENGINES[name] = entry
    return entry
