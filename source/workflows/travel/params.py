"""Parameters of the travel task types: one model each, validated once per process.

`travel_orchestrator` rows hold `orchestrator_details` (the run's settings, `OrchestratorDetails`) and,
when queued by steerable_motion.py, the `plan` computed then. The orchestrator writes the segment and
stitch rows: each carries the run's settings as validated (`travel`, a `TravelSettings`: the details
without the lists the plan was computed from) and the plan.

Every field says what its steerable_motion.py flag is (`flag` in its metadata), so a message about a
field can name the flag a command-line user typed (`flag_of`). Checks that need the files (an image
that decodes, a writable output folder) are functions here, run where the files are: by the client
before queueing and by the worker.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Callable, ClassVar, Literal, Optional, get_args

from pydantic import BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from ...engines.models import lookup_model, model_names
from ...errors import InvalidParams
from ...media.easing import Easing, fade_weights
from ...media.frames import DEFAULT_RESOLUTION, WAN_FPS, snap_resolution
from ...tasks.original_keys import ORIGINAL_STAGE_KEYS
from ...tasks.params import (
    GUIDANCE_MAX,
    RESOLUTION_LIMITS,
    SEED_MAX,
    Choice,
    Flag,
    Int,
    LimitedBy,
    LoraPath,
    LoraStrength,
    ModelFrameRate,
    Number,
    Params,
    ReadPath,
    TaskParams,
    Text,
    WritePath,
    aliases,
    check_limit,
    check_resolution,
    flag,
    settings_of,
)
from ...tasks.phase_params import PhaseConfig, check_phases
from .plan import PlanError, TravelPlan, check_plan, expand_list, frame_overlap_list, segment_count, segment_frames_list


def _json_text(value: Any) -> Any:
    """An object given as JSON text (apps write some as strings) decoded; "" means an empty object."""
    if value == "":
        return {}
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"is not valid JSON: {exc.msg}") from None
    return value


class FadeParams(Params):
    """An anchor fading into the grey of the generated frames: over `duration_factor` of them its
    weight moves from `high_point` (next to the anchor) to `low_point` (away from it) along
    `curve_type`."""

    error_class: ClassVar[type[InvalidParams]] = PlanError

    low_point: Number = Field(0.0, ge=0, le=1, description="the anchor's weight at the far end of the fade")
    high_point: Number = Field(1.0, ge=0, le=1, description="the anchor's weight next to the anchor")
    curve_type: Annotated[Easing, Choice()] = Field("ease_in_out", description="the easing curve between the two")
    duration_factor: Number = Field(0.0, ge=0, le=1,
                                    description="share of the generated frames the fade spans (0: no fade)")

    def weights(self, generated_frames: int, fading_out: bool) -> list[float]:
        """The anchor's weight on each generated frame (see source/media/easing.py)."""
        return fade_weights(generated_frames, low_point=self.low_point, high_point=self.high_point,
                            curve=self.curve_type, duration_factor=self.duration_factor, fading_out=fading_out)


Fade = Annotated[FadeParams, BeforeValidator(_json_text)]


# ---- structure guidance ------------------------------------------------------------------------------
StructureTreatment = Literal["adjust", "clip"]
STRUCTURE_TREATMENTS = get_args(StructureTreatment)

class StructureVideo(Params):
    """One structure video placed on the run's timeline (the final video's frames, docs/TRAVEL.md)."""

    error_class: ClassVar[type[InvalidParams]] = PlanError

    path: ReadPath = Field(validation_alias=aliases("path", "url", "video_path"),
                       description="the reference video: a path or an http(s) URL")
    start_frame: Int = Field(0, ge=0, description="first timeline frame it guides")
    end_frame: Optional[Int] = Field(None, ge=1, description="timeline frame after the last it guides "
                                                             "(exclusive; default: the run's end)")
    treatment: Optional[Annotated[StructureTreatment, Choice()]] = Field(
        None, description="adjust (stretch its range over its frames) or clip (play at its own speed, looping); "
                          "default: the guidance's")
    source_start_frame: Int = Field(0, ge=0, description="first frame of the video used")
    source_end_frame: Optional[Int] = Field(None, ge=1, description="frame of the video after the last used "
                                                                    "(default: its end)")


