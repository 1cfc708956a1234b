"""The original tool's tasks.db, upgraded in place by the real commands, then served by real workers.

The database is built from tests/data/original_tool/sqlite_tasks.sql with rows of every kind it held:
finished (its video under <db folder>/public/files, the row saying files/<name>), failed (the reason in
output_location), queued, queued behind a finished row and behind a failed one, one left In Progress by
a worker that went away, and a segment row its orchestrator wrote mid-run.
"""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from source.media import video_io
from source.media.images import load_image
from source.queue.model import Status
from source.queue.sqlite_backend import SqliteQueue
from tests.helpers.original_tool import sqlite_rows, sqlite_seed_queue

ROOT = Path(__file__).resolve().parents[1]
# Real worker processes render with the tiny engine on 2 shared CPU cores: minutes, not seconds.
pytestmark = pytest.mark.timeout(1200)
TZ = "Asia/Kolkata"  # UTC+05:30 all year: the original tool's local created_at becomes UTC - 5h30
TINY = {"model": "tiny", "prompt": "a red square", "resolution": "64x64", "frames": 5}

ROWS = [
    dict(id="wgp_done", task_type="wgp", params={"task_id": "wgp_done", **TINY}, status="Complete",
         output_location="files/wgp_done.mp4", created_at="2025-06-01 10:00:00",
         updated_at="2025-06-01T04:31:00.250000Z", project_id="p1"),
    dict(id="wgp_failed", task_type="wgp", params={"task_id": "wgp_failed", **TINY}, status="Failed",
         output_location="CUDA out of memory", created_at="2025-06-01 10:01:00",
         updated_at="2025-06-01T04:32:00Z", project_id="p1"),
    dict(id="wgp_queued", task_type="wgp", params={"task_id": "wgp_queued", **TINY}, status="Queued",
         created_at="2025-06-01 10:02:00", project_id="default_project_id"),
    dict(id="frame_of_done", task_type="extract_frame",
         params={"task_id": "frame_of_done", "input_video_task_id": "wgp_done", "frame_index": -1},
         status="Queued", dependant_on="wgp_done", created_at="2025-06-01 10:03:00", project_id="p2"),
    dict(id="after_failed", task_type="wgp", params={"task_id": "after_failed", **TINY}, status="Queued",
         dependant_on="wgp_failed", created_at="2025-06-01 10:04:00", project_id="p1"),
    dict(id="was_running", task_type="wgp", params={"task_id": "was_running", **TINY}, status="In Progress",
         created_at="2025-06-01 10:05:00", updated_at="2025-06-01T04:35:10Z", project_id="p1"),
    dict(id="seg_midrun", task_type="travel_segment",
         params={"task_id": "seg_midrun", "orchestrator_task_id_ref": "orch", "orchestrator_run_id": "run1",
                 "segment_index": 0, "full_orchestrator_payload": {}},
         status="Queued", created_at="2025-06-01 10:06:00", project_id="p1"),
]


