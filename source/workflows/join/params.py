"""Parameters of join_clips_segment and join_clips_orchestrator (docs/JOINING.md).

A join row is flat: the two clips and the join's settings (`JoinSettings`). The orchestrator's row holds
`orchestrator_details`: the clip list, the run's settings (the same `JoinSettings`, its prompt
defaulting to "smooth transition") and per-join overrides, each join's settings validated at enqueue.
Every field names its steerable_motion.py flag (`flag` in its metadata) where it has one.
"""
from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Optional

from pydantic import ConfigDict, Field, field_validator, model_validator

from ...errors import InvalidParams
from ...tasks.params import (
    GUIDANCE_MAX,
    SEED_MAX,
    Flag,
    Int,
    LimitedBy,
    Location,
    LoraPath,
    LoraStrength,
    Number,
    Params,
    ReadPath,
    Resolution,
    TaskParams,
    Text,
    WritePath,
    flag,
)

DEFAULT_MODEL = "wan_2_2_vace_lightning_baseline_2_2_2"
DEFAULT_FPS = 16

# The original rows' optional render keys that only a Wan2GP checkout reads: collected into wgp_settings.
WAN2GP_PASS_THROUGH = ("embedded_guidance_scale", "audio_guidance_scale", "cfg_zero_step", "guidance2_scale",
                       "guidance3_scale", "guidance_phases", "switch_threshold", "switch_threshold2",
                       "model_switch_phase", "sample_solver", "latent_noise_mask_strength", "phase_config")

_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$")
_RATIO = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*:\s*(\d+(?:\.\d+)?)\s*$")


def parse_ratio(text: str) -> float:
    match = _RATIO.match(text)
    if not match or float(match.group(2)) == 0 or float(match.group(1)) == 0:
        raise ValueError(f"must look like '16:9', got {text!r}")
    return float(match.group(1)) / float(match.group(2))


def _collect_pass_through(data: Any) -> Any:
    """Top-level Wan2GP keys of a row moved into wgp_settings (they keep their meaning there)."""
    if not isinstance(data, dict):
        return data
    moved = {key: data[key] for key in WAN2GP_PASS_THROUGH if key in data and data[key] is not None}
    if not moved:
        return data
    rest = {key: value for key, value in data.items() if key not in moved}
    rest["wgp_settings"] = {**moved, **(rest.get("wgp_settings") or {})}
    return rest


class JoinSettings(Params):
    """How one join renders and stitches: everything but the two clips."""

    context_frame_count: Annotated[Int, LimitedBy("max_frames")] = Field(
        8, ge=1, json_schema_extra=flag("--context_frame_count"),
        description="frames kept from each side of the seam (A's last, B's first) and cross-faded; at most "
                    "the shorter clip's length")
    gap_frame_count: Annotated[Int, LimitedBy("max_frames")] = Field(
        53, ge=1, json_schema_extra=flag("--gap_frame_count"),
        description="frames generated between the contexts; shortened by up to 3 so the render is 4n+1 "
                    "frames (8 + 53 + 8 = 69 needs none)")
    replace_mode: Flag = Field(False, json_schema_extra=flag("--replace_mode"),
                               description="false: insert the gap (nothing removed); true: the gap replaces "
                                           "frames at the seam (half from A's tail, half from B's head)")
    prompt: Text = Field("", json_schema_extra=flag("--prompt"), description="the transition's prompt")
    negative_prompt: Text = Field("", json_schema_extra=flag("--negative_prompt"), description="negative prompt")
    model: Text = Field(DEFAULT_MODEL, json_schema_extra=flag("--model"),
                        description="a VACE model: a Wan2GP model id (engine wan2gp renders it as written; "
                                    "engines tiny and preview stand in for it) or a model name of this "
                                    "project (vace_14B, vace_1.3B, wan2gp:<type>)")
    seed: Int = Field(-1, ge=-1, le=SEED_MAX, json_schema_extra=flag("--seed"),
                      description="render seed (-1: a random one)")
    fps: Number = Field(DEFAULT_FPS, gt=0, le=240, json_schema_extra=flag("--fps"),
                        description="frame rate of the join: clips at another rate are resampled by timestamp "
                                    "first (null means 16)")
    use_input_video_fps: Flag = Field(False, json_schema_extra=flag("--use_input_video_fps"),
                                      description="use clip A's frame rate instead of fps (clip B is "
                                                  "resampled to it)")
    resolution: Optional[Resolution] = Field(None, json_schema_extra=flag("--resolution"),
                                             description="render size 'WxH' (default: clip A's, floored to "
                                                         "multiples of 16)")
    use_input_video_resolution: Flag = Field(False, json_schema_extra=flag("--use_input_video_resolution"),
                                             description="render at clip A's size even when resolution is given")
    aspect_ratio: Optional[Text] = Field(None, json_schema_extra=flag("--aspect_ratio"),
                                         description="'W:H': both clips centre-cropped to it (default: clip B "
                                                     "is cropped to clip A's ratio)")
    keep_bridging_images: Flag = Field(False, json_schema_extra=flag("--keep_bridging_images"),
                                       description="pin A's last and B's first context frame inside the gap "
                                                   "(a third and two thirds of the way), when it has 3+ frames")
    vid2vid_init_strength: Optional[Number] = Field(
        None, ge=0, le=1, json_schema_extra=flag("--vid2vid_init_strength"),
        description="replace mode, engine wan2gp: below 1, the render starts from the removed frames "
                    "(0: all of them, 1: noise)")
    additional_loras: dict[LoraPath, LoraStrength] = Field(default_factory=dict,
                                                       description="extra LoRAs {path_or_url: strength}")
    num_inference_steps: Optional[Annotated[Int, LimitedBy("max_steps")]] = Field(
        None, ge=1, json_schema_extra=flag("--steps"), description="denoising steps (default: the model's)")
    guidance_scale: Optional[Number] = Field(None, ge=0, le=GUIDANCE_MAX, json_schema_extra=flag("--guidance_scale"),
                                             description="classifier-free guidance (default: the model's)")
    flow_shift: Optional[Number] = Field(None, ge=0, le=GUIDANCE_MAX, json_schema_extra=flag("--flow_shift"),
                                         description="flow shift (default: the model's)")
    wgp_settings: Optional[dict[str, Any]] = Field(
        None, description="engine wan2gp: Wan2GP-only settings (a row's top-level "
                          + ", ".join(WAN2GP_PASS_THROUGH) + " land here); other engines ignore them with a "
                          "warning")
    audio_url: Annotated[Optional[str], Location("an audio file", optional=True)] = Field(
        None, json_schema_extra=flag("--audio", metavar="AUDIO", path=True, exists=True),
        description="audio muxed into the last join's output (AAC); the video is never shortened, longer "
                    "audio is cut at the video's end")
    crossfade_sharp_amt: Number = Field(0.3, ge=0, le=5, description="sharpening of cross-faded frames (0: off)")

    @field_validator("aspect_ratio")
    @classmethod
    def _ratio(cls, value):
        if value is not None:
            parse_ratio(value)
        return value

    @field_validator("model")
    @classmethod
    def _model(cls, value):
        if not _MODEL_ID.match(value.strip()):
            raise ValueError(f"must be a model id such as {DEFAULT_MODEL} or vace_14B, got {value!r}")
        return value.strip()


