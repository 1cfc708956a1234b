"""The travel handlers: travel_orchestrator -> travel_segment x N -> travel_stitch (docs/TRAVEL.md).

The orchestrator checks the run's files, takes the plan from its row (computing it only when the row
has none) and fans out the segment rows and the stitch row; every child carries the run's settings
(`travel`) and the plan (`plan`), so all stages read the same numbers. Intermediates live in the run's
work folder (`ctx.run_dir(run_id)`, removed by the worker once the run has ended, however it ended,
unless debug or skip_cleanup); segment videos and the final video go to the run's output folder
with the run id in their names.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping, Optional, Sequence

import numpy as np

from ...errors import TaskCancelled
from ...media.colour import adjust_colour, colour_match_frames
from ...media.frames import WAN_FPS
from ...media.guides import build_guide_frames, write_frames
from ...media.images import as_pil, banner_frame, fit_frame, load_image
from ...media.stitch import stitch_clips
from ...media.vace import keep_mask
from ...media.video_io import VideoWriter, count_frames, iter_frames, last_frames, video_info
from ...queue.model import NewTask
from ...storage.outputs import output_folder as row_output_folder
from ...storage.outputs import safe_name
from ...tasks.context import Done, FanOut, TaskContext
from ...tasks.ids import child_task_id
from ...tasks.phase_params import all_loras
from . import SEGMENT, STITCH
from .params import (
    FadeParams,
    OrchestratorDetails,
    TravelOrchestratorParams,
    TravelSegmentParams,
    TravelSettings,
    TravelStitchParams,
    check_input_files,
)
from .plan import SegmentPlan, TravelPlan, build_plan


@contextmanager
def _errors_named(label: str) -> Iterator[None]:
    """Errors raised inside leave with `label: ` before their message (which leg of which run), keeping
    their class, so the worker still decides on a retry by what they are."""
    try:
        yield
    except TaskCancelled:
        raise
    except Exception as exc:
        if exc.args and isinstance(exc.args[0], str):
            exc.args = (f"{label}: {exc.args[0]}", *exc.args[1:])
        raise


def output_folder(ctx: TaskContext, travel: TravelSettings) -> Path:
    """The run's output folder: the one the user chose (checked where this stage runs), else the
    worker's."""
    return row_output_folder(ctx.settings, travel.output_dir, "output_dir") if travel.output_dir else ctx.output_dir


# ---- orchestrator -----------------------------------------------------------------------------------

def handle_orchestrator(ctx: TaskContext) -> FanOut:
    params: TravelOrchestratorParams = ctx.params
    details = params.orchestrator_details
    run_id = details.run_id or ctx.task.run_id or ctx.task.id
    inputs = ctx.run_dir(run_id) / "inputs"
    output_folder(ctx, details)
    ctx.report_progress(0.1, "checking inputs")

    # URLs are fetched here too, so a dead link fails the run before any rendering. A plan from the row
    # already holds the continued video's length: the video is then only opened, not decoded.
    video_frames = check_input_files(details, lambda field, url: ctx.local_file(field, url, dest=inputs),
                                     count_video_frames=params.plan is None)
    plan = params.plan or build_plan(len(details.input_image_paths_resolved), details.segment_frames_expanded,
                                     details.frame_overlap_expanded, video_frames, details.independent_segments)

    structure_guide = None
    if details.structure_guidance is not None:
        from .structure import build_composite, composite_name, publish_composite

        ctx.report_progress(0.3, "building the structure guide")
        composite = build_composite(ctx, details.structure_guidance, plan, details.parsed_resolution_wh,
                                    ctx.run_dir(run_id) / composite_name(run_id), inputs)
        structure_guide = publish_composite(ctx, composite)
    children = fan_out_rows(ctx.task.id, run_id, details, plan, project_id=ctx.task.project_id,
                            priority=ctx.task.priority, structure_guide=structure_guide)
    ctx.log.info("travel run %s: %d segments, %d final frames", run_id, plan.num_segments, plan.final_frames)
    return FanOut(children=children, awaited_task_id=children[-1].id)


