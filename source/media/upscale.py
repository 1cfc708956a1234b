"""Spatial upscale of frames with a well-kept resampler (Pillow's Lanczos)."""
from __future__ import annotations

import numpy as np
from PIL import Image


def upscaled_size(width: int, height: int, factor: float) -> tuple[int, int]:
    """Size after upscaling, rounded to even numbers (yuv420p needs even sides)."""
    if not factor or factor <= 0:
        raise ValueError(f"upscale_factor must be positive, got {factor!r}")
    return max(2, int(round(width * factor / 2)) * 2), max(2, int(round(height * factor / 2)) * 2)


def upscale_frame(frame: np.ndarray, factor: float) -> np.ndarray:
    height, width = frame.shape[:2]
    size = upscaled_size(width, height, factor)
    if size == (width, height):
        return frame
    return np.asarray(Image.fromarray(frame).resize(size, Image.LANCZOS), dtype=np.uint8)
