"""Conditioning inputs as the pipelines want them: PIL images at the render size.

Images and videos arrive as PIL images, lists of them, or file paths (already local: URLs are fetched
by the handler). Videos are read with PyAV, trimmed to the frame count; a shorter one is an error.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
from PIL import Image

from ..media.video_io import iter_frames

ImageInput = Union[Image.Image, str, Path, np.ndarray]
VideoInput = Union[Sequence[ImageInput], str, Path]

GUIDE_GREY = 127  # VACE's "nothing here" value for frames it must invent


def as_image(value: ImageInput, size: tuple[int, int], field: str) -> Image.Image:
    """One RGB image resized to size (W, H); ValueError naming the field when unreadable."""
    if isinstance(value, np.ndarray):
        image = Image.fromarray(np.asarray(value, dtype=np.uint8))
    elif isinstance(value, Image.Image):
        image = value
    else:
        try:
            with Image.open(value) as opened:
                image = opened.convert("RGB")
        except FileNotFoundError:
            raise ValueError(f"{field}: image not found: {value}") from None
        except OSError as exc:
            raise ValueError(f"{field}: cannot read image {value}: {exc}") from None
    image = image.convert("RGB")
    if image.size != tuple(size):
        image = image.resize(tuple(size), Image.LANCZOS)
    return image


def as_video(value: VideoInput, size: tuple[int, int], frames: int, field: str) -> list[Image.Image]:
    """`frames` RGB frames at size (W, H) from a list of images or a video file."""
    if isinstance(value, (str, Path)):
        path = Path(value)
        if not path.is_file():
            raise ValueError(f"{field}: video not found: {value}")
        images = []
        try:
            for frame in iter_frames(path):
                images.append(Image.fromarray(frame))
                if len(images) == frames:
                    break
        except Exception as exc:  # PyAV raises its own error kinds for broken files
            raise ValueError(f"{field}: cannot read video {value}: {exc}") from None
        source = f"video {value}"
    else:
        images = list(value)[:frames]
        source = "the list given"
    if len(images) < frames:
        raise ValueError(f"{field}: {source} has {len(images)} frames, the render needs {frames}")
    return [as_image(image, size, field) for image in images]


def guide_from_images(start: Optional[Image.Image], end: Optional[Image.Image], frames: int,
                      size: tuple[int, int]) -> tuple[list[Image.Image], list[Image.Image]]:
    """A VACE guide and mask keeping the given first/last frames and inventing the rest.

    Mask white = generate, black = keep (VACE's convention).
    """
    grey = Image.new("RGB", size, (GUIDE_GREY,) * 3)
    white, black = Image.new("RGB", size, (255,) * 3), Image.new("RGB", size, (0,) * 3)
    guide, mask = [grey] * frames, [white] * frames
    if start is not None:
        guide[0], mask[0] = start, black
    if end is not None:
        guide[-1], mask[-1] = end, black
    return guide, mask
