"""The utility task handlers. Each writes one artefact into the output folder, named
`{task_id}_{what}.{ext}`, and returns its path."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from ...media import video_io
from ...media.images import load_image
from ...storage.outputs import safe_name
from ...tasks.context import Done, TaskContext
from .params import ExtractFrameParams, InterpolateParams, OpenposeParams, UpscaleParams

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


def _input(ctx: TaskContext, path_field: str, task_field: str) -> Optional[Path]:
    """The file named by `path_field` (a path or URL), else the output of the row in `task_field`;
    None when neither is given."""
    path, task_id = getattr(ctx.params, path_field), getattr(ctx.params, task_field)
    if path:
        return ctx.local_file(path_field, path)
    if task_id:
        return ctx.local_file(task_field, task_id=task_id)
    return None


def _output_file(ctx: TaskContext, what: str, suffix: str) -> Path:
    return ctx.output_dir / f"{safe_name(ctx.task.id)}_{what}{suffix}"


def handle_generate_openpose(ctx: TaskContext) -> Done:
    """Skeleton PNG (OpenPose colours on black, same size as the image) plus the keypoints as JSON."""
    from ...media.pose import detect_pose, render_skeleton

    params: OpenposeParams = ctx.params
    field = "input_image_path" if params.input_image_path else "input_image_task_id"
    source = _input(ctx, "input_image_path", "input_image_task_id")
    image = load_image(source, what=field)
    pose = detect_pose(image, what=source.name, field=field)
    height, width = image.shape[:2]
    png = _output_file(ctx, "openpose", ".png")
    video_io.save_png(render_skeleton(pose, width, height), png)
    png.with_suffix(".json").write_text(json.dumps(pose.to_json(), indent=1), encoding="utf-8")
    return Done(str(png))


def handle_extract_frame(ctx: TaskContext) -> Done:
    """Frame `frame_index` (negative counts from the end) of a video as PNG."""
    params: ExtractFrameParams = ctx.params
    source = _input(ctx, "input_video_path", "input_video_task_id")
    frame = video_io.read_frame(source, params.frame_index)
    return Done(str(video_io.save_png(frame, _output_file(ctx, f"frame{params.frame_index}", ".png"))))


def handle_rife_interpolate_images(ctx: TaskContext) -> Done:
    """`frames` frames from image 1 to image 2 (both included) at `resolution` as an mp4.

    The images are stretched to the resolution, whose sides are floored to even numbers (H.264
    yuv420p). The method is optical-flow warping by default (see source/media/interpolate.py);
    `method: "blend"` cross-fades.
    """
    from ...media.frames import parse_resolution
    from ...media.interpolate import interpolate_frames

    params: InterpolateParams = ctx.params
    width, height = parse_resolution(params.resolution)
    size = max(2, width // 2 * 2), max(2, height // 2 * 2)
    first, last = (load_image(ctx.local_file(field, getattr(params, field)), size, fit="stretch", what=field)
                   for field in ("input_image_path1", "input_image_path2"))
    out = _output_file(ctx, "interpolated", ".mp4")
    with video_io.VideoWriter(out, fps=params.fps) as writer:
        for k, frame in enumerate(interpolate_frames(first, last, params.frames, params.method)):
            ctx.report_progress((k + 1) / params.frames, f"frame {k + 1}/{params.frames}")
            writer.write(frame)
    return Done(str(out))


def handle_upscale(ctx: TaskContext) -> Done:
    """An image or a video (a path, URL, or an earlier row's output) upscaled by `upscale_factor`."""
    from ...media.upscale import upscale_frame

    params: UpscaleParams = ctx.params
    factor = params.upscale_factor
    source = (_input(ctx, "input_image_path", "input_image_task_id")
              or _input(ctx, "input_video_path", "input_video_task_id"))
    if source.suffix.lower() in IMAGE_SUFFIXES:
        image = load_image(source, what="input image")
        return Done(str(video_io.save_png(upscale_frame(image, factor), _output_file(ctx, "upscaled", ".png"))))

    info = video_io.video_info(source)
    total = video_io.count_frames(source)
    out = _output_file(ctx, "upscaled", ".mp4")
    with video_io.VideoWriter(out, fps=max(1, int(round(info["fps"])))) as writer:
        for k, frame in enumerate(video_io.iter_frames(source)):
            writer.write(upscale_frame(frame, factor))
            ctx.report_progress((k + 1) / max(total, 1), f"frame {k + 1}/{total}")
    return Done(str(out))
