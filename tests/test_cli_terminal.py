"""The commands at a terminal: results on stdout and messages on stderr, one line for Ctrl-C, quiet on a
closed pipe, a hint when no worker takes a run, and a note when a value was changed on the way.

Real processes on a real SQLite queue; signals are real signals.
"""
from __future__ import annotations

import io
import signal
import subprocess
import time

import pytest

from source.cli.runs import wait_for_run
from source.queue.model import NewTask, Status
from tests.helpers.workers import PYTHON, ROOT, make_backend

SAMPLES = ROOT / "samples"
ANCHORS = [str(SAMPLES / "anchor_0.png"), str(SAMPLES / "anchor_1.png")]


@pytest.fixture
def sqlite_backend(tmp_path):
    with make_backend("sqlite", tmp_path) as backend:
        yield backend


def test_a_closed_pipe_ends_a_command_quietly(sqlite_backend):
    queued = sqlite_backend.run_cli("steerable_motion.py", "travel_between_images", "--input_images", *ANCHORS,
                                    "--run_id", "piped")
    assert queued.returncode == 0, queued.stderr
    # --watch prints again every second, so it writes after `head` has gone
    done = subprocess.run(["bash", "-c", f"{PYTHON} steerable_motion.py status piped --watch | head -1"],
                          cwd=ROOT, env=sqlite_backend.process_env(), capture_output=True, text=True, timeout=60)
    assert done.stdout.startswith("travel_orchestrator") and done.stdout.count("\n") == 1
    assert done.stderr == ""                                           # no BrokenPipeError, no traceback


def test_wait_says_once_that_no_worker_has_claimed_the_run_and_how_to_start_one(sqlite_queue):
    (root,) = sqlite_queue.enqueue([NewTask("noop", {}, run_id="lonely")])
    stream = io.StringIO()
    assert wait_for_run(sqlite_queue, root, str, timeout=0.8, stream=stream, poll_seconds=0.05,
                        worker_hint=".venv/bin/python headless.py --db-file x.db", hint_after=0.2) == 1
    shown = stream.getvalue()
    assert shown.count("no worker has claimed this run") == 1
    assert "start one (in another terminal) with: .venv/bin/python headless.py --db-file x.db" in shown


def test_ctrl_c_while_waiting_is_one_line_and_exit_130_and_the_run_goes_on(sqlite_backend):
    client = subprocess.Popen(
        [PYTHON, "steerable_motion.py", "travel_between_images", "--input_images", *ANCHORS, "--run_id", "stopped",
         "--wait"], cwd=ROOT, env=sqlite_backend.process_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    assert client.stdout.readline().strip() == "stopped"              # queued: the run id
    time.sleep(0.5)
    client.send_signal(signal.SIGINT)
    out, err = client.communicate(timeout=30)
    assert client.returncode == 130
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("stopped waiting; run stopped is still queued")
    # an executable command: the interpreter that ran it, then the script
    assert "python steerable_motion.py wait stopped`" in last and "python steerable_motion.py cancel stopped`" in last
    (root,) = [row for row in sqlite_backend.queue().list_run("stopped")]
    assert root.status == Status.QUEUED


def test_the_command_says_what_it_changed_from_what_was_asked(sqlite_backend):
    done = sqlite_backend.run_cli("steerable_motion.py", "travel_between_images", "--input_images",
                                  *ANCHORS, str(SAMPLES / "anchor_2.png"), "--resolution", "130x100",
                                  "--segment_frames", "20", "--frame_overlap", "7", "--run_id", "snapped")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "snapped\n"
    assert "note: --resolution 130x100 is used as 128x96 (sides floored to multiples of 16)" in done.stderr
    assert "note: --segment_frames 20 is used as 21 (Wan renders 4k+1 frames)" in done.stderr
    assert "note: --frame_overlap 7 is used as 6" in done.stderr
    plain = sqlite_backend.run_cli("steerable_motion.py", "travel_between_images", "--input_images", *ANCHORS,
                                   "--resolution", "128x96", "--segment_frames", "21", "--frame_overlap", "6")
    assert "note:" not in plain.stderr


def test_a_one_image_run_says_its_end_is_not_anchored_and_a_text_model_is_refused(sqlite_backend):
    one = sqlite_backend.run_cli("steerable_motion.py", "travel_between_images", "--input_images", ANCHORS[0])
    assert one.returncode == 0 and "from one image (its end is not anchored" in one.stderr
    text_model = sqlite_backend.run_cli("steerable_motion.py", "travel_between_images", "--input_images",
                                        *ANCHORS, "--model_name", "t2v")
    assert text_model.returncode == 2
    assert text_model.stderr.startswith("error: --model_name must be a VACE model (vace_1.3B, vace_14B")
    assert text_model.stderr.count("\n") == 1


def test_cancel_says_what_it_did_on_stderr(sqlite_backend):
    queued = sqlite_backend.run_cli("add_task.py", "--type", "noop")
    task_id = queued.stdout.strip()
    cancelled = sqlite_backend.run_cli("add_task.py", "--cancel", task_id)
    assert cancelled.returncode == 0 and cancelled.stdout == "" and "cancelled 1 row(s)" in cancelled.stderr
    run = sqlite_backend.run_cli("steerable_motion.py", "cancel", task_id)
    assert run.stdout == "" and "nothing to cancel" in run.stderr
