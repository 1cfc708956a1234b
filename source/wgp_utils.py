"""The render bridge: `generate_single_video` is the only way handlers render.

    generate_single_video(
        *, model: str, prompt: str, output_path: str | Path,
        negative_prompt: str = "", resolution: str | tuple[int, int] = "832x480",
        frames: int = 81, seed: int = 0, steps: int | None = None,
        guidance_scale: float | None = None, flow_shift: float | None = None,
        start_image: PIL.Image | str | None = None, end_image: PIL.Image | str | None = None,
        guide_video: list[PIL.Image] | str | None = None, mask_video: list[PIL.Image] | str | None = None,
        reference_images: list[PIL.Image | str] | None = None,
        loras: dict[str, float | tuple] | None = None,  # {path_or_url: strength, or one per phase}
        phases: PhasePlan | None = None,                # two-expert models: steps/guidance/solver per phase
        use_causvid_lora: bool = False, use_lighti2x_lora: bool = False,
        use_lightning_lora: bool = False,               # Wan 2.2 A14B: Lightning's HIGH/LOW LoRAs and phases
        engine: str | None = None,                      # auto | diffusers | tiny | wan2gp | preview (default: settings)
        wgp_settings: dict | None = None,               # Wan2GP-only settings (engine wan2gp; else ignored)
        progress_callback: Callable[[int, int], None] | None = None,  # (step, total); may raise to cancel
        settings: Settings | None = None,               # the worker's settings (default: this process's)
    ) -> Path

What it does, in order: pick the engine (source.engines.choice), snap frames to 4k+1 and the resolution
to multiples of 16 (source.media.frames, once), find the model (registry -> local folder / HF cache /
download; or the tiny model of the kind the inputs need), apply the LoRA flags' settings, load the
conditioning inputs at the render size, fetch the LoRA files, get the resident pipeline (loading it,
after freeing another, only when the model changed), activate the LoRAs with their strengths, render
with `progress_callback(step, total)` after every denoising step, and write an H.264 mp4 at 16 fps
(or a PNG when `output_path` ends in .png and frames == 1). Returns that path.

If `progress_callback` raises (e.g. TaskCancelled), the render stops at that step boundary, the
exception propagates, and nothing is written at `output_path`.

Errors a user understands: UserError for bad input (unknown model -> UnknownModel listing the known
ones; bad resolution; images a model cannot take), MissingWeights (the model and every place looked),
LoraError (a LoRA not found or not applicable; LoraFetchError when its URL did not answer, which is
transient), EngineUnavailable (wan2gp). Each belongs to the error family of source/errors.py.

Defaults: steps / guidance / flow shift come from the model's registry entry unless given; the LoRA
flags set them (causvid: 9 / 1.0 / 1.0, lighti2x: 5 / 1.0 / 5.0; lightning: two phases of 2 steps,
guidance 1.0, shift 5.0, euler, its HIGH file "1;0" and LOW file "0;1") whatever was given. With the tiny
engine, steps default to 4.

Two-expert models (Wan 2.2 A14B) take `phases` (source/engines/phases.py; they set steps, guidance,
solver and shift) and LoRA strengths per phase (`(1.0, 0.0)`: high-noise phase only). The tiny engine
stands in with a two-expert tiny model for them. A phased strength on a one-expert model is a UserError.

Engine preview (source/engines/preview.py): after the snapping, no model is loaded (the name is still checked): the
guide and mask are built from the inputs as for VACE, and the frames to invent are optical-flow morphs
between the kept frames. The file's title tag says it is a preview.

Engine wan2gp (source/engines/wan2gp/): after the engine choice and the snapping above, the call goes
to a Wan2GP helper process; Wan2GP supplies its own model defaults, and `wgp_settings` reach it.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Optional

from .config import Settings, resolve_settings
from .engines import diffusers_engine
from .engines.choice import choose_engine
from .engines.inputs import as_image, guide_and_mask
from .engines.loras import (ACCELERATOR_SETTINGS, accelerator_lora_file, apply_loras, lightning_lora_files,
                            lightning_phases, resolve_lora_file)
from .engines.models import MODELS, UnknownModel, lookup_model, tiny_kind_for
from .engines.phases import PhasePlan, is_phased, parse_strength, PhaseError
from .engines.residency import RESIDENT
from .engines.runtime import runtime_options
from .engines.tiny import ensure_tiny_model
from .engines.weights import locate_weights
from .errors import UserError
from .media.frames import WAN_FPS, snap_frames, snap_resolution
from .media.video_io import save_png, write_video

log = logging.getLogger(__name__)


def generate_single_video(
    *, model: str, prompt: str, output_path, negative_prompt: str = "", resolution="832x480",
    frames: int = 81, seed: int = 0, steps: Optional[int] = None, guidance_scale: Optional[float] = None,
    flow_shift: Optional[float] = None, start_image=None, end_image=None, guide_video=None, mask_video=None,
    reference_images=None, loras: Optional[dict] = None, use_causvid_lora: bool = False,
    use_lighti2x_lora: bool = False, engine: Optional[str] = None, wgp_settings: Optional[dict] = None,
    progress_callback: Optional[Callable[[int, int], None]] = None, settings: Optional[Settings] = None,
    phases: Optional[PhasePlan] = None, use_lightning_lora: bool = False,
) -> Path:
    settings = settings if settings is not None else resolve_settings()
    engine = choose_engine(engine, settings)
    output_path = Path(output_path)
    try:
        width, height = snap_resolution(resolution)
    except ValueError as exc:
        raise UserError(f"resolution: {exc}") from None
    try:
        frames = snap_frames(frames)
    except ValueError as exc:
        raise UserError(f"frames: {exc}") from None
    if output_path.suffix.lower() == ".png" and frames != 1:
        raise UserError(f"a .png output holds one frame; {frames} frames were asked for")
    if sum(map(bool, (use_causvid_lora, use_lighti2x_lora, use_lightning_lora))) > 1:
        raise UserError("use_causvid_lora, use_lighti2x_lora and use_lightning_lora: set one at most")
    if use_lightning_lora:
        if phases is not None:
            raise UserError("use_lightning_lora sets the phases itself; drop phase_config or the flag")
        phases = lightning_phases()
    loras = {key: _strength(key, value) for key, value in (loras or {}).items()}
    if phases is not None or any(is_phased(v) for v in loras.values()):
        _check_two_experts(model)

    # ---- wan2gp engine: Wan2GP resolves models, defaults and inputs in its own process ----
    if engine == "wan2gp":
        from .engines import wan2gp

        return wan2gp.render(
            model=model, prompt=prompt, output_path=output_path, negative_prompt=negative_prompt, width=width,
            height=height, frames=frames, seed=seed, steps=steps, guidance_scale=guidance_scale,
            flow_shift=flow_shift, start_image=start_image, end_image=end_image, guide_video=guide_video,
            mask_video=mask_video, reference_images=reference_images, loras=loras,
            accelerator="causvid" if use_causvid_lora else "lighti2x" if use_lighti2x_lora else
            "lightning" if use_lightning_lora else None,
            wgp_settings=wgp_settings, progress_callback=progress_callback, settings=settings, phases=phases)
    if wgp_settings:
        log.warning("wgp_settings (%s) apply to engine wan2gp only; ignored by engine %s",
                    ", ".join(sorted(wgp_settings)), engine)

    # ---- preview engine: no model; the known frames morphed into each other ----
    if engine == "preview":
        return _render_preview(model, prompt, output_path, (width, height), frames, start_image, end_image,
                               guide_video, mask_video, reference_images, progress_callback)

    # Which model, of which kind, from which folder.
    spec = lookup_model(model)
    if spec.kind == "wan2gp":
        raise UnknownModel(f"model {model!r} is a Wan2GP model type; it renders with --engine wan2gp only "
                           f"(this worker renders with engine {engine})")
    has_guide = guide_video is not None or mask_video is not None
    has_start, has_end = start_image is not None, end_image is not None
    tiny = engine == "tiny" or spec.name == "tiny"
    if spec.name != "tiny":  # a tiny model standing in for a real one takes what the real one takes
        _check_inputs_fit(spec.name, spec.kind, has_guide=has_guide, has_start=has_start, has_end=has_end)
    two_experts = spec.size == "A14B"
    if tiny:
        kind = tiny_kind_for(spec.kind, has_guide=has_guide, has_start=has_start, has_end=has_end)
        if two_experts:  # a two-expert tiny model stands in for Wan 2.2 A14B
            kind = "i2v_a14b" if kind in ("i2v", "flf2v") else "t2v_a14b"
        location = ensure_tiny_model(kind, settings)
    else:
        kind = spec.kind
        location = locate_weights(spec, settings)

    # Settings: given value > model default; the LoRA flags override both.
    steps = steps if steps is not None else (MODELS["tiny"].steps if tiny else spec.steps)
    guidance_scale = spec.guidance_scale if guidance_scale is None else guidance_scale
    flow_shift = spec.flow_shift if flow_shift is None else flow_shift
    flag = "causvid" if use_causvid_lora else "lighti2x" if use_lighti2x_lora else None
    if flag:
        steps, guidance_scale, flow_shift = (ACCELERATOR_SETTINGS[flag][k]
                                             for k in ("steps", "guidance_scale", "flow_shift"))
    if phases is not None:
        if flag:
            raise UserError("phases set steps, guidance and shift themselves; drop the accelerator LoRA flag")
        steps, guidance_scale, flow_shift = phases.total_steps, phases.guidance[0], phases.flow_shift
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise UserError(f"steps must be a positive integer, got {steps!r}")

    # Inputs at the render size.
    size = (width, height)
    call = diffusers_engine.RenderCall(
        prompt=str(prompt or ""), negative_prompt=str(negative_prompt or ""), width=width, height=height,
        frames=frames, steps=steps, guidance_scale=float(guidance_scale), flow_shift=float(flow_shift),
        seed=int(seed), phases=phases,
        start_image=as_image(start_image, size, "start image") if has_start else None,
        end_image=as_image(end_image, size, "end image") if has_end else None,
    )
    if kind == "vace":
        _vace_inputs(call, guide_video, mask_video, reference_images, size)
    elif reference_images:
        log.warning("reference images are used by VACE models only; ignored for %s", spec.name)

    # LoRA files (fetched before the model is touched, so a dead URL costs no load).
    folder = settings.lora_path
    lora_files = [(resolve_lora_file(str(key), folder), _strength(key, value)) for key, value in (loras or {}).items()]
    if flag:
        lora_files.append((accelerator_lora_file(flag, spec.size, settings, tiny_kind=kind if tiny else None), 1.0))
    if use_lightning_lora:
        lora_files += list(lightning_lora_files(kind, settings, tiny_kind=kind if tiny else None).items())

    options = runtime_options(settings)
    pipeline_key = (spec.name if not tiny else f"tiny-{kind}", str(location),
                    diffusers_engine.PIPELINE_CLASSES[kind], options.key)
    pipe = RESIDENT.get(pipeline_key, lambda: diffusers_engine.load_pipeline(location, kind, options))
    call.adapters = apply_loras(pipe, RESIDENT.adapters, lora_files)

    video = diffusers_engine.run(pipe, call, kind, progress_callback)
    if output_path.suffix.lower() == ".png":
        return save_png(video[0], output_path)
    return write_video(video, output_path, fps=WAN_FPS)


def _check_two_experts(model: str) -> None:
    """Phases and per-phase strengths need a two-expert model (a `wan2gp:` model: Wan2GP decides)."""
    try:
        spec = lookup_model(model)
    except UserError:
        return
    if spec.kind != "wan2gp" and spec.size != "A14B":
        raise UserError(f"phases, per-phase LoRA strengths and Lightning need a two-expert model (Wan 2.2 A14B: "
                        f"t2v_2_2, i2v_2_2); {spec.name} has one")


def _check_inputs_fit(name: str, kind: str, *, has_guide: bool, has_start: bool, has_end: bool) -> None:
    """Real models take only the inputs they were trained for; say which model would take them."""
    if kind == "t2v" and (has_start or has_end or has_guide):
        raise UserError(f"model {name} makes video from text only; for start/end images use i2v, "
                         f"flf2v_720p or a vace model, for guide/mask videos a vace model")
    if kind in ("i2v", "flf2v"):
        if has_guide:
            raise UserError(f"model {name} takes images, not guide/mask videos; use vace_14B or vace_1.3B")
        if not has_start:
            raise UserError(f"model {name} needs a start image (image_start_paths)")
    if kind == "ti2v" and (has_end or has_guide):
        raise UserError(f"model {name} takes a text prompt and at most a start image")


def _vace_inputs(call, guide_video, mask_video, reference_images, size) -> None:
    """Guide, mask and reference images for VACE."""
    call.guide_video, call.mask_video = guide_and_mask(call.start_image, call.end_image, guide_video, mask_video,
                                                        call.frames, size)
    call.reference_images = [as_image(image, size, "reference image") for image in (reference_images or [])]


def _render_preview(model, prompt, output_path: Path, size, frames, start_image, end_image, guide_video,
                    mask_video, reference_images, progress_callback) -> Path:
    """The preview engine's render (source/engines/preview.py): no model, no weights."""
    from .engines import preview

    lookup_model(model)  # an unknown name fails here as with every engine
    start = as_image(start_image, size, "start image") if start_image is not None else None
    end = as_image(end_image, size, "end image") if end_image is not None else None
    guide, mask = guide_and_mask(start, end, guide_video, mask_video, frames, size)
    reference = as_image(reference_images[0], size, "reference image") if reference_images else None
    video = preview.render(guide, mask, prompt=str(prompt or ""), reference=reference,
                           progress_callback=progress_callback)
    if output_path.suffix.lower() == ".png":
        return save_png(video[0], output_path)
    return write_video(video, output_path, fps=WAN_FPS, title=preview.PREVIEW_TITLE)


def _strength(key, value):
    """A LoRA's strength: a number, or one per phase (a tuple; "a;b" and lists are read as such)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, list, tuple)):
        raise UserError(f"LoRA strength for {key} must be a number, got {value!r}")
    try:
        return parse_strength(value, f"LoRA strength for {key}")
    except PhaseError as exc:
        raise UserError(str(exc)) from None
