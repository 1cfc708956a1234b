"""`--wait`: one wait_for_run (source/cli/runs.py) for every workflow, reading only the run's rows.

Each run here is a real SQLite queue: the root row is claimed and fans out its children as a worker
would, a child is claimed and reports progress, and the watcher is asked what it shows.
"""
from __future__ import annotations

import io


from source.cli.runs import step_order, wait_for_run
from source.queue.model import NewTask, Status, Task
from source.tasks.ids import child_task_id
from source.workflows.perspective import STEPS
from source.workflows.perspective.steps import handle_orchestrator
from tests.helpers.perspective import astronaut_png, make_context


def _claim(queue, task_type: str):
    claim = queue.claim("test-worker", 60, [task_type])
    assert claim is not None, f"no {task_type} row was claimable"
    return claim


def _shown(queue, root_id: str) -> str:
    """What --wait prints while the run goes on (it gives up after a moment: the run is not over)."""
    stream = io.StringIO()
    assert wait_for_run(queue, root_id, str, timeout=0.2, stream=stream, poll_seconds=0.05) == 1
    return stream.getvalue()


def test_a_perspective_run_shows_its_step_and_the_steps_progress(sqlite_queue, tmp_path, capsys):
    image = astronaut_png(tmp_path)
    (root_id,) = sqlite_queue.enqueue([NewTask("different_perspective_orchestrator", {
        "input_image_path": str(image), "prompt": "x", "resolution": "64x64", "output_video_frames": 5,
        "run_id": "p-run"},
        run_id="p-run")])
    assert "waiting for a worker" in _shown(sqlite_queue, root_id)

    claim = _claim(sqlite_queue, "different_perspective_orchestrator")
    fan_out = handle_orchestrator(make_context(tmp_path, claim.task.task_type, claim.task.params,
                                               task_id=root_id))
    assert sqlite_queue.fan_out(claim, fan_out.children, fan_out.awaited_task_id)
    assert sqlite_queue.complete(_claim(sqlite_queue, STEPS[0]), str(tmp_path / "still.png"))
    guide = _claim(sqlite_queue, STEPS[1])
    assert sqlite_queue.set_progress(guide, 0.5, "guide frames ready")

    shown = _shown(sqlite_queue, root_id)
    assert "step 2/4 guide  50%: guide frames ready" in shown
    assert "%" in shown.split("step")[0]                     # and the run's bar before it

    assert sqlite_queue.complete(guide, str(tmp_path / "guide.mp4"))
    assert "step 2/4 guide (Complete)" in _shown(sqlite_queue, root_id)   # between steps: the last that ran
    assert sqlite_queue.complete(_claim(sqlite_queue, STEPS[2]), str(tmp_path / "render.mp4"))
    final = tmp_path / "p-run_final.png"
    assert sqlite_queue.complete(_claim(sqlite_queue, STEPS[3]), str(final))
    assert wait_for_run(sqlite_queue, root_id, str, timeout=5, stream=io.StringIO()) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(final)

    # `steerable_motion.py status RUN_ID`: every row of the run, and the outputs
    from source.cli.steerable_motion_cli import main

    assert main(["status", "p-run", "--db-file", str(tmp_path / "tasks.db")]) == 0
    shown = capsys.readouterr().out
    assert shown.count("Complete") == 5 and f"output: {final}" in shown
    assert all(step in shown for step in STEPS)


def test_a_travel_run_shows_its_segment_and_the_segments_progress(sqlite_queue, tmp_path):
    (root_id,) = sqlite_queue.enqueue([NewTask("travel_orchestrator", {}, run_id="t-run")])
    segments = [child_task_id(root_id, "t-run", "segment", i) for i in range(2)]
    stitch = child_task_id(root_id, "t-run", "stitch")
    children = [NewTask("travel_segment", {"segment_index": i}, id=segments[i], run_id="t-run",
                        dependant_on=[segments[i - 1]] if i else []) for i in range(2)]
    children.append(NewTask("travel_stitch", {}, id=stitch, dependant_on=segments, run_id="t-run"))
    assert sqlite_queue.fan_out(_claim(sqlite_queue, "travel_orchestrator"), children, stitch)
    assert sqlite_queue.complete(_claim(sqlite_queue, "travel_segment"), str(tmp_path / "seg00.mp4"))
    segment = _claim(sqlite_queue, "travel_segment")
    assert sqlite_queue.set_progress(segment, 0.25, "segment 1: step 1/4")

    rows = sqlite_queue.list_run("t-run")
    assert [t.id for t in step_order(sqlite_queue.get(root_id), rows)] == segments + [stitch]
    assert "step 2/3 segment[1]  25%: segment 1: step 1/4" in _shown(sqlite_queue, root_id)


def test_steps_are_ordered_by_dependencies_then_segment_index():
    """Independent segments (rendered at once by several workers) and their stitch, listed in any order."""
    root = Task(id="root", task_type="travel_orchestrator", params={}, status=Status.IN_PROGRESS)
    rows = [Task(id="stitch", task_type="travel_stitch", params={}, status=Status.QUEUED, parent_task_id="root",
                 dependant_on=["s1", "s0"]),
            Task(id="s1", task_type="travel_segment", params={"segment_index": 1}, status=Status.QUEUED,
                 parent_task_id="root"),
            Task(id="s0", task_type="travel_segment", params={"segment_index": 0}, status=Status.QUEUED,
                 parent_task_id="root"),
            root]
    assert [t.id for t in step_order(root, rows)] == ["s0", "s1", "stitch"]
