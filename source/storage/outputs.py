"""Where a finished task's artefact ends up, the output_location written on its row, and file names.

Local mode: the file stays where the handler wrote it (under the output folder) and the row gets its
absolute path. Web-app mode (PUBLIC_DIR; docs/MIGRATING.md): a final artefact moves to
<PUBLIC_DIR>/files/ and the row gets `files/<name>`, a URL relative to a site serving PUBLIC_DIR (work
files of a run stay where they are, and so does an artefact a row wrote to a folder of its own choosing,
`output_dir`: its absolute path is recorded and the log says why). Supabase mode: the file is uploaded to the bucket as
{task_id}/{file} and the row gets the URL.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path
from typing import Optional

from ..config import Settings
from ..errors import InvalidParams, UserError

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")

log = logging.getLogger(__name__)


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
    if settings.public_path is not None and not _inside(path.resolve(), settings.work_path):
        if path.resolve().parent != settings.output_path.resolve() and not _inside(path.resolve(),
                                                                                 settings.public_path):
            # the row chose its own folder (output_dir): the artefact stays where it asked
            log.info("PUBLIC_DIR: %s stays in the folder the row asked for (output_dir); only artefacts of "
                     "the output folder move to %s", path, settings.public_path / PUBLIC_FILES)
            return str(path.resolve())
        return publish_to_public_dir(settings.public_path, path)
    return str(path.resolve())


PUBLIC_FILES = "files"   # the sub-folder of PUBLIC_DIR, and the first part of the URLs on the rows


def publish_to_public_dir(public_dir: Path, path: Path) -> str:
    """Move a final artefact to <public_dir>/files/ (a new name if one is taken); `files/<name>`."""
    folder = public_dir / PUBLIC_FILES
    folder.mkdir(parents=True, exist_ok=True)
    target, n = folder / path.name, 1
    while target.exists() and target.resolve() != path.resolve():
        target, n = folder / f"{path.stem}-{n}{path.suffix}", n + 1
    if target.resolve() != path.resolve():
        shutil.move(str(path), str(target))
    return f"{PUBLIC_FILES}/{target.name}"


def absolute_location(location: Optional[str], base_dir: Path, public_dir: Optional[Path] = None) -> Optional[str]:
    """A row's output_location as something to open: URLs unchanged, paths absolute. A relative one is
    relative to `base_dir` (the database file's folder), except `files/...`, relative to the public folder
    (`public_dir`, else <base_dir>/public, the legacy outputs folder)."""
    if not location or "://" in location:
        return location
    path = Path(location)
    if path.is_absolute():
        return str(path)
    if path.parts and path.parts[0] == PUBLIC_FILES:
        return str(((public_dir or Path(base_dir) / "public") / path).resolve())
    return str((Path(base_dir) / path).resolve())


def readable_location(settings: Settings, location: Optional[str]) -> Optional[str]:
    """`absolute_location` with the folders the settings name."""
    return absolute_location(location, settings.db_dir, settings.public_path)


def _inside(path: Path, root: Path) -> bool:
    root = root.resolve()
    return path == root or root in path.parents


def check_output_folder(path: str, field: str) -> Path:
    """A folder a run was told to write its artefacts to (absolute, chosen by the user): it must exist and
    be writable where this runs; else InvalidParams naming `field`."""
    folder = Path(path)
    if not folder.is_dir():
        raise InvalidParams(f"{field} is not an existing folder: {path}", field=field)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InvalidParams(f"{field} is not writable: {path}", field=field)
    return folder


def prepare_output_folder(path: Optional[str], flag: str) -> Optional[str]:
    """A command line's output folder as an absolute path, created if missing; checked (UserError naming
    `flag`) before anything is queued."""
    if path is None:
        return None
    folder = Path(path).expanduser().resolve()
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{flag} is not a folder: {path}", field=flag)
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"{flag} is not writable: {path}", field=flag)
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder)


def output_folder(settings: Settings, folder: str, field: str) -> Path:
    """A folder a row names for its final artefacts (`output_dir`): an existing writable folder, or one
    inside the worker's output, work or public folder, created when missing (nothing is created
    elsewhere); else InvalidParams naming `field`."""
    given = Path(os.path.expanduser(folder))
    if given.is_absolute() and given.is_dir():
        return check_output_folder(str(given), field)
    try:
        path = folder_inside_outputs(settings, folder, field)
    except InvalidParams:
        raise InvalidParams(f"{field} is not an existing folder: {folder} (one inside the worker's output folder "
                            f"{settings.output_path} is created when missing)", field=field) from None
    path.mkdir(parents=True, exist_ok=True)
    return check_output_folder(str(path), field)


def folder_inside_outputs(settings: Settings, folder: str, field: str, base: Optional[Path] = None) -> Path:
    """A folder a task names for its artefacts: relative to `base` (default: the output folder), or
    absolute inside the output, work or public folder; else InvalidParams naming `field`."""
    given = Path(os.path.expanduser(folder))
    path = (given if given.is_absolute() else (base or settings.output_path) / given).resolve()
    if not any(_inside(path, root) for root in settings.output_roots):
        raise InvalidParams(f"{field} must be inside the worker's output folder {settings.output_path} (or "
                            f"relative to it), got {folder}", field=field)
    return path
