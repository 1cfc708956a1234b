"""Small single-step tasks: pose skeleton, one frame of a video, in-between frames, upscale.

Each writes one artefact into the output folder, named `{task_id}_{what}.{ext}`, and returns its path.
Inputs are local paths, http(s) URLs (downloaded into the task's folder) or an earlier row's output
(`..._task_id`; that row must be Complete).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from ..media import video_io
from ..media.frames import WAN_FPS, parse_resolution
from ..queue.model import Status
from ..storage.downloads import DownloadError, is_url, resolve_input
from .base import Done, InvalidParams, TaskContext, TransientError, safe_name

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


# ---- inputs and outputs shared by the utility and perspective handlers --------------------------------

def local_input(ctx: TaskContext, value: Any, field: str) -> Path:
    """A path or URL given in params -> a local file; InvalidParams naming the field otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidParams(f"{field} must be a file path or URL, got {value!r}")
    try:
        return resolve_input(value.strip(), ctx.task_dir / "inputs")
    except FileNotFoundError:
        raise InvalidParams(f"{field}: file not found: {value}") from None
    except DownloadError as exc:
        raise TransientError(f"{field}: {exc}") from None


def earlier_output(ctx: TaskContext, task_id: Any, field: str) -> Path:
    """The output file of an earlier, Complete row (downloaded first when it is a URL)."""
    if not isinstance(task_id, str) or not task_id.strip():
        raise InvalidParams(f"{field} must be a task id, got {task_id!r}")
    task = ctx.get_task(task_id.strip())
    if task is None:
        raise InvalidParams(f"{field}: no task with id {task_id}")
    if task.status != Status.COMPLETE:
        raise InvalidParams(f"{field}: task {task_id} is {task.status}, not {Status.COMPLETE}")
    location = ctx.resolve_output(task.output_location)
    if not location:
        raise InvalidParams(f"{field}: task {task_id} has no output")
    if is_url(location):
        try:
            return resolve_input(location, ctx.task_dir / "inputs")
        except DownloadError as exc:
            raise TransientError(f"{field}: {exc}") from None
    path = Path(location)
    if not path.is_file():
        raise InvalidParams(f"{field}: the output of task {task_id} is missing: {path}")
    return path


def input_from(ctx: TaskContext, path_field: str, task_field: str) -> Path:
    """The file named by `path_field` (path/URL) or else by `task_field` (an earlier row's output)."""
    params = ctx.params
    if params.get(path_field):
        return local_input(ctx, params[path_field], path_field)
    if params.get(task_field):
        return earlier_output(ctx, params[task_field], task_field)
    raise InvalidParams(f"give {path_field} or {task_field}")


def output_file(ctx: TaskContext, what: str, suffix: str) -> Path:
    ctx.output_dir.mkdir(parents=True, exist_ok=True)
    return ctx.output_dir / f"{safe_name(ctx.task.id)}_{what}{suffix}"


def read_image(path: Path, field: str, size: Optional[tuple[int, int]] = None):
    try:
        return video_io.load_image(path, size)
    except (FileNotFoundError, ValueError) as exc:
        raise InvalidParams(f"{field}: {exc}") from None


