"""Shared fixtures for the travel tests: anchor images, synthetic clips, frame comparisons."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from source.media.video_io import VideoWriter, save_png


def gradient_image(width: int, height: int, colour: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """A smooth image (codec-friendly) tinted with `colour`: easy to tell apart, stable through H.264."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = (0.75 + 0.25 * np.sin((x / width + y / height + seed) * np.pi))[..., None]
    return np.clip(np.array(colour, np.float32) * ramp, 0, 255).astype(np.uint8)


ANCHOR_COLOURS = [(220, 40, 40), (40, 200, 60), (50, 70, 230), (230, 210, 40), (200, 60, 210)]


def write_anchor_images(folder: Path, count: int, size: tuple[int, int] = (64, 64)) -> list[str]:
    paths = []
    for i in range(count):
        frame = gradient_image(size[0], size[1], ANCHOR_COLOURS[i % len(ANCHOR_COLOURS)], seed=i)
        paths.append(str(save_png(frame, Path(folder) / f"anchor_{i}.png")))
    return paths


def solid_clip(path: Path, colour: tuple[int, int, int], frames: int, size: tuple[int, int] = (64, 48),
               crf: int = 0) -> Path:
    """A clip of one solid colour (crf 0 keeps values nearly exact through yuv420p)."""
    frame = np.empty((size[1], size[0], 3), np.uint8)
    frame[:] = colour
    with VideoWriter(path, crf=crf, preset="ultrafast") as writer:
        for _ in range(frames):
            writer.write(frame)
    return Path(path)


def numbered_clip(path: Path, first_value: int, frames: int, size: tuple[int, int] = (64, 48),
                  step: int = 6) -> Path:
    """Frame t is solid gray of value first_value + step * t (to check which frame landed where;
    limited-range YUV moves gray values by up to ~2, so steps of 6 stay distinguishable)."""
    with VideoWriter(path, crf=0, preset="ultrafast") as writer:
        for t in range(frames):
            writer.write(np.full((size[1], size[0], 3), first_value + step * t, np.uint8))
    return Path(path)


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())
