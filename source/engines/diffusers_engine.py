"""The diffusers engine: load a Wan pipeline of a kind from a folder, and run one render on it.

Two-expert models (Wan 2.2 A14B: `transformer` for high-noise steps, `transformer_2` for low-noise ones)
take phases (source/engines/phases.py): the expert switch is placed between the steps the phases give
each expert, guidance is set per expert, and each LoRA's strength is set before every step from its
per-phase (or per-step) strengths, on the expert that runs that step.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from PIL import Image

from ..errors import UserError
from .phases import PhasePlan, plan_or_default
from .runtime import RuntimeOptions, apply_runtime_options

# kind -> diffusers pipeline class (ti2v loads as text-to-video and switches per call)
PIPELINE_CLASSES = {
    "t2v": "WanPipeline",
    "ti2v": "WanPipeline",
    "i2v": "WanImageToVideoPipeline",
    "flf2v": "WanImageToVideoPipeline",
    "vace": "WanVACEPipeline",
    # two-expert (Wan 2.2 A14B) tiny stand-ins
    "t2v_a14b": "WanPipeline",
    "i2v_a14b": "WanImageToVideoPipeline",
}
IMAGE_KINDS = ("i2v", "flf2v", "i2v_a14b")


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
    # two-expert models: phases (None: the model's own expert split, one guidance) and the adapters of
    # the task's LoRAs with their strengths (a number, or one per phase: set before every step)
    phases: Optional[PhasePlan] = None
    adapters: list = field(default_factory=list)


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


# sample_solver -> (diffusers scheduler class, its arguments for a flow-matching Wan model at `shift`)
SOLVER_SCHEDULERS = {
    "euler": ("FlowMatchEulerDiscreteScheduler", lambda shift: {"shift": shift}),
    "unipc": ("UniPCMultistepScheduler", lambda shift: {"prediction_type": "flow_prediction",
                                                         "use_flow_sigmas": True, "flow_shift": shift}),
    "dpm++": ("DPMSolverMultistepScheduler", lambda shift: {"prediction_type": "flow_prediction",
                                                            "use_flow_sigmas": True, "flow_shift": shift}),
    "dpm++_sde": ("DPMSolverMultistepScheduler", lambda shift: {
        "prediction_type": "flow_prediction", "use_flow_sigmas": True, "flow_shift": shift,
        "algorithm_type": "sde-dpmsolver++"}),
}


def two_experts(pipe) -> bool:
    return getattr(pipe, "transformer_2", None) is not None and pipe.config.get("boundary_ratio") is not None


def set_solver(pipe, solver: Optional[str], flow_shift: float) -> None:
    """The model's own scheduler (solver None), or the one `solver` names, at `flow_shift`."""
    import diffusers

    if not hasattr(pipe, "_model_scheduler"):
        pipe._model_scheduler = pipe.scheduler
    if solver is None:
        pipe.scheduler = pipe._model_scheduler
        set_flow_shift(pipe, flow_shift)
        return
    name, arguments = SOLVER_SCHEDULERS[solver]
    pipe.scheduler = getattr(diffusers, name).from_config(
        {"num_train_timesteps": pipe._model_scheduler.config.num_train_timesteps}, **arguments(float(flow_shift)))


def expert_schedule(pipe, call: RenderCall) -> tuple[PhasePlan, float]:
    """The phases of a two-expert render and the boundary (a fraction of 1000) that gives the
    high-noise expert exactly the steps of the phases up to model_switch_phase, on this scheduler."""
    import copy

    if not hasattr(pipe, "_model_boundary"):
        pipe._model_boundary = float(pipe.config["boundary_ratio"])
    scheduler = copy.deepcopy(pipe.scheduler)
    scheduler.set_timesteps(call.steps)
    timesteps = [float(t) for t in scheduler.timesteps][:call.steps]
    default_switch = sum(1 for t in timesteps if t >= pipe._model_boundary * 1000.0)
    plan = call.phases
    if plan is None:
        if call.steps < 2:
            raise UserError("a two-expert model needs at least 2 steps")
        plan = plan_or_default(None, call.steps, call.guidance_scale, call.flow_shift, "euler", default_switch)
    switch = plan.switch_step
    boundary = (timesteps[switch - 1] + timesteps[switch]) / 2.0 / 1000.0
    return plan, boundary


