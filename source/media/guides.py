"""Guide videos for VACE: kept pictures at given frame indices, grey (`GUIDE_GREY`) everywhere else.

The caller says which frame holds which picture (`kept`: frame index -> frame); the frames between the
kept head and the kept tail are the ones the model generates, and the mask that goes with the guide is
`source.media.vace.keep_mask(length, kept, size)`. Optional fades blend the picture kept just before the
generated frames (fading out) and the one kept just after them (fading in) over the grey, with one
weight per generated frame (`source.media.easing.fade_weights`). docs/TRAVEL.md shows how the travel
workflow fills a segment's guide.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .vace import GUIDE_GREY, grey_frame
from .video_io import VideoWriter


def build_guide_frames(
    length: int,
    size: tuple[int, int],
    kept: Mapping[int, np.ndarray],
    *,
    fade_out: Sequence[float] = (),
    fade_in: Sequence[float] = (),
) -> list[np.ndarray]:
    """The guide's `length` frames, each H x W x 3 uint8 (untouched grey frames share one array).

    kept: frame index -> the picture kept there, already at `size` (W, H).
    fade_out / fade_in: empty (no fade) or one weight per generated frame, in order: how much of the
    picture kept just before the generated frames / just after them is laid over the grey.
    """
    width, height = size
    grey = grey_frame(size)
    frames: list[np.ndarray] = [grey] * length
    for index, picture in kept.items():
        if picture.shape[:2] != (height, width):
            raise ValueError(f"guide frame {index} is {picture.shape[1]}x{picture.shape[0]}, "
                             f"not {width}x{height}")
        frames[index] = picture
    generated = [k for k in range(length) if k not in kept]
    for name, weights in (("fade_out", fade_out), ("fade_in", fade_in)):
        if weights and len(weights) != len(generated):
            raise ValueError(f"{name} has {len(weights)} weights for {len(generated)} generated frames")
    if not generated:
        return frames
    start = kept.get(generated[0] - 1)
    end = kept.get(generated[-1] + 1)
    for n, k in enumerate(generated):
        w_out = fade_out[n] if fade_out and start is not None else 0.0
        w_in = fade_in[n] if fade_in and end is not None else 0.0
        if w_out == 0.0 and w_in == 0.0:
            continue
        value = grey.astype(np.float32)
        if w_out:
            value = value + w_out * (start.astype(np.float32) - GUIDE_GREY)
        if w_in:
            value = value + w_in * (end.astype(np.float32) - GUIDE_GREY)
        frames[k] = np.clip(np.rint(value), 0, 255).astype(np.uint8)
    return frames


def write_frames(frames: Sequence[np.ndarray], path: Path, fps: int, crf: int = 10) -> Path:
    """Write guide/mask frames (a low crf keeps anchors close; these videos compress to little)."""
    with VideoWriter(path, fps=fps, crf=crf, preset="veryfast") as writer:
        for frame in frames:
            writer.write(frame)
    return Path(path)