def fan_out_rows(orchestrator_id: str, run_id: str, details: OrchestratorDetails, plan: TravelPlan,
                 project_id: Optional[str] = None, priority: int = 0,
                 structure_guide: Optional[str] = None) -> list[NewTask]:
    """The segment rows and the stitch row (last). Pure: same inputs, same rows and ids.
    `structure_guide`: where the run's structure guide is (each segment row carries it)."""
    segment_ids = [child_task_id(orchestrator_id, run_id, "segment", i) for i in range(plan.num_segments)]
    stitch_id = child_task_id(orchestrator_id, run_id, "stitch")
    common = {"run_id": run_id, "travel": details.settings().to_json(), "plan": plan.to_json(),
              "segment_task_ids": segment_ids}
    rows = []
    for seg in plan.segments:
        rows.append(NewTask(
            task_type=SEGMENT, id=segment_ids[seg.index], run_id=run_id, project_id=project_id,
            parent_task_id=orchestrator_id, priority=priority,
            dependant_on=[segment_ids[seg.index - 1]] if seg.depends_on_previous else [],
            params={**common, "segment_index": seg.index, "seed": details.seed_base + seg.index,
                    "model": details.model_name,
                    **({"structure_guide": structure_guide} if structure_guide else {})},
        ))
    rows.append(NewTask(
        task_type=STITCH, id=stitch_id, run_id=run_id, project_id=project_id, parent_task_id=orchestrator_id,
        priority=priority, dependant_on=list(segment_ids), params=common,
    ))
    return rows


def _example_rows() -> list[NewTask]:
    """The rows the orchestrator fans out for params.EXAMPLE (the reference shows them)."""
    from .params import EXAMPLE

    details = TravelOrchestratorParams.parse(EXAMPLE).orchestrator_details
    plan = build_plan(len(details.input_image_paths_resolved), details.segment_frames_expanded,
                      details.frame_overlap_expanded)
    return fan_out_rows("the-orchestrator-row-id", details.run_id, details, plan)


def example_segment() -> dict:
    return _example_rows()[0].params


def example_stitch() -> dict:
    return _example_rows()[-1].params


# ---- segment ----------------------------------------------------------------------------------------

DEFAULT_FADE = FadeParams()   # the fade of a segment_guide call that names none (a model, never changed)


def segment_guide(seg: SegmentPlan, size: tuple[int, int], anchors: Mapping[int, np.ndarray],
                  carried: Sequence[np.ndarray] = (), *, fade_out: FadeParams = DEFAULT_FADE,
                  fade_in: FadeParams = DEFAULT_FADE) -> list[np.ndarray]:
    """One segment's guide frames: each frame holds what the plan says (`seg.frame_roles`).

    anchors: image index -> frame at `size`; carried: the previous clip's last `seg.carry_in` frames
    at `size`, oldest first.
    """
    if len(carried) != seg.carry_in:
        raise ValueError(f"segment {seg.index} needs {seg.carry_in} carried frames, got {len(carried)}")
    kept = {}
    for k, role in enumerate(seg.frame_roles):
        if role == "carried":
            kept[k] = carried[k]
        elif role == "start":
            kept[k] = anchors[seg.start_anchor]
        elif role == "end":
            kept[k] = anchors[seg.end_anchor]
    generated = seg.length - len(kept)
    return build_guide_frames(seg.length, size, kept, fade_out=fade_out.weights(generated, fading_out=True),
                              fade_in=fade_in.weights(generated, fading_out=False))


def segment_mask(seg: SegmentPlan, size: tuple[int, int]) -> list[np.ndarray]:
    """One segment's mask: black (keep) on the kept frames, white (generate) elsewhere."""
    return keep_mask(seg.length, seg.kept_frames, size)


INTERMEDIATE_PRESET = "veryfast"  # x264 preset of the segment files the stitch reads (the final keeps its own)


