"""Different perspective (SPEC §7): a character from one image, re-posed as a prompt describes.

The orchestrator checks its input at once and fans out four rows, each waiting for the one before
(`dependant_on`):

  1. different_perspective_still   one-frame render of the prompt (a text-to-video model)   -> still.png
  2. different_perspective_guide   poses of the input image and of the still, interpolated over the
                                   clip and drawn as OpenPose skeletons; frame 0 is the real input image
                                                                                              -> guide.mp4
  3. different_perspective_render  VACE render: guide video, a mask that keeps frame 0 (black) and
                                   generates the rest (white), the input image as reference -> render.mp4
  4. different_perspective_final   the render's last frame                      -> {run_id}_final.png

Row 4 is the awaited row: its PNG becomes the orchestrator's output. Intermediates live in the run's
work folder, which row 4 removes after success (unless debug or `skip_cleanup`).

When the still shows nobody (random-weight test models paint noise; a prompt may ask for no person),
the guide falls back to the input pose on every frame (a static skeleton) and says so in the log and in
`poses.json`; the render then keeps the pose and follows the prompt and the reference.

`perspective_type: "depth"` needs a depth-estimation model in a local folder named by DEPTH_MODEL_PATH
(a transformers depth model, e.g. Depth Anything); without one the orchestrator fails at once.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import Optional

import numpy as np

from ..media import video_io
from ..media.frames import snap_frames, snap_resolution
from ..queue.model import NewTask
from .base import Done, FanOut, InvalidParams, TaskContext, safe_name
from .utilities import earlier_output, int_param, local_input, read_image

log = logging.getLogger(__name__)

ORCHESTRATOR = "different_perspective_orchestrator"
STEP_STILL = "different_perspective_still"
STEP_GUIDE = "different_perspective_guide"
STEP_RENDER = "different_perspective_render"
STEP_FINAL = "different_perspective_final"
STEPS = (STEP_STILL, STEP_GUIDE, STEP_RENDER, STEP_FINAL)

PERSPECTIVE_TYPES = ("pose", "depth")
DEFAULTS = {
    "model_name": "vace_14B",
    "resolution": "832x480",
    "output_video_frames": 81,
    "seed": 0,
    "perspective_type": "pose",
    "easing": "ease_in_out",
}
_ID_NAMESPACE = uuid.UUID("6f1d8f2c-3c1a-4f57-9a52-2f0c5d1e7b10")  # fixed: same orchestrator -> same child ids


# ---- pure helpers ---------------------------------------------------------------------------------------

def child_id(orchestrator_id: str, role: str) -> str:
    """Deterministic child id, so a retried orchestrator inserts the same rows (idempotent)."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{orchestrator_id}:{role}"))


def still_model_for(model_name: str) -> str:
    """The text-to-video model that paints the still for a VACE model of the same family/size."""
    name = model_name.lower()
    if name == "tiny":
        return "tiny"
    return "t2v_1.3B" if "1.3b" in name else "t2v"


def depth_model_path(settings: Optional[dict] = None) -> Optional[Path]:
    """A local depth-estimation model folder (the worker's resolved DEPTH_MODEL_PATH setting, else the
    environment variable), or None."""
    if not hasattr(settings, "depth_model_folder"):  # TEMPORARY: old contexts carry a dict
        from ..config import resolve_settings

        settings = resolve_settings()
    return settings.depth_model_folder


