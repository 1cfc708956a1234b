"""Where a finished task's artefact ends up, the output_location written on its row, and file names.

Local mode: the file stays where the handler wrote it (under the output folder) and the row gets its
absolute path. Supabase mode: the file is uploaded to the bucket as {task_id}/{file} and the row gets
the URL.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

from ..config import Settings

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str) -> str:
    """A file/folder name component made from user text (no separators, no '..')."""
    cleaned = _SAFE_NAME.sub("_", str(text)).strip("._")
    return cleaned[:120] or "x"


def publish_output(settings: Settings, task_id: str, location: Optional[str]) -> Optional[str]:
    if not location or "://" in location:
        return location
    path = Path(location)
    if not path.exists():  # not a file (a handler's text result): recorded as it is
        return location
    if settings.db_type == "supabase":
        from .supabase_storage import upload_output

        return upload_output(settings, task_id, path)
    return str(path.resolve())


def absolute_location(location: Optional[str], base_dir: Path) -> Optional[str]:
    """A row's output_location as something to open: URLs unchanged, paths absolute (a relative one
    is relative to `base_dir`, the database file's folder)."""
    if not location or "://" in location:
        return location
    path = Path(location)
    return str(path if path.is_absolute() else (Path(base_dir) / path).resolve())
