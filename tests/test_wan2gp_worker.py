"""`headless.py --engine wan2gp` against the stand-in checkout: rows rendered by a helper process that
outlives each task, a helper crash retried with a fresh helper, a cancel reaching the running job, and
the helper stopped when the worker exits."""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from source.media.video_io import count_frames, video_info
from source.queue.model import NewTask, Status
from tests.helpers.workers import make_backend, wait_for, wait_terminal

STANDIN = Path(__file__).resolve().parent / "wan2gp_standin"
ENGINE = ("--engine", "wan2gp", "--wan2gp-path", str(STANDIN), "--wan2gp-python", sys.executable)


@pytest.fixture
def backend(tmp_path):
    with make_backend("sqlite", tmp_path) as made:
        yield made


def helper_pids(log_text: str) -> list[int]:
    return [int(pid) for pid in re.findall(r"starting the Wan2GP helper \(pid (\d+)", log_text)]


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def row(model="t2v_1.3B", prompt="a boat", **params) -> NewTask:
    return NewTask("wgp", {"model": model, "prompt": prompt, "resolution": "64x48", "frames": 9, "steps": 3,
                           "seed": 1, **params})


def test_rows_share_one_helper_which_stops_with_the_worker(backend):
    queue = backend.queue()
    first, second = row(), row(model="tiny", video_prompt_type="VA", frames=17)
    queue.enqueue([first, second])
    worker = backend.start_worker("--until-idle", *ENGINE)
    assert worker.wait(timeout=120) == 0, worker.log_path.read_text()[-3000:]
    log = worker.log_path.read_text()
    for task in (first, second):
        done = queue.get(task.id)
        assert done.status == Status.COMPLETE, done.error_message
        assert done.progress == pytest.approx(1.0)
        assert (video_info(done.output_location)["width"], video_info(done.output_location)["height"]) == (64, 48)
    assert count_frames(queue.get(second.id).output_location) == 17
    (pid,) = helper_pids(log)                                          # one helper for both rows
    assert f"[task {first.id}]" in log and "helper: Wan2GP standin-12.60 initialised" in log
    assert "Wan2GP helper stopped" in log and not is_running(pid)     # stopped at --until-idle


def test_a_helper_crash_is_retried_and_the_worker_carries_on(backend):
    queue = backend.queue()
    task = row(prompt="[crash-once@2] a boat")
    queue.enqueue([task])
    worker = backend.start_worker("--until-idle", *ENGINE)
    done = wait_terminal(queue, task.id, timeout=120)
    assert worker.wait(timeout=60) == 0, worker.log_path.read_text()[-3000:]
    log = worker.log_path.read_text()
    assert done.status == Status.COMPLETE, done.error_message
    assert done.attempts == 2 and count_frames(done.output_location) == 9
    assert len(helper_pids(log)) == 2                                  # a fresh helper for the retry
    assert re.search(r"failed: Wan2GP helper was killed by SIGKILL .*fresh helper", log)


def test_cancelling_the_row_cancels_the_running_job(backend, tmp_path):
    queue = backend.queue()
    slow, after = row(prompt="[slow] a slow boat", steps=60), row(prompt="the next one")
    queue.enqueue([slow])
    worker = backend.start_worker(*ENGINE)
    try:
        wait_for(lambda: (t := queue.get(slow.id)) and (t.progress or 0) > 0, timeout=60, what="progress")
        queue.cancel(slow.id)
        wait_for(lambda: "cancelling the Wan2GP job" in worker.log_path.read_text(), timeout=30,
                 what="the cancel to reach the job")
        queue.enqueue([after])
        assert wait_terminal(queue, after.id, timeout=60).status == Status.COMPLETE
    finally:
        worker.terminate()
    assert worker.wait(timeout=60) == 0
    log = worker.log_path.read_text()
    assert queue.get(slow.id).status == Status.CANCELLED and queue.get(slow.id).output_location is None
    assert not list((tmp_path / "outputs").glob(f"{slow.id}*"))
    (pid,) = helper_pids(log)                                          # the same helper rendered the next row
    assert not is_running(pid)                                         # and SIGTERM stopped it
