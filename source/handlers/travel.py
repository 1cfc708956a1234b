"""Travel between images (SPEC §6): travel_orchestrator -> travel_segment x N -> travel_stitch.

The orchestrator validates `orchestrator_details`, computes the plan once and fans out the segment rows
and the stitch row; every child carries the validated request (`travel`) and the plan (`plan`), so all
stages read the same numbers. Intermediates live in the run's work folder (`ctx.run_dir(run_id)`);
segment videos and the final video go to the run's output folder with the run id in their names.
"""
from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Optional

from ..media.frames import WAN_FPS
from ..media.video_io import VideoWriter, count_frames, iter_frames, last_frames, video_info
from ..queue.model import NewTask, Status
from ..travel.plan import FadeParams, PlanError, SegmentPlan, TravelPlan, plan_travel
from ..travel.request import TravelRequest, check_local_inputs, check_output_dir, parse_details
from .base import Done, FanOut, InvalidParams, TaskCancelled, TaskContext, TransientError, safe_name

_ID_NAMESPACE = uuid.UUID("6f1d8c52-7d0b-4c8e-9a53-2f1e0b7c4a11")


def child_task_id(orchestrator_id: str, run_id: str, role: str, index: int = 0) -> str:
    """Deterministic child ids: re-running an orchestrator creates nothing twice."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{orchestrator_id}/{run_id}/{role}/{index}"))


def _final_dir(ctx: TaskContext, request: TravelRequest) -> Path:
    """The run's output folder: the one the user chose (re-checked here), else the worker's."""
    if request.output_dir:
        try:
            return check_output_dir(request.output_dir)
        except PlanError as exc:
            raise InvalidParams(str(exc)) from None
    ctx.output_dir.mkdir(parents=True, exist_ok=True)
    return ctx.output_dir


def _local(ctx: TaskContext, location: str, dest: Path, what: str) -> Path:
    """A path or URL (or an earlier row's output) as a local file; errors name `what`."""
    from ..storage.downloads import DownloadError, resolve_input

    try:
        return resolve_input(ctx.resolve_output(location), dest)
    except FileNotFoundError:
        raise InvalidParams(f"{what}: file not found: {location}") from None
    except DownloadError as exc:
        raise TransientError(f"{what}: {exc}") from None


# ---- orchestrator -----------------------------------------------------------------------------------

def handle_orchestrator(ctx: TaskContext) -> FanOut:
    details = ctx.params.get("orchestrator_details")
    try:
        request = parse_details(details, fallback_run_id=ctx.task.run_id or ctx.task.id)
        check_local_inputs(request)
    except PlanError as exc:
        raise InvalidParams(str(exc)) from None
    run_id = request.run_id
    run_dir = ctx.run_dir(run_id)
    _final_dir(ctx, request)
    ctx.report_progress(0.1, "checking inputs")

    # URLs are fetched here too, so a dead link fails the run before any rendering.
    for i, image in enumerate(request.images):
        path = _local(ctx, image, run_dir / "inputs", f"input_image_paths_resolved[{i}]")
        try:
            from PIL import Image

            with Image.open(path) as img:
                img.verify()
        except Exception:
            raise InvalidParams(f"input_image_paths_resolved[{i}]: not a readable image: {image}") from None
    video_frames = None
    if request.continue_video:
        video = _local(ctx, request.continue_video, run_dir / "inputs", "continue_from_video_resolved_path")
        try:
            video_frames = count_frames(video)
        except Exception:
            raise InvalidParams(f"continue_from_video_resolved_path: not a readable video: "
                                f"{request.continue_video}") from None
        if video_frames < 1:
            raise InvalidParams(f"continue_from_video_resolved_path: no frames in {request.continue_video}")

    try:
        plan = plan_travel(len(request.images), request.segment_frames, request.frame_overlaps,
                           continue_video_frames=video_frames, independent=request.independent)
    except PlanError as exc:
        raise InvalidParams(str(exc)) from None

    children = fan_out_rows(ctx.task.id, request, plan, project_id=ctx.task.project_id,
                            priority=ctx.task.priority)
    if ctx.log is not None:
        ctx.log.info("travel run %s: %d segments, %d final frames", run_id, plan.num_segments,
                     plan.final_frames)
    return FanOut(children=children, awaited_task_id=children[-1].id)


def fan_out_rows(orchestrator_id: str, request: TravelRequest, plan: TravelPlan,
                 project_id: Optional[str] = None, priority: int = 0) -> list[NewTask]:
    """The segment rows and the stitch row (last). Pure: same inputs, same rows and ids."""
    run_id = request.run_id
    segment_ids = [child_task_id(orchestrator_id, run_id, "segment", i) for i in range(plan.num_segments)]
    stitch_id = child_task_id(orchestrator_id, run_id, "stitch")
    common = {
        "run_id": run_id,
        "orchestrator_task_id": orchestrator_id,
        "travel": request.to_dict(),
        "plan": plan.to_dict(),
        "segment_task_ids": segment_ids,
        "stitch_task_id": stitch_id,
        "model": request.model,
    }
    rows = []
    for seg in plan.segments:
        depends = [segment_ids[seg.index - 1]] if seg.depends_on_previous else []
        rows.append(NewTask(
            task_type="travel_segment", id=segment_ids[seg.index], run_id=run_id, project_id=project_id,
            parent_task_id=orchestrator_id, priority=priority, dependant_on=depends,
            params={**common, "segment_index": seg.index, "seed": request.seed_base + seg.index},
        ))
    rows.append(NewTask(
        task_type="travel_stitch", id=stitch_id, run_id=run_id, project_id=project_id,
        parent_task_id=orchestrator_id, priority=priority, dependant_on=list(segment_ids),
        params={**common, "model": None},
    ))
    return rows


def _stage_inputs(ctx: TaskContext) -> tuple[TravelRequest, TravelPlan]:
    try:
        return TravelRequest.from_dict(ctx.params["travel"]), TravelPlan.from_dict(ctx.params["plan"])
    except (KeyError, TypeError) as exc:
        raise InvalidParams(f"{ctx.task.task_type} rows are written by travel_orchestrator; "
                            f"missing or malformed field {exc}") from None


# ---- segment ----------------------------------------------------------------------------------------

def handle_segment(ctx: TaskContext) -> Done:
    request, plan = _stage_inputs(ctx)
    index = ctx.params.get("segment_index")
    if not isinstance(index, int) or not 0 <= index < plan.num_segments:
        raise InvalidParams(f"segment_index must be 0..{plan.num_segments - 1}, got {index!r}")
    label = f"segment {index} of {plan.num_segments} (run {request.run_id})"
    try:
        return Done(str(render_segment(ctx, request, plan, index)))
    except TaskCancelled:
        raise
    except (InvalidParams, TransientError) as exc:
        raise type(exc)(f"{label}: {exc}") from exc
    except Exception as exc:
        raise RuntimeError(f"{label}: {exc}") from exc


def _carried_frames(ctx: TaskContext, request: TravelRequest, seg: SegmentPlan, work: Path) -> list:
    if not seg.carry_in:
        return []
    if seg.carry_from_video:
        video = _local(ctx, request.continue_video, work.parent / "inputs", "continue_from_video_resolved_path")
        return last_frames(video, seg.carry_in)
    previous_id = ctx.params["segment_task_ids"][seg.index - 1]
    previous = ctx.get_task(previous_id)
    if previous is None or previous.status != Status.COMPLETE or not previous.output_location:
        state = previous.status if previous else "missing"
        raise RuntimeError(f"needs segment {seg.index - 1} ({previous_id}) complete, it is {state}")
    path = _local(ctx, previous.output_location, work, f"segment {seg.index - 1} output")
    frames = last_frames(path, seg.carry_in)
    if len(frames) != seg.carry_in:
        raise RuntimeError(f"segment {seg.index - 1} output has {len(frames)} frames, "
                           f"fewer than the {seg.carry_in} to carry")
    return frames


def render_segment(ctx: TaskContext, request: TravelRequest, plan: TravelPlan, index: int) -> Path:
    from ..media import guides
    from ..wgp_utils import generate_single_video

    seg = plan.segments[index]
    run_name = safe_name(request.run_id)
    run_dir = ctx.run_dir(request.run_id)
    work = run_dir / f"seg{index:02d}"
    work.mkdir(parents=True, exist_ok=True)
    size = tuple(request.resolution)
    final_dir = _final_dir(ctx, request)
    ctx.report_progress(0.02, f"segment {index}: building guide and mask")

    # Anchors this segment shows or is colour-matched to.
    continuing = plan.continue_video_frames is not None
    colour_start = (index - 1 if index > 0 else None) if continuing else index
    if plan.num_images == 1 and not continuing:
        colour_start = 0
    wanted = {a for a in (seg.start_anchor, seg.end_anchor, colour_start) if a is not None}
    anchors = {}
    for a in sorted(wanted):
        path = _local(ctx, request.images[a], run_dir / "inputs", f"input_image_paths_resolved[{a}]")
        anchors[a] = guides.load_anchor(path, size)

    carried = _carried_frames(ctx, request, seg, work)
    guide = guides.build_guide_frames(
        seg, size, anchors, carried,
        fade_out=FadeParams(**request.fade_out), fade_in=FadeParams(**request.fade_in),
        carried_adjust=guides.CarriedAdjust(request.carried_strength, request.carried_desaturate,
                                            request.carried_brightness),
    )
    mask = guides.build_mask_frames(seg, size)
    # Written for inspection (--debug keeps them); the bridge gets the exact frames in memory.
    guides.write_frames(guide, work / "guide.mp4", fps=WAN_FPS)
    guides.write_frames(mask, work / "mask.mp4", fps=WAN_FPS)
    del carried

    def on_step(step: int, total: int) -> None:
        ctx.report_progress(0.05 + 0.85 * step / max(total, 1), f"segment {index}: step {step}/{total}")

    raw = work / "raw.mp4"
    generate_single_video(
        model=request.model, prompt=request.prompts[index], negative_prompt=request.negative_prompts[index],
        output_path=raw, resolution=f"{size[0]}x{size[1]}", frames=seg.length,
        seed=request.seed_base + index, steps=request.steps, guidance_scale=request.guidance_scale,
        flow_shift=request.flow_shift, guide_video=guides.as_pil(guide), mask_video=guides.as_pil(mask),
        loras=request.loras or None, use_causvid_lora=request.apply_causvid,
        use_lighti2x_lora=request.apply_lighti2x, engine=ctx.engine, progress_callback=on_step,
        settings=ctx.settings,
    )
    del guide, mask
    ctx.report_progress(0.92, f"segment {index}: finishing")

    final = final_dir / f"{run_name}_seg{index:02d}.mp4"
    saturation = request.saturation if request.saturation is not None else 1.0
    brightness = request.brightness if request.brightness is not None else 0.0
    adjust = index > 0 and (saturation != 1.0 or brightness != 0.0)
    if request.colour_match or adjust:
        _post_process(raw, final, seg.length, anchors.get(colour_start), anchors.get(seg.end_anchor),
                      request.colour_match, saturation if adjust else 1.0, brightness if adjust else 0.0)
    else:
        shutil.move(str(raw), str(final))
    # The mp4 header's count (exact for files our writer made) saves a full decode; 0 means unknown.
    produced = video_info(final)["frames"] or count_frames(final)
    if produced != seg.length:
        raise RuntimeError(f"rendered {produced} frames, the plan says {seg.length}")
    return final


def _post_process(source: Path, target: Path, length: int, start_anchor, end_anchor, colour_match: bool,
                  saturation: float, brightness: float) -> None:
    from ..media.colour import adjust_saturation_brightness, colour_match_frames

    frames = iter_frames(source)
    if colour_match:
        frames = colour_match_frames(frames, length, start_anchor, end_anchor)
    with VideoWriter(target, fps=WAN_FPS) as writer:
        for frame in frames:
            writer.write(adjust_saturation_brightness(frame, saturation, brightness))


# ---- stitch -----------------------------------------------------------------------------------------

def handle_stitch(ctx: TaskContext) -> Done:
    from ..media.stitch import StitchError, stitch_clips

    request, plan = _stage_inputs(ctx)
    run_dir = ctx.run_dir(request.run_id)
    clips_dir = run_dir / "clips"
    clips, names = [], []
    if request.continue_video:
        clips.append(_local(ctx, request.continue_video, run_dir / "inputs", "continue_from_video_resolved_path"))
        names.append("continued video")
    for i, task_id in enumerate(ctx.params["segment_task_ids"]):
        task = ctx.get_task(task_id)
        if task is None or task.status != Status.COMPLETE or not task.output_location:
            state = task.status if task else "missing"
            raise RuntimeError(f"travel stitch: segment {i} ({task_id}) is {state}")
        clips.append(_local(ctx, task.output_location, clips_dir, f"segment {i} output"))
        names.append(f"segment {i}")

    final = _final_dir(ctx, request) / f"{safe_name(request.run_id)}_final.mp4"

    def on_clip(written: int, total: int) -> None:
        ctx.report_progress(written / max(total, 1), f"stitching: {written}/{total} frames")

    try:
        stitch_clips(clips, plan.overlaps, final, expected_lengths=plan.clip_lengths, clip_names=names,
                     size=tuple(request.resolution), sharp_amount=request.sharp_amount,
                     upscale_factor=request.upscale_factor, fps=WAN_FPS, progress=on_clip)
    except StitchError as exc:
        raise RuntimeError(f"travel stitch: {exc}") from None

    if not (ctx.debug or request.debug or request.skip_cleanup):
        # Only this run's work folder; final artefacts live in the output folder.
        shutil.rmtree(run_dir, ignore_errors=True)
    return Done(str(final))
