"""The join handlers: join_clips_orchestrator -> join_clips_segment x (N-1), a chain (docs/JOINING.md).

Each join renders its transition with VACE (guide: A's context, grey gap, B's context; mask: black on
the contexts) and stitches A', T and B' with a cross-fade over each context, so its output holds
everything joined so far: join i's clip A is the output of join i-1 (read from that row, downloaded
when it is a URL), and the last join's output is the run's video. Every join's output is published
like any task's output (uploaded in Supabase mode), so any worker can take the next join.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Optional

import numpy as np

from ...engines.choice import choose_engine
from ...engines.models import lookup_model
from ...errors import InvalidParams, UserError
from ...media.frames import snap_resolution
from ...media.guides import write_frames
from ...media.images import as_pil, fit_frame
from ...media.retime import FPS_TOLERANCE, frame_times, resample_indices, reverse_video, write_frames_at
from ...media.stitch import selected_frames, stitch_clips
from ...media.vace import grey_frame, keep_mask
from ...media.video_io import count_frames, iter_frames, video_info
from ...queue.model import NewTask
from ...storage.outputs import folder_inside_outputs, publish_output, safe_name
from ...tasks.context import Done, FanOut, TaskContext
from ...tasks.ids import child_task_id
from . import SEGMENT
from .params import JoinOrchestratorParams, JoinSegmentParams, JoinSettings, parse_ratio
from .plan import JoinPlan, plan_join

# Models every engine's stand-in can take for a Wan2GP VACE model id.
STAND_IN_MODEL = "vace_14B"


def render_model(model: str, engine: str) -> str:
    """The model name the render bridge gets for a join's `model` on `engine`.

    A name of this project's registry is used as it is. A Wan2GP model id (the original rows' default
    `wan_2_2_vace_lightning_baseline_2_2_2`) renders as written on engine wan2gp; on engines tiny and
    preview the tiny VACE model / the preview stand in for it; engine diffusers cannot load it: the row
    fails with a line naming the engine that can."""
    try:
        spec = lookup_model(model)
    except UserError:
        spec = None
    if spec is not None and spec.kind != "wan2gp":
        return model
    wan2gp_id = model if spec is not None else f"wan2gp:{model}"
    if engine == "wan2gp":
        return wan2gp_id
    if engine in ("tiny", "preview"):
        return STAND_IN_MODEL
    raise UserError(f"model {model!r} is a Wan2GP model id: it renders on a worker with --engine wan2gp "
                    f"(this worker renders with engine {engine}); or name vace_14B / vace_1.3B", field="model")


def _even(value: int) -> int:
    return max(2, value - value % 2)


def output_size(width: int, height: int, aspect_ratio: Optional[str]) -> tuple[int, int]:
    """Clip A's size, centre-cropped to `aspect_ratio` when given, made even (H.264)."""
    if aspect_ratio:
        ratio = parse_ratio(aspect_ratio)
        if width / height > ratio:
            width = int(round(height * ratio))
        else:
            height = int(round(width / ratio))
    return _even(width), _even(height)


def source_indices(path: Path, fps: float) -> list[int]:
    """The frames of `path` that make it a clip at `fps`: all of them at its own rate, else the ones
    picked by timestamp (source/media/retime.py)."""
    times, rate = frame_times(path)
    if abs(rate - fps) <= FPS_TOLERANCE:
        return list(range(len(times)))
    return resample_indices(times, fps, rate)


def _pick_frames(path: Path, wanted: set[int]) -> dict[int, np.ndarray]:
    frames = {}
    for n, frame in enumerate(iter_frames(path)):
        if n in wanted:
            frames[n] = frame
        if len(frames) == len(wanted):
            break
    missing = sorted(wanted - set(frames))
    if missing:
        raise RuntimeError(f"{path.name} has no frame {missing[0]}")
    return frames


def join_guide(plan: JoinPlan, a: Path, a_idx: list[int], b: Path, b_idx: list[int],
               size: tuple[int, int]) -> tuple[list, list]:
    """The guide and mask frames of a join at the render `size` (`plan.guide_layout()`); a_idx / b_idx:
    the source file's frame of each clip frame."""
    layout = plan.guide_layout()
    from_a = _pick_frames(a, {a_idx[i] for c, i in filter(None, layout) if c == "a"})
    from_b = _pick_frames(b, {b_idx[j] for c, j in filter(None, layout) if c == "b"})
    grey = grey_frame(size)
    guide = []
    for source in layout:
        if source is None:
            guide.append(grey)
        elif source[0] == "a":
            guide.append(fit_frame(from_a[a_idx[source[1]]], size))
        else:
            guide.append(fit_frame(from_b[b_idx[source[1]]], size))
    return guide, keep_mask(plan.length, plan.kept_in_guide, size)


