"""Colour correction of frames.

- Colour match: LAB mean/std transfer (per channel: (x - mean_frame) / std_frame * std_target +
  mean_target), with the target statistics blended from the start anchor's to the end anchor's across
  the segment, so a leg drifts from the first image's palette to the second's.
- Saturation, brightness and strength (contrast about mid-grey) of a frame: the travel segments after
  the first, and the frames a segment carries over from the previous one.

sRGB <-> CIE LAB (D65): `rgb_to_lab` / `lab_to_rgb` spell the formulas out in float32 numpy; the colour
match itself runs them through OpenCV (`cv2.cvtColor` on float32, the same formulas, about three times
faster: cv2 comes with opencv-contrib, a mediapipe dependency), a frame at a time as the frames stream.
Statistics are taken on a subsampled grid (every 2nd pixel each way is plenty for a mean and a standard
deviation).
"""
from __future__ import annotations

from typing import Iterable, Iterator, Optional

import numpy as np

from .vace import GUIDE_GREY

# sRGB (D65) -> XYZ, and back
_RGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                        [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]], np.float32)
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ).astype(np.float32)
_WHITE = np.array([0.95047, 1.0, 1.08883], np.float32)
_EPS = 216 / 24389
_KAPPA = 24389 / 27

_codes = np.arange(256, dtype=np.float64) / 255.0
_SRGB_TO_LINEAR = np.where(_codes <= 0.04045, _codes / 12.92, ((_codes + 0.055) / 1.055) ** 2.4).astype(np.float32)


def rgb_to_lab(frame: np.ndarray) -> np.ndarray:
    """uint8 RGB (H x W x 3) -> float32 LAB (L in 0..100)."""
    linear = _SRGB_TO_LINEAR[frame]
    xyz = (linear @ _RGB_TO_XYZ.T) / _WHITE
    f = np.where(xyz > _EPS, np.cbrt(xyz), (_KAPPA * xyz + 16) / 116)
    lab = np.empty_like(f)
    lab[..., 0] = 116 * f[..., 1] - 16
    lab[..., 1] = 500 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200 * (f[..., 1] - f[..., 2])
    return lab


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """float32 LAB -> uint8 RGB (clipped)."""
    fy = (lab[..., 0] + 16) / 116
    f = np.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], axis=-1)
    f3 = f * f * f
    xyz = np.where(f3 > _EPS, f3, (116 * f - 16) / _KAPPA) * _WHITE
    linear = np.clip(xyz @ _XYZ_TO_RGB.T, 0.0, 1.0)
    srgb = np.where(linear <= 0.0031308, linear * 12.92, 1.055 * np.power(linear, 1 / 2.4) - 0.055)
    return np.clip(np.rint(srgb * 255.0), 0, 255).astype(np.uint8)


_UNIT = np.arange(256, dtype=np.float32) / 255.0   # uint8 code -> float32 in [0, 1] (a table look-up)


def _cv_lab(frame: np.ndarray) -> np.ndarray:
    """uint8 RGB -> float32 LAB (L in 0..100) with OpenCV."""
    import cv2

    return cv2.cvtColor(_UNIT[np.ascontiguousarray(frame)], cv2.COLOR_RGB2LAB)


def _grid_stats(lab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    flat = np.ascontiguousarray(lab[::2, ::2]).reshape(-1, 3)
    return flat.mean(axis=0), flat.std(axis=0)


def lab_stats(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel LAB mean and standard deviation of an RGB frame."""
    flat = _cv_lab(frame[::2, ::2]).reshape(-1, 3)
    return flat.mean(axis=0), flat.std(axis=0)


def transfer_stats(frame: np.ndarray, target_mean: np.ndarray, target_std: np.ndarray) -> np.ndarray:
    """Move the frame's LAB mean/std onto the target's: per channel x -> x * scale + shift, one affine
    map (cv2.transform), then back to RGB, rounded and clipped once."""
    import cv2

    lab = _cv_lab(frame)
    mean, std = _grid_stats(lab)
    scale = np.asarray(target_std, np.float32) / np.maximum(std, 1e-3)
    shift = np.asarray(target_mean, np.float32) - mean * scale
    affine = np.hstack([np.diag(scale), shift[:, None]]).astype(np.float32)
    rgb = cv2.cvtColor(cv2.transform(lab, affine), cv2.COLOR_LAB2RGB)
    return cv2.convertScaleAbs(np.maximum(rgb, 0.0, out=rgb), alpha=255.0)  # x255, rounded, saturated


def colour_match_frames(frames: Iterable[np.ndarray], length: int, start_anchor: Optional[np.ndarray],
                        end_anchor: Optional[np.ndarray]) -> Iterator[np.ndarray]:
    """Colour-match a segment's frames (streaming); frame t's target is the anchors' statistics blended
    with weight t / (length - 1) toward the end anchor. With one anchor, that anchor's statistics."""
    anchors = [a for a in (start_anchor, end_anchor) if a is not None]
    if not anchors:
        yield from frames
        return
    start = lab_stats(start_anchor if start_anchor is not None else end_anchor)
    end = lab_stats(end_anchor if end_anchor is not None else start_anchor)
    for t, frame in enumerate(frames):
        a = t / (length - 1) if length > 1 else 0.0
        mean = (1 - a) * start[0] + a * end[0]
        std = (1 - a) * start[1] + a * end[1]
        yield transfer_stats(frame, mean, std)


def adjust_colour(frame: np.ndarray, saturation: float = 1.0, brightness: float = 0.0,
                  strength: float = 0.0) -> np.ndarray:
    """Saturation, then brightness, then strength, in float and rounded once.

    saturation: 1 keeps, 0 is greyscale (Rec. 601 luma), > 1 boosts; brightness: multiply by
    1 + brightness; strength: 1 + strength scales the distance from mid-grey (`GUIDE_GREY`), so a
    negative value flattens the picture toward the grey VACE reads as "generate".
    """
    if saturation == 1.0 and brightness == 0.0 and strength == 0.0:
        return frame
    out = frame.astype(np.float32)
    if saturation != 1.0:
        grey = (out @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
        out = grey + saturation * (out - grey)
    if brightness:
        out = out * (1.0 + brightness)
    if strength:
        out = GUIDE_GREY + (1.0 + strength) * (out - GUIDE_GREY)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
