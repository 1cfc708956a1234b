"""Relative depth maps from a local depth-estimation model, and a depth guide video.

The model is any transformers depth-estimation folder (Depth Anything, DPT, ...), named by the caller
(the worker's DEPTH_MODEL_PATH setting); nothing is downloaded. It runs on the CPU and is loaded once
per process and folder.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image

_estimators: dict[str, object] = {}   # model folder -> transformers pipeline
_lock = threading.Lock()


def _estimator(model_folder: Union[str, Path]):
    key = str(model_folder)
    with _lock:
        if key not in _estimators:
            from transformers import pipeline

            _estimators[key] = pipeline("depth-estimation", model=key, device="cpu")
        return _estimators[key]


def estimate_depth(image: np.ndarray, model_folder: Union[str, Path]) -> np.ndarray:
    """Relative depth of an RGB uint8 image as an RGB uint8 grey image of the same size, stretched to
    the full 0..255 range (near = bright)."""
    result = _estimator(model_folder)(Image.fromarray(image))
    depth = np.squeeze(np.asarray(result["predicted_depth"].detach().cpu().numpy(), dtype=np.float32))
    low, high = float(depth.min()), float(depth.max())
    scaled = (depth - low) / (high - low) if high > low else np.zeros_like(depth)
    grey = Image.fromarray(np.uint8(np.rint(scaled * 255))).resize(image.shape[1::-1], Image.BICUBIC)
    return np.repeat(np.asarray(grey)[..., None], 3, axis=2)


def depth_guide_frames(image: np.ndarray, target: np.ndarray, frames: int,
                       model_folder: Union[str, Path]) -> list[np.ndarray]:
    """A depth guide video: frame 0 the image itself, then the image's depth map cross-fading linearly
    into the target's (the last frame)."""
    start = estimate_depth(image, model_folder).astype(np.float32)
    end = estimate_depth(target, model_folder).astype(np.float32)
    out = [image]
    for k in range(1, frames):
        t = k / (frames - 1)
        out.append(np.uint8(np.rint((1 - t) * start + t * end)))
    return out