def cover_resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Scale to cover (W, H) and crop the centre: the picture keeps its proportions."""
    from PIL import Image

    width, height = size
    src_h, src_w = image.shape[:2]
    scale = max(width / src_w, height / src_h)
    new_w, new_h = max(width, round(src_w * scale)), max(height, round(src_h * scale))
    resized = np.asarray(Image.fromarray(image).resize((new_w, new_h), Image.LANCZOS))
    left, top = (new_w - width) // 2, (new_h - height) // 2
    return np.ascontiguousarray(resized[top:top + height, left:left + width])


def first_frame_mask(frames: int, width: int, height: int) -> list[np.ndarray]:
    """VACE mask: frame 0 black (keep the real input image), every later frame white (generate)."""
    black = np.zeros((height, width, 3), dtype=np.uint8)
    white = np.full((height, width, 3), 255, dtype=np.uint8)
    return [black] + [white] * (frames - 1)


def pose_guide_frames(input_image: np.ndarray, start_pose, end_pose, frames: int,
                      easing: str = "ease_in_out") -> list[np.ndarray]:
    """Frame 0 the input image itself, then skeletons moving from start_pose to end_pose (last frame)."""
    from ..media.pose import interpolate_poses, render_skeleton

    height, width = input_image.shape[:2]
    poses = interpolate_poses(start_pose, end_pose, frames, easing)
    return [input_image] + [render_skeleton(p, width, height) for p in poses[1:]]


def target_pose(input_pose, still_image: np.ndarray):
    """The pose to move towards: the still's, or the input's own when the still shows nobody.

    Returns (pose, fell_back).
    """
    from ..media.pose import NoPersonFound, detect_pose

    try:
        return detect_pose(still_image), False
    except NoPersonFound:
        return input_pose, True


# ---- parameters -----------------------------------------------------------------------------------------

def checked_params(raw: dict, worker_settings: Optional[dict] = None) -> dict:
    """The orchestrator's params checked and completed (raises InvalidParams naming the field).

    Pure: no file is touched, so clients can call it before queueing (see validate_params).
    """
    params = {**DEFAULTS, **{k: v for k, v in raw.items() if v is not None}}
    image = params.get("input_image_path")
    if not isinstance(image, str) or not image.strip():
        raise InvalidParams(f"input_image_path must be an image path or URL, got {image!r}")
    prompt = params.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidParams("prompt must be a non-empty string")
    if not isinstance(params["model_name"], str) or not params["model_name"].strip():
        raise InvalidParams(f"model_name must be a model name, got {params['model_name']!r}")
    try:
        width, height = snap_resolution(params["resolution"])
    except ValueError as exc:
        raise InvalidParams(f"resolution: {exc}") from None
    frames = int_param(params, "output_video_frames", minimum=5)
    seed = int_param(params, "seed")
    steps = None if params.get("steps") is None else int_param(params, "steps", minimum=1)
    kind = params["perspective_type"]
    if kind not in PERSPECTIVE_TYPES:
        raise InvalidParams(f"perspective_type must be one of {', '.join(PERSPECTIVE_TYPES)}, got {kind!r}")
    if kind == "depth" and depth_model_path(worker_settings) is None:
        raise InvalidParams("perspective_type 'depth' needs a local depth-estimation model: set "
                            "DEPTH_MODEL_PATH to its folder (none is available here); use 'pose' instead")
    from ..media.pose import EASINGS

    if params["easing"] not in EASINGS:
        raise InvalidParams(f"easing must be one of {', '.join(EASINGS)}, got {params['easing']!r}")
    return {
        "prompt": prompt.strip(),
        "negative_prompt": str(params.get("negative_prompt") or ""),
        "model_name": params["model_name"].strip(),
        "still_model_name": str(params.get("still_model_name") or still_model_for(params["model_name"])),
        "resolution": f"{width}x{height}",
        "frames": snap_frames(frames),
        "seed": seed,
        "steps": steps,
        "perspective_type": kind,
        "easing": params["easing"],
        "skip_cleanup": bool(params.get("skip_cleanup", False)),
    }


def validate_params(task_type: str, params: dict) -> None:
    """Checks made before a row is written (add_task.py, steerable_motion.py)."""
    if task_type == ORCHESTRATOR:
        checked_params(params)


def _input_reference(value: str) -> str:
    """What children get for the input image: URLs as given, local paths made absolute."""
    from ..storage.downloads import is_url

    return value if is_url(value) else str(Path(value).expanduser().resolve())


# ---- the orchestrator -----------------------------------------------------------------------------------

def handle_orchestrator(ctx: TaskContext) -> FanOut:
    task = ctx.task
    settings = checked_params(ctx.params, ctx.settings)
    source = local_input(ctx, ctx.params.get("input_image_path"), "input_image_path")
    image = read_image(source, "input_image_path")
    width, height = snap_resolution(settings["resolution"])
    if settings["perspective_type"] == "pose":
        # Checked now, not three renders later: the pose workflow needs a person in the input.
        from ..media.pose import NoPersonFound, detect_pose

        try:
            detect_pose(cover_resize(image, (width, height)))
        except NoPersonFound:
            raise InvalidParams(f"input_image_path: no person found in {ctx.params['input_image_path']} "
                                f"(perspective_type 'pose' needs one)") from None

    run_id = str(ctx.params.get("run_id") or task.run_id or task.id)
    ids = {step: child_id(task.id, step) for step in STEPS}
    common = {**settings, "run_id": run_id, "orchestrator_task_id": task.id,
              "input_image_path": _input_reference(ctx.params["input_image_path"]), "step_task_ids": ids}
    children = []
    previous: Optional[str] = None
    for step in STEPS:
        children.append(NewTask(
            task_type=step, params=dict(common), id=ids[step],
            dependant_on=[previous] if previous else [], run_id=run_id,
            project_id=task.project_id, parent_task_id=task.id, priority=task.priority,
        ))
        previous = ids[step]
    _logger(ctx).info("different perspective %s: %d rows, %s frames at %s", run_id, len(children),
                      settings["frames"], settings["resolution"])
    return FanOut(children=children, awaited_task_id=ids[STEP_FINAL])


# ---- the steps ------------------------------------------------------------------------------------------

def _logger(ctx: TaskContext):
    return ctx.log or log


def _progress(ctx: TaskContext, what: str):
    def callback(step: int, total: int) -> None:
        ctx.report_progress(step / max(total, 1), f"{what}: step {step}/{total}")
    return callback


def _input_image(ctx: TaskContext) -> np.ndarray:
    params = ctx.params
    size = snap_resolution(params["resolution"])
    return cover_resize(read_image(local_input(ctx, params["input_image_path"], "input_image_path"),
                                   "input_image_path"), size)


def _step_output(ctx: TaskContext, step: str) -> Path:
    return earlier_output(ctx, ctx.params["step_task_ids"][step], f"{step} output")


def _render_kwargs(ctx: TaskContext) -> dict:
    params = ctx.params
    engine = None if ctx.engine in (None, "", "auto") else ctx.engine  # None: the bridge decides
    kwargs = {"negative_prompt": params.get("negative_prompt", ""), "resolution": params["resolution"],
              "seed": params["seed"], "engine": engine, "settings": ctx.settings}
    if params.get("steps") is not None:
        kwargs["steps"] = params["steps"]
    return kwargs


def handle_still(ctx: TaskContext) -> Done:
    """Step 1: one frame of the prompt with a text-to-video model."""
    from ..wgp_utils import generate_single_video

    params = ctx.params
    out = ctx.run_dir(params["run_id"]) / "still.png"
    path = generate_single_video(model=params["still_model_name"], prompt=params["prompt"],
                                 output_path=out, frames=1, progress_callback=_progress(ctx, "still"),
                                 **_render_kwargs(ctx))
    return Done(str(path))


def handle_guide(ctx: TaskContext) -> Done:
    """Step 2: the guide video (pose skeletons, or depth maps) from the input image to the still."""
    params = ctx.params
    run_dir = ctx.run_dir(params["run_id"])
    width, height = snap_resolution(params["resolution"])
    image = _input_image(ctx)
    still = read_image(_step_output(ctx, STEP_STILL), "still", (width, height))
    if params["perspective_type"] == "depth":
        frames = depth_guide_frames(image, still, params["frames"], ctx.settings)
        note = {"perspective_type": "depth"}
    else:
        from ..media.pose import NoPersonFound, detect_pose, render_skeleton

        try:
            start = detect_pose(image)
        except NoPersonFound:
            raise InvalidParams(f"input_image_path: no person found in {params['input_image_path']}") from None
        end, fell_back = target_pose(start, still)
        if fell_back:
            _logger(ctx).warning("no person found in the generated still; the guide keeps the input pose "
                                 "on every frame (static skeleton)")
        video_io.save_png(render_skeleton(start, width, height), run_dir / "pose_input.png")
        video_io.save_png(render_skeleton(end, width, height), run_dir / "pose_target.png")
        frames = pose_guide_frames(image, start, end, params["frames"], params.get("easing", "ease_in_out"))
        note = {"perspective_type": "pose", "target_pose_fallback": fell_back,
                "input_pose": start.to_json(), "target_pose": end.to_json()}
    (run_dir / "poses.json").write_text(json.dumps(note, indent=1), encoding="utf-8")
    ctx.report_progress(0.5, "guide frames ready")
    return Done(str(video_io.write_video(frames, run_dir / "guide.mp4")))


def handle_render(ctx: TaskContext) -> Done:
    """Step 3: VACE with the guide, a keep-the-first-frame mask, and the input image as reference."""
    from PIL import Image

    from ..wgp_utils import generate_single_video

    params = ctx.params
    width, height = snap_resolution(params["resolution"])
    guide = _step_output(ctx, STEP_GUIDE)
    reference = Image.fromarray(_input_image(ctx))
    mask = [Image.fromarray(m) for m in first_frame_mask(params["frames"], width, height)]
    out = ctx.run_dir(params["run_id"]) / "render.mp4"
    path = generate_single_video(model=params["model_name"], prompt=params["prompt"], output_path=out,
                                 frames=params["frames"], guide_video=str(guide), mask_video=mask,
                                 reference_images=[reference], progress_callback=_progress(ctx, "render"),
                                 **_render_kwargs(ctx))
    return Done(str(path))


def handle_final(ctx: TaskContext) -> Done:
    """Step 4: the render's last frame as the run's final PNG; then the run's work folder goes."""
    params = ctx.params
    render = _step_output(ctx, STEP_RENDER)
    frame = video_io.read_frame(render, -1)
    ctx.output_dir.mkdir(parents=True, exist_ok=True)
    final = video_io.save_png(frame, ctx.output_dir / f"{safe_name(params['run_id'])}_final.png")
    if not (ctx.debug or params.get("skip_cleanup")):
        shutil.rmtree(ctx.work_dir / "runs" / safe_name(params["run_id"]), ignore_errors=True)
    return Done(str(final))


