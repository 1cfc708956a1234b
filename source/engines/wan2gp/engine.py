"""One render on the Wan2GP engine, top to bottom: find the helper, learn the model, build the settings,
run the job with progress and cancel, check what Wan2GP wrote, deliver it at the path asked for.

`Wan2GPEngine` is the engine registered as "wan2gp" (source/engines/registry.py); the render bridge
(source/wgp_utils.py::generate_single_video) hands it a RenderRequest whose frame count (4k+1) and
resolution (multiples of 16) are already snapped.
"""
from __future__ import annotations

import logging
import os
import shutil
import uuid
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Optional

from ...config import Settings
from ...media.video_io import VideoWriter, count_frames, iter_frames, save_png, video_info
from ..loras import ACCELERATOR_SETTINGS, accelerator_lora_file, lightning_lora_files, resolve_lora_file
from ..request import RenderRequest
from . import errors
from .frame_rule import FrameGrid, FramePlan, plan_frames
from .helper import HELPERS, HelperGone, Wan2GPHelper
from .mapping import (
    InputWriter,
    ModelInfo,
    check_wgp_settings,
    conditioning_settings,
    multipliers_text,
    unknown_model_message,
)
from .names import resolve_model
from .options import Wan2GPOptions, check_wan2gp, engine_options

log = logging.getLogger("wan2gp")

VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".mov", ".avi")
_model_info_cache: dict = {}   # (helper pid, model type) -> (ModelInfo, FrameGrid)


def render(request: RenderRequest, settings: Settings,
           progress_callback: Optional[Callable[[int, int], None]] = None) -> Path:
    """One render of `request` (frames and size already snapped by RenderRequest.build)."""
    model, prompt, negative_prompt, seed = request.model, request.prompt, request.negative_prompt, request.seed
    width, height, frames, output_path = request.width, request.height, request.frames, request.output_path
    steps, guidance_scale, flow_shift = request.steps, request.guidance_scale, request.flow_shift
    start_image, end_image, guide_video, mask_video = (request.start_image, request.end_image, request.guide_video,
                                                       request.mask_video)
    reference_images, loras, accelerator = list(request.reference_images) or None, request.loras, request.accelerator
    wgp_settings = dict(request.wgp_settings) if request.wgp_settings else None
    phases = request.phases
    options = engine_options(settings)
    uses_inputs = any(v is not None for v in (start_image, end_image, guide_video, mask_video)) or bool(
        reference_images)
    chosen = resolve_model(model, uses_images_or_guide=uses_inputs)

    # LoRA files first: a dead URL costs no helper start.
    files, strengths = [], []
    for key, value in (loras or {}).items():
        files.append(str(resolve_lora_file(str(key), settings.lora_path)))
        strengths.append(_strength(key, value))
    if accelerator == "lightning":  # the bridge set its phases; its two files go on their experts
        kind = "i2v" if "i2v" in chosen.model_type else "t2v"
        for path, strength in lightning_lora_files(kind, settings).items():
            files.append(str(path))
            strengths.append(strength)
    elif accelerator:
        steps, guidance_scale, flow_shift = (ACCELERATOR_SETTINGS[accelerator][k]
                                             for k in ("steps", "guidance_scale", "flow_shift"))
        files.append(str(accelerator_lora_file(accelerator, chosen.size or chosen.model_type, settings)))
        strengths.append(1.0)

    helper = _helper(options)
    info, grid = _describe(helper, chosen.model_type, chosen.requested)
    try:
        plan = plan_frames(frames, grid)
    except ValueError as exc:
        raise errors.bad_input(f"{info.model_type}: {exc}") from None
    if plan.trims:
        log.info("%s renders at least %d frames; rendering %d and keeping the first %d", info.model_type,
                 grid.minimum, plan.render, plan.keep)
    extra = check_wgp_settings(wgp_settings, info)

    job_dir = options.work_dir / "inputs" / uuid.uuid4().hex[:12]
    try:
        writer = InputWriter(job_dir, (width, height))
        wan_settings: dict[str, Any] = {
            "model_type": info.model_type, "prompt": str(prompt or ""), "negative_prompt": str(negative_prompt or ""),
            "resolution": f"{width}x{height}", "video_length": plan.render, "seed": int(seed),
        }
        if steps is not None:
            wan_settings["num_inference_steps"] = int(steps)
        if guidance_scale is not None:
            wan_settings["guidance_scale"] = float(guidance_scale)
        if flow_shift is not None:
            wan_settings["flow_shift"] = float(flow_shift)
        if phases is not None:  # steps, guidance per phase, thresholds, solver, shift (source/engines/phases.py)
            wan_settings.update(phases.wan2gp_settings())
            clash = sorted(set(extra) & set(wan_settings))
            if clash:
                raise errors.bad_input(f"wgp_settings.{clash[0]}: the phases set it (phase_config or Lightning); "
                                       f"give it in phase_config instead")
        wan_settings.update(conditioning_settings(
            info, writer, keep=plan.keep, render=plan.render, start_image=start_image, end_image=end_image,
            guide_video=guide_video, mask_video=mask_video, reference_images=reference_images, log=log))
        if files:
            wan_settings["activated_loras"] = files
            wan_settings["loras_multipliers"] = multipliers_text(strengths)
        wan_settings.update(extra)
        reply = _run_job(helper, wan_settings, progress_callback)
        produced = _produced_video(reply)
        try:
            return _deliver(produced, Path(output_path), plan, (width, height), info.model_type)
        finally:
            produced.unlink(missing_ok=True)
    finally:
        if not options.debug:
            shutil.rmtree(job_dir, ignore_errors=True)


