"""Guide and mask videos for a VACE segment (SPEC §6).

Guide: gray (128, 128, 128) means "generate"; kept frames hold anchors or frames carried over from the
previous clip. Mask: white means generate, black means keep. Both run at the model's frame rate and
have exactly the segment's length; the plan (`source.travel.plan.SegmentPlan`) says which frame is what.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from ..travel.plan import FadeParams, SegmentPlan, fade_weights
from .video_io import VideoWriter

GRAY = 128


def fit_frame(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Scale to cover (W, H) keeping the aspect ratio, then crop the centre (Lanczos)."""
    width, height = size
    src_h, src_w = frame.shape[:2]
    if (src_w, src_h) == (width, height):
        return frame
    scale = max(width / src_w, height / src_h)
    new_w, new_h = max(width, round(src_w * scale)), max(height, round(src_h * scale))
    img = Image.fromarray(frame).resize((new_w, new_h), Image.LANCZOS)
    left, top = (new_w - width) // 2, (new_h - height) // 2
    return np.asarray(img.crop((left, top, left + width, top + height)), dtype=np.uint8)


def load_anchor(path: str | Path, size: tuple[int, int]) -> np.ndarray:
    """An anchor image as RGB uint8 fitted to (W, H)."""
    try:
        with Image.open(path) as img:
            frame = np.asarray(img.convert("RGB"), dtype=np.uint8)
    except FileNotFoundError:
        raise FileNotFoundError(f"image not found: {path}") from None
    except OSError as exc:
        raise ValueError(f"cannot read image {path}: {exc}") from None
    return fit_frame(frame, size)


@dataclass(frozen=True)
class CarriedAdjust:
    """Knobs for the frames carried into a later segment (applied in this order):
    desaturate (0 = none, 1 = grayscale), brightness (multiply by 1 + b), strength (1 + s scales the
    frame's distance from mid-gray: s < 0 weakens what the model is told to keep)."""

    strength: float = 0.0
    desaturate: float = 0.0
    brightness: float = 0.0

    @property
    def is_identity(self) -> bool:
        return self.strength == 0 and self.desaturate == 0 and self.brightness == 0


