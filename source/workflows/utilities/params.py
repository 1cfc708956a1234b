"""Parameters of the utility tasks.

An input is a path or http(s) URL (`..._path`), or the output of an earlier row (`..._task_id`, which
must be Complete by the time the task runs); where both are allowed, the path wins.
"""
from __future__ import annotations

import math
from typing import Annotated, Any, Optional

from pydantic import Field, field_validator, model_validator

from ...errors import InvalidParams
from ...media.frames import WAN_FPS
from ...media.interpolate import METHODS, Method
from ...tasks.params import Choice, Int, LimitedBy, Location, Resolution, TaskParams, Text

OptionalPath = Annotated[Optional[str], Location(optional=True)]


def _give_one_of(params: TaskParams, *fields: str) -> None:
    if not any(getattr(params, name) for name in fields):
        raise InvalidParams(f"give {' or '.join(fields)}", field=fields[0])


class OpenposeParams(TaskParams):
    input_image_path: OptionalPath = Field(None, description="the image (path or URL)")
    input_image_task_id: Optional[Text] = Field(None, description="or: the row whose output is the image")

    @model_validator(mode="after")
    def _an_input(self):
        _give_one_of(self, "input_image_path", "input_image_task_id")
        return self


class ExtractFrameParams(TaskParams):
    input_video_path: OptionalPath = Field(None, description="the video (path or URL)")
    input_video_task_id: Optional[Text] = Field(None, description="or: the row whose output is the video")
    frame_index: Int = Field(0, ge=-(2 ** 31), le=2 ** 31 - 1,
                             description="which frame; negative counts from the end (-1: the last)")

    @model_validator(mode="after")
    def _an_input(self):
        _give_one_of(self, "input_video_path", "input_video_task_id")
        return self


class InterpolateParams(TaskParams):
    missing_as_null = True

    input_image_path1: Annotated[str, Location()] = Field(..., description="the first image (path or URL)")
    input_image_path2: Annotated[str, Location()] = Field(..., description="the last image (path or URL)")
    frames: Annotated[Int, LimitedBy("max_frames")] = Field(..., ge=2, description="frames in the clip, both images included")
    resolution: Resolution = Field(..., description='"WxH" of the clip; sides floored to even numbers')
    method: Annotated[Method, Choice()] = Field("flow", description="flow (optical-flow warping) or blend (a cross-fade)")
    fps: Int = Field(WAN_FPS, ge=1, le=240, description="frame rate of the mp4")

    @field_validator("method", mode="before")
    @classmethod
    def _method(cls, value: Any) -> str:
        if value not in METHODS:  # said here to add why "rife" is not one
            note = " (RIFE weights are not bundled)" if value == "rife" else ""
            raise ValueError(f"must be one of {', '.join(METHODS)}, got {value!r}{note}")
        return value


class UpscaleParams(TaskParams):
    missing_as_null = True

    input_image_path: OptionalPath = Field(None, description="an image (path or URL)")
    input_image_task_id: Optional[Text] = Field(None, description="or: the row whose output is the image")
    input_video_path: OptionalPath = Field(None, description="or: a video (path or URL)")
    input_video_task_id: Optional[Text] = Field(None, description="or: the row whose output is the video")
    upscale_factor: Annotated[float, LimitedBy("max_upscale_factor")] = Field(
        ..., description="scale of each side (> 0); sides rounded to even numbers")

    @field_validator("upscale_factor", mode="before")
    @classmethod
    def _factor(cls, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
            raise ValueError(f"must be a positive number, got {value!r}")
        return value

    @model_validator(mode="after")
    def _an_input(self):
        _give_one_of(self, "input_image_path", "input_image_task_id", "input_video_path", "input_video_task_id")
        return self


# Examples for the reference (relative paths are read from the folder of the database file).
EXAMPLE_OPENPOSE = {"input_image_path": "samples/person.png"}
EXAMPLE_EXTRACT_FRAME = {"input_video_task_id": "<the id of an earlier row whose output is a video>",
                         "frame_index": -1}
EXAMPLE_INTERPOLATE = {"input_image_path1": "samples/anchor_0.png", "input_image_path2": "samples/anchor_1.png",
                       "frames": 17, "resolution": "256x256", "method": "flow"}
EXAMPLE_UPSCALE = {"input_image_path": "samples/anchor_0.png", "upscale_factor": 2}
