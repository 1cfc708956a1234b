"""Structure guidance of a travel run: the composite guide, made once by the orchestrator, and each
segment's slice of it (the arithmetic is structure_plan.py; the pixels source/media/structure.py).

The composite has one frame per frame of the final video. It is written into the run's work folder and,
on a Supabase queue, uploaded to Storage, so a segment on any worker reads it by the location its row
carries (`structure_guide`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ...errors import InvalidParams
from ...media.frames import WAN_FPS
from ...media.images import fit_frame
from ...media.structure import neutral_frame, preprocess
from ...media.video_io import VideoWriter, iter_frames, video_info
from ...storage.outputs import safe_name
from ...tasks.context import TaskContext
from .params import StructureGuidance
from .plan import PlanError, TravelPlan
from .structure_plan import place_videos, resample_indices, segment_slice, timeline_total

COMPOSITE_CRF = 8   # near-lossless: edges and flow colours survive the encode


def depth_model_for(guidance: StructureGuidance, settings) -> Optional[Path]:
    if guidance.preprocessing != "depth":
        return None
    folder = settings.depth_model_folder
    if folder is None:
        raise InvalidParams("structure guidance 'depth' needs a local depth-estimation model: set DEPTH_MODEL_PATH "
                            "to a transformers depth-estimation folder (e.g. Depth Anything V2); or use flow, canny "
                            "or raw", field="structure_guidance.preprocessing")
    return folder


def build_composite(ctx: TaskContext, guidance: StructureGuidance, plan: TravelPlan, size: tuple[int, int],
                    target: Path, inputs: Path) -> Path:
    """The run's structure guide: every timeline frame, each video preprocessed on its own range."""
    total = timeline_total(plan)
    depth_model = depth_model_for(guidance, ctx.settings)
    placements = place_videos([v.model_dump() for v in guidance.videos], total)
    blocks: dict[int, list[np.ndarray]] = {}
    for place in placements:
        video = guidance.videos[place.index]
        field = f"structure_guidance.videos[{place.index}].path"
        path = ctx.local_file(field, video.path, dest=inputs)
        try:
            info = video_info(path)
            frames = [fit_frame(f, size) for f in iter_frames(path)]
        except Exception:
            raise PlanError(f"{field}: not a readable video: {video.path}", field=field) from None
        end = len(frames) if place.source_end is None else min(place.source_end, len(frames))
        source = frames[place.source_start:end]
        if not source:
            raise PlanError(f"{field}: no frames in source range {place.source_start}..{end} of {video.path} "
                            f"({len(frames)} frames)", field=field)
        treatment = video.treatment or guidance.treatment
        picked = [source[i] for i in resample_indices(place.length, len(source), treatment,
                                                      float(info.get("fps") or WAN_FPS), WAN_FPS)]
        blocks[place.start] = preprocess(picked, guidance.preprocessing, strength=guidance.strength,
                                         canny_intensity=guidance.canny_intensity,
                                         depth_contrast=guidance.depth_contrast, depth_model=depth_model)
        del frames, source, picked
    neutral = neutral_frame(guidance.preprocessing, size)
    with VideoWriter(target, fps=WAN_FPS, crf=COMPOSITE_CRF) as writer:
        t = 0
        for place in placements:
            for _ in range(t, place.start):
                writer.write(neutral)
            for frame in blocks.pop(place.start):
                writer.write(frame)
            t = place.end
        for _ in range(t, total):
            writer.write(neutral)
    return target


def publish_composite(ctx: TaskContext, path: Path) -> str:
    """Where every worker of the run can read the composite: the file itself on a shared disk, or its
    Storage URL on a Supabase queue."""
    if ctx.settings.db_type == "supabase":
        from ...storage.supabase_storage import upload_output

        return upload_output(ctx.settings, ctx.task.id, path)
    return str(path.resolve())


def composite_name(run_id: str) -> str:
    return f"{safe_name(run_id)}_structure_guide.mp4"


def paste_structure(guide: Sequence[np.ndarray], composite: Path, plan: TravelPlan, index: int) -> list[np.ndarray]:
    """Segment `index`'s guide with its unguided frames replaced by the composite's frames at their
    timeline positions; anchor and carried frames untouched."""
    wanted = dict((timeline, k) for k, timeline in segment_slice(plan, index))
    out = list(guide)
    if not wanted:
        return out
    last = max(wanted)
    for t, frame in enumerate(iter_frames(composite)):
        if t in wanted:
            if frame.shape != out[wanted[t]].shape:
                raise RuntimeError(f"structure guide frames are {frame.shape[1]}x{frame.shape[0]}, the segment's "
                                   f"{out[wanted[t]].shape[1]}x{out[wanted[t]].shape[0]}")
            out[wanted[t]] = frame
        if t >= last:
            break
    else:
        raise RuntimeError(f"the structure guide has fewer frames than the timeline needs (frame {last})")
    return out
