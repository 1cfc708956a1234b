"""The noop handler: waits, optionally leaves a marker line, fails or returns a text output."""
from __future__ import annotations

import time

from ...errors import InvalidParams
from ...storage.roots import writable_path, write_problem
from ...tasks.context import Done, TaskContext
from .params import NoopParams


def handle_noop(ctx: TaskContext) -> Done:
    params: NoopParams = ctx.params
    time.sleep(params.busy)
    deadline = time.monotonic() + params.sleep
    while time.monotonic() < deadline:
        ctx.report_progress(1 - (deadline - time.monotonic()) / max(params.sleep, 1e-9), "sleeping")
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
    if params.fail:
        raise RuntimeError(params.fail)
    # a fenced write before the side effect: a worker that lost the row stops here
    ctx.report_progress(1.0, "done")
    if params.marker_file:
        problem = write_problem(ctx.settings, params.marker_file)  # the params check, once more at the write
        if problem:
            raise InvalidParams(f"marker_file {problem}", field="marker_file")
        # O_APPEND writes of one short line are atomic: one line per execution, even across processes.
        with open(writable_path(ctx.settings, params.marker_file), "a", encoding="utf-8") as fh:
            fh.write(f"{ctx.task.id} {ctx.claim.worker_id} {ctx.claim.attempt}\n")
    output = params.output
    if output is not None:
        output = output.replace("{worker}", ctx.claim.worker_id).replace("{attempt}", str(ctx.claim.attempt))
    return Done(output)