# ---- depth (only with a local model) --------------------------------------------------------------------

_depth_estimators: dict = {}  # model folder -> transformers pipeline, loaded once per process


def estimate_depth(image: np.ndarray, settings: Optional[dict] = None) -> np.ndarray:
    """Relative depth as an RGB uint8 grey image (near = bright), from the model at DEPTH_MODEL_PATH."""
    path = depth_model_path(settings)
    if path is None:
        raise InvalidParams("perspective_type 'depth' needs DEPTH_MODEL_PATH (a local depth model folder)")
    from PIL import Image

    if str(path) not in _depth_estimators:
        from transformers import pipeline

        # any transformers depth-estimation model folder (Depth Anything, DPT, ...); offline, CPU
        _depth_estimators[str(path)] = pipeline("depth-estimation", model=str(path), device="cpu")
    result = _depth_estimators[str(path)](Image.fromarray(image))
    depth = np.asarray(result["predicted_depth"].detach().cpu().numpy(), dtype=np.float32)
    depth = np.squeeze(depth)
    low, high = float(depth.min()), float(depth.max())
    scaled = (depth - low) / (high - low) if high > low else np.zeros_like(depth)
    grey = Image.fromarray(np.uint8(np.rint(scaled * 255))).resize(image.shape[1::-1], Image.BICUBIC)
    return np.repeat(np.asarray(grey)[..., None], 3, axis=2)


def depth_guide_frames(input_image: np.ndarray, still: np.ndarray, frames: int,
                       settings: Optional[dict] = None) -> list[np.ndarray]:
    """Frame 0 the input image, then the input's depth map cross-fading into the still's."""
    start = estimate_depth(input_image, settings).astype(np.float32)
    end = estimate_depth(still, settings).astype(np.float32)
    out = [input_image]
    for k in range(1, frames):
        t = k / (frames - 1)
        out.append(np.uint8(np.rint((1 - t) * start + t * end)))
    return out
