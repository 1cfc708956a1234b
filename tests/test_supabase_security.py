"""The Supabase security migration (090_supabase_security.sql) through the real PostgREST.

Here it is applied to a minimal probe schema of its own (a `tasks` table and one wq_* function), so
what it does is visible in isolation; tests/test_supabase_queue.py checks the real queue functions.
"""
from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from postgrest.exceptions import APIError
from supabase import create_client

from tests.helpers.supabase import REPO_ROOT, supabase_stack

SECURITY_SQL = REPO_ROOT / "source" / "queue" / "sql" / "postgres" / "090_supabase_security.sql"


def _probe_schema(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE tasks (id text PRIMARY KEY, status text NOT NULL)")
        conn.execute("INSERT INTO tasks VALUES ('row-1', 'Queued')")
        conn.execute("""
            CREATE FUNCTION wq_probe_v1(p_id text) RETURNS json LANGUAGE sql AS $$
                SELECT json_build_object(
                    'rows', (SELECT count(*) FROM tasks),
                    'caller', current_setting('request.jwt.claims', true)::json->>'role',
                    'runs_as', current_user::text)
            $$""")
        sql = Path(SECURITY_SQL).read_text()
        conn.execute(sql)
        conn.execute(sql)  # idempotent: a second run changes nothing and does not fail


@pytest.fixture(scope="module")
def stack():
    with supabase_stack(migrate=_probe_schema) as stack:
        yield stack


def _denied(call) -> APIError:
    with pytest.raises(APIError) as info:
        call()
    assert info.value.code == "42501", info.value
    return info.value


def test_service_role_runs_the_function_as_its_owner(stack):
    data = create_client(stack.url, stack.service_key).rpc("wq_probe_v1", {"p_id": "x"}).execute().data
    assert data == {"rows": 1, "caller": "service_role", "runs_as": "postgres"}


def test_anon_key_cannot_execute_read_or_write(stack):
    anon = create_client(stack.url, stack.anon_key)
    _denied(lambda: anon.rpc("wq_probe_v1", {"p_id": "x"}).execute())
    _denied(lambda: anon.table("tasks").select("*").execute())
    _denied(lambda: anon.table("tasks").update({"status": "Complete"}).eq("id", "row-1").execute())
    _denied(lambda: anon.table("tasks").insert({"id": "evil", "status": "Queued"}).execute())
    _denied(lambda: anon.rpc("wq_secure_queue_v1", {}).execute())
    with psycopg.connect(stack.database_url) as conn:
        assert conn.execute("SELECT id, status FROM tasks").fetchall() == [("row-1", "Queued")]


def test_authenticated_key_is_refused_too(stack):
    from tests.helpers.supabase import mint_jwt

    user = create_client(stack.url, mint_jwt("authenticated", sub="user-1"))
    _denied(lambda: user.rpc("wq_probe_v1", {"p_id": "x"}).execute())
    _denied(lambda: user.table("tasks").select("*").execute())


def test_service_key_may_read_the_table_directly(stack):
    rows = create_client(stack.url, stack.service_key).table("tasks").select("id,status").execute().data
    assert rows == [{"id": "row-1", "status": "Queued"}]


def test_catalog_shows_definer_fixed_search_path_and_rls(stack):
    with psycopg.connect(stack.database_url) as conn:
        definer, config = conn.execute(
            "SELECT prosecdef, proconfig FROM pg_proc WHERE proname = 'wq_probe_v1'").fetchone()
        assert definer is True
        assert config == ["search_path=pg_catalog, public, pg_temp"]
        assert conn.execute("SELECT relrowsecurity FROM pg_class WHERE relname = 'tasks'").fetchone()[0]
        roles = conn.execute("SELECT rolbypassrls FROM pg_roles WHERE rolname = 'service_role'").fetchone()
        assert roles == (True,)
