"""Parameters of inpaint_frames, edit_video_orchestrator and edit_video_splice (docs/JOINING.md).

The render settings are the join's (`JoinSettings`: model, prompts, seed, steps, ...), so a portion is
regenerated exactly as a join's gap is; the fields that only make sense for joining two clips are
refused where they would change nothing (no parameter is ignored silently).
"""
from __future__ import annotations

from typing import Annotated, Any, ClassVar, Optional

from pydantic import ConfigDict, Field, model_validator

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
from ..join.params import DEFAULT_MODEL, WAN2GP_PASS_THROUGH, _collect_pass_through
from .plan import InpaintPlan, check_portions, portion_bounds


class RenderSettings(Params):
    """How a portion renders (the same meaning as a join's settings)."""

    context_frame_count: Annotated[Int, LimitedBy("max_frames")] = Field(
        8, ge=1, json_schema_extra=flag("--context_frame_count"),
        description="source frames kept on each side of a portion (widened until the render is 4n+1) and "
                    "cross-faded when spliced back")
    prompt: Text = Field("", json_schema_extra=flag("--prompt"), description="what the regenerated frames show")
    negative_prompt: Text = Field("", json_schema_extra=flag("--negative_prompt"), description="negative prompt")
    model: Text = Field(DEFAULT_MODEL, json_schema_extra=flag("--model"),
                        description="a VACE model, as for join_clips (a Wan2GP model id or vace_14B, ...)")
    seed: Int = Field(-1, ge=-1, le=SEED_MAX, json_schema_extra=flag("--seed"), description="-1: a random one")
    resolution: Optional[Resolution] = Field(None, json_schema_extra=flag("--resolution"),
                                             description="render size 'WxH' (default: the video's, floored to "
                                                         "multiples of 16); the result is fitted back")
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
                          + ", ".join(WAN2GP_PASS_THROUGH) + " land here)")

    @model_validator(mode="before")
    @classmethod
    def _prepare(cls, data):
        return _collect_pass_through(data)


class InpaintParams(TaskParams, RenderSettings):
    """inpaint_frames: regenerate frames [inpaint_start_frame, inpaint_end_frame) of one video; the output
    is the regenerated window with its context (4n+1 frames)."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)
    null_is_unset: ClassVar[bool] = True

    video_path: Annotated[str, Location("a video")] = Field(description="the video (path or URL)")
    inpaint_start_frame: Int = Field(ge=0, description="first regenerated frame")
    inpaint_end_frame: Int = Field(ge=1, description="one past the last regenerated frame (exclusive)")
    fps: Optional[Number] = Field(None, gt=0, le=240, description="frame rate of the output window (default: the "
                                                                   "video's)")
    output_dir: Optional[WritePath] = Field(None, description="folder for the window, inside the worker's output folder")
    run_id: Optional[Text] = Field(None, description="set by edit_video_orchestrator: names the output")
    portion_index: Int = Field(0, ge=0, description="set by edit_video_orchestrator")

    @model_validator(mode="after")
    def _range(self):
        if self.inpaint_end_frame <= self.inpaint_start_frame:
            raise InvalidParams(f"inpaint_end_frame ({self.inpaint_end_frame}) must be after inpaint_start_frame "
                                f"({self.inpaint_start_frame}); it is exclusive", field="inpaint_end_frame")
        return self

    @property
    def render(self) -> RenderSettings:
        return RenderSettings.parse({name: getattr(self, name) for name in RenderSettings.model_fields})


class Portion(Params):
    """One range to regenerate. `end_frame` is INCLUSIVE."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    start_frame: Int = Field(ge=0, description="first frame of the range")
    end_frame: Int = Field(ge=0, description="last frame of the range (inclusive)")
    prompt: Optional[Text] = Field(None, description="this portion's prompt (default: the run's)")
    gap_frame_count: Optional[Int] = Field(None, description="the original tool's generated length: here always "
                                                             "the portion's own length (given: must match)")
    frame_count: Optional[Int] = Field(None, description="the range's length as an app computed it (checked)")
    start_time_seconds: Optional[Number] = Field(None, description="read by apps only")
    end_time_seconds: Optional[Number] = Field(None, description="read by apps only")

    @model_validator(mode="before")
    @classmethod
    def _spelled(cls, data):
        # "START:END" (the command line's spelling)
        if isinstance(data, str) and ":" in data:
            start, _, end = data.partition(":")
            return {"start_frame": start.strip(), "end_frame": end.strip()}
        return data

    @model_validator(mode="after")
    def _check(self):
        if self.end_frame < self.start_frame:
            raise ValueError(f"end_frame {self.end_frame} is before start_frame {self.start_frame}")
        length = self.end_frame - self.start_frame + 1
        if self.frame_count is not None and self.frame_count != length:
            raise ValueError(f"frame_count {self.frame_count} is not the range's length {length} "
                             f"({self.start_frame}..{self.end_frame}, end inclusive)")
        return self


