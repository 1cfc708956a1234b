"""Wan2GP's frame-count rule, and what we ask Wan2GP for so that we get the frames a handler wants.

Wan2GP does not render the frame count it is given. In `wgp.generate_media` (v12.60) the request is
floored onto the model's frame grid and raised to the model's minimum
(`shared/utils/frame_scheduler.py::floor_frame_count`):

    n' = max(n, minimum); n' = ((n' - offset) // step) * step + offset
    if n' < minimum: n' = the smallest grid value >= minimum

For Wan 2.1/2.2 models step is 4 and offset 1 (one latent frame per 4 video frames, plus the first), so
every count becomes 4k+1; `minimum` is 5 for ordinary Wan models and 17 for every VACE model. So t2v:
3 -> 5, 8 -> 5, 9 -> 9; VACE: anything up to 20 -> 17, 21 -> 21. The numbers come from the model's
definition (`frames_minimum`, `latent_size` or `frames_steps`, `frames_offset`), which the helper reads
from the checkout, so other model families get their own grid.

Our bridge has already snapped the count to 4k+1 (source.media.frames.snap_frames), which is a fixed
point of the floor for Wan models. What is left is the minimum: a request below it (a 9-frame travel
segment on VACE, a still image, a single_image task) is rendered at the minimum and the output is cut
to the first frames asked for. We chose that over refusing such rows at enqueue: the engine is a worker
setting, not a task setting, so the row cannot know which minimum will apply, and the same row must
render on the diffusers engine too. For VACE the guide and mask are padded to the rendered length
(grey guide, "generate" mask), so the kept frames follow the guide exactly as asked.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class FrameGrid:
    """A model's frame grid as Wan2GP defines it."""

    minimum: int = 5
    step: int = 4
    offset: int = 1


def wan2gp_frame_count(requested: int, grid: FrameGrid) -> int:
    """The frame count Wan2GP renders for `requested` (floor_frame_count, reproduced)."""
    minimum, step, offset = grid.minimum, max(1, grid.step), max(0, grid.offset)
    count = max(minimum, requested)
    if step <= 1:
        return count
    lower = ((count - offset) // step) * step + offset
    if lower >= minimum:
        return lower
    return math.ceil(max(0, minimum - offset) / step) * step + offset


@dataclass(frozen=True)
class FramePlan:
    """Ask Wan2GP for `render` frames; keep the first `keep` of what it writes."""

    render: int
    keep: int

    @property
    def trims(self) -> bool:
        return self.keep < self.render


def plan_frames(requested: int, grid: FrameGrid) -> FramePlan:
    """What to request from Wan2GP to end with exactly `requested` frames.

    ValueError when no request gives that count (a count off the grid above the minimum, which Wan2GP
    would floor): the bridge's 4k+1 snapping prevents it for Wan models; other families say so here
    instead of rendering a different length silently.
    """
    render = wan2gp_frame_count(requested, grid)
    if render < requested:
        raise ValueError(f"frames: {requested} is not on this model's frame grid (minimum {grid.minimum}, "
                         f"then every {grid.step}); Wan2GP would render {render}")
    return FramePlan(render=render, keep=requested)