def run(script: str, *args: str, cwd: Path = ROOT, timeout: float = 300, **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "SQLITE_", "DATABASE_"))}
    environment.update({"TZ": TZ, "PYTHONUNBUFFERED": "1", **env})
    return subprocess.run([sys.executable, str(ROOT / script), *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=timeout)


def dump(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    lines = list(conn.iterdump())
    conn.close()
    return lines


@pytest.fixture
def seed_db(tmp_path):
    db = tmp_path / "site" / "tasks.db"
    db.parent.mkdir()
    count = sqlite_seed_queue(db, ROWS)
    assert count == len(ROWS)
    files = db.parent / "public" / "files"
    files.mkdir(parents=True)
    video_io.write_video([np.full((48, 64, 3), (200, 30, 30), np.uint8)] * 5, files / "wgp_done.mp4")
    return db


def test_migrate_only_upgrades_in_place_after_a_backup_and_keeps_every_row(seed_db):
    before = sqlite_rows(seed_db)
    result = run("headless.py", "--migrate-only", "--db-file", str(seed_db))
    assert result.returncode == 0, result.stderr
    backups = list(seed_db.parent.glob("tasks.db.original-*"))
    assert len(backups) == 1 and str(backups[0]) in result.stderr          # named in the log
    assert sqlite_rows(backups[0]) == before                               # the original table, as it was
    assert "the original tool's queue upgraded to schema version" in result.stderr
    assert "7 row(s) kept" in result.stderr

    queue = SqliteQueue(seed_db)
    try:
        rows = {row["id"]: row for row in sqlite_rows(seed_db)}
        assert sorted(rows) == sorted(row["id"] for row in ROWS)           # every row, same ids
        done = queue.get("wgp_done")
        assert (done.status, done.output_location, done.project_id, done.attempts) == (
            Status.COMPLETE, "files/wgp_done.mp4", "p1", 1)
        assert rows["wgp_done"]["created_at"] == "2025-06-01 04:30:00.000000"   # local (+05:30) -> UTC
        assert rows["wgp_done"]["updated_at"] == "2025-06-01 04:31:00.250000"   # already UTC
        assert rows["wgp_done"]["finished_at"] == "2025-06-01 04:31:00.250000"
        failed = queue.get("wgp_failed")
        assert (failed.status, failed.error_message, failed.output_location) == (
            Status.FAILED, "CUDA out of memory", None)
        after_failed = queue.get("after_failed")
        assert after_failed.status == Status.FAILED
        assert after_failed.error_message == "dependency wgp_failed failed: CUDA out of memory"
        frame = queue.get("frame_of_done")
        assert (frame.status, frame.dependant_on, frame.project_id) == (Status.QUEUED, ["wgp_done"], "p2")
        assert rows["frame_of_done"]["unmet_dependencies"] == 0
        running = queue.get("was_running")
        assert running.status == Status.IN_PROGRESS and running.worker_id == "original-tool"
        assert running.lease_expires_at is not None and running.attempts == 1
        assert [queue.get(i).params for i in rows] == [json.loads(rows[i]["params"]) for i in rows]
    finally:
        queue.close()

    again = run("headless.py", "--migrate-only", "--db-file", str(seed_db))
    assert again.returncode == 0 and "upgraded" not in again.stderr
    assert len(list(seed_db.parent.glob("tasks.db.original-*"))) == 1       # idempotent: no second copy
    assert len(sqlite_rows(seed_db)) == len(ROWS)


def test_the_upgraded_queue_runs_its_queued_rows_with_the_tiny_engine(seed_db):
    status = run("add_task.py", "--status", "wgp_done", "--db-file", str(seed_db))  # upgrades, then shows
    assert status.returncode == 0, status.stderr
    # the original tool's relative output resolves under <db folder>/public
    assert str(seed_db.parent / "public" / "files" / "wgp_done.mp4") in status.stdout

    worker = run("headless.py", "--until-idle", "--engine", "tiny", "--poll-interval", "0.5", "--db-file",
                 str(seed_db), "--main-output-dir", str(seed_db.parent / "outputs"), timeout=900)
    assert worker.returncode == 0, worker.stderr[-3000:]
    queue = SqliteQueue(seed_db)
    try:
        for task_id in ("wgp_queued", "frame_of_done", "was_running"):
            task = queue.get(task_id)
            assert task.status == Status.COMPLETE, (task_id, task.status, task.error_message)
            assert Path(task.output_location).is_file()
        assert video_io.count_frames(queue.get("wgp_queued").output_location) == 5
        # the last frame of the original tool's video, read through its files/ location
        frame = load_image(queue.get("frame_of_done").output_location)
        assert np.abs(frame.astype(int) - (200, 30, 30)).mean() < 12
        assert queue.get("was_running").attempts == 2   # re-queued by the sweep, run once more
        midrun = queue.get("seg_midrun")
        assert midrun.status == Status.FAILED and "queue the run's travel_orchestrator row again" in midrun.error_message
        assert queue.get("after_failed").status == Status.FAILED
    finally:
        queue.close()


def test_a_database_newer_than_this_version_is_refused_unchanged(seed_db):
    assert run("headless.py", "--migrate-only", "--db-file", str(seed_db)).returncode == 0
    conn = sqlite3.connect(seed_db)
    conn.execute("INSERT INTO queue_migrations (version, name, applied_at) VALUES (999, '999_future', 'x')")
    conn.commit()
    conn.close()
    before = dump(seed_db)
    for command in (["headless.py", "--migrate-only"], ["add_task.py", "--status", "wgp_done"]):
        result = run(*command, "--db-file", str(seed_db))
        assert result.returncode == 2
        assert "queue schema version 999, newer than this version of the tool knows" in result.stderr
        assert "nothing was changed" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert dump(seed_db) == before


def test_a_tasks_table_of_another_shape_is_refused_unchanged(tmp_path):
    db = tmp_path / "other.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE tasks (job TEXT, payload TEXT)")
    conn.execute("INSERT INTO tasks VALUES ('a', '{}')")
    conn.commit()
    conn.close()
    before = dump(db)
    result = run("headless.py", "--migrate-only", "--db-file", str(db))
    assert result.returncode == 2 and "has a tasks table this tool does not know" in result.stderr
    assert dump(db) == before and not list(tmp_path.glob("other.db.original-*"))
