"""Helpers for the pose, utility and different-perspective tests: a handler's context built as the
worker builds it, the bundled astronaut photo, and small synthetic videos."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from source.config import Settings, resolve_settings
from source.media import video_io
from source.queue.model import Status, Task
from source.tasks.context import TaskContext
from source.workflows.registry import context_for


def settings_for(tmp_path: Path, engine: str = "tiny") -> Settings:
    """The worker's settings for a test: folders under tmp_path; the rest from the environment (as the
    worker resolves them, so DEPTH_MODEL_PATH set by a test counts)."""
    return resolve_settings({"main_output_dir": str(tmp_path / "outputs"), "work_dir": str(tmp_path / "work"),
                             "db_type": "sqlite", "db_file": str(tmp_path / "tasks.db"),
                             "engine": engine})


def make_context(tmp_path: Path, task_type: str, params: dict, task_id: str = "task-1",
                 queue=None, engine: str = "tiny") -> TaskContext:
    """The context a worker hands the handler of `task_type` (its params validated by the task
    type's model: bad params raise InvalidParams here)."""
    task = Task(id=task_id, task_type=task_type, params=params, status=Status.IN_PROGRESS)
    return context_for(task, settings_for(tmp_path, engine), queue=queue, worker_id="test-worker")


def astronaut() -> np.ndarray:
    """scikit-image's bundled public-domain photo (512x512 RGB) of an astronaut, head and shoulders."""
    import skimage.data

    return np.ascontiguousarray(skimage.data.astronaut())


def astronaut_png(folder: Path) -> Path:
    return video_io.save_png(astronaut(), Path(folder) / "astronaut.png")


def numbered_video(path: Path, frames: int, size: tuple[int, int] = (64, 48)) -> Path:
    """A video whose frame k is a flat grey of level 10 + 20 k (readable back despite compression)."""
    width, height = size
    return video_io.write_video(
        (np.full((height, width, 3), 10 + 20 * k, dtype=np.uint8) for k in range(frames)), path)


def frame_level(frame: np.ndarray) -> int:
    """Which numbered_video frame this is."""
    return int(round((float(frame.mean()) - 10) / 20))


def square_image(size: tuple[int, int], left: int, top: int, side: int = 16,
                 colour=(230, 40, 40), background: Optional[tuple] = (20, 60, 20)) -> np.ndarray:
    """A flat background with a textured square (texture gives optical flow something to hold)."""
    width, height = size
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[:] = background
    rng = np.random.default_rng(7)
    patch = np.clip(np.array(colour)[None, None, :] + rng.integers(-25, 25, (side, side, 1)), 0, 255)
    image[top:top + side, left:left + side] = patch.astype(np.uint8)
    return image


def tiny_depth_model(folder: Path) -> Path:
    """A random-weight DPT depth-estimation model saved in the transformers format (for DEPTH_MODEL_PATH)."""
    from transformers import DPTConfig, DPTForDepthEstimation, DPTImageProcessor

    config = DPTConfig(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=37,
                       image_size=64, patch_size=16, neck_hidden_sizes=[8, 16, 32, 32], fusion_hidden_size=16,
                       backbone_out_indices=[0, 1, 2, 3], head_hidden_size=8)
    DPTForDepthEstimation(config).eval().save_pretrained(folder)
    DPTImageProcessor(size={"height": 64, "width": 64}, keep_aspect_ratio=False).save_pretrained(folder)
    return Path(folder)
