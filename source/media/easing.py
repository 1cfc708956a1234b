"""Timing curves: easing on [0, 1], cross-fade weights, and an anchor's fade weights over free frames.

Pure functions over numbers; the travel guides, the stitch and the pose interpolation all use them.
"""
from __future__ import annotations

import math
from typing import Literal, get_args

_CURVES = {
    "linear": lambda x: x,
    "ease_in": lambda x: x * x,
    "ease_out": lambda x: 1.0 - (1.0 - x) ** 2,
    "ease_in_out": lambda x: 0.5 - 0.5 * math.cos(math.pi * x),
}
Easing = Literal["linear", "ease_in", "ease_out", "ease_in_out"]   # the curves' names, as a type
EASINGS: tuple[str, ...] = get_args(Easing)
assert EASINGS == tuple(_CURVES)


def ease(curve: str, x: float) -> float:
    """Easing curve on [0, 1] -> [0, 1] (x is clamped)."""
    function = _CURVES.get(curve)
    if function is None:
        raise ValueError(f"unknown easing {curve!r}; known: {', '.join(EASINGS)}")
    return function(min(max(x, 0.0), 1.0))


def crossfade_weights(overlap: int) -> list[float]:
    """Weight of the incoming clip for each of the `overlap` blended frames: a raised cosine,
    rising from near 0 to exactly 1 on the last frame (which is fully the new clip)."""
    return [0.5 - 0.5 * math.cos(math.pi * (k + 1) / overlap) for k in range(overlap)]


def fade_weights(free_frames: int, *, low_point: float, high_point: float, curve: str,
                 duration_factor: float, fading_out: bool) -> list[float]:
    """An anchor's weight on each of `free_frames` generated frames (0 outside the fade).

    Over `duration_factor` of the free frames the weight moves from `high_point` (next to the anchor)
    to `low_point` (away from it) along `curve`. fading_out=True: the start anchor, strongest on the
    first free frame; fading_out=False: the end anchor, strongest on the last free frame.
    """
    span = int(round(duration_factor * free_frames))
    weights = [0.0] * free_frames
    for k in range(span):
        x = k / span if span > 1 else 0.0   # 0 next to the anchor, 1 at the far end of the fade
        weight = high_point + (low_point - high_point) * ease(curve, x)
        weights[k if fading_out else free_frames - 1 - k] = weight
    return weights
