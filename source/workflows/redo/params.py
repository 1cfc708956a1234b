"""Parameters of individual_travel_segment and travel_redo."""
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
    LoraPath,
    Number,
    Params,
    ReadPath,
    TaskParams,
    Text,
    aliases,
    flag,
)


class IndividualInputs(Params):
    """individual_segment_params: what this leg uses before the top level and the run's payload."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    start_image_url: Optional[ReadPath] = Field(None, description="the leg's start image")
    end_image_url: Optional[ReadPath] = Field(None, description="the leg's end image")
    input_image_paths_resolved: Optional[list[ReadPath]] = Field(None, description="[start, end] images")
    num_frames: Optional[Annotated[Int, LimitedBy("max_frames")]] = Field(None, ge=1, description="the leg's frames (4n+1)")
    base_prompt: Optional[Text] = Field(None, description="the leg's prompt")
    negative_prompt: Optional[Text] = Field(None, description="the leg's negative prompt")
    seed_to_use: Optional[Int] = Field(None, ge=-1, le=SEED_MAX, description="the leg's seed")
    additional_loras: Optional[dict[LoraPath, Any]] = Field(None, description="extra LoRAs {path_or_url: strength}")
    phase_config: Optional[dict[str, Any]] = Field(None, description="Wan 2.2 phases (engine wan2gp only)")


class IndividualSegmentParams(TaskParams):
    """individual_travel_segment: one leg (image i -> image i+1) of a travel payload, rendered alone.
    Precedence: individual_segment_params > the top level > orchestrator_details."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)
    null_is_unset: ClassVar[bool] = True

    orchestrator_details: dict[str, Any] = Field(
        validation_alias=aliases("orchestrator_details", "full_orchestrator_payload"),
        description="a copy of the travel orchestrator's details (images, prompts, frames, model, ...)")
    segment_index: Int = Field(0, ge=0, description="which leg: images[i] -> images[i+1]")
    individual_segment_params: IndividualInputs = Field(default_factory=lambda: IndividualInputs.model_validate({}),
                                                        description="this leg's own values (first in precedence)")
    model_name: Optional[Text] = Field(None, description="default: orchestrator_details.model_name")
    parsed_resolution_wh: Optional[Any] = Field(None, description="'WxH' (default: the run's)")
    num_frames: Optional[Annotated[Int, LimitedBy("max_frames")]] = Field(None, ge=1, description="the leg's frames")
    base_prompt: Optional[Text] = Field(None, description="the leg's prompt")
    negative_prompt: Optional[Text] = Field(None, description="the leg's negative prompt")
    seed_to_use: Optional[Int] = Field(None, ge=-1, le=SEED_MAX, description="the leg's seed (default 12345; 0 "
                                                                             "is a seed like any other)")
    input_image_paths_resolved: Optional[list[ReadPath]] = Field(None, description="[start, end] images")
    num_inference_steps: Optional[Annotated[Int, LimitedBy("max_steps")]] = Field(None, ge=1, description="denoising steps")
    guidance_scale: Optional[Number] = Field(None, ge=0, le=GUIDANCE_MAX, description="guidance")
    flow_shift: Optional[Number] = Field(None, ge=0, le=GUIDANCE_MAX, description="flow shift")
    phase_config: Optional[dict[str, Any]] = Field(None, description="Wan 2.2 phases (engine wan2gp only)")
    is_first_segment: Flag = Field(True, description="accepted; a leg alone is always anchored on both images")
    is_last_segment: Flag = Field(True, description="accepted; see is_first_segment")
    use_svi: Flag = Field(False, description="SVI chaining: not available; true is refused")
    child_generation_id: Optional[Text] = Field(None, description="read by apps only")
    parent_generation_id: Optional[Text] = Field(None, description="read by apps only")
    pair_shot_generation_id: Optional[Text] = Field(None, description="read by apps only")

    @model_validator(mode="after")
    def _check(self):
        if self.use_svi:
            raise InvalidParams("use_svi: SVI chaining is not available here", field="use_svi")
        return self


class RedoParams(TaskParams):
    """travel_redo: leg `segment_index` of the finished travel run `source_run_id` again, then its final."""

    source_run_id: Text = Field(description="the finished travel run (steerable_motion.py redo_segment RUN_ID)")
    run_id: Text = Field(description="this version's run id (<source>_v2, _v3, ...)")
    segment_index: Int = Field(ge=0, json_schema_extra=flag("--segment"), description="the leg to render again")
    seed: Optional[Int] = Field(None, ge=-1, le=SEED_MAX, json_schema_extra=flag("--seed"),
                                description="its seed (default: the leg's own, so only a changed prompt or "
                                            "engine changes it)")
    prompt: Optional[Text] = Field(None, json_schema_extra=flag("--prompt"),
                                   description="its prompt (default: the leg's own)")


INDIVIDUAL_EXAMPLE = {
    "orchestrator_details": {"input_image_paths_resolved": ["samples/anchor_0.png", "samples/anchor_1.png"],
                             "base_prompts_expanded": ["a valley at dawn"], "segment_frames_expanded": [29],
                             "frame_overlap_expanded": [], "parsed_resolution_wh": "902x508",
                             "model_name": "vace_14B"},
    "segment_index": 0, "num_frames": 29,
    "individual_segment_params": {"start_image_url": "samples/anchor_0.png", "end_image_url": "samples/anchor_1.png",
                                  "base_prompt": "the sun rises over the valley", "seed_to_use": 7},
}

REDO_EXAMPLE = {"source_run_id": "valley_run", "run_id": "valley_run_v2", "segment_index": 1, "seed": 99}