class EditDetails(RenderSettings):
    """orchestrator_details of an edit_video_orchestrator row."""

    source_video_url: ReadPath = Field(json_schema_extra=flag("--video", metavar="VIDEO", path=True, exists=True),
                                   description="the video to edit (path or URL)")
    portions_to_regenerate: list[Portion] = Field(
        min_length=1,
        description="ranges to regenerate, end INCLUSIVE: [{start_frame, end_frame, prompt?}] (command line: "
                    "START:END); no overlaps, each with context_frame_count source frames on both sides")
    run_id: Optional[Text] = Field(None, json_schema_extra=flag("--run_id"), description="the run's name")
    source_video_fps: Optional[Number] = Field(
        None, gt=0, le=240, description="the rate the frame numbers refer to (default: the video's own); a "
                                        "different rate is converted to the video's frames by time")
    source_video_total_frames: Optional[Int] = Field(None, ge=1, description="the video's frame count as an app "
                                                                             "knows it (checked against the file)")
    replace_mode: Flag = Field(False, json_schema_extra=flag("--replace_mode"),
                               description="keep each portion's first and last frame and regenerate the "
                                           "frames between")
    per_join_settings: list[dict[str, Any]] = Field(default_factory=list,
                                                    description="overrides of the render settings for portion i")
    output_dir: Optional[WritePath] = Field(None, validation_alias="output_base_dir",
                                       description="folder for the run's videos, inside the worker's output folder")
    enhance_prompt: Flag = Field(False, description="VLM-written prompts: not available here; true is refused")
    vlm_device: Optional[Text] = Field(None, description="with enhance_prompt (not used)")
    parent_generation_id: Optional[Text] = Field(None, description="read by apps only")
    tool_type: Optional[Text] = Field(None, description="read by apps only")
    debug: Flag = Field(False, json_schema_extra=flag("--debug"), description="keep the run's work folders")

    @model_validator(mode="before")
    @classmethod
    def _nulls(cls, data):
        if isinstance(data, dict):
            data = {key: value for key, value in data.items() if value is not None}
            join_only = sorted(set(data) & {"gap_frame_count", "keep_bridging_images", "audio_url",
                                            "vid2vid_init_strength", "loop_first_clip", "clip_list"})
            if join_only:
                raise InvalidParams(f"{join_only[0]} is a join setting: an edit regenerates each portion in place "
                                    f"(the video keeps its length)", field=join_only[0])
        return data

    @model_validator(mode="after")
    def _check(self):
        if self.enhance_prompt:
            raise InvalidParams("enhance_prompt: VLM-written prompts are not available; give prompt or "
                                "portions_to_regenerate[i].prompt", field="enhance_prompt")
        if len(self.per_join_settings) > len(self.portions_to_regenerate):
            raise InvalidParams(f"per_join_settings has {len(self.per_join_settings)} entries for "
                                f"{len(self.portions_to_regenerate)} portion(s)", field="per_join_settings")
        for i, portion in enumerate(self.portions_to_regenerate):
            start, end = portion_bounds(portion.start_frame, portion.end_frame, self.replace_mode)
            if end <= start:
                raise InvalidParams(f"portions_to_regenerate[{i}]: replace mode keeps frames {portion.start_frame} "
                                    f"and {portion.end_frame}, leaving nothing to regenerate",
                                    field="portions_to_regenerate")
            if portion.gap_frame_count is not None and portion.gap_frame_count != end - start:
                raise InvalidParams(f"portions_to_regenerate[{i}].gap_frame_count {portion.gap_frame_count} differs "
                                    f"from the portion's {end - start} frames: an edit regenerates each portion in "
                                    f"place, keeping the video's length", field="portions_to_regenerate")
            self.render_settings(i)
        if self.source_video_total_frames is not None and self.source_video_fps is None:
            self.plans(self.source_video_total_frames)
        return self

    def bounds(self, file_fps: Optional[float] = None) -> list[tuple[int, int]]:
        """Each portion as the regenerated [start, end) in the video's own frames."""
        scale = 1.0
        if file_fps and self.source_video_fps and abs(file_fps - self.source_video_fps) > 0.01:
            scale = file_fps / self.source_video_fps
        out = []
        for portion in self.portions_to_regenerate:
            start, end = portion_bounds(portion.start_frame, portion.end_frame, self.replace_mode)
            out.append((int(round(start * scale)), max(int(round(end * scale)), int(round(start * scale)) + 1)))
        return out

    def plans(self, total: int, file_fps: Optional[float] = None) -> list[InpaintPlan]:
        contexts = [self.render_settings(i).context_frame_count for i in range(len(self.portions_to_regenerate))]
        return check_portions(total, self.bounds(file_fps), contexts)

    def render_settings(self, index: int) -> RenderSettings:
        base = {name: getattr(self, name) for name in RenderSettings.model_fields}
        overrides = dict(self.per_join_settings[index]) if index < len(self.per_join_settings) else {}
        unknown = sorted(set(overrides) - set(RenderSettings.model_fields) - set(WAN2GP_PASS_THROUGH))
        if unknown:
            raise InvalidParams(f"per_join_settings[{index}].{unknown[0]} is not a render setting of an edit",
                                field=f"per_join_settings[{index}]")
        prompt = self.portions_to_regenerate[index].prompt
        if prompt is not None:
            overrides["prompt"] = prompt
        merged = _collect_pass_through({**base, **{k: v for k, v in overrides.items() if v is not None}})
        return RenderSettings.parse(merged, prefix=f"per_join_settings[{index}]")


