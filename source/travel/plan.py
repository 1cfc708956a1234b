"""Travel-between-images arithmetic as pure functions over numbers and lists.

One plan, computed once by the orchestrator and persisted on every child row (`plan` param), so the
segments and the stitch read the same numbers:

- N anchor images give N-1 segments (one segment for a single image; N segments after a continued
  video, whose last frames start segment 0).
- Per-segment lists with one value repeat to the segment count; any other length must equal it.
- Segment length L_i = (L_i // 4) * 4 + 1 (Wan renders 4k+1 frames).
- A join is where one clip hands over to the next. Without a continued video, join j is between
  segment j and j+1 and uses frame_overlap[j] (a last value, if given, is unused). With a continued
  video V, join j is between clip j-1 (V for j = 0) and segment j and uses frame_overlap[j].
  Overlap O_j = min(even(O_j), L_prev, L_next), even(x) = x rounded down to an even number.
- Final frame count = sum of clip lengths - sum of overlaps (the continued video counts as a clip).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional, Sequence

from ..media.frames import snap_frames


class PlanError(ValueError):
    """Inconsistent travel parameters; the message names the field."""


def expand_list(field_name: str, values: Any, count: int) -> list:
    """A per-segment list: one value repeats `count` times, otherwise the length must be `count`.

    A scalar is treated as a one-value list.
    """
    if not isinstance(values, (list, tuple)):
        values = [values]
    values = list(values)
    if len(values) == 1:
        return values * count
    if len(values) != count:
        wanted = "1 value (one segment)" if count == 1 else f"1 or {count} (one per segment)"
        raise PlanError(f"{field_name} has {len(values)} values; give {wanted}")
    return values


def segment_count(num_images: int, continue_from_video: bool) -> int:
    """How many segments the anchors make."""
    if num_images < 1:
        raise PlanError("input_image_paths_resolved must hold at least one image")
    if continue_from_video:
        return num_images
    return max(num_images - 1, 1)


def even_floor(value: int) -> int:
    return (value // 2) * 2


def cap_overlap(overlap: int, length_before: int, length_after: int) -> int:
    """O = min(even(O), L_before, L_after)."""
    return min(even_floor(overlap), length_before, length_after)


@dataclass(frozen=True)
class SegmentPlan:
    """What one segment's guide and mask hold.

    carry_in: frames 0..carry_in-1 are the last carry_in frames of the previous clip (kept).
    start_anchor: index of the image at frame 0 (kept), or None when the segment starts from carried
        frames (or is a one-image run's only segment, where start_anchor is 0).
    end_anchor: index of the image at frame length-1 (kept), or None (one-image run).
    depends_on_previous: chained mode: waits for the previous segment (whose last carry_in frames it
        takes); False in independent mode and for segment 0.
    carry_from_video: the carried frames come from the continued video (segment 0 only).
    """

    index: int
    length: int
    carry_in: int
    start_anchor: Optional[int]
    end_anchor: Optional[int]
    depends_on_previous: bool
    carry_from_video: bool = False

    @property
    def kept_frames(self) -> list[int]:
        """Frame indices the mask keeps (black); every other frame is generated (white)."""
        kept = set(range(self.carry_in))
        if self.start_anchor is not None and self.carry_in == 0:
            kept.add(0)
        if self.end_anchor is not None:
            kept.add(self.length - 1)
        return sorted(kept)


@dataclass(frozen=True)
class TravelPlan:
    num_images: int
    segment_lengths: list[int]
    overlaps: list[int]                 # one per join (see module docstring)
    continue_video_frames: Optional[int] = None   # L_V when continuing a video
    independent: bool = False
    segments: list[SegmentPlan] = field(default_factory=list)

    @property
    def num_segments(self) -> int:
        return len(self.segment_lengths)

    @property
    def clip_lengths(self) -> list[int]:
        """Lengths of the clips the stitch joins, in order (the continued video first when present)."""
        head = [self.continue_video_frames] if self.continue_video_frames is not None else []
        return head + list(self.segment_lengths)

    @property
    def final_frames(self) -> int:
        return sum(self.clip_lengths) - sum(self.overlaps)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TravelPlan":
        data = dict(data)
        data["segments"] = [SegmentPlan(**s) for s in data.get("segments", [])]
        return cls(**data)


def plan_travel(
    num_images: int,
    segment_frames: Sequence[int],
    frame_overlaps: Sequence[int],
    continue_video_frames: Optional[int] = None,
    independent: bool = False,
) -> TravelPlan:
    """The whole plan. `segment_frames` and `frame_overlaps` may hold one value (repeated)."""
    continuing = continue_video_frames is not None
    count = segment_count(num_images, continuing)
    raw_lengths = expand_list("segment_frames_expanded", segment_frames, count)
    lengths = []
    for i, value in enumerate(raw_lengths):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise PlanError(f"segment_frames_expanded[{i}] must be a positive integer, got {value!r}")
        lengths.append(snap_frames(value))

    joins = count if continuing else count - 1
    raw_overlaps = expand_list("frame_overlap_expanded", frame_overlaps, count)[:joins]
    for i, value in enumerate(raw_overlaps):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise PlanError(f"frame_overlap_expanded[{i}] must be a non-negative integer, got {value!r}")
    if continuing:
        if isinstance(continue_video_frames, bool) or not isinstance(continue_video_frames, int) \
                or continue_video_frames < 1:
            raise PlanError(f"continue_from_video_resolved_path has {continue_video_frames!r} frames")
        clips = [continue_video_frames] + lengths
    else:
        clips = lengths
    overlaps = [cap_overlap(raw_overlaps[j], clips[j], clips[j + 1]) for j in range(joins)]

    # A clip's incoming and outgoing cross-fades must not share frames.
    for k in range(1, len(clips) - 1):
        if overlaps[k - 1] + overlaps[k] > clips[k]:
            raise PlanError(
                f"frame_overlap_expanded: clip {k} has {clips[k]} frames, fewer than its two overlaps "
                f"({overlaps[k - 1]} + {overlaps[k]}); lower the overlap or raise segment_frames")

    segments = []
    for i in range(count):
        # the join that feeds segment i: index i with a continued video, i-1 without
        join = i if continuing else i - 1
        carry = overlaps[join] if join >= 0 else 0
        from_video = continuing and i == 0
        if independent and not from_video:
            carry = 0
        if continuing:
            start_anchor = None if carry else (i - 1 if i > 0 else None)
            end_anchor = i
        elif num_images == 1:
            start_anchor, end_anchor = 0, None
        else:
            start_anchor = None if carry else i
            end_anchor = i + 1
        segments.append(SegmentPlan(
            index=i, length=lengths[i], carry_in=carry, start_anchor=start_anchor,
            end_anchor=end_anchor, depends_on_previous=i > 0 and not independent,
            carry_from_video=from_video and carry > 0,
        ))
    return TravelPlan(num_images=num_images, segment_lengths=lengths, overlaps=overlaps,
                      continue_video_frames=continue_video_frames, independent=independent,
                      segments=segments)


# ---- the stitch ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClipSpan:
    """How the stitch uses one clip: frames [0, fade_in) blend with the previous clip's tail, frames
    [fade_in, length - fade_out) are copied, the last fade_out frames wait for the next clip."""

    length: int
    fade_in: int
    fade_out: int

    @property
    def copied(self) -> int:
        return self.length - self.fade_in - self.fade_out


def stitch_plan(clip_lengths: Sequence[int], overlaps: Sequence[int]) -> list[ClipSpan]:
    if len(overlaps) != max(len(clip_lengths) - 1, 0):
        raise PlanError(f"{len(clip_lengths)} clips need {max(len(clip_lengths) - 1, 0)} overlaps, "
                        f"got {len(overlaps)}")
    spans = []
    for k, length in enumerate(clip_lengths):
        fade_in = overlaps[k - 1] if k > 0 else 0
        fade_out = overlaps[k] if k < len(overlaps) else 0
        if fade_in + fade_out > length:
            raise PlanError(f"clip {k} has {length} frames, fewer than its overlaps {fade_in} + {fade_out}")
        spans.append(ClipSpan(length, fade_in, fade_out))
    return spans


def crossfade_weights(overlap: int) -> list[float]:
    """Weight of the incoming clip for each of the `overlap` blended frames: a raised cosine,
    rising from near 0 to exactly 1 on the last frame (which is fully the new clip)."""
    import math

    return [0.5 - 0.5 * math.cos(math.pi * (k + 1) / overlap) for k in range(overlap)]


# ---- fades on the guide ------------------------------------------------------------------------------

EASINGS = ("linear", "ease_in", "ease_out", "ease_in_out")


def ease(curve: str, x: float) -> float:
    """Easing curve on [0, 1] -> [0, 1]."""
    import math

    x = min(max(x, 0.0), 1.0)
    if curve == "linear":
        return x
    if curve == "ease_in":
        return x * x
    if curve == "ease_out":
        return 1.0 - (1.0 - x) ** 2
    if curve == "ease_in_out":
        return 0.5 - 0.5 * math.cos(math.pi * x)
    raise PlanError(f"curve_type must be one of {', '.join(EASINGS)}, got {curve!r}")


@dataclass(frozen=True)
class FadeParams:
    """Anchor fade on the guide's free frames: over `duration_factor` of them the anchor's weight moves
    between `high_point` (next to the anchor) and `low_point` (away from it) along `curve_type`."""

    low_point: float = 0.0
    high_point: float = 1.0
    curve_type: str = "ease_in_out"
    duration_factor: float = 0.0

    @classmethod
    def parse(cls, field_name: str, value: Any) -> "FadeParams":
        import json

        if value in (None, "", {}):
            return cls()
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise PlanError(f"{field_name} is not valid JSON: {exc.msg}") from None
        if not isinstance(value, dict):
            raise PlanError(f"{field_name} must be a JSON object")
        known = {"low_point", "high_point", "curve_type", "duration_factor"}
        unknown = set(value) - known
        if unknown:
            raise PlanError(f"{field_name} has unknown keys: {', '.join(sorted(unknown))}")
        params = cls(**value)
        for name in ("low_point", "high_point", "duration_factor"):
            number = getattr(params, name)
            if isinstance(number, bool) or not isinstance(number, (int, float)) or not 0 <= number <= 1:
                raise PlanError(f"{field_name}.{name} must be a number in 0..1, got {number!r}")
        try:
            ease(params.curve_type, 0.0)
        except PlanError as exc:
            raise PlanError(f"{field_name}.{exc}") from None
        return params


def fade_weights(free_frames: int, fade: FadeParams, fading_out: bool) -> list[float]:
    """Anchor weight on each of `free_frames` generated frames (0 outside the fade).

    fading_out=True: the start anchor, strongest on the first free frame.
    fading_out=False: the end anchor, strongest on the last free frame.
    """
    span = int(round(fade.duration_factor * free_frames))
    weights = [0.0] * free_frames
    for k in range(span):
        # x = 0 next to the anchor, 1 at the far end of the fade
        x = k / span if span > 1 else 0.0
        w = fade.high_point + (fade.low_point - fade.high_point) * ease(fade.curve_type, x)
        weights[k if fading_out else free_frames - 1 - k] = w
    return weights