class StructureGuidance(Params):
    """Structure guidance: reference videos whose motion (flow), edges (canny), depth or frames (raw) drive
    each segment's frames that no anchor or overlap pins. The original tool's legacy `structure_video_*`
    keys and its `structure_guidance` object both become this (source/tasks/original_keys.py
    `fold_structure_keys`)."""

    error_class: ClassVar[type[InvalidParams]] = PlanError

    videos: list[StructureVideo] = Field(min_length=1, description="the videos, each on its timeline range")
    preprocessing: Annotated[Literal["flow", "canny", "depth", "raw"], Choice()] = Field(
        "flow", description="flow (OpenCV Farneback optical flow on a colour wheel), canny (OpenCV edges), depth "
                            "(needs DEPTH_MODEL_PATH) or raw (the frames as given)")
    strength: Number = Field(1.0, ge=0, le=10, description="flow: scales the motion before colouring")
    treatment: Annotated[StructureTreatment, Choice()] = Field("adjust", description="default treatment of the videos")
    canny_intensity: Number = Field(1.0, ge=0, le=10, description="canny: multiplies the edge map")
    depth_contrast: Number = Field(1.0, ge=0, le=10, description="depth: contrast around mid-grey")
    target: Annotated[Literal["vace"], Choice()] = Field("vace", description="vace: the guide frames of each segment (Uni3C is not "
                                                       "supported)")


StructureGuidanceField = Annotated[Optional[StructureGuidance], BeforeValidator(_json_text)]


