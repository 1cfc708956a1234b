"""Parameters of one generation (`wgp`, `standard_wgp_task`, `single_image`).

Paths may be local files or http(s) URLs (fetched into the task's folder by the handler). A key given as
null counts as not given.

Engine wan2gp: `wgp_settings` {name: value} passes Wan2GP-only settings through (sliding windows,
skip-step caches, SLG, CFG-zero*, NAG, RIFLEx, sampler, upsampling, ...); Wan2GP-native keys such as
`video_prompt_type` or `sliding_window_size` may also sit at the top level of params (as the original
tool wrote them) and join them. The engine checks the names against the model; other engines ignore them
with a warning. `model` may be `wan2gp:<any Wan2GP model type>`.
"""
from __future__ import annotations

from typing import Annotated, Any, Optional

from pydantic import BeforeValidator, Field, field_validator, model_validator

from ...engines.models import model_names
from ...engines.wan2gp.keys import NATIVE_KEYS
from ...errors import InvalidParams
from ...media.frames import DEFAULT_RESOLUTION
from ...tasks.params import (
    GUIDANCE_MAX,
    SEED_MAX,
    Flag,
    Int,
    LimitedBy,
    Location,
    LoraPath,
    LoraStrength,
    ModelName,
    Number,
    ReadPath,
    RenderResolution,
    TaskParams,
    Text,
    WritePath,
    aliases,
)
from ...tasks.phase_params import PhaseConfig, check_phases


def _path_list(value: Any) -> list[str]:
    if value is None or value == "" or value == []:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) and v for v in value):
        return list(value)
    raise ValueError("must be a path/URL or a list of them")


# One path or URL, or a list of them.
Paths = Annotated[list[ReadPath], BeforeValidator(_path_list)]