def render_join(ctx: TaskContext, settings: JoinSettings, a: Path, b: Path, work: Path, output: Path,
                *, audio: Optional[Path] = None, label: str = "join") -> tuple[Path, JoinPlan]:
    """One join of the local clips `a` and `b` into `output`; returns it and the plan used."""
    from ...wgp_utils import generate_single_video

    work.mkdir(parents=True, exist_ok=True)
    fps = video_info(a)["fps"] if settings.use_input_video_fps else settings.fps
    ctx.report_progress(0.02, f"{label}: reading clips")
    a_idx, b_idx = source_indices(a, fps), source_indices(b, fps)
    plan = plan_join(len(a_idx), len(b_idx), context=settings.context_frame_count, gap=settings.gap_frame_count,
                     replace=settings.replace_mode, bridging=settings.keep_bridging_images)
    info = video_info(a)
    size = output_size(info["width"], info["height"], settings.aspect_ratio)
    if settings.resolution and not settings.use_input_video_resolution:
        render_size = snap_resolution(settings.resolution)
    else:
        render_size = snap_resolution(size)
    ctx.log.info("%s: %s", label, plan.to_json())

    guide, mask = join_guide(plan, a, a_idx, b, b_idx, render_size)
    write_frames(guide, work / "guide.mp4", fps=16)
    write_frames(mask, work / "mask.mp4", fps=16)
    engine = choose_engine(None, ctx.settings)
    wgp_settings = dict(settings.wgp_settings or {})
    if settings.replace_mode and settings.vid2vid_init_strength is not None and settings.vid2vid_init_strength < 1:
        # context A + A's removed tail + B's removed head + context B: the frames the render replaces
        init = work / "vid2vid_init.mp4"
        frames = [fit_frame(f, render_size) for f in selected_frames(a, a_idx[plan.context_a.start:])]
        frames += [fit_frame(f, render_size) for f in selected_frames(b, b_idx[:plan.context_b.stop])]
        write_frames_at(frames, init, fps)
        wgp_settings.update(vid2vid_init_video=str(init), vid2vid_init_strength=settings.vid2vid_init_strength)
    seed = settings.seed if settings.seed >= 0 else random.randint(0, 2**31 - 1)
    transition = work / "transition.mp4"
    generate_single_video(
        model=render_model(settings.model, engine), prompt=settings.prompt or " ",
        negative_prompt=settings.negative_prompt or " ", output_path=transition,
        resolution=f"{render_size[0]}x{render_size[1]}", frames=plan.length, seed=seed,
        steps=settings.num_inference_steps, guidance_scale=settings.guidance_scale, flow_shift=settings.flow_shift,
        guide_video=as_pil(guide), mask_video=as_pil(mask), loras=settings.additional_loras or None,
        wgp_settings=wgp_settings or None, progress_callback=ctx.step_progress(f"{label} rendering", 0.05, 0.85),
        settings=ctx.settings)
    del guide, mask
    rendered = count_frames(transition)
    if rendered != plan.length:
        raise RuntimeError(f"{label}: the transition has {rendered} frames, {plan.length} were asked for")

    ctx.report_progress(0.88, f"{label}: stitching")
    joined = output if audio is None else work / "joined_silent.mp4"
    stitch_clips([a, transition, b], plan.overlaps, joined, expected_lengths=plan.clip_lengths,
                 clip_names=["clip A", "transition", "clip B"], size=size,
                 sharp_amount=settings.crossfade_sharp_amt, fps=_rate(fps),
                 clip_frames=[[a_idx[i] for i in plan.kept_a], None, [b_idx[j] for j in plan.kept_b]])
    if audio is not None:
        from ...media.audio import mux_audio

        mux_audio(joined, audio, output)
    return output, plan


def _rate(fps: float):
    from fractions import Fraction

    return int(fps) if float(fps).is_integer() else Fraction(fps).limit_denominator(1001)


def _out_dir(ctx: TaskContext, folder: Optional[str], field: str) -> Path:
    if not folder:
        return ctx.output_dir
    path = folder_inside_outputs(ctx.settings, folder, field)
    path.mkdir(parents=True, exist_ok=True)
    return path


