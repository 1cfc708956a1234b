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
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

METHODS = ("flow", "blend")


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
