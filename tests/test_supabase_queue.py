"""The supabase backend beyond the shared queue suite (which runs on it via tests/helpers/queue.py):
who may call the queue, what errors say (never the key), installing the schema, waking up.

Real PostgreSQL, the real PostgREST binary, supabase-py; see tests/helpers/supabase.py.
"""
from __future__ import annotations

import logging
import threading
import time

import psycopg
import pytest
from postgrest.exceptions import APIError
from supabase import create_client

from source.queue.model import InvalidTask, NewTask, QueueError, Status
from source.queue.factory import open_queue
from source.queue.postgrest_connector import SchemaNotInstalled
from source.queue.sqlfiles import install_sql
from tests.helpers.supabase import JWT_SECRET, mint_jwt, supabase_stack


@pytest.fixture(scope="module")
def stack():
    with supabase_stack() as stack:
        yield stack


@pytest.fixture
def queue(stack):
    queue = open_queue(stack.settings())
    yield queue
    queue.close()


def _rows(stack) -> list[tuple]:
    with psycopg.connect(stack.database_url) as conn:
        return conn.execute("SELECT id, status, worker_id, attempts FROM tasks ORDER BY id").fetchall()


def test_anon_key_cannot_claim_read_or_change_rows(stack, queue):
    [task_id] = queue.enqueue([NewTask("generate", {"prompt": "secret prompt"})])
    before = _rows(stack)

    anon_queue = open_queue(stack.settings(supabase_service_key=stack.anon_key))
    for call in (lambda: anon_queue.claim("thief", 60), lambda: anon_queue.get(task_id),
                 lambda: anon_queue.cancel(task_id), lambda: anon_queue.enqueue([NewTask("x", {})]),
                 lambda: anon_queue.sweep_expired(), lambda: anon_queue.migrate()):
        with pytest.raises(QueueError, match="permission denied .* service_role key"):
            call()

    anon = create_client(stack.url, stack.anon_key)
    for call in (lambda: anon.table("tasks").select("*").execute(),
                 lambda: anon.table("tasks").update({"status": "Complete"}).eq("id", task_id).execute(),
                 lambda: anon.table("tasks").delete().eq("id", task_id).execute(),
                 lambda: anon.table("tasks").insert({"task_type": "x"}).execute(),
                 lambda: anon.table("task_dependencies").select("*").execute(),
                 lambda: anon.table("queue_migrations").select("*").execute(),
                 lambda: anon.rpc("wq_claim_v1", {"p_worker_id": "thief", "p_lease_seconds": 60}).execute()):
        with pytest.raises(APIError) as info:
            call()
        assert info.value.code == "42501"
    assert _rows(stack) == before
    # the service key sees the row untouched and can claim it
    claim = queue.claim("worker", 60)
    assert claim.task_id == task_id and claim.task.params == {"prompt": "secret prompt"}
    assert queue.complete(claim, "https://example.invalid/out.mp4")


def test_every_queue_function_is_definer_fixed_path_and_service_role_only(stack):
    with psycopg.connect(stack.database_url) as conn:
        functions = conn.execute("""
            SELECT p.proname, p.prosecdef, p.proconfig,
                   has_function_privilege('anon', p.oid, 'EXECUTE'),
                   has_function_privilege('authenticated', p.oid, 'EXECUTE'),
                   has_function_privilege('service_role', p.oid, 'EXECUTE')
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'public' AND p.proname LIKE 'wq\\_%'""").fetchall()
        tables = conn.execute("""
            SELECT c.relname, c.relrowsecurity,
                   has_table_privilege('anon', c.oid, 'SELECT'), has_table_privilege('anon', c.oid, 'UPDATE')
            FROM pg_class c WHERE c.relname IN ('tasks', 'task_dependencies', 'queue_migrations')""").fetchall()
    names = {name for name, *_ in functions}
    assert {"wq_claim_v1", "wq_complete_v1", "wq_fail_v1", "wq_heartbeat_v1", "wq_enqueue_v3",
            "wq_cancel_v1", "wq_fan_out_v1", "wq_get_v1", "wq_poll_v1"} <= names
    for name, definer, config, anon, authenticated, service in functions:
        if name == "wq_secure_queue_v1":  # the migration's own tool: nobody but the owner
            assert (anon, authenticated, service) == (False, False, False)
            continue
        assert definer, name
        assert config and config[0].startswith("search_path=pg_catalog, public, pg_temp"), (name, config)
        assert (anon, authenticated, service) == (False, False, True), name
    assert sorted(tables) == [("queue_migrations", True, False, False), ("task_dependencies", True, False, False),
                              ("tasks", True, False, False)]


