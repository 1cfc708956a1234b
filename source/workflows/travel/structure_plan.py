"""Structure guidance on the travel timeline: pure arithmetic (docs/TRAVEL.md, "Structure guidance").

One axis: the frames of the run's final video. Clip c starts at `TravelPlan.clip_starts[c]` (a continued
video, when there is one, is clip 0 and segment i is clip i+1), and frame k of a segment is timeline frame
`start + k`. The composite structure video has one frame per timeline frame (`TravelPlan.final_frames`);
each config places its video on `[start_frame, end_frame)` and every other frame is the neutral frame of
the preprocessing. A segment's unguided frames (no anchor, no carried overlap: role "gray") take the
composite frames at their own timeline positions, in order; its anchor and carried frames are untouched.

Worked example (LATER.md 5.3): segments of 81 frames, overlaps 10 -> total 81 + 71 + 71 = 223, starts
0 / 71 / 142. Segment 0 (anchors at 0 and 80) takes timeline frames 1..79; segment 1 (carried 0..9,
anchor at 80) takes 81..150; segment 2 takes 152..221.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from .plan import PlanError, SegmentPlan, TravelPlan


@dataclass(frozen=True)
class Placement:
    """One structure video on the timeline: timeline frames [start, end) from source frames
    [source_start, source_end) (None: to the source's last frame)."""

    index: int
    start: int
    end: int
    source_start: int = 0
    source_end: Optional[int] = None

    @property
    def length(self) -> int:
        return self.end - self.start


def timeline_total(plan: TravelPlan) -> int:
    """Frames on the structure timeline: those of the final video."""
    return plan.final_frames


def segment_start(plan: TravelPlan, index: int) -> int:
    """Timeline frame of segment `index`'s frame 0."""
    head = 1 if plan.continue_video_frames is not None else 0
    return plan.clip_starts[index + head]


def unguided_frames(seg: SegmentPlan) -> list[int]:
    """A segment's frames that nothing pins (no anchor, no carried overlap), in order."""
    return [k for k, role in enumerate(seg.frame_roles) if role == "gray"]


def segment_slice(plan: TravelPlan, index: int) -> list[tuple[int, int]]:
    """(segment frame, timeline frame) for each unguided frame of segment `index`, in order."""
    start = segment_start(plan, index)
    return [(k, start + k) for k in unguided_frames(plan.segments[index])]


def place_videos(configs: Sequence[dict], total: int) -> list[Placement]:
    """The videos' places on a timeline of `total` frames. Each config: start_frame (default 0),
    end_frame (exclusive; default: the end), source_start_frame, source_end_frame. Sorted by start;
    an end past the timeline is cut to it; a start at or past the end, an empty range, or two videos
    sharing a frame is a PlanError naming the video."""
    placed = []
    for i, config in enumerate(configs):
        start = int(config.get("start_frame") or 0)
        end = config.get("end_frame")
        end = total if end is None else min(int(end), total)
        where = f"structure video {i}"
        if start < 0:
            raise PlanError(f"{where}: start_frame must be >= 0, got {start}", field="structure_guidance")
        if start >= total:
            raise PlanError(f"{where}: start_frame {start} is past the run's last frame ({total - 1}); the "
                            f"timeline is the final video's {total} frames", field="structure_guidance")
        if end <= start:
            raise PlanError(f"{where}: end_frame {end} must be after start_frame {start}", field="structure_guidance")
        source_start = int(config.get("source_start_frame") or 0)
        source_end = config.get("source_end_frame")
        if source_end is not None and int(source_end) <= source_start:
            raise PlanError(f"{where}: source_end_frame {source_end} must be after source_start_frame "
                            f"{source_start}", field="structure_guidance")
        placed.append(Placement(i, start, end, source_start, None if source_end is None else int(source_end)))
    placed.sort(key=lambda p: p.start)
    for before, after in zip(placed, placed[1:], strict=False):
        if after.start < before.end:
            raise PlanError(f"structure videos {before.index} and {after.index} share timeline frames "
                            f"{after.start}..{min(before.end, after.end) - 1}", field="structure_guidance")
    return placed


def resample_indices(count: int, source_frames: int, treatment: str, source_fps: float = 16.0,
                     fps: float = 16.0) -> list[int]:
    """Which source frame fills each of `count` timeline frames. `adjust`: the source range stretched or
    squeezed evenly over them; `clip`: played at its own speed from its start (its fps against the
    run's), looping when it is too short."""
    if source_frames < 1:
        raise ValueError("a structure video needs at least one frame")
    if treatment == "adjust":
        if count == 1:
            return [0]
        return [min(source_frames - 1, round(i * (source_frames - 1) / (count - 1))) for i in range(count)]
    if treatment == "clip":
        return [int(i * source_fps / fps) % source_frames for i in range(count)]
    raise ValueError(f"treatment must be adjust or clip, got {treatment!r}")
