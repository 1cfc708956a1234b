"""Parameters of the noop task."""
from __future__ import annotations

from typing import Annotated, Optional

from pydantic import Field, field_validator

from ...tasks.params import LimitedBy, Number, TaskParams, Text, WritePath


class NoopParams(TaskParams):
    sleep: Annotated[Number, LimitedBy("max_sleep")] = Field(0.0, ge=0,
                                                description="seconds to wait (reporting progress) before finishing")
    busy: Annotated[Number, LimitedBy("max_sleep")] = Field(0.0, ge=0,
                                               description="seconds spent first in one call that reports no progress "
                                                           "(as a model load or one long render step)")
    marker_file: Optional[WritePath] = Field(None, description="a file to which each execution appends one line "
                                                              "(task id, worker id, attempt); inside the worker's "
                                                              "output folders (relative: to MAIN_OUTPUT_DIR)")
    fail: Optional[Text] = Field(None, description="fail with this message instead of finishing")
    output: Optional[Text] = Field(None, description="text recorded as the row's output_location; {worker} and "
                                                    "{attempt} are replaced by who ran it")

    @field_validator("sleep", "busy", mode="before")
    @classmethod
    def _seconds(cls, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ValueError("must be a non-negative number of seconds")
        return value


EXAMPLE = {"sleep": 1.5, "output": "ran on {worker}"}
