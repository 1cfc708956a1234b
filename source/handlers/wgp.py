"""Task types `wgp` / `standard_wgp_task` (one video) and `single_image` (one frame -> PNG).

params (SPEC §5): model (required), prompt, negative_prompt, resolution ("WxH", default 832x480),
frames or video_length (default 81), steps, guidance_scale, flow_shift, seed (default 0; -1 = random),
image_start_paths, image_end_paths (a path/URL or a list; the first is used), image_refs_paths (list),
video_guide_path, video_mask_path, additional_loras {path_or_url: strength}, use_causvid_lora,
use_lighti2x_lora. Paths may be local files or http(s) URLs (fetched into the task's folder).

Engine wan2gp (issue 10): `wgp_settings` {name: value} passes Wan2GP-only settings through (sliding
windows, skip-step caches, SLG, CFG-zero*, NAG, RIFLEx, sampler, upsampling, ...); Wan2GP-native keys such
as `video_prompt_type` or `sliding_window_size` may also sit at the top level of params (as with the
original tool) and join them. The engine checks the names against the model; other engines ignore them
with a warning. `model` may be `wan2gp:<any Wan2GP model type>`.

The artefact goes to the output folder as `<task id>_<model>.mp4` (or .png): the task id keeps names
unique. Errors name the field; a cancel stops the render at the next denoising step.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Optional

from ..engines.loras import LoraError, LoraFetchError
from ..engines.models import UnknownModel, lookup_model
from ..engines.wan2gp.keys import NATIVE_KEYS
from ..media.frames import snap_resolution
from ..storage.downloads import DownloadError, resolve_input
from ..errors import UserError
from .base import Done, InvalidParams, TaskContext, TransientError, safe_name

_BOOL_FIELDS = ("use_causvid_lora", "use_lighti2x_lora")


def validate_params(task_type: str, params: dict) -> None:
    """Checks that need no files and no model: run at enqueue time and again by the worker."""
    model = params.get("model") or params.get("model_name")
    if not isinstance(model, str) or not model.strip():
        raise InvalidParams("model is required (e.g. \"t2v_1.3B\", \"vace_14B\", \"tiny\")")
    try:
        lookup_model(model)
        snap_resolution(params.get("resolution", "832x480"))
    except ValueError as exc:
        raise InvalidParams(f"model: {exc}" if isinstance(exc, UnknownModel) else str(exc)) from None
    _int(params, ("frames", "video_length"), 81, minimum=1)
    _int(params, ("seed",), 0, minimum=-1)
    _int(params, ("steps", "num_inference_steps"), None, minimum=1)
    _float(params, "guidance_scale")
    _float(params, "flow_shift")
    loras = params.get("additional_loras") or {}
    if not isinstance(loras, dict):
        raise InvalidParams("additional_loras must be an object {path_or_url: strength}")
    for key, value in loras.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidParams(f"additional_loras: strength for {key} must be a number, got {value!r}")
    for name in _BOOL_FIELDS:
        if name in params and not isinstance(params[name], bool):
            raise InvalidParams(f"{name} must be true or false, got {params[name]!r}")
    for name in ("prompt", "negative_prompt"):
        if params.get(name) is not None and not isinstance(params[name], str):
            raise InvalidParams(f"{name} must be a string")
    _wgp_settings(params)


def _wgp_settings(params: dict) -> Optional[dict]:
    """wan2gp engine (issue 10): params["wgp_settings"] plus Wan2GP-native top-level keys (it wins)."""
    given = params.get("wgp_settings")
    if given is not None and not (isinstance(given, dict) and all(isinstance(k, str) for k in given)):
        raise InvalidParams("wgp_settings must be an object {Wan2GP setting: value}")
    merged = {key: params[key] for key in sorted(NATIVE_KEYS) if key in params}
    merged.update(given or {})
    return merged or None


def handle_wgp(ctx: TaskContext) -> Done:
    return Done(str(_render(ctx, single_frame=False)))


def handle_single_image(ctx: TaskContext) -> Done:
    return Done(str(_render(ctx, single_frame=True)))


def _render(ctx: TaskContext, single_frame: bool) -> Path:
    from ..wgp_utils import generate_single_video

    params = ctx.params
    validate_params(ctx.task.task_type, params)
    model = params.get("model") or params.get("model_name")
    frames = 1 if single_frame else _int(params, ("frames", "video_length"), 81, minimum=1)
    seed = _int(params, ("seed",), 0, minimum=-1)
    if seed == -1:
        seed = random.randint(0, 2**31 - 1)
        ctx.log.info("seed -1: using random seed %d", seed)
    loras = params.get("additional_loras") or {}

    start = _first_input(ctx, "image_start_paths")
    end = _first_input(ctx, "image_end_paths")
    refs = [_fetch(ctx, "image_refs_paths", item) for item in _as_list(params.get("image_refs_paths"),
                                                                          "image_refs_paths")]
    guide = _single_input(ctx, "video_guide_path")
    mask = _single_input(ctx, "video_mask_path")

    suffix = ".png" if single_frame else ".mp4"
    output = ctx.output_dir / f"{safe_name(ctx.task.id)}_{safe_name(model)}{suffix}"

    def on_step(step: int, total: int) -> None:
        ctx.report_progress(step / total, f"denoising step {step}/{total}")  # raises TaskCancelled

    try:
        path = generate_single_video(
            model=model, prompt=params.get("prompt") or "", negative_prompt=params.get("negative_prompt") or "",
            output_path=output, resolution=params.get("resolution", "832x480"), frames=frames, seed=seed,
            steps=_int(params, ("steps", "num_inference_steps"), None, minimum=1),
            guidance_scale=_float(params, "guidance_scale"), flow_shift=_float(params, "flow_shift"),
            start_image=start, end_image=end, guide_video=guide, mask_video=mask, reference_images=refs or None,
            loras=loras, use_causvid_lora=bool(params.get("use_causvid_lora", False)),
            use_lighti2x_lora=bool(params.get("use_lighti2x_lora", False)), wgp_settings=_wgp_settings(params),
            engine=ctx.engine, progress_callback=on_step, settings=ctx.settings,
        )
    except LoraFetchError as exc:
        raise TransientError(str(exc)) from None
    except LoraError as exc:
        raise InvalidParams(f"additional_loras: {exc}") from None
    except ValueError as exc:  # bad resolution, unknown model, inputs the model cannot take
        if isinstance(exc, UserError):
            raise
        raise InvalidParams(str(exc)) from None
    return path.resolve()


def _int(params: dict, names: tuple, default: Optional[int], minimum: int) -> Optional[int]:
    for name in names:
        if params.get(name) is not None:
            value = params[name]
            if isinstance(value, bool) or not isinstance(value, int):
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                else:
                    raise InvalidParams(f"{name} must be an integer, got {value!r}")
            if value < minimum:
                raise InvalidParams(f"{name} must be >= {minimum}, got {value}")
            return value
    return default


def _float(params: dict, name: str) -> Optional[float]:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidParams(f"{name} must be a number, got {value!r}")
    return float(value)


def _as_list(value: Any, name: str) -> list:
    if value is None or value == "" or value == []:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) and v for v in value):
        return list(value)
    raise InvalidParams(f"{name} must be a path/URL or a list of them")


def _first_input(ctx: TaskContext, name: str) -> Optional[Path]:
    items = _as_list(ctx.params.get(name), name)
    return _fetch(ctx, name, items[0]) if items else None


def _single_input(ctx: TaskContext, name: str) -> Optional[Path]:
    value = ctx.params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidParams(f"{name} must be a path or URL")
    return _fetch(ctx, name, value)


def _fetch(ctx: TaskContext, name: str, value: str) -> Path:
    """A local file, or a URL downloaded into the task's own folder."""
    try:
        return resolve_input(value, ctx.task_dir / "inputs")
    except FileNotFoundError:
        raise InvalidParams(f"{name}: file not found: {value}") from None
    except DownloadError as exc:
        raise TransientError(f"{name}: {exc}") from None
