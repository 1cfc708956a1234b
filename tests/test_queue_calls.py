"""The named calls of sql/postgres/queries.sql, and the two connectors that run them.

No database here: the calls are checked against the functions the migrations create (read from the
SQL files), and each connector talks to a recording stand-in for its driver, so what psycopg would run
and what PostgREST would be sent can be compared for every queue operation.
"""
from __future__ import annotations

import re

import pytest

from source.config import Settings
from source.queue.model import Claim, NewTask, Task
from source.queue.postgres_backend import PostgresQueue
from source.queue.sqlfiles import FunctionCall, NamedQuery, migration_files, postgres_calls

# Functions of the migrations that no call names: triggers' helpers and the migration's own tool.
INTERNAL_FUNCTIONS = {"wq_insert_tasks_v1", "wq_parse_dependencies_v1", "wq_reach_v1", "wq_secure_queue_v1",
                      "wq_retry_reach_v1"}
# The original tool's functions kept for its apps (100_seed_compat.sql); the queue itself never calls them.
ORIGINAL_TOOL_FUNCTIONS = {"func_initialize_tasks_table", "func_add_task", "func_get_completed_travel_segments"}


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [p.strip() for p in parts + [current] if p.strip()]


def migration_functions() -> dict[str, tuple[list[tuple[str, str]], str]]:
    """name -> ([(parameter, type)], what it returns) for every CREATE FUNCTION of the migrations that
    no later migration drops."""
    text = "\n".join(path.read_text(encoding="utf-8") for _, _, path in migration_files("postgres"))
    found = {}
    for match in re.finditer(r"CREATE OR REPLACE FUNCTION (\w+)\s*\(", text):
        depth, end = 1, match.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            end += 1
        parameters = [tuple(p.split()[:2]) for p in _split_top_level(text[match.end():end - 1])]
        returns = re.match(r"\s*RETURNS\s+(SETOF\s+\w+|TABLE|\w+)", text[end:]).group(1)
        found[match.group(1)] = (parameters, returns)
    for dropped in re.finditer(r"DROP FUNCTION IF EXISTS (\w+)\s*\(", text):
        if not re.search(rf"CREATE OR REPLACE FUNCTION {dropped.group(1)}\s*\(", text[dropped.end():]):
            found.pop(dropped.group(1), None)
    return found


def test_every_call_names_a_function_of_the_migrations_with_its_parameters_and_types():
    functions = migration_functions()
    calls = postgres_calls()
    assert calls, "sql/postgres/queries.sql declares no calls"
    for call in calls.values():
        assert call.function in functions, f"{call.name}: no migration creates {call.function}"
        parameters, returns = functions[call.function]
        assert [(a.name, a.type) for a in call.arguments] == parameters, call.name
        assert call.returns_rows == (returns.startswith("SETOF") or returns == "TABLE"), call.name


def test_every_queue_function_has_a_call():
    functions = migration_functions()
    callable_functions = {name for name, (_, returns) in functions.items()
                          if returns != "trigger" and name not in INTERNAL_FUNCTIONS | ORIGINAL_TOOL_FUNCTIONS}
    assert callable_functions == {call.function for call in postgres_calls().values()}


def test_every_call_is_described():
    from source.queue.sqlfiles import named_queries

    for query in named_queries("postgres/queries.sql").values():
        assert query.description and "\n" not in query.description, query.name


@pytest.mark.parametrize("sql, problem", [
    ("SELECT count(*) FROM tasks", "is not `SELECT"),
    ("SELECT wq_get_v1(p_task_id => %(id)s::text)", "p_task_id must take %(task_id)s"),
    ("SELECT wq_get_v1(p_task_id => %(task_id)s)", "is not `p_x => %(x)s::type`"),
])
def test_a_declaration_that_the_transports_could_read_differently_is_refused(sql, problem):
    with pytest.raises(ValueError, match=re.escape(problem)):
        FunctionCall.parse(NamedQuery("bad", "a bad call", sql))


def test_a_call_with_other_arguments_than_declared_is_refused():
    with pytest.raises(TypeError, match="takes"):
        postgres_calls()["cancel"].bind({"task_id": "t"})


# ---- both connectors, each over a recording stand-in for its driver -----------------------------------
ROW = {"id": "t1", "task_type": "render", "params": {"model": "m"}, "status": "In Progress",
       "attempts": 2, "max_attempts": 3, "worker_id": "w", "created_at": "2026-01-02T03:04:05.123456+00:00"}
ANSWERS = {
    "wq_enqueue_v3": ["t1", "t2"], "wq_get_v1": [ROW], "wq_list_run_v1": [ROW, ROW], "wq_cancel_v1": 3,
    "wq_pending_count_v1": 5, "wq_claim_v1": [ROW], "wq_heartbeat_v1": True, "wq_progress_v1": True,
    "wq_complete_v1": False, "wq_fail_v1": True, "wq_release_v1": True, "wq_fan_out_v1": True,
    "wq_sweep_expired_v1": 4, "wq_poll_v1": [{"change_counter": 7, "next_wakeup": None}],
}
FUNCTION = re.compile(r"\bwq_\w+_v\d+\b")


