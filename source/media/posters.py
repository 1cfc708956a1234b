"""Poster frames: a finished video's first frame as a small JPEG beside it (apps and the dashboard show
it until the video is played)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from PIL import Image

from .video_io import iter_frames

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
POSTER_MAX_SIDE = 320
POSTER_QUALITY = 80


def poster_path(video: str | Path) -> Path:
    """Where a video's poster goes: `<name>_poster.jpg` beside it."""
    video = Path(video)
    return video.with_name(video.stem + "_poster.jpg")


def write_poster(video: str | Path, max_side: int = POSTER_MAX_SIDE) -> Optional[Path]:
    """The video's first frame, at most `max_side` pixels on its longer side, as a JPEG beside it; None
    when the file is not a video or has no frame."""
    video = Path(video)
    if video.suffix.lower() not in VIDEO_SUFFIXES or not video.is_file():
        return None
    first = next(iter_frames(video), None)
    if first is None:
        return None
    image = Image.fromarray(first)
    image.thumbnail((max_side, max_side))
    target = poster_path(video)
    tmp = target.with_name(target.stem + ".partial.jpg")
    image.save(tmp, format="JPEG", quality=POSTER_QUALITY)
    tmp.replace(target)
    return target
