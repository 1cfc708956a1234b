"""Which paths a row may name. For writing: a path inside the worker's output folders
(`Settings.output_roots`: MAIN_OUTPUT_DIR, WORK_DIR, PUBLIC_DIR, EXTRA_OUTPUT_DIRS). For reading: an
http(s) URL, or a path inside the output folders or the input folders (`Settings.input_roots`). Paths are
resolved first (`..` and symlinks followed), so neither leads out. The params types of
source/tasks/params.py check rows with these at enqueue and again when a worker claims the row.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence

from ..config import Settings
from .downloads import is_url
from .outputs import readable_location


def inside(path: Path, roots: Sequence[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def _shown(roots: Sequence[Path]) -> str:
    return ", ".join(str(root) for root in roots)


def read_problem(settings: Settings, value: str, extra_roots: Sequence[Path] = ()) -> Optional[str]:
    """Why a row may not read `value` (None when it may): outside every input folder and not a URL."""
    if is_url(value):
        return None
    if "://" in value:
        return f"must be a file path or an http(s) URL, got {value!r}"
    path = Path(readable_location(settings, os.path.expanduser(value.strip())) or value).resolve()
    roots = [*settings.input_roots, *extra_roots]
    if inside(path, roots):
        return None
    return (f"must be an http(s) URL or a file inside the input folders ({_shown(roots)}; INPUT_DIRS), "
            f"got {value!r}")


def write_problem(settings: Settings, value: str, base: Optional[Path] = None) -> Optional[str]:
    """Why a row may not write to `value` (relative: to `base`, default the output folder)."""
    path = writable_path(settings, value, base)
    if inside(path, settings.output_roots):
        return None
    return (f"must be inside the worker's output folders ({_shown(settings.output_roots)}; EXTRA_OUTPUT_DIRS), "
            f"got {value!r}")


def writable_path(settings: Settings, value: str, base: Optional[Path] = None) -> Path:
    """`value` as the absolute path it names (relative: to `base`, default the output folder)."""
    given = Path(os.path.expanduser(value))
    return (given if given.is_absolute() else (base or settings.output_path) / given).resolve()