def test_errors_and_logs_never_show_the_key(stack, queue, caplog):
    caplog.set_level(logging.DEBUG)
    # bad input: the function's own words, as InvalidTask
    with pytest.raises(InvalidTask, match="does not exist") as info:
        queue.enqueue([NewTask("child", {}, dependant_on=["no-such-row"])])
    assert stack.service_key not in str(info.value)
    # a key signed with another secret
    forged = mint_jwt("service_role", secret="another-secret-that-is-long-enough-1234567890")
    with pytest.raises(QueueError) as info:
        open_queue(stack.settings(supabase_service_key=forged)).claim("w", 60)
    assert "refused the key" in str(info.value) and forged not in str(info.value)
    # an expired one
    expired = mint_jwt("service_role", secret=JWT_SECRET, lifetime_s=-120)
    with pytest.raises(QueueError) as info:
        open_queue(stack.settings(supabase_service_key=expired)).get("x")
    assert expired not in str(info.value)
    # nothing listening at all
    from tests.helpers.supabase import free_port

    gone = open_queue(stack.settings(supabase_url=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(QueueError, match="cannot reach Supabase") as info:
        gone.pending_count()
    assert stack.service_key not in str(info.value)
    for key in (stack.service_key, forged, expired):
        assert key not in caplog.text


def test_schema_missing_is_explained_and_the_pasted_sql_installs_it(tmp_path):
    def nothing(dsn: str) -> None:
        pass

    with supabase_stack(migrate=nothing) as bare:
        queue = open_queue(bare.settings())
        with pytest.raises(SchemaNotInstalled, match="--migrate-only.*supabase_sql.py"):
            queue.migrate()
        # what a user pastes into the SQL editor, twice (an upgrade re-run changes nothing)
        script = install_sql()
        with psycopg.connect(bare.database_url, autocommit=True) as conn:
            conn.execute(script)
            conn.execute(script)
        deadline = time.monotonic() + 15
        while True:  # PostgREST reloads its schema cache on the script's NOTIFY
            try:
                queue.migrate()
                break
            except SchemaNotInstalled:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        [task_id] = queue.enqueue([NewTask("t", {"n": 1})])
        claim = queue.claim("w", 60)
        assert claim.task_id == task_id and queue.complete(claim, None)
        assert queue.get(task_id).status == Status.COMPLETE


def test_wait_for_change_wakes_on_status_change_and_on_retry_backoff(stack, queue):
    other = open_queue(stack.settings())
    other.enqueue([NewTask("slow", {}), NewTask("later", {})])
    claim = other.claim("other", 60, task_types=["slow"])
    queue.wait_for_change(0.01)  # take note of everything so far
    started = time.monotonic()
    queue.wait_for_change(0.3)
    assert 0.25 <= time.monotonic() - started < 1.5  # nothing changed: waits the whole timeout

    threading.Timer(0.2, lambda: other.complete(claim, None)).start()
    started = time.monotonic()
    queue.wait_for_change(10)
    assert 0.15 <= time.monotonic() - started < 1.5  # a completion wakes it (a dependant may be ready)

    retry = queue.claim("w", 60, task_types=["later"])
    assert queue.fail(retry, "flaky", retry=True, retry_delay_seconds=0.6)
    queue.wait_for_change(0.01)  # the requeue itself was a change; note it
    started = time.monotonic()
    queue.wait_for_change(10)
    waited = time.monotonic() - started
    assert 0.3 <= waited < 1.5  # woken when the back-off ends, not after 10 s
    assert queue.claim("w", 60, task_types=["later"]) is not None
    other.close()


def test_migrate_only_commands_as_documented(tmp_path):
    """docs/SUPABASE.md: `--migrate-only` with DB_TYPE=supabase checks; with DB_TYPE=postgres installs."""
    import os
    import subprocess
    import sys

    from tests.helpers.supabase import REPO_ROOT

    def nothing(dsn: str) -> None:
        pass

    base = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "SUPABASE_", "DATABASE_"))}

    def headless(env: dict) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "headless.py", "--migrate-only"], cwd=REPO_ROOT,
                              env={**base, **env}, capture_output=True, text=True, timeout=120)

    with supabase_stack(migrate=nothing) as bare:
        missing = headless(bare.env())
        assert missing.returncode != 0
        assert "queue schema is not installed in this Supabase project" in missing.stderr
        assert bare.service_key not in missing.stdout + missing.stderr
        installed = headless({"DB_TYPE": "postgres", "DATABASE_URL": bare.database_url})
        assert installed.returncode == 0, installed.stderr
        checked = headless(bare.env())
        assert checked.returncode == 0, checked.stderr
        assert bare.service_key not in checked.stdout + checked.stderr