# ---- the helper -----------------------------------------------------------------------------------------

def _helper(options: Wan2GPOptions) -> Wan2GPHelper:
    return HELPERS.get(options.spec, options.timeout_s)


def _ask(helper: Wan2GPHelper, op: str, **fields) -> dict:
    """A request whose failure to come back (helper died / hung) is a transient error."""
    try:
        return helper.request(op, **fields).message
    except HelperGone as exc:
        HELPERS.discard(helper)
        raise errors.helper_failed(f"{exc}; the next attempt starts a fresh helper") from None


def _describe(helper: Wan2GPHelper, model_type: str, requested: str) -> tuple[ModelInfo, FrameGrid]:
    key = (helper.pid, model_type)
    if key in _model_info_cache:
        return _model_info_cache[key]
    reply = _ask(helper, "describe", model_type=model_type)
    if not reply.get("ok"):
        raise errors.render_failed(f"could not describe model {model_type}: {reply.get('error')}")
    data = reply["data"]
    if not data.get("known"):
        raise errors.bad_input(unknown_model_message(model_type, requested, data.get("model_types") or []))
    info = ModelInfo.from_reply(data)
    grid = FrameGrid(minimum=int(data.get("frames_minimum") or 5), step=int(data.get("frames_step") or 4),
                     offset=int(data.get("frames_offset") if data.get("frames_offset") is not None else 1))
    _model_info_cache[key] = (info, grid)
    return info, grid


def _run_job(helper: Wan2GPHelper, wan_settings: dict, progress_callback) -> dict:
    """Run one Wan2GP task; progress to the callback, which raises (TaskCancelled) when the row was
    cancelled, its lease lost, or the worker is shutting down: the job is then cancelled at once, so it
    stops within one denoising step."""
    last = [None]

    def on_event(message: dict) -> None:
        kind = message.get("kind")
        if kind == "progress":
            step, total = message.get("step"), message.get("total")
            phase = str(message.get("phase") or "")
            # denoising steps arrive in the inference phase(s); the last one often with "decoding"
            if step and total and ("inference" in phase or phase == "decoding") and (step, total) != last[0]:
                last[0] = (step, total)
                if progress_callback is not None:
                    progress_callback(int(step), int(total))  # may raise: the row is cancelled or lost
        elif kind in ("status", "info"):
            if message.get("text"):
                log.info("Wan2GP: %s", message["text"])
        elif kind == "stream":
            log.debug("Wan2GP %s: %s", message.get("stream"), message.get("text"))
        elif kind == "error":
            log.warning("Wan2GP error (%s): %s", message.get("stage"), message.get("text"))

    helper.task_id = _current_task_id()
    try:
        answer = helper.request("render", on_event=on_event, settings=wan_settings)
    except HelperGone as exc:
        HELPERS.discard(helper)
        raise errors.helper_failed(f"{exc}; the next attempt starts a fresh helper") from None
    finally:
        helper.task_id = None
    reply = answer.message
    data = reply.get("data") or {}
    if data.get("cancelled") or answer.interrupted is not None:
        for name in data.get("files") or []:  # a job that finished before the cancel landed
            Path(name).unlink(missing_ok=True)
        if answer.interrupted is not None:
            raise answer.interrupted
        raise errors.cancelled("the Wan2GP job was cancelled")
    if not reply.get("ok"):
        raise errors.render_failed(reply.get("error") or "the helper could not run the job",
                                   error_type=reply.get("error_type") or "")
    if not data.get("success"):
        problems = data.get("errors") or [{"message": "Wan2GP reported failure without a reason"}]
        first = problems[0]
        if first.get("stage") == "validation":
            raise errors.bad_input(f"Wan2GP refused the settings: {first.get('message')}")
        raise errors.render_failed(first.get("message"))
    log.info("Wan2GP job done in %.1f s", float(data.get("seconds") or 0))
    return data