def int_param(params: dict, field: str, default: Any = None, minimum: Optional[int] = None) -> int:
    value = params.get(field, default)
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        else:
            raise InvalidParams(f"{field} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise InvalidParams(f"{field} must be >= {minimum}, got {value}")
    return value


def resolution_param(params: dict, field: str = "resolution") -> tuple[int, int]:
    try:
        return parse_resolution(params.get(field))
    except ValueError as exc:
        raise InvalidParams(f"{field}: {exc}") from None


# ---- checks before queueing ------------------------------------------------------------------------

def validate_params(task_type: str, params: dict) -> None:
    """What can be told before a row is written: required fields and their types (files are checked
    by the worker, which is where they must exist)."""
    def one_of(*fields: str) -> None:
        if not any(params.get(f) for f in fields):
            raise InvalidParams(f"give {' or '.join(fields)}")

    if task_type == "generate_openpose":
        one_of("input_image_path", "input_image_task_id")
    elif task_type == "extract_frame":
        one_of("input_video_path", "input_video_task_id")
        int_param(params, "frame_index", default=0)
    elif task_type == "rife_interpolate_images":
        for name in ("input_image_path1", "input_image_path2"):
            if not isinstance(params.get(name), str) or not params[name].strip():
                raise InvalidParams(f"{name} must be a file path or URL, got {params.get(name)!r}")
        int_param(params, "frames", minimum=2)
        resolution_param(params)
    elif task_type == "upscale":
        one_of("input_image_path", "input_image_task_id", "input_video_path", "input_video_task_id")
        factor = params.get("upscale_factor")
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor <= 0:
            raise InvalidParams(f"upscale_factor must be a positive number, got {factor!r}")


# ---- generate_openpose ------------------------------------------------------------------------------

def handle_generate_openpose(ctx: TaskContext) -> Done:
    """Skeleton PNG (OpenPose colours on black, same size as the image) plus the keypoints as JSON."""
    import json

    from ..media.pose import NoPersonFound, detect_pose, render_skeleton

    source = input_from(ctx, "input_image_path", "input_image_task_id")
    image = read_image(source, "input image")
    try:
        pose = detect_pose(image)
    except NoPersonFound as exc:
        raise InvalidParams(f"generate_openpose: {exc}: {source.name}") from None
    height, width = image.shape[:2]
    png = output_file(ctx, "openpose", ".png")
    video_io.save_png(render_skeleton(pose, width, height), png)
    png.with_suffix(".json").write_text(json.dumps(pose.to_json(), indent=1), encoding="utf-8")
    return Done(str(png))


# ---- extract_frame ----------------------------------------------------------------------------------

def handle_extract_frame(ctx: TaskContext) -> Done:
    """Frame `frame_index` (negative counts from the end) of a video as PNG."""
    source = input_from(ctx, "input_video_path", "input_video_task_id")
    index = int_param(ctx.params, "frame_index", default=0)
    try:
        frame = video_io.read_frame(source, index)
    except IndexError as exc:
        raise InvalidParams(str(exc)) from None
    except Exception as exc:  # PyAV errors on files that are not videos
        raise InvalidParams(f"cannot read video {source.name}: {exc}") from None
    return Done(str(video_io.save_png(frame, output_file(ctx, f"frame{index}", ".png"))))


# ---- rife_interpolate_images ------------------------------------------------------------------------

def handle_rife_interpolate_images(ctx: TaskContext) -> Done:
    """`frames` frames from image 1 to image 2 (both included) at `resolution` as an mp4.

    Sides are floored to even numbers (H.264 yuv420p). The method is optical-flow warping by default
    (see source/media/interpolate.py); `method: "blend"` cross-fades.
    """
    from ..media.interpolate import METHODS, interpolate_frames

    params = ctx.params
    frames = int_param(params, "frames", minimum=2)
    width, height = resolution_param(params)
    width, height = max(2, width // 2 * 2), max(2, height // 2 * 2)
    method = params.get("method", "flow")
    if method not in METHODS:
        raise InvalidParams(f"method must be one of {', '.join(METHODS)}, got {method!r}"
                            + (" (RIFE weights are not bundled)" if method == "rife" else ""))
    fps = int_param(params, "fps", default=WAN_FPS, minimum=1)
    first = read_image(local_input(ctx, params.get("input_image_path1"), "input_image_path1"),
                       "input_image_path1", (width, height))
    last = read_image(local_input(ctx, params.get("input_image_path2"), "input_image_path2"),
                      "input_image_path2", (width, height))
    out = output_file(ctx, "interpolated", ".mp4")
    with video_io.VideoWriter(out, fps=fps) as writer:
        for k, frame in enumerate(interpolate_frames(first, last, frames, method)):
            ctx.report_progress((k + 1) / frames, f"frame {k + 1}/{frames}")
            writer.write(frame)
    return Done(str(out))


# ---- upscale ----------------------------------------------------------------------------------------

def handle_upscale(ctx: TaskContext) -> Done:
    """An image or a video (a path, URL, or an earlier row's output) upscaled by `upscale_factor`."""
    from ..media.upscale import upscale_frame, upscaled_size

    params = ctx.params
    factor = params.get("upscale_factor")
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor <= 0:
        raise InvalidParams(f"upscale_factor must be a positive number, got {factor!r}")
    if params.get("input_image_path") or params.get("input_image_task_id"):
        source = input_from(ctx, "input_image_path", "input_image_task_id")
    else:
        source = input_from(ctx, "input_video_path", "input_video_task_id")

    if source.suffix.lower() in IMAGE_SUFFIXES:
        image = read_image(source, "input image")
        return Done(str(video_io.save_png(upscale_frame(image, factor), output_file(ctx, "upscaled", ".png"))))

    try:
        info = video_io.video_info(source)
        total = video_io.count_frames(source)
    except Exception as exc:
        raise InvalidParams(f"cannot read video {source.name}: {exc}") from None
    upscaled_size(info["width"], info["height"], factor)  # validates the factor early
    out = output_file(ctx, "upscaled", ".mp4")
    with video_io.VideoWriter(out, fps=max(1, int(round(info["fps"])))) as writer:
        for k, frame in enumerate(video_io.iter_frames(source)):
            writer.write(upscale_frame(frame, factor))
            ctx.report_progress((k + 1) / max(total, 1), f"frame {k + 1}/{total}")
    return Done(str(out))
