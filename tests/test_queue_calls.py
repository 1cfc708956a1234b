"""The named calls of sql/postgres/queries.sql.

No database here: the calls are checked against the functions the migrations create (read from the
SQL files).
"""
from __future__ import annotations

import re

import pytest

from source.queue.sqlfiles import FunctionCall, NamedQuery, migration_files, postgres_calls

# Functions of the migrations that no call names: triggers' helpers and the migration's own tool.
INTERNAL_FUNCTIONS = {"wq_insert_tasks_v1", "wq_parse_dependencies_v1", "wq_reach_v1", "wq_secure_queue_v1"}


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
    """name -> ([(parameter, type)], what it returns) for every CREATE FUNCTION of the migrations."""
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
                          if returns != "trigger" and name not in INTERNAL_FUNCTIONS}
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
