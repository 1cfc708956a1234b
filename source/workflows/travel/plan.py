"""The travel arithmetic: segment lengths, overlaps, what each guide frame holds. Pure functions over
numbers and lists; docs/TRAVEL.md explains the rules.

The plan is computed once, when the run is queued (`client.py`), and persisted on the orchestrator's
row; the orchestrator checks it against the run (`check_plan`) and copies it onto every segment and
stitch row. Only a row written without a plan (another app, or a continued video given as a URL whose
length is known only once it is fetched) has its plan computed by the orchestrator.

- N anchor images give N-1 segments (one for a single image; N after a continued video).
- Per-segment lists with one value repeat to the segment count; any other length must equal it.
- Overlaps are one per join: one value repeats (one per segment, the original tool's shape, is read as
  one per join by source/tasks/original_keys.py: the last segment's value is reported as not used).
- Segment length L_i = (L_i // 4) * 4 + 1 (Wan renders 4k+1 frames).
- A join is where one clip hands over to the next (the continued video is clip 0 when there is one):
  O_j = even(min(O_j, L_before - 1, L_after - 1)), even(x) = x rounded down to an even number, so asking
  for more never gives less.
- Final frame count = sum of clip lengths - sum of overlaps.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Optional, Sequence

from pydantic import Field

from ...errors import InvalidParams
from ...media.frames import snap_frames
from ...tasks.params import Flag, Int, Params


class PlanError(InvalidParams):
    """Travel parameters that make no plan, or a plan that does not fit its run; the message names
    the field."""


# ---- the requested lists --------------------------------------------------------------------------------

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
        raise PlanError(f"{field_name} has {len(values)} values; give {wanted}", field=field_name)
    return values


def segment_count(num_images: int, continue_from_video: bool) -> int:
    """How many segments the anchors make."""
    if num_images < 1:
        raise PlanError("input_image_paths_resolved must hold at least one image",
                        field="input_image_paths_resolved")
    if continue_from_video:
        return num_images
    return max(num_images - 1, 1)


def _integers(field_name: str, values: Any, count: int, low: int, wording: str) -> list[int]:
    values = expand_list(field_name, values, count)
    for i, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise PlanError(f"{field_name}[{i}] must be {wording}, got {value!r}", field=f"{field_name}[{i}]")
    return values


def segment_frames_list(values: Any, count: int) -> list[int]:
    """`segment_frames_expanded` as one length per segment (each >= 1)."""
    return _integers("segment_frames_expanded", values, count, 1, "a positive integer")


def join_count(segments: int, continue_from_video: bool) -> int:
    """Joins between the clips: one fewer than the clips (the continued video is a clip)."""
    return segments if continue_from_video else segments - 1


def frame_overlap_list(values: Any, segments: int, continue_from_video: bool) -> list[int]:
    """`frame_overlap_expanded` as one overlap per join (each >= 0). One value repeats. (One value per
    segment, the original tool's shape, is read as one per join before this, by
    source/tasks/original_keys.py, which keeps the last segment's value aside as not used.)"""
    joins = join_count(segments, continue_from_video)
    values = values if isinstance(values, (list, tuple)) else [values]
    accepted = {1, joins}
    if len(values) not in accepted:
        clips = f"{segments} segment(s)" + (" and the continued video" if continue_from_video else "")
        if joins == 0:
            wanted = "1 (a single segment has no join)"
        elif joins == 1:
            wanted = f"1 ({clips} make one join)"
        else:
            wanted = f"1 (used for every join) or {joins} (one per join: {clips} make {joins})"
        raise PlanError(f"frame_overlap_expanded has {len(values)} values; give {wanted}",
                        field="frame_overlap_expanded")
    values = _integers("frame_overlap_expanded", values, len(values), 0, "a non-negative integer")
    return values * joins if len(values) == 1 else values


# ---- the rules -------------------------------------------------------------------------------------------

def even_floor(value: int) -> int:
    return (value // 2) * 2


def cap_overlap(overlap: int, length_before: int, length_after: int) -> int:
    """O = even(min(O, L_before - 1, L_after - 1)): even, and each clip keeps a frame of its own."""
    return even_floor(min(overlap, length_before - 1, length_after - 1))


def _check_overlaps_fit(clips: Sequence[int], overlaps: Sequence[int], field: str, advice: str) -> None:
    """A clip's incoming and outgoing cross-fades must not share frames."""
    for k in range(1, len(clips) - 1):
        if overlaps[k - 1] + overlaps[k] > clips[k]:
            raise PlanError(f"{field}: clip {k} has {clips[k]} frames, fewer than its two overlaps "
                            f"({overlaps[k - 1]} + {overlaps[k]}); {advice}", field=field)


# ---- the plan --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SegmentPlan:
    """What one segment's guide and mask hold (derived from the plan's numbers: `TravelPlan.segments`).

    carry_in: frames 0..carry_in-1 are the last carry_in frames of the previous clip (kept).
    from_anchor: the image the segment travels from (its colours start there), or None for segment 0
        after a continued video.
    end_anchor: the image at frame length-1 (kept), or None (a one-image run).
    depends_on_previous: chained mode: waits for the previous segment (whose last carry_in frames it
        takes); False in independent mode and for segment 0.
    carry_from_video: the carried frames come from the continued video (segment 0 only).
    """

    index: int
    length: int
    carry_in: int
    from_anchor: Optional[int]
    end_anchor: Optional[int]
    depends_on_previous: bool
    carry_from_video: bool = False

    @property
    def start_anchor(self) -> Optional[int]:
        """The image kept at frame 0. Frame 0 is the anchor only when nothing is carried in: carried
        frames already hold where the previous clip ended."""
        return self.from_anchor if self.carry_in == 0 else None

    @property
    def frame_roles(self) -> list[str]:
        """Per frame: 'carried', 'start' (start_anchor), 'end' (end_anchor) or 'gray' (generated)."""
        roles = ["carried"] * self.carry_in + ["gray"] * (self.length - self.carry_in)
        if self.start_anchor is not None:
            roles[0] = "start"
        if self.end_anchor is not None:
            roles[self.length - 1] = "end"
        return roles

    @property
    def kept_frames(self) -> list[int]:
        """Frame indices the mask keeps (black); every other frame is generated (white)."""
        return [k for k, role in enumerate(self.frame_roles) if role != "gray"]


class TravelPlan(Params):
    """The numbers a travel run is rendered and stitched by (persisted on its rows)."""

    error_class: ClassVar[type[InvalidParams]] = PlanError

    num_images: Int = Field(ge=1, description="anchor images of the run")
    segment_lengths: list[Int] = Field(min_length=1, description="frames of each segment (4k+1)")
    overlaps: list[Int] = Field(default_factory=list,
                                description="frames shared at each join, in order (the continued video's "
                                            "join first)")
    continue_video_frames: Optional[Int] = Field(None, ge=1,
                                                 description="frames of the continued video, when there is one")
    independent: Flag = Field(False, description="segments anchored only on their own images (no chain)")

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

    @property
    def clip_starts(self) -> list[int]:
        """The final-video frame where each clip's first frame lands (its cross-fade starts there)."""
        starts, position = [], 0
        for j, length in enumerate(self.clip_lengths):
            starts.append(position)
            position += length - (self.overlaps[j] if j < len(self.overlaps) else 0)
        return starts

    @property
    def anchor_frames(self) -> list[int]:
        """The final-video frame of each anchor image, in image order: the first frame for an image a
        run starts from, else the last frame of the segment that ends on it. Chained segments hand over
        there (the cross-fade's last frame is the next clip's carried copy of it); in independent mode
        it is where the cross-fade between the two segments ends."""
        offset = 1 if self.continue_video_frames is not None else 0
        starts, frames = self.clip_starts, {}
        for seg in self.segments:
            start = starts[seg.index + offset]
            if seg.start_anchor is not None:
                frames.setdefault(seg.start_anchor, start)
            if seg.end_anchor is not None:
                frames[seg.end_anchor] = start + seg.length - 1
        return [frames[image] for image in sorted(frames)]

    @property
    def segments(self) -> list[SegmentPlan]:
        continuing = self.continue_video_frames is not None
        segments = []
        for i, length in enumerate(self.segment_lengths):
            join = i if continuing else i - 1          # the join that leads into segment i
            from_video = continuing and i == 0
            carry = self.overlaps[join] if join >= 0 and (from_video or not self.independent) else 0
            if continuing:
                from_anchor, end_anchor = (i - 1 if i > 0 else None), i
            elif self.num_images == 1:
                from_anchor, end_anchor = 0, None
            else:
                from_anchor, end_anchor = i, i + 1
            segments.append(SegmentPlan(
                index=i, length=length, carry_in=carry, from_anchor=from_anchor, end_anchor=end_anchor,
                depends_on_previous=i > 0 and not self.independent, carry_from_video=from_video and carry > 0,
            ))
        return segments


def plan_travel(
    num_images: int,
    segment_frames: Any,
    frame_overlaps: Any,
    continue_video_frames: Optional[int] = None,
    independent: bool = False,
) -> TravelPlan:
    """The plan from the lists as a row gives them (one value, or one per segment / join), checked here."""
    continuing = continue_video_frames is not None
    count = segment_count(num_images, continuing)
    return build_plan(num_images, segment_frames_list(segment_frames, count),
                      frame_overlap_list(frame_overlaps, count, continuing), continue_video_frames, independent)


def build_plan(
    num_images: int,
    segment_frames: Sequence[int],
    frame_overlaps: Sequence[int],
    continue_video_frames: Optional[int] = None,
    independent: bool = False,
) -> TravelPlan:
    """The plan from lists already checked: one length per segment, one overlap per join
    (`OrchestratorDetails`)."""
    lengths = [snap_frames(value) for value in segment_frames]
    clips = ([continue_video_frames] if continue_video_frames is not None else []) + lengths
    overlaps = [cap_overlap(frame_overlaps[j], clips[j], clips[j + 1]) for j in range(len(clips) - 1)]
    _check_overlaps_fit(clips, overlaps, "frame_overlap_expanded", "lower the overlap or raise segment_frames")
    return TravelPlan(num_images=num_images, segment_lengths=lengths, overlaps=overlaps,
                      continue_video_frames=continue_video_frames, independent=independent)


def check_plan(plan: TravelPlan, *, num_images: int, segment_frames: Sequence[int],
               frame_overlaps: Sequence[int], continuing: bool, independent: bool) -> None:
    """A plan read back from a row, checked against its run without reading any video: the same
    images and mode, one segment of the requested length per leg, and overlaps that the stitch can
    use (none above what was asked for or above either clip). PlanError naming the plan's field."""

    def refuse(field: str, problem: str) -> None:
        raise PlanError(f"plan.{field} {problem}; the plan does not fit orchestrator_details (remove "
                        f"it and the orchestrator computes one)", field=f"plan.{field}")

    if plan.num_images != num_images:
        refuse("num_images", f"is {plan.num_images}, but the run has {num_images} images")
    if plan.independent != independent:
        refuse("independent", f"is {plan.independent}, but independent_segments is {independent}")
    if (plan.continue_video_frames is not None) != continuing:
        refuse("continue_video_frames", "must be given exactly when a video is continued")
    count = segment_count(num_images, continuing)
    if plan.num_segments != count:
        refuse("segment_lengths", f"has {plan.num_segments} values for {count} segments")
    for i, (length, wanted) in enumerate(zip(plan.segment_lengths, segment_frames, strict=False)):
        if length != snap_frames(wanted):
            refuse(f"segment_lengths[{i}]", f"is {length}; segment_frames_expanded[{i}] = {wanted} "
                                            f"renders {snap_frames(wanted)} frames")
    clips = plan.clip_lengths
    if len(plan.overlaps) != len(clips) - 1:
        refuse("overlaps", f"has {len(plan.overlaps)} values for {len(clips) - 1} joins")
    for j, overlap in enumerate(plan.overlaps):
        if not 0 <= overlap <= min(frame_overlaps[j], clips[j], clips[j + 1]):
            refuse(f"overlaps[{j}]", f"is {overlap}: it must be 0..min(frame_overlap_expanded[{j}] = "
                                     f"{frame_overlaps[j]}, {clips[j]}, {clips[j + 1]} frames)")
    _check_overlaps_fit(clips, plan.overlaps, "plan.overlaps", "the stitch cannot use them")
