"""In-between frames of two images.

Default method, "flow": dense optical flow both ways (OpenCV's DIS flow, which ships with the
opencv-contrib wheel that mediapipe installs; no model download), each image warped towards time t and
the two warps blended. The flow at time t is approximated from the two end flows with the quadratic
formulas of Jiang et al., "Super SloMo" (2018):

    F(t->0) = -(1 - t) * t * F(0->1) + t^2 * F(1->0)
    F(t->1) = (1 - t)^2 * F(0->1) - t * (1 - t) * F(1->0)
    I(t)    = (1 - t) * warp(I0, F(t->0)) + t * warp(I1, F(t->1))

At t = 0 and t = 1 this returns the end images exactly. "blend" is a plain cross-fade (no motion).

A RIFE network is not bundled: its weights cannot be fetched here, and this module does not implement
it. The method name "rife" is reserved and fails with a clear message.

`morph_gaps` fills the frames of a video that lie between kept ones with such morphs (the preview
engine, source/engines/preview.py, renders a VACE guide this way).
"""
from __future__ import annotations

from typing import Callable, Iterator, Literal, Optional, Sequence, get_args

import numpy as np

from .vace import GUIDE_GREY

Method = Literal["flow", "blend"]
METHODS: tuple[str, ...] = get_args(Method)


def _gray(image: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def optical_flow(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Dense flow (H, W, 2) such that source(x) ~ target(x + flow(x))."""
    import cv2

    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return dis.calc(_gray(source), _gray(target), None)


def _warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward warp: out(x) = image(x + flow(x)) (bilinear, edges replicated)."""
    import cv2

    height, width = flow.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    map_x = grid_x + flow[..., 0].astype(np.float32)
    map_y = grid_y + flow[..., 1].astype(np.float32)
    return cv2.remap(image, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def frame_times(frames: int) -> list[float]:
    """`frames` evenly spaced times from 0 (first image) to 1 (second image), both included."""
    if frames < 2:
        raise ValueError(f"frames must be >= 2 (the two images themselves), got {frames}")
    return [k / (frames - 1) for k in range(frames)]


def interpolate_frames(first: np.ndarray, last: np.ndarray, frames: int,
                       method: str = "flow") -> Iterator[np.ndarray]:
    """Yield `frames` RGB uint8 frames from `first` to `last` (same size), both ends included."""
    if first.shape != last.shape:
        raise ValueError(f"the two images differ in size: {first.shape} vs {last.shape}")
    if method == "rife":
        raise ValueError("method 'rife' is not implemented here (no RIFE weights or network are bundled); "
                         "use 'flow' or 'blend'")
    if method not in METHODS:
        raise ValueError(f"unknown interpolation method {method!r}; known: {', '.join(METHODS)}")
    times = frame_times(frames)
    a = first.astype(np.float32)
    b = last.astype(np.float32)
    if method == "flow":
        flow_ab = optical_flow(first, last)
        flow_ba = optical_flow(last, first)
    for t in times:
        if t == 0.0:
            yield first.copy()
            continue
        if t == 1.0:
            yield last.copy()
            continue
        if method == "blend":
            mixed = (1 - t) * a + t * b
        else:
            flow_t0 = -(1 - t) * t * flow_ab + t * t * flow_ba
            flow_t1 = (1 - t) * (1 - t) * flow_ab - t * (1 - t) * flow_ba
            mixed = (1 - t) * _warp(a, flow_t0) + t * _warp(b, flow_t1)
        yield np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def morph_gaps(frames: Sequence[np.ndarray], kept: Sequence[bool], *,
               progress: Optional[Callable[[int, int], None]] = None) -> list[np.ndarray]:
    """A video whose kept frames stay as they are and whose other frames are filled in.

    A run of frames between two kept frames becomes the optical-flow morph from the one kept before it
    to the one kept after it (`interpolate_frames`, method "flow"). A run with a kept frame on one side
    only keeps the frames given there when they hold a picture (a pose or depth guide), and repeats the
    nearest kept frame where they are flat grey (a VACE guide's "invent this"). With no kept frame at
    all the frames come back as given.

    progress(filled, total) is called after each filled frame and may raise to stop.
    """
    if len(frames) != len(kept):
        raise ValueError(f"{len(frames)} frames but {len(kept)} kept flags")
    out = list(frames)
    keep_at = [k for k, flag in enumerate(kept) if flag]
    total = len(frames) - len(keep_at)
    filled = 0
    if not keep_at or not total:
        return out
    for before, after in zip(keep_at, keep_at[1:], strict=False):
        if after - before > 1:
            morph = interpolate_frames(frames[before], frames[after], after - before + 1)
            next(morph)  # the kept frame before the gap
            for k in range(before + 1, after):
                out[k] = next(morph)
                filled += 1
                if progress is not None:  # per frame: a cancel stops a long gap within a frame's time
                    progress(filled, total)
            morph.close()
    for k in [*range(keep_at[0]), *range(keep_at[-1] + 1, len(frames))]:
        if is_flat_grey(frames[k]):
            out[k] = frames[keep_at[0] if k < keep_at[0] else keep_at[-1]]
        filled += 1
    if progress is not None and filled:
        progress(filled, total)
    return out


def is_flat_grey(frame: np.ndarray, tolerance: int = 2) -> bool:
    """True for a frame of one grey (a VACE guide's generated frame), within `tolerance` levels."""
    return int(frame.max()) - int(frame.min()) <= tolerance and abs(int(frame[0, 0, 0]) - GUIDE_GREY) <= tolerance
