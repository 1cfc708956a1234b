"""Frame-rate changes by timestamp, and clips written from frames (reversed, or a render's window).

Resampling picks, for each output instant k / fps, the source frame showing at that instant (the last
one whose timestamp is not after it), so a clip keeps its duration and its frames keep their order: a
30 fps clip of 152 frames (5.07 s) becomes 81 frames at 16 fps. Indices, never seeking by time, choose
frames, so nothing is duplicated or lost at keyframes; the stitch applies them while it reads a clip
(source/media/stitch.py `clip_frames`), so a resampled clip is not encoded an extra time.
"""
from __future__ import annotations

from bisect import bisect_right
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .video_io import VideoWriter, _video_stream, iter_frames

# Frame rates closer than this are the same rate (no resampling).
FPS_TOLERANCE = 0.01


def resample_indices(times: Sequence[float], fps: float, source_fps: float) -> list[int]:
    """The source frame shown at each instant k / fps of a clip whose frames start at `times`
    (seconds, ascending); the clip lasts until its last frame's time + 1 / source_fps."""
    if not times:
        return []
    start = times[0]
    offsets = [t - start for t in times]
    duration = offsets[-1] + 1.0 / source_fps
    count = max(1, int(np.floor(duration * fps + 1e-6)))
    eps = 1e-6
    return [max(0, bisect_right(offsets, k / fps + eps) - 1) for k in range(count)]


def frame_times(path: str | Path) -> tuple[list[float], float]:
    """Each frame's presentation time (seconds) and the stream's frame rate."""
    times: list[float] = []
    with _video_stream(path) as (container, stream):
        rate = float(stream.average_rate or stream.base_rate or 16)
        for n, frame in enumerate(container.decode(stream)):
            times.append(float(frame.time) if frame.time is not None else n / rate)
    return times, rate


def write_frames_at(frames: Iterable[np.ndarray], output: str | Path, fps: float, crf: int = 12) -> Path:
    """Frames written as an H.264 mp4 at `fps` (a fractional rate kept as a fraction)."""
    with VideoWriter(output, fps=_writer_fps(fps), crf=crf, preset="veryfast") as writer:
        for frame in frames:
            writer.write(frame)
    return Path(output)


def reverse_video(path: str | Path, output: str | Path, fps: float) -> Path:
    """The clip played backwards (held in memory: clips to loop are short)."""
    return write_frames_at(reversed(list(iter_frames(path))), output, fps)


def _writer_fps(fps: float):
    from fractions import Fraction

    return Fraction(fps).limit_denominator(1001) if not float(fps).is_integer() else int(fps)