class EditParams(TaskParams):
    """edit_video_orchestrator: regenerate portions of a video and splice them back (same frame count)."""

    orchestrator_details: EditDetails = Field(description="the video, the portions and the render settings")

    @property
    def keeps_work_folder(self) -> bool:
        return self.orchestrator_details.debug


class SpliceParams(TaskParams):
    """edit_video_splice (written by edit_video_orchestrator): the source with each window put back."""

    run_id: Text = Field(description="the run")
    source_video_url: ReadPath = Field(description="the video being edited")
    windows: list[dict[str, int]] = Field(description="each portion's window (InpaintPlan as JSON)")
    inpaint_task_ids: list[Text] = Field(description="the inpaint_frames row of each window")
    output_dir: Optional[WritePath] = Field(None, description="folder for the edited video")

    @property
    def plans(self) -> list[InpaintPlan]:
        return [InpaintPlan.from_json(w) for w in self.windows]


EXAMPLE = {"orchestrator_details": {
    "run_id": "edit_run", "source_video_url": "/videos/source.mp4",
    "portions_to_regenerate": [{"start_frame": 20, "end_frame": 30, "prompt": "a bird flies past"},
                               {"start_frame": 50, "end_frame": 55}],
    "context_frame_count": 8, "model": DEFAULT_MODEL}}

INPAINT_EXAMPLE = {"video_path": "/videos/source.mp4", "inpaint_start_frame": 20, "inpaint_end_frame": 73,
                   "context_frame_count": 8, "prompt": "a bird flies past", "model": DEFAULT_MODEL}
