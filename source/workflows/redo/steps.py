"""individual_travel_segment and travel_redo: one travel leg rendered again, by travel's own segment
renderer (source/workflows/travel/steps.py `render_segment`) and, for a redo, travel's own stitch."""
from __future__ import annotations

from typing import Any, Optional

from ...errors import InvalidParams
from ...queue.model import NewTask, Status
from ...tasks.context import Done, FanOut, TaskContext
from ...tasks.ids import child_task_id
from ..travel import SEGMENT, STITCH
from ..travel.params import TravelOrchestratorParams, TravelSegmentParams
from ..travel.plan import build_plan
from ..travel.steps import render_segment
from .params import IndividualSegmentParams, RedoParams

DEFAULT_SEED = 12345


def _first(*values: Any) -> Any:
    """The first value that is given (None is not; 0 and "" are)."""
    return next((value for value in values if value is not None), None)


def individual_details(params: IndividualSegmentParams, run_id: str) -> tuple[dict, int]:
    """The one-leg travel details of an individual_travel_segment row, and its seed."""
    ind, od, i = params.individual_segment_params, dict(params.orchestrator_details), params.segment_index
    run_images = od.get("input_image_paths_resolved") or []
    if ind.start_image_url and ind.end_image_url:
        images = [ind.start_image_url, ind.end_image_url]
    elif ind.input_image_paths_resolved and len(ind.input_image_paths_resolved) >= 2:
        images = list(ind.input_image_paths_resolved[:2])
    elif params.input_image_paths_resolved and len(params.input_image_paths_resolved) >= 2:
        images = list(params.input_image_paths_resolved[:2])
    elif len(run_images) > i + 1:
        images = list(run_images[i:i + 2])
    else:
        raise InvalidParams(f"segment_index {i}: no start and end image (individual_segment_params.start_image_url "
                            f"and end_image_url, or orchestrator_details.input_image_paths_resolved[{i}] and "
                            f"[{i + 1}])", field="segment_index")
    run_frames = od.get("segment_frames_expanded")
    frames = _first(ind.num_frames, params.num_frames, od.get("segment_frames_target"),
                    run_frames[i] if isinstance(run_frames, list) and len(run_frames) > i else None, 81)
    seed = _first(ind.seed_to_use, params.seed_to_use, DEFAULT_SEED)
    loras = {**(od.get("additional_loras") or {}), **(ind.additional_loras or {})}
    phase_config = _first(ind.phase_config, params.phase_config, od.get("phase_config"))
    for key in ("continue_from_video_resolved_path", "num_new_segments_to_generate", "phase_config",
                "segment_frames_target", "base_prompt", "negative_prompt"):
        od.pop(key, None)
    od.update(run_id=run_id, input_image_paths_resolved=images, segment_frames_expanded=[frames],
              frame_overlap_expanded=[0], base_prompts_expanded=[_first(ind.base_prompt, params.base_prompt, " ")],
              negative_prompts_expanded=[_first(ind.negative_prompt, params.negative_prompt, " ")],
              independent_segments=True, seed_base=seed, additional_loras=loras)
    for key, value in (("model_name", params.model_name), ("parsed_resolution_wh", params.parsed_resolution_wh),
                       ("steps", params.num_inference_steps), ("guidance_scale", params.guidance_scale),
                       ("flow_shift", params.flow_shift)):
        if value is not None:
            od[key] = value
    if phase_config is not None:
        od["wgp_settings"] = {**(od.get("wgp_settings") or {}), "phase_config": phase_config}
    return od, seed


def handle_individual(ctx: TaskContext) -> Done:
    params: IndividualSegmentParams = ctx.params
    run_id = ctx.task.run_id or ctx.task.id
    raw, seed = individual_details(params, run_id)
    details = TravelOrchestratorParams.parse({"orchestrator_details": raw}, ctx.settings).orchestrator_details
    plan = build_plan(2, details.segment_frames_expanded, [], None, True)
    segment = TravelSegmentParams.parse({"run_id": run_id, "travel": details.settings().to_json(),
                                         "plan": plan.to_json(), "segment_task_ids": [ctx.task.id],
                                         "segment_index": 0, "seed": seed, "model": details.model_name},
                                        ctx.settings)
    return Done(str(render_segment(ctx, segment)))


# ---- redo -------------------------------------------------------------------------------------------

def handle_redo(ctx: TaskContext) -> FanOut:
    params: RedoParams = ctx.params
    rows = ctx.queue.list_run(params.source_run_id) if ctx.queue is not None else []
    segments = {t.params.get("segment_index"): t for t in rows if t.task_type == SEGMENT}
    stitches = [t for t in rows if t.task_type == STITCH]
    if not segments or not stitches:
        raise InvalidParams(f"run {params.source_run_id} is not a travel run of this queue (no segment and stitch "
                            f"rows)", field="source_run_id")
    stitch = stitches[0]
    if stitch.status != Status.COMPLETE:
        raise InvalidParams(f"run {params.source_run_id} has not finished (its stitch is {stitch.status}); redo a "
                            f"leg of a finished run", field="source_run_id")
    if params.segment_index not in segments:
        raise InvalidParams(f"segment {params.segment_index}: run {params.source_run_id} has segments "
                            f"0..{len(segments) - 1}", field="segment_index")
    children = redo_rows(ctx.task.id, params, segments[params.segment_index], stitch,
                         project_id=ctx.task.project_id, priority=ctx.task.priority)
    awaited = children[-1].id
    assert awaited is not None  # fan_out rows carry their deterministic ids
    return FanOut(children=children, awaited_task_id=awaited)


def redo_rows(root_id: str, params: RedoParams, segment, stitch, project_id: Optional[str] = None,
              priority: int = 0) -> list[NewTask]:
    """The new version's segment row (the old leg's params, its seed and prompt as asked) and stitch row
    (the run's segments, this one replaced). Pure."""
    i, run_id = params.segment_index, params.run_id
    seg_id = child_task_id(root_id, run_id, "segment", i)
    ids = list(stitch.params["segment_task_ids"])
    ids[i] = seg_id
    travel = dict(segment.params["travel"])
    if params.prompt is not None:
        prompts = list(travel["base_prompts_expanded"])
        prompts[i] = params.prompt
        travel["base_prompts_expanded"] = prompts
    seg_params = {**segment.params, "run_id": run_id, "travel": travel, "segment_task_ids": ids,
                  "seed": segment.params["seed"] if params.seed is None else params.seed}
    stitch_params = {**stitch.params, "run_id": run_id, "segment_task_ids": ids}
    return [NewTask(task_type=SEGMENT, id=seg_id, run_id=run_id, project_id=project_id, parent_task_id=root_id,
                    priority=priority, params=seg_params),
            NewTask(task_type=STITCH, id=child_task_id(root_id, run_id, "stitch"), run_id=run_id,
                    project_id=project_id, parent_task_id=root_id, priority=priority, dependant_on=[seg_id],
                    params=stitch_params)]
