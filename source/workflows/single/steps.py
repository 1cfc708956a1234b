"""One generation: a video (`wgp`, `standard_wgp_task`) or one frame as a PNG (`single_image`).

The artefact goes to the output folder as `<task id>_<model>.mp4` (or .png): the task id keeps names
unique. A cancel stops the render at the next denoising step.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Optional

from ...storage.outputs import folder_inside_outputs, safe_name
from ...tasks.context import Done, TaskContext
from ...tasks.phase_params import all_loras
from .params import WgpParams


def handle_wgp(ctx: TaskContext) -> Done:
    return Done(str(_render(ctx, single_frame=False)))


def handle_single_image(ctx: TaskContext) -> Done:
    return Done(str(_render(ctx, single_frame=True)))


def _render(ctx: TaskContext, single_frame: bool) -> Path:
    from ...engines.request import RenderRequest
    from ...wgp_utils import generate_single_video

    params: WgpParams = ctx.params
    seed = params.seed
    if seed == -1:
        seed = random.randint(0, 2**31 - 1)
        ctx.log.info("seed -1: using random seed %d", seed)

    start = _first(ctx, "image_start_paths", params.image_start_paths)
    end = _first(ctx, "image_end_paths", params.image_end_paths)
    refs = [ctx.local_file("image_refs_paths", item) for item in params.image_refs_paths]
    guide = ctx.local_file("video_guide_path", params.video_guide_path) if params.video_guide_path else None
    mask = ctx.local_file("video_mask_path", params.video_mask_path) if params.video_mask_path else None

    suffix = ".png" if single_frame else ".mp4"
    output = _output_folder(ctx, params) / f"{safe_name(ctx.task.id)}_{safe_name(params.model)}{suffix}"

    def on_step(step: int, total: int) -> None:
        ctx.report_progress(step / total, f"denoising step {step}/{total}")  # raises TaskCancelled

    request = RenderRequest.build(
        model=params.model, prompt=params.prompt, negative_prompt=params.negative_prompt, output_path=output,
        resolution=params.resolution, frames=1 if single_frame else params.frames, seed=seed, steps=params.steps,
        guidance_scale=params.guidance_scale, flow_shift=params.flow_shift, start_image=start, end_image=end,
        guide_video=guide, mask_video=mask, reference_images=refs or None,
        loras=all_loras(params.additional_loras, params.phase_config),
        use_causvid_lora=params.use_causvid_lora, use_lighti2x_lora=params.use_lighti2x_lora,
        use_lightning_lora=params.use_lightning_lora, wgp_settings=params.wgp_settings,
        phases=params.phase_config.plan() if params.phase_config is not None else None,
    )
    path = generate_single_video(request, progress_callback=on_step, settings=ctx.settings)
    return path.resolve()


def _output_folder(ctx: TaskContext, params: WgpParams) -> Path:
    """The worker's output folder, or the row's output_dir / output_sub_dir inside it."""
    folder = ctx.output_dir
    if params.output_dir:
        folder = folder_inside_outputs(ctx.settings, params.output_dir, "output_dir")
    if params.output_sub_dir:
        folder = folder_inside_outputs(ctx.settings, params.output_sub_dir, "output_sub_dir", base=folder)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _first(ctx: TaskContext, field: str, paths: list[str]) -> Optional[Path]:
    return ctx.local_file(field, paths[0]) if paths else None