class FakePsycopgConnection:
    """Answers `SELECT * FROM f(...)` with rows and `SELECT f(...)` with one row of one column."""

    closed = False

    def __init__(self, sent: list) -> None:
        self.sent = sent

    def execute(self, sql, params=None):
        self.sent.append((sql, params))
        function = FUNCTION.search(sql)
        if function is None:  # LISTEN
            return None
        answer = ANSWERS[function.group(0)]
        rows = answer if "SELECT * FROM" in sql else [{function.group(0): answer}]

        class Cursor:
            def fetchall(self):
                return rows
        return Cursor()

    def close(self):
        self.closed = True


class FakeSupabaseClient:
    def __init__(self, sent: list) -> None:
        self.sent = sent

    def rpc(self, function, args):
        self.sent.append((function, args))

        class Request:
            def execute(self):
                return type("Response", (), {"data": ANSWERS[function]})()
        return Request()


def psycopg_queue(monkeypatch, sent):
    from source.queue import psycopg_connector

    monkeypatch.setattr(psycopg_connector, "connect", lambda dsn, purpose="", **kw: FakePsycopgConnection(sent))
    return PostgresQueue(psycopg_connector.PsycopgConnector("postgresql://nobody@nowhere/none"))


def postgrest_queue(monkeypatch, sent):
    from source.queue.postgrest_connector import PostgrestConnector

    monkeypatch.setattr(PostgrestConnector, "_make_client",
                        staticmethod(lambda settings: FakeSupabaseClient(sent)))
    settings = Settings(db_type="supabase", supabase_url="http://supabase.invalid", supabase_service_key="k" * 40)
    return PostgresQueue(PostgrestConnector(settings))


def every_operation(queue) -> list:
    """Each queue operation once (waiting aside: the two transports wait differently)."""
    claim = Claim(task=Task(id="t1", task_type="render", params={}, status="In Progress", attempts=2),
                  worker_id="w", attempt=2)
    return [
        queue.enqueue([NewTask("render", {"model": "m", "n": [1, 2]}, id="t1", run_id="r", priority=2),
                       NewTask("stitch", {}, id="t2", dependant_on=["t1"], max_attempts=1)]),
        queue.get("t1"), queue.list_run("r"), queue.cancel("t1", "changed my mind"),
        queue.pending_count(), queue.pending_count(("render", "stitch")),
        queue.claim("w", 30, task_types=("render",), prefer_model="m"), queue.claim("w", 45),
        queue.heartbeat(claim, 30), queue.set_progress(claim, 0.5, "step 5/10"),
        queue.complete(claim, "/out.mp4"), queue.fail(claim, "CUDA out of memory", retry=True,
                                                      retry_delay_seconds=5),
        queue.release(claim), queue.fan_out(claim, [NewTask("seg", {}, id="c1")], "c1"),
        queue.sweep_expired(),
    ]


def as_rpc(sql: str, params: dict) -> tuple[str, dict]:
    """What a psycopg statement calls, written as a PostgREST RPC: the function and its `p_` arguments."""
    function = FUNCTION.search(sql).group(0)
    arguments = {}
    for name, placeholder in re.findall(r"(p_\w+)\s*=>\s*%\((\w+)\)s", sql):
        value = params[placeholder]
        arguments[name] = getattr(value, "obj", value)  # psycopg's Jsonb wrapper holds the JSON value
    return function, arguments


def test_both_connectors_call_the_same_functions_with_the_same_arguments_and_read_the_same_answers(
        monkeypatch):
    over_psycopg, over_postgrest = [], []
    psycopg_results = every_operation(psycopg_queue(monkeypatch, over_psycopg))
    postgrest_results = every_operation(postgrest_queue(monkeypatch, over_postgrest))

    statements = [(sql, params) for sql, params in over_psycopg if FUNCTION.search(sql)]
    assert [sql for sql, _ in over_psycopg if not FUNCTION.search(sql)] == ["LISTEN wq_tasks"]
    rpcs = [(function, args) for function, args in over_postgrest if function != "wq_poll_v1"]
    assert [function for function, _ in over_postgrest if function == "wq_poll_v1"] == ["wq_poll_v1"]

    assert [as_rpc(sql, params) for sql, params in statements] == rpcs
    assert len(rpcs) == 15
    assert rpcs[6] == ("wq_claim_v1", {"p_worker_id": "w", "p_lease_seconds": 30.0, "p_task_types": ["render"],
                                       "p_prefer_model": "m"})
    assert psycopg_results == postgrest_results
    assert psycopg_results[0] == ["t1", "t2"] and psycopg_results[1].params == {"model": "m"}
    assert psycopg_results[3:6] == [3, 5, 5] and psycopg_results[-1] == 4
