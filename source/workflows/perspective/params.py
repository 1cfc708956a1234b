"""Parameters of a different-perspective run: the orchestrator's (what a user gives, validated by
steerable_motion.py and by the worker) and its steps' (written by the orchestrator, checked and
completed: resolution and frame count already snapped, the still's model chosen).

A key given as null counts as not given.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Optional, get_args

from pydantic import Field, ValidationInfo, field_validator, model_validator

from ...config import Settings
from ...engines.models import lookup_model, model_names
from ...errors import InvalidParams
from ...media.easing import Easing
from ...media.frames import DEFAULT_RESOLUTION, WAN_FPS, snap_frames, snap_resolution
from ...tasks.params import (
    SEED_MAX,
    Choice,
    Flag,
    Int,
    LimitedBy,
    Location,
    LoraPath,
    LoraStrength,
    ModelFrameRate,
    ModelName,
    RenderResolution,
    TaskParams,
    Text,
    WritePath,
    flag,
    settings_of,
)

PerspectiveType = Literal["pose", "depth"]
PERSPECTIVE_TYPES: tuple[str, ...] = get_args(PerspectiveType)


def still_model_for(model_name: str) -> str:
    """The text-to-video model that paints the still for a (VACE) model of the same size."""
    size = lookup_model(model_name).size
    if size == "tiny":
        return "tiny"
    return "t2v_1.3B" if size == "1.3B" else "t2v"


def depth_model_folder(settings: Settings) -> Path:
    """The local depth-estimation model `perspective_type: "depth"` needs; InvalidParams without one."""
    folder = settings.depth_model_folder
    if folder is None:
        raise InvalidParams("perspective_type 'depth' needs a local depth-estimation model: set "
                            "DEPTH_MODEL_PATH to its folder (none is available here); use 'pose' instead",
                            field="perspective_type")
    return folder


def _non_empty(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    return value.strip()


class _Common(TaskParams):
    """What the orchestrator and its steps share."""

    null_is_unset = True
    missing_as_null = True

    input_image_path: Annotated[str, Location("an image")] = Field(..., json_schema_extra=flag("--input_image", exists=True),
                                                   description="the character's image: a path or http(s) URL")
    prompt: Text = Field(..., json_schema_extra=flag("--prompt"),
                         description="what the new view or pose should show")
    negative_prompt: Text = Field("", json_schema_extra=flag("--negative_prompt"), description="what to avoid")
    model_name: ModelName = Field("vace_14B", json_schema_extra=flag("--model_name"),
                                  description=f"the VACE model of the render ({model_names('vace')}); the still "
                                              "uses the text-to-video model of the same size")
    seed: Int = Field(0, ge=-1, le=SEED_MAX, json_schema_extra=flag("--seed"),
                      description="random seed of both renders")
    steps: Optional[Annotated[Int, LimitedBy("max_steps")]] = Field(None, ge=1, json_schema_extra=flag("--steps"),
                                 description="denoising steps (default: the model's)")
    perspective_type: Annotated[PerspectiveType, Choice()] = Field(
        "pose", json_schema_extra=flag("--perspective_type"), description="pose (MediaPipe skeletons) or depth (needs DEPTH_MODEL_PATH)")
    easing: Annotated[Easing, Choice()] = Field("ease_in_out", description="timing of the pose's move over the clip")
    skip_cleanup: Flag = Field(False, json_schema_extra=flag("--skip_cleanup"),
                               description="keep the run's work folder")
    use_causvid_lora: Flag = Field(False, json_schema_extra=flag("--use_causvid_lora"),
                                   description="CausVid LoRA for both renders (9 steps, guidance 1.0, flow shift 1.0)")
    additional_loras: dict[LoraPath, LoraStrength] = Field(
        default_factory=dict, description="LoRAs for both renders {path_or_url: strength} (also from the original "
                                          "tool's lora_name(s), activated_loras + loras_multipliers, "
                                          "apply_reward_lora)")
    output_dir: Optional[WritePath] = Field(None, json_schema_extra=flag("--output_dir", folder=True),
                                       description="absolute folder for the final PNG (default: the worker's "
                                                   "output folder)")

    _prompt = field_validator("prompt", mode="before")(_non_empty)

    @property
    def keeps_work_folder(self) -> bool:
        return self.skip_cleanup


    @model_validator(mode="after")
    def _phases_fit(self):
        from ...tasks.phase_params import check_phases

        check_phases(model=self.model_name, loras=self.additional_loras, phase_config=None, steps=self.steps,
                     accelerated=self.use_causvid_lora, model_field="model_name")
        return self

    @field_validator("output_dir")
    @classmethod
    def _absolute(cls, path: Optional[str]) -> Optional[str]:
        if path and not Path(path).expanduser().is_absolute():
            raise ValueError(f"must be an absolute folder path, got {path!r}")
        return str(Path(path).expanduser()) if path else None


class PerspectiveParams(_Common):
    """different_perspective_orchestrator."""

    still_model_name: Optional[ModelName] = Field(
        None, description="the text-to-video model of the still (default: the one of the render model's size)")
    resolution: RenderResolution = Field(DEFAULT_RESOLUTION, json_schema_extra=flag("--resolution"),
                                         description='"WxH", floored to multiples of 16')
    output_video_frames: Annotated[Int, LimitedBy("max_frames")] = Field(81, ge=5, json_schema_extra=flag("--output_video_frames"),
                                     description="length of the guided clip, snapped to 4k+1; "
                                                 "more frames give the pose more room to move")
    run_id: Optional[Text] = Field(None, json_schema_extra=flag("--run_id"),
                                   description="name of the run (default: the row's run_id, else its id)")
    debug_mode: Flag = Field(False, json_schema_extra=flag("--debug"),
                             description="keep the run's work folder (guides, renders), as skip_cleanup")
    fps_helpers: ModelFrameRate = Field(WAN_FPS, description=f"frame rate of the guide and the render: {WAN_FPS}, "
                                                             "the model's")

    @model_validator(mode="after")
    def _depth_model(self, info: ValidationInfo):
        settings = settings_of(info)
        if self.perspective_type == "depth" and settings is not None:
            depth_model_folder(settings)
        return self

    def for_steps(self, run_id: str, input_image: str, step_task_ids: dict[str, str],
                  settings: Optional[Settings] = None) -> "StepParams":
        """The steps' params: sizes snapped once, here (checked against the limits of `settings`)."""
        width, height = snap_resolution(self.resolution)
        return StepParams.parse(dict(
            run_id=run_id, input_image_path=input_image, prompt=self.prompt,
            negative_prompt=self.negative_prompt, model_name=self.model_name,
            still_model_name=self.still_model_name or still_model_for(self.model_name),
            resolution=f"{width}x{height}", frames=snap_frames(self.output_video_frames), seed=self.seed,
            steps=self.steps, perspective_type=self.perspective_type, easing=self.easing,
            skip_cleanup=self.skip_cleanup or self.debug_mode, use_causvid_lora=self.use_causvid_lora,
            additional_loras=self.additional_loras, output_dir=self.output_dir, step_task_ids=step_task_ids),
            settings)


class StepParams(_Common):
    """The four step rows (written by the orchestrator)."""

    run_id: Text = Field(..., description="the run: names the work folder and the final PNG")
    still_model_name: ModelName = Field(..., description="the text-to-video model of the still")
    resolution: RenderResolution = Field(..., description='"WxH", multiples of 16')
    frames: Annotated[Int, LimitedBy("max_frames")] = Field(..., ge=1, description="frames of the guide and the render (4k+1)")
    step_task_ids: dict[str, Text] = Field(..., description="task type of each step -> its row id")


# What `steerable_motion.py different_perspective --input_image samples/person.png ...` queues (relative
# paths are read from the folder of the database file).
EXAMPLE = {"input_image_path": "samples/person.png", "prompt": "the same person seen from behind",
           "model_name": "vace_14B", "resolution": "256x256", "output_video_frames": 17, "seed": 1,
           "run_id": "behind_run"}