def _produced_video(data: dict) -> Path:
    videos = [Path(f) for f in data.get("files") or [] if Path(f).suffix.lower() in VIDEO_SUFFIXES]
    for other in data.get("files") or []:
        if Path(other) not in videos:
            Path(other).unlink(missing_ok=True)
    if not videos:
        raise errors.render_failed(f"the job succeeded but wrote no video (files: {data.get('files') or 'none'})")
    for extra in videos[:-1]:
        extra.unlink(missing_ok=True)
    return videos[-1]


# ---- the output ---------------------------------------------------------------------------------------

def _deliver(produced: Path, output_path: Path, plan: FramePlan, size: tuple[int, int], model_type: str) -> Path:
    """Check frame count and size, then put the file (or its first frames, or its first frame as PNG) at
    output_path atomically."""
    info = video_info(produced)
    if (info["width"], info["height"]) != tuple(size):
        raise errors.render_failed(f"{model_type} wrote {info['width']}x{info['height']}, "
                                   f"{size[0]}x{size[1]} was asked")
    produced_frames = count_frames(produced)
    if produced_frames != plan.render:
        raise errors.render_failed(f"{model_type} wrote {produced_frames} frames; {plan.render} were expected "
                                   f"for the {plan.keep} asked (Wan2GP's frame rule, docs/ENGINES.md)")
    output_path.parent.mkdir(parents=True, exist_ok=True)
    if output_path.suffix.lower() == ".png":
        return save_png(next(iter_frames(produced)), output_path)
    if plan.trims:
        fps = Fraction(info["fps"]).limit_denominator(1001)
        with VideoWriter(output_path, fps=fps) as writer:
            for index, frame in enumerate(iter_frames(produced)):
                if index == plan.keep:
                    break
                writer.write(frame)
        return output_path
    return _move_atomically(produced, output_path)


def _move_atomically(source: Path, target: Path) -> Path:
    try:
        os.replace(source, target)
    except OSError:  # another file system: copy beside the target, then rename
        partial = target.with_name(f".{target.stem}.partial{target.suffix}")
        shutil.copyfile(source, partial)
        os.replace(partial, target)
        source.unlink(missing_ok=True)
    return target


# ---- small things -------------------------------------------------------------------------------------

def _current_task_id() -> Optional[str]:
    from ...log import current_task_id

    task_id = current_task_id()
    return None if task_id == "-" else task_id


def _strength(key, value):
    """A number, or one per phase (a tuple; Wan2GP's `a;b`)."""
    if isinstance(value, tuple) and all(isinstance(v, (int, float, tuple)) for v in value):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise errors.bad_input(f"LoRA strength for {key} must be a number, got {value!r}")
    return float(value)


class Wan2GPEngine:
    """The engine registered as "wan2gp": a Wan2GP checkout in a long-lived helper process."""

    name = "wan2gp"

    def check(self, settings: Settings) -> None:
        """A checkout and its interpreter are where the settings say (EngineUnavailable naming what to set)."""
        check_wan2gp(settings)

    def serves(self, request: RenderRequest) -> Optional[str]:
        """Wan2GP decides at render time (its model types and inputs are known to the helper)."""
        return None

    def load(self, request: RenderRequest, settings: Settings) -> Any:
        """The running helper (started, or reused when its options are unchanged) and the model's facts."""
        helper = _helper(engine_options(settings))
        chosen = resolve_model(request.model, uses_images_or_guide=request.uses_inputs)
        return _describe(helper, chosen.model_type, chosen.requested)

    def render(self, request: RenderRequest, settings: Settings,
               progress_callback: Optional[Callable[[int, int], None]] = None) -> Path:
        return render(request, settings, progress_callback)


ENGINE = Wan2GPEngine()
