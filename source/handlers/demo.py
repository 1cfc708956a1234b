"""A handler that renders nothing: for queue smoke tests and benchmarks.

params: {"sleep": seconds (optional), "marker_file": path (optional; appends one line per execution),
         "fail": message (optional; raise), "output": text (optional; returned as output_location,
         with "{worker}" and "{attempt}" replaced by who ran it)}
"""
from __future__ import annotations

import time

from .base import Done, InvalidParams, TaskContext


def validate_params(task_type: str, params: dict) -> None:
    sleep = params.get("sleep", 0)
    if isinstance(sleep, bool) or not isinstance(sleep, (int, float)) or sleep < 0:
        raise InvalidParams("sleep must be a non-negative number of seconds")


def handle_noop(ctx: TaskContext) -> Done:
    params = ctx.params
    validate_params(ctx.task.task_type, params)
    sleep = params.get("sleep", 0)
    marker = params.get("marker_file")
    deadline = time.monotonic() + float(sleep)
    while time.monotonic() < deadline:
        ctx.check_cancelled()
        ctx.report_progress(1 - (deadline - time.monotonic()) / max(float(sleep), 1e-9), "sleeping")
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
    if params.get("fail"):
        raise RuntimeError(str(params["fail"]))
    # a fenced write before the side effect: a worker that lost the row stops here
    ctx.report_progress(1.0, "done")
    if marker:
        # O_APPEND writes of one short line are atomic: one line per execution, even across processes.
        with open(marker, "a", encoding="utf-8") as fh:
            fh.write(f"{ctx.task.id} {ctx.claim.worker_id} {ctx.claim.attempt}\n")
    output = params.get("output")
    if isinstance(output, str):
        output = output.replace("{worker}", ctx.claim.worker_id).replace("{attempt}", str(ctx.claim.attempt))
    return Done(output)