def luma(frame: np.ndarray) -> np.ndarray:
    """Rec. 601 luma, float32, shape H x W x 1."""
    return (frame[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]


def adjust_carried(frame: np.ndarray, adjust: CarriedAdjust) -> np.ndarray:
    if adjust.is_identity:
        return frame
    out = frame.astype(np.float32)
    if adjust.desaturate:
        out = out + adjust.desaturate * (luma(frame) - out)
    if adjust.brightness:
        out = out * (1.0 + adjust.brightness)
    if adjust.strength:
        out = GRAY + (1.0 + adjust.strength) * (out - GRAY)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _blend_toward(base: np.ndarray, image: np.ndarray, weight: float) -> np.ndarray:
    return base.astype(np.float32) + weight * (image.astype(np.float32) - base)


def build_guide_frames(
    segment: SegmentPlan,
    size: tuple[int, int],
    anchors: dict[int, np.ndarray],
    carried: Sequence[np.ndarray] = (),
    fade_out: FadeParams = FadeParams(),
    fade_in: FadeParams = FadeParams(),
    carried_adjust: CarriedAdjust = CarriedAdjust(),
) -> list[np.ndarray]:
    """The guide's frames, each H x W x 3 uint8 (gray frames share one array).

    anchors: image index -> frame already fitted to `size`; carried: the previous clip's last
    `segment.carry_in` frames, oldest first.
    """
    width, height = size
    length = segment.length
    if len(carried) != segment.carry_in:
        raise ValueError(f"segment {segment.index} needs {segment.carry_in} carried frames, "
                         f"got {len(carried)}")
    gray = np.full((height, width, 3), GRAY, np.uint8)
    frames: list[np.ndarray] = [gray] * length
    for k, frame in enumerate(carried):
        frames[k] = adjust_carried(fit_frame(frame, size), carried_adjust)
    start_image = None
    if segment.start_anchor is not None and segment.carry_in == 0:
        start_image = anchors[segment.start_anchor]
        frames[0] = start_image
    elif segment.carry_in:
        start_image = frames[segment.carry_in - 1]
    end_image = None
    if segment.end_anchor is not None:
        end_image = anchors[segment.end_anchor]
        frames[length - 1] = end_image

    # Fades over the free (generated) frames between the kept head and the kept tail.
    kept = set(segment.kept_frames)
    free = [k for k in range(length) if k not in kept]
    out_w = fade_weights(len(free), fade_out, fading_out=True) if start_image is not None else None
    in_w = fade_weights(len(free), fade_in, fading_out=False) if end_image is not None else None
    for n, k in enumerate(free):
        w_out = out_w[n] if out_w else 0.0
        w_in = in_w[n] if in_w else 0.0
        if w_out == 0.0 and w_in == 0.0:
            continue
        value = gray.astype(np.float32)
        if w_out:
            value = value + w_out * (start_image.astype(np.float32) - GRAY)
        if w_in:
            value = value + w_in * (end_image.astype(np.float32) - GRAY)
        frames[k] = np.clip(np.rint(value), 0, 255).astype(np.uint8)
    return frames


def build_mask_frames(segment: SegmentPlan, size: tuple[int, int]) -> list[np.ndarray]:
    """White (255) = generate, black (0) = keep; frames share two arrays."""
    width, height = size
    white = np.full((height, width, 3), 255, np.uint8)
    black = np.zeros((height, width, 3), np.uint8)
    kept = set(segment.kept_frames)
    return [black if k in kept else white for k in range(segment.length)]


def write_frames(frames: Sequence[np.ndarray], path: Path, fps: int, crf: int = 10) -> Path:
    """Write guide/mask frames (a low crf keeps anchors close; these videos compress to little)."""
    with VideoWriter(path, fps=fps, crf=crf, preset="veryfast") as writer:
        for frame in frames:
            writer.write(frame)
    return Path(path)


def as_pil(frames: Sequence[np.ndarray]) -> list[Image.Image]:
    """PIL views for the render bridge (shared arrays give shared images)."""
    cache: dict[int, Image.Image] = {}
    out = []
    for frame in frames:
        key = id(frame)
        if key not in cache:
            cache[key] = Image.fromarray(frame)
        out.append(cache[key])
    return out


def guide_frame_roles(segment: SegmentPlan) -> list[str]:
    """For tests and debugging: 'carried', 'start', 'end' or 'gray' per frame (fades aside)."""
    roles = ["gray"] * segment.length
    for k in range(segment.carry_in):
        roles[k] = "carried"
    if segment.start_anchor is not None and segment.carry_in == 0:
        roles[0] = "start"
    if segment.end_anchor is not None:
        roles[segment.length - 1] = "end"
    return roles


def optional_float(params: dict, name: str, default: float = 0.0) -> float:
    """A numeric knob from params (None -> default); ValueError naming the field otherwise."""
    value = params.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return float(value)


def carried_adjust_from(params: dict) -> CarriedAdjust:
    adjust = CarriedAdjust(
        strength=optional_float(params, "subsequent_starting_strength_adjustment"),
        desaturate=optional_float(params, "desaturate_subsequent_starting_frames"),
        brightness=optional_float(params, "adjust_brightness_subsequent_starting_frames"),
    )
    if not 0 <= adjust.desaturate <= 1:
        raise ValueError("desaturate_subsequent_starting_frames must be in 0..1")
    if adjust.strength < -1:
        raise ValueError("subsequent_starting_strength_adjustment must be >= -1")
    if adjust.brightness < -1:
        raise ValueError("adjust_brightness_subsequent_starting_frames must be >= -1")
    return adjust
