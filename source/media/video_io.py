"""Video files in and out, and PNG frames out, with PyAV (its wheels ship FFmpeg; no system ffmpeg needed).

Frames are numpy arrays, H x W x 3, uint8, RGB. Readers stream; nothing holds a whole video unless asked.
Images are read by source/media/images.py.
"""
from __future__ import annotations

import os
import uuid
from collections import deque
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator, Optional, Union

import av
import numpy as np
from PIL import Image

from ..errors import InvalidParams, UserError
from .frames import WAN_FPS

PathLike = Union[str, Path]


class VideoError(UserError):
    """A file that is missing or is not a video PyAV can decode; the message names the file."""


class FrameOutOfRange(InvalidParams, IndexError):
    """A frame index outside the video; the message gives the valid range."""


@contextmanager
def _video_stream(path: PathLike):
    """The first video stream of a file, open for decoding; VideoError when the file is not a video."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(f"cannot read video {Path(path).name}: it has no video stream")
            yield container, container.streams.video[0]
    except av.error.FFmpegError as exc:  # PyAV's own error kinds: not found, invalid data, ...
        raise VideoError(f"cannot read video {Path(path).name}: {exc}") from None


def iter_frames(path: PathLike) -> Iterator[np.ndarray]:
    """Decode every frame of a video, in order, as RGB uint8 arrays."""
    with _video_stream(path) as (container, stream):
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            yield frame.to_ndarray(format="rgb24")


def read_frames(path: PathLike) -> list[np.ndarray]:
    return list(iter_frames(path))


def count_frames(path: PathLike) -> int:
    """Frames counted by decoding (exact, whatever the container header claims)."""
    count = 0
    with _video_stream(path) as (container, stream):
        for _ in container.decode(stream):
            count += 1
    return count


def video_info(path: PathLike) -> dict:
    """width, height, fps (float), the frame count from the header (may be 0 when unknown) and the
    file's title tag (None when it has none)."""
    with _video_stream(path) as (container, stream):
        rate = stream.average_rate or stream.base_rate or Fraction(WAN_FPS)
        return {
            "title": container.metadata.get("title"),
            "width": stream.codec_context.width,
            "height": stream.codec_context.height,
            "fps": float(rate),
            "frames": stream.frames,
        }


def read_frame(path: PathLike, index: int) -> np.ndarray:
    """Frame `index` (negative counts from the end); FrameOutOfRange with the valid range otherwise."""
    total = count_frames(path)
    position = index + total if index < 0 else index
    if not 0 <= position < total:
        raise FrameOutOfRange(f"frame_index {index} is out of range for a video of {total} frames "
                              f"(valid: {-total}..{total - 1})", field="frame_index")
    for i, frame in enumerate(iter_frames(path)):
        if i == position:
            return frame
    raise IndexError(f"frame {index} could not be decoded from {path}")


def last_frames(path: PathLike, count: int) -> list[np.ndarray]:
    """The last `count` frames of a video, keeping only `count` frames in memory.

    When the header knows the frame count, decoding starts at the last keyframe at or before the first
    frame wanted (a seek), so the frames before it are never decoded; the seek is checked (the first
    frame decoded must be at or before the wanted one, and enough frames must follow) and the whole
    video is decoded instead when it cannot be trusted.
    """
    if count <= 0:
        return []
    window = _last_frames_after_seek(path, count)
    if window is None:
        window = deque(iter_frames(path), maxlen=count)
    return list(window)


def _last_frames_after_seek(path: PathLike, count: int) -> Optional[deque]:
    with _video_stream(path) as (container, stream):
        total = stream.frames
        rate = stream.average_rate
        if not total or not rate or stream.time_base is None or total <= count:
            return None
        start = stream.start_time or 0
        wanted = float(Fraction(total - count) / rate)           # seconds after the first frame
        half_frame = 0.5 / float(rate)
        container.seek(start + int(wanted / stream.time_base), stream=stream, backward=True, any_frame=False)
        stream.thread_type = "AUTO"
        window: deque = deque(maxlen=count)
        first_time = None
        decoded = 0
        for frame in container.decode(stream):
            if first_time is None:
                first_time = frame.time
                if first_time is None or first_time - float(start * stream.time_base) > wanted + half_frame:
                    return None  # landed after the first wanted frame
            window.append(frame.to_ndarray(format="rgb24"))
            decoded += 1
        if decoded < count:
            return None
        return window


KEYINT_SECONDS = 2  # a keyframe at least every 2 s by default (x264's own default is 250 frames)


class VideoWriter:
    """Streams frames into an H.264 mp4 (yuv420p, plays in browsers) at a fixed frame rate.

    Sizes must be even for yuv420p; frames are written as given (no resampling of time).
    Writes to a temporary name and renames on close, so a crash never leaves a half file at `path`.
    """

    def __init__(self, path: PathLike, fps: int = WAN_FPS, crf: int = 17, codec: str = "libx264",
                 preset: str = "medium", title: Optional[str] = None, keyint: Optional[int] = None):
        self.path = Path(path)
        # at most this many frames between keyframes: a reader that wants the last frames of a clip
        # (`last_frames`) or a player that seeks decodes at most this many before them
        self.keyint = keyint or max(1, round(KEYINT_SECONDS * fps))
        self.title = title
        self.fps = fps
        self.crf = crf
        self.codec = codec
        self.preset = preset
        # its own temporary name: two attempts writing the same file never share (or rename) each other's
        self._tmp = self.path.with_name(f"{self.path.stem}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}{self.path.suffix}")
        self._container = None
        self._stream = None
        self.frames_written = 0

    def _open(self, width: int, height: int) -> None:
        if width % 2 or height % 2:
            raise ValueError(f"video size must be even for yuv420p, got {width}x{height}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(self._tmp), mode="w", format="mp4")
        if self.title:
            self._container.metadata["title"] = self.title
        stream = self._container.add_stream(self.codec, rate=self.fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(self.crf), "preset": self.preset}
        stream.options["g"] = str(self.keyint)
        self._stream = stream

    def write(self, frame: np.ndarray) -> None:
        frame = np.ascontiguousarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"frames must be HxWx3 uint8, got {frame.dtype} {frame.shape}")
        if self._container is None:
            self._open(frame.shape[1], frame.shape[0])
        elif (frame.shape[1], frame.shape[0]) != (self._stream.width, self._stream.height):
            raise ValueError(f"frame size {frame.shape[1]}x{frame.shape[0]} differs from the video's "
                             f"{self._stream.width}x{self._stream.height}")
        video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
        for packet in self._stream.encode(video_frame):
            self._container.mux(packet)
        self.frames_written += 1

    def close(self) -> Path:
        if self._container is None:
            raise ValueError(f"no frames were written to {self.path}")
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()
        self._container = None
        self._tmp.replace(self.path)
        return self.path

    def abort(self) -> None:
        if self._container is not None:
            try:
                self._container.close()
            except Exception:
                pass
            self._container = None
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_video(frames: Iterable[np.ndarray], path: PathLike, fps: int = WAN_FPS, crf: int = 17,
                title: Optional[str] = None) -> Path:
    """Write frames as an mp4; `title` goes into the file's title tag (ffprobe shows it)."""
    with VideoWriter(path, fps=fps, crf=crf, title=title) as writer:
        for frame in frames:
            writer.write(frame)
    return Path(path)


def save_png(frame: np.ndarray, path: PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}.png")
    Image.fromarray(np.asarray(frame, dtype=np.uint8)).save(tmp, format="PNG")
    tmp.replace(path)
    return path
