"""Join clips into one video with raised-cosine cross-fades, streaming clip by clip.

Clip k of length L_k shares O_k frames with clip k + 1: the output is clip 0 without its last O_0
frames, then for each join a cross-fade of clip k's last O_k frames into clip k + 1's first O_k frames,
then the rest of clip k + 1 up to its own outgoing overlap (docs/TRAVEL.md, "The stitch").

Only the outgoing overlap of the current clip is held in memory (at most max(O) frames), so memory does
not grow with the number of clips. The output has exactly sum(L) - sum(O) frames; a clip whose decoded
length differs from the plan is an error naming that clip.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
from PIL import Image, ImageFilter

from ..errors import StitchError
from .easing import crossfade_weights
from .frames import WAN_FPS
from .images import fit_frame
from .upscale import upscale_frame
from .video_io import VideoWriter, iter_frames, video_info


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
    """The span of each clip, for overlaps that fit (a clip's incoming and outgoing cross-fades share no
    frames: the travel plan's rule, checked where the plan is made and read, source/workflows/travel/plan.py).
    ValueError when the counts differ (one overlap per join)."""
    if len(overlaps) != max(len(clip_lengths) - 1, 0):
        raise ValueError(f"{len(clip_lengths)} clips need {max(len(clip_lengths) - 1, 0)} overlaps, "
                         f"got {len(overlaps)}")
    spans = []
    for k, length in enumerate(clip_lengths):
        fade_in = overlaps[k - 1] if k > 0 else 0
        fade_out = overlaps[k] if k < len(overlaps) else 0
        spans.append(ClipSpan(length, fade_in, fade_out))
    return spans


def crossfade_frame(outgoing: np.ndarray, incoming: np.ndarray, weight: float,
                    sharp_amount: float = 0.0) -> np.ndarray:
    """(1 - w) * outgoing + w * incoming, optionally sharpened where the two are mixed.

    Blending two slightly different frames softens edges; an unsharp mask scaled by how mixed the frame
    is (4 w (1 - w): 0 on a pure frame, 1 half way) restores them without touching pure frames.
    """
    if weight >= 1.0:
        return incoming
    mixed = outgoing.astype(np.float32) * (1.0 - weight) + incoming.astype(np.float32) * weight
    frame = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    amount = sharp_amount * 4.0 * weight * (1.0 - weight)
    if amount > 0.005:
        img = Image.fromarray(frame).filter(
            ImageFilter.UnsharpMask(radius=1.0, percent=int(round(amount * 100)), threshold=0))
        frame = np.asarray(img, dtype=np.uint8)
    return frame


def selected_frames(path: str | Path, indices: Sequence[int]):
    """The frames of `path` at `indices` (ascending, repeats allowed), streamed."""
    position = 0
    for n, frame in enumerate(iter_frames(path)):
        while position < len(indices) and indices[position] == n:
            yield frame
            position += 1
        if position == len(indices):
            return


def stitch_clips(
    clip_paths: Sequence[str | Path],
    overlaps: Sequence[int],
    output_path: str | Path,
    *,
    expected_lengths: Optional[Sequence[int]] = None,
    clip_names: Optional[Sequence[str]] = None,
    size: Optional[tuple[int, int]] = None,
    sharp_amount: float = 0.0,
    upscale_factor: Optional[float] = None,
    fps: int = WAN_FPS,
    crf: int = 17,
    preset: str = "medium",
    progress: Optional[Callable[[int, int], None]] = None,
    check_cancelled: Optional[Callable[[], None]] = None,
    clip_frames: Optional[Sequence[Optional[Sequence[int]]]] = None,
) -> int:
    """Write the joined video to `output_path`; returns the number of frames written.

    expected_lengths: each clip's planned length (default: counted by decoding, one extra pass).
    size: (W, H) every frame is fitted to (default: the first clip's size).
    progress(frames_written, total) is called once per clip and may raise to stop.
    check_cancelled() is called before each frame is written and may raise to stop (a cancel then takes
    effect within one frame's work, not one clip's).
    clip_frames: per clip, None (all its frames) or the indices of its frames to use, ascending, repeats
    allowed (a trimmed or resampled clip without writing it again: each encode shifts pixel values).
    """
    names = list(clip_names) if clip_names else [f"clip {k}" for k in range(len(clip_paths))]
    if expected_lengths is None:
        from .video_io import count_frames

        expected_lengths = [count_frames(p) for p in clip_paths]
    spans = stitch_plan(list(expected_lengths), list(overlaps))
    total = sum(expected_lengths) - sum(overlaps)
    scale = upscale_factor if upscale_factor and upscale_factor != 1 else None

    # the clips' title tag, when they share one (a preview's says so), goes on the joined video too
    titles = {video_info(path)["title"] for path in clip_paths}
    writer = VideoWriter(output_path, fps=fps, crf=crf, preset=preset, title=titles.pop() if len(titles) == 1 else None)

    def emit(frame: np.ndarray) -> None:
        if check_cancelled is not None:
            check_cancelled()
        writer.write(upscale_frame(frame, scale) if scale else frame)

    try:
        tail: list[np.ndarray] = []          # the previous clip's outgoing frames
        for k, (path, span) in enumerate(zip(clip_paths, spans, strict=False)):
            weights = crossfade_weights(span.fade_in) if span.fade_in else []
            next_tail: list[np.ndarray] = []
            seen = 0
            picked = clip_frames[k] if clip_frames and clip_frames[k] is not None else None
            for t, frame in enumerate(iter_frames(path) if picked is None else selected_frames(path, picked)):
                if t >= span.length:
                    raise StitchError(f"{names[k]} ({Path(path).name}) has more frames than the "
                                      f"{span.length} the plan says")
                seen = t + 1
                if size is None:
                    size = (frame.shape[1], frame.shape[0])
                frame = fit_frame(frame, size)
                if t < span.fade_in:
                    emit(crossfade_frame(tail[t], frame, weights[t], sharp_amount))
                elif t >= span.length - span.fade_out:
                    next_tail.append(frame)
                else:
                    emit(frame)
            if seen != span.length:
                raise StitchError(f"{names[k]} ({Path(path).name}) has {seen} frames; the plan says "
                                  f"{span.length}")
            tail = next_tail
            if progress is not None:
                progress(writer.frames_written, total)
        if writer.frames_written != total:
            raise StitchError(f"stitched {writer.frames_written} frames, expected {total}")
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return total
