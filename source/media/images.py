"""Images in and out of numpy: the one loader, the cover fit and the stretch resize.

Frames are RGB uint8 arrays, H x W x 3. `fit="cover"` keeps the picture's proportions (scale to cover
the size, crop the centre: `PIL.ImageOps.fit`); `fit="stretch"` resizes to the size as it is. Both
resample with Lanczos.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
from PIL import Image, ImageOps

from ..errors import InvalidParams

ImageSource = Union[str, Path, np.ndarray, Image.Image]
FITS = ("cover", "stretch")


class ImageError(InvalidParams):
    """An image a task was given that is missing or cannot be decoded; the message names it (and the
    field, if given)."""


def _open(source: ImageSource, what: str) -> Image.Image:
    if isinstance(source, Image.Image):
        return source.convert("RGB")
    if isinstance(source, np.ndarray):
        return Image.fromarray(np.asarray(source, dtype=np.uint8)).convert("RGB")
    prefix = f"{what}: " if what else ""
    try:
        with Image.open(source) as img:
            return img.convert("RGB")
    except FileNotFoundError:
        raise ImageError(f"{prefix}image not found: {source}", field=what or None) from None
    except OSError as exc:
        raise ImageError(f"{prefix}cannot read image {source}: {exc}", field=what or None) from None


def fit_image(image: Image.Image, size: Optional[tuple[int, int]], fit: str = "cover") -> Image.Image:
    """`image` at size (W, H): cropped to the size's proportions ("cover") or stretched."""
    if size is None or image.size == tuple(size):
        return image
    if fit == "cover":
        return ImageOps.fit(image, tuple(size), Image.LANCZOS)
    if fit == "stretch":
        return image.resize(tuple(size), Image.LANCZOS)
    raise ValueError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")


def load_image(source: ImageSource, size: Optional[tuple[int, int]] = None, *, fit: str = "cover",
               what: str = "") -> np.ndarray:
    """An image file (or PIL image, or array) as an RGB uint8 array, at `size` when given.

    `what` names the input in errors ("input_image_path: image not found: ...").
    """
    return np.asarray(fit_image(_open(source, what), size, fit), dtype=np.uint8).copy()


def load_pil(source: ImageSource, size: Optional[tuple[int, int]] = None, *, fit: str = "cover",
             what: str = "") -> Image.Image:
    """As `load_image`, as a PIL image (what the diffusers pipelines take)."""
    return fit_image(_open(source, what), size, fit)


def fit_frame(frame: np.ndarray, size: tuple[int, int], fit: str = "cover") -> np.ndarray:
    """A frame (array) at size (W, H); returned as it is when it already has that size."""
    if (frame.shape[1], frame.shape[0]) == tuple(size):
        return frame
    return np.asarray(fit_image(Image.fromarray(frame), size, fit), dtype=np.uint8)


def as_pil(frames: Sequence[np.ndarray]) -> list[Image.Image]:
    """PIL views of frames (frames that share one array share one image)."""
    cache: dict[int, Image.Image] = {}
    out = []
    for frame in frames:
        key = id(frame)
        if key not in cache:
            cache[key] = Image.fromarray(frame)
        out.append(cache[key])
    return out


def banner_frame(frame: np.ndarray, images: Sequence[Image.Image]) -> np.ndarray:
    """`frame` (H x W x 3) with `images` side by side in a row of the same height above it (each fitted
    whole into its share of the width, on black): 2H x W x 3."""
    height, width = frame.shape[:2]
    row = Image.new("RGB", (width, height))
    count = max(len(images), 1)
    cell = width // count
    for i, image in enumerate(images):
        fitted = image.convert("RGB").copy()
        fitted.thumbnail((cell, height), Image.LANCZOS)
        row.paste(fitted, (i * cell + (cell - fitted.width) // 2, (height - fitted.height) // 2))
    return np.concatenate([np.asarray(row, dtype=np.uint8), frame[:, :, :3]], axis=0)
