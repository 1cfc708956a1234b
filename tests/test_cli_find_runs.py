"""`steerable_motion.py runs` (find runs, as text and JSON) and `steerable_motion.py retry`, run in this process
on a real SQLite queue (the same `main` the script calls)."""
from __future__ import annotations

import json

import pytest

from source.cli.runs import age_seconds
from source.cli.steerable_motion_cli import main
from source.queue.factory import open_migrated_queue
from source.queue.model import NewTask, Status
from source.config import Settings


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "tasks.db"
    queue = open_migrated_queue(Settings(db_type="sqlite", db_file=str(path)))
    # a failed run: orchestrator -> seg (failed) -> stitch (awaited), and a finished single row
    orch = NewTask("travel_orchestrator", {"prompt": "a heron over a lake"}, run_id="run-heron", project_id="p1")
    done = NewTask("noop", {"prompt": "a quiet room"}, run_id="run-room", project_id="p2")
    queue.enqueue([orch])
    claim = queue.claim("w", 30, ["travel_orchestrator"])
    seg = NewTask("travel_segment", {"segment_index": 0}, id="run-heron-seg", max_attempts=1)
    stitch = NewTask("travel_stitch", {}, id="run-heron-stitch", dependant_on=[seg.id])
    assert queue.fan_out(claim, [seg, stitch], stitch.id)
    assert queue.fail(queue.claim("w", 30, ["travel_segment"]), "CUDA out of memory")
    queue.enqueue([done])
    assert queue.complete(queue.claim("w", 30, ["noop"]), str(tmp_path / "room.mp4"))
    queue.close()
    return path


def cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_runs_lists_recent_runs_as_text_with_filters(db, capsys, tmp_path):
    code, out, err = cli(capsys, "runs", "--db-file", str(db))
    assert code == 0, err
    header, first, second = out.strip().splitlines()
    assert header.split() == ["RUN", "TYPE", "STATUS", "DONE", "AGE", "OUTPUT"]
    assert first.split()[:4] == ["run-room", "noop", "Complete", "100%"]
    assert first.endswith(str(tmp_path / "room.mp4"))
    assert second.split()[:3] == ["run-heron", "travel_orchestrator", "Failed"]
    assert "error: awaited task run-heron-stitch failed" in second
    assert cli(capsys, "runs", "--db-file", str(db), "--status", "Failed")[1].count("\n") == 2
    assert "run-room" in cli(capsys, "runs", "--db-file", str(db), "--type", "noop")[1]
    assert "run-heron" not in cli(capsys, "runs", "--db-file", str(db), "--project", "p2")[1]
    assert cli(capsys, "runs", "--db-file", str(db), "--search", "nothing")[1] == "no runs match\n"
    assert "run-heron" in cli(capsys, "runs", "--db-file", str(db), "--search", "run-heron-seg", "--since", "1h")[1]
    assert len(cli(capsys, "runs", "--db-file", str(db), "--limit", "1")[1].strip().splitlines()) == 2


def test_runs_as_json_one_object_per_line(db, capsys):
    code, out, _ = cli(capsys, "runs", "--db-file", str(db), "--json")
    assert code == 0
    room, heron = (json.loads(line) for line in out.strip().splitlines())
    assert (room["run_id"], room["status"], room["progress"], room["rows"]) == ("run-room", "Complete", 1.0, 1)
    assert room["output"].endswith("room.mp4") and room["error"] is None
    assert (heron["task_type"], heron["status"], heron["rows"], heron["project_id"]) == \
        ("travel_orchestrator", "Failed", 3, "p1")
    assert heron["age_seconds"] >= 0 and heron["created_at"]


def test_runs_refuses_a_bad_since_in_one_line(db, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["runs", "--db-file", str(db), "--since", "yesterday"])
    assert exit_info.value.code == 2
    assert "--since takes an age such as 90s, 30m, 2h or 7d" in capsys.readouterr().err
    assert (age_seconds("90"), age_seconds("2h"), age_seconds("7d")) == (90.0, 7200.0, 7 * 86400.0)


def test_retry_puts_the_failed_run_back_and_says_how_to_follow_it(db, capsys):
    code, _, err = cli(capsys, "retry", "run-heron", "--db-file", str(db))
    assert code == 0
    assert "retried 3 rows of run run-heron; follow it with `" in err and "steerable_motion.py wait run-heron`" in err
    queue = open_migrated_queue(Settings(db_type="sqlite", db_file=str(db)))
    rows = {t.id: t for t in queue.list_run("run-heron")}
    assert rows["run-heron-seg"].status == Status.QUEUED and rows["run-heron-seg"].attempts == 0
    assert rows["run-heron-seg"].error_message == "CUDA out of memory"
    assert rows["run-heron-stitch"].status == Status.QUEUED
    queue.close()
    code, _, err = cli(capsys, "retry", "run-heron", "--db-file", str(db))
    assert code == 0 and "nothing to retry: no row of run run-heron failed or was cancelled" in err
    code, _, err = cli(capsys, "retry", "run-room", "--db-file", str(db))
    assert "nothing to retry" in err


def test_status_says_when_an_output_is_no_longer_on_disk(db, capsys, tmp_path):
    code, out, _ = cli(capsys, "status", "run-room", "--db-file", str(db))
    assert code == 0
    assert f"output: {tmp_path / 'room.mp4'} (removed: an intermediate file; a run's work files go when it ends)" in out
    (tmp_path / "room.mp4").write_bytes(b"x")
    out = cli(capsys, "status", "run-room", "--db-file", str(db))[1]
    assert out.splitlines()[1].strip() == f"output: {tmp_path / 'room.mp4'}"


def test_the_wait_bar_only_moves_forward(tmp_path):
    import io
    import re
    import threading
    import time

    from source.cli.runs import wait_for_run

    queue = open_migrated_queue(Settings(db_type="sqlite", db_file=str(tmp_path / "w.db")))
    orch = NewTask("travel_orchestrator", {}, run_id="run-bar")
    queue.enqueue([orch])
    claim = queue.claim("w", 30)
    assert queue.set_progress(claim, 0.1, "checking inputs")
    stream = io.StringIO()
    watcher = threading.Thread(target=wait_for_run, args=(queue, orch.id, str),
                               kwargs={"timeout": 1.2, "stream": stream, "poll_seconds": 0.05})
    watcher.start()
    time.sleep(0.4)
    segs = [NewTask("travel_segment", {"segment_index": i}, id=f"run-bar-seg{i}") for i in range(3)]
    assert queue.fan_out(claim, segs, segs[-1].id)        # three children at 0 %: the mean drops to 0
    watcher.join(5)
    shown = [float(p) for p in re.findall(r"\]\s+([\d.]+)%", stream.getvalue())]
    assert shown[0] == 10.0 and len(shown) >= 2, stream.getvalue()
    assert shown == sorted(shown), stream.getvalue()
    assert "step 1/3" in stream.getvalue().splitlines()[-1] or "waiting for a worker" in stream.getvalue()
    queue.close()
