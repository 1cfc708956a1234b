"""VACE's conventions for guide and mask videos, in one place.

Guide: a frame the model must invent is flat grey; a kept frame holds the picture to keep.
Mask: white (255) = generate, black (0) = keep.

GUIDE_GREY is 128: VACE normalises pixels to [-1, 1] and treats 0 there as "nothing here"; 127.5 maps
to exactly 0, and 128 is the integer every guide in this project uses (docs/MIGRATING.md).
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

GUIDE_GREY = 128
MASK_KEEP = 0
MASK_GENERATE = 255


def grey_frame(size: tuple[int, int]) -> np.ndarray:
    width, height = size
    return np.full((height, width, 3), GUIDE_GREY, np.uint8)


def keep_mask(length: int, kept: Iterable[int], size: tuple[int, int]) -> list[np.ndarray]:
    """The mask video: black on the `kept` frame indices (negative count from the end), white
    elsewhere. Frames share two arrays."""
    width, height = size
    generate = np.full((height, width, 3), MASK_GENERATE, np.uint8)
    keep = np.full((height, width, 3), MASK_KEEP, np.uint8)
    kept_set = {k % length for k in kept} if length else set()
    return [keep if k in kept_set else generate for k in range(length)]
