"""The different-perspective handlers: the orchestrator's fan-out and the four steps.

Intermediates live in the run's work folder, which the worker removes once the run has ended (unless
debug or `skip_cleanup`). When the still shows nobody (random-weight test models paint noise; a prompt may ask
for no person), the guide keeps the input pose on every frame (a static skeleton) and says so in the
log, in `poses.json` and on its row (a progress message starting "warning:", which stays after the row
completes, and which `status`, `--wait` and the dashboard show); the render then keeps the pose and follows
the prompt and the reference.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ...media import video_io
from ...media.frames import snap_resolution
from ...media.images import load_image, load_pil
from ...media.pose import NoPersonFound, Pose, detect_pose, pose_guide_frames, render_skeleton
from ...media.vace import keep_mask
from ...storage.downloads import is_url
from ...storage.outputs import output_folder, safe_name
from ...tasks.context import Done, FanOut, TaskContext
from . import STEP_GUIDE, STEP_RENDER, STEP_STILL
from .params import PerspectiveParams, StepParams, depth_model_folder
from .plan import step_rows, step_task_ids

# ---- the orchestrator -----------------------------------------------------------------------------------

def handle_orchestrator(ctx: TaskContext) -> FanOut:
    task = ctx.task
    params: PerspectiveParams = ctx.params
    source = ctx.local_file("input_image_path", params.input_image_path)
    if params.perspective_type == "pose":
        # Checked now, not three renders later: the pose workflow needs a person in the input.
        image = load_image(source, snap_resolution(params.resolution), what="input_image_path")
        detect_pose(image, what=f"{params.input_image_path} (perspective_type 'pose' needs one)",
                    field="input_image_path")

    run_id = params.run_id or task.run_id or task.id
    ids = step_task_ids(task.id, run_id)
    image_ref = params.input_image_path if is_url(params.input_image_path) else str(source.resolve())
    step_params = params.for_steps(run_id, image_ref, ids, ctx.settings).to_json()
    children, awaited = step_rows(task, run_id, ids, step_params)
    ctx.log.info("different perspective %s: %d rows, %s frames at %s", run_id, len(children),
                 step_params["frames"], step_params["resolution"])
    return FanOut(children=children, awaited_task_id=awaited)


def example_step() -> dict:
    """What each step row of params.EXAMPLE's run carries (the reference shows it)."""
    from .params import EXAMPLE

    params = PerspectiveParams.parse(EXAMPLE)
    ids = step_task_ids("the-orchestrator-row-id", params.run_id)
    return params.for_steps(params.run_id, params.input_image_path, ids).to_json()


# ---- the steps ------------------------------------------------------------------------------------------

def _input_image(ctx: TaskContext) -> np.ndarray:
    """The input image at the run's size, cropped to its proportions."""
    params: StepParams = ctx.params
    return load_image(ctx.local_file("input_image_path", params.input_image_path),
                      snap_resolution(params.resolution), what="input_image_path")


def _step_output(ctx: TaskContext, step: str) -> Path:
    return ctx.local_file(f"{step} output", task_id=ctx.params.step_task_ids[step])


def _render_kwargs(params: StepParams) -> dict:
    kwargs = {"prompt": params.prompt, "negative_prompt": params.negative_prompt,
              "resolution": params.resolution, "seed": params.seed}
    if params.steps is not None:
        kwargs["steps"] = params.steps
    if params.use_causvid_lora:
        kwargs["use_causvid_lora"] = True
    if params.additional_loras:
        kwargs["loras"] = dict(params.additional_loras)
    return kwargs


def handle_still(ctx: TaskContext) -> Done:
    """Step 1: one frame of the prompt with a text-to-video model."""
    from ...engines.request import RenderRequest
    from ...wgp_utils import generate_single_video

    params: StepParams = ctx.params
    request = RenderRequest.build(model=params.still_model_name,
                                  output_path=ctx.run_dir(params.run_id) / "still.png", frames=1,
                                  **_render_kwargs(params))
    path = generate_single_video(request, progress_callback=ctx.step_progress("still"), settings=ctx.settings)
    return Done(str(path))


def target_pose(input_pose: Pose, still: np.ndarray) -> tuple[Pose, bool]:
    """The pose to move towards: the still's, or the input's own when the still shows nobody.

    Returns (pose, fell_back).
    """
    try:
        return detect_pose(still), False
    except NoPersonFound:
        return input_pose, True


NO_PERSON_WARNING = ("warning: no person found in the generated still; the guide keeps the input pose on every "
                     "frame, so the render keeps the pose")


def handle_guide(ctx: TaskContext) -> Done:
    """Step 2: the guide video (pose skeletons, or depth maps) from the input image to the still."""
    params: StepParams = ctx.params
    run_dir = ctx.run_dir(params.run_id)
    width, height = snap_resolution(params.resolution)
    image = _input_image(ctx)
    still = load_image(_step_output(ctx, STEP_STILL), (width, height), fit="stretch", what="still")
    if params.perspective_type == "depth":
        from ...media.depth import depth_guide_frames

        frames = depth_guide_frames(image, still, params.frames, depth_model_folder(ctx.settings))
        note = {"perspective_type": "depth"}
    else:
        start = detect_pose(image, what=params.input_image_path, field="input_image_path")
        end, fell_back = target_pose(start, still)
        if fell_back:
            ctx.log.warning("no person found in the generated still; the guide keeps the input pose "
                            "on every frame (static skeleton)")
        video_io.save_png(render_skeleton(start, width, height), run_dir / "pose_input.png")
        video_io.save_png(render_skeleton(end, width, height), run_dir / "pose_target.png")
        frames = pose_guide_frames(image, start, end, params.frames, params.easing)
        note = {"perspective_type": "pose", "target_pose_fallback": fell_back,
                "input_pose": start.to_json(), "target_pose": end.to_json()}
    (run_dir / "poses.json").write_text(json.dumps(note, indent=1), encoding="utf-8")
    ctx.report_progress(0.5, NO_PERSON_WARNING if note.get("target_pose_fallback") else "guide frames ready")
    return Done(str(video_io.write_video(frames, run_dir / "guide.mp4")))


def handle_render(ctx: TaskContext) -> Done:
    """Step 3: VACE with the guide, a keep-the-first-frame mask, and the input image as reference."""
    from ...engines.request import RenderRequest
    from ...wgp_utils import generate_single_video

    params: StepParams = ctx.params
    size = snap_resolution(params.resolution)
    reference = load_pil(ctx.local_file("input_image_path", params.input_image_path), size,
                         what="input_image_path")
    request = RenderRequest.build(model=params.model_name, output_path=ctx.run_dir(params.run_id) / "render.mp4",
                                  frames=params.frames, guide_video=str(_step_output(ctx, STEP_GUIDE)),
                                  mask_video=keep_mask(params.frames, [0], size), reference_images=[reference],
                                  **_render_kwargs(params))
    path = generate_single_video(request, progress_callback=ctx.step_progress("render"), settings=ctx.settings)
    return Done(str(path))


def handle_final(ctx: TaskContext) -> Done:
    """Step 4: the render's last frame as the run's final PNG (the worker then removes the run's work
    folder, as it does for every run that has ended)."""
    params: StepParams = ctx.params
    frame = video_io.read_frame(_step_output(ctx, STEP_RENDER), -1)
    folder = output_folder(ctx.settings, params.output_dir, "output_dir") if params.output_dir else ctx.output_dir
    return Done(str(video_io.save_png(frame, folder / f"{safe_name(params.run_id)}_final.png")))