def handle_segment(ctx: TaskContext) -> Done:
    params: TravelSegmentParams = ctx.params
    with _errors_named(f"segment {params.segment_index} of {params.plan.num_segments} (run {params.run_id})"):
        return Done(str(render_segment(ctx, params)))


def _carried_frames(ctx: TaskContext, params: TravelSegmentParams, seg: SegmentPlan, work: Path) -> list:
    """The last `seg.carry_in` frames of the clip before this segment (the continued video, or the
    previous segment's output)."""
    if not seg.carry_in:
        return []
    if seg.carry_from_video:
        field = "continue_from_video_resolved_path"
        path = ctx.local_file(field, params.travel.continue_from_video_resolved_path, dest=work.parent / "inputs")
    else:
        field = f"segment {seg.index - 1} output"
        path = ctx.local_file(field, task_id=params.segment_task_ids[seg.index - 1], dest=work)
    frames = last_frames(path, seg.carry_in)
    if len(frames) != seg.carry_in:
        raise RuntimeError(f"{field} has {len(frames)} frames, fewer than the {seg.carry_in} to carry")
    return frames


def render_segment(ctx: TaskContext, params: TravelSegmentParams) -> Path:
    from ...engines.request import RenderRequest
    from ...wgp_utils import generate_single_video

    travel, index = params.travel, params.segment_index
    seg = params.plan.segments[index]
    run_dir = ctx.run_dir(params.run_id)
    work = run_dir / f"seg{index:02d}"
    work.mkdir(parents=True, exist_ok=True)
    size = travel.parsed_resolution_wh
    final_dir = output_folder(ctx, travel)
    label = f"segment {index + 1}/{params.plan.num_segments}"
    ctx.report_progress(0.02, f"{label}: building guide and mask")

    # The anchors this segment keeps (start_anchor is from_anchor or None) or is colour-matched to.
    anchors = {}
    for a in sorted({seg.from_anchor, seg.end_anchor} - {None}):
        field = f"input_image_paths_resolved[{a}]"
        path = ctx.local_file(field, travel.input_image_paths_resolved[a], dest=run_dir / "inputs")
        anchors[a] = load_image(path, size, what=field)

    carried = [adjust_colour(fit_frame(frame, size), saturation=1.0 - travel.desaturate_subsequent_starting_frames,
                             brightness=travel.adjust_brightness_subsequent_starting_frames,
                             strength=travel.subsequent_starting_strength_adjustment)
               for frame in _carried_frames(ctx, params, seg, work)]
    guide = segment_guide(seg, size, anchors, carried, fade_out=travel.fade_out_params_json_str,
                          fade_in=travel.fade_in_params_json_str)
    if params.structure_guide:  # the run's structure guide fills the frames nothing pins
        from .structure import paste_structure

        composite = ctx.local_file("structure_guide", params.structure_guide, dest=run_dir / "inputs")
        guide = paste_structure(guide, composite, params.plan, index)
    mask = segment_mask(seg, size)
    # Written for inspection with --debug only; the bridge gets the exact frames in memory (an engine
    # that reads files, Wan2GP, writes its own).
    if ctx.debug:
        write_frames(guide, work / "guide.mp4", fps=WAN_FPS)
        write_frames(mask, work / "mask.mp4", fps=WAN_FPS)
    del carried

    raw = work / f"raw.{ctx.attempt_tag}.mp4"    # this attempt's own; published below only while it holds the row
    request = RenderRequest.build(
        model=travel.model_name, prompt=travel.segment_prompt(index),
        negative_prompt=travel.negative_prompts_expanded[index], output_path=raw,
        resolution=f"{size[0]}x{size[1]}", frames=seg.length, seed=params.seed, steps=travel.steps,
        guidance_scale=travel.guidance_scale, flow_shift=travel.flow_shift, guide_video=as_pil(guide),
        mask_video=as_pil(mask), loras=all_loras(travel.additional_loras, travel.phase_config) or None,
        phases=travel.phase_config.plan() if travel.phase_config is not None else None,
        use_causvid_lora=travel.apply_causvid, use_lightning_lora=travel.apply_lightning,
        use_lighti2x_lora=travel.apply_lighti2x, wgp_settings=travel.wgp_settings,
    )
    generate_single_video(request, progress_callback=ctx.step_progress(f"{label} rendering", 0.05, 0.9),
                          settings=ctx.settings)
    del guide, mask
    ctx.report_progress(0.92, f"{label}: finishing")

    final = final_dir / f"{safe_name(params.run_id)}_seg{index:02d}.mp4"
    saturation = travel.after_first_post_generation_saturation
    brightness = travel.after_first_post_generation_brightness
    saturation = 1.0 if saturation is None or index == 0 else saturation
    brightness = 0.0 if brightness is None or index == 0 else brightness
    colour_match = travel.colour_match_videos or ctx.settings.colour_match_videos  # a run's, or the worker's
    if colour_match or saturation != 1.0 or brightness != 0.0:
        frames = iter_frames(raw)
        if colour_match:
            frames = colour_match_frames(frames, seg.length, anchors.get(seg.from_anchor), anchors.get(seg.end_anchor))
        adjusted = work / f"adjusted.{ctx.attempt_tag}.mp4"
        # an intermediate (the stitch re-encodes it): a fast preset, same quality target
        with VideoWriter(adjusted, fps=WAN_FPS, title=video_info(raw)["title"], preset=INTERMEDIATE_PRESET) as writer:
            for frame in frames:
                ctx.check_cancelled()  # per frame: a cancel stops the encode within a frame's time
                writer.write(adjust_colour(frame, saturation, brightness))
        raw.unlink(missing_ok=True)
        raw = adjusted
    # The mp4 header's count (exact for files our writer made) saves a full decode; 0 means unknown.
    produced = video_info(raw)["frames"] or count_frames(raw)
    if produced != seg.length:
        raise RuntimeError(f"rendered {produced} frames, the plan says {seg.length}")
    ctx.publish_file(raw, final)
    if travel.show_input_images:
        _write_banner(final, [as_pil([np.asarray(anchors[a])])[0] for a in sorted(anchors)],
                      final_dir / f"{safe_name(params.run_id)}_seg{index:02d}_inputs.mp4")
    return final