def _null_unset(data: Any) -> Any:
    if not isinstance(data, dict):
        return data
    return {key: value for key, value in data.items() if value is not None}


class JoinSegmentParams(TaskParams, JoinSettings):
    """join_clips_segment: one join of clip A (or the previous join's output) and clip B."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)
    null_is_unset: ClassVar[bool] = True

    starting_video_path: Annotated[Optional[str], Location("a video", optional=True)] = Field(
        None, description="clip A (path or URL); a chained join without it takes the output of the row it "
                          "depends on")
    ending_video_path: Annotated[str, Location("a video")] = Field(description="clip B (path or URL)")
    is_first_join: Flag = Field(False, description="set by the orchestrator")
    is_last_join: Flag = Field(False, description="set by the orchestrator: audio_url applies here only")
    join_index: Int = Field(0, ge=0, description="set by the orchestrator: the join's place in the chain")
    orchestrator_task_id_ref: Optional[Text] = Field(None, description="set by the orchestrator")
    orchestrator_run_id: Optional[Text] = Field(None, description="set by the orchestrator: the run")
    output_dir: Optional[WritePath] = Field(None, description="folder for the joined video, inside the worker's output "
                                                         "folder (default: the output folder)")
    full_orchestrator_payload: Optional[dict[str, Any]] = Field(None, description="the orchestrator's details "
                                                                                  "(kept for apps; not read)")
    join_output_dir: Optional[WritePath] = Field(None, description="the original tool's working folder (not used: "
                                                              "work folders are the worker's)")
    current_run_base_output_dir: Optional[WritePath] = Field(None, description="as join_output_dir (not used)")
    max_wait_time: Int = Field(1800, ge=1, description="the original tool's render timeout in seconds (renders "
                                                        "here are cancelled with the row instead)")
    debug: Flag = Field(False, description="keep the task's work folder (guide, mask, transition)")

    @model_validator(mode="before")
    @classmethod
    def _pass_through(cls, data):
        return _collect_pass_through(data)

    @property
    def settings_only(self) -> JoinSettings:
        return JoinSettings.parse({name: getattr(self, name) for name in JoinSettings.model_fields})

    @property
    def keeps_work_folder(self) -> bool:
        return self.debug


class ClipRef(Params):
    url: ReadPath = Field(description="the clip (path or URL)")
    name: Optional[Text] = Field(None, description="a label (not used)")

    @model_validator(mode="before")
    @classmethod
    def _plain(cls, data):
        return {"url": data} if isinstance(data, str) else data


class JoinOrchestratorDetails(JoinSettings):
    """orchestrator_details of a join_clips_orchestrator row."""

    clip_list: list[ClipRef] = Field(json_schema_extra=flag("--clips", metavar="CLIP", path=True, exists=True),
                                     description="the clips in order ([{url, name?}] or paths/URLs); at least 2 "
                                                 "(1 with loop_first_clip)")
    run_id: Optional[Text] = Field(None, json_schema_extra=flag("--run_id"),
                                   description="the run's name (default: the row's run_id or id)")
    prompt: Text = Field("smooth transition", json_schema_extra=flag("--prompt"),
                         description="the transitions' prompt")
    loop_first_clip: Flag = Field(False, json_schema_extra=flag("--loop"),
                                  description="end where the video starts: clip 0 played backwards is joined "
                                              "after the last clip (every clip is kept)")
    per_join_settings: list[dict[str, Any]] = Field(default_factory=list,
                                                    description="overrides of the settings for join i")
    output_dir: Optional[WritePath] = Field(None, validation_alias="output_base_dir",
                                       description="folder for the run's videos, inside the worker's output "
                                                   "folder (default: the output folder)")
    enhance_prompt: Flag = Field(False, description="the original tool's VLM-written prompts: not available "
                                                    "here; true is refused")
    vlm_device: Optional[Text] = Field(None, description="with enhance_prompt (not used)")
    parent_generation_id: Optional[Text] = Field(None, description="read by apps only")
    tool_type: Optional[Text] = Field(None, description="read by apps only")
    num_joins: Optional[Int] = Field(None, description="read by apps only (the worker counts the clips)")
    debug: Flag = Field(False, json_schema_extra=flag("--debug"), description="keep the run's work folders")

    @model_validator(mode="before")
    @classmethod
    def _prepare(cls, data):
        return _collect_pass_through(_null_unset(data))

    @model_validator(mode="after")
    def _check(self):
        need = 1 if self.loop_first_clip else 2
        if len(self.clip_list) < need:
            raise InvalidParams(f"clip_list needs at least {need} clip(s), got {len(self.clip_list)}",
                                field="clip_list")
        if len(self.per_join_settings) > self.num_joins_planned:
            raise InvalidParams(f"per_join_settings has {len(self.per_join_settings)} entries for "
                                f"{self.num_joins_planned} join(s)", field="per_join_settings")
        if self.enhance_prompt:
            raise InvalidParams("enhance_prompt: VLM-written prompts are not available; give prompt or "
                                "per_join_settings[i].prompt", field="enhance_prompt")
        for i in range(self.num_joins_planned):
            self.join_settings(i)
        return self

    @property
    def num_joins_planned(self) -> int:
        return len(self.clip_list) - 1 + (1 if self.loop_first_clip else 0)

    def join_settings(self, index: int) -> JoinSettings:
        """Join `index`'s settings: the run's, then per_join_settings[index] (InvalidParams naming it)."""
        base = {name: getattr(self, name) for name in JoinSettings.model_fields}
        overrides = self.per_join_settings[index] if index < len(self.per_join_settings) else {}
        if not isinstance(overrides, dict):
            raise InvalidParams(f"per_join_settings[{index}] must be a JSON object", field="per_join_settings")
        unknown = sorted(set(overrides) - set(JoinSettings.model_fields) - set(WAN2GP_PASS_THROUGH))
        if unknown:
            raise InvalidParams(f"per_join_settings[{index}].{unknown[0]} is not a join setting",
                                field=f"per_join_settings[{index}]")
        merged = _collect_pass_through({**base, **_null_unset(overrides)})
        return JoinSettings.parse(merged, prefix=f"per_join_settings[{index}]")


class JoinOrchestratorParams(TaskParams):
    """join_clips_orchestrator (also join_clips): joins N clips by a chain of join_clips_segment rows."""

    orchestrator_details: JoinOrchestratorDetails = Field(description="the run: clips and settings")

    @model_validator(mode="before")
    @classmethod
    def _flat(cls, data):
        # rows that give the details at the top level (as the join_clips alias is written by hand)
        if isinstance(data, dict) and "orchestrator_details" not in data and "clip_list" in data:
            keep = {k: data[k] for k in ("task_id", "project_id") if k in data}
            return {**keep, "orchestrator_details": {k: v for k, v in data.items() if k not in keep}}
        return data

    @property
    def keeps_work_folder(self) -> bool:
        return self.orchestrator_details.debug


EXAMPLE = {"orchestrator_details": {
    "run_id": "join_run", "clip_list": [{"url": "/videos/a.mp4"}, {"url": "/videos/b.mp4"}, {"url": "/videos/c.mp4"}],
    "context_frame_count": 8, "gap_frame_count": 53, "replace_mode": False, "prompt": "smooth transition",
    "model": DEFAULT_MODEL}}
