"""Serving artefacts from the configured output roots, and nothing else.

A row's local output becomes the URL /files/<root index>/<path inside that root>. Serving resolves
the path (following symlinks) and answers only when the result is an existing file inside the root's
own resolved folder: `..`, absolute paths, encoded separators and symlinks that lead out all end in
404, exactly like a file that does not exist. URLs on rows are never fetched here (the page links them).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Optional, Sequence
from urllib.parse import quote

from ..config import Settings
from ..storage.outputs import absolute_location

# The media types served inline (played or shown); any other file is a download (dashboard/app.py).
VIDEO_TYPES = {".mp4": "video/mp4", ".webm": "video/webm", ".mov": "video/quicktime", ".m4v": "video/mp4",
               ".mkv": "video/x-matroska"}
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
               ".gif": "image/gif"}
VIDEO_SUFFIXES = set(VIDEO_TYPES)
IMAGE_SUFFIXES = set(IMAGE_TYPES)


@dataclass(frozen=True)
class Output:
    """A row's output as the page shows it: `url` is ours (/files/...) or the row's own link."""

    kind: str            # video | image | file | link | removed (no longer on disk) | unserved
    location: str        # as written on the row, made absolute for local paths
    url: Optional[str] = None
    poster: Optional[str] = None   # a video's poster image (params.thumbnail_url), ours or the row's link

    @property
    def name(self) -> str:
        return PurePosixPath(self.location.split("?", 1)[0]).name or self.location


class OutputRoots:
    def __init__(self, folders: Sequence[Path], base_dir: Path) -> None:
        self.roots = [Path(folder).expanduser().resolve() for folder in folders]
        self.base_dir = Path(base_dir)

    @classmethod
    def from_settings(cls, settings: Settings, extra: Sequence[str] = ()) -> "OutputRoots":
        """MAIN_OUTPUT_DIR, then DASHBOARD_OUTPUT_ROOTS, then `extra`; duplicates dropped."""
        folders = [settings.output_path]
        for text in [settings.dashboard_output_roots or "", *extra]:
            folders += [Path(part.strip()) for part in text.split(",") if part.strip()]
        unique = list(dict.fromkeys(Path(f).expanduser().resolve() for f in folders))
        return cls(unique, settings.db_dir)

    def describe(self, location: Optional[str], thumbnail: Optional[str] = None) -> Optional[Output]:
        """How the page shows a row's output_location (None when the row has none); `thumbnail` is the
        row's params.thumbnail_url (a video's poster)."""
        if not location:
            return None
        out = self._describe(location)
        poster = self.poster_url(thumbnail)
        if poster and out.kind in ("video", "link"):
            return Output(out.kind, out.location, out.url, poster)
        return out

    def poster_url(self, thumbnail: Optional[str]) -> Optional[str]:
        """A poster's URL: an http(s) link as it is, a local file under an output root served by us."""
        if not thumbnail or not isinstance(thumbnail, str):
            return None
        if "://" in thumbnail:
            return thumbnail if thumbnail.split("://", 1)[0].lower() in ("http", "https") else None
        return self.url_for(Path(absolute_location(thumbnail, self.base_dir)))

    def _describe(self, location: str) -> Output:
        if "://" in location:
            scheme = location.split("://", 1)[0].lower()
            return Output("link", location, location if scheme in ("http", "https") else None)
        path = Path(absolute_location(location, self.base_dir))
        if not path.exists():
            # a run's intermediates (guides, raw renders) go with its work folder when the run ends
            return Output("removed", str(path))
        url = self.url_for(path)
        if url is None:
            return Output("unserved", str(path))
        suffix = path.suffix.lower()
        kind = "video" if suffix in VIDEO_SUFFIXES else "image" if suffix in IMAGE_SUFFIXES else "file"
        return Output(kind, str(path), url)

    def url_for(self, path: Path) -> Optional[str]:
        """/files/<i>/<relative path> for a file inside root i (after resolving symlinks), else None."""
        try:
            resolved = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if not resolved.is_file():
            return None
        for index, root in enumerate(self.roots):
            if resolved.is_relative_to(root):
                return f"/files/{index}/" + quote(resolved.relative_to(root).as_posix())
        return None

    def find(self, index: int, relative: str) -> Optional[Path]:
        """The file behind /files/<index>/<relative>, or None (then the answer is 404)."""
        if not 0 <= index < len(self.roots) or not relative or "\\" in relative or "\0" in relative:
            return None
        parts = PurePosixPath(relative).parts
        if relative.startswith("/") or any(part in ("..", ".") for part in parts):
            return None
        root = self.roots[index]
        try:
            resolved = (root / Path(*parts)).resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if not resolved.is_relative_to(root) or not resolved.is_file():
            return None
        return resolved