def handle_segment(ctx: TaskContext) -> Done:
    params: JoinSegmentParams = ctx.params
    inputs = ctx.task_dir / "inputs"
    if params.starting_video_path:
        a = ctx.local_file("starting_video_path", params.starting_video_path, dest=inputs)
    elif ctx.task.dependant_on:
        a = ctx.local_file("starting_video_path", task_id=ctx.task.dependant_on[0], dest=inputs)
    else:
        raise InvalidParams("starting_video_path is required for a join that depends on no earlier row",
                            field="starting_video_path")
    b = ctx.local_file("ending_video_path", params.ending_video_path, dest=inputs)
    audio = None
    if params.audio_url and params.is_last_join:
        audio = ctx.local_file("audio_url", params.audio_url, dest=inputs)
    elif params.audio_url and params.orchestrator_task_id_ref is None:
        audio = ctx.local_file("audio_url", params.audio_url, dest=inputs)   # a join on its own
    name = (f"{safe_name(params.orchestrator_run_id)}_join{params.join_index:02d}.mp4" if params.orchestrator_run_id
            else f"{safe_name(ctx.task.id)}_joined.mp4")
    output = _out_dir(ctx, params.output_dir, "output_dir") / name
    label = f"join {params.join_index + 1}" if params.orchestrator_run_id else "join"
    path, _ = render_join(ctx, params.settings_only, a, b, ctx.task_dir / "work", output, audio=audio, label=label)
    return Done(str(path))


# ---- orchestrator -----------------------------------------------------------------------------------

def handle_orchestrator(ctx: TaskContext) -> FanOut:
    params: JoinOrchestratorParams = ctx.params
    details = params.orchestrator_details
    run_id = details.run_id or ctx.task.run_id or ctx.task.id
    clips = [clip.url for clip in details.clip_list]
    ctx.report_progress(0.1, "checking clips")
    inputs = ctx.run_dir(run_id) / "inputs"
    for i, url in enumerate(clips):          # a missing file or dead link fails the run before any render
        ctx.local_file(f"clip_list[{i}].url", url, dest=inputs)
    if details.loop_first_clip:
        first = ctx.local_file("clip_list[0].url", clips[0], dest=inputs)
        folder = _out_dir(ctx, details.output_dir, "output_dir")
        reversed_clip = reverse_video(first, folder / f"{safe_name(run_id)}_clip0_reversed.mp4",
                                      video_info(first)["fps"])
        # stored where every worker reads outputs (uploaded in Supabase mode)
        clips.append(publish_output(ctx.settings, ctx.task.id, str(reversed_clip)) or str(reversed_clip))
    children = fan_out_rows(ctx.task.id, run_id, params, clips, project_id=ctx.task.project_id,
                            priority=ctx.task.priority)
    ctx.log.info("join run %s: %d clips, %d joins", run_id, len(clips), len(children))
    awaited = children[-1].id
    assert awaited is not None  # fan_out rows carry their deterministic ids
    return FanOut(children=children, awaited_task_id=awaited)


def fan_out_rows(orchestrator_id: str, run_id: str, params: JoinOrchestratorParams, clips: list[str],
                 project_id: Optional[str] = None, priority: int = 0) -> list[NewTask]:
    """One join_clips_segment row per join, each depending on the one before. Pure."""
    details = params.orchestrator_details
    ids = [child_task_id(orchestrator_id, run_id, "join", i) for i in range(len(clips) - 1)]
    rows = []
    for i, task_id in enumerate(ids):
        settings = details.join_settings(i).to_json()
        last = i == len(ids) - 1
        row = {**settings, "starting_video_path": clips[0] if i == 0 else None, "ending_video_path": clips[i + 1],
               "is_first_join": i == 0, "is_last_join": last, "join_index": i,
               "orchestrator_task_id_ref": orchestrator_id, "orchestrator_run_id": run_id,
               "output_dir": details.output_dir, "debug": details.debug}
        if not last:
            row["audio_url"] = None
        rows.append(NewTask(task_type=SEGMENT, id=task_id, run_id=run_id, project_id=project_id,
                            parent_task_id=orchestrator_id, priority=priority,
                            dependant_on=[ids[i - 1]] if i else [], params=row))
    return rows


def example_segment() -> dict:
    from .params import EXAMPLE

    params = JoinOrchestratorParams.parse(EXAMPLE)
    clips = [c.url for c in params.orchestrator_details.clip_list]
    return fan_out_rows("the-orchestrator-row-id", "join_run", params, clips)[1].params
