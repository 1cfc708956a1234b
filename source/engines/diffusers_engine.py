"""The diffusers engine: load a Wan pipeline of a kind from a folder, and run one render on it."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from PIL import Image

from .runtime import RuntimeOptions, apply_runtime_options

# kind -> diffusers pipeline class (ti2v loads as text-to-video and switches per call)
PIPELINE_CLASSES = {
    "t2v": "WanPipeline",
    "ti2v": "WanPipeline",
    "i2v": "WanImageToVideoPipeline",
    "flf2v": "WanImageToVideoPipeline",
    "vace": "WanVACEPipeline",
}


@dataclass
class RenderCall:
    """One render, with every value already checked, snapped and loaded."""

    prompt: str
    negative_prompt: str
    width: int
    height: int
    frames: int
    steps: int
    guidance_scale: float
    flow_shift: float
    seed: int
    start_image: Optional[Image.Image] = None
    end_image: Optional[Image.Image] = None
    guide_video: Optional[list] = None
    mask_video: Optional[list] = None
    reference_images: list = field(default_factory=list)


def load_pipeline(location: Path, kind: str, options: RuntimeOptions):
    """A pipeline of `kind` from a diffusers-format folder, placed on its device."""
    import diffusers

    import torch

    cls = getattr(diffusers, PIPELINE_CLASSES[kind])
    # The Wan VAE and CLIP image encoder lose detail in half precision; they are small, so they stay fp32.
    dtypes = {"default": options.dtype, "vae": torch.float32, "image_encoder": torch.float32}
    pipe = cls.from_pretrained(str(location), dtype=dtypes)
    apply_runtime_options(pipe, options)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def set_flow_shift(pipe, flow_shift: float) -> None:
    """Wan's flow-matching schedulers call the sigma shift `flow_shift` (UniPC) or `shift` (Euler)."""
    scheduler = pipe.scheduler
    config = scheduler.config
    for name in ("flow_shift", "shift"):
        if name in config:
            if float(config[name]) != float(flow_shift):
                pipe.scheduler = type(scheduler).from_config(config, **{name: float(flow_shift)})
            return


def run(pipe, call: RenderCall, kind: str,
        progress_callback: Optional[Callable[[int, int], None]] = None) -> np.ndarray:
    """Render; frames as uint8 (F, H, W, 3). An exception from progress_callback stops at that step."""
    import torch

    if kind == "ti2v" and call.start_image is not None:
        from diffusers import WanImageToVideoPipeline

        pipe = WanImageToVideoPipeline.from_pipe(pipe)  # same weights, image-conditioned call
    set_flow_shift(pipe, call.flow_shift)
    total = call.steps

    def on_step_end(_pipe, index, _timestep, _tensors):
        if progress_callback is not None:
            progress_callback(index + 1, total)
        return {}

    kwargs = dict(
        prompt=call.prompt, negative_prompt=call.negative_prompt or None, height=call.height, width=call.width,
        num_frames=call.frames, num_inference_steps=call.steps, guidance_scale=call.guidance_scale,
        # a CPU generator gives the same noise on every device, so a seed means the same video anywhere
        generator=torch.Generator(device="cpu").manual_seed(int(call.seed)),
        output_type="np", callback_on_step_end=on_step_end,
    )
    if kind == "vace":
        kwargs.update(video=call.guide_video, mask=call.mask_video,
                      reference_images=call.reference_images or None)
    elif kind in ("i2v", "flf2v") or (kind == "ti2v" and call.start_image is not None):
        kwargs.update(image=call.start_image)
        if call.end_image is not None:
            kwargs.update(last_image=call.end_image)
    with torch.inference_mode():
        video = pipe(**kwargs).frames[0]
    video = np.asarray(video)
    return (np.clip(video, 0.0, 1.0) * 255.0).round().astype(np.uint8)
