"""Video files in and out, and PNG frames out, with PyAV (its wheels ship FFmpeg; no system ffmpeg needed).

Frames are numpy arrays, H x W x 3, uint8, RGB. Readers stream; nothing holds a whole video unless asked.
Images are read by source/media/images.py.
"""
from __future__ import annotations

import os
import uuid
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
    """The last `count` frames of a video (streams; keeps only `count` frames in memory)."""
    from collections import deque

    window: deque = deque(maxlen=max(count, 0))
    for frame in iter_frames(path):
        window.append(frame)
    return list(window) if count > 0 else []


class VideoWriter:
    """Streams frames into an H.264 mp4 (yuv420p, plays in browsers) at a fixed frame rate.

    Sizes must be even for yuv420p; frames are written as given (no resampling of time).
    Writes to a temporary name and renames on close, so a crash never leaves a half file at `path`.
    """

    def __init__(self, path: PathLike, fps: int = WAN_FPS, crf: int = 17, codec: str = "libx264",
                 preset: str = "medium", title: Optional[str] = None):
        self.path = Path(path)
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
