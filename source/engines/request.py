"""What a workflow hands to the render bridge: one frozen, pre-snapped `RenderRequest`.

`RenderRequest.build(...)` takes the values as a handler has them (a resolution as "WxH" or [W, H], any
frame count, the accelerator LoRA switches, LoRA strengths as written) and snaps them once: frames to 4k+1 and the sides to multiples of
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
from .loras import lightning_phases
from .models import lookup_model
from .phases import PhaseError, PhasePlan, is_phased, parse_strength

ACCELERATORS = ("causvid", "lighti2x", "lightning")


@dataclass(frozen=True)
class RenderRequest:
    """One render: every value checked and snapped.

    start_image / end_image: a PIL image, an array or a path; guide_video / mask_video: a list of frames
    or a video path; reference_images: VACE reference images. loras: {path_or_url: strength}, a strength
    a number or one per phase (a tuple; `(1.0, 0.0)`: high-noise phase only).
    accelerator: "causvid" or "lighti2x" (their LoRA and its steps / guidance / flow shift), "lightning"
    (Wan 2.2 A14B: its HIGH/LOW LoRAs; `phases` are then Lightning's) or None.
    phases: two-expert models only (source/engines/phases.py): steps, guidance, solver and shift per phase.
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
    loras: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    accelerator: Optional[str] = None
    phases: Optional[PhasePlan] = None
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
              loras: Optional[Mapping[str, Any]] = None, use_causvid_lora: bool = False,
              use_lighti2x_lora: bool = False, engine: Optional[str] = None,
              wgp_settings: Optional[Mapping[str, Any]] = None, phases: Optional[PhasePlan] = None,
              use_lightning_lora: bool = False) -> "RenderRequest":
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
        if sum(map(bool, (use_causvid_lora, use_lighti2x_lora, use_lightning_lora))) > 1:
            raise UserError("use_causvid_lora, use_lighti2x_lora and use_lightning_lora: set one at most")
        accelerator = ("causvid" if use_causvid_lora else "lighti2x" if use_lighti2x_lora else
                       "lightning" if use_lightning_lora else None)
        if use_lightning_lora:
            if phases is not None:
                raise UserError("use_lightning_lora sets the phases itself; drop phase_config or the flag")
            phases = lightning_phases()
        elif phases is not None and accelerator:
            raise UserError("phases set steps, guidance and shift themselves; drop the accelerator LoRA flag")
        loras = {key: _strength(key, value) for key, value in (loras or {}).items()}
        if phases is not None or any(is_phased(v) for v in loras.values()):
            _check_two_experts(model)
        return cls(model=model, prompt=str(prompt or ""), output_path=output_path, width=width, height=height,
                   frames=frames, negative_prompt=str(negative_prompt or ""), seed=seed, steps=steps,
                   guidance_scale=guidance_scale, flow_shift=flow_shift, start_image=start_image,
                   end_image=end_image, guide_video=guide_video, mask_video=mask_video,
                   reference_images=tuple(reference_images or ()), loras=MappingProxyType(dict(loras or {})),
                   accelerator=accelerator, phases=phases, engine=engine,
                   wgp_settings=MappingProxyType(dict(wgp_settings)) if wgp_settings else None)


def _check_two_experts(model: str) -> None:
    """Phases and per-phase strengths need a two-expert model (a `wan2gp:` model: Wan2GP decides)."""
    try:
        spec = lookup_model(model)
    except UserError:
        return
    if spec.kind != "wan2gp" and spec.size != "A14B":
        raise UserError(f"phases, per-phase LoRA strengths and Lightning need a two-expert model (Wan 2.2 A14B: "
                        f"t2v_2_2, i2v_2_2); {spec.name} has one")


def _strength(key: Any, value: Any) -> Any:
    """A LoRA's strength: a number, or one per phase (a tuple; "a;b" and lists are read as such)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, list, tuple)):
        raise UserError(f"LoRA strength for {key} must be a number, got {value!r}")
    try:
        return parse_strength(value, f"LoRA strength for {key}")
    except PhaseError as exc:
        raise UserError(str(exc)) from None
