"""`orchestrator_details` of a travel run: validated once into a `TravelRequest` (SPEC §5).

The same checks run in the client before anything is queued (steerable_motion.py) and in the
orchestrator (rows written by other apps). Every error names the field. File checks (images exist and
decode) are separate (`check_local_inputs`) because URLs are only fetched by the worker.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from ..media.frames import WAN_FPS, snap_resolution
from .plan import FadeParams, PlanError, expand_list, segment_count


@dataclass
class TravelRequest:
    run_id: str
    images: list[str]                       # paths or URLs, in order
    prompts: list[str]                      # one per segment
    negative_prompts: list[str]             # one per segment
    segment_frames: list[int]               # as given (one per segment, or one value)
    frame_overlaps: list[int]
    resolution: tuple[int, int]             # snapped to multiples of 16
    model: str
    seed_base: int = 0
    fade_in: dict = field(default_factory=dict)
    fade_out: dict = field(default_factory=dict)
    continue_video: Optional[str] = None
    apply_causvid: bool = False
    apply_lighti2x: bool = False
    loras: dict = field(default_factory=dict)
    colour_match: bool = False
    saturation: Optional[float] = None      # after_first_post_generation_saturation
    brightness: Optional[float] = None      # after_first_post_generation_brightness
    carried_strength: float = 0.0
    carried_desaturate: float = 0.0
    carried_brightness: float = 0.0
    sharp_amount: float = 0.3
    upscale_factor: Optional[float] = None
    debug: bool = False
    skip_cleanup: bool = False
    independent: bool = False
    output_dir: Optional[str] = None
    steps: Optional[int] = None
    guidance_scale: Optional[float] = None
    flow_shift: Optional[float] = None

    @property
    def num_segments(self) -> int:
        return segment_count(len(self.images), self.continue_video is not None)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["resolution"] = list(self.resolution)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "TravelRequest":
        data = dict(data)
        data["resolution"] = tuple(data["resolution"])
        return cls(**data)


def _bool(details: dict, name: str, default: bool = False) -> bool:
    value = details.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise PlanError(f"{name} must be true or false, got {value!r}")
    return value


def _number(details: dict, name: str, default: Optional[float], low: Optional[float] = None,
            high: Optional[float] = None) -> Optional[float]:
    value = details.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PlanError(f"{name} must be a number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"{low if low is not None else '-inf'}..{high if high is not None else 'inf'}"
        raise PlanError(f"{name} must be in {bounds}, got {value}")
    return float(value)


def _int(details: dict, name: str, default: Optional[int], low: Optional[int] = None) -> Optional[int]:
    value = details.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise PlanError(f"{name} must be an integer, got {value!r}")
    if low is not None and value < low:
        raise PlanError(f"{name} must be >= {low}, got {value}")
    return value


def _string_list(details: dict, name: str, required: bool) -> list:
    value = details.get(name)
    if value is None:
        if required:
            raise PlanError(f"{name} is required")
        return [""]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise PlanError(f"{name} must be a non-empty list of strings")
    return value


def _int_list(details: dict, name: str, default: Optional[list] = None) -> list[int]:
    value = details.get(name, default)
    if value is None:
        raise PlanError(f"{name} is required")
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not value:
        raise PlanError(f"{name} must be a non-empty list of integers")
    for i, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, int):
            raise PlanError(f"{name}[{i}] must be an integer, got {item!r}")
    return value


def parse_details(details: Any, fallback_run_id: Optional[str] = None) -> TravelRequest:
    """Validate `orchestrator_details`; PlanError naming the field on the first problem."""
    if isinstance(details, str):
        try:
            details = json.loads(details)
        except json.JSONDecodeError as exc:
            raise PlanError(f"orchestrator_details is not valid JSON: {exc.msg}") from None
    if not isinstance(details, dict):
        raise PlanError("orchestrator_details must be a JSON object")

    run_id = details.get("run_id", fallback_run_id)
    if not isinstance(run_id, str) or not run_id.strip():
        raise PlanError("run_id must be a non-empty string")

    images = details.get("input_image_paths_resolved")
    if not isinstance(images, list) or not images or not all(isinstance(p, str) and p for p in images):
        raise PlanError("input_image_paths_resolved must be a non-empty list of image paths or URLs")

    continue_video = details.get("continue_from_video_resolved_path") or None
    if continue_video is not None and not isinstance(continue_video, str):
        raise PlanError("continue_from_video_resolved_path must be a path or URL")
    count = segment_count(len(images), continue_video is not None)

    declared = details.get("num_new_segments_to_generate")
    if declared is not None and declared != count:
        raise PlanError(f"num_new_segments_to_generate is {declared!r} but {len(images)} images"
                        f"{' after a continued video' if continue_video else ''} make {count} segments")

    prompts = expand_list("base_prompts_expanded", _string_list(details, "base_prompts_expanded", True), count)
    negatives = expand_list("negative_prompts_expanded",
                            _string_list(details, "negative_prompts_expanded", False), count)
    frames = _int_list(details, "segment_frames_expanded")
    expand_list("segment_frames_expanded", frames, count)
    for i, value in enumerate(frames):
        if value < 1:
            raise PlanError(f"segment_frames_expanded[{i}] must be a positive integer, got {value}")
    overlaps = _int_list(details, "frame_overlap_expanded", [0])
    expand_list("frame_overlap_expanded", overlaps, count)
    for i, value in enumerate(overlaps):
        if value < 0:
            raise PlanError(f"frame_overlap_expanded[{i}] must be >= 0, got {value}")

    if "parsed_resolution_wh" not in details:
        raise PlanError("parsed_resolution_wh is required ('WxH' or [W, H])")
    try:
        resolution = snap_resolution(details["parsed_resolution_wh"])
    except ValueError as exc:
        raise PlanError(f"parsed_resolution_wh: {exc}") from None

    model = details.get("model_name")
    if not isinstance(model, str) or not model.strip():
        raise PlanError("model_name is required (a VACE model such as vace_14B or vace_1.3B)")

    fps = details.get("fps_helpers", WAN_FPS)
    if fps not in (None, WAN_FPS):
        raise PlanError(f"fps_helpers must be {WAN_FPS} (the model's frame rate; nothing is resampled), "
                        f"got {fps!r}")

    fade_in = FadeParams.parse("fade_in_params_json_str", details.get("fade_in_params_json_str"))
    fade_out = FadeParams.parse("fade_out_params_json_str", details.get("fade_out_params_json_str"))

    loras = details.get("additional_loras") or {}
    if not isinstance(loras, dict) or not all(
            isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
            for k, v in loras.items()):
        raise PlanError("additional_loras must be an object {path_or_url: strength}")

    upscale = _number(details, "upscale_factor", None, low=0)
    if upscale is not None and not 0 < upscale <= 8:
        raise PlanError(f"upscale_factor must be in (0, 8], got {upscale}")

    output_dir = details.get("output_dir") or None
    if output_dir is not None:
        check_output_dir(output_dir)

    return TravelRequest(
        run_id=run_id.strip(), images=list(images), prompts=prompts, negative_prompts=negatives,
        segment_frames=frames, frame_overlaps=overlaps, resolution=resolution, model=model.strip(),
        seed_base=_int(details, "seed_base", 0), fade_in=fade_in.__dict__, fade_out=fade_out.__dict__,
        continue_video=continue_video,
        apply_causvid=_bool(details, "apply_causvid"), apply_lighti2x=_bool(details, "apply_lighti2x"),
        loras={k: float(v) for k, v in loras.items()},
        colour_match=_bool(details, "colour_match_videos"),
        saturation=_number(details, "after_first_post_generation_saturation", None, low=0),
        brightness=_number(details, "after_first_post_generation_brightness", None, low=-1),
        carried_strength=_number(details, "subsequent_starting_strength_adjustment", 0.0, low=-1),
        carried_desaturate=_number(details, "desaturate_subsequent_starting_frames", 0.0, 0, 1),
        carried_brightness=_number(details, "adjust_brightness_subsequent_starting_frames", 0.0, low=-1),
        sharp_amount=_number(details, "crossfade_sharp_amt", 0.3, 0, 5),
        upscale_factor=upscale,
        debug=_bool(details, "debug_mode_enabled"), skip_cleanup=_bool(details, "skip_cleanup_enabled"),
        independent=_bool(details, "independent_segments"),
        output_dir=str(Path(output_dir).resolve()) if output_dir else None,
        steps=_int(details, "steps", None, low=1),
        guidance_scale=_number(details, "guidance_scale", None, low=0),
        flow_shift=_number(details, "flow_shift", None, low=0),
    )


def check_output_dir(path: str) -> Path:
    """A folder the user chose for the run's final video: absolute, existing, writable."""
    if not isinstance(path, str) or not os.path.isabs(os.path.expanduser(path)):
        raise PlanError(f"output_dir must be an absolute folder path, got {path!r}")
    folder = Path(os.path.expanduser(path))
    if not folder.is_dir():
        raise PlanError(f"output_dir is not an existing folder: {path}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PlanError(f"output_dir is not writable: {path}")
    return folder


def check_local_inputs(request: TravelRequest) -> None:
    """Local images and the continued video exist and decode (URLs are left to the worker)."""
    from PIL import Image

    from ..storage.downloads import is_url

    for i, path in enumerate(request.images):
        if is_url(path):
            continue
        if not Path(path).expanduser().is_file():
            raise PlanError(f"input_image_paths_resolved[{i}]: image not found: {path}")
        try:
            with Image.open(Path(path).expanduser()) as img:
                img.verify()
        except Exception:
            raise PlanError(f"input_image_paths_resolved[{i}]: not a readable image: {path}") from None
    video = request.continue_video
    if video and not is_url(video):
        if not Path(video).expanduser().is_file():
            raise PlanError(f"continue_from_video_resolved_path: video not found: {video}")
        from ..media.video_io import video_info

        try:
            video_info(Path(video).expanduser())
        except Exception:
            raise PlanError(f"continue_from_video_resolved_path: not a readable video: {video}") from None
