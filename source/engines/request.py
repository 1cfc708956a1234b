"""What a workflow hands to the render bridge: one frozen, pre-snapped `RenderRequest`.

`RenderRequest.build(...)` takes the values as a handler has them (a resolution as "WxH" or [W, H], any
frame count, the two LoRA switches) and snaps them once: frames to 4k+1 and the sides to multiples of
16 (source/media/frames.py). An engine reads the request and never snaps again; the Wan2GP engine may
render more frames than asked for (its own frame rule) and keeps the first `frames`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping, Optional

from ..errors import UserError
from ..media.frames import DEFAULT_RESOLUTION, snap_frames, snap_resolution

ACCELERATORS = ("causvid", "lighti2x")


@dataclass(frozen=True)
class RenderRequest:
    """One render: every value checked and snapped.

    start_image / end_image: a PIL image, an array or a path; guide_video / mask_video: a list of frames
    or a video path; reference_images: VACE reference images. loras: {path_or_url: strength}.
    accelerator: "causvid" or "lighti2x" (their LoRA and its steps / guidance / flow shift) or None.
    engine: the engine a task asks for (None: the worker's). wgp_settings: Wan2GP-only settings.
    """

    model: str
    prompt: str
    output_path: Path
    width: int
    height: int
    frames: int
    negative_prompt: str = ""
    seed: int = 0
    steps: Optional[int] = None
    guidance_scale: Optional[float] = None
    flow_shift: Optional[float] = None
    start_image: Any = None
    end_image: Any = None
    guide_video: Any = None
    mask_video: Any = None
    reference_images: tuple = ()
    loras: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    accelerator: Optional[str] = None
    engine: Optional[str] = None
    wgp_settings: Optional[Mapping[str, Any]] = None

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    @property
    def writes_png(self) -> bool:
        return self.output_path.suffix.lower() == ".png"

    @property
    def uses_inputs(self) -> bool:
        """Images or a guide condition the render (not only the prompt)."""
        return any(v is not None for v in (self.start_image, self.end_image, self.guide_video, self.mask_video)) \
            or bool(self.reference_images)

    @classmethod
    def build(cls, *, model: str, prompt: str, output_path: Any, negative_prompt: str = "",
              resolution: Any = DEFAULT_RESOLUTION, frames: int = 81, seed: int = 0, steps: Optional[int] = None,
              guidance_scale: Optional[float] = None, flow_shift: Optional[float] = None, start_image: Any = None,
              end_image: Any = None, guide_video: Any = None, mask_video: Any = None, reference_images: Any = None,
              loras: Optional[Mapping[str, float]] = None, use_causvid_lora: bool = False,
              use_lighti2x_lora: bool = False, engine: Optional[str] = None,
              wgp_settings: Optional[Mapping[str, Any]] = None) -> "RenderRequest":
        """The request from a handler's values, snapped once; UserError naming what is wrong."""
        try:
            width, height = snap_resolution(resolution)
        except ValueError as exc:
            raise UserError(f"resolution: {exc}") from None
        try:
            frames = snap_frames(frames)
        except ValueError as exc:
            raise UserError(f"frames: {exc}") from None
        output_path = Path(output_path)
        if output_path.suffix.lower() == ".png" and frames != 1:
            raise UserError(f"a .png output holds one frame; {frames} frames were asked for")
        if use_causvid_lora and use_lighti2x_lora:
            raise UserError("use_causvid_lora and use_lighti2x_lora cannot both be set")
        accelerator = "causvid" if use_causvid_lora else "lighti2x" if use_lighti2x_lora else None
        return cls(model=model, prompt=str(prompt or ""), output_path=output_path, width=width, height=height,
                   frames=frames, negative_prompt=str(negative_prompt or ""), seed=seed, steps=steps,
                   guidance_scale=guidance_scale, flow_shift=flow_shift, start_image=start_image,
                   end_image=end_image, guide_video=guide_video, mask_video=mask_video,
                   reference_images=tuple(reference_images or ()), loras=MappingProxyType(dict(loras or {})),
                   accelerator=accelerator, engine=engine,
                   wgp_settings=MappingProxyType(dict(wgp_settings)) if wgp_settings else None)
