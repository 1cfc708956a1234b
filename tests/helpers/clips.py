"""Small clips for the join and edit tests, and an in-process worker that serves a SQLite queue."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from source.config import Settings
from source.media.video_io import VideoWriter
from source.queue.factory import open_migrated_queue


def value_clip(path: Path, first: int, frames: int, size: tuple[int, int] = (64, 64), step: int = 2,
               fps: int = 16) -> Path:
    """Frame t: a smooth picture whose brightness is first + step * t (which frame landed where can be
    told by its mean), written nearly losslessly."""
    y, x = np.mgrid[0:size[1], 0:size[0]].astype(np.float32)
    texture = 20 * np.sin((x + 2 * y) / 9.0)[..., None]
    with VideoWriter(path, fps=fps, crf=0, preset="ultrafast") as writer:
        for t in range(frames):
            base = first + step * t
            frame = np.clip(base + texture + np.array([10, 0, -10], np.float32), 0, 255).astype(np.uint8)
            writer.write(frame)
    return Path(path)


def sqlite_settings(tmp_path: Path, **extra) -> Settings:
    return Settings(db_type="sqlite", db_file=str(tmp_path / "tasks.db"), main_output_dir=str(tmp_path / "outputs"),
                    engine=extra.pop("engine", "preview"), **extra)


def serve_until_idle(settings: Settings) -> int:
    """A real worker, in this process, until no row is left to run."""
    from source.worker import Worker

    queue = open_migrated_queue(settings)
    try:
        return Worker(settings, queue, worker_id="test-worker").run(until_idle=True)
    finally:
        queue.close()
