"""Structure guides from a reference video: optical flow, edges, depth, or the frames as they are.

    flow   OpenCV Farneback dense optical flow between consecutive frames, drawn on a colour wheel (hue =
           direction, saturation = speed; white = still). `strength` scales the vectors before colouring
           (below 1: paler). n frames give n-1 flows; the first image is repeated so counts match.
    canny  OpenCV Canny edges, white on black, times `canny_intensity`.
    depth  a local depth-estimation model (source/media/depth.py), grey (near = bright), contrast
           `depth_contrast` around mid-grey.
    raw    the frames as given.

Frames are fitted to the render size first (centre crop to its aspect, Lanczos). `NEUTRAL` is the frame a
timeline shows where no video is placed. Pixels only: the timeline arithmetic is the travel workflow's.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

STRUCTURE_TYPES = ("flow", "canny", "depth", "raw")
# the frame where no structure video is placed: grey for flow and depth, black for edges and raw frames
NEUTRAL = {"flow": 128, "canny": 0, "depth": 128, "raw": 0}


def neutral_frame(kind: str, size: tuple[int, int]) -> np.ndarray:
    width, height = size
    return np.full((height, width, 3), NEUTRAL[kind], np.uint8)


def flow_to_colour(flow: np.ndarray, scale: float) -> np.ndarray:
    """A flow field (H x W x 2) as colours: hue is the direction, saturation the length / `scale`."""
    import cv2

    magnitude, angle = cv2.cartToPolar(flow[..., 0].astype(np.float32), flow[..., 1].astype(np.float32))
    hsv = np.zeros(flow.shape[:2] + (3,), np.uint8)
    hsv[..., 0] = (angle * 90.0 / np.pi).astype(np.uint8)           # OpenCV hue: 0..180
    hsv[..., 1] = np.clip(magnitude / max(scale, 1e-6) * 255.0, 0, 255).astype(np.uint8)
    hsv[..., 2] = 255
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def flow_frames(frames: Sequence[np.ndarray], strength: float = 1.0) -> list[np.ndarray]:
    """The colour-wheel optical flow of consecutive frames; as many images as frames."""
    import cv2

    if len(frames) < 2:
        return [np.full_like(frames[0], 255)] if frames else []
    grey = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in frames]
    flows = [cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)  # type: ignore[call-overload]
             for a, b in zip(grey, grey[1:], strict=False)]
    # one scale for the whole block: the longest vector before strength, so strength makes colours paler
    longest = max(float(np.linalg.norm(f, axis=2).max()) for f in flows)
    scale = max(longest, 1.0)
    images = [flow_to_colour(f * float(strength), scale) for f in flows]
    return [images[0]] + images


def canny_frames(frames: Sequence[np.ndarray], intensity: float = 1.0) -> list[np.ndarray]:
    import cv2

    out = []
    for frame in frames:
        edges = cv2.Canny(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY), 100, 200)
        edges = np.clip(edges.astype(np.float32) * float(intensity), 0, 255).astype(np.uint8)
        out.append(np.repeat(edges[..., None], 3, axis=2))
    return out


def depth_frames(frames: Sequence[np.ndarray], model_folder: Union[str, Path], contrast: float = 1.0) -> list[np.ndarray]:
    from .depth import estimate_depth

    out = []
    for frame in frames:
        depth = estimate_depth(frame, model_folder)[..., 0].astype(np.float32) / 255.0   # near = 1
        depth = np.clip((depth - 0.5) * float(contrast) + 0.5, 0.0, 1.0)
        grey = (depth * 255.0).round().astype(np.uint8)
        out.append(np.repeat(grey[..., None], 3, axis=2))
    return out


def preprocess(frames: Sequence[np.ndarray], kind: str, *, strength: float = 1.0, canny_intensity: float = 1.0,
               depth_contrast: float = 1.0, depth_model: Optional[Union[str, Path]] = None) -> list[np.ndarray]:
    """`frames` (already at the render size) as a structure guide of `kind`."""
    if kind == "flow":
        return flow_frames(frames, strength)
    if kind == "canny":
        return canny_frames(frames, canny_intensity)
    if kind == "depth":
        if depth_model is None:
            raise ValueError("a depth structure guide needs a depth model folder")
        return depth_frames(frames, depth_model, depth_contrast)
    if kind == "raw":
        return [np.ascontiguousarray(f[:, :, :3]) for f in frames]
    raise ValueError(f"structure type must be one of {', '.join(STRUCTURE_TYPES)}, got {kind!r}")