class WgpParams(TaskParams):
    null_is_unset = True
    missing_as_null = True

    model: ModelName = Field("t2v", validation_alias=aliases("model", "model_name"),
                             description=f"the model (default t2v, as rows of the original tool had it): "
                                         f"{model_names()}")
    prompt: Text = Field("", description="what to render")
    negative_prompt: Text = Field("", description="what to avoid")
    resolution: RenderResolution = Field(DEFAULT_RESOLUTION, description='"WxH" or [W, H]; floored to multiples of 16')
    frames: Annotated[Int, LimitedBy("max_frames")] = Field(81, ge=1, validation_alias=aliases("frames", "video_length"),
                        description="frame count, snapped to 4k+1 (single_image renders one frame)")
    seed: Int = Field(0, ge=-1, le=SEED_MAX, description="random seed; -1 picks one at random")
    steps: Optional[Annotated[Int, LimitedBy("max_steps")]] = Field(
        None, ge=1, validation_alias=aliases("steps", "num_inference_steps"),
        description="denoising steps (default: the model's)")
    guidance_scale: Optional[Number] = Field(None, ge=0, le=GUIDANCE_MAX,
                                             description="classifier-free guidance (default: the model's)")
    flow_shift: Optional[Number] = Field(None, ge=0, le=GUIDANCE_MAX,
                                         description="flow-matching shift (default: the model's)")
    image_start_paths: Paths = Field([], description="start image (a path/URL or a list; the first is used)")
    image_end_paths: Paths = Field([], description="end image (a path/URL or a list; the first is used)")
    image_refs_paths: Paths = Field([], description="reference images (VACE models)")
    video_guide_path: Annotated[Optional[str], Location(optional=True)] = Field(None, description="guide video (VACE models)")
    video_mask_path: Annotated[Optional[str], Location(optional=True)] = Field(None, description="mask video: white = generate, "
                                                                       "black = keep (VACE models)")
    additional_loras: dict[LoraPath, LoraStrength] = Field({}, description="LoRAs to apply: {path_or_url: strength} (also "
                                                               "from the original tool's lora_name(s), "
                                                               "activated_loras + loras_multipliers, "
                                                               "apply_reward_lora)")
    use_causvid_lora: Flag = Field(False, description="apply the CausVid LoRA (steps 9, guidance 1.0, "
                                                      "flow shift 1.0)")
    use_lighti2x_lora: Flag = Field(False, description="apply the lightx2v LoRA (steps 5, guidance 1.0, "
                                                       "flow shift 5.0)")
    use_lightning_lora: Flag = Field(False, description="Wan 2.2 A14B: apply the Lightning LoRAs, HIGH on the "
                                                        "high-noise expert and LOW on the low-noise one (2 + 2 steps, "
                                                        "guidance 1.0, flow shift 5.0, euler)")
    phase_config: Optional[PhaseConfig] = Field(
        None, description="two-expert models (Wan 2.2 A14B): 2 or 3 denoising phases with steps, guidance and "
                          "LoRAs each (docs/ENGINES.md, Phases); sets steps, guidance and flow shift")
    output_dir: Optional[WritePath] = Field(None, description="folder for the artefact: relative to the worker's output "
                                                         "folder, or an absolute folder inside it")
    output_sub_dir: Optional[WritePath] = Field(None, description="a sub-folder (of output_dir, else of the worker's "
                                                             "output folder) for the artefact")
    wgp_settings: Optional[dict[str, Any]] = Field(
        None, description="engine wan2gp: Wan2GP-only settings {name: value}, checked against the model "
                          "(Wan2GP-native keys given at the top level of params join them)")


    @model_validator(mode="before")
    @classmethod
    def _native_keys(cls, data: Any) -> Any:
        """Wan2GP-native top-level keys join wgp_settings (an explicit wgp_settings entry wins)."""
        if not isinstance(data, dict):
            return data
        native = {key: data[key] for key in sorted(NATIVE_KEYS) if key in data}
        given = data.get("wgp_settings")
        if given is not None and not (isinstance(given, dict) and all(isinstance(k, str) for k in given)):
            raise InvalidParams("wgp_settings must be an object {Wan2GP setting: value}", field="wgp_settings")
        if not native:
            return data
        rest = {key: value for key, value in data.items() if key not in native}
        return {**rest, "wgp_settings": {**native, **(given or {})}}

    @model_validator(mode="after")
    def _phases_fit(self) -> "WgpParams":
        check_phases(model=self.model, loras=self.additional_loras, phase_config=self.phase_config,
                     steps=self.steps, guidance_scale=self.guidance_scale, flow_shift=self.flow_shift,
                     accelerated=self.use_causvid_lora or self.use_lighti2x_lora, lightning=self.use_lightning_lora)
        return self

    @field_validator("additional_loras", mode="before")
    @classmethod
    def _loras(cls, value: Any) -> dict:
        if not value:
            return {}
        if not isinstance(value, dict):
            raise InvalidParams("additional_loras must be an object {path_or_url: strength}",
                                field="additional_loras")
        from ...engines.phases import PhaseError, parse_strength

        for key, strength in value.items():
            try:
                if isinstance(strength, bool) or not isinstance(strength, (int, float, str, list, tuple)):
                    raise PhaseError("not a strength")
                if not isinstance(strength, (int, float)):   # numbers: the field's own check (LoraStrength)
                    parse_strength(strength)
            except PhaseError as exc:
                detail = f" ({exc})" if "commas" in str(exc) else ""
                raise InvalidParams(f"additional_loras: strength for {key} must be a number or 'a;b' (one per "
                                    f"phase), got {strength!r}{detail}", field="additional_loras") from None
        return value


# A first-last-frame video between two samples (relative paths are read from the database file's folder).
EXAMPLE = {"model": "flf2v_720p", "prompt": "the sun rises over green hills", "resolution": DEFAULT_RESOLUTION,
           "frames": 81, "seed": 7, "image_start_paths": "samples/anchor_0.png",
           "image_end_paths": "samples/anchor_1.png"}
EXAMPLE_IMAGE = {"model": "t2v_1.3B", "prompt": "a lighthouse on a cliff at dusk", "resolution": DEFAULT_RESOLUTION,
                 "seed": 3}
