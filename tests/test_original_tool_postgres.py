"""The original tool's Supabase queue (its README's SQL: `tasks` with id BIGSERIAL, task_id TEXT and the
func_* functions) upgraded by the real commands: `headless.py --migrate-only` over psycopg, the pasted
output of scripts/supabase_sql.py, and supabase mode through the real PostgREST. Every row is kept, the
queued ones run to Complete with the tiny engine.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from source.config import Settings
from source.queue.factory import open_queue
from source.queue.model import Status
from tests.helpers.original_tool import supabase_seed_queue
from tests.helpers.services import temporary_postgres_database

ROOT = Path(__file__).resolve().parents[1]
# Real worker processes render with the tiny engine on 2 shared CPU cores: minutes, not seconds.
pytestmark = pytest.mark.timeout(1200)
TINY = {"model": "tiny", "prompt": "a red square", "resolution": "64x64", "frames": 5}
URL = "https://project.supabase.co/storage/v1/object/public/videos/wgp_done/wgp_done.mp4"

ROWS = [  # the README's columns
    dict(task_id="wgp_done", params={"task_id": "wgp_done", **TINY}, task_type="wgp", status="Complete",
         output_location=URL, created_at="2025-06-01T10:00:00+02:00", updated_at="2025-06-01T10:01:30+02:00"),
    dict(task_id="wgp_failed", params={"task_id": "wgp_failed", **TINY}, task_type="wgp", status="Failed",
         created_at="2025-06-01T10:02:00+02:00"),
    dict(task_id="wgp_queued", params={"task_id": "wgp_queued", **TINY}, task_type="wgp", status="Queued",
         created_at="2025-06-01T10:03:00+02:00"),
    dict(task_id="was_running", params={"task_id": "was_running", **TINY}, task_type="wgp",
         status="In Progress", worker_id="worker_4242", created_at="2025-06-01T10:04:00+02:00"),
]
# Deployments that followed the original code's notes also had dependant_on and project_id columns.
EXTRA_COLUMNS = ("dependant_on TEXT NULL", "project_id TEXT NULL")
DEPENDENT_ROWS = [
    dict(task_id="after_done", params={"task_id": "after_done", **TINY}, task_type="wgp", status="Queued",
         dependant_on="wgp_done", project_id="p7", created_at="2025-06-01T10:05:00+02:00"),
    dict(task_id="after_failed", params={"task_id": "after_failed", **TINY}, task_type="wgp", status="Queued",
         dependant_on="wgp_failed", project_id="p7", created_at="2025-06-01T10:06:00+02:00"),
]


def run(script: str, *args: str, timeout: float = 600, **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "SQLITE_", "DATABASE_", "SUPABASE_"))}
    environment.update({"PYTHONUNBUFFERED": "1", **env})
    return subprocess.run([sys.executable, str(ROOT / script), *args], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=timeout)


def scalar(dsn: str, sql: str, *params):
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchone()[0]


def backup_tables(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        return [r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables "
                                           "WHERE table_schema = 'wq_seed_backup' ORDER BY 1")]


def functions(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        return {r[0] for r in conn.execute("SELECT proname FROM pg_proc WHERE proname LIKE 'func\\_%'")}


def check_rows_kept(dsn: str, rows: list[dict]) -> None:
    queue = open_queue(Settings(db_type="postgres", database_url=dsn))
    try:
        for row in rows:
            task = queue.get(row["task_id"])
            assert task is not None and task.task_type == row["task_type"] and task.params == row["params"]
        done = queue.get("wgp_done")
        assert (done.status, done.output_location, done.attempts) == (Status.COMPLETE, URL, 1)
        assert done.created_at.isoformat() == "2025-06-01T08:00:00+00:00"
        assert done.finished_at.isoformat() == "2025-06-01T08:01:30+00:00"
        failed = queue.get("wgp_failed")
        assert failed.status == Status.FAILED and failed.error_message == "failed in the original tool (no reason recorded)"
        running = queue.get("was_running")
        assert (running.status, running.worker_id, running.attempts) == (Status.IN_PROGRESS, "worker_4242", 1)
        assert running.lease_expires_at is not None
        assert queue.get("wgp_queued").status == Status.QUEUED
    finally:
        queue.close()


def test_migrate_only_converts_the_readme_schema_in_one_transaction_keeping_every_row(tmp_path):
    with temporary_postgres_database("wq_original") as dsn:
        count = supabase_seed_queue(dsn, ROWS + DEPENDENT_ROWS, extra_columns=EXTRA_COLUMNS)
        assert count == 6
        env = {"DB_TYPE": "postgres", "DATABASE_URL": dsn}
        result = run("headless.py", "--migrate-only", **env)
        assert result.returncode == 0, result.stderr
        assert "the original tool's queue upgraded to schema version" in result.stderr
        assert "6 row(s) kept" in result.stderr
        assert scalar(dsn, "SELECT count(*) FROM tasks") == count
        (backup,) = backup_tables(dsn)
        assert backup.startswith("tasks_seed_") and scalar(dsn, f"SELECT count(*) FROM wq_seed_backup.{backup}") == count
        check_rows_kept(dsn, ROWS)
        queue = open_queue(Settings(db_type="postgres", database_url=dsn))
        after_done, after_failed = queue.get("after_done"), queue.get("after_failed")
        assert (after_done.status, after_done.dependant_on, after_done.project_id) == (Status.QUEUED, ["wgp_done"], "p7")
        assert after_failed.status == Status.FAILED
        assert after_failed.error_message == ("dependency wgp_failed failed: failed in the original tool "
                                              "(no reason recorded)")
        queue.close()

        # the original tool's functions: an app's kept working, the worker's gone
        # the kept functions, and the removed worker functions as stubs that only say what replaces them
        assert functions(dsn) == {"func_initialize_tasks_table", "func_add_task", "func_get_completed_travel_segments",
                                  "func_claim_task", "func_update_task_status", "func_migrate_tasks_for_task_type"}
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SELECT func_initialize_tasks_table('tasks')")
            with pytest.raises(psycopg.errors.InvalidParameterValue, match="POSTGRES_TABLE_NAME=jobs is not supported"):
                conn.execute("SELECT func_initialize_tasks_table('jobs')")
            assert conn.execute("SELECT func_add_task('via_rpc', %s::jsonb, 'wgp', 'p9', 'wgp_queued', 'tasks')",
                                ('{"model": "tiny", "prompt": "x", "resolution": "64x64", "frames": 5}',)
                                ).fetchone()[0] == "via_rpc"
            # an app writing only task_type and params, as the original tool's apps did
            conn.execute("INSERT INTO tasks (task_type, params) VALUES ('wgp', %s::jsonb)",
                         ('{"task_id": "app_row", "project_id": "p3", "model": "tiny", "resolution": "64x64", "frames": 5}',))
            assert conn.execute("SELECT project_id FROM tasks WHERE id = 'app_row'").fetchone()[0] == "p3"
            for role in ("anon", "authenticated"):
                if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                    assert not conn.execute("SELECT has_function_privilege(%s, 'func_add_task(text, jsonb, text, "
                                            "text, text, text)', 'EXECUTE')", (role,)).fetchone()[0]
        assert run("add_task.py", "--type", "wgp", "--params", '{"model": "tiny", "frames": 5, "resolution": "64x64"}',
                   "--dependant-on", "app_row", **env).returncode == 0

        again = run("headless.py", "--migrate-only", **env)
        assert again.returncode == 0 and "upgraded" not in again.stderr
        assert len(backup_tables(dsn)) == 1 and scalar(dsn, "SELECT count(*) FROM tasks") == count + 3

        worker = run("headless.py", "--until-idle", "--engine", "tiny", "--poll-interval", "0.5",
                     "--main-output-dir", str(tmp_path / "outputs"), timeout=900, **env)
        assert worker.returncode == 0, worker.stderr[-3000:]
        queue = open_queue(Settings(db_type="postgres", database_url=dsn))
        try:
            for task_id in ("wgp_queued", "after_done", "was_running", "via_rpc", "app_row"):
                task = queue.get(task_id)
                assert task.status == Status.COMPLETE, (task_id, task.status, task.error_message)
            with psycopg.connect(dsn) as conn:
                assert conn.execute("SELECT count(*) FROM tasks WHERE status = 'Complete'").fetchone()[0] == 7
        finally:
            queue.close()


def test_the_pasted_supabase_sql_upgrades_the_readme_schema_and_can_be_pasted_again():
    script = run("scripts/supabase_sql.py")
    assert script.returncode == 0
    with temporary_postgres_database("wq_original_sql") as dsn:
        count = supabase_seed_queue(dsn, ROWS)
        for _ in range(2):  # pasted again after the upgrade: nothing changes
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(script.stdout)
            assert scalar(dsn, "SELECT count(*) FROM tasks") == count == 4
            assert len(backup_tables(dsn)) == 1
        check_rows_kept(dsn, ROWS)
        # the removed worker functions answer with one line naming what replaces them
        with psycopg.connect(dsn, autocommit=True) as conn:
            with pytest.raises(psycopg.errors.FeatureNotSupported,
                               match=r"^func_claim_task was removed: run workers with headless\.py"):
                conn.execute("SELECT * FROM func_claim_task('tasks', 'old-worker')")
            with pytest.raises(psycopg.errors.FeatureNotSupported, match="func_update_task_status was removed"):
                conn.execute("SELECT func_update_task_status('tasks', 'x', 'Complete', '/out.mp4')")
            with pytest.raises(psycopg.errors.FeatureNotSupported, match="headless.py --migrate-only"):
                conn.execute("SELECT func_migrate_tasks_for_task_type('tasks')")
        assert scalar(dsn, "SELECT count(*) FROM tasks") == 4


def test_supabase_mode_upgrades_through_the_connection_string_and_serves_through_postgrest(tmp_path):
    from tests.helpers.supabase import supabase_stack

    with supabase_stack(migrate=lambda dsn: supabase_seed_queue(dsn, ROWS)) as stack:
        env = {**stack.env(), "DATABASE_URL": stack.database_url}
        result = run("headless.py", "--migrate-only", **env)
        assert result.returncode == 0, result.stderr
        assert scalar(stack.database_url, "SELECT count(*) FROM tasks") == 4
        rest = stack.env()  # from here on: PostgREST only, as a worker holding the URL and key
        status = run("add_task.py", "--status", "wgp_done", **rest)
        assert status.returncode == 0 and "Complete" in status.stdout and URL in status.stdout

        # an app writing through the REST API as the original tool's apps did
        from supabase import create_client

        client = create_client(stack.url, stack.service_key)
        client.table("tasks").insert({"task_type": "wgp", "params": {"task_id": "rest_row", **TINY}}).execute()
        client.rpc("func_add_task", {"p_task_id": "rest_rpc", "p_params": '{"model": "tiny", "frames": 5, '
                                     '"resolution": "64x64"}', "p_task_type": "wgp", "p_project_id": "p1",
                                     "p_dependant_on": "rest_row", "p_table_name": "tasks"}).execute()
        worker = run("headless.py", "--until-idle", "--engine", "tiny", "--poll-interval", "0.5",
                     "--main-output-dir", str(tmp_path / "outputs"), timeout=900, **rest)
        assert worker.returncode == 0, worker.stderr[-3000:]
        queue = open_queue(stack.settings())
        try:
            for task_id in ("wgp_queued", "was_running", "rest_row", "rest_rpc"):
                task = queue.get(task_id)
                assert task.status == Status.COMPLETE, (task_id, task.status, task.error_message)
                assert task.output_location.startswith(stack.url)   # uploaded to the bucket
        finally:
            queue.close()
