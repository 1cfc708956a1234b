"""add_task.py as users run it: good rows, status, cancel, and bad input (exit 2, one line, nothing written)."""
from __future__ import annotations

import json

import pytest

from source.queue.model import NewTask, Status
from source.workflows.registry import parse_params


def stored(task_type: str, params: dict) -> dict:
    """What a row of these params holds: the validated, normalised dump of its task type's model."""
    return parse_params(task_type, params).to_json()



def row_count(queue) -> int:
    return queue.pending_count()


def test_queue_status_and_cancel(backend):
    result = backend.run_cli("add_task.py", "--type", "noop", "--params", '{"output": "x"}', "--priority", "5")
    assert result.returncode == 0, result.stderr
    task_id = result.stdout.strip()
    queue = backend.queue()
    task = queue.get(task_id)
    assert task.status == Status.QUEUED and task.priority == 5 and task.params == stored("noop", {"output": "x"})

    child = backend.run_cli("add_task.py", "--type", "noop", "--params", "{}", "--dependant-on", task_id)
    assert child.returncode == 0, child.stderr
    child_id = child.stdout.strip()
    assert queue.get(child_id).dependant_on == [task_id]

    status = backend.run_cli("add_task.py", "--status", task_id)
    assert status.returncode == 0 and "Queued" in status.stdout and task_id in status.stdout

    cancel = backend.run_cli("add_task.py", "--cancel", task_id)
    assert cancel.returncode == 0 and "cancelled 2 row(s)" in cancel.stderr   # a message: stderr
    assert queue.get(child_id).status == Status.CANCELLED
    assert task_id in queue.get(child_id).error_message


def test_params_from_file(backend, tmp_path):
    params = tmp_path / "p.json"
    params.write_text(json.dumps({"output": "from file"}))
    result = backend.run_cli("add_task.py", "--type", "noop", "--params", f"@{params}")
    assert result.returncode == 0, result.stderr
    assert backend.queue().get(result.stdout.strip()).params == stored("noop", {"output": "from file"})


@pytest.mark.parametrize("args, reason", [
    (["--type", "noop", "--params", "{not json"], "--params is not valid JSON"),
    (["--type", "noop", "--params", "[1, 2]"], "must be a JSON object"),
    (["--type", "noop", "--params", "@/nonexistent/p.json"], "cannot read params file"),
    (["--type", "dance", "--params", "{}"], "unknown task_type 'dance'"),
    (["--type", "noop", "--params", "{}", "--dependant-on", "no-such-row"], "no-such-row"),
    (["--type", "noop", "--params", '{"sleep": -1}'], "sleep must be a non-negative"),
    (["--type", "noop", "--max-attempts", "0"], "--max-attempts"),
    (["--type", "noop", "--priority", "high"], "invalid int value"),
    (["--status", "no-such-row"], "no task with id no-such-row"),
    ([], "one of the arguments"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(backend, args, reason):
    queue = backend.queue()
    queue.enqueue([NewTask("noop", {})])
    before = row_count(queue)
    result = backend.run_cli("add_task.py", *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert row_count(queue) == before