class TravelSettings(Params):
    """What every stage of a travel run reads (all of `orchestrator_details` but the plan's inputs).

    A key given as null counts as not given. Per-segment lists given one value are repeated, one per
    segment, when validated.
    """

    error_class: ClassVar[type[InvalidParams]] = PlanError

    run_id: Optional[Text] = Field(None, json_schema_extra=flag("--run_id"),
                                   description="the run's name (default: the orchestrator row's run_id or id)")
    input_image_paths_resolved: list[ReadPath] = Field(
        json_schema_extra=flag("--input_images", metavar="IMAGE", path=True),
        description="anchor images in order (paths or http(s) URLs): N images make N-1 segments; one image "
                    "makes one segment that starts at it and whose end is not anchored")
    continue_from_video_resolved_path: Optional[ReadPath] = Field(
        None, json_schema_extra=flag("--continue_from_video", metavar="VIDEO", path=True),
        description="a video to continue (path or URL): its last frames start segment 0")
    base_prompts_expanded: list[Text] = Field([""], validate_default=True,
                                              json_schema_extra=flag("--base_prompts", metavar="PROMPT"),
                                              description="prompt per segment (one value: used for all)")
    negative_prompts_expanded: list[Text] = Field(
        [""], validate_default=True, json_schema_extra=flag("--negative_prompts", metavar="PROMPT"),
        description="negative prompt per segment (one value: used for all)")
    parsed_resolution_wh: Annotated[tuple[int, int], *RESOLUTION_LIMITS] = Field(
        DEFAULT_RESOLUTION, validate_default=True, json_schema_extra=flag("--resolution"),
        description="'WxH' or [W, H], floored to multiples of 16 (at least 16x16)")
    model_name: Text = Field("vace_14B", json_schema_extra=flag("--model_name"),
                             description=f"a VACE model: {model_names('vace')}")
    seed_base: Int = Field(0, ge=-1, le=SEED_MAX, json_schema_extra=flag("--seed"),
                           description="segment i renders with seed_base + i")
    fps_helpers: ModelFrameRate = Field(WAN_FPS, description=f"frame rate of guides, masks and outputs: {WAN_FPS}, the "
                                                  f"model's (nothing is resampled)")
    fade_in_params_json_str: Fade = Field(default_factory=FadeParams, json_schema_extra=flag("--fade_in_params", metavar="JSON"),
                                          description="the end anchor fading in over the generated frames")
    fade_out_params_json_str: Fade = Field(default_factory=FadeParams,
                                           json_schema_extra=flag("--fade_out_params", metavar="JSON"),
                                           description="the start anchor fading out over the generated frames")
    apply_causvid: Flag = Field(False, validation_alias=aliases("apply_causvid", "use_causvid_lora"),
                                json_schema_extra=flag("--use_causvid_lora"),
                                description="CausVid LoRA (9 steps, guidance 1.0, flow shift 1.0)")
    apply_lighti2x: Flag = Field(False, validation_alias=aliases("apply_lighti2x", "use_lighti2x_lora"),
                                 json_schema_extra=flag("--use_lighti2x_lora"),
                                 description="LightX2V LoRA (5 steps, guidance 1.0, flow shift 5.0)")
    apply_lightning: Flag = Field(False, validation_alias=aliases("apply_lightning", "use_lightning_lora"),
                                  json_schema_extra=flag("--use_lightning_lora"),
                                  description="Wan 2.2 A14B (a wan2gp: VACE model for travel): Lightning's HIGH/LOW "
                                              "LoRAs on their experts (2 + 2 steps, guidance 1.0, flow shift 5.0)")
    additional_loras: dict[LoraPath, LoraStrength] = Field(default_factory=dict, json_schema_extra=flag("--loras", metavar="PATH=STRENGTH",
                                                                                        exists=True),
                                                 description="extra LoRAs {path_or_url: strength} (also from the "
                                                             "original tool's lora_name(s), activated_loras + "
                                                             "loras_multipliers, apply_reward_lora)")
    colour_match_videos: Flag = Field(False, json_schema_extra=flag("--colour_match_videos"),
                                      description="match each segment's colours to its anchors (LAB mean/std)")
    after_first_post_generation_saturation: Optional[Number] = Field(
        None, ge=0, le=10, json_schema_extra=flag("--after_first_post_generation_saturation", metavar="S"),
        description="saturation of segments after the first (1 keeps)")
    after_first_post_generation_brightness: Optional[Number] = Field(
        None, ge=-1, le=1, json_schema_extra=flag("--after_first_post_generation_brightness", metavar="B"),
        description="brightness of segments after the first (0 keeps; -0.1 is 10% darker)")
    subsequent_starting_strength_adjustment: Number = Field(
        0.0, ge=-1, le=1, json_schema_extra=flag("--subsequent_starting_strength_adjustment", metavar="S"),
        description="carried overlap frames: contrast about mid-grey (0 keeps, -0.2 weaker)")
    desaturate_subsequent_starting_frames: Number = Field(
        0.0, ge=0, le=1, json_schema_extra=flag("--desaturate_subsequent_starting_frames", metavar="D"),
        description="carried overlap frames: desaturation (0 keeps, 1 greyscale)")
    adjust_brightness_subsequent_starting_frames: Number = Field(
        0.0, ge=-1, le=1, json_schema_extra=flag("--adjust_brightness_subsequent_starting_frames", metavar="B"),
        description="carried overlap frames: brightness (0 keeps)")
    crossfade_sharp_amt: Number = Field(0.3, ge=0, le=5, json_schema_extra=flag("--crossfade_sharp_amt"),
                                        description="sharpening of cross-faded frames (0: off)")
    upscale_factor: Optional[Annotated[Number, LimitedBy("max_upscale_factor")]] = Field(
        None, gt=0, json_schema_extra=flag("--upscale_factor"),
                                             description="upscale the final video by this factor (Lanczos)")
    debug_mode_enabled: Flag = Field(False, json_schema_extra=flag("--debug"),
                                     description="keep the run's work folder (guides, masks, raw renders)")
    skip_cleanup_enabled: Flag = Field(False, json_schema_extra=flag("--skip_cleanup"),
                                       description="keep the run's work folder")
    output_dir: Optional[WritePath] = Field(None, validation_alias=aliases("output_dir", "main_output_dir_for_run"),
                                       json_schema_extra=flag("--output_dir", folder=True),
                                       description="absolute folder for the run's videos (default: the "
                                                   "worker's output folder)")
    steps: Optional[Annotated[Int, LimitedBy("max_steps")]] = Field(
        None, ge=1, validation_alias=aliases("steps", "num_inference_steps"), json_schema_extra=flag("--steps"),
        description="denoising steps (default: the model's)")
    guidance_scale: Optional[Number] = Field(None, ge=0, le=GUIDANCE_MAX, json_schema_extra=flag("--guidance_scale"),
                                             description="classifier-free guidance (default: the model's)")
    flow_shift: Optional[Number] = Field(None, ge=0, le=GUIDANCE_MAX, json_schema_extra=flag("--flow_shift"),
                                         description="flow shift (default: the model's)")
    wgp_settings: Optional[dict[str, Any]] = Field(
        None, description="engine wan2gp: Wan2GP-only settings for every segment (the original tool's "
                          "cfg_star_switch and cfg_zero_step land here); other engines ignore them with a warning")
    phase_config: Optional[PhaseConfig] = Field(
        None, description="two-expert models (Wan 2.2 A14B; for travel a wan2gp: VACE model): 2 or 3 denoising "
                          "phases with steps, guidance and LoRAs each, for every segment (docs/ENGINES.md, Phases)")
    structure_guidance: StructureGuidanceField = Field(
        None, description="reference videos that guide the frames no anchor or overlap pins: flow, canny, depth or "
                          "raw, placed on the run's timeline (docs/TRAVEL.md, Structure guidance); the original "
                          "tool's structure_video_path, structure_videos, structure_type, "
                          "structure_video_treatment, structure_video_motion_strength, ... become it")
    text_before_prompts: Text = Field("", json_schema_extra=flag("--text_before_prompts"),
                                      description="text put before every segment's prompt, with one space")
    text_after_prompts: Text = Field("", json_schema_extra=flag("--text_after_prompts"),
                                     description="text put after every segment's prompt, with one space")
    show_input_images: Flag = Field(False, json_schema_extra=flag("--show_input_images"),
                                    description="draw each segment's anchor images as a banner above its video "
                                                "(the videos double in height)")

    @model_validator(mode="before")
    @classmethod
    def _null_is_not_given(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data

    @property
    def keeps_work_folder(self) -> bool:
        return self.debug_mode_enabled or self.skip_cleanup_enabled

    def segment_prompt(self, index: int) -> str:
        """Segment `index`'s prompt with text_before_prompts / text_after_prompts around it (one space)."""
        parts = [self.text_before_prompts.strip(), self.base_prompts_expanded[index].strip(),
                 self.text_after_prompts.strip()]
        return " ".join(part for part in parts if part)

    @model_validator(mode="after")
    def _phases_fit(self) -> "TravelSettings":
        check_phases(model=self.model_name, loras=self.additional_loras, phase_config=self.phase_config,
                     steps=self.steps, guidance_scale=self.guidance_scale, flow_shift=self.flow_shift,
                     accelerated=self.apply_causvid or self.apply_lighti2x, lightning=self.apply_lightning,
                     model_field="model_name")
        return self

    @property
    def num_segments(self) -> int:
        return segment_count(len(self.input_image_paths_resolved), self.continue_from_video_resolved_path is not None)

    # ---- field checks (in field order: later ones read the anchors and the continued video) -------------
    @field_validator("run_id")
    @classmethod
    def _run_id(cls, run_id: Optional[str]) -> Optional[str]:
        if run_id is not None and not run_id.strip():
            raise ValueError("must be a non-empty string")
        return run_id.strip() if run_id else None

    @field_validator("input_image_paths_resolved")
    @classmethod
    def _images(cls, images: list[str]) -> list[str]:
        if not images or not all(image.strip() for image in images):
            raise ValueError("must be a non-empty list of image paths or URLs")
        return images

    @field_validator("continue_from_video_resolved_path")
    @classmethod
    def _video(cls, video: Optional[str]) -> Optional[str]:
        return video or None

    @field_validator("base_prompts_expanded", "negative_prompts_expanded", mode="before")
    @classmethod
    def _one_prompt(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("base_prompts_expanded", "negative_prompts_expanded")
    @classmethod
    def _per_segment(cls, values: list, info: ValidationInfo) -> list:
        count = _segments_so_far(info)
        return values if count is None else expand_list(info.field_name, values, count)

    @field_validator("parsed_resolution_wh", mode="before")
    @classmethod
    def _resolution(cls, value: Any, info: ValidationInfo) -> tuple[int, int]:
        try:
            width, height = snap_resolution(value)
        except ValueError as exc:
            raise PlanError(f"parsed_resolution_wh: {exc}", field="parsed_resolution_wh") from None
        check_resolution(width, height, settings_of(info), "parsed_resolution_wh")
        return width, height

    @field_validator("model_name")
    @classmethod
    def _model(cls, name: str) -> str:
        if not name.strip():
            raise ValueError("is required (a VACE model such as vace_14B or vace_1.3B)")
        kind = lookup_model(name).kind  # UnknownModel: names the model and lists the known ones
        if kind not in ("vace", "auto", "wan2gp"):  # auto: tiny, which stands in for a VACE model
            raise ValueError(f"must be a VACE model ({model_names('vace')}), got {name!r} (a {kind} model)")
        return name.strip()

    @field_validator("output_dir")
    @classmethod
    def _absolute(cls, path: Optional[str]) -> Optional[str]:
        if path and not os.path.isabs(os.path.expanduser(path)):
            raise PlanError(f"output_dir must be an absolute folder path, got {path!r}", field="output_dir")
        return os.path.expanduser(path) if path else None


def _segments_so_far(info: ValidationInfo) -> Optional[int]:
    """The segment count, from the fields validated before this one (None if the images failed)."""
    images = info.data.get("input_image_paths_resolved")
    if images is None:
        return None
    return segment_count(len(images), info.data.get("continue_from_video_resolved_path") is not None)


class OrchestratorDetails(TravelSettings):
    """`orchestrator_details` of a travel_orchestrator row: the run's settings and the lists its plan
    is computed from. Keys it does not know are reported as ignored."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    num_new_segments_to_generate: Optional[Int] = Field(
        None, ge=1, description="the segment count, when the writer states it (checked against the images)")
    segment_frames_expanded: list[Annotated[Int, LimitedBy("max_frames")]] = Field(
        [81], validate_default=True, json_schema_extra=flag("--segment_frames", metavar="N", unit="frames"),
        description="frames per segment, each >= 1 and <= MAX_FRAMES, snapped to 4k+1 (one value: used for "
                    "all); together <= MAX_RUN_FRAMES")
    frame_overlap_expanded: list[Int] = Field(
        [16], validate_default=True, json_schema_extra=flag("--frame_overlap", metavar="N", unit="frames"),
        description="frames shared at each join of consecutive clips, each >= 0, made even and at most one "
                    "less than either clip (one value: used for all joins; one per join; or one per segment, "
                    "whose last value has no join after it and is recorded as not used; 0 concatenates)")
    independent_segments: Flag = Field(False, json_schema_extra=flag("--independent_segments"),
                                       description="anchor each segment only on its own two images so all "
                                                   "render at once (no chain)")

    @field_validator("num_new_segments_to_generate")
    @classmethod
    def _declared_count(cls, declared: Optional[int], info: ValidationInfo) -> Optional[int]:
        count = _segments_so_far(info)
        if declared is not None and count is not None and declared != count:
            images = len(info.data["input_image_paths_resolved"])
            after = " after a continued video" if info.data.get("continue_from_video_resolved_path") else ""
            raise ValueError(f"is {declared} but {images} images{after} make {count} segments")
        return declared

    @field_validator("segment_frames_expanded", "frame_overlap_expanded", mode="before")
    @classmethod
    def _one_number(cls, value: Any) -> Any:
        return value if isinstance(value, (list, tuple)) else [value]

    @field_validator("segment_frames_expanded")
    @classmethod
    def _frames(cls, values: list[int], info: ValidationInfo) -> list[int]:
        count = _segments_so_far(info)
        return values if count is None else segment_frames_list(values, count)

    @field_validator("frame_overlap_expanded")
    @classmethod
    def _overlaps(cls, values: list[int], info: ValidationInfo) -> list[int]:
        count = _segments_so_far(info)
        if count is None:
            return values
        continuing = info.data.get("continue_from_video_resolved_path") is not None
        return frame_overlap_list(values, count, continuing)

    @model_validator(mode="after")
    def _run_frames(self, info: ValidationInfo) -> "OrchestratorDetails":
        total = sum(self.segment_frames_expanded)
        check_limit(total, "max_run_frames", settings_of(info), "segment_frames_expanded",
                    shown=f"total {total}")
        return self

    @model_validator(mode="after")
    def _structure_fits(self) -> "OrchestratorDetails":
        """Structure videos on the timeline (known here unless a continued video's length is still unread)."""
        if self.structure_guidance is not None and self.continue_from_video_resolved_path is None:
            from .plan import build_plan
            from .structure_plan import place_videos, timeline_total

            plan = build_plan(len(self.input_image_paths_resolved), self.segment_frames_expanded,
                              self.frame_overlap_expanded, None, self.independent_segments)
            place_videos([v.model_dump() for v in self.structure_guidance.videos], timeline_total(plan))
        return self

    def settings(self) -> TravelSettings:
        """The part every stage reads (what the segment and stitch rows carry), as validated here."""
        return TravelSettings.model_construct(**{name: getattr(self, name) for name in TravelSettings.model_fields})


flag_of = OrchestratorDetails.flag_of

# What `steerable_motion.py travel_between_images --input_images samples/anchor_*.png ...` queues, less
# the plan (the orchestrator computes one when the row has none). Relative paths are read from the
# folder of the database file.
EXAMPLE = {"orchestrator_details": {
    "run_id": "valley_run",
    "input_image_paths_resolved": ["samples/anchor_0.png", "samples/anchor_1.png", "samples/anchor_2.png"],
    "base_prompts_expanded": ["a valley from dawn to dusk, the sun crossing the sky"],
    "segment_frames_expanded": [33], "frame_overlap_expanded": [8], "parsed_resolution_wh": "256x256",
    "model_name": "vace_14B", "seed_base": 123,
}}


# ---- the rows ------------------------------------------------------------------------------------------

class TravelOrchestratorParams(TaskParams):
    """A travel_orchestrator row."""

    error_class: ClassVar[type[InvalidParams]] = PlanError

    orchestrator_details: OrchestratorDetails = Field(description="the run's settings (fields: OrchestratorDetails)")
    plan: Optional[TravelPlan] = Field(None, description="the plan computed when the run was queued; without "
                                                         "it the orchestrator computes one")

    @model_validator(mode="before")
    @classmethod
    def _details_given(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("orchestrator_details") is None:
            raise PlanError("orchestrator_details must be a JSON object (the run's settings)",
                            field="orchestrator_details")
        return data

    @field_validator("orchestrator_details", mode="before")
    @classmethod
    def _details(cls, value: Any, info: ValidationInfo) -> OrchestratorDetails:
        # validated on its own, so messages name its fields as a row writer knows them (no prefix)
        try:
            value = _json_text(value)
        except ValueError as exc:
            raise PlanError(f"orchestrator_details {exc}", field="orchestrator_details") from None
        if not isinstance(value, (dict, OrchestratorDetails)):
            raise PlanError(f"orchestrator_details must be a JSON object, got {type(value).__name__}",
                            field="orchestrator_details")
        return OrchestratorDetails.parse(value, settings_of(info))

    @model_validator(mode="after")
    def _plan_fits(self) -> "TravelOrchestratorParams":
        if self.plan is not None:
            details = self.orchestrator_details
            check_plan(self.plan, num_images=len(details.input_image_paths_resolved),
                       segment_frames=details.segment_frames_expanded,
                       frame_overlaps=details.frame_overlap_expanded,
                       continuing=details.continue_from_video_resolved_path is not None,
                       independent=details.independent_segments)
        return self

    @property
    def ignored_keys(self) -> list[str]:
        nested = [f"orchestrator_details.{key}" for key in self.orchestrator_details.model_extra or {}]
        return sorted(super().ignored_keys + nested)

    @property
    def keeps_work_folder(self) -> bool:
        return self.orchestrator_details.keeps_work_folder


class _StageParams(TaskParams):
    """What a segment or stitch row carries (written by the orchestrator)."""

    error_class: ClassVar[type[InvalidParams]] = PlanError

    run_id: Text = Field(description="the run this row belongs to")
    travel: TravelSettings = Field(description="the run's settings, as the orchestrator validated them")
    plan: TravelPlan = Field(description="the run's plan")
    segment_task_ids: list[Text] = Field(description="the ids of the run's segment rows, in order")

    @property
    def keeps_work_folder(self) -> bool:
        return self.travel.keeps_work_folder

    @model_validator(mode="before")
    @classmethod
    def _not_the_original_tools(cls, data: Any) -> Any:
        if isinstance(data, dict) and "travel" not in data and any(key in data for key in ORIGINAL_STAGE_KEYS):
            raise PlanError("this row was written mid-run by the original tool's orchestrator and cannot continue "
                            "here: queue the run's travel_orchestrator row again (docs/MIGRATING.md)", field="travel")
        return data

    @model_validator(mode="after")
    def _one_id_per_segment(self):
        if len(self.segment_task_ids) != self.plan.num_segments:
            raise ValueError(f"segment_task_ids has {len(self.segment_task_ids)} ids for "
                             f"{self.plan.num_segments} segments")
        return self


class TravelSegmentParams(_StageParams):
    """A travel_segment row: one leg of the run."""

    segment_index: Int = Field(ge=0, description="which segment (0-based)")
    seed: Int = Field(ge=-1, le=SEED_MAX + 10 ** 6, description="the seed it renders with (seed_base + segment_index)")
    model: Text = Field(description="the run's model_name, for the worker: it prefers rows of the model it "
                                    "has loaded")
    structure_guide: Optional[ReadPath] = Field(None, description="the run's structure guide (a path or URL the "
                                                              "orchestrator wrote), when it has structure guidance")

    @model_validator(mode="after")
    def _index_in_plan(self):
        if self.segment_index >= self.plan.num_segments:
            raise ValueError(f"segment_index must be 0..{self.plan.num_segments - 1}, got {self.segment_index}")
        return self


class TravelStitchParams(_StageParams):
    """A travel_stitch row: joins the run's segments into {run_id}_final.mp4."""


# ---- checks that need the files ---------------------------------------------------------------------------

def check_input_files(settings: TravelSettings, fetch: Optional[Callable[[str, str], Path]] = None, *,
                      count_video_frames: bool = True) -> Optional[int]:
    """Each anchor image decodes and the continued video is readable. URLs are fetched with
    `fetch(field, url)` (the orchestrator passes its `ctx.local_file`) or, without it (the client), left
    to the worker. Returns the continued video's frame count (decoded: exact) when it was read and
    `count_video_frames`, else None. Errors name the field and the file."""
    from ...media.images import load_image
    from ...media.video_io import count_frames, video_info
    from ...storage.downloads import is_url

    for i, image in enumerate(settings.input_image_paths_resolved):
        field = f"input_image_paths_resolved[{i}]"
        if is_url(image):
            if fetch is None:
                continue
            image = fetch(field, image)
        load_image(Path(image).expanduser(), what=field)
    video, field = settings.continue_from_video_resolved_path, "continue_from_video_resolved_path"
    if video is None or (is_url(video) and fetch is None):
        return None
    path = fetch(field, video) if is_url(video) else Path(video).expanduser()
    if not path.is_file():
        raise PlanError(f"{field}: video not found: {video}", field=field)
    try:
        frames = count_frames(path) if count_video_frames else video_info(path)["frames"]
    except Exception:  # PyAV's own errors: not a video it can decode
        raise PlanError(f"{field}: not a readable video: {video}", field=field) from None
    if count_video_frames and frames < 1:
        raise PlanError(f"{field}: no frames in {video}", field=field)
    return frames if count_video_frames else None
