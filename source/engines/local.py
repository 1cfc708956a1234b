"""The diffusers and tiny engines: Wan pipelines run in this process (source/engines/registry.py).

diffusers serves every model of the registry from its local folder, the Hugging Face cache or a
download (source/engines/weights.py); `tiny` is a model name of its own. The tiny engine serves any
model name with the random-weight tiny model of the same kind (source/engines/tiny.py): CPU tests and
demos. Both keep one pipeline resident between renders (source/engines/residency.py).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

from ..config import Settings
from ..errors import UserError
from ..media.frames import WAN_FPS
from ..media.video_io import save_png, write_video
from . import diffusers_engine
from .inputs import as_image, guide_and_mask
from .loras import ACCELERATOR_SETTINGS, accelerator_lora_file, apply_loras, lightning_lora_files, resolve_lora_file
from .models import MODELS, lookup_model, tiny_kind_for
from .request import RenderRequest
from .residency import RESIDENT
from .runtime import runtime_options
from .tiny import ensure_tiny_model
from .weights import locate_weights

log = logging.getLogger(__name__)


class LocalEngine:
    """A Wan pipeline in this process; `always_tiny`: every model name is served by its tiny stand-in."""

    def __init__(self, name: str, always_tiny: bool) -> None:
        self.name = name
        self.always_tiny = always_tiny

    def check(self, settings: Settings) -> None:
        """Nothing to check before the first render: weights are looked for per model."""

    def serves(self, request: RenderRequest) -> Optional[str]:
        spec = lookup_model(request.model)  # UnknownModel: names the model and lists the known ones
        if spec.kind == "wan2gp":
            return (f"model {request.model!r} is a Wan2GP model type; it renders with --engine wan2gp only "
                    f"(this worker renders with engine {self.name})")
        if spec.name == "tiny":  # a tiny model standing in for a real one takes what the real one takes
            return None
        return _inputs_problem(spec.name, spec.kind, has_guide=_has_guide(request),
                               has_start=request.start_image is not None, has_end=request.end_image is not None)

    def _model(self, request: RenderRequest, settings: Settings) -> tuple[Any, str, bool, Path]:
        spec = lookup_model(request.model)
        tiny = self.always_tiny or spec.name == "tiny"
        if tiny:
            kind = tiny_kind_for(spec.kind, has_guide=_has_guide(request), has_start=request.start_image is not None,
                                 has_end=request.end_image is not None)
            if spec.size == "A14B":  # a two-expert tiny model stands in for Wan 2.2 A14B
                kind = "i2v_a14b" if kind in ("i2v", "flf2v") else "t2v_a14b"
            return spec, kind, True, ensure_tiny_model(kind, settings)
        return spec, spec.kind, False, locate_weights(spec, settings)

    def load(self, request: RenderRequest, settings: Settings) -> Any:
        """The resident pipeline for the request's model (loaded, after freeing another, only when it changed)."""
        return self._load(*self._model(request, settings), settings)

    def _load(self, spec: Any, kind: str, tiny: bool, location: Path, settings: Settings) -> Any:
        options = runtime_options(settings)
        key = (spec.name if not tiny else f"tiny-{kind}", str(location), diffusers_engine.PIPELINE_CLASSES[kind],
               options.key)
        return RESIDENT.get(key, lambda: diffusers_engine.load_pipeline(location, kind, options))

    def render(self, request: RenderRequest, settings: Settings, progress_callback: Any = None) -> Path:
        spec, kind, tiny, location = self._model(request, settings)
        # given value > model default; the accelerator LoRA's settings, or the phases, override both
        steps = request.steps if request.steps is not None else (MODELS["tiny"].steps if tiny else spec.steps)
        guidance = spec.guidance_scale if request.guidance_scale is None else request.guidance_scale
        shift = spec.flow_shift if request.flow_shift is None else request.flow_shift
        phases = request.phases
        flag = request.accelerator if request.accelerator in ACCELERATOR_SETTINGS else None
        if flag:
            steps, guidance, shift = (ACCELERATOR_SETTINGS[flag][k] for k in ("steps", "guidance_scale", "flow_shift"))
        if phases is not None:
            steps, guidance, shift = phases.total_steps, phases.guidance[0], phases.flow_shift
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
            raise UserError(f"steps must be a positive integer, got {steps!r}")

        size = request.size
        call = diffusers_engine.RenderCall(
            prompt=request.prompt, negative_prompt=request.negative_prompt, width=request.width,
            height=request.height, frames=request.frames, steps=steps, guidance_scale=float(guidance),
            flow_shift=float(shift), seed=int(request.seed), phases=phases,
            start_image=as_image(request.start_image, size, "start image") if request.start_image is not None else None,
            end_image=as_image(request.end_image, size, "end image") if request.end_image is not None else None,
        )
        if kind == "vace":
            call.guide_video, call.mask_video = guide_and_mask(call.start_image, call.end_image, request.guide_video,
                                                                request.mask_video, call.frames, size)
            call.reference_images = [as_image(image, size, "reference image") for image in request.reference_images]
        elif request.reference_images:
            log.warning("reference images are used by VACE models only; ignored for %s", spec.name)

        # LoRA files fetched before the model is touched, so a dead URL costs no load
        folder = settings.lora_path
        lora_files = [(resolve_lora_file(str(key), folder), _strength(key, value)) for key, value in request.loras.items()]
        if flag:
            lora_files.append((accelerator_lora_file(flag, spec.size, settings, tiny_kind=kind if tiny else None), 1.0))
        if request.accelerator == "lightning":
            lora_files += list(lightning_lora_files(kind, settings, tiny_kind=kind if tiny else None).items())
        pipe = self._load(spec, kind, tiny, location, settings)
        call.adapters = apply_loras(pipe, RESIDENT.adapters, lora_files)
        video = diffusers_engine.run(pipe, call, kind, progress_callback)
        if request.writes_png:
            return save_png(video[0], request.output_path)
        return write_video(video, request.output_path, fps=WAN_FPS)


def _has_guide(request: RenderRequest) -> bool:
    return request.guide_video is not None or request.mask_video is not None


def _inputs_problem(name: str, kind: str, *, has_guide: bool, has_start: bool, has_end: bool) -> Optional[str]:
    """Real models take only the inputs they were trained for; say which model would take them."""
    if kind == "t2v" and (has_start or has_end or has_guide):
        return (f"model {name} makes video from text only; for start/end images use i2v, flf2v_720p or a vace "
                f"model, for guide/mask videos a vace model")
    if kind in ("i2v", "flf2v"):
        if has_guide:
            return f"model {name} takes images, not guide/mask videos; use vace_14B or vace_1.3B"
        if not has_start:
            return f"model {name} needs a start image (image_start_paths)"
    if kind == "ti2v" and (has_end or has_guide):
        return f"model {name} takes a text prompt and at most a start image"
    return None


def _strength(key: Any, value: Any) -> Any:
    """A number, or one per phase (a tuple, as RenderRequest.build read it)."""
    if isinstance(value, tuple):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserError(f"LoRA strength for {key} must be a number, got {value!r}")
    return float(value)


DIFFUSERS = LocalEngine("diffusers", always_tiny=False)
TINY = LocalEngine("tiny", always_tiny=True)