def step_weights(plan: PhasePlan, adapters: list) -> list[tuple[list[str], list[float]]]:
    """(adapter names, their weights) before each step."""
    names = [name for name, _ in adapters]
    columns = [plan.step_strengths(strength) for _, strength in adapters]
    return [(names, [column[i] for column in columns]) for i in range(plan.total_steps)]


def _set_step_weights(pipe, names: list[str], weights: list[float]) -> None:
    for transformer in (pipe.transformer, pipe.transformer_2):
        transformer.set_adapters(names, weights)


def run(pipe, call: RenderCall, kind: str,
        progress_callback: Optional[Callable[[int, int], None]] = None) -> np.ndarray:
    """Render; frames as uint8 (F, H, W, 3). An exception from progress_callback stops at that step."""
    import torch

    if kind == "ti2v" and call.start_image is not None:
        from diffusers import WanImageToVideoPipeline

        pipe = WanImageToVideoPipeline.from_pipe(pipe)  # same weights, image-conditioned call
    set_solver(pipe, call.phases.solver if call.phases is not None else None, call.flow_shift)
    total = call.steps
    extra: dict = {}
    schedule: list = []
    if two_experts(pipe):
        plan, boundary = expert_schedule(pipe, call)
        pipe.register_to_config(boundary_ratio=boundary)
        experts = plan.step_experts
        guidance = {e: {g for g, x in zip(plan.step_guidance, experts, strict=False) if x == e} for e in (0, 1)}
        if len(guidance[0]) > 1 or len(guidance[1]) > 1:
            raise UserError("the diffusers engine takes one guidance per expert; phases "
                             f"{list(plan.guidance)} on experts {sorted(set(zip(plan.step_phases, experts, strict=False)))} differ")
        high, low = guidance[0].pop(), guidance[1].pop()
        if high <= 1.0 < low:
            raise UserError(f"the diffusers engine runs classifier-free guidance only when the high-noise "
                             f"phases' guidance is above 1 (phases: {list(plan.guidance)})")
        call.guidance_scale = high
        extra["guidance_scale_2"] = low
        if call.adapters:
            schedule = step_weights(plan, call.adapters)
            _set_step_weights(pipe, *schedule[0])
    elif call.phases is not None or any(isinstance(s, tuple) for _, s in call.adapters):
        raise UserError("phases and per-phase LoRA strengths need a two-expert model (Wan 2.2 A14B)")

    def on_step_end(_pipe, index, _timestep, _tensors):
        if schedule and index + 1 < len(schedule):
            _set_step_weights(pipe, *schedule[index + 1])
        if progress_callback is not None:
            progress_callback(index + 1, total)
        return {}

    kwargs = dict(
        prompt=call.prompt, negative_prompt=call.negative_prompt or None, height=call.height, width=call.width,
        num_frames=call.frames, num_inference_steps=call.steps, guidance_scale=call.guidance_scale,
        # a CPU generator gives the same noise on every device, so a seed means the same video anywhere
        generator=torch.Generator(device="cpu").manual_seed(int(call.seed)),
        output_type="np", callback_on_step_end=on_step_end, **extra,
    )
    if kind == "vace":
        kwargs.update(video=call.guide_video, mask=call.mask_video,
                      reference_images=call.reference_images or None)
    elif kind in IMAGE_KINDS or (kind == "ti2v" and call.start_image is not None):
        kwargs.update(image=call.start_image)
        if call.end_image is not None:
            kwargs.update(last_image=call.end_image)
    with torch.inference_mode():
        video = pipe(**kwargs).frames[0]
    video = np.asarray(video)
    return (np.clip(video, 0.0, 1.0) * 255.0).round().astype(np.uint8)