def _write_banner(video: Path, images: list, target: Path) -> Path:
    """`video` with `images` (the segment's anchors, in order) as a banner above it: a second file, so the
    segment itself still chains and stitches at the run's size."""
    with VideoWriter(target, fps=WAN_FPS) as writer:
        for frame in iter_frames(video):
            writer.write(banner_frame(frame, images))
    return target


# ---- stitch -----------------------------------------------------------------------------------------

def handle_stitch(ctx: TaskContext) -> Done:
    params: TravelStitchParams = ctx.params
    travel, plan = params.travel, params.plan
    run_dir = ctx.run_dir(params.run_id)

    def on_clip(written: int, total: int) -> None:
        ctx.report_progress(written / max(total, 1), f"stitching: {written}/{total} frames")

    with _errors_named("travel stitch"):
        clips, names = [], []
        if travel.continue_from_video_resolved_path:
            clips.append(ctx.local_file("continue_from_video_resolved_path", travel.continue_from_video_resolved_path,
                                        dest=run_dir / "inputs"))
            names.append("continued video")
        for i, task_id in enumerate(params.segment_task_ids):
            clips.append(ctx.local_file(f"segment {i} output", task_id=task_id, dest=run_dir / "clips"))
            names.append(f"segment {i}")
        final = output_folder(ctx, travel) / f"{safe_name(params.run_id)}_final.mp4"
        stitch_clips(clips, plan.overlaps, final, expected_lengths=plan.clip_lengths, clip_names=names,
                     size=travel.parsed_resolution_wh, sharp_amount=travel.crossfade_sharp_amt,
                     upscale_factor=travel.upscale_factor, fps=WAN_FPS, progress=on_clip,
                     check_cancelled=ctx.check_cancelled)
    return Done(str(final))
